"""The input path (hwsim.chip.input_path builds its configuration): which sample the chip
sees at a step, and how long the chip waits for it.

A new sample is presented every tau_x steps, in a per-epoch permutation drawn from the run's
order stream and regenerated on demand (nothing stored per step). Loading a sample takes
``load_cycles``; with double buffering the next sample loads while this one is presented,
so a step waits only for what is left of the load.
"""

from numba import njit

from hwsim.kernels.rng import permutation_into


@njit(cache=True)
def sample_for_step(n, tau_x, n_samples, order_seed, order, cnt):
    """Data index presented at step n: per-epoch seeded permutation, regenerated on demand
    (``cnt``: the counters record, whose ``order_epoch`` says which epoch ``order`` holds)."""
    s = n // tau_x
    epoch = s // n_samples
    if epoch != cnt.order_epoch:
        permutation_into(order_seed, epoch, order)
        cnt.order_epoch = epoch
    return order[s % n_samples]


@njit(cache=True, inline="always")
def input_wait(cfg, cnt, n, now, x_changed):
    """Cycles step n waits for its input: none for the same sample; the load time of a new
    one, or with double buffering what is left of the load started one sample earlier."""
    wait = 0
    if x_changed and cfg.load_cycles > 0:
        if cfg.double_buffer:
            ready = cnt.input_ready if n > 0 else cfg.load_cycles
            wait = ready - now if ready > now else 0
        else:
            wait = cfg.load_cycles
    return wait


@njit(cache=True, inline="always")
def present_input(cfg, cnt, order, n, now, wait, x_changed):
    """Present step n's sample (counted when new; the next one starts loading as it is
    presented, with double buffering); return its data index."""
    if x_changed:
        cnt.samples += 1
        if cfg.double_buffer and cfg.load_cycles > 0:
            cnt.input_ready = now + wait + cfg.load_cycles
    sample = sample_for_step(n, cfg.tau_x, cfg.n_samples, cfg.order_seed, order, cnt)
    cnt.sample = sample
    return sample
