"""Optimisers and schedules applied at update time (numba).

MGD's integrated G, normalised to a gradient estimate g (docs/firmware.md), is a drop-in
stochastic gradient (mgd_algorithm.md section 4), so any first-order optimiser can turn it
into the parameter change requested at an update. This module holds the per-parameter
arithmetic; the caller owns the normalisation of g, the learning-rate value at this update
and the update count t.

Optimiser kind codes (``OPTIMIZERS``); s1, s2 = the parameter's state, zero at the start:

* 0 ``sgd``:      delta = -lr g                                     (s1, s2 unused)
* 1 ``momentum``: v = beta1 s1 + g;  delta = -lr v;  s1 <- v         (heavy ball)
* 2 ``nesterov``: v = beta1 s1 + g;  delta = -lr (g + beta1 v);  s1 <- v
                  (PyTorch's formulation with dampening 0)
* 3 ``adam``:     m = beta1 s1 + (1 - beta1) g;  v = beta2 s2 + (1 - beta2) g^2;
                  m^ = m / (1 - beta1^t);  v^ = v / (1 - beta2^t);
                  delta = -lr m^ / (sqrt(v^) + eps);  s1 <- m,  s2 <- v
                  (Kingma & Ba Algorithm 1, as PyTorch; t = 1 at the first update)

``delta`` is the *requested* change of the parameter (theta += delta on an ideal chip; on a
device chip it is the ``delta_i`` handed to ``hwsim.kernels.devices.update_one``).
beta1 is the momentum coefficient for kinds 1 and 2; beta2 and eps are Adam's only.

State layout: float64[2, P]; row 0 is s1 (velocity, or Adam's first moment m), row 1 is s2
(Adam's second moment v; unused by the others). It starts at zero.

Schedule kind codes (``SCHEDULES``) for ``schedule_value(kind, base, t, total, p1, p2)``; the
same function serves learning-rate and perturbation-amplitude schedules. ``t`` is the
schedule's clock (int or float >= 0, in whatever unit the caller uses, e.g. the number of
updates already applied: 0 at the first update); ``total`` is the horizon in the same unit
(used by ``cosine`` only):

* 0 ``constant``:     base                                   (p1, p2 unused)
* 1 ``step``:         base * gamma ** floor(t / step_size)   p1 = step_size > 0, p2 = gamma > 0
* 2 ``cosine``:       base * (m + (1 - m) * (1 + cos(pi * min(t, total) / total)) / 2)
                      p1 = m = min_fraction in [0, 1], p2 unused; total > 0; the value is
                      base at t = 0 and base * m from t = total on
* 3 ``inverse_time``: base / (1 + decay * t)                 p1 = decay >= 0, p2 unused

Performance: the per-parameter cores take and return scalars only (a non-inlined numba call
with array arguments costs tens of ns in reference counting); ``apply_optimizer`` is the loop
over parameters inside one call, computing Adam's bias corrections once per update.
"""

import numpy as np
from numba import njit

from hwsim.kernels.codes import ADAM, CONSTANT, COSINE, INVERSE_TIME, MOMENTUM, NESTEROV, SGD, STEP

N_STATE = 2  # rows of the per-parameter state array


@njit(cache=True)
def bias_corrections(kind, t, beta1, beta2):
    """(1 - beta1^t, 1 - beta2^t) for Adam at update count ``t`` >= 1; (1, 1) otherwise."""
    if kind != ADAM:
        return 1.0, 1.0
    if t < 1:
        raise ValueError("Adam's update count t starts at 1")
    tf = float(t)
    return 1.0 - beta1 ** tf, 1.0 - beta2 ** tf


@njit(cache=True)
def optimizer_core(kind, g, s1, s2, lr, beta1, beta2, eps, bc1, bc2):
    """One parameter's update with the bias corrections already computed: (delta, s1, s2).

    Scalars in, scalars out; ``bc1``, ``bc2`` from ``bias_corrections`` (used by Adam only).
    """
    if kind == SGD:
        return -lr * g, s1, s2
    if kind == MOMENTUM:
        v = beta1 * s1 + g
        return -lr * v, v, s2
    if kind == NESTEROV:
        v = beta1 * s1 + g
        return -lr * (g + beta1 * v), v, s2
    if kind == ADAM:
        m = beta1 * s1 + (1.0 - beta1) * g
        v = beta2 * s2 + (1.0 - beta2) * (g * g)
        m_hat = m / bc1
        v_hat = v / bc2
        return -lr * m_hat / (np.sqrt(v_hat) + eps), m, v
    raise ValueError("unknown optimizer kind")


@njit(cache=True)
def optimizer_step(kind, g, s1, s2, t, lr, beta1, beta2, eps):
    """One parameter's update at update count ``t`` (1 at the first update): (delta, s1, s2).

    ``g`` is the gradient estimate, ``s1``/``s2`` the parameter's optimiser state (see the
    module docstring), ``lr`` the learning rate at this update. Scalars only.
    """
    bc1, bc2 = bias_corrections(kind, t, beta1, beta2)
    return optimizer_core(kind, g, s1, s2, lr, beta1, beta2, eps, bc1, bc2)


@njit(cache=True)
def apply_optimizer(kind, g, state, t, lr, beta1, beta2, eps, out_delta):
    """All parameters' update at update count ``t``: ``out_delta[i]`` = the requested change,
    ``state`` (float64[2, P]) updated in place. Equal, bit for bit, to ``optimizer_step``
    called parameter by parameter."""
    bc1, bc2 = bias_corrections(kind, t, beta1, beta2)
    p = g.shape[0]
    for i in range(p):
        d, a, b = optimizer_core(kind, g[i], state[0, i], state[1, i], lr, beta1, beta2, eps,
                                 bc1, bc2)
        out_delta[i] = d
        state[0, i] = a
        state[1, i] = b


@njit(cache=True)
def schedule_value(kind, base, t, total, p1, p2):
    """The scheduled value at clock ``t`` (see the module docstring for kinds and p1/p2)."""
    if kind == CONSTANT:
        return base
    tf = float(t)
    if kind == STEP:
        return base * p2 ** np.floor(tf / p1)
    if kind == COSINE:
        if total <= 0:
            raise ValueError("a cosine schedule needs total > 0")
        tt = float(total)
        if tf > tt:
            tf = tt
        return base * (p1 + (1.0 - p1) * (1.0 + np.cos(np.pi * tf / tt)) * 0.5)
    if kind == INVERSE_TIME:
        return base / (1.0 + p1 * tf)
    raise ValueError("unknown schedule kind")
