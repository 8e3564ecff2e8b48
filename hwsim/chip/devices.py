"""Analog synapse devices: the parameters of one device technology (``DeviceParams``) and an
array of P such devices holding the weights (``DeviceArray``).

The equations live in ``hwsim.kernels.devices`` (module docstring); this module draws the
per-device constants once from a seed (device-to-device variation, stuck devices, drift
exponents) and calls the kernels. Conventions follow IBM aihwkit's ``PulsedDevice``: weights
in weight units, spreads in relative units ("0.1" means 10 %), steps per pulse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from hwsim.kernels import devices as K
from hwsim.spec.errors import did_you_mean
from hwsim.seeds import Stream, stream_keys, stream_rng

ROUNDING_CODES = {"deterministic": K.ROUND_DETERMINISTIC, "stochastic": K.ROUND_STOCHASTIC}
STUCK_MODES = ("min", "max", "bounds", "uniform", "value")
_NEEDS_ZERO_INSIDE = ("linear_step", "soft_bounds", "exp_step", "pow_step")
# spawn keys of the numpy streams drawn at build time (one per quantity, so adding a
# quantity never shifts another) and of the kernel's counter-based streams


@dataclass(frozen=True)
class DeviceParams:
    """One synapse-device technology. Defaults: a symmetric, noise-free constant-step device."""

    law: str = "constant_step"
    """Update law: ``ideal`` (exact change), ``quantised`` (``levels`` levels), ``constant_step``,
    ``linear_step``, ``soft_bounds``, ``exp_step`` or ``pow_step``; equations in
    ``hwsim.kernels.devices``. The non-constant laws need w_min < 0 < w_max."""

    dw_min: float = 0.001
    """Weight units. Mean step of one pulse at w = 0 (before asymmetry and variation); also the
    step the update controller assumes when it turns a requested change into pulses
    (n = change / dw_min). Unused by ``ideal`` and ``quantised``."""

    w_min: float = -1.0
    """Weight units. Lower (hard) bound of the device state; the depression step of the
    non-constant laws vanishes here."""

    w_max: float = 1.0
    """Weight units. Upper (hard) bound of the device state."""

    asymmetry: float = 0.0
    """Dimensionless, in (-1, 1). Systematic up/down step mismatch a (aihwkit ``up_down``):
    dw_up = dw_min (1 + a), dw_down = dw_min (1 - a), so dw_up/dw_down = (1 + a)/(1 - a)."""

    gamma: float = 1.0
    """Dimensionless. Shape of the step law in the up direction: ``linear_step`` slope (the step
    falls by the fraction gamma at w_max), ``exp_step`` exponent (> 0; large = hard-bound-like),
    ``pow_step`` power (0 = constant step, 1 = soft bounds). Unused by other laws."""

    gamma_down: float | None = None
    """Dimensionless. As ``gamma`` for the down direction; None = same as ``gamma``."""

    levels: int = 256
    """Count. Evenly spaced levels in [w_min, w_max] for ``quantised`` (>= 2); unused otherwise."""

    c2c_sigma: float = 0.0
    """Relative to the step. Cycle-to-cycle write noise: each pulse moves by
    step (1 + c2c_sigma xi), xi ~ N(0, 1) (aihwkit ``dw_min_std``, multiplicative)."""

    d2d_sigma_dw: float = 0.0
    """Relative. Device-to-device spread of the step: dw_i = dw_min max(1 + sigma xi, 0), drawn
    once per device (aihwkit ``dw_min_dtod``)."""

    d2d_sigma_bounds: float = 0.0
    """Relative. Device-to-device spread of each bound: b_i = b max(1 + sigma xi, 0.1), drawn
    independently for w_min and w_max (aihwkit ``w_min_dtod``/``w_max_dtod``); the floor keeps a
    bound from changing sign or collapsing, and an inverted pair is swapped."""

    d2d_sigma_asym: float = 0.0
    """Dimensionless. Device-to-device spread of the asymmetry: a_i = clip(a + sigma xi, -1, 1)
    (aihwkit ``up_down_dtod``)."""

    prog_sigma: float = 0.0
    """Weight units. Programming (program-and-verify) error: program(target) stores
    target + N(0, prog_sigma^2), clipped to the bounds."""

    read_sigma_add: float = 0.0
    """Weight units. Additive read noise, drawn anew for every MVM."""

    read_sigma_prop: float = 0.0
    """Relative to |w|. Conductance-proportional read noise, drawn anew for every MVM."""

    drift_nu_mean: float = 0.0
    """Dimensionless. Mean drift exponent nu: w(t) = w_prog ((t - t_prog)/t0)^-nu once
    t - t_prog > t0 (PCM: ~0.05). 0 = no drift."""

    drift_nu_sigma: float = 0.0
    """Dimensionless. Device-to-device spread of nu (absolute): nu_i = max(N(nu_mean, sigma^2), 0)."""

    drift_t0: float = 20.0
    """Seconds. Drift reference time t0: no drift during the first t0 after a write
    (aihwkit PCMLike: 20 s)."""

    stuck_fraction: float = 0.0
    """Fraction in [0, 1]. Probability that a device is stuck: it ignores pulses and programming
    and does not drift (aihwkit ``corrupt_devices_prob``)."""

    stuck_value_mode: str = "bounds"
    """Where stuck devices sit: ``min`` (w_min_i), ``max`` (w_max_i), ``bounds`` (either, 50/50),
    ``uniform`` (uniform in [w_min_i, w_max_i]) or ``value`` (``stuck_value``, clipped)."""

    stuck_value: float = 0.0
    """Weight units. The stuck value for ``stuck_value_mode: value``."""

    rounding: str = "stochastic"
    """``stochastic`` (n = floor(x + u), unbiased) or ``deterministic`` (nearest, halves up) rounding
    of the pulse count x = |change|/dw_min (of the level for ``quantised``)."""

    max_pulses: int = 31
    """Count >= 1. Most pulses (``quantised``: levels) one update sends to a device
    (aihwkit ``desired_bl``: 31)."""

    def __post_init__(self):
        problems = []
        # Every number reaches the kernels: none may be nan or infinite (constant_step also
        # takes a bound of 0, the other laws need w_min < 0 < w_max, checked below).
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"{f.name}: must be a finite number (got {value})")
        if self.law not in K.LAW_CODES:
            problems.append(f"law: unknown {self.law!r}{did_you_mean(self.law, K.LAW_CODES)} "
                            f"(one of {', '.join(K.LAW_CODES)})")
        if self.rounding not in ROUNDING_CODES:
            problems.append(f"rounding: unknown {self.rounding!r}{did_you_mean(self.rounding, ROUNDING_CODES)}")
        if self.stuck_value_mode not in STUCK_MODES:
            problems.append(f"stuck_value_mode: unknown {self.stuck_value_mode!r}"
                            f"{did_you_mean(self.stuck_value_mode, STUCK_MODES)}")
        if not self.dw_min > 0:
            problems.append(f"dw_min: must be > 0 (got {self.dw_min})")
        if not self.w_min < self.w_max:
            problems.append(f"w_min, w_max: need w_min < w_max (got {self.w_min}, {self.w_max})")
        if self.law in _NEEDS_ZERO_INSIDE and not self.w_min < 0.0 < self.w_max:
            problems.append(f"w_min, w_max: law {self.law!r} needs w_min < 0 < w_max (got {self.w_min}, "
                            f"{self.w_max}); shift the range so its symmetry point is 0, or use constant_step")
        if not -1.0 < self.asymmetry < 1.0:
            problems.append(f"asymmetry: must be in (-1, 1) (got {self.asymmetry})")
        for name in ("gamma", "gamma_down"):
            g = getattr(self, name)
            if g is None:
                continue
            if g < 0:
                problems.append(f"{name}: must be >= 0 (got {g})")
            if self.law == "exp_step" and not g > 0:
                problems.append(f"{name}: exp_step needs > 0 (got {g}); gamma -> 0 is soft_bounds")
        if self.law == "quantised" and self.levels < 2:
            problems.append(f"levels: quantised needs >= 2 (got {self.levels})")
        for name in ("c2c_sigma", "d2d_sigma_dw", "d2d_sigma_bounds", "d2d_sigma_asym", "prog_sigma",
                     "read_sigma_add", "read_sigma_prop", "drift_nu_mean", "drift_nu_sigma"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name}: must be >= 0 (got {getattr(self, name)})")
        if not self.drift_t0 > 0:
            problems.append(f"drift_t0: must be > 0 seconds (got {self.drift_t0})")
        if not 0.0 <= self.stuck_fraction <= 1.0:
            problems.append(f"stuck_fraction: must be in [0, 1], a fraction not a percentage "
                            f"(got {self.stuck_fraction})")
        if not (isinstance(self.max_pulses, (int, np.integer)) and self.max_pulses >= 1):
            problems.append(f"max_pulses: must be an integer >= 1 (got {self.max_pulses!r})")
        if problems:
            raise ValueError("DeviceParams: " + "; ".join(problems))

    @property
    def law_code(self) -> int:
        return K.LAW_CODES[self.law]

    def non_default(self) -> dict:
        """The fields that differ from their defaults (for printing, as aihwkit does)."""
        default = DeviceParams()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


class DeviceArray:
    """P devices of one technology holding a flat weight vector.

    The per-device constants are drawn once here from ``seed``; afterwards every random value
    (rounding, write noise, programming error, read noise) is regenerated by the kernels from
    (stream, update/program/MVM index, device), so the array is replayable and picklable.

    Attributes (contiguous, the kernels' layouts, see ``hwsim.kernels.devices``):
      w float64[P] stored state; dev float64[N_DEV, P] per-device constants; stuck int64[P];
      t_prog float64[P] last write time (s); pulses int64[P]; icfg int64; fcfg float64;
      seeds uint64[N_SEEDS]; n_programs, the program index of the next ``program`` call.
    """

    def __init__(self, params: DeviceParams, n: int, seed: int, lean: bool = False):
        """``lean``: the devices are never written, read or drifted (an ideal chip): only the
        weights ``w`` are kept, the per-device state is one dummy entry (the kernels do not
        index it then), which saves its memory on large networks."""
        self.params = params
        self.n = int(n)
        self.seed = int(seed)
        self.lean = bool(lean)
        p = params
        n = 1 if lean else self.n

        def rng(key):
            return stream_rng(self.seed, key)

        scale = np.maximum(1.0 + p.d2d_sigma_dw * rng(Stream.DEVICE_DW).standard_normal(n), 0.0)
        asym = np.clip(p.asymmetry + p.d2d_sigma_asym * rng(Stream.DEVICE_ASYMMETRY).standard_normal(n), -1.0, 1.0)
        w_max = p.w_max * np.maximum(1.0 + p.d2d_sigma_bounds * rng(Stream.DEVICE_W_MAX).standard_normal(n), 0.1)
        w_min = p.w_min * np.maximum(1.0 + p.d2d_sigma_bounds * rng(Stream.DEVICE_W_MIN).standard_normal(n), 0.1)
        # a one-signed range can come out inverted: swap (aihwkit enforce_consistency)
        w_min, w_max = np.minimum(w_min, w_max), np.maximum(w_min, w_max)
        nu = np.maximum(p.drift_nu_mean + p.drift_nu_sigma * rng(Stream.DEVICE_DRIFT_NU).standard_normal(n), 0.0)
        dev = np.empty((K.N_DEV, n), dtype=np.float64)
        dev[K.D_W_MIN] = w_min
        dev[K.D_W_MAX] = w_max
        dev[K.D_DW_UP] = p.dw_min * scale * (1.0 + asym)
        dev[K.D_DW_DOWN] = p.dw_min * scale * (1.0 - asym)
        dev[K.D_NU] = nu
        self.dev = np.ascontiguousarray(dev)

        stuck = rng(Stream.DEVICE_STUCK).random(n) < p.stuck_fraction
        self.stuck = stuck.astype(np.int64)
        # reset state: 0 clipped into each device's bounds (on the level grid for quantised)
        w = np.clip(0.0, w_min, w_max)
        if p.law == "quantised":
            q = (w_max - w_min) / (p.levels - 1)
            w = w_min + np.clip(np.floor((w - w_min) / q + 0.5), 0, p.levels - 1) * q
        r = rng(Stream.DEVICE_STUCK_VALUE)
        mode = p.stuck_value_mode
        if mode == "min":
            sv = w_min
        elif mode == "max":
            sv = w_max
        elif mode == "bounds":
            sv = np.where(r.random(n) < 0.5, w_min, w_max)
        elif mode == "uniform":
            sv = w_min + r.random(n) * (w_max - w_min)
        else:
            sv = np.clip(p.stuck_value, w_min, w_max)
        self.w = (np.zeros(self.n) if lean else
                  np.ascontiguousarray(np.where(stuck, sv, w), dtype=np.float64))
        self.t_prog = np.zeros(n, dtype=np.float64)
        self.pulses = np.zeros(n, dtype=np.int64)

        self.icfg = np.zeros(K.N_ICFG, dtype=np.int64)
        self.icfg[K.I_LAW] = p.law_code
        self.icfg[K.I_LEVELS] = p.levels
        self.icfg[K.I_ROUNDING] = ROUNDING_CODES[p.rounding]
        self.icfg[K.I_MAX_PULSES] = p.max_pulses
        self.fcfg = np.zeros(K.N_FCFG, dtype=np.float64)
        self.fcfg[K.F_DW_CTRL] = p.dw_min
        self.fcfg[K.F_GAMMA_UP] = p.gamma
        self.fcfg[K.F_GAMMA_DOWN] = p.gamma if p.gamma_down is None else p.gamma_down
        self.fcfg[K.F_C2C] = p.c2c_sigma
        self.fcfg[K.F_PROG_SIGMA] = p.prog_sigma
        self.fcfg[K.F_READ_ADD] = p.read_sigma_add
        self.fcfg[K.F_READ_PROP] = p.read_sigma_prop
        self.fcfg[K.F_T0] = p.drift_t0
        self.seeds = stream_keys(self.seed, Stream.DEVICE_KERNEL, K.N_SEEDS)
        self.n_programs = 0

    # -- the three actions ---------------------------------------------------------------

    def program(self, target, t: float = 0.0, program_index: int | None = None) -> None:
        """Program-and-verify every working device to ``target`` (float64[P]) at time t (s),
        with programming error; the drift clocks restart. ``program_index`` keys the error
        (default: a counter of program calls on this array)."""
        target = self._vector(target, "target")
        if program_index is None:
            program_index = self.n_programs
        self.n_programs = max(self.n_programs, int(program_index) + 1)
        K.program_weights(self.w, target, self.dev, self.stuck, self.t_prog, self.icfg, self.fcfg,
                          self.seeds, int(program_index), float(t))

    def update(self, delta, update_index: int, t: float = 0.0) -> int:
        """Request the change ``delta`` (float64[P]) at update ``update_index``, time t (s);
        return the pulses sent (also accumulated in ``pulse_counts``)."""
        delta = self._vector(delta, "delta")
        return int(K.apply_update(self.w, delta, self.dev, self.stuck, self.t_prog, self.pulses,
                                  self.icfg, self.fcfg, self.seeds, int(update_index), float(t)))

    def read(self, t: float, mvm_index: int, out=None) -> np.ndarray:
        """The weights MVM number ``mvm_index`` sees at time t (s): drift + read noise."""
        out = np.empty(self.n, dtype=np.float64) if out is None else out
        K.read_weights(self.w, self.dev, self.stuck, self.t_prog, self.fcfg, self.seeds,
                       int(mvm_index), float(t), out)
        return out

    @property
    def pulse_counts(self) -> np.ndarray:
        """Pulses sent to each device so far (int64[P], a view; endurance and write energy)."""
        return self.pulses

    @property
    def read_is_identity(self) -> bool:
        """True when ``read`` returns ``w`` unchanged (no read noise, no drift): callers may skip it."""
        p = self.params
        return p.read_sigma_add == 0.0 and p.read_sigma_prop == 0.0 and not np.any(self.dev[K.D_NU] > 0.0)

    # -- for callers that drive the kernels themselves ----------------------------------

    def kernel_args(self):
        """(w, dev, stuck, t_prog, pulses, icfg, fcfg, seeds) in ``apply_update``'s order."""
        return self.w, self.dev, self.stuck, self.t_prog, self.pulses, self.icfg, self.fcfg, self.seeds

    def _vector(self, v, name):
        v = np.ascontiguousarray(v, dtype=np.float64)
        if v.shape != (self.n,):
            raise ValueError(f"DeviceArray.{name}: expected shape ({self.n},), got {v.shape}")
        return v


IDEAL_BOUND = 1e6  # DeviceSpec's default bounds: wide enough to never clip


def device_params_from_spec(chip) -> DeviceParams:
    """The chip spec's device and update-controller sections as DeviceParams (weight units).

    A differential pair reads two devices per weight, so its read-noise variance doubles.
    """
    d, u = chip.device, chip.update
    differential = chip.array.mapping == "differential"
    pair = math.sqrt(2.0) if differential else 1.0
    dw_min, w_min, w_max = d.dw_min, d.w_min, d.w_max
    read_add, prog = d.read_noise.additive, d.programming_error
    if d.conductance is not None and chip.array.gain is not None:
        # Conductances through the mapping: w = gain (G+ - G-) or gain (G - G_ref).
        gain, c = chip.array.gain, d.conductance
        half = gain * (c.g_max - c.g_min) * (1.0 if differential else 0.5)
        w_min, w_max = -half, half
        dw_min = gain * c.dg_min
        read_add, prog = gain * c.read_noise, gain * c.programming_error
    return DeviceParams(
        law=d.law, dw_min=dw_min, w_min=w_min, w_max=w_max, asymmetry=d.asymmetry,
        gamma=d.gamma_up, gamma_down=d.gamma_down, levels=d.levels, c2c_sigma=d.write_noise,
        d2d_sigma_dw=d.variation.dw_min, d2d_sigma_bounds=d.variation.bounds,
        d2d_sigma_asym=d.variation.asymmetry, prog_sigma=prog,
        read_sigma_add=read_add * pair, read_sigma_prop=d.read_noise.proportional * pair,
        drift_nu_mean=d.drift.nu_mean, drift_nu_sigma=d.drift.nu_sigma, drift_t0=d.drift.t0,
        stuck_fraction=d.stuck.fraction, stuck_value_mode=d.stuck.at, stuck_value=d.stuck.value,
        rounding=u.rounding, max_pulses=u.max_pulses)


def devices_in_play(chip) -> tuple[bool, bool, bool]:
    """(writes go through the device model, reads drift, reads are noisy)."""
    d = chip.device
    p = device_params_from_spec(chip)
    drift = d.drift.nu_mean > 0 or d.drift.nu_sigma > 0
    noisy = p.read_sigma_add > 0 or p.read_sigma_prop > 0
    writes = (d.law != "ideal" or p.w_min > -IDEAL_BOUND or p.w_max < IDEAL_BOUND
              or p.prog_sigma > 0 or d.stuck.fraction > 0 or drift
              or d.variation.bounds > 0)
    return writes, drift, noisy
