"""Optimiser and schedule settings of the firmware as kernel arguments, and the optimiser state
it carries.

The arithmetic lives in hwsim.kernels.optim (numba, scalar cores). The settings are the
validated pydantic specs ``OptimizerSpec`` and ``ScheduleSpec`` (hwsim.spec.models), the one
schema of these concepts; this module only derives the kernels' arguments from them, by pure
functions, so that the spec layer never imports kernel codes:

* ``optimizer_params(spec)`` -> (kind code, beta1, beta2, eps) for ``optimizer_step`` /
  ``apply_optimizer`` (the learning rate and update count are passed per update);
* ``schedule_params(spec, total=None)`` -> (kind code, total, p1, p2) for ``schedule_value``
  (the base value and the clock t are passed per evaluation); ``total`` is the spec's cosine
  horizon unless the caller gives another (the backprop baseline's horizon is its number of
  updates);
* ``OptimizerState(P)``: the float64[2, P] per-parameter state plus the update count, picklable
  (it is run state: checkpoint it with the weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwsim.kernels import optim as KO
from hwsim.kernels.codes import OPTIMIZERS, SCHEDULES


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def optimizer_params(optimizer) -> tuple[int, float, float, float]:
    """(kind code, beta1, beta2, eps) of an ``OptimizerSpec`` for
    hwsim.kernels.optim.optimizer_step/apply_optimizer."""
    return OPTIMIZERS[optimizer.kind], float(optimizer.beta), float(optimizer.beta2), float(optimizer.eps)


def schedule_params(schedule, total: float | None = None) -> tuple[int, float, float, float]:
    """(kind code, total, p1, p2) of a ``ScheduleSpec`` for hwsim.kernels.optim.schedule_value.

    ``total`` is the cosine horizon: the spec's ``horizon`` (0 when it has none) unless given."""
    p1, p2 = {"step": (schedule.step_size, schedule.gamma), "cosine": (schedule.min_fraction, 0.0),
              "inverse_time": (schedule.decay, 0.0)}.get(schedule.kind, (0.0, 0.0))
    if total is None:
        total = schedule.horizon or 0.0
    return SCHEDULES[schedule.kind], float(total), float(p1), float(p2)


def schedule_value(schedule, base: float, t: float, total: float | None = None) -> float:
    """The value of a ``ScheduleSpec`` with base ``base`` at clock ``t`` (through the kernel)."""
    code, total, p1, p2 = schedule_params(schedule, total)
    return float(KO.schedule_value(code, float(base), float(t), total, p1, p2))


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

    def step(self, g: np.ndarray, lr: float, optimizer, out: np.ndarray | None = None) -> np.ndarray:
        """Count one more update and return the requested change for gradient estimate ``g``
        under ``optimizer`` (an ``OptimizerSpec``), written into ``out`` when given."""
        g = np.ascontiguousarray(g, dtype=np.float64)
        _check(g.shape == (self.n_params,), f"gradient must be shaped ({self.n_params},), got {g.shape}")
        if out is None:
            out = np.empty(self.n_params)
        self.t += 1
        kind, b1, b2, eps = optimizer_params(optimizer)
        KO.apply_optimizer(kind, g, self.values, self.t, float(lr), b1, b2, eps, out)
        return out
