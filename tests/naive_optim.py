"""Plain numpy twins of hwsim.kernels.optim, written from the equations (not from the kernels).

Optimisers act on whole vectors, one call per update, with their state in a dict; schedules
are vectorised over the clock t. References for the equations: heavy-ball momentum
(Polyak 1964) and PyTorch's torch.optim.SGD (momentum, nesterov, dampening 0); Adam is
Kingma & Ba (2015) Algorithm 1 (eps added to the bias-corrected sqrt(v^), as PyTorch).
"""

from __future__ import annotations

import numpy as np


class NaiveOptimizer:
    """One optimiser over a vector of P parameters: ``step(g, lr)`` returns the change."""

    def __init__(self, kind: str, n_params: int, beta=0.9, beta2=0.999, eps=1e-8):
        self.kind = kind
        self.beta1, self.beta2, self.eps = beta, beta2, eps
        self.velocity = np.zeros(n_params)   # momentum / nesterov buffer
        self.m = np.zeros(n_params)          # Adam first moment
        self.v = np.zeros(n_params)          # Adam second moment
        self.t = 0                           # updates applied

    def step(self, g: np.ndarray, lr: float) -> np.ndarray:
        g = np.asarray(g, dtype=np.float64)
        self.t += 1
        if self.kind == "sgd":
            return -lr * g
        if self.kind == "momentum":
            self.velocity = self.beta1 * self.velocity + g
            return -lr * self.velocity
        if self.kind == "nesterov":
            self.velocity = self.beta1 * self.velocity + g
            return -lr * (g + self.beta1 * self.velocity)
        if self.kind == "adam":
            self.m = self.beta1 * self.m + (1.0 - self.beta1) * g
            self.v = self.beta2 * self.v + (1.0 - self.beta2) * g ** 2
            m_hat = self.m / (1.0 - self.beta1 ** self.t)
            v_hat = self.v / (1.0 - self.beta2 ** self.t)
            return -lr * m_hat / (np.sqrt(v_hat) + self.eps)
        raise ValueError(self.kind)

    def state(self) -> np.ndarray:
        """The state in the kernels' float64[2, P] layout (row 0 s1, row 1 s2)."""
        if self.kind == "adam":
            return np.stack([self.m, self.v])
        return np.stack([self.velocity, np.zeros_like(self.velocity)])


def run(kind: str, grads: np.ndarray, lrs, **hyper) -> np.ndarray:
    """Deltas (T x P) for the gradient sequence ``grads`` (T x P) and learning rates ``lrs``."""
    grads = np.asarray(grads, dtype=np.float64)
    lrs = np.broadcast_to(np.asarray(lrs, dtype=np.float64), (grads.shape[0],))
    opt = NaiveOptimizer(kind, grads.shape[1], **hyper)
    return np.stack([opt.step(g, lr) for g, lr in zip(grads, lrs)])


# ----------------------------------------------------------------------------- schedules

def constant(base, t):
    return base * np.ones_like(np.asarray(t, dtype=np.float64))


def step_decay(base, t, step_size, gamma):
    """base * gamma^floor(t / step_size)."""
    t = np.asarray(t, dtype=np.float64)
    return base * gamma ** np.floor(t / step_size)


def cosine(base, t, total, min_fraction):
    """base * (m + (1 - m) (1 + cos(pi min(t, total) / total)) / 2)."""
    t = np.minimum(np.asarray(t, dtype=np.float64), total)
    return base * (min_fraction + (1.0 - min_fraction) * (1.0 + np.cos(np.pi * t / total)) / 2.0)


def inverse_time(base, t, decay):
    """base / (1 + decay t)."""
    return base / (1.0 + decay * np.asarray(t, dtype=np.float64))


def schedule(kind: str, base, t, total=0.0, step_size=1.0, gamma=0.1, decay=0.0, min_fraction=0.0):
    if kind == "constant":
        return constant(base, t)
    if kind == "step":
        return step_decay(base, t, step_size, gamma)
    if kind == "cosine":
        return cosine(base, t, total, min_fraction)
    if kind == "inverse_time":
        return inverse_time(base, t, decay)
    raise ValueError(kind)
