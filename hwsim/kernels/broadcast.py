"""The broadcast network (hwsim.chip.broadcast builds its configuration): the one scalar C~
sent to every integrator, with its noise and its digitisation on a modelled chip, clipped to
the firmware's ``cost_change_clip``. Its latency is part of the timing (the drain before an
update, and the steps the generators move on: hwsim.chip.timing.delay_steps)."""

from numba import njit

from hwsim.kernels.cost_unit import BROADCAST_NOISE
from hwsim.kernels.forward import quantise
from hwsim.kernels.rng import normal


@njit(cache=True, inline="always")
def broadcast(cfg, ct, n):
    """C~ as the integrators receive it at step n."""
    if cfg.chip:
        if cfg.bcast_noise > 0.0:
            ct += cfg.bcast_noise * normal(cfg.noise_seed, n, BROADCAST_NOISE)
        if cfg.bcast_bits:
            ct = quantise(ct, cfg.bcast_step, cfg.bcast_range)
    clip = cfg.cost_change_clip
    if ct > clip:
        ct = clip
    elif ct < -clip:
        ct = -clip
    return ct
