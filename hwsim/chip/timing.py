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


def arrays(layout):
    """(rows = fan-in, columns = output channels, MVMs per inference) of every parametric stage."""
    return [(st.fan_in, st.channels_out, st.positions) for st in layout.stages if st.has_params]


def tiles_per_layer(layout, rows: int, cols: int) -> list[int]:
    return [math.ceil(f / rows) * math.ceil(c / cols) for f, c, _ in arrays(layout)]


@dataclass(frozen=True)
class InferenceTiming:
    latency: int              # L: cycles from issue to cost measured
    interval: int             # II: cycles between issues (one step)
    tiles_needed: int
    time_shared: bool


def inference_timing(chip, layout) -> InferenceTiming:
    """L and II for a network ``layout`` (hwsim.network.layout) on ``chip``.

    With the tile model, a stage runs its MVMs (one per output position of a conv stage) one
    after another on its tiles, so its time is positions x tile latency."""
    arr = chip.array
    per_layer = tiles_per_layer(layout, arr.rows, arr.cols)
    needed = sum(per_layer)
    if arr.tile_latency is None:
        return InferenceTiming(chip.inference.cycles_per_inference, chip.inference.step_cycles,
                               needed, False)
    positions = [p for _, _, p in arrays(layout)]
    if arr.tiles is None or arr.tiles >= needed:
        # Every stage on its own tiles (its row tiles in parallel): a pipeline of stages.
        times = [p * arr.tile_latency for p in positions]
        return InferenceTiming(sum(times), max(times), needed, False)
    # Too few tiles: each stage's tile MVMs run in rounds of `tiles`, stages one after another.
    latency = arr.tile_latency * sum(p * math.ceil(t / arr.tiles) for p, t in zip(positions, per_layer))
    return InferenceTiming(latency, latency, needed, True)


def delay_steps(latency: int, interval: int, broadcast_latency: int) -> int:
    """Steps the generators advance between a step's issue and its C~ reaching the integrators."""
    return max(0, math.ceil((latency + broadcast_latency) / interval) - 1)


def pulse_cycles(chip) -> int:
    return math.ceil(chip.update.pulse_duration / chip.clock_period - 1e-9) if chip.update.pulse_duration > 0 else 0


def drain_cycles(chip, timing: InferenceTiming) -> int:
    """Cycles a discrete update waits for its window's last cost: L - II + B."""
    return timing.latency - timing.interval + chip.broadcast.latency


def pulses_per_write(chip) -> int:
    """Most pulses one device takes in one update: a pulsed or quantised device law sends up
    to max_pulses; the ideal law is written in one go (one pulse slot)."""
    return 1 if chip.device.law == "ideal" else chip.update.max_pulses


def write_slots_bound(chip, layout) -> int:
    """Most pulse slots one update's writes take, by parallelism (the kernel's count with every
    device taking pulses_per_write pulses): all devices at once, one crossbar row after
    another (row_map), or one device after another."""
    most = pulses_per_write(chip)
    parallelism = chip.update.parallelism
    if parallelism == "parallel":
        return most
    if parallelism == "row_serial":
        return crossbar_rows(layout) * most
    return layout.n_params * most


def update_phase_bound(chip, layout, timing: InferenceTiming) -> int:
    """Most cycles one discrete update phase takes: drain + overhead + write slots x pulse
    cycles. It is reached exactly when every device takes pulses_per_write pulses (every
    parameter changes under the ideal law; every request of max_pulses x dw_min or more under
    a pulsed law), which is what a blocking chip's ``updating`` cycles per update then count."""
    return (drain_cycles(chip, timing) + chip.update.overhead_cycles
            + write_slots_bound(chip, layout) * pulse_cycles(chip))


def crossbar_rows(layout) -> int:
    """Input lines of all the crossbars: each parametric stage's fan-in plus its bias row."""
    return sum(st.fan_in + 1 for st in layout.stages if st.has_params)


def row_map(layout) -> tuple["np.ndarray", int]:
    """Crossbar row (input line) of every parameter: fan-in index j of stage l's array sits
    on its row j, the biases on one extra row per stage. Returns (row_of[P], number of rows)."""
    import numpy as np

    row_of = np.empty(layout.n_params, dtype=np.int64)
    base = 0
    for l, st in enumerate(layout.stages):
        if not st.has_params:
            continue
        w0, b0 = layout.w_off[l], layout.b_off[l]
        row_of[w0:w0 + st.n_weights] = base + np.tile(np.arange(st.fan_in), st.channels_out)
        row_of[b0:b0 + st.channels_out] = base + st.fan_in
        base += st.fan_in + 1
    return row_of, base


def inference_config(chip, timing: InferenceTiming) -> dict:
    """The inference pipeline's configuration (hwsim.kernels.chip_time and the paths): the
    initiation interval II (cycles per step), the latency L, the cycles of a baseline
    inference, and the clock period in seconds (device time)."""
    return {"cpi": timing.interval, "latency": timing.latency,
            "baseline_cycles": chip.inference.baseline_cycles, "clock": chip.clock_period}


def time_breakdown(counts) -> dict[str, int]:
    """Cycles by what the chip was doing, from the run's named counters
    (hwsim.engine.simulation.Simulation.counts); they add up to the cycles simulated."""
    return {"inferring": counts["infer_cycles"],
            "measuring_baselines": counts["baseline_cycles"],
            "waiting_for_inputs": counts["wait_cycles"],
            "updating": counts["update_cycles"],
            "stalled": counts["stall_cycles"]}
