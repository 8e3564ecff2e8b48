"""Optimiser and schedule settings of the firmware, and the optimiser state it carries.

The arithmetic lives in hwsim.kernels.optim (numba, scalar cores); this module holds the
validated, frozen settings and turns them into the kernels' arguments:

* ``OptimizerConfig.kernel_args()``  -> (kind code, beta1, beta2, eps) for
  ``optimizer_step`` / ``apply_optimizer`` (the learning rate and update count are passed
  per update);
* ``ScheduleConfig.kernel_args(base, total)`` -> (kind code, base, total, p1, p2) for
  ``schedule_value`` (the clock t is passed per evaluation);
* ``OptimizerState(P)``: the float64[2, P] per-parameter state plus the update count, picklable
  (it is run state: checkpoint it with the weights).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from hwsim.kernels import optim as KO

OPTIMIZERS = KO.OPTIMIZERS
SCHEDULES = KO.SCHEDULES


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class OptimizerConfig:
    """How an update turns the gradient estimate g into a parameter change.

    kind: 'sgd' | 'momentum' | 'nesterov' | 'adam'.
    beta: momentum coefficient (momentum, nesterov) or Adam's beta1, in [0, 1).
    beta2: Adam's second-moment decay, in [0, 1).
    eps: Adam's denominator guard, > 0.
    Fields that a kind does not use are still validated (so a typo is never silent) but
    have no effect.
    """

    kind: str = "sgd"
    beta: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        _check(self.kind in OPTIMIZERS,
               f"optimizer kind {self.kind!r} is not one of {sorted(OPTIMIZERS)}")
        for name in ("beta", "beta2", "eps"):
            v = getattr(self, name)
            _check(_is_number(v),
                   f"optimizer {name} must be a finite number, got {v!r}")
        _check(0.0 <= self.beta < 1.0, f"optimizer beta must be in [0, 1), got {self.beta}")
        _check(0.0 <= self.beta2 < 1.0, f"optimizer beta2 must be in [0, 1), got {self.beta2}")
        _check(self.eps > 0.0, f"optimizer eps must be > 0, got {self.eps}")

    @property
    def code(self) -> int:
        return OPTIMIZERS[self.kind]

    @property
    def stateful(self) -> bool:
        """Whether the optimiser carries per-parameter state between updates."""
        return self.kind != "sgd"

    def kernel_args(self) -> tuple[int, float, float, float]:
        """(kind, beta1, beta2, eps) for hwsim.kernels.optim.optimizer_step/apply_optimizer."""
        return self.code, float(self.beta), float(self.beta2), float(self.eps)


@dataclass(frozen=True)
class ScheduleConfig:
    """How a value (learning rate, perturbation amplitude) changes with the schedule clock t.

    kind: 'constant' | 'step' | 'cosine' | 'inverse_time'.
    step_size (step): the value is multiplied by ``gamma`` every ``step_size`` units of t (> 0).
    gamma (step): the factor per step (> 0).
    decay (inverse_time): value = base / (1 + decay t) (>= 0).
    min_fraction (cosine): the floor as a fraction of base, in [0, 1]; the cosine runs from
    base at t = 0 to base * min_fraction at t = total (the horizon, given per run).
    """

    kind: str = "constant"
    step_size: float = 1.0
    gamma: float = 0.1
    decay: float = 0.0
    min_fraction: float = 0.0

    def __post_init__(self):
        _check(self.kind in SCHEDULES,
               f"schedule kind {self.kind!r} is not one of {sorted(SCHEDULES)}")
        for name in ("step_size", "gamma", "decay", "min_fraction"):
            v = getattr(self, name)
            _check(_is_number(v),
                   f"schedule {name} must be a finite number, got {v!r}")
        _check(self.step_size > 0, f"schedule step_size must be > 0, got {self.step_size}")
        _check(self.gamma > 0, f"schedule gamma must be > 0, got {self.gamma}")
        _check(self.decay >= 0, f"schedule decay must be >= 0, got {self.decay}")
        _check(0.0 <= self.min_fraction <= 1.0,
               f"schedule min_fraction must be in [0, 1], got {self.min_fraction}")

    @property
    def code(self) -> int:
        return SCHEDULES[self.kind]

    def params(self) -> tuple[float, float]:
        """(p1, p2) of hwsim.kernels.optim.schedule_value for this kind."""
        if self.kind == "step":
            return float(self.step_size), float(self.gamma)
        if self.kind == "cosine":
            return float(self.min_fraction), 0.0
        if self.kind == "inverse_time":
            return float(self.decay), 0.0
        return 0.0, 0.0

    def kernel_args(self, base: float, total: float = 0.0) -> tuple[int, float, float, float, float]:
        """(kind, base, total, p1, p2) for hwsim.kernels.optim.schedule_value; a cosine
        schedule needs the horizon ``total`` > 0."""
        if self.kind == "cosine":
            _check(total > 0, f"a cosine schedule needs a horizon total > 0, got {total}")
        p1, p2 = self.params()
        return self.code, float(base), float(total), p1, p2

    def value(self, base: float, t: float, total: float = 0.0) -> float:
        """The scheduled value at clock ``t`` (through the kernel)."""
        kind, base, total, p1, p2 = self.kernel_args(base, total)
        return float(KO.schedule_value(kind, base, float(t), total, p1, p2))


@dataclass(eq=False)
class OptimizerState:
    """Per-parameter optimiser state (float64[2, P], see hwsim.kernels.optim) and the number
    of updates applied so far. Picklable; zero at the start of a run."""

    n_params: int
    values: np.ndarray = field(default=None, repr=False)
    t: int = 0

    def __post_init__(self):
        _check(int(self.n_params) >= 0, f"n_params must be >= 0, got {self.n_params}")
        self.n_params = int(self.n_params)
        if self.values is None:
            self.values = np.zeros((KO.N_STATE, self.n_params))
        else:
            self.values = np.ascontiguousarray(self.values, dtype=np.float64)
            _check(self.values.shape == (KO.N_STATE, self.n_params),
                   f"optimizer state must be shaped {(KO.N_STATE, self.n_params)}, "
                   f"got {self.values.shape}")

    def reset(self) -> None:
        self.values[...] = 0.0
        self.t = 0

    def step(self, g: np.ndarray, lr: float, config: OptimizerConfig,
             out: np.ndarray | None = None) -> np.ndarray:
        """Count one more update and return the requested change for gradient estimate ``g``
        (written into ``out`` when given)."""
        g = np.ascontiguousarray(g, dtype=np.float64)
        _check(g.shape == (self.n_params,), f"gradient must be shaped ({self.n_params},), got {g.shape}")
        if out is None:
            out = np.empty(self.n_params)
        self.t += 1
        kind, b1, b2, eps = config.kernel_args()
        KO.apply_optimizer(kind, g, self.values, self.t, float(lr), b1, b2, eps, out)
        return out
