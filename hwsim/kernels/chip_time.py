"""The chip's clock and its schedule of weight versions (hwsim.chip.timing builds the
inference timing): which weights a step sees, when the baseline must be re-measured, and the
cycles each step adds, by kind.

A step occupies the chip for the initiation interval II (``cpi``), plus the baseline
inference when one is measured, plus any wait for the input. A non-blocking update is written
while inference goes on with a snapshot of the old weights until ``apply_at``; the baseline is
then re-measured once the new weights are in place.
"""

from numba import njit


@njit(cache=True, inline="always")
def weights_being_written(cnt, now):
    """True while a non-blocking update is still being written (inference uses the snapshot)."""
    return now < cnt.apply_at


@njit(cache=True, inline="always")
def weights_changed(cfg, cnt, n, old_weights):
    """Whether the weights changed since the last step: every tau_theta steps under a blocking
    update; when a non-blocking update has just been put in place otherwise."""
    if cfg.blocking:
        return n % cfg.tau_theta == 0
    return cnt.c0_on_apply != 0 and not old_weights


@njit(cache=True, inline="always")
def count_step(cnt, wait, cpi, base_cycles):
    """The step's cycles by kind."""
    cnt.wait_cycles += wait
    cnt.infer_cycles += cpi
    cnt.baseline_cycles += base_cycles


@njit(cache=True, inline="always")
def advance_clock(cnt, n, after):
    """The step is over at cycle ``after``."""
    cnt.cycles = after
    cnt.step = n + 1
