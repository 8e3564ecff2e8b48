"""The integrators' configuration (hwsim.kernels.integrators runs them): resolution,
saturation and leak in chip time, and the broadcast delay an integrator without delay
compensation sees (hwsim.chip.timing.delay_steps)."""

import math

from hwsim.chip.periphery import converter_step
from hwsim.chip.timing import delay_steps


def integrator_config(chip, timing) -> dict:
    it = chip.integrator
    return {"int_bits": int(it.bits is not None),
            "int_step": converter_step(it.bits, it.saturation) if it.bits else 0.0,
            "int_sat": it.saturation,
            # leak per cycle: the kernel decays by exp(-rate x the step's cycles)
            "int_leak_rate": chip.clock_period / it.leak_tau if math.isfinite(it.leak_tau) else 0.0,
            "delay_steps": 0 if it.delay_compensation else delay_steps(timing.latency, timing.interval,
                                                                        chip.broadcast.latency)}


def integrators_ideal(chip) -> bool:
    it = chip.integrator
    return it.bits is None and not math.isfinite(it.saturation) and not math.isfinite(it.leak_tau)
