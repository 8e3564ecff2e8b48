"""Single-sample forward pass and cost on the flat parameter vector (numba)."""

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def activate(z, code):
    if code == 1:
        return 1.0 / (1.0 + np.exp(-z))
    if code == 2:
        return np.tanh(z)
    if code == 3:
        return z if z > 0.0 else 0.0
    return z


@njit(cache=True)
def forward(theta, pert, use_pert, x, sizes, w_off, b_off, acts, h):
    """Run the network on one sample; ``h[l, :sizes[l]]`` holds layer l's activity.

    With ``use_pert`` the parameters are theta + pert (weight perturbation); the output is
    h[L, :sizes[L]].
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
            if use_pert:
                acc += pert[bo + i]
                for j in range(n_in):
                    acc += (theta[row + j] + pert[row + j]) * h[l, j]
            else:
                for j in range(n_in):
                    acc += theta[row + j] * h[l, j]
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
