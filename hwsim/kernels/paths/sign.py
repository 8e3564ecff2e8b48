"""The sign path: weight perturbation with random signs (cdma, sparsity 1) on the ideal chip,
discrete mode, dense network, no broadcast delay, any optimiser and schedule.

The generators' signs are kept as int8 in ``psign`` instead of floats in ``pert``, and the
first stage's unperturbed product ``z1`` is reused until x or theta change, so a step reads
the signs, not the first stage's weights: the same equations. The rows are split into
``chunks`` over the cores (hwsim.kernels.parallel_rows), and each step's integration
G += C~ a s rides with the next step's pass over the signs (flushed at the update and at the
end of the block, so G_int is whole between blocks). Under plain SGD without writes to
count, the update's descent rides with that last pass too (the fused update).
"""

import numpy as np
from numba import njit

from hwsim.kernels.broadcast import broadcast
from hwsim.kernels.codes import CONSTANT, SGD
from hwsim.kernels.cost_unit import add_cost_noise, hold_baseline
from hwsim.kernels.forward import cost
from hwsim.kernels.integrators import gradient_coefficient
from hwsim.kernels.optim import schedule_value
from hwsim.kernels.parallel_rows import integrate, sign_forward, step_work
from hwsim.kernels.paths.first_stage import first_stage_product
from hwsim.kernels.update_controller import plain_sgd_update, update_parameters
from hwsim.kernels.refcount import NO_REFCOUNT
from hwsim.kernels.paths.frame import begin_step, begin_update, finish_step, plan_step


@njit(cache=True, inline="always")
def new_signs_due(cfg, st, k):
    """The perturb phase of the sign path: when the index k changes, the amplitude's schedule
    factor for theta~(k) (its signs are drawn on the way by ``sign_forward``)."""
    if st.pert_k[0] == k:
        return False
    st.pert_scale[0] = 1.0
    if cfg.amp_kind != CONSTANT:
        st.pert_scale[0] = schedule_value(cfg.amp_kind, 1.0, k, cfg.amp_total, cfg.amp_p1, cfg.amp_p2)
    st.pert_k[0] = k
    return True


@njit(cache=True, **NO_REFCOUNT)
def run_block(config, net, data, gens, periphery, devices, st, scratch, chunks, n_steps, cycle_limit):
    """Advance at most ``n_steps`` steps without passing ``cycle_limit``; return the steps
    done (as hwsim.kernels.paths.reference.run_block)."""
    cfg = config[0]
    cnt = st.counters[0]
    fl = st.floats[0]
    opt_plain = cfg.opt_kind == SGD and cfg.lr_kind == CONSTANT
    drain = cfg.latency - cfg.cpi + cfg.bcast_latency
    sizes = net.sizes
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    theta, g_int, psign = st.theta, st.g_int, st.psign
    h, h_unpert = scratch.h, scratch.h_unpert
    p = theta.shape[0]
    # The step whose C~ a still waits to be integrated with the signs in psign.
    pending = False
    pend = 0.0
    done = 0
    while done < n_steps:
        s = plan_step(cfg, cnt, True)
        if s.now + s.step_cycles > cycle_limit:
            break
        n, need_c0, old_weights = s.n, s.need_c0, s.old_weights
        # -- present input
        sample = begin_step(cfg, cnt, st.order, s)
        x = data.X[sample]
        t = data.Y[sample]
        # -- perturb
        k = n // cfg.tau_p
        refill = new_signs_due(cfg, st, k)
        if refill:
            cnt.pert_updates += 1
        amp = cfg.entry_amp * st.pert_scale[0]     # the signs' amplitude, as scheduled
        # -- infer: the pending integration and the new signs on the way
        w = st.theta_old if old_weights else theta
        if need_c0:
            first_stage_product(cfg, cnt, net, data, st, scratch, chunks, w, n, old_weights)
        sign_forward(net, chunks, step_work(pending, pend, refill, k, cfg.perturb_seed), w, g_int, psign, amp, x,
                     h, h_unpert, st.z1, base=need_c0)
        pending = False
        c0_new = 0.0
        if need_c0:
            c0_new = cost(h_unpert[n_layers], t, n_out, cfg.cost_code)
        c = cost(h[n_layers], t, n_out, cfg.cost_code)
        # -- measure cost
        c = add_cost_noise(cfg, c, n)
        if not np.isfinite(c):
            cnt.diverged = n
            break
        # -- AC-couple
        if need_c0:
            hold_baseline(cfg, cnt, fl, c0_new, n)
        ct = c - fl.c0
        # -- broadcast
        ct = broadcast(cfg, ct, n)
        # -- integrate: coef x theta~_i = +-(coef x amplitude), exactly; the next step's pass
        # over the signs adds it, unless the update needs it now
        coef = gradient_coefficient(cfg, ct, st.pert_scale[0])
        update_now = (n + 1) % cfg.tau_theta == 0
        after, count_writes = begin_update(cfg, cnt, theta, st.theta_old, scratch.rowmax, s, drain, update_now)
        most = 0
        total = 0
        fused = update_now and opt_plain and not count_writes
        pending = True
        pend = coef * amp
        # -- update
        if update_now:
            integrate(net, chunks, theta, g_int, psign, pend, cfg.eta, descend=fused)
            pending = False
            if opt_plain:
                # (fused: every parameter descended in the integration's pass)
                most, total = plain_sgd_update(cfg, cnt, theta, g_int, net.row_of, scratch.rowmax, count_writes,
                                               0, p if fused else 0)
            else:
                most, total = update_parameters(cfg, cnt, st, devices, net.row_of, scratch.rowmax, count_writes,
                                                s.now * cfg.clock)
        # -- advance the clock
        finish_step(cfg, cnt, fl, scratch.rowmax, s, c, after, drain, update_now, update_now, count_writes, most,
                    total)
        done += 1
    if pending:
        integrate(net, chunks, theta, g_int, psign, pend, 0.0, descend=False)
    return done
