"""The MGD circuits of a chip -> the chip-path entries of the kernel configuration:
perturbation generators (mismatch, resolution, injection path), cost ADC, broadcast,
integrators, and whether devices and the read path are in play."""

from __future__ import annotations

import math

import numpy as np

from hwsim.chip.periphery import converter_step
from hwsim.kernels import mgd_block as K
from hwsim.seeds import Stream, stream_rng


def generator_gains(chip, n_params: int, seed: int) -> np.ndarray:
    """Per-generator amplitude gain 1 + sigma xi, drawn once (generator mismatch)."""
    sigma = chip.perturbation.mismatch
    rng = stream_rng(seed, Stream.GENERATOR_GAIN)
    return 1.0 + sigma * rng.standard_normal(n_params) if sigma > 0 else np.ones(n_params)


def configure_chip_path(icfg, fcfg, chip, generator, gen_gain, devices_active: bool,
                        drift_active: bool, periphery_ideal: bool) -> None:
    """Fill the chip-path entries of (icfg, fcfg) in place (read noise lives in the periphery)."""
    pc, cu, bc, it = chip.perturbation, chip.cost_unit, chip.broadcast, chip.integrator
    icfg[K.I_DEVICES] = int(devices_active)
    icfg[K.I_DRIFT] = int(drift_active)
    icfg[K.I_INJECT_DEVICE] = int(pc.injection == "weight_device")
    icfg[K.I_GEN_MISMATCH] = int(pc.mismatch > 0)
    icfg[K.I_GEN_BITS] = int(pc.amplitude_bits is not None)
    icfg[K.I_COST_ADC] = int(cu.adc_bits is not None)
    icfg[K.I_BCAST_BITS] = int(bc.bits is not None)
    icfg[K.I_INT_BITS] = int(it.bits is not None)
    # Largest value a generator emits: its entry amplitude times the largest gain.
    peak = generator.entry_amp * float(np.max(np.abs(gen_gain)))
    if generator.scheme == "gaussian":
        peak *= 4.0  # +-4 sigma full scale
    fcfg[K.F_GEN_LIMIT] = peak
    fcfg[K.F_GEN_STEP] = peak / (2 ** (pc.amplitude_bits - 1) - 1) if pc.amplitude_bits and pc.amplitude_bits > 1 else peak
    fcfg[K.F_DW_CTRL] = chip.device.dw_min
    fcfg[K.F_COST_ADC_STEP] = cu.adc_range / (2 ** cu.adc_bits - 1) if cu.adc_bits else 0.0
    fcfg[K.F_COST_ADC_RANGE] = cu.adc_range
    fcfg[K.F_BCAST_STEP] = converter_step(bc.bits, bc.range)
    fcfg[K.F_BCAST_RANGE] = bc.range
    fcfg[K.F_BCAST_NOISE] = bc.noise_sigma
    fcfg[K.F_INT_STEP] = converter_step(it.bits, it.saturation) if it.bits else 0.0
    fcfg[K.F_INT_SAT] = it.saturation
    fcfg[K.F_INT_LEAK_RATE] = chip.clock_period / it.leak_tau if math.isfinite(it.leak_tau) else 0.0
    circuits_ideal = not any(icfg[k] for k in (K.I_DEVICES, K.I_DRIFT, K.I_INJECT_DEVICE,
                                               K.I_GEN_MISMATCH, K.I_GEN_BITS, K.I_COST_ADC,
                                               K.I_BCAST_BITS, K.I_INT_BITS))
    circuits_ideal = circuits_ideal and bc.noise_sigma == 0 and not math.isfinite(it.saturation) \
        and not math.isfinite(it.leak_tau)
    icfg[K.I_CHIP] = int(not (circuits_ideal and periphery_ideal))
