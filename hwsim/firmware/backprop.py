"""The backprop baseline: exact SGD-by-backpropagation on the chip's own network and data.

Everything that is not the gradient is the chip's (hwsim.engine.simulation):

* the network: an ``MLPLayout`` and its flat parameter vector (W row-major then b per layer);
* the initial weights: the caller passes the chip's ``theta0``;
* the data order: sample number s (0, 1, 2, ...) is ``order[s % N]`` with ``order`` the
  permutation ``hwsim.kernels.rng.permutation_into(order_seed, s // N, order)``, exactly what
  the MGD kernel presents with tau_x = 1 (``order_seed = stream_key(seed, Stream.ORDER)``, hwsim.seeds);
* the implicit mini-batch: one update per ``batch`` consecutive samples of that stream, the
  gradient averaged over them (MGD with tau_x = 1 and tau_theta = batch); batches run across
  epoch boundaries as the chip's do, and a final incomplete batch is not applied;
* the optimisers and schedules: hwsim.kernels.optim through the firmware's OptimizerSpec /
  ScheduleSpec (hwsim.firmware.optimizers derives the kernel arguments).
  The schedule clock is the number of updates already applied (0 at the first update) and
  its horizon ``total`` is the number of updates of the run.

No torch: numpy forward and backward passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hwsim.firmware.optimizers import OptimizerState, schedule_params
from hwsim.kernels import optim as KO
from hwsim.kernels.rng import permutation_into

from hwsim.network.batch import cost_batch, forward_batch, loss_and_gradient
from hwsim.network.layout import NetworkLayout
from hwsim.spec.models import OptimizerSpec, ScheduleSpec


@dataclass
class BackpropPoint:
    """One row of the baseline's learning curve."""

    samples_seen: int
    updates: int
    train_cost: float      # mean per-sample training cost since the previous row (NaN at 0)
    test_cost: float
    test_accuracy: float


class SampleOrder:
    """The chip's training-sample order (tau_x = 1): index of sample number s, regenerated
    per epoch from the counter-based order stream, as hwsim.kernels.input_path.sample_for_step."""

    def __init__(self, order_seed, n_train: int):
        if n_train < 1:
            raise ValueError("the training set is empty")
        self.seed = np.uint64(order_seed)
        self.n = int(n_train)
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        perm = self._perms.get(epoch)
        if perm is None:
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            perm = np.empty(self.n, dtype=np.int64)
            permutation_into(self.seed, epoch, perm)
            self._perms[epoch] = perm
        return perm

    def indices(self, start: int, count: int) -> np.ndarray:
        """Training-set indices of sample numbers start .. start + count - 1."""
        out = np.empty(count, dtype=np.int64)
        s, j = int(start), 0
        while j < count:
            epoch, pos = divmod(s, self.n)
            k = min(count - j, self.n - pos)
            out[j:j + k] = self._perm(epoch)[pos:pos + k]
            j += k
            s += k
        return out


def _accuracy_function(accuracy_fn) -> Callable[[np.ndarray, np.ndarray], float]:
    if accuracy_fn is None:
        accuracy_fn = "argmax"
    if isinstance(accuracy_fn, str):
        from hwsim.engine.simulation import accuracy

        kind = accuracy_fn
        return lambda y, t: accuracy(y, t, kind)
    return accuracy_fn


def _as_optimizer(optimizer) -> OptimizerSpec:
    if optimizer is None:
        return OptimizerSpec()
    if isinstance(optimizer, str):
        return OptimizerSpec(kind=optimizer)
    return optimizer


def _as_schedule(schedule) -> ScheduleSpec:
    if schedule is None:
        return ScheduleSpec()
    if isinstance(schedule, str):
        return ScheduleSpec(kind=schedule)
    return schedule


def train_backprop(layout: NetworkLayout, theta0: np.ndarray, data, cost: str, n_samples: int,
                   lr: float, batch: int = 1, optimizer: OptimizerSpec | str | None = None,
                   schedule: ScheduleSpec | str | None = None, order_seed=0,
                   eval_every: int | None = None,
                   accuracy_fn: Callable[[np.ndarray, np.ndarray], float] | str | None = "argmax",
                   ) -> tuple[np.ndarray, list[BackpropPoint]]:
    """Train ``theta0`` (copied) by exact backprop; return (theta, learning curve).

    data: a hwsim.data.datasets.Dataset (x_train, y_train, x_test, y_test).
    cost: 'mse' | 'cross_entropy'.
    n_samples: training samples to consume; n_samples // batch updates are applied.
    lr: the base learning rate (the schedule's ``base``).
    batch: samples averaged per update (MGD's implicit batch tau_theta / tau_x).
    optimizer, schedule: the firmware's OptimizerSpec / ScheduleSpec (or kind names); default
      plain SGD, constant rate. A schedule's horizon is this run's number of updates (its own
      ``horizon`` is not used).
    order_seed: the chip's order stream key (hwsim.seeds.stream_key(seed, Stream.ORDER)).
    eval_every: a curve row at samples_seen = 0, then at the first update boundary at or past
      every multiple of ``eval_every`` samples, and at the end (default: only start and end).
    accuracy_fn: f(outputs, targets) -> accuracy, or 'argmax' | 'threshold' | 'r2' (the
      scenario's accuracy kinds).
    A non-finite cost or weight vector stops training; the last row then holds NaNs.
    """
    batch = int(batch)
    n_samples = int(n_samples)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if eval_every is not None and int(eval_every) < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    opt = _as_optimizer(optimizer)
    sched = _as_schedule(schedule)
    acc_fn = _accuracy_function(accuracy_fn)
    theta = np.array(theta0, dtype=np.float64, copy=True)
    if theta.shape != (layout.n_params,):
        raise ValueError(f"theta0 must be shaped ({layout.n_params},), got {theta.shape}")
    n_updates = n_samples // batch
    s_base = float(lr)
    s_kind, s_total, s_p1, s_p2 = schedule_params(sched, total=max(n_updates, 1))
    state = OptimizerState(layout.n_params)
    order = SampleOrder(order_seed, data.x_train.shape[0])
    delta = np.empty(layout.n_params)
    rows: list[BackpropPoint] = []
    cost_sum, cost_count = 0.0, 0

    def observe(seen: int, updates: int) -> None:
        nonlocal cost_sum, cost_count
        with np.errstate(all="ignore"):
            y = forward_batch(layout, theta, data.x_test)
            test_cost = float(np.mean(cost_batch(y, data.y_test, cost)))
            acc = float(acc_fn(y, data.y_test))
        train_cost = cost_sum / cost_count if cost_count else math.nan
        rows.append(BackpropPoint(seen, updates, train_cost, test_cost, acc))
        cost_sum, cost_count = 0.0, 0

    observe(0, 0)
    every = int(eval_every) if eval_every is not None else None
    next_eval = every if every is not None else None
    # Overflow on the way to a divergence is expected: a non-finite cost or weight stops
    # training below and the summary reports it (numpy's warnings would only be noise).
    with np.errstate(all="ignore"):
        for k in range(n_updates):
            idx = order.indices(k * batch, batch)
            c, g = loss_and_gradient(layout, theta, data.x_train[idx], data.y_train[idx], cost)
            cost_sum += c * batch
            cost_count += batch
            lr_k = KO.schedule_value(s_kind, s_base, k, s_total, s_p1, s_p2)
            state.step(g, lr_k, opt, out=delta)
            theta += delta
            seen = (k + 1) * batch
            if not (math.isfinite(c) and np.isfinite(theta).all()):
                observe(seen, k + 1)
                return theta, rows
            if next_eval is not None and seen >= next_eval and k + 1 < n_updates:
                observe(seen, k + 1)
                while next_eval <= seen:
                    next_eval += every
    if n_updates > 0:
        observe(n_updates * batch, n_updates)
    return theta, rows


def divergence(theta: np.ndarray, rows: list[BackpropPoint]) -> dict | None:
    """Where and in what a baseline run blew up (None when it did not): the update and
    samples seen at its last curve row, and what is non-finite, the deepest cause first
    (non-finite weights make the cost non-finite, not the reverse), as the chip run's
    summary says it (hwsim.engine.simulation.Simulation._mark_diverged)."""
    last = rows[-1] if rows else None
    bad = []
    if not np.isfinite(theta).all():
        bad.append("weights")
    if last is not None and (not math.isfinite(last.test_cost)
                             or last.updates > 0 and not math.isfinite(last.train_cost)):
        bad.append("cost")       # the train cost is NaN by definition in the row at update 0
    if not bad:
        return None
    return {"update": last.updates if last else 0, "samples_seen": last.samples_seen if last else 0,
            "quantity": bad[0], "non_finite": bad}
