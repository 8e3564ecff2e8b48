"""The chip's timing model in closed form: inference latency and initiation interval from the
tiles, input load time, broadcast delay in steps, update-phase latency.

A step is one perturbed inference; the chip issues one every II cycles. The cost of step n is
measured L cycles after its issue and reaches the integrators B cycles later, by which time
the generators have moved on ``delay_steps`` steps (what an integrator without delay
compensation multiplies C~ by). A discrete update waits for the window's last cost (the drain:
L - II + B cycles) and then writes the devices (overhead + pulses x pulse cycles, by
parallelism).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def tiles_per_layer(sizes, rows: int, cols: int) -> list[int]:
    return [math.ceil(n_in / rows) * math.ceil(n_out / cols) for n_in, n_out in zip(sizes[:-1], sizes[1:])]


@dataclass(frozen=True)
class InferenceTiming:
    latency: int              # L: cycles from issue to cost measured
    interval: int             # II: cycles between issues (one step)
    tiles_needed: int
    time_shared: bool


def inference_timing(chip, sizes) -> InferenceTiming:
    """L and II for a network of layer ``sizes`` on ``chip``."""
    arr = chip.array
    needed = sum(tiles_per_layer(sizes, arr.rows, arr.cols))
    if arr.tile_latency is None:
        return InferenceTiming(chip.inference.cycles_per_inference, chip.inference.step_cycles,
                               needed, False)
    per_layer = tiles_per_layer(sizes, arr.rows, arr.cols)
    if arr.tiles is None or arr.tiles >= needed:
        # Every layer on its own tiles (its row tiles in parallel): a pipeline of layers.
        n_layers = len(per_layer)
        return InferenceTiming(n_layers * arr.tile_latency, arr.tile_latency, needed, False)
    # Too few tiles: each layer's tile MVMs run in rounds of `tiles`, layers one after another.
    latency = arr.tile_latency * sum(math.ceil(t / arr.tiles) for t in per_layer)
    return InferenceTiming(latency, latency, needed, True)


def delay_steps(latency: int, interval: int, broadcast_latency: int) -> int:
    """Steps the generators advance between a step's issue and its C~ reaching the integrators."""
    return max(0, math.ceil((latency + broadcast_latency) / interval) - 1)


def pulse_cycles(chip) -> int:
    return math.ceil(chip.update.pulse_duration / chip.clock_period - 1e-9) if chip.update.pulse_duration > 0 else 0


def row_map(layout) -> tuple["np.ndarray", int]:
    """Crossbar row (input line) of every parameter: W_l[:, j] sits on row j of layer l's
    array, the biases on one extra row per layer. Returns (row_of[P], number of rows)."""
    import numpy as np

    row_of = np.empty(layout.n_params, dtype=np.int64)
    base = 0
    for l in range(layout.n_layers):
        n_in, n_out = layout.sizes[l], layout.sizes[l + 1]
        w0 = layout.w_off[l]
        row_of[w0:w0 + n_in * n_out] = base + np.tile(np.arange(n_in), n_out)
        b0 = layout.b_off[l]
        row_of[b0:b0 + n_out] = base + n_in
        base += n_in + 1
    return row_of, base


def configure_timing(icfg, chip, layout, firmware) -> InferenceTiming:
    """Fill the timing entries of the kernel's icfg; return the inference timing."""
    from hwsim.kernels import mgd_block as K

    timing = inference_timing(chip, layout.sizes)
    icfg[K.I_CPI] = timing.interval
    icfg[K.I_LATENCY] = timing.latency
    icfg[K.I_BCAST_LATENCY] = chip.broadcast.latency
    icfg[K.I_LOAD_CYCLES] = chip.input.load_cycles(layout.sizes[0])
    icfg[K.I_DOUBLE_BUFFER] = int(chip.input.double_buffering)
    icfg[K.I_DELAY_STEPS] = 0 if chip.integrator.delay_compensation else delay_steps(
        timing.latency, timing.interval, chip.broadcast.latency)
    icfg[K.I_PARALLELISM] = {"parallel": K.PARALLEL, "row_serial": K.ROW_SERIAL,
                             "serial": K.SERIAL}[chip.update.parallelism]
    icfg[K.I_PULSE_CYCLES] = pulse_cycles(chip)
    icfg[K.I_UPDATE_OVERHEAD] = chip.update.overhead_cycles
    icfg[K.I_BLOCKING] = int(chip.update.blocking)
    return timing


def energy_breakdown(chip, layout, istate, pulses_total: int) -> dict[str, float]:
    """Joules per component from the run's action counters and the chip's energy table."""
    from hwsim.kernels import mgd_block as K

    arr, e = chip.array, chip.energy
    sizes = layout.sizes
    row_tiles = [math.ceil(n_in / arr.rows) for n_in in sizes[:-1]]
    col_tiles = [math.ceil(n_out / arr.cols) for n_out in sizes[1:]]
    inferences = int(istate[K.S_STEP]) + int(istate[K.S_BASELINES])
    steps = int(istate[K.S_STEP])
    p = layout.n_params
    mvms = inferences * sum(r * c for r, c in zip(row_tiles, col_tiles))
    adcs = inferences * sum(n_out * r for n_out, r in zip(sizes[1:], row_tiles))
    dacs = inferences * sum(n_in * c for n_in, c in zip(sizes[:-1], col_tiles))
    return {
        "mvm": mvms * e.mvm,
        "adc": adcs * e.adc,
        "dac": dacs * e.dac,
        "perturbation": int(istate[K.S_PERT_UPDATES]) * p * e.perturbation,
        "broadcast": steps * e.broadcast,
        "integrators": steps * p * e.integrator,
        "writes": (pulses_total + int(istate[K.S_WRITES])) * e.write,
    }


def time_breakdown(istate) -> dict[str, int]:
    """Cycles by what the chip was doing; they add up to the cycles simulated."""
    from hwsim.kernels import mgd_block as K

    return {"inferring": int(istate[K.S_INFER_CYCLES]),
            "measuring_baselines": int(istate[K.S_BASELINE_CYCLES]),
            "waiting_for_inputs": int(istate[K.S_WAIT_CYCLES]),
            "updating": int(istate[K.S_UPDATE_CYCLES]),
            "stalled": int(istate[K.S_STALL_CYCLES])}
