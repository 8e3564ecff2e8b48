"""The broadcast network's configuration (hwsim.kernels.broadcast runs it): the resolution,
range and noise of the scalar C~ sent to every integrator, and its latency in cycles."""

from hwsim.chip.periphery import converter_step


def broadcast_config(chip) -> dict:
    bc = chip.broadcast
    return {"bcast_bits": int(bc.bits is not None), "bcast_step": converter_step(bc.bits, bc.range),
            "bcast_range": bc.range, "bcast_noise": bc.noise_sigma, "bcast_latency": bc.latency}


def broadcast_ideal(chip) -> bool:
    return chip.broadcast.bits is None and chip.broadcast.noise_sigma == 0
