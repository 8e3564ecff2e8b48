"""Warnings about specs that are valid but will not do what the designer probably wants."""

from __future__ import annotations

import math


def entry_amplitude(scheme: str, amplitude: float, n_params: int, sparsity: float = 1.0) -> float:
    """Largest perturbation one parameter sees, per scheme (DESIGN section 1 normalisation)."""
    if scheme == "tdma":
        return amplitude
    if scheme == "cdma":
        return amplitude * math.sqrt(sparsity / n_params)
    if scheme == "fdma":
        return amplitude * math.sqrt(2.0 / n_params)
    return amplitude / math.sqrt(n_params)  # walsh, gaussian (one sigma)


def device_step(chip) -> float | None:
    """The smallest change one write makes, in weight units (None for the ideal law)."""
    from hwsim.chip.devices import device_params_from_spec

    p = device_params_from_spec(chip)
    if p.law == "ideal":
        return None
    if p.law == "quantised":
        return (p.w_max - p.w_min) / (p.levels - 1)
    return p.dw_min


def spec_warnings(run) -> list[str]:
    """One line per warning for a resolved RunSpec."""
    out = []
    chip, fw, sc = run.chip, run.firmware, run.scenario
    step = device_step(chip)
    if chip.perturbation.injection == "weight_device" and step is not None:
        p = sc.n_params()
        pt = fw.perturbation
        amp = entry_amplitude(pt.scheme, pt.amplitude, p, pt.sparsity)
        if amp < step:
            out.append(
                f"chip.perturbation.injection: the perturbation per weight ({amp:.3g}) is below one "
                f"device step ({step:.3g}), so writing it into the weight devices rounds it to zero; "
                f"inject it with an auxiliary element (chip.perturbation.injection: auxiliary), use "
                f"node perturbation, or raise firmware.perturbation.amplitude above "
                f"{step / amp * pt.amplitude:.3g}")
    out.extend(timing_warnings(run))
    return out


def timing_warnings(run) -> list[str]:
    """The time constants against the chip's latencies (DESIGN section 3)."""
    from hwsim.chip.timing import inference_timing, pulse_cycles

    chip, fw, sc = run.chip, run.firmware, run.scenario
    layout = sc.layout()
    timing = inference_timing(chip, layout)
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
        drain = timing.latency - timing.interval + chip.broadcast.latency
        update = drain + chip.update.overhead_cycles + pulse_cycles(chip) * chip.update.max_pulses
        window = fw.tau_theta * timing.interval
        if update > window:
            what = "training stalls" if chip.update.blocking else "updates queue up and stall training"
            out.append(f"firmware.tau_theta: an update may take up to {update} cycles (drain, overhead "
                       f"and {chip.update.max_pulses} pulses) but comes every {window} cycles: {what} "
                       f"most of the time; raise tau_theta to at least {math.ceil(update / timing.interval)} steps")
    return out
