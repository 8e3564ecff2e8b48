"""The reference path: the step's phases as docs/firmware.md writes them, on the ideal chip
or through the modelled circuits (devices, converters, noise, integrators, update
controller). Every configuration runs on it; the shortcut paths are checked against it."""

import numpy as np
from numba import njit

from hwsim.kernels.broadcast import broadcast
from hwsim.kernels.codes import ANALOG, CONSTANT, DISCRETE, NO_PERT, NODE_PERT, SGD, WEIGHT_PERT
from hwsim.kernels.cost_unit import add_cost_noise, chip_cost, high_pass, hold_baseline
from hwsim.kernels.devices import weights_for_inference
from hwsim.kernels.forward import axpy, cost, forward, forward_chip, node_outer
from hwsim.kernels.integrators import (gradient_coefficient, ideal_integrators, integrate_modelled,
                                       integrator_perturbation, leaky_descend)
from hwsim.kernels.perturb import perturb
from hwsim.kernels.update_controller import plain_sgd_update, update_parameters
from hwsim.kernels.refcount import NO_REFCOUNT
from hwsim.kernels.paths.frame import begin_step, begin_update, finish_step, plan_step


@njit(cache=True, inline="always")
def infer(cfg, net, periphery, devices, w, pert, pert_mode, x, h, read_index):
    """One inference into ``h``: the ideal network, or the modelled periphery (DACs, read
    noise at ``read_index``, tiles, ADCs, neuron variation)."""
    if cfg.chip:
        forward_chip(net, periphery, w, pert, pert_mode, x, h, devices.config[0].seed_read, read_index)
    else:
        forward(net, w, pert, pert_mode, x, h)


@njit(cache=True, inline="always")
def output_cost(cfg, h, t, n_layers, n_out):
    """The cost of the output layer: through the cost unit's ADC on a modelled chip."""
    if cfg.chip:
        return chip_cost(cfg, h[n_layers], t, n_out)
    return cost(h[n_layers], t, n_out, cfg.cost_code)


@njit(cache=True, inline="always")
def copy_activity(src, dst, sizes):
    for l in range(sizes.shape[0] - 1):
        for j in range(sizes[l]):
            dst[l, j] = src[l, j]


@njit(cache=True, **NO_REFCOUNT)
def run_block(config, net, data, gens, periphery, devices, st, scratch, chunks, n_steps, cycle_limit):
    """Advance at most ``n_steps`` steps without passing ``cycle_limit``; return the steps
    done. A non-finite cost stops the block and records its step in ``counters.diverged``.
    (``chunks`` is unused: this path runs on one core.)"""
    cfg = config[0]
    cnt = st.counters[0]
    fl = st.floats[0]
    mode = cfg.mode
    node = cfg.node != 0
    faithful = cfg.node_faithful != 0
    pert_mode = NODE_PERT if node else WEIGHT_PERT
    opt_plain = cfg.opt_kind == SGD and cfg.lr_kind == CONSTANT
    ideal_int = ideal_integrators(cfg)
    # Plain SGD without modelled integrators or devices: vector passes over G and theta.
    plain_update = opt_plain and (not cfg.chip or (ideal_int and not cfg.devices))
    drain = cfg.latency - cfg.cpi + cfg.bcast_latency
    sizes = net.sizes
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    theta, g_int, pert = st.theta, st.g_int, st.pert
    h, h_pert, wpert = scratch.h, scratch.h_pert, scratch.wpert
    p = theta.shape[0]
    done = 0
    while done < n_steps:
        s = plan_step(cfg, cnt, mode == DISCRETE)
        if s.now + s.step_cycles > cycle_limit:
            break
        n, now, need_c0, x_changed = s.n, s.now, s.need_c0, s.x_changed
        # -- present input (every tau_x steps), after any wait for it
        sample = begin_step(cfg, cnt, st.order, s)
        x = data.X[sample]
        t = data.Y[sample]
        # -- perturb (a new theta~ every tau_p steps)
        if perturb(cfg, gens, st, devices.pulses, n // cfg.tau_p):
            cnt.pert_updates += 1
        # -- infer, perturbed
        t_now = now * cfg.clock
        w = weights_for_inference(theta, st.theta_old, devices, scratch.wbuf, s.old_weights, cfg.drift, t_now)
        infer(cfg, net, periphery, devices, w, pert, pert_mode, x, h, 2 * n)
        c = output_cost(cfg, h, t, n_layers, n_out)
        if node and faithful:
            copy_activity(h, h_pert, sizes)
        # -- measure cost
        c = add_cost_noise(cfg, c, n)
        if not np.isfinite(c):
            cnt.diverged = n
            break
        # -- AC-couple: C - C0 (a baseline inference when x or theta changed), or high-pass
        if mode == DISCRETE:
            if need_c0:
                infer(cfg, net, periphery, devices, w, pert, NO_PERT, x, h, 2 * n + 1)
                c0 = output_cost(cfg, h, t, n_layers, n_out)
                if node:
                    copy_activity(h, st.h_base, sizes)    # until x or theta change again
                hold_baseline(cfg, cnt, fl, c0, n)
            ct = c - fl.c0
        else:
            ct = high_pass(cfg, fl, c, x_changed)
        # -- broadcast
        ct = broadcast(cfg, ct, n)
        # -- integrate: G += C~ theta~ / amplitude^2 (node perturbation: per-weight products)
        ipert, i_scale = integrator_perturbation(cfg, gens, st, devices.pulses, n)
        coef = gradient_coefficient(cfg, ct, i_scale)
        if node:
            if mode == ANALOG and not faithful:
                # Analog mode has no baseline pass: the unperturbed activity of this step.
                infer(cfg, net, periphery, devices, w, pert, NO_PERT, x, st.h_base, 2 * n + 1)
            act = h_pert if faithful else st.h_base
            for i in range(p):
                wpert[i] = 0.0
            node_outer(net, wpert, ipert, 1.0, act, 0, n_layers, weights=True, biases=True)
            ipert = wpert
        update_now = mode == ANALOG or (n + 1) % cfg.tau_theta == 0
        timed_update = mode == DISCRETE and update_now
        after, count_writes = begin_update(cfg, cnt, theta, st.theta_old, scratch.rowmax, s, drain, timed_update)
        most = 0
        total = 0
        # -- update (discrete: every tau_theta steps; analog: every step)
        if plain_update:
            if mode == DISCRETE:
                axpy(g_int, coef, ipert)
                if update_now:
                    most, total = plain_sgd_update(cfg, cnt, theta, g_int, net.row_of, scratch.rowmax,
                                                   count_writes, 0, 0)
            else:
                leaky_descend(theta, g_int, cfg.leak, (1.0 - cfg.leak) * coef, ipert, cfg.eta)
        else:
            integrate_modelled(cfg, g_int, ipert, coef, s.step_cycles, ideal_int)
            if update_now:
                most, total = update_parameters(cfg, cnt, st, devices, net.row_of, scratch.rowmax, count_writes,
                                                t_now)
        # -- advance the clock (past the update phase when the update blocks)
        finish_step(cfg, cnt, fl, scratch.rowmax, s, c, after, drain, update_now, timed_update, count_writes,
                    most, total)
        done += 1
    return done
