"""The MGD inner loop: advance the chip by a block of steps in one call.

One step is one perturbed inference (DESIGN section 1), in this fixed order of phases:
  load input (every tau_x) -> perturb (new theta~ every tau_p) -> infer -> digitise cost
  (+ noise) -> AC-couple (discrete: C - C0 with C0 re-measured when x or theta changed;
  analog: first-order high-pass) -> integrate C~ theta~ -> update (discrete: every tau_theta,
  analog: every step).
Everything a step needs is a pure function of the step index and the run state, so a block
of n steps equals n blocks of one step, bit for bit.
"""

import numpy as np
from numba import njit

from hwsim.kernels.forward import cost, forward
from hwsim.kernels.perturb import fill_perturbation
from hwsim.kernels.rng import normal, permutation_into

# icfg: integer configuration
I_MODE, I_SCHEME, I_TAU_P, I_TAU_X, I_TAU_THETA, I_COST, I_CPI, I_BASELINE_CYCLES, \
    I_BASELINE_NOISY, I_PERIOD, I_N_SAMPLES = range(11)
N_ICFG = 11
# fcfg: float configuration
F_ENTRY_AMP, F_SPARSITY, F_ETA, F_CLIP, F_HP_A, F_NOISE_SIGMA, F_G_SCALE, F_LEAK = range(8)
N_FCFG = 8
# seeds: counter-based streams
S_PERTURB, S_NOISE, S_ORDER = range(3)
# istate: integer run state (checkpointed)
S_STEP, S_CYCLES, S_ORDER_EPOCH, S_SAMPLE, S_BASELINES, S_UPDATES, S_DIVERGED = range(7)
N_ISTATE = 7
# fstate: float run state (checkpointed)
S_C0, S_C_PREV, S_CT_PREV, S_COST_SUM, S_COST_COUNT = range(5)
N_FSTATE = 5


@njit(cache=True)
def sample_for_step(n, tau_x, n_samples, order_seed, order, istate):
    """Data index presented at step n: per-epoch seeded permutation, regenerated on demand."""
    s = n // tau_x
    epoch = s // n_samples
    if epoch != istate[S_ORDER_EPOCH]:
        permutation_into(order_seed, epoch, order)
        istate[S_ORDER_EPOCH] = epoch
    return order[s % n_samples]


@njit(cache=True)
def mgd_block(theta, g_int, pert, pert_k, h, order, X, Y, sizes, w_off, b_off, acts,
              icfg, fcfg, seeds, tab_i, tab_f, tab_g, istate, fstate, n_steps, cycle_limit):
    """Advance at most ``n_steps`` steps without passing ``cycle_limit``; return steps done.

    Scratch (not run state): ``pert`` holds theta~(pert_k[0]); ``h`` the layer activities.
    A non-finite cost stops the block and records its step in istate[S_DIVERGED].
    """
    mode = icfg[I_MODE]
    scheme = icfg[I_SCHEME]
    tau_p = icfg[I_TAU_P]
    tau_x = icfg[I_TAU_X]
    tau_theta = icfg[I_TAU_THETA]
    cost_code = icfg[I_COST]
    cpi = icfg[I_CPI]
    baseline_cycles = icfg[I_BASELINE_CYCLES]
    baseline_noisy = icfg[I_BASELINE_NOISY]
    period = icfg[I_PERIOD]
    n_samples = icfg[I_N_SAMPLES]
    entry_amp = fcfg[F_ENTRY_AMP]
    sparsity = fcfg[F_SPARSITY]
    eta = fcfg[F_ETA]
    clip = fcfg[F_CLIP]
    hp_a = fcfg[F_HP_A]
    noise_sigma = fcfg[F_NOISE_SIGMA]
    g_scale = fcfg[F_G_SCALE]
    leak = fcfg[F_LEAK]
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    p = theta.shape[0]

    done = 0
    while done < n_steps:
        n = istate[S_STEP]
        x_changed = n % tau_x == 0
        need_c0 = mode == 0 and (x_changed or n % tau_theta == 0)
        step_cycles = cpi + (baseline_cycles if need_c0 else 0)
        if istate[S_CYCLES] + step_cycles > cycle_limit:
            break
        sample = sample_for_step(n, tau_x, n_samples, seeds[S_ORDER], order, istate)
        istate[S_SAMPLE] = sample
        k = n // tau_p
        if pert_k[0] != k:
            fill_perturbation(scheme, k, seeds[S_PERTURB], entry_amp, sparsity, period,
                              tab_i, tab_f, tab_g, pert)
            pert_k[0] = k
        x = X[sample]
        t = Y[sample]
        forward(theta, pert, True, x, sizes, w_off, b_off, acts, h)
        c = cost(h[n_layers], t, n_out, cost_code)
        if noise_sigma > 0.0:
            c += noise_sigma * normal(seeds[S_NOISE], n, 0)
        if not np.isfinite(c):
            istate[S_DIVERGED] = n
            break
        if mode == 0:
            if need_c0:
                forward(theta, pert, False, x, sizes, w_off, b_off, acts, h)
                c0 = cost(h[n_layers], t, n_out, cost_code)
                if baseline_noisy and noise_sigma > 0.0:
                    c0 += noise_sigma * normal(seeds[S_NOISE], n, 1)
                fstate[S_C0] = c0
                istate[S_BASELINES] += 1
            ct = c - fstate[S_C0]
        else:
            if x_changed:
                fstate[S_C_PREV] = c
            ct = hp_a * fstate[S_CT_PREV] + hp_a * (c - fstate[S_C_PREV])
            fstate[S_CT_PREV] = ct
            fstate[S_C_PREV] = c
        if ct > clip:
            ct = clip
        elif ct < -clip:
            ct = -clip
        coef = ct * g_scale
        if mode == 0:
            for i in range(p):
                g_int[i] += coef * pert[i]
            if (n + 1) % tau_theta == 0:
                for i in range(p):
                    theta[i] -= eta * g_int[i]
                    g_int[i] = 0.0
                istate[S_UPDATES] += 1
        else:
            one_minus = 1.0 - leak
            for i in range(p):
                g_int[i] = leak * g_int[i] + one_minus * coef * pert[i]
                theta[i] -= eta * g_int[i]
            istate[S_UPDATES] += 1
        fstate[S_COST_SUM] += c
        fstate[S_COST_COUNT] += 1.0
        istate[S_CYCLES] += step_cycles
        istate[S_STEP] = n + 1
        done += 1
    return done
