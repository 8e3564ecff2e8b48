"""The node-fold path: node perturbation on the ideal chip in discrete mode (any optimiser).

Instead of expanding each step's node signals into per-weight products, the node sums
C~ theta~_n are accumulated in ``nacc`` while the presynaptic activity is constant (same
sample, same weights) and multiplied out into G_int when it changes or at an update: per
step O(neurons), plus, for the faithful form, the stages after the first, whose input
activity changes every step. The first stage's unperturbed product ``z1`` is reused until x
or theta change, and the first stage's products wait in ``window`` (one row per sample: its
node sums, then its input) until the update, which adds them row of G_int by row of G_int in
the same order, so the sums are those of the reference path. Under plain SGD without writes
to count, W_1's rows descend in that same pass (the fused update).
"""

import numpy as np
from numba import njit

from hwsim.kernels.broadcast import broadcast
from hwsim.kernels.codes import CONSTANT, DENSE, SGD
from hwsim.kernels.cost_unit import add_cost_noise, hold_baseline
from hwsim.kernels.forward import cost, forward_node_cached, node_outer
from hwsim.kernels.geometry import G_KIND
from hwsim.kernels.integrators import gradient_coefficient, integrator_perturbation
from hwsim.kernels.parallel_rows import flush_rows
from hwsim.kernels.paths.first_stage import first_stage_product
from hwsim.kernels.perturb import perturb
from hwsim.kernels.update_controller import plain_sgd_update, update_parameters
from hwsim.kernels.refcount import NO_REFCOUNT
from hwsim.kernels.paths.frame import begin_step, begin_update, finish_step, plan_step


@njit(cache=True)
def fold_nodes(g_int, nacc, act, net, all_layers, window, cnt, chunks):
    """G_int += node sums x presynaptic activity (every stage, or the first only) and the node
    sums into the biases; the sums are then cleared. With a ``window`` (rows > 0, dense first
    stage), the first stage's products are queued there instead (flush_window adds them)."""
    sizes, n_off = net.sizes, net.n_off
    n_layers = sizes.shape[0] - 1
    queue = window.shape[0] > 0 and net.geom[0, G_KIND] == DENSE
    if queue:
        m = cnt.window
        if m == window.shape[0]:
            flush_window(net, g_int, window, cnt, chunks, g_int, 0.0, descend=False)
            m = 0
        k1 = sizes[1]
        for i in range(k1):
            window[m, i] = nacc[n_off[0] + i]
        for j in range(sizes[0]):
            window[m, k1 + j] = act[0, j]
        cnt.window = m + 1
    node_outer(net, g_int, nacc, 1.0, act, 0, 1, weights=not queue, biases=True)
    node_outer(net, g_int, nacc, 1.0, act, 1, n_layers, weights=all_layers, biases=True)
    for m in range(nacc.shape[0]):
        nacc[m] = 0.0


@njit(cache=True)
def flush_window(net, g_int, window, cnt, chunks, theta, eta, descend):
    """Add the queued first-stage products (hwsim.kernels.parallel_rows.flush_rows; with
    ``descend``, W_1's rows descend in the same pass) and empty the queue."""
    flush_rows(net, chunks, g_int, window, cnt.window, theta, eta, descend)
    cnt.window = 0


@njit(cache=True, **NO_REFCOUNT)
def run_block(config, net, data, gens, periphery, devices, st, scratch, chunks, n_steps, cycle_limit):
    """Advance at most ``n_steps`` steps without passing ``cycle_limit``; return the steps
    done (as hwsim.kernels.paths.reference.run_block)."""
    cfg = config[0]
    cnt = st.counters[0]
    fl = st.floats[0]
    faithful = cfg.node_faithful != 0
    opt_plain = cfg.opt_kind == SGD and cfg.lr_kind == CONSTANT
    drain = cfg.latency - cfg.cpi + cfg.bcast_latency
    sizes, w_off = net.sizes, net.w_off
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    theta, g_int, pert, nacc, window, h_base = st.theta, st.g_int, st.pert, st.nacc, st.window, st.h_base
    h = scratch.h
    queue_dense = window.shape[0] > 0 and net.geom[0, G_KIND] == DENSE
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
        if perturb(cfg, gens, st, devices.pulses, n // cfg.tau_p):
            cnt.pert_updates += 1
        if need_c0:
            # The activity the pending node sums belong to is about to change.
            fold_nodes(g_int, nacc, h_base, net, not faithful, window, cnt, chunks)
        # -- infer: the baseline first when x or theta changed, both from z1
        w = st.theta_old if old_weights else theta
        c0_new = 0.0
        if need_c0:
            first_stage_product(cfg, cnt, net, data, st, scratch, chunks, w, n, old_weights)
            forward_node_cached(net, w, pert, False, h, st.z1)
            c0_new = cost(h[n_layers], t, n_out, cfg.cost_code)
            for j in range(sizes[0]):
                h_base[0, j] = x[j]
            for l in range(1, n_layers):
                for j in range(sizes[l]):
                    h_base[l, j] = h[l, j]
        forward_node_cached(net, w, pert, True, h, st.z1)
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
        # -- integrate: the node sums (the faithful form multiplies the later stages now)
        ipert, i_scale = integrator_perturbation(cfg, gens, st, devices.pulses, n)
        coef = gradient_coefficient(cfg, ct, i_scale)
        for m in range(nacc.shape[0]):
            nacc[m] += coef * ipert[m]
        if faithful:
            # Stages after the first see this step's perturbed activity (h still holds it).
            node_outer(net, g_int, ipert, coef, h, 1, n_layers, weights=True, biases=False)
        update_now = (n + 1) % cfg.tau_theta == 0
        after, count_writes = begin_update(cfg, cnt, theta, st.theta_old, scratch.rowmax, s, drain, update_now)
        most = 0
        total = 0
        # -- update: fold and flush, then descend (W_1's rows in the flush when fused)
        fused = update_now and opt_plain and not count_writes
        w1_end = 0
        if update_now:
            fold_nodes(g_int, nacc, h_base, net, not faithful, window, cnt, chunks)
            if fused and queue_dense:
                w1_end = w_off[0] + sizes[0] * sizes[1]
            flush_window(net, g_int, window, cnt, chunks, theta, cfg.eta, descend=w1_end > 0)
            if opt_plain:
                # (W_1 = theta[w_off[0]:w1_end] descended with its rows in the flush when fused)
                most, total = plain_sgd_update(cfg, cnt, theta, g_int, net.row_of, scratch.rowmax, count_writes,
                                               w_off[0], max(w1_end, w_off[0]))
            else:
                most, total = update_parameters(cfg, cnt, st, devices, net.row_of, scratch.rowmax, count_writes,
                                                s.now * cfg.clock)
        # -- advance the clock
        finish_step(cfg, cnt, fl, scratch.rowmax, s, c, after, drain, update_now, update_now, count_writes, most,
                    total)
        done += 1
    return done
