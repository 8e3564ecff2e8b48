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


def device_step(device) -> float | None:
    """The smallest change one write makes (None for the ideal law)."""
    if device.law == "ideal":
        return None
    if device.law == "quantised":
        return (device.w_max - device.w_min) / (device.levels - 1)
    return device.dw_min


def spec_warnings(run) -> list[str]:
    """One line per warning for a resolved RunSpec."""
    out = []
    chip, fw, sc = run.chip, run.firmware, run.scenario
    step = device_step(chip.device)
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
    return out
