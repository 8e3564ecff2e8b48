"""The integrators (hwsim.chip.integrators builds their configuration): one per weight and
bias, each accumulating G_int += C~ theta~ / amplitude^2 (times the normalisation,
``g_scale``).

Discrete mode integrates for tau_theta steps and is emptied by the update; analog mode is a
leaky low-pass (G = leak G + (1 - leak) C~ theta~ / amplitude^2, leak = tau_theta/(tau_theta+1))
read at every step. A modelled integrator also leaks in chip time (``int_leak_rate`` per
cycle), saturates at ``int_sat`` and holds ``int_step``-quantised values. An integrator without
delay compensation multiplies C~ by the perturbation the generators emit when C~ arrives,
``delay_steps`` steps after the one that produced it (its own copy: no second device write).
"""

import numpy as np
from numba import njit

from hwsim.kernels.codes import DISCRETE
from hwsim.kernels.forward import quantise
from hwsim.kernels.perturb import emit


@njit(cache=True, inline="always")
def ideal_integrators(cfg):
    """No resolution, no saturation, no leak in chip time."""
    return not cfg.int_bits and cfg.int_sat == np.inf and cfg.int_leak_rate == 0.0


@njit(cache=True, inline="always")
def integrator_perturbation(cfg, gens, st, pulses, n):
    """(theta~ the integrators multiply step n's C~ by, its amplitude schedule factor)."""
    if cfg.delay_steps > 0:
        k2 = (n + cfg.delay_steps) // cfg.tau_p
        if st.pert2_k[0] != k2:
            st.pert_scale[1] = emit(cfg, gens, k2, st.pert2, pulses, False)
            st.pert2_k[0] = k2
        return st.pert2, st.pert_scale[1]
    return st.pert, st.pert_scale[0]


@njit(cache=True, inline="always")
def gradient_coefficient(cfg, ct, i_scale):
    """G = C~ theta~ x this: the normalisation over the amplitude^2 of the theta~ integrated."""
    return ct * cfg.g_scale / (i_scale * i_scale)


@njit(cache=True)
def integrate_modelled(cfg, g_int, v, coef, step_cycles, ideal):
    """G_int = keep G_int + gain v through the modelled integrators: leak over the step's
    cycles (and the analog low-pass), then saturation or quantisation."""
    int_decay = np.exp(-cfg.int_leak_rate * step_cycles) if cfg.int_leak_rate > 0.0 else 1.0
    keep = int_decay if cfg.mode == DISCRETE else int_decay * cfg.leak
    gain = coef if cfg.mode == DISCRETE else (1.0 - cfg.leak) * coef
    if ideal:
        for i in range(g_int.shape[0]):
            g_int[i] = keep * g_int[i] + gain * v[i]
        return
    int_bits, int_step, int_sat = cfg.int_bits, cfg.int_step, cfg.int_sat
    for i in range(g_int.shape[0]):
        g = keep * g_int[i] + gain * v[i]
        if int_bits:
            g = quantise(g, int_step, int_sat)
        elif g > int_sat:
            g = int_sat
        elif g < -int_sat:
            g = -int_sat
        g_int[i] = g


@njit(cache=True)
def leaky_descend(theta, g, leak, gain, v, eta):
    """The analog integrator's step with the plain-SGD update: g = leak g + gain v, theta -= eta g."""
    for i in range(g.shape[0]):
        g[i] = leak * g[i] + gain * v[i]
        theta[i] -= eta * g[i]
