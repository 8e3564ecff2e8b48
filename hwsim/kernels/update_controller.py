"""The update controller (hwsim.chip.update_controller builds its configuration): turns the
integrators into weight changes (hwsim.kernels.optim), writes them into the devices
(hwsim.kernels.devices), and times the update phase.

A discrete update waits for the window's last cost (the drain: L - II + B cycles) and writes
the devices: an overhead plus pulse slots by parallelism (all devices at once: the most
pulses any device takes; one crossbar row after another: the sum of each row's most; one
device after another: all pulses). Blocking, the chip stalls for the phase; non-blocking,
inference goes on with a snapshot of the old weights until ``apply_at``, and a next update
that comes before that waits for it (stalled).
"""

from numba import njit

from hwsim.kernels import devices as DK
from hwsim.kernels.codes import CONSTANT, DISCRETE, IDEAL, PARALLEL, ROW_SERIAL, SERIAL, SGD
from hwsim.kernels.optim import bias_corrections, optimizer_core, schedule_value
from hwsim.kernels.parallel_rows import descend_range


@njit(cache=True, inline="always")
def wait_for_previous_update(cfg, cnt, after, timed_update):
    """A non-blocking controller still writing the previous update makes the chip wait."""
    if timed_update and not cfg.blocking and after < cnt.apply_at:
        cnt.stall_cycles += cnt.apply_at - after
        after = cnt.apply_at
    return after


@njit(cache=True, inline="always")
def snapshot_weights(cfg, theta, theta_old, drain, timed_update):
    """The weights inference keeps using while a non-blocking update is written."""
    if timed_update and not cfg.blocking and drain + cfg.update_overhead + cfg.pulse_cycles > 0:
        for i in range(theta.shape[0]):
            theta_old[i] = theta[i]


@njit(cache=True, inline="always")
def clear_rows(cfg, rowmax, count_writes):
    if count_writes and cfg.parallelism == ROW_SERIAL:
        for r in range(rowmax.shape[0]):
            rowmax[r] = 0


@njit(cache=True)
def count_plain_writes(cfg, g_int, row_of, rowmax):
    """Pulse slots of a plain-SGD update on ideal devices: one per changed parameter;
    returns (most per device, total)."""
    most = 0
    total = 0
    row_serial = cfg.parallelism == ROW_SERIAL
    for i in range(g_int.shape[0]):
        if g_int[i] != 0.0:
            most = 1
            total += 1
            if row_serial:
                rowmax[row_of[i]] = 1
    return most, total


@njit(cache=True, inline="always")
def plain_sgd_update(cfg, cnt, theta, g_int, row_of, rowmax, count_writes, done_lo, done_hi):
    """The discrete plain-SGD update on ideal devices: theta -= eta G, G = 0, except for the
    parameters [done_lo, done_hi) a shortcut path already descended in its last pass over
    them; every parameter counts a write. Returns (most, total) pulse slots when the writes
    are timed."""
    most = 0
    total = 0
    if count_writes:
        most, total = count_plain_writes(cfg, g_int, row_of, rowmax)
    descend_range(theta[:done_lo], g_int[:done_lo], cfg.eta)
    descend_range(theta[done_hi:], g_int[done_hi:], cfg.eta)
    cnt.writes += theta.shape[0]
    return most, total


@njit(cache=True)
def update_parameters(cfg, cnt, st, devices, row_of, rowmax, count_writes, t_now):
    """The update, parameter by parameter (the scalar cores): the optimiser's change of each
    weight, written through the device law when devices are in play; G_int emptied in
    discrete mode. Returns (most pulses of one device, total pulses) for the phase's time."""
    theta, g_int, opt_state = st.theta, st.g_int, st.opt_state
    u_index = cnt.updates
    eta = cfg.eta
    opt_kind = cfg.opt_kind
    opt_plain = opt_kind == SGD and cfg.lr_kind == CONSTANT
    beta1, beta2, opt_eps = cfg.beta1, cfg.beta2, cfg.opt_eps
    lr, bc1, bc2 = eta, 1.0, 1.0
    if not opt_plain:
        lr = schedule_value(cfg.lr_kind, eta, u_index, cfg.lr_total, cfg.lr_p1, cfg.lr_p2)
        bc1, bc2 = bias_corrections(opt_kind, u_index + 1, beta1, beta2)
    dcfg = devices.config[0]
    dev, stuck, t_prog, pulses = devices.dev, devices.stuck, devices.t_prog, devices.pulses
    law, max_pulses, levels, rounding = dcfg.law, dcfg.max_pulses, dcfg.levels, dcfg.rounding
    d_ctrl, g_up, g_down, c2c, t0 = dcfg.dw_ctrl, dcfg.gamma_up, dcfg.gamma_down, dcfg.c2c, dcfg.t0
    s_round, s_c2c = dcfg.seed_round, dcfg.seed_c2c
    with_devices = cfg.devices != 0
    pulsed = with_devices and law != IDEAL
    row_serial = cfg.parallelism == ROW_SERIAL
    discrete = cfg.mode == DISCRETE
    most = 0
    total = 0
    for i in range(theta.shape[0]):
        if opt_plain:
            delta = -eta * g_int[i]
        else:
            delta, opt_state[0, i], opt_state[1, i] = optimizer_core(
                opt_kind, g_int[i], opt_state[0, i], opt_state[1, i], lr, beta1,
                beta2, opt_eps, bc1, bc2)
        n_writes = 1 if delta != 0.0 else 0
        if with_devices:
            w_new, tp_new, n_pulses = DK.update_one(
                law, max_pulses, levels, rounding, d_ctrl, g_up, g_down, c2c, t0,
                s_round, s_c2c, i, theta[i], delta, dev[DK.D_W_MIN, i],
                dev[DK.D_W_MAX, i], dev[DK.D_DW_UP, i], dev[DK.D_DW_DOWN, i],
                dev[DK.D_NU, i], t_prog[i], stuck[i] != 0, u_index, t_now)
            theta[i] = w_new
            t_prog[i] = tp_new
            pulses[i] += n_pulses
            if pulsed:
                n_writes = n_pulses
        elif opt_plain:
            theta[i] -= eta * g_int[i]
        else:
            theta[i] += delta
        if not pulsed and n_writes:
            cnt.writes += 1
        if count_writes and n_writes:
            total += n_writes
            if n_writes > most:
                most = n_writes
            if row_serial and n_writes > rowmax[row_of[i]]:
                rowmax[row_of[i]] = n_writes
        if discrete:
            g_int[i] = 0.0
    return most, total


@njit(cache=True, inline="always")
def update_phase(cfg, cnt, rowmax, after, drain, count_writes, most, total):
    """Time the discrete update phase ending the step at cycle ``after``: wait for the
    window's last cost, then write by parallelism; returns when the chip goes on."""
    write_cycles = 0
    if count_writes:
        if cfg.parallelism == PARALLEL:
            write_cycles = most * cfg.pulse_cycles
        elif cfg.parallelism == SERIAL:
            write_cycles = total * cfg.pulse_cycles
        else:
            for r in range(rowmax.shape[0]):
                write_cycles += rowmax[r] * cfg.pulse_cycles
    phase = drain + cfg.update_overhead + write_cycles
    if cfg.blocking:
        cnt.update_cycles += phase
        after += phase
    elif phase > 0:
        cnt.apply_at = after + phase
        cnt.c0_on_apply = 1
    else:
        cnt.c0_on_apply = 1
    return after
