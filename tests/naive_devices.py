"""Plain numpy twins of the device kernels (hwsim/kernels/devices.py), written from the
equations in that module's docstring, vectorised over devices (the kernels loop over
devices and pulses one at a time).

They read the per-device constants and stream seeds of a ``DeviceArray`` (drawn once at
build) and the spec values from its ``DeviceSpec`` and ``UpdateController`` (not the
kernels' config record), and return new arrays instead of mutating.
"""

from __future__ import annotations

import numpy as np

import naive
from hwsim.kernels import devices as K


def step_size(law, d, w, dw_up, dw_down, w_min, w_max, gamma_up, gamma_down):
    """s^d(w), elementwise over devices; d is +1/-1 (array or scalar)."""
    d, w = np.broadcast_arrays(np.asarray(d, dtype=np.float64), np.asarray(w, dtype=np.float64))
    up = d > 0
    base = np.where(up, dw_up, dw_down)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(up, w / w_max, w / w_min)  # fraction of the way to the bound it moves toward
    g = np.where(up, gamma_up, gamma_down)
    if law == "constant_step":
        f = np.ones_like(w)
    elif law == "linear_step":
        f = 1.0 - g * r
    elif law == "soft_bounds":
        f = 1.0 - r
    elif law == "exp_step":
        f = (-np.expm1(g * (r - 1.0))) / (-np.expm1(-g))
    elif law == "pow_step":
        f = np.maximum(1.0 - r, 0.0) ** g
    else:
        raise ValueError(law)
    return base * np.maximum(f, 0.0)


def drifted(w, nu, t_prog, t, t0):
    el = t - t_prog
    factor = np.where((nu > 0) & (el > t0), (np.maximum(el, t0) / t0) ** (-nu), 1.0)
    return w * factor


def _gammas(p):
    return p.gamma_up, (p.gamma_up if p.gamma_down is None else p.gamma_down)


def _seed(arr, name):
    return int(arr.config[0][name])


def update(arr, delta, update_index, t):
    """(w, t_prog, pulses, total) after the controller applies ``delta`` to a copy of ``arr``."""
    p, u = arr.device, arr.controller
    seed_round, seed_c2c = _seed(arr, "seed_round"), _seed(arr, "seed_c2c")
    lo, hi = arr.dev[K.D_W_MIN], arr.dev[K.D_W_MAX]
    dw_up, dw_down, nu = arr.dev[K.D_DW_UP], arr.dev[K.D_DW_DOWN], arr.dev[K.D_NU]
    n_dev = arr.n
    idx = np.arange(n_dev)
    stuck = arr.stuck.astype(bool)
    w, t_prog, pulses = arr.w.copy(), arr.t_prog.copy(), arr.pulses.copy()
    delta = np.asarray(delta, dtype=np.float64)
    cur = drifted(w, nu, t_prog, t, p.drift.t0)
    off = 0.5 if u.rounding == "deterministic" else naive.uniform(seed_round, update_index, idx)

    if p.law == "ideal":
        written = (delta != 0) & ~stuck
        w = np.where(written, np.clip(cur + delta, lo, hi), w)
        t_prog = np.where(written, t, t_prog)
        return w, t_prog, pulses, 0

    if p.law == "quantised":
        q = (hi - lo) / (p.levels - 1)
        k0 = np.clip(np.floor((cur - lo) / q + 0.5), 0, p.levels - 1)
        k = np.clip(np.floor((np.clip(cur + delta, lo, hi) - lo) / q + off), 0, p.levels - 1)
        dk = np.clip(k - k0, -u.max_pulses, u.max_pulses)
        dk = np.where(delta != 0, dk, 0.0)
        n = np.abs(dk).astype(np.int64)
        written = (n > 0) & ~stuck
        w = np.where(written, lo + (k0 + dk) * q, w)
        t_prog = np.where(written, t, t_prog)
        return w, t_prog, pulses + n, int(n.sum())

    x = np.abs(delta) / p.dw_min
    n = np.minimum(np.floor(np.minimum(x, u.max_pulses) + off), u.max_pulses).astype(np.int64)
    n = np.where(x >= u.max_pulses, u.max_pulses, n)
    d = np.where(delta > 0, 1.0, -1.0)
    g_up, g_down = _gammas(p)
    written = (n > 0) & ~stuck
    v = cur.copy()
    for k in range(int(n.max(initial=0))):
        act = written & (k < n)
        xi = naive.normal(seed_c2c, update_index, idx * u.max_pulses + k) if p.write_noise > 0 else 0.0
        s = step_size(p.law, d, v, dw_up, dw_down, lo, hi, g_up, g_down)
        v = np.where(act, np.clip(v + d * s * (1.0 + p.write_noise * xi), lo, hi), v)
    w = np.where(written, v, w)
    t_prog = np.where(written, t, t_prog)
    return w, t_prog, pulses + n, int(n.sum())


def program(arr, target, program_index, t):
    """(w, t_prog) after program-and-verify of a copy of ``arr`` to ``target``."""
    p = arr.device
    lo, hi = arr.dev[K.D_W_MIN], arr.dev[K.D_W_MAX]
    stuck = arr.stuck.astype(bool)
    idx = np.arange(arr.n)
    v = np.asarray(target, dtype=np.float64).copy()
    if p.programming_error > 0:
        v = v + p.programming_error * naive.normal(_seed(arr, "seed_prog"), program_index, idx)
    v = np.clip(v, lo, hi)
    if p.law == "quantised":
        q = (hi - lo) / (p.levels - 1)
        v = lo + np.clip(np.floor((v - lo) / q + 0.5), 0, p.levels - 1) * q
    return np.where(stuck, arr.w, v), np.where(stuck, arr.t_prog, t)


def read(arr, t, mvm_index):
    """The weights one MVM sees at time t."""
    p = arr.device
    stuck = arr.stuck.astype(bool)
    v = np.where(stuck, arr.w, drifted(arr.w, arr.dev[K.D_NU], arr.t_prog, t, p.drift.t0))
    noise = p.read_noise
    if noise.additive > 0 or noise.proportional > 0:
        sd = np.sqrt(noise.additive ** 2 + (noise.proportional * v) ** 2)
        v = v + sd * naive.normal(_seed(arr, "seed_read"), mvm_index, np.arange(arr.n))
    return v
