"""The cost unit (hwsim.chip.cost_unit builds its configuration): the cost of the network's
output, digitised by the cost ADC when the chip has one, with its noise; the baseline C0 of
discrete mode; and the AC coupling that turns the cost into the cost change C~.

Discrete mode: C~ = C - C0, with C0 the cost of an unperturbed inference, re-measured when
the input or the weights change. Analog mode: a first-order high-pass,
C~_n = a C~_(n-1) + a (C_n - C_(n-1)), reset at each new sample (a = tau_hp / (tau_hp + 1)).
Noise is counter-based on the noise stream: index (n, 0) for the cost, (n, 1) for the
baseline, (n, 2) for the broadcast (hwsim.kernels.broadcast).
"""

import numpy as np
from numba import njit

from hwsim.kernels.forward import cost
from hwsim.kernels.rng import normal

COST_NOISE, BASELINE_NOISE, BROADCAST_NOISE = 0, 1, 2


@njit(cache=True, inline="always")
def measure_cost(y, t, n_out, cost_code, cost_adc, adc_step, adc_range):
    """The cost unit: the cost of the output, through the cost ADC when it has one."""
    c = cost(y, t, n_out, cost_code)
    if cost_adc:
        if c < 0.0:
            c = 0.0
        elif c > adc_range:
            c = adc_range
        c = np.floor(c / adc_step + 0.5) * adc_step
    return c


@njit(cache=True, inline="always")
def chip_cost(cfg, y, t, n_out):
    """The cost as the modelled cost unit digitises it."""
    return measure_cost(y, t, n_out, cfg.cost_code, cfg.cost_adc, cfg.cost_adc_step, cfg.cost_adc_range)


@njit(cache=True, inline="always")
def add_cost_noise(cfg, c, n):
    if cfg.noise_sigma > 0.0:
        c += cfg.noise_sigma * normal(cfg.noise_seed, n, COST_NOISE)
    return c


@njit(cache=True, inline="always")
def hold_baseline(cfg, cnt, fl, c0, n):
    """Keep the baseline C0 measured at step n (with its noise when the chip's baseline is
    noisy)."""
    if cfg.baseline_noisy and cfg.noise_sigma > 0.0:
        c0 += cfg.noise_sigma * normal(cfg.noise_seed, n, BASELINE_NOISE)
    fl.c0 = c0
    cnt.baselines += 1


@njit(cache=True, inline="always")
def high_pass(cfg, fl, c, x_changed):
    """Analog AC coupling: the high-passed cost change (reset at a new sample)."""
    if x_changed:
        fl.c_prev = c
    ct = cfg.hp_a * fl.ct_prev + cfg.hp_a * (c - fl.c_prev)
    fl.ct_prev = ct
    fl.c_prev = c
    return ct


@njit(cache=True, inline="always")
def record_cost(fl, c):
    """The step's cost into the observer's training-cost average."""
    fl.cost_sum += c
    fl.cost_count += 1.0
