"""Single-sample forward pass and cost on the flat parameter vector (numba).

The routines that walk the network take its shape as one ``Network`` bundle (``net``,
hwsim.kernels.state: sizes, offsets, activations, geometry), first, as the path drivers hold
it; the scalar cores (``activate``, ``unit``, ``dot``, ...) keep their plain arguments, so
that they stay small enough to inline into the loops that call them."""

import numpy as np
from numba import njit

from hwsim.kernels.codes import DENSE, MSE, NO_PERT, NODE_PERT, POOL, RELU, SIGMOID, TANH, WEIGHT_PERT
from hwsim.kernels.geometry import G_CH_OUT, G_FAN, G_GOFF, G_IN_STRIDE, G_KIND, G_POS
from hwsim.kernels.rng import normal


@njit(cache=True, inline="always")
def activate(z, code):
    if code == SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return z if z > 0.0 else 0.0
    return z


# Floating-point flags of the MVM routines: sums may be reassociated (and multiply-adds fused)
# so that the compiler vectorises the dot products (about 10x faster than one running sum).
# The order is fixed in the compiled code, so results are the same on every run on a machine;
# no 'nnan'/'ninf', so NaN and inf still propagate and divergence is still detected.
MVM_MATH = {"reassoc", "nsz", "contract"}



@njit(cache=True, inline="always")
def unit(geom, l, o, w_off, b_off):
    """Output ``o`` of parametric stage ``l``: (first weight of its array row, its bias,
    gather base, or -1 for a dense stage whose fan-in index is the input index)."""
    fan = geom[l, G_FAN]
    if geom[l, G_KIND] == DENSE:
        return w_off[l] + o * fan, b_off[l] + o, -1
    positions = geom[l, G_POS]
    c = o // positions
    return w_off[l] + c * fan, b_off[l] + c, geom[l, G_GOFF] + (o - c * positions) * fan


# The loops below index slices (views) from 0: a computed index such as row + j could be
# negative for all the compiler knows, and numba's wraparound for negative indices then keeps
# it from vectorising the loop (about 5x slower).


@njit(cache=True, inline="always")
def dot(w, row, hl, gidx, gbase, start, stop):
    """sum_f w[row + f] hl[input(f)] over fan-in f in [start, stop); ``hl`` is one row of the
    activity array."""
    n = stop - start
    wr = w[row + start:row + stop]
    acc = 0.0
    if gbase < 0:
        hs = hl[start:stop]
        for j in range(n):
            acc += wr[j] * hs[j]
    else:
        gs = gidx[gbase + start:gbase + stop]
        for j in range(n):
            acc += wr[j] * hl[gs[j]]
    return acc


@njit(cache=True, inline="always")
def read_variance(w, row, hl, gidx, gbase, start, stop, var_add, var_prop):
    """The read noise's variance of a tile's partial sum, sum_f (var_add + var_prop w^2) h^2
    over fan-in f in [start, stop) (``forward_chip``); indexed as ``dot``, so that it
    vectorises (B5's step: about 1.9x faster than the loop over computed indices)."""
    n = stop - start
    wr = w[row + start:row + stop]
    var = 0.0
    if gbase < 0:
        hs = hl[start:stop]
        for j in range(n):
            var += (var_add + var_prop * wr[j] * wr[j]) * hs[j] * hs[j]
    else:
        gs = gidx[gbase + start:gbase + stop]
        for j in range(n):
            hj = hl[gs[j]]
            var += (var_add + var_prop * wr[j] * wr[j]) * hj * hj
    return var


@njit(cache=True, inline="always")
def dot_perturbed(w, pert, row, hl, gidx, gbase, start, stop):
    """``dot`` with the weights w + pert."""
    n = stop - start
    wr = w[row + start:row + stop]
    pr = pert[row + start:row + stop]
    acc = 0.0
    if gbase < 0:
        hs = hl[start:stop]
        for j in range(n):
            acc += (wr[j] + pr[j]) * hs[j]
    else:
        gs = gidx[gbase + start:gbase + stop]
        for j in range(n):
            acc += (wr[j] + pr[j]) * hl[gs[j]]
    return acc


@njit(cache=True)
def max_pool(h, l, n_out, geom, gidx):
    """h[l + 1] = maximum of h[l] over each output's window."""
    fan = geom[l, G_FAN]
    positions = geom[l, G_POS]
    stride = geom[l, G_IN_STRIDE]
    table = gidx[geom[l, G_GOFF]:geom[l, G_GOFF] + positions * fan]
    for c in range(n_out // positions):
        hin = h[l, c * stride:(c + 1) * stride]
        out = h[l + 1, c * positions:(c + 1) * positions]
        for q in range(positions):
            window = table[q * fan:(q + 1) * fan]
            m = hin[window[0]]
            for f in range(1, fan):
                v = hin[window[f]]
                if v > m:
                    m = v
            out[q] = m


@njit(cache=True, fastmath=MVM_MATH)
def stage(net, l, theta, pert, pert_mode, h):
    """h[l + 1] from h[l] through stage l (``forward``'s body)."""
    w_off, b_off, n_off, geom, gidx = net.w_off, net.b_off, net.n_off, net.geom, net.gidx
    n_out = net.sizes[l + 1]
    code = net.acts[l]
    if geom[l, G_KIND] == POOL:
        max_pool(h, l, n_out, geom, gidx)
        return
    fan = geom[l, G_FAN]
    hl = h[l]
    if geom[l, G_KIND] == DENSE:
        # The dense stage spelled out (no gather branch): about twice as fast on short rows.
        hs = hl[:fan]
        for i in range(n_out):
            row = w_off[l] + i * fan
            bias = b_off[l] + i
            wr = theta[row:row + fan]
            acc = theta[bias]
            total = 0.0
            if pert_mode == WEIGHT_PERT:
                acc += pert[bias]
                pr = pert[row:row + fan]
                for j in range(fan):
                    total += (wr[j] + pr[j]) * hs[j]
                acc += total
            else:
                for j in range(fan):
                    total += wr[j] * hs[j]
                acc += total
                if pert_mode == NODE_PERT:
                    acc += pert[n_off[l] + i]
            h[l + 1, i] = activate(acc, code)
        return
    conv_stage(net, l, theta, pert, pert_mode, h)


@njit(cache=True, fastmath=MVM_MATH)
def conv_stage(net, l, theta, pert, pert_mode, h):
    """h[l + 1] from h[l] through conv stage l, tap by tap: each output channel gains w_f x the
    input shifted by tap f, then the bias and the activation; each output adds its taps in
    fan-in order. A tap's pass runs over whole input rows (h_out x w_in values, the last
    k - 1 of each row beyond the output), one long contiguous loop that vectorises, into the
    next stage's activity row h[l + 2] as scratch (it is written after this stage); the
    output positions are then copied out."""
    w_off, b_off, n_off, geom, gidx = net.w_off, net.b_off, net.n_off, net.geom, net.gidx
    fan, positions, goff = geom[l, G_FAN], geom[l, G_POS], geom[l, G_GOFF]
    code = net.acts[l]
    # From the gather table: input index of (position, tap) = shift[position] + tap_at[tap],
    # shift = oy w_in + ox (tap 0), tap_at = c_in h_in w_in + ky w_in + kx (position 0).
    w_out = 1
    while w_out < positions and gidx[goff + w_out * fan] == w_out:
        w_out += 1
    h_out = positions // w_out
    w_in = gidx[goff + w_out * fan] if h_out > 1 else w_out
    span = (h_out - 1) * w_in + w_out          # from the first output's input to the last's
    wide = l + 2 < h.shape[0]                  # (a conv output stage has no scratch row)
    hl = h[l]
    for c in range(geom[l, G_CH_OUT]):
        row, bias = w_off[l] + c * fan, b_off[l] + c
        out = h[l + 1, c * positions:(c + 1) * positions]
        if wide:
            acc = h[l + 2, :span]
            for q in range(span):
                acc[q] = 0.0
            for f in range(fan):
                wv = theta[row + f]
                if pert_mode == WEIGHT_PERT:
                    wv = theta[row + f] + pert[row + f]
                src = hl[gidx[goff + f]:gidx[goff + f] + span]
                for q in range(span):
                    acc[q] += wv * src[q]
            for oy in range(h_out):
                for ox in range(w_out):
                    out[oy * w_out + ox] = acc[oy * w_in + ox]
        else:
            for q in range(positions):
                out[q] = 0.0
            for f in range(fan):
                wv = theta[row + f]
                if pert_mode == WEIGHT_PERT:
                    wv = theta[row + f] + pert[row + f]
                tap = gidx[goff + f]
                for oy in range(h_out):
                    src = hl[tap + oy * w_in:tap + oy * w_in + w_out]
                    dst = out[oy * w_out:(oy + 1) * w_out]
                    for ox in range(w_out):
                        dst[ox] += wv * src[ox]
        for q in range(positions):
            total = theta[bias]
            if pert_mode == WEIGHT_PERT:
                total += pert[bias]
            total += out[q]
            if pert_mode == NODE_PERT:
                total += pert[n_off[l] + c * positions + q]
            out[q] = activate(total, code)


@njit(cache=True, fastmath=MVM_MATH)
def forward(net, theta, pert, pert_mode, x, h):
    """Run the network on one sample; ``h[l, :sizes[l]]`` holds stage l's input activity.

    ``pert_mode``: NO_PERT; WEIGHT_PERT, the parameters are theta + pert; NODE_PERT, node n's
    pre-activation gains pert[n] (n counts the outputs of the parametric stages). The output
    is h[L, :sizes[L]].
    """
    sizes = net.sizes
    n_layers = sizes.shape[0] - 1
    for j in range(sizes[0]):
        h[0, j] = x[j]
    for l in range(n_layers):
        stage(net, l, theta, pert, pert_mode, h)


@njit(cache=True)
def cost(y, t, n_out, cost_code):
    """mse: mean (y - t)^2; cross entropy: -sum t log softmax(y)."""
    if cost_code == MSE:
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


# The periphery's configuration for forward_chip, one record (hwsim.chip.periphery fills it).
PERIPHERY_CONFIG = np.dtype([
    ("rows", np.int64),         # rows (inputs) per tile: a longer fan-in splits into tiles
    ("dac_on", np.int64),       # 1: inputs go through the DACs
    ("adc_on", np.int64),       # 1: each tile partial sum goes through an ADC
    ("neuron_var", np.int64),   # 1: per-neuron gain and offsets (neuron_par)
    ("read_noise", np.int64),   # 1: devices are read with noise (read_add, read_prop)
    ("dac_step", np.float64), ("dac_range", np.float64),
    ("adc_step", np.float64), ("adc_range", np.float64),
    ("read_add", np.float64),   # additive read noise of a device (weight units)
    ("read_prop", np.float64),  # conductance-proportional read noise (relative)
])
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


@njit(cache=True, fastmath=MVM_MATH)
def forward_chip(net, periphery, theta, pert, pert_mode, x, h, read_seed, mvm_index):
    """The forward pass as the chip computes it.

    Each parametric stage's inputs go through the DACs (clip to +-dac_range, round to
    dac_step); an MVM whose fan-in exceeds the tile rows splits into row tiles. Read noise:
    every device read adds N(0, s_add^2 + (s_prop w)^2) to its weight, so a tile's partial sum
    sum_j w_j h_j gains N(0, sum_j (s_add^2 + s_prop^2 w_j^2) h_j^2): one draw per partial sum,
    exactly the same distribution as one draw per device, keyed by (read_seed, mvm_index,
    index of the tile row's first weight + position x P), a conv stage's positions being
    separate reads. Each partial sum then goes through an ADC (clip to +-adc_range, round to
    adc_step) and the digitised partial sums are added; the bias (and, with NODE_PERT, the
    node perturbation) is added after the ADC; with neuron variation, node n computes
    y = L_n act(k_n (z - x0_n)) + y0_n. Max-pool stages are digital: exact. ``periphery`` is
    the ``Periphery`` bundle (hwsim.kernels.state): its PERIPHERY_CONFIG record (a structured
    array of length 1) and the per-neuron parameters.
    """
    sizes, w_off, b_off, n_off, acts, geom, gidx = (net.sizes, net.w_off, net.b_off, net.n_off, net.acts,
                                                    net.geom, net.gidx)
    neuron_par = periphery.neuron_par
    n_layers = sizes.shape[0] - 1
    cfg = periphery.config[0]
    rows = cfg.rows
    dac_on = cfg.dac_on != 0
    adc_on = cfg.adc_on != 0
    var_on = cfg.neuron_var != 0
    dac_step = cfg.dac_step
    dac_range = cfg.dac_range
    adc_step = cfg.adc_step
    adc_range = cfg.adc_range
    noisy = cfg.read_noise != 0
    var_add = cfg.read_add * cfg.read_add
    var_prop = cfg.read_prop * cfg.read_prop
    p_total = theta.shape[0]
    for j in range(sizes[0]):
        h[0, j] = x[j]
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        code = acts[l]
        if geom[l, G_KIND] == POOL:
            max_pool(h, l, n_out, geom, gidx)
            continue
        fan = geom[l, G_FAN]
        positions = geom[l, G_POS]
        if dac_on:
            for j in range(n_in):
                h[l, j] = quantise(h[l, j], dac_step, dac_range)
        hl = h[l]
        for i in range(n_out):
            row, bias, gb = unit(geom, l, i, w_off, b_off)
            total = 0.0
            for start in range(0, fan, rows):
                stop = min(start + rows, fan)
                if pert_mode == WEIGHT_PERT:
                    acc = dot_perturbed(theta, pert, row, hl, gidx, gb, start, stop)
                else:
                    acc = dot(theta, row, hl, gidx, gb, start, stop)
                if noisy:
                    var = read_variance(theta, row, hl, gidx, gb, start, stop, var_add, var_prop)
                    read_key = row + start + (i % positions) * p_total
                    acc += np.sqrt(var) * normal(read_seed, mvm_index, read_key)
                if adc_on:
                    acc = quantise(acc, adc_step, adc_range)
                total += acc
            total += theta[bias]
            if pert_mode == WEIGHT_PERT:
                total += pert[bias]
            elif pert_mode == NODE_PERT:
                total += pert[n_off[l] + i]
            if var_on:
                n = n_off[l] + i
                h[l + 1, i] = (neuron_par[NP_GAIN, n]
                               * activate(neuron_par[NP_SLOPE, n] * (total - neuron_par[NP_X0, n]), code)
                               + neuron_par[NP_Y0, n])
            else:
                h[l + 1, i] = activate(total, code)


@njit(cache=True, fastmath=MVM_MATH)
def forward_node_cached(net, theta, pert, with_pert, h, z1):
    """``forward`` for node perturbation reusing the first stage's unperturbed pre-activation
    ``z1`` (= W_1 x + b_1, hwsim.kernels.parallel_rows.first_product, recomputed when x or theta
    change): the node perturbation adds after the MVM, so only the stages after the first run
    again each step. The first stage is dense or conv; h[0] is not written (nothing reads it)."""
    sizes, n_off, acts = net.sizes, net.n_off, net.acts
    n_layers = sizes.shape[0] - 1
    for i in range(sizes[1]):
        z = z1[i] + pert[n_off[0] + i] if with_pert else z1[i]
        h[1, i] = activate(z, acts[0])
    mode = NODE_PERT if with_pert else NO_PERT
    for l in range(1, n_layers):
        stage(net, l, theta, pert, mode, h)


@njit(cache=True)
def axpy(y, a, x):
    """y += a x (its own function: vectorised here, not inside a larger loop nest)."""
    for j in range(y.shape[0]):
        y[j] += a * x[j]


@njit(cache=True)
def node_outer(net, out, nodes, scale, act, first, last, weights, biases):
    """Node perturbation's local one-step backprop over stages first .. last - 1: with
    v = scale x nodes[node], out[weight] += v x its presynaptic activity in ``act`` (when
    ``weights``) and out[bias] += v (when ``biases``). A conv weight gathers over positions."""
    sizes, w_off, b_off, n_off, geom, gidx = net.sizes, net.w_off, net.b_off, net.n_off, net.geom, net.gidx
    for l in range(first, last):
        if geom[l, G_KIND] == POOL:
            continue
        fan = geom[l, G_FAN]
        for i in range(sizes[l + 1]):
            v = scale * nodes[n_off[l] + i]
            if v == 0.0:
                continue
            row, bias, gb = unit(geom, l, i, w_off, b_off)
            if weights:
                if gb < 0:
                    # Inline rather than axpy: these rows are short, the call would dominate.
                    orow = out[row:row + fan]
                    al = act[l][:fan]
                    for j in range(fan):
                        orow[j] += v * al[j]
                else:
                    gs = gidx[gb:gb + fan]
                    al = act[l]
                    orow = out[row:row + fan]
                    for j in range(fan):
                        orow[j] += v * al[gs[j]]
            if biases:
                out[bias] += v
