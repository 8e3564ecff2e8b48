"""Single-sample forward pass and cost on the flat parameter vector (numba)."""

import numpy as np
from numba import njit

from hwsim.kernels.rng import normal


@njit(cache=True, inline="always")
def activate(z, code):
    if code == 1:
        return 1.0 / (1.0 + np.exp(-z))
    if code == 2:
        return np.tanh(z)
    if code == 3:
        return z if z > 0.0 else 0.0
    return z


NO_PERT, WEIGHT_PERT, NODE_PERT = 0, 1, 2


@njit(cache=True)
def forward(theta, pert, pert_mode, x, sizes, w_off, b_off, n_off, acts, h):
    """Run the network on one sample; ``h[l, :sizes[l]]`` holds layer l's activity.

    ``pert_mode``: NO_PERT; WEIGHT_PERT, the parameters are theta + pert; NODE_PERT, neuron n's
    pre-activation gains pert[n] (n counts neurons from the first hidden layer). The output
    is h[L, :sizes[L]].
    """
    n_layers = sizes.shape[0] - 1
    for j in range(sizes[0]):
        h[0, j] = x[j]
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        wo = w_off[l]
        bo = b_off[l]
        code = acts[l]
        for i in range(n_out):
            row = wo + i * n_in
            acc = theta[bo + i]
            if pert_mode == WEIGHT_PERT:
                acc += pert[bo + i]
                for j in range(n_in):
                    acc += (theta[row + j] + pert[row + j]) * h[l, j]
            else:
                for j in range(n_in):
                    acc += theta[row + j] * h[l, j]
                if pert_mode == NODE_PERT:
                    acc += pert[n_off[l] + i]
            h[l + 1, i] = activate(acc, code)


@njit(cache=True)
def cost(y, t, n_out, cost_code):
    """mse: mean (y - t)^2; cross entropy: -sum t log softmax(y)."""
    if cost_code == 0:
        s = 0.0
        for j in range(n_out):
            d = y[j] - t[j]
            s += d * d
        return s / n_out
    m = y[0]
    for j in range(1, n_out):
        if y[j] > m:
            m = y[j]
    se = 0.0
    for j in range(n_out):
        se += np.exp(y[j] - m)
    lse = m + np.log(se)
    s = 0.0
    for j in range(n_out):
        s += t[j] * (lse - y[j])
    return s


# Periphery configuration for forward_chip: pcfg_i / pcfg_f entries.
P_ROWS, P_DAC_ON, P_ADC_ON, P_NEURON_VAR, P_READ_NOISE = range(5)
N_PCFG_I = 5
P_DAC_STEP, P_DAC_RANGE, P_ADC_STEP, P_ADC_RANGE, P_READ_ADD, P_READ_PROP = range(6)
N_PCFG_F = 6
# neuron_par rows: gain L, slope k, input offset x0, output offset y0 (per neuron)
NP_GAIN, NP_SLOPE, NP_X0, NP_Y0 = range(4)


@njit(cache=True, inline="always")
def quantise(v, step, limit):
    """Clip to [-limit, limit], then round to the nearest multiple of ``step``."""
    if v > limit:
        v = limit
    elif v < -limit:
        v = -limit
    return np.floor(v / step + 0.5) * step


@njit(cache=True)
def forward_chip(theta, pert, pert_mode, x, sizes, w_off, b_off, n_off, acts, h, pcfg_i, pcfg_f,
                 neuron_par, read_seed, mvm_index):
    """The forward pass as the chip computes it.

    Each layer's inputs go through the DACs (clip to +-dac_range, round to dac_step); a layer
    whose fan-in exceeds the tile rows splits into row tiles. Read noise: every device read
    adds N(0, s_add^2 + (s_prop w)^2) to its weight, so a tile's partial sum sum_j w_j h_j
    gains N(0, sum_j (s_add^2 + s_prop^2 w_j^2) h_j^2): one draw per partial sum, exactly the
    same distribution as one draw per device, keyed by (read_seed, mvm_index, index of the
    tile row's first weight). Each partial sum then goes through an ADC (clip to +-adc_range,
    round to adc_step) and the digitised partial sums are added; the bias (and, with
    NODE_PERT, the node perturbation) is added after the ADC; with neuron variation, neuron n
    computes y = L_n act(k_n (z - x0_n)) + y0_n.
    """
    n_layers = sizes.shape[0] - 1
    rows = pcfg_i[P_ROWS]
    dac_on = pcfg_i[P_DAC_ON] != 0
    adc_on = pcfg_i[P_ADC_ON] != 0
    var_on = pcfg_i[P_NEURON_VAR] != 0
    dac_step = pcfg_f[P_DAC_STEP]
    dac_range = pcfg_f[P_DAC_RANGE]
    adc_step = pcfg_f[P_ADC_STEP]
    adc_range = pcfg_f[P_ADC_RANGE]
    noisy = pcfg_i[P_READ_NOISE] != 0
    var_add = pcfg_f[P_READ_ADD] * pcfg_f[P_READ_ADD]
    var_prop = pcfg_f[P_READ_PROP] * pcfg_f[P_READ_PROP]
    for j in range(sizes[0]):
        h[0, j] = x[j]
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        wo = w_off[l]
        bo = b_off[l]
        code = acts[l]
        if dac_on:
            for j in range(n_in):
                h[l, j] = quantise(h[l, j], dac_step, dac_range)
        for i in range(n_out):
            row = wo + i * n_in
            total = 0.0
            for start in range(0, n_in, rows):
                stop = min(start + rows, n_in)
                acc = 0.0
                if pert_mode == WEIGHT_PERT:
                    for j in range(start, stop):
                        acc += (theta[row + j] + pert[row + j]) * h[l, j]
                else:
                    for j in range(start, stop):
                        acc += theta[row + j] * h[l, j]
                if noisy:
                    var = 0.0
                    for j in range(start, stop):
                        wj = theta[row + j]
                        hj = h[l, j]
                        var += (var_add + var_prop * wj * wj) * hj * hj
                    acc += np.sqrt(var) * normal(read_seed, mvm_index, row + start)
                if adc_on:
                    acc = quantise(acc, adc_step, adc_range)
                total += acc
            total += theta[bo + i]
            if pert_mode == WEIGHT_PERT:
                total += pert[bo + i]
            elif pert_mode == NODE_PERT:
                total += pert[n_off[l] + i]
            if var_on:
                n = n_off[l] + i
                h[l + 1, i] = (neuron_par[NP_GAIN, n]
                               * activate(neuron_par[NP_SLOPE, n] * (total - neuron_par[NP_X0, n]), code)
                               + neuron_par[NP_Y0, n])
            else:
                h[l + 1, i] = activate(total, code)


@njit(cache=True)
def forward_node_cached(theta, pert, with_pert, x, sizes, w_off, b_off, n_off, acts, h, z1, refresh):
    """``forward`` for node perturbation reusing the first layer's unperturbed pre-activation
    ``z1`` (= W_1 x + b_1, recomputed when ``refresh``, i.e. when x or theta changed): the node
    perturbation adds after the MVM, so only the layers after the first run again each step."""
    n_layers = sizes.shape[0] - 1
    n0 = sizes[0]
    for j in range(n0):
        h[0, j] = x[j]
    if refresh:
        for i in range(sizes[1]):
            row = w_off[0] + i * n0
            acc = theta[b_off[0] + i]
            for j in range(n0):
                acc += theta[row + j] * h[0, j]
            z1[i] = acc
    for i in range(sizes[1]):
        z = z1[i] + pert[n_off[0] + i] if with_pert else z1[i]
        h[1, i] = activate(z, acts[0])
    for l in range(1, n_layers):
        n_in = sizes[l]
        for i in range(sizes[l + 1]):
            row = w_off[l] + i * n_in
            acc = theta[b_off[l] + i]
            for j in range(n_in):
                acc += theta[row + j] * h[l, j]
            if with_pert:
                acc += pert[n_off[l] + i]
            h[l + 1, i] = activate(acc, acts[l])
