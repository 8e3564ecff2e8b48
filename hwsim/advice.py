"""Warnings about specs that are valid but will not do what the designer probably wants.

Not validation: a warned-about run still runs. The warnings weigh the spec against the model
(the device's step, the chip's timing on the network layout, analog MGD's signal), so they live
above the spec layer and take the resolved run (hwsim.run_plan.ResolvedRun), whose layout and
timing are built once; a RunSpec is resolved here first.
"""

from __future__ import annotations

import math

from hwsim.chip.devices import device_in_weight_units
from hwsim.chip.timing import crossbar_rows, drain_cycles, pulse_cycles, pulses_per_write, update_phase_bound
from hwsim.firmware.mgd import analog_signal_warnings
from hwsim.run_plan import ResolvedRun, RunSpec, as_resolved


def entry_amplitude(scheme: str, amplitude: float, n_params: int, sparsity: float = 1.0) -> float:
    """Largest perturbation one parameter sees, per scheme (the normalisations of docs/firmware.md)."""
    if scheme == "tdma":
        return amplitude
    if scheme == "cdma":
        return amplitude * math.sqrt(sparsity / n_params)
    if scheme == "fdma":
        return amplitude * math.sqrt(2.0 / n_params)
    return amplitude / math.sqrt(n_params)  # walsh, gaussian (one sigma)


def device_step(chip) -> float | None:
    """The smallest change one write makes, in weight units (None for the ideal law)."""
    p = device_in_weight_units(chip)
    if p.law == "ideal":
        return None
    if p.law == "quantised":
        return (p.w_max - p.w_min) / (p.levels - 1)
    return p.dw_min


def not_modelled(chip) -> list[str]:
    """What the chip spec leaves out, for summary.json's ``not_modelled``: a figure the chip
    does not model reads as "not modelled", never as a measured zero.

    "energy" when the energy table is all zero (summary.json then writes its joules as null);
    "energy.<action>" for each zero entry of a partial table (its joules are a lower bound);
    "update_time" (zero pulse duration and overhead: writes take no cycles),
    "input_bandwidth" (samples load in no time) and "broadcast_latency" (C~ arrives at once)."""
    table = chip.energy.model_dump()
    zero = [name for name, joules in table.items() if joules == 0.0]
    out = ["energy"] if len(zero) == len(table) else [f"energy.{name}" for name in zero]
    if chip.update.pulse_duration == 0 and chip.update.overhead_cycles == 0:
        out.append("update_time")
    if chip.input.values_per_cycle is None and chip.input.bits_per_cycle is None:
        out.append("input_bandwidth")
    if chip.broadcast.latency == 0:
        out.append("broadcast_latency")
    return out


def spec_warnings(run: ResolvedRun | RunSpec) -> list[str]:
    """One line per warning for a resolved run: printed by hwsim run and hwsim validate,
    recorded as ``warnings`` in manifest.json and summary.json and in sweep tables."""
    plan = as_resolved(run)
    out = []
    chip, fw = plan.spec.chip, plan.spec.firmware
    step = device_step(chip)
    if chip.perturbation.injection == "weight_device" and step is not None:
        p = plan.n_params
        pt = fw.perturbation
        amp = entry_amplitude(pt.scheme, pt.amplitude, p, pt.sparsity)
        if amp < step:
            out.append(
                f"chip.perturbation.injection: the perturbation per weight ({amp:.3g}) is below one "
                f"device step ({step:.3g}), so writing it into the weight devices rounds it to zero; "
                f"inject it with an auxiliary element (chip.perturbation.injection: auxiliary), use "
                f"node perturbation, or raise firmware.perturbation.amplitude above "
                f"{step / amp * pt.amplitude:.3g}")
    out.extend(timing_warnings(plan))
    out.extend(analog_signal_warnings(fw))
    return out


def timing_warnings(run: ResolvedRun | RunSpec) -> list[str]:
    """The time constants against the chip's latencies (the timing model of docs/chip_model.md)."""
    plan = as_resolved(run)
    chip, fw = plan.spec.chip, plan.spec.firmware
    layout, timing = plan.layout, plan.timing
    out = []
    load = chip.input.load_cycles(layout.sizes[0])
    present = fw.tau_x * timing.interval
    if load > 0 and load + timing.latency > present:
        how = ("the chip waits for every sample" if not chip.input.double_buffering else
               "double buffering cannot hide the load")
        out.append(f"firmware.tau_x: a sample is presented for {present} cycles but loading it takes "
                   f"{load} cycles plus a {timing.latency}-cycle inference: {how}; raise tau_x or the "
                   f"input bandwidth (chip.input) to stay inference-bound")
    if fw.mode == "discrete":
        update = update_phase_bound(chip, layout, timing)
        window = fw.tau_theta * timing.interval
        if update > window:
            what = "training stalls" if chip.update.blocking else "updates queue up and stall training"
            out.append(f"firmware.tau_theta: an update may take up to {update} cycles "
                       f"({_update_parts(chip, layout, timing)}) but comes every {window} cycles: "
                       f"{what} most of the time; raise tau_theta to at least "
                       f"{math.ceil(update / timing.interval)} steps, or shorten the update "
                       f"(chip.update: parallelism, pulse_duration, max_pulses)")
    return out


def _update_parts(chip, layout, timing) -> str:
    """What an update phase's bound is made of, for the tau_theta warning."""
    most = pulses_per_write(chip)
    pulses = f"{most} pulse{'s' if most > 1 else ''} of {pulse_cycles(chip)} cycles"
    writes = {"parallel": f"{pulses} on every device at once",
              "row_serial": f"{pulses} on each of {crossbar_rows(layout)} crossbar rows in turn",
              "serial": f"{pulses} on each of {layout.n_params} devices in turn",
              }[chip.update.parallelism]
    return (f"a {drain_cycles(chip, timing)}-cycle drain, {chip.update.overhead_cycles} cycles of "
            f"overhead, {chip.update.parallelism} writes of {writes}")
