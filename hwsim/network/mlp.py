"""A multilayer perceptron as the chip holds it: one flat parameter vector theta.

Layout: for each layer l, W_l (n_out x n_in, row-major) then b_l (n_out). The forward pass
is h_{l+1} = act_l(W_l h_l + b_l). This module holds the numpy side (batched forward for
the observer, exact gradients by backpropagation); the per-step fast path is
hwsim.kernels.forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = {"linear": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
COSTS = {"mse": 0, "cross_entropy": 1}


@dataclass
class MLPLayout:
    sizes: tuple[int, ...]            # (n_in, hidden..., n_out)
    activations: tuple[str, ...]      # one per layer

    def __post_init__(self):
        w_off, b_off, off = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w_off.append(off)
            off += n_in * n_out
            b_off.append(off)
            off += n_out
        self.w_off = np.array(w_off, dtype=np.int64)
        self.b_off = np.array(b_off, dtype=np.int64)
        self.n_params = off
        self.sizes_arr = np.array(self.sizes, dtype=np.int64)
        self.act_codes = np.array([ACTIVATIONS[a] for a in self.activations], dtype=np.int64)

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_neurons(self) -> int:
        return int(sum(self.sizes[1:]))

    def weights(self, theta: np.ndarray, layer: int) -> tuple[np.ndarray, np.ndarray]:
        n_in, n_out = self.sizes[layer], self.sizes[layer + 1]
        w = theta[self.w_off[layer]: self.w_off[layer] + n_in * n_out].reshape(n_out, n_in)
        b = theta[self.b_off[layer]: self.b_off[layer] + n_out]
        return w, b

    def init(self, rng: np.random.Generator, distribution: str, low: float, high: float,
             std: float, bias_low: float | None = None, bias_high: float | None = None) -> np.ndarray:
        theta = np.empty(self.n_params)
        bias_low = low if bias_low is None else bias_low
        bias_high = high if bias_high is None else bias_high
        for l in range(self.n_layers):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            w, b = self.weights(theta, l)
            if distribution == "uniform":
                w[...] = rng.uniform(low, high, size=w.shape)
                b[...] = rng.uniform(bias_low, bias_high, size=b.shape)
            elif distribution == "normal":
                w[...] = rng.normal(0.0, std, size=w.shape)
                b[...] = rng.normal(0.0, std, size=b.shape)
            else:  # glorot_uniform, zero biases
                limit = np.sqrt(6.0 / (n_in + n_out))
                w[...] = rng.uniform(-limit, limit, size=w.shape)
                b[...] = 0.0
        return theta


def activate(z: np.ndarray, code: str) -> np.ndarray:
    if code == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if code == "tanh":
        return np.tanh(z)
    if code == "relu":
        return np.maximum(z, 0.0)
    return z


def activation_derivative(z: np.ndarray, h: np.ndarray, code: str) -> np.ndarray:
    if code == "sigmoid":
        return h * (1.0 - h)
    if code == "tanh":
        return 1.0 - h * h
    if code == "relu":
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


def forward_batch(layout: MLPLayout, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Outputs for a batch ``x`` (n_samples x n_in)."""
    h = x
    for l in range(layout.n_layers):
        w, b = layout.weights(theta, l)
        h = activate(h @ w.T + b, layout.activations[l])
    return h


def cost_batch(y: np.ndarray, t: np.ndarray, cost: str) -> np.ndarray:
    """Per-sample cost: mse = mean_j (y_j - t_j)^2; cross_entropy = -sum_j t_j log softmax(y)_j."""
    if cost == "mse":
        return np.mean((y - t) ** 2, axis=-1)
    m = y.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.sum(np.exp(y - m), axis=-1, keepdims=True)))[..., 0]
    return lse - np.sum(t * y, axis=-1)


def gradient(layout: MLPLayout, theta: np.ndarray, x: np.ndarray, t: np.ndarray,
             cost: str) -> np.ndarray:
    """Exact dC/dtheta by backpropagation, averaged over the samples of ``x``."""
    x = np.atleast_2d(x)
    t = np.atleast_2d(t)
    hs, zs = [x], []
    h = x
    for l in range(layout.n_layers):
        w, b = layout.weights(theta, l)
        z = h @ w.T + b
        h = activate(z, layout.activations[l])
        zs.append(z)
        hs.append(h)
    y = hs[-1]
    n = x.shape[0]
    if cost == "mse":
        dy = 2.0 * (y - t) / y.shape[1]
        delta = dy * activation_derivative(zs[-1], y, layout.activations[-1])
    else:
        if layout.activations[-1] != "linear":
            raise ValueError("cross_entropy expects a linear output layer (softmax is in the cost)")
        e = np.exp(y - y.max(axis=1, keepdims=True))
        delta = e / e.sum(axis=1, keepdims=True) * t.sum(axis=1, keepdims=True) - t
    grad = np.zeros(layout.n_params)
    for l in range(layout.n_layers - 1, -1, -1):
        gw, gb = layout.weights(grad, l)
        gw[...] = delta.T @ hs[l] / n
        gb[...] = delta.sum(axis=0) / n
        if l > 0:
            w, _ = layout.weights(theta, l)
            delta = (delta @ w) * activation_derivative(zs[l - 1], hs[l], layout.activations[l - 1])
    return grad
