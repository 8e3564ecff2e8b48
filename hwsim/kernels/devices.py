"""Analog synapse devices: pulsed update laws, the update controller, programming and the
read path (drift + read noise), as numba kernels over a flat vector of P devices.

Conventions follow IBM aihwkit's pulsed devices (``PulsedDevice`` and its subclasses):
weights are in weight units, one *pulse* moves a device by one step in direction
d = +1 (potentiate, "up") or d = -1 (depress, "down"), the step depends on the device
state w, and after every pulse w is clipped to the device's own bounds [b_min_i, b_max_i].

Device laws (``law`` code; s^d(w) is the nominal step magnitude of a pulse in direction d,
dw^+_i / dw^-_i the device's up/down step at w = 0, gamma^+ / gamma^- the shape parameters;
the non-constant laws need b_min_i < 0 < b_max_i, and w is measured from 0 as in aihwkit):

  0 IDEAL          w <- clip(w + Delta): the requested change exactly, no pulses.
  1 QUANTISED      w lives on L evenly spaced levels b_min + k q, q = (b_max - b_min)/(L - 1);
                   an update moves to the level nearest to clip(w + Delta) (deterministic
                   rounding) or to one of the two neighbouring levels with probabilities
                   that make the mean exact (stochastic rounding); each level moved is one
                   pulse.
  2 CONSTANT_STEP  s^d(w) = dw^d                                      (aihwkit ConstantStep)
  3 LINEAR_STEP    s^+(w) = dw^+ (1 - gamma^+ w / b_max),
                   s^-(w) = dw^- (1 - gamma^- w / b_min), floored at 0 (aihwkit LinearStep,
                   gamma_ij^+ = -gamma^+/b_max, no increasing steps)
  4 SOFT_BOUNDS    LINEAR_STEP with gamma = 1: s^+ = dw^+ (1 - w/b_max), s^- = dw^- (1 - w/b_min);
                   the step vanishes at the bound it moves toward.       (aihwkit SoftBounds)
  5 EXP_STEP       s^+(w) = dw^+ (1 - exp(gamma^+ (w/b_max - 1))) / (1 - exp(-gamma^+)),
                   s^- likewise with b_min and gamma^-; gamma > 0. Nearly constant far from
                   the bound, falling exponentially to 0 at it; gamma -> 0 is SOFT_BOUNDS.
                   (One normalised parameter per direction; aihwkit's ExpStep uses
                   1 - A^d exp(d gamma^d z) with four global fit constants.)
  6 POW_STEP       s^+(w) = dw^+ (1 - w/b_max)^gamma^+, s^-(w) = dw^- (1 - w/b_min)^gamma^-;
                   gamma = 0 is CONSTANT_STEP, gamma = 1 is SOFT_BOUNDS. (aihwkit's PowStep
                   normalises by the full range instead: its dw_min is ours x 2^gamma on a
                   symmetric range.)

One pulse of a pulsed law (2..6), with multiplicative cycle-to-cycle noise
(aihwkit ``dw_min_std`` with ``mult_noise``):

    w <- clip(w + d s^d(w) (1 + sigma_c2c xi),  b_min_i, b_max_i),   xi ~ N(0, 1)
    xi = normal(seed_c2c, update_index, i * max_pulses + k)   for the k-th pulse of device i

Update controller (``apply_update``): the requested change Delta_i becomes
n_i = round(|Delta_i| / dw_ctrl) pulses in direction sign(Delta_i), where dw_ctrl is the
*nominal* step the controller assumes (it does not know the device-to-device variation, as
in aihwkit's pulse-train update); round is floor(x + 1/2) (deterministic) or floor(x + u),
u = uniform(seed_round, update_index, i) (stochastic, E[n_i] = |Delta_i| / dw_ctrl); then
n_i <- min(n_i, max_pulses). The pulses are applied one by one, so nonlinearity and noise
compound. Every pulse sent is counted in ``pulses[i]`` (endurance, write energy), also for a
stuck device, which ignores it.

Drift (PCM-like power law, aihwkit ``DriftParameter``): a device written at t_prog_i holds
    w(t) = w_prog (max(t - t_prog_i, t0) / t0)^(-nu_i)
i.e. no drift for the first t0 seconds after it was written. The stored state ``w`` is the
as-written value; a device that is written again (pulses sent, ideal change, level moved)
first takes its drifted value, is updated from there, and restarts its drift clock.

Read path (``read_weights``), the weights one MVM sees at time t:
    w_read = w(t) + sqrt(sigma_add^2 + (sigma_prop w(t))^2) xi,
    xi = normal(seed_read, mvm_index, i),
which is in distribution the sum of an additive N(0, sigma_add^2) and a conductance-
proportional N(0, (sigma_prop |w|)^2) term.

Programming (``program_weights``, program-and-verify, not pulses):
    w = clip(target + sigma_prog xi, b_min_i, b_max_i), xi = normal(seed_prog, program_index, i),
then rounded to the nearest level for QUANTISED; the drift clock restarts at t_now.

Stuck devices (``stuck[i] == 1``) keep their value through programming and updates and do not
drift; read noise still applies.

Every random value is a pure function of (stream seed, key, index): same inputs and
(seeds, update_index / mvm_index / program_index) give bit-identical outputs.

Array layouts
  w        float64[P]     stored device state (weight units), updated in place
  dev      float64[N_DEV, P] per-device constants, rows D_W_MIN, D_W_MAX (bounds b_min_i,
                          b_max_i), D_DW_UP, D_DW_DOWN (dw^+_i, dw^-_i >= 0), D_NU (drift nu_i >= 0)
  stuck    int64[P]       1 if the device is stuck, else 0
  t_prog   float64[P]     time (s) each device was last written
  pulses   int64[P]       pulse counters, accumulated in place
  config   DEVICE_CONFIG record (a structured array of length 1, hwsim.kernels.state.record):
           the technology's settings and the four stream seeds, read by name (``cfg.law``),
           derived from the chip spec by hwsim.chip.devices.device_config

Why ``dev`` stays a 2-D array and is not a structured array of P records: it is data, one
value per device, not configuration; the update and drift loops read one row at a time
(``dev[D_NU]`` is contiguous), while records would interleave the five values of a device
and make every such loop stride over them. The rows are few and fixed, so named row
constants keep it readable.
"""

import numpy as np
from numba import njit

from hwsim.kernels.codes import (CONSTANT_STEP, EXP_STEP, IDEAL, LINEAR_STEP, QUANTISED, ROUND_STOCHASTIC,
                                 SOFT_BOUNDS)
from hwsim.kernels.rng import normal, uniform


# dev rows: per-device constants drawn once when the array is built
D_W_MIN, D_W_MAX, D_DW_UP, D_DW_DOWN, D_NU = range(5)
N_DEV = 5
I8, F8, U8 = np.int64, np.float64, np.uint64
# The devices' configuration, one record (hwsim.chip.devices.device_config fills it).
DEVICE_CONFIG = np.dtype([
    ("law", I8),           # LAWS code
    ("levels", I8),        # levels of the quantised law
    ("rounding", I8),      # ROUND_DETERMINISTIC or ROUND_STOCHASTIC
    ("max_pulses", I8),    # most pulses (levels) one update sends to a device
    ("dw_ctrl", F8),       # the nominal step the update controller assumes
    ("gamma_up", F8),      # step-law shape, up / down
    ("gamma_down", F8),
    ("c2c", F8),           # cycle-to-cycle write noise (relative)
    ("prog_sigma", F8),    # programming error (weight units)
    ("read_add", F8),      # additive and proportional read noise
    ("read_prop", F8),
    ("t0", F8),            # drift reference time (s)
    # counter-based streams: rounding, write noise, programming error, read noise
    ("seed_round", U8), ("seed_c2c", U8), ("seed_prog", U8), ("seed_read", U8),
])

@njit(cache=True, inline="always")
def step_size(law, d, w, dw_up, dw_down, w_min, w_max, gamma_up, gamma_down):
    """Nominal magnitude (>= 0) of one pulse in direction d (+1/-1) at state w (pulsed laws)."""
    if law == CONSTANT_STEP:
        # The step does not depend on w: a bound of 0 (w_min: 0 or w_max: 0) is not divided by.
        return dw_up if d > 0 else dw_down
    if d > 0:
        base = dw_up
        r = w / w_max
        g = gamma_up
    else:
        base = dw_down
        r = w / w_min
        g = gamma_down
    if law == LINEAR_STEP:
        f = 1.0 - g * r
    elif law == SOFT_BOUNDS:
        f = 1.0 - r
    elif law == EXP_STEP:
        f = np.expm1(g * (r - 1.0)) / np.expm1(-g)
    else:  # POW_STEP
        x = 1.0 - r
        if x < 0.0:
            x = 0.0
        f = x ** g
    if f < 0.0:
        f = 0.0
    return base * f


@njit(cache=True, inline="always")
def apply_pulse(law, d, w, dw_up, dw_down, w_min, w_max, gamma_up, gamma_down, c2c, xi):
    """State after one pulse in direction d with c2c noise draw xi, clipped to the bounds."""
    s = step_size(law, d, w, dw_up, dw_down, w_min, w_max, gamma_up, gamma_down)
    w = w + d * s * (1.0 + c2c * xi)
    if w > w_max:
        w = w_max
    elif w < w_min:
        w = w_min
    return w


@njit(cache=True, inline="always")
def drifted(w, nu, t_prog, t, t0):
    """w(t) = w (max(t - t_prog, t0)/t0)^-nu."""
    el = t - t_prog
    if nu > 0.0 and el > t0:
        return w * (el / t0) ** (-nu)
    return w


@njit(cache=True, inline="always")
def _nearest_level(v, lo, q, levels):
    k = np.floor((v - lo) / q + 0.5)
    if k < 0.0:
        k = 0.0
    elif k > levels - 1:
        k = float(levels - 1)
    return k


@njit(cache=True)
def update_one(law, max_pulses, levels, rounding, dw_ctrl, g_up, g_down, c2c, t0, seed_round,
               seed_c2c, i, w_i, delta_i, lo, hi, dw_up, dw_down, nu, tprog_i, is_stuck,
               update_index, t_now):
    """Device i's response to the requested change ``delta_i``: (new w, new t_prog, pulses).

    Scalars only: numba passes arrays to a non-inlined call with reference counting, which
    costs tens of nanoseconds per call; this core runs once per device per update.
    """
    if law == IDEAL:
        if delta_i != 0.0 and not is_stuck:
            v = drifted(w_i, nu, tprog_i, t_now, t0) + delta_i
            if v > hi:
                v = hi
            elif v < lo:
                v = lo
            return v, t_now, 0
        return w_i, tprog_i, 0
    if law == QUANTISED:
        if delta_i == 0.0:
            return w_i, tprog_i, 0
        q = (hi - lo) / (levels - 1)
        cur = drifted(w_i, nu, tprog_i, t_now, t0)
        k0 = _nearest_level(cur, lo, q, levels)
        v = cur + delta_i
        if v > hi:
            v = hi
        elif v < lo:
            v = lo
        x = (v - lo) / q
        if rounding == ROUND_STOCHASTIC:
            k = np.floor(x + uniform(seed_round, update_index, i))
        else:
            k = np.floor(x + 0.5)
        if k < 0.0:
            k = 0.0
        elif k > levels - 1:
            k = float(levels - 1)
        dk = k - k0
        if dk > max_pulses:
            dk = float(max_pulses)
        elif dk < -max_pulses:
            dk = -float(max_pulses)
        n = int(abs(dk))
        if n > 0 and not is_stuck:
            return lo + (k0 + dk) * q, t_now, n
        return w_i, tprog_i, n
    # pulsed laws
    x = abs(delta_i) / dw_ctrl
    if x >= max_pulses:
        n = max_pulses
    else:
        if rounding == ROUND_STOCHASTIC:
            n = int(np.floor(x + uniform(seed_round, update_index, i)))
        else:
            n = int(np.floor(x + 0.5))
        if n > max_pulses:
            n = max_pulses
    if n == 0 or is_stuck:
        return w_i, tprog_i, n
    d = 1.0 if delta_i > 0.0 else -1.0
    v = drifted(w_i, nu, tprog_i, t_now, t0)
    key = i * max_pulses
    for k in range(n):
        xi = normal(seed_c2c, update_index, key + k) if c2c > 0.0 else 0.0
        v = apply_pulse(law, d, v, dw_up, dw_down, lo, hi, g_up, g_down, c2c, xi)
    return v, t_now, n


@njit(cache=True, inline="always")
def update_device(i, w, delta_i, dev, stuck, t_prog, pulses, cfg, update_index, t_now):
    """Apply the requested change ``delta_i`` to device i (see module docstring); ``cfg`` is
    the DEVICE_CONFIG record; return pulses sent."""
    w_new, tp_new, n = update_one(
        cfg.law, cfg.max_pulses, cfg.levels, cfg.rounding, cfg.dw_ctrl, cfg.gamma_up, cfg.gamma_down,
        cfg.c2c, cfg.t0, cfg.seed_round, cfg.seed_c2c, i, w[i], delta_i, dev[D_W_MIN, i], dev[D_W_MAX, i],
        dev[D_DW_UP, i], dev[D_DW_DOWN, i], dev[D_NU, i], t_prog[i], stuck[i] != 0, update_index, t_now)
    w[i] = w_new
    t_prog[i] = tp_new
    pulses[i] += n
    return n


@njit(cache=True)
def apply_update(w, delta, dev, stuck, t_prog, pulses, config, update_index, t_now):
    """The update controller over all P devices: turn ``delta`` (float64[P], the requested
    change, e.g. -eta*G_int) into pulses and apply them; return the total pulses sent.

    Mutates ``w``, ``t_prog`` and ``pulses`` in place; a pure function of its inputs and
    (the config's seeds, update_index).
    """
    cfg = config[0]
    total = 0
    for i in range(w.shape[0]):
        total += update_device(i, w, delta[i], dev, stuck, t_prog, pulses, cfg, update_index, t_now)
    return total


@njit(cache=True)
def program_weights(w, target, dev, stuck, t_prog, config, program_index, t_now):
    """Program-and-verify every working device to ``target`` with programming error."""
    cfg = config[0]
    law = cfg.law
    sigma = cfg.prog_sigma
    seed = cfg.seed_prog
    for i in range(w.shape[0]):
        if stuck[i] != 0:
            continue
        lo = dev[D_W_MIN, i]
        hi = dev[D_W_MAX, i]
        v = target[i]
        if sigma > 0.0:
            v += sigma * normal(seed, program_index, i)
        if v > hi:
            v = hi
        elif v < lo:
            v = lo
        if law == QUANTISED:
            levels = cfg.levels
            q = (hi - lo) / (levels - 1)
            v = lo + _nearest_level(v, lo, q, levels) * q
        w[i] = v
        t_prog[i] = t_now


@njit(cache=True)
def read_weights(w, dev, stuck, t_prog, config, mvm_index, t, out):
    """Write into ``out`` (float64[P]) the weights one MVM sees at time t (s): drift + read noise."""
    cfg = config[0]
    t0 = cfg.t0
    s_add = cfg.read_add
    s_prop = cfg.read_prop
    seed = cfg.seed_read
    noisy = s_add > 0.0 or s_prop > 0.0
    for i in range(w.shape[0]):
        v = w[i]
        if stuck[i] == 0:
            v = drifted(v, dev[D_NU, i], t_prog[i], t, t0)
        if noisy:
            sd = np.sqrt(s_add * s_add + (s_prop * v) * (s_prop * v))
            v += sd * normal(seed, mvm_index, i)
        out[i] = v


@njit(cache=True)
def drift_weights(w, dev, stuck, t_prog, t0, t, out):
    """Write into ``out`` the drifted weights at time t (the read path without its noise)."""
    for i in range(w.shape[0]):
        out[i] = w[i] if stuck[i] != 0 else drifted(w[i], dev[D_NU, i], t_prog[i], t, t0)


@njit(cache=True, inline="always")
def weights_for_inference(theta, theta_old, devices, wbuf, old_weights, drift, t_now):
    """The weights an inference sees: the snapshot while a non-blocking update is being
    written, else the devices (drifted to ``t_now`` into ``wbuf`` when they drift)."""
    if old_weights:
        return theta_old
    if drift:
        drift_weights(theta, devices.dev, devices.stuck, devices.t_prog, devices.config[0].t0, t_now, wbuf)
        return wbuf
    return theta
