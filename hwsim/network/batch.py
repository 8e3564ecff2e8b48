"""The network over a batch of samples, in numpy: the observer's forward pass and exact
gradients by backpropagation (the per-step fast path is hwsim.kernels.forward).

Stages as hwsim.network.layout: a conv stage gathers each output position's k x k patches
(``layout.gather``) and multiplies them by its C_out x (C_in k k) array; a max-pool stage
takes the maximum of each window.
"""

from __future__ import annotations

import numpy as np

from hwsim.network.layout import NetworkLayout

# Samples per chunk of a batched conv pass (bounds the patch tensor's memory).
CHUNK = 128


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


def weighted_sum(layout: NetworkLayout, l: int, w: np.ndarray, h: np.ndarray,
                 fan: slice = slice(None)) -> np.ndarray:
    """sum_f W[:, f] input(f) over the fan-in indices ``fan`` of parametric stage ``l``, for a
    batch ``h`` (n x n_in) and its array ``w`` (channels_out x fan_in): n x n_out, no bias."""
    s = layout.stages[l]
    if s.kind == "dense":
        return h[:, fan] @ w[:, fan].T
    patches = h[:, layout.gather[l][:, fan]]                      # n x P x F
    z = patches @ w[:, fan].T                                     # n x P x C_out
    return z.transpose(0, 2, 1).reshape(h.shape[0], s.n_out)


def output_bias(layout: NetworkLayout, l: int, b: np.ndarray) -> np.ndarray:
    """Stage ``l``'s bias for each of its outputs (a conv channel's bias at every position)."""
    return np.repeat(b, layout.stages[l].positions)


def _pool_index(layout: NetworkLayout, l: int) -> np.ndarray:
    """Input index of each window element of a max-pool stage: (C, P, size^2)."""
    s = layout.stages[l]
    return np.arange(s.in_shape[0])[:, None, None] * (s.in_shape[1] * s.in_shape[2]) + layout.gather[l][None]


def forward_stage(layout: NetworkLayout, l: int, theta: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Stage ``l``'s outputs for a batch of its inputs ``h``."""
    s = layout.stages[l]
    if s.kind == "maxpool":
        return h[:, _pool_index(layout, l)].max(axis=-1).reshape(h.shape[0], s.n_out)
    w, b = layout.weights(theta, l)
    return activate(weighted_sum(layout, l, w, h) + output_bias(layout, l, b), s.activation)


def in_chunks(fn, layout: NetworkLayout, x: np.ndarray) -> np.ndarray:
    """fn(x) computed over chunks of samples when the layout has conv or pool stages (their
    patch tensors grow with samples x positions x fan-in)."""
    x = np.asarray(x, dtype=np.float64)
    if layout.is_dense or x.shape[0] <= CHUNK:
        return fn(x)
    return np.concatenate([fn(x[i:i + CHUNK]) for i in range(0, x.shape[0], CHUNK)])


def forward_batch(layout: NetworkLayout, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Outputs for a batch ``x`` (n_samples x n_in)."""
    return in_chunks(lambda xs: _forward(layout, theta, xs), layout, x)


def _forward(layout, theta, x):
    h = x
    for l in range(layout.n_layers):
        h = forward_stage(layout, l, theta, h)
    return h


def cost_batch(y: np.ndarray, t: np.ndarray, cost: str) -> np.ndarray:
    """Per-sample cost: mse = mean_j (y_j - t_j)^2; cross_entropy = -sum_j t_j log softmax(y)_j."""
    if cost == "mse":
        return np.mean((y - t) ** 2, axis=-1)
    m = y.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.sum(np.exp(y - m), axis=-1, keepdims=True)))[..., 0]
    return lse - np.sum(t * y, axis=-1)


def loss_and_gradient(layout: NetworkLayout, theta: np.ndarray, x: np.ndarray, t: np.ndarray,
                      cost: str) -> tuple[float, np.ndarray]:
    """(mean cost, exact dC/dtheta) over the samples of ``x`` by backpropagation.

    mse = mean_j (y_j - t_j)^2 per sample; cross_entropy = softmax cross-entropy on the raw
    outputs (linear output layer required).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    t = np.atleast_2d(np.asarray(t, dtype=np.float64))
    n = x.shape[0]
    acts = layout.activations
    hs, zs = [x], []
    h = x
    for l, s in enumerate(layout.stages):
        if s.kind == "maxpool":
            z = h[:, _pool_index(layout, l)]                      # n x C x P x size^2
            h = z.max(axis=-1).reshape(n, s.n_out)
        else:
            w, b = layout.weights(theta, l)
            z = weighted_sum(layout, l, w, h) + output_bias(layout, l, b)
            h = activate(z, acts[l])
        zs.append(z)
        hs.append(h)
    y = hs[-1]
    if cost == "mse":
        c = float(np.mean(np.mean((y - t) ** 2, axis=1)))
        delta = (2.0 / y.shape[1]) * (y - t) * activation_derivative(zs[-1], y, acts[-1])
    elif cost == "cross_entropy":
        if acts[-1] != "linear" or layout.stages[-1].kind == "maxpool":
            raise ValueError("cross_entropy expects a linear output layer (softmax is in the cost)")
        m = y.max(axis=1, keepdims=True)
        e = np.exp(y - m)
        s_ = e.sum(axis=1, keepdims=True)
        c = float(np.mean((m + np.log(s_))[:, 0] - np.sum(t * y, axis=1)))
        delta = e / s_ * t.sum(axis=1, keepdims=True) - t
    else:
        raise ValueError(f"unknown cost {cost!r}")
    # delta: dC/d(pre-activation) of stage l's outputs, summed over samples below.
    grad = np.zeros(layout.n_params)
    for l in range(layout.n_layers - 1, -1, -1):
        s = layout.stages[l]
        h_in = hs[l]
        if s.kind == "maxpool":
            win = zs[l]                                            # n x C x P x size^2
            arg = win.argmax(axis=-1)
            d_in = np.zeros_like(h_in)
            src = np.take_along_axis(np.broadcast_to(_pool_index(layout, l), win.shape), arg[..., None],
                                     axis=-1)[..., 0]
            rows = np.broadcast_to(np.arange(n)[:, None, None], src.shape)
            np.add.at(d_in, (rows, src), delta.reshape(src.shape))
            delta = d_in
        else:
            gw, gb = layout.weights(grad, l)
            w, _ = layout.weights(theta, l)
            if s.kind == "dense":
                gw[...] = delta.T @ h_in / n
                gb[...] = delta.sum(axis=0) / n
                d_in = delta @ w if l > 0 else None
            else:
                patches = h_in[:, layout.gather[l]]                # n x P x F
                d = delta.reshape(n, s.channels_out, s.positions)  # n x C_out x P
                gw[...] = np.einsum("ncp,npf->cf", d, patches) / n
                gb[...] = d.sum(axis=(0, 2)) / n
                d_in = None
                if l > 0:
                    d_patch = np.einsum("ncp,cf->npf", d, w)
                    d_in = np.zeros_like(h_in)
                    rows = np.broadcast_to(np.arange(n)[:, None, None], d_patch.shape)
                    np.add.at(d_in, (rows, np.broadcast_to(layout.gather[l], d_patch.shape)), d_patch)
            delta = d_in
        if l > 0 and layout.stages[l - 1].has_params:
            delta = delta * activation_derivative(zs[l - 1], hs[l], acts[l - 1])
    return c, grad


def gradient(layout: NetworkLayout, theta: np.ndarray, x: np.ndarray, t: np.ndarray,
             cost: str) -> np.ndarray:
    """Exact dC/dtheta by backpropagation, averaged over the samples of ``x``."""
    return loss_and_gradient(layout, theta, x, t, cost)[1]
