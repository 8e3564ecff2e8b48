"""The frame of a step, shared by every path driver: its schedule before anything runs
(``plan_step``: does the input change, are the weights being rewritten, is a baseline due, how
many cycles the step takes), its start (``begin_step``: present the input), the start of its
update phase (``begin_update``) and its end (``finish_step``: count the step, time the update
phase, advance the clock). What differs between the paths is what happens in between."""

from collections import namedtuple

from numba import njit

from hwsim.kernels.chip_time import advance_clock, count_step, weights_being_written, weights_changed
from hwsim.kernels.cost_unit import record_cost
from hwsim.kernels.input_path import input_wait, present_input
from hwsim.kernels.update_controller import clear_rows, snapshot_weights, update_phase, wait_for_previous_update

# Step n's schedule: starting at cycle ``now``; a new sample (``x_changed``); inference on the
# old weights while an update is written (``old_weights``); new weights in place
# (``theta_changed``); a baseline due (``need_c0``); cycles waiting for the input, measuring
# the baseline, and in all (``step_cycles``, before any update phase).
StepPlan = namedtuple("StepPlan", "n now x_changed old_weights theta_changed need_c0 wait base_cycles step_cycles")


@njit(cache=True, inline="always")
def plan_step(cfg, cnt, discrete):
    """The next step's schedule (nothing changed yet: the step may not fit the cycle limit)."""
    n = cnt.step
    now = cnt.cycles
    x_changed = n % cfg.tau_x == 0
    old_weights = weights_being_written(cnt, now)
    theta_changed = weights_changed(cfg, cnt, n, old_weights)
    need_c0 = discrete and (x_changed or theta_changed)
    wait = input_wait(cfg, cnt, n, now, x_changed)
    base_cycles = cfg.baseline_cycles if need_c0 else 0
    return StepPlan(n, now, x_changed, old_weights, theta_changed, need_c0, wait, base_cycles,
                    wait + cfg.cpi + base_cycles)


@njit(cache=True, inline="always")
def begin_step(cfg, cnt, order, s):
    """Start step ``s``: a baseline measured now settles a pending non-blocking update's
    re-measurement; present the input; return its data index."""
    if s.need_c0 and s.theta_changed and not cfg.blocking:
        cnt.c0_on_apply = 0
    return present_input(cfg, cnt, order, s.n, s.now, s.wait, s.x_changed)


@njit(cache=True, inline="always")
def begin_update(cfg, cnt, theta, theta_old, rowmax, s, drain, timed_update):
    """The cycle the step's inference ends (after any stall behind the previous update) and
    whether the update's writes are counted for its time; snapshots the weights a
    non-blocking update leaves inference with."""
    after = wait_for_previous_update(cfg, cnt, s.now + s.step_cycles, timed_update)
    snapshot_weights(cfg, theta, theta_old, drain, timed_update)
    count_writes = timed_update and cfg.pulse_cycles > 0
    clear_rows(cfg, rowmax, count_writes)
    return after, count_writes


@njit(cache=True, inline="always")
def finish_step(cfg, cnt, fl, rowmax, s, c, after, drain, update_now, timed_update, count_writes, most, total):
    """Count the step (its update, cost and cycles by kind), time a discrete update phase,
    and advance the clock."""
    if update_now:
        cnt.updates += 1
    record_cost(fl, c)
    count_step(cnt, s.wait, cfg.cpi, s.base_cycles)
    if timed_update:
        after = update_phase(cfg, cnt, rowmax, after, drain, count_writes, most, total)
    advance_clock(cnt, s.n, after)
