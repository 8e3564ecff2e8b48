"""The cost unit's configuration (hwsim.kernels.cost_unit runs it): its ADC (a unipolar
converter over [0, adc_range]), its noise and whether the baseline measurement is noisy too."""

from hwsim.seeds import Stream, stream_key


def cost_unit_config(chip, seed: int) -> dict:
    cu = chip.cost_unit
    return {"baseline_noisy": int(cu.baseline_noisy), "noise_sigma": cu.noise_sigma,
            # cost, baseline and broadcast noise draw from this stream (hwsim.seeds)
            "noise_seed": stream_key(seed, Stream.COST_NOISE),
            "cost_adc": int(cu.adc_bits is not None),
            # unipolar: 2^bits - 1 steps over [0, range]
            "cost_adc_step": cu.adc_range / (2 ** cu.adc_bits - 1) if cu.adc_bits else 0.0,
            "cost_adc_range": cu.adc_range}


def cost_unit_ideal(chip) -> bool:
    return chip.cost_unit.adc_bits is None
