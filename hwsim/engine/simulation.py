"""One run of the chip: holding its state and driving it (the SimPy processes, the observer).

Flow: RunSpec + seed -> the chip built once (hwsim.engine.build: data, layout, weights,
generators, kernel configuration and path, initial state) -> SimPy environment with two
processes:
  * ``chip``: advances the chip a block of steps at a time in the numba kernel, up to the
    next irregular event (an observation, the cycle budget), and lets SimPy time pass by the
    cycles the block took;
  * ``observer``: woken at each observation point (every N steps, or in chip time), measures
    test accuracy on the chip's current weights without consuming chip time; the first
    observation at the target locates the crossing step (hwsim.engine.observer).
SimPy paces the blocks and the observer; the chip's own irregular events (input loads,
update phases, stalls, broadcast delays) are counters inside the kernel (hwsim.kernels.chip_time
and update_controller), which is what keeps a step at a few hundred nanoseconds.
The run object holds only arrays and specs (no SimPy objects at rest), so it pickles.
What is run state, scratch or constant is declared once, in ``STATE_MEMBERS``: ``run_state()``
(checkpoints, hwsim.engine.checkpoint), pickling and the scratch reset all follow from it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import simpy

from hwsim.chip.energy import energy_breakdown
from hwsim.engine import observer, paths
from hwsim.engine.build import build_chip, build_scratch
from hwsim.engine.threads import ONE_CORE, ChunkPolicy
from hwsim.kernels import devices as DK
from hwsim.kernels import state as KS
from hwsim.kernels.parallel_rows import threads_usable
from hwsim.network import batch
from hwsim.run_plan import as_resolved

RUN, SCRATCH, CONSTANT = "run", "scratch", "constant"
# Every array (and setting) of a run, by kind, as (name, attribute path on the Simulation, kind):
#   run: changes while the chip runs and is needed to continue it exactly: run_state() under
#        this name (checkpoints), kept when pickled;
#   scratch: rewritten before it is read, or a cache the kernel keys and recomputes when
#        missing: not saved, rebuilt empty by _reset_scratch (after unpickling too);
#   constant: rebuilt from (specs, seed) and never changed by a run (pickled as it is).
# Derived from the kernel's bundle declarations (hwsim.kernels.state): a new kernel array is
# declared there, in RunState, Scratch or a constant bundle (tests/test_run_state.py fails on
# an array the run holds outside them).
STATE_MEMBERS = (
    # the run state bundle: weights, integrators, optimiser, generators' outputs, counters...
    *((name, f"state.{name}", RUN) for name in KS.RunState._fields),
    # the devices' run state (programming times, pulse counts); their constants
    *((f"device_{name}", f"devices_k.{name}", RUN if name in KS.DEVICE_RUN_FIELDS else CONSTANT)
      for name in KS.Devices._fields),
    *((name, f"scratch.{name}", SCRATCH) for name in KS.Scratch._fields),
    # rows split over this machine's cores (a speed setting: results do not change)
    ("chunks", "_chunks", SCRATCH),
    ("config", "config", CONSTANT), ("net", "net", CONSTANT), ("kernel_data", "kernel_data", CONSTANT),
    ("gens", "gens", CONSTANT), ("periphery_k", "periphery_k", CONSTANT),
    ("plan", "plan", CONSTANT), ("data", "data", CONSTANT), ("layout", "layout", CONSTANT), ("generator", "generator", CONSTANT),
    ("periphery", "periphery", CONSTANT),
)
# The kernel's run members: what a replay of an observation interval copies and puts back.
KERNEL_MEMBERS = tuple((name, path) for name, path, kind in STATE_MEMBERS if kind == RUN)
# The located target crossing, and the kernel's run state at the last observation below the
# target (hwsim.engine.observer replays from it: a resumed run refines as the uninterrupted
# one; empty arrays when firmware.evaluation.refine_crossing is off).
STATE_MEMBERS += (("crossing_int", "crossing.found_int", RUN), ("crossing_float", "crossing.found_float", RUN),
                  *((f"marked_{name}", f"crossing.marked.{name}", RUN) for name, _ in KERNEL_MEMBERS))
RUN_MEMBERS = tuple((name, path) for name, path, kind in STATE_MEMBERS if kind == RUN)
SCRATCH_ARRAYS = tuple(path for _, path, kind in STATE_MEMBERS if kind == SCRATCH)
# CurvePoint fields stored as integers in a checkpoint (the rest are floats).
_CURVE_INT = ("step", "cycle", "samples_seen")


def _compile_notice(path: str) -> threading.Timer:
    """A timer that tells stderr the kernels are compiling, unless cancelled within 3 s (a
    load from numba's cache takes about 1 s, a compilation about a minute)."""
    def tell():
        print(f"hwsim: compiling the {path} kernel path (once after installing or upgrading hwsim; "
              "later runs load it from numba's cache)...", file=sys.stderr, flush=True)
    timer = threading.Timer(3.0, tell)
    timer.daemon = True
    timer.start()
    return timer


def _specialized(driver, chunks) -> bool:
    """Whether ``driver`` (a numba dispatcher) holds a specialization for this kind of
    ``chunks`` (None: one core; an integer: the row chunks) in this process."""
    signatures = getattr(driver, "signatures", None)
    if signatures is None:
        return True                     # not a dispatcher: nothing to compile
    want = "none" if chunks is None else "int64"
    return any(len(sig) > 8 and str(sig[8]) == want for sig in signatures)


def accuracy(y: np.ndarray, t: np.ndarray, kind: str) -> float:
    if kind == "argmax":
        return float(np.mean(np.argmax(y, axis=1) == np.argmax(t, axis=1)))
    if kind == "threshold":
        return float(np.mean(np.all((y > 0.5) == (t > 0.5), axis=1)))
    resid = np.sum((y - t) ** 2)
    total = np.sum((t - t.mean(axis=0)) ** 2)
    return float(max(0.0, 1.0 - resid / total)) if total > 0 else 0.0


@dataclass
class CurvePoint:
    step: int
    cycle: int
    seconds: float
    samples_seen: int
    train_cost: float
    test_cost: float
    test_accuracy: float
    gradient_angle_deg: float = math.nan
    ideal_test_accuracy: float = math.nan
    energy_joules: float = 0.0


@dataclass
class Simulation:
    """A chip, its network and its firmware, ready to run from step 0."""

    run_spec: object                     # a RunSpec or its ResolvedRun (hwsim.run_plan)
    seed: int
    max_cycles: int | None = None
    max_block_steps: int | None = None   # force small blocks (tests of block-size invariance)
    force_path: str | None = None        # run this kernel path (hwsim.engine.paths), e.g. "reference"
    curve: list = field(default_factory=list)
    trace: object = None                 # a hwsim.engine.trace.Trace: record every step's events
    dataset: object = None               # train on this data set instead of the scenario's (benchmarks)

    def __post_init__(self):
        # The resolved run (hwsim.run_plan) is built once; a RunSpec is resolved here.
        plan = as_resolved(self.run_spec)
        self.run_spec = plan.spec
        sc, fw = self.run_spec.scenario, self.run_spec.firmware
        built = build_chip(plan, self.seed, self.force_path, self.dataset)
        self.__dict__.update(vars(built))
        self.theta = self.state.theta
        self.g_int = self.state.g_int
        self.budget = int(self.max_cycles if self.max_cycles is not None else sc.max_cycles)
        self.step_budget = sc.max_steps if sc.max_steps is not None else 2**62
        self.clock_period = self.run_spec.chip.clock_period
        self.status = "running"
        self.divergence: dict | None = None
        self.wall_seconds = 0.0      # excludes compile_seconds
        self.compile_seconds = 0.0   # this process's kernel compilations (or cache loads) for this run
        ev = fw.evaluation
        self.cadence = observer.cadence_for(ev, self.clock_period, self.budget, sc.max_steps,
                                            self.timing.interval)
        self.crossing = observer.Crossing({name: self.member(path) for name, path in KERNEL_MEMBERS},
                                          ev.refine_crossing)
        self._reset_scratch()

    # ------------------------------------------------------------------ scratch
    def _reset_scratch(self):
        """(Re)build the scratch bundle (hwsim.kernels.state.Scratch), the row chunks and the
        policy that chooses between one core and them (hwsim.engine.threads)."""
        self.scratch, self._chunks = build_scratch(self.run_spec, self.layout, self.config, self.path,
                                                   self.node, self.n_rows)
        self._policy = ChunkPolicy(self._chunks)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("scratch", None)
        state.pop("_chunks", None)
        state.pop("_policy", None)
        return state

    def __setstate__(self, state):
        state.setdefault("compile_seconds", 0.0)
        self.__dict__.update(state)
        self._reset_scratch()

    def member(self, path: str):
        """The object at an attribute path of STATE_MEMBERS ("devices.w"; a dict's entry by
        its key: "crossing.marked.theta")."""
        obj = self
        for part in path.split("."):
            obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
        return obj

    # ------------------------------------------------------------------ run state
    def run_state(self) -> dict:
        """Every array and value that changes while the chip runs, by name (views, not
        copies): with the specs and the seed, they determine the rest of the run exactly.

        The arrays are the run members of STATE_MEMBERS; then the observer's history (the
        curve so far) and the wall time. Constants (data, layout, device-to-device
        variation, perturbation tables, seeds, configuration) are rebuilt from (specs, seed)
        instead."""
        fields = [f.name for f in dataclasses.fields(CurvePoint)]
        ints = [f for f in fields if f in _CURVE_INT]
        floats = [f for f in fields if f not in _CURVE_INT]
        curve = self.curve
        state = {name: self.member(path) for name, path in RUN_MEMBERS}
        state["curve_int"] = np.array([[getattr(p, f) for f in ints] for p in curve],
                                      dtype=np.int64).reshape(len(curve), len(ints))
        state["curve_float"] = np.array([[getattr(p, f) for f in floats] for p in curve],
                                        dtype=np.float64).reshape(len(curve), len(floats))
        state["wall_seconds"] = float(self.wall_seconds)
        return state

    def restore_run_state(self, state: dict) -> None:
        """Put ``state`` (as ``run_state()`` returns it) back into this freshly built run.
        Raises KeyError naming a missing entry and ValueError naming an entry whose shape or
        type differs from this run's."""
        mine = self.run_state()
        missing = sorted(set(mine) - set(state))
        if missing:
            raise KeyError(f"missing run state: {', '.join(missing)}")
        extra = sorted(set(state) - set(mine))
        if extra:
            raise ValueError(f"unknown run state: {', '.join(extra)}")
        for name, current in mine.items():
            value = state[name]
            if name.startswith("curve_"):
                value = np.asarray(value)
                if value.ndim != 2 or value.shape[1] != current.shape[1] or value.dtype != current.dtype:
                    raise ValueError(f"{name}: expected {current.dtype}[n, {current.shape[1]}] "
                                     f"(got {value.dtype}{list(value.shape)})")
            elif isinstance(current, np.ndarray):
                value = np.asarray(value)
                if value.shape != current.shape or value.dtype != current.dtype:
                    raise ValueError(f"{name}: expected {current.dtype}{list(current.shape)} "
                                     f"(got {value.dtype}{list(value.shape)})")
            elif not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{name}: expected a number (got {type(value).__name__})")
        for name, current in mine.items():
            if isinstance(current, np.ndarray) and not name.startswith("curve_"):
                current[...] = state[name]       # in place: theta stays the devices' array
        fields = [f.name for f in dataclasses.fields(CurvePoint)]
        ints = [f for f in fields if f in _CURVE_INT]
        floats = [f for f in fields if f not in _CURVE_INT]
        self.curve = [CurvePoint(**{f: int(v) for f, v in zip(ints, ri)},
                                 **{f: float(v) for f, v in zip(floats, rf)})
                      for ri, rf in zip(np.asarray(state["curve_int"]), np.asarray(state["curve_float"]))]
        self.wall_seconds = float(state["wall_seconds"])
        self.status = "running"
        self.divergence = None

    # ------------------------------------------------------------------ kernel
    @property
    def step(self) -> int:
        return int(self.state.counters[0]["step"])

    @property
    def cycles(self) -> int:
        return int(self.state.counters[0]["cycles"])

    @property
    def _driver(self):
        return paths.driver(self.path.name)

    def _remaining_steps(self) -> int:
        """About how many steps the run has left (the step budget, or the cycle budget at the
        cycles per step so far): what the chunk policy weighs a compilation against."""
        steps = self.step_budget - self.step
        if self.step > 0 and self.cycles > 0:
            steps = min(steps, (self.budget - self.cycles) * self.step // self.cycles)
        return max(int(steps), 0)

    def advance(self, n_steps: int, cycle_limit: int | None = None) -> int:
        """Run up to ``n_steps`` steps in kernel blocks (respecting max_block_steps), none
        that would start its update phase after ``cycle_limit`` (default: the budget).

        Each block runs on one core or split in row chunks as the chunk policy chooses
        (hwsim.engine.threads: results do not depend on it); trace mode and a child forked
        after OpenMP ran stay on one core. The first call of a driver specialization in this
        process (it compiles, or loads numba's cache) is a 1-step block whose time goes to
        ``compile_seconds``, not to ``wall_seconds`` nor to the policy's rates."""
        limit = self.budget if cycle_limit is None else int(cycle_limit)
        total = 0
        usable = threads_usable()       # (False in a child forked after OpenMP ran)
        while total < n_steps:
            n = n_steps - total
            chunks = ONE_CORE
            if self.trace is not None:
                n = 1
                before = self.counts()
            elif usable:
                block = self._policy.plan(self._remaining_steps())
                chunks, n = block.chunks, min(n, block.steps)
            if self.max_block_steps:
                n = min(n, self.max_block_steps)
            driver = self._driver
            compiles = not _specialized(driver, chunks)
            if compiles:
                n = 1
            # The first call in a process with nothing compiled may compile (about a minute on
            # a cold cache): say so once if it takes longer than a cache load.
            notice = None if getattr(driver, "signatures", True) else _compile_notice(self.path.name)
            t0 = time.perf_counter()
            try:
                done = driver(self.config, self.net, self.kernel_data, self.gens, self.periphery_k,
                              self.devices_k, self.state, self.scratch, chunks, n, limit)
            finally:
                if notice is not None:
                    notice.cancel()
            seconds = time.perf_counter() - t0
            if compiles:
                self.compile_seconds += seconds
                self.wall_seconds -= seconds     # run() (and an interrupted run) add the whole span
            elif self.trace is None and usable:
                self._policy.record(chunks, done, seconds)
            total += done
            if self.trace is not None and done:
                self.trace.record_step(before["step"], before, self.counts())
            if done < n:
                break
        return total

    # ------------------------------------------------------------------ observer
    def observe(self) -> CurvePoint:
        sc = self.run_spec.scenario
        with np.errstate(all="ignore"):  # a diverged chip is observed too; NaN is the answer
            y = self.chip_outputs(self.data.x_test, observation_index=len(self.curve))
            test_cost = float(np.mean(batch.cost_batch(y, self.data.y_test, sc.cost)))
            acc = accuracy(y, self.data.y_test, sc.accuracy)
            ideal_acc = math.nan
            if sc.observation.ideal_accuracy:
                y_ideal = batch.forward_batch(self.layout, self.theta, self.data.x_test)
                ideal_acc = accuracy(y_ideal, self.data.y_test, sc.accuracy)
        floats = self.state.floats[0]
        count = floats["cost_count"]
        train_cost = float(floats["cost_sum"] / count) if count else math.nan
        floats["cost_sum"] = 0.0
        floats["cost_count"] = 0.0
        angle = math.nan
        if self.run_spec.firmware.evaluation.gradient_angle and self.step > 0:
            s = self.counts()["sample"]
            true = batch.gradient(self.layout, self.theta, self.data.x_train[s], self.data.y_train[s], sc.cost)
            angle = angle_degrees(self.integrated_gradient(), true)
        point = CurvePoint(self.step, self.cycles, self.cycles * self.clock_period,
                           self.samples_seen, train_cost, test_cost, acc, angle, ideal_acc,
                           sum(self.energy().values()))
        self.curve.append(point)
        if self.trace is not None:
            self.trace.record_observation(self.cycles, self.step)
        return point

    def chip_outputs(self, x: np.ndarray, observation_index: int) -> np.ndarray:
        """The network's outputs for a batch as the chip computes them now: the devices read
        once (drift, and read noise unless the scenario turns it off for observation), then
        the periphery (converters, tiles, neuron variation)."""
        if not self.config[0]["chip"]:
            return batch.forward_batch(self.layout, self.theta, x)
        weights = self.theta
        if self.reads_devices:
            dv = self.devices
            config = dv.config.copy()
            if not self.run_spec.scenario.observation.read_noise:
                config[0]["read_add"] = 0.0
                config[0]["read_prop"] = 0.0
            weights = np.empty_like(self.theta)
            # Observation reads use their own index range, apart from the training MVMs (2n, 2n+1).
            DK.read_weights(dv.w, dv.dev, dv.stuck, dv.t_prog, config,
                            2**62 + observation_index, self.cycles * self.clock_period, weights)
        return self.periphery.forward_batch(weights, x)

    def integrated_gradient(self) -> np.ndarray:
        """G_int as the integrators hold it, with node sums not yet folded multiplied out."""
        g = self.state.g_int.copy()
        if self.path.name == "node_fold":
            from hwsim.kernels.paths.node_fold import flush_window, fold_nodes

            st = self.state
            window, counters = st.window.copy(), st.counters.copy()
            if st.nacc.any():
                faithful = self.run_spec.firmware.perturbation.node_activity == "faithful"
                fold_nodes(g, st.nacc.copy(), st.h_base, self.net, not faithful, window, counters[0], None)
            flush_window(self.net, g, window, counters[0], None, g, 0.0, descend=False)
        return g

    def counts(self) -> dict[str, int]:
        """The kernel's counters by name (steps, cycles by kind, updates, writes, ...)."""
        counters = self.state.counters[0]
        return {name: int(counters[name]) for name in KS.COUNTERS.names}

    @property
    def samples_seen(self) -> int:
        return self.counts()["samples"]

    def energy(self) -> dict[str, float]:
        return energy_breakdown(self.run_spec.chip, self.layout, self.counts(), int(self.devices.pulses.sum()),
                                self.n_perturbed)

    # ------------------------------------------------------------------ processes
    def _chip_process(self, env, observe_event_factory, progress, hooks, boundary=None):
        """Advance the chip a block at a time to the next irregular event: an observation, a
        hook, a boundary poll, or the end of the budget.

        The top of the loop is the run's resumable point: everything about the previous
        block is settled, so ``boundary(sim)`` (checkpoints, stop requests) is called there
        and a run restored from a state saved there continues exactly as this one does.
        Weights, integrators and optimiser state are checked for NaN/inf at observations and
        at the end (the cost at every step, in the kernel), so where divergence is reported
        does not depend on blocks, hooks or checkpoints.

        An observation in chip time (``cadence.cycles``) falls after the first step that ends
        at or after its cycle: the chip runs the steps that end before it (the kernel's cycle
        limit), then one more. Where it falls depends on the run's state only, so blocks,
        hooks and checkpoints do not move it either."""
        sc = self.run_spec.scenario
        poll, on_boundary = boundary if boundary is not None else (0, None)
        while True:
            if on_boundary is not None:
                on_boundary(self)
            next_obs, obs_cycle = self.cadence.next_observation(self.step, self.cycles, self.step_budget)
            stops = [next_obs] + [(self.step // h + 1) * h for h, _ in hooks]
            if poll:
                stops.append((self.step // poll + 1) * poll)
            stop = min(stops)
            before = self.cycles
            if obs_cycle is None:
                done = self.advance(stop - self.step)
                short = self.step < stop
            else:
                done = self.advance(stop - self.step, cycle_limit=min(self.budget, obs_cycle - 1))
                if self.step < stop and self.cycles < obs_cycle:
                    done += self.advance(1)        # the step that ends at or after obs_cycle
                short = self.step < stop and self.cycles < obs_cycle
            yield env.timeout(self.cycles - before)
            due = self.step >= next_obs or (obs_cycle is not None and self.cycles >= obs_cycle)
            ended = short or done == 0 or self.step >= self.step_budget
            diverged = self.state.counters[0]["diverged"] >= 0 or ((ended or due) and bool(self.non_finite()))
            if done == 0 and not diverged and self.curve and self.curve[-1].step == self.step:
                self.status = "budget_exhausted"   # nothing ran since the last observation
                return
            if not (diverged or ended or due):
                for h, callback in hooks:
                    if self.step % h == 0:
                        yield env.process(self._hook_process(env, callback))
                continue
            point = yield env.process(observe_event_factory(env))
            self._observed(point, diverged)
            if progress is not None:
                progress(self, point)
            for h, callback in hooks:
                if self.step % h == 0 and not diverged:
                    yield env.process(self._hook_process(env, callback))
            if diverged:
                self._mark_diverged()
                return
            if sc.stop_at_target and point.test_accuracy >= sc.target_accuracy:
                self.status = "reached_target"
                return
            if ended:
                self.status = "budget_exhausted"
                return

    def _hook_process(self, env, callback):
        yield env.timeout(0)   # a hook (checkpoint writer, tracer) takes no chip time
        callback(self)

    def _observer_process(self, env):
        yield env.timeout(0)
        return self.observe()

    def _observed(self, point: CurvePoint, diverged: bool = False) -> None:
        """After an observation: the first at or above the target locates the crossing
        (hwsim.engine.observer, a replay from the state kept at the previous observation,
        which leaves this run as it was); one below keeps the state for that replay."""
        crossing = self.crossing
        if crossing.found:
            return
        if point.test_accuracy >= self.run_spec.scenario.target_accuracy:
            previous = self.curve[-2].cycle if len(self.curve) > 1 else None
            observer.record_crossing(self, point, self.run_spec.scenario.target_accuracy, previous,
                                     refine=crossing.refine and not diverged)
        elif crossing.refine:
            observer.mark(self)

    def observation_summary(self) -> dict:
        """summary.json's observation cadence and target crossing (hwsim.api.summarise): the
        *_to_target figures of the located crossing and their resolution in cycles."""
        cadence = self.cadence
        out = {"observation_cadence": cadence.text, "observations": len(self.curve),
               "observation_interval_cycles": cadence.cycles}
        if cadence.cycles is not None:
            out["observation_interval_steps"] = None      # chip-time cadence: steps vary
        found = self.crossing.summary()
        if "cycles_to_target" in found:
            found["seconds_to_target"] = found["cycles_to_target"] * self.clock_period
        out.update(found)
        return out

    def non_finite(self) -> list[str]:
        """The run-state quantities holding NaN or inf (O(P): once per observation)."""
        bad = []
        if not np.isfinite(self.theta).all():
            bad.append("weights")
        st = self.state
        if not (np.isfinite(st.g_int).all() and np.isfinite(st.nacc).all()
                and np.isfinite(st.window).all()):
            bad.append("integrators")
        if not np.isfinite(st.opt_state).all():
            bad.append("optimiser_state")
        if st.counters[0]["diverged"] >= 0:
            bad.append("cost")
        return bad

    def _mark_diverged(self):
        self.status = "diverged"
        bad = self.non_finite()
        # The deepest cause first: non-finite weights make the cost non-finite, not the reverse.
        what = bad[0] if bad else "cost"
        fw = self.run_spec.firmware
        diverged = int(self.state.counters[0]["diverged"])
        step = diverged if diverged >= 0 else self.step
        self.divergence = {
            "step": step,
            "cycle": self.cycles,
            "seconds": self.cycles * self.clock_period,
            "quantity": what,
            "non_finite": bad,
            "hint": f"training blew up (NaN/inf in the {what.replace('_', ' ')}): lower "
                    f"firmware.eta (the learning rate, now {fw.eta:g}) or "
                    f"firmware.perturbation.amplitude (now {fw.perturbation.amplitude:g}), "
                    "or set firmware.cost_change_clip",
        }

    def run(self, progress=None, hooks=(), boundary=None) -> "Simulation":
        """Run to the target or the budget; ``progress(sim, point)`` is called at each
        observation and each ``(every_steps, callback)`` hook with the simulation every
        ``every_steps`` steps; neither consumes chip time. ``boundary = (every_steps,
        callback)`` calls ``callback(sim)`` at every resumable point, at least every
        ``every_steps`` steps (checkpoints and stop requests: hwsim.engine.checkpoint). A run
        restored with ``restore_run_state`` continues from where its state was taken."""
        start = time.perf_counter()
        env = simpy.Environment(initial_time=self.cycles)
        if not self.curve:
            point = self.observe()   # observe() records the point in the curve
            self._observed(point)
            if progress is not None:
                progress(self, point)
        env.process(self._chip_process(env, self._observer_process, progress, tuple(hooks), boundary))
        if self._chunks > 1 and threads_usable():
            # The kernel's threads and the observer's BLAS threads would take turns spinning on
            # the same cores (measured: B2 twice as slow); the observer's products go on one.
            from threadpoolctl import threadpool_limits
            with threadpool_limits(limits=1, user_api="blas"):
                env.run()
        else:
            env.run()
        self.wall_seconds += time.perf_counter() - start
        return self


def angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return math.nan
    c = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
    return math.degrees(math.acos(c))
