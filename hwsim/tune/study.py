"""``hwsim tune``: search a firmware's knobs with Optuna for the shortest time (or least energy)
to a scenario's target, on Dask like a sweep, resumable, and the same study wherever it runs.

**Protocol (batched ask/tell).** The study is an in-memory Optuna study with a seeded TPE
sampler, driven by this process only. Trials go in batches of ``batch`` (from the space file,
never from the number of workers): ask ``batch`` trials, run them in parallel (or one by one),
then tell their results in trial order. The sampler sees the same history and draws from the
same random stream whatever ran where or finished first, so a study is a function of (scenario,
chip, firmware, space, objective, seed, number of trials): serial, 2 workers and 16 workers
give the same trials, the same scores and the same best trial.

**Pruning (deterministic median rule).** Optuna's own pruners look at whatever trials have
reported when they are asked, so their decisions depend on timing. Here each trial gets,
before it starts, a table of thresholds: for each observation step, the median of the
learning-curve values (test error, 1 - accuracy) of the trials finished (not pruned or
failed) in earlier batches, where at least ``pruning.min_trials`` of them observed that step.
The trial stops itself at the first observation, after ``pruning.warmup_observations``, where
its best error so far is worse than the threshold (optuna's MedianPruner rule, with the
history frozen at the batch's start). It is told to Optuna as PRUNED with its curve as the
intermediate values, which TPE uses.

**Score.** The objective is the chip's cycles, seconds or joules to the scenario's target
(``cycles_to_target``, ``seconds_to_target``, ``energy_joules_to_target`` of the run's summary).
A trial that reaches the target scores that value. One that does not (budget exhausted,
diverged, or the spec refused its values) scores

    penalty x budget x (1 + shortfall),   shortfall = clip((target - best accuracy) / target, 0, 1)

where budget is the cycle budget ``max_cycles`` (seconds: x clock period; joules: the trial's
own energy per simulated cycle x max_cycles) and a trial with no accuracy has shortfall 1.
Every success scores below ``budget`` and every failure above ``penalty x budget``, and among
failures the closer to the target the better, so TPE still learns from them. A joules trial
that failed before simulating a cycle scores infinity. No trial can stop the study.

**Files and resume.** Each trial is written under ``trials/<number>/`` as a run directory
(manifest.json, curve.csv, summary.json) and then ``trial.json`` (its parameters, thresholds,
curve values, score), each atomically; ``trial.json`` marks the trial done. Running the same
command again replays the protocol from the start: the sampler asks the same parameters, a
trial whose ``trial.json`` holds those parameters (and the same spec and thresholds) is taken
from its file, any other (never run, running when killed, failed with an error: as a sweep
retries its failed points) is run. ``--trials`` may grow between calls: the first trials of a
longer study are those of the shorter one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from hwsim.results.rundir import atomic_write, dump_json, write_run
from hwsim.spec.errors import Problem, SpecError
from hwsim.tune.space import SpaceSpec, at_space_line, find_space, read_space

from hwsim.tune import OBJECTIVE_UNITS, OBJECTIVES  # noqa: F401  (re-exported)

STUDY_FILE = "study.json"
TRIAL_FILE = "trial.json"
TRIALS_DIR = "trials"


class TuneError(Exception):
    """A study cannot start (its folder holds another study or is busy; no energy table)."""


@dataclass
class TunePlan:
    """Everything that defines a study (the number of trials apart)."""

    scenario: str
    chip: str | None
    firmware: str | None
    overrides: dict
    space: SpaceSpec
    space_path: str
    space_doc: object = field(repr=False)
    objective: str
    seed: int
    base: object = field(repr=False)          # the RunSpec every trial starts from

    @property
    def name(self) -> str:
        return f"{self.base.scenario.name}-{self.objective}"

    def identity(self) -> dict:
        """What must match for a folder's trials to belong to this study."""
        return {"scenario": self.base.scenario.name, "base_spec_hash": self.base.spec_hash,
                "space": self.space.model_dump(mode="json"), "objective": self.objective, "seed": self.seed}

    def budget(self) -> float:
        """The cycle budget in the objective's units (joules: per trial, see :func:`score`)."""
        cycles = float(self.base.scenario.max_cycles)
        return cycles * self.base.chip.clock_period if self.objective == "seconds" else cycles


def plan_tune(scenario: str, *, chip: str | None = None, firmware: str | None = None,
              space: str | None = None, objective: str = "cycles", seed: int = 0,
              overrides: dict | None = None) -> TunePlan:
    """Read the space and the scenario and check them; SpecError lists every problem (at the
    space file's line for a value it set), TuneError when the objective cannot be measured."""
    from hwsim.run_plan import load_scenario
    from hwsim.spec.loader import find_spec_file

    if objective not in OBJECTIVES:
        raise TuneError(f"--objective {objective}: no such objective (expected one of "
                        f"{', '.join(OBJECTIVES)})")
    space_path = find_space(space)
    spec, doc = read_space(space_path)
    fixed = dict(spec.fixed)
    base_overrides = {**(overrides or {}), **fixed, "scenario.stop_at_target": True}
    found = find_spec_file(scenario, "scenario", None)      # a preset name, or a path
    try:
        base = load_scenario(found or scenario, base_overrides, chip=chip, firmware=firmware)
    except SpecError as exc:
        raise SpecError([_relocate(p, doc, fixed, "fixed") for p in exc.problems]) from None
    if base.firmware.algorithm != "mgd":
        raise TuneError(f"the firmware {base.firmware.name!r} is the {base.firmware.algorithm} baseline, which "
                        "runs on the host and has no chip time to tune (expected an MGD firmware: --firmware "
                        "mgd_weight_perturbation, for example)")
    if objective == "joules" and not any(v > 0 for v in base.chip.energy.model_dump().values()):
        raise TuneError(f"--objective joules: the chip {base.chip.name!r} has no energy table (every "
                        "chip.energy value is 0), so every trial would cost 0 J; choose a chip with an "
                        "energy table, or --objective cycles or seconds")
    problems = []
    for path, knob in spec.params.items():
        for value in knob.extremes():
            try:
                base.with_overrides({path: value})
            except SpecError as exc:
                note = f" [the space's {'choice' if knob.choices is not None else 'bound'} {value!r}]"
                problems += [_relocate(p, doc, {path: value}, "params", note) for p in exc.problems]
                break
    if problems:
        raise SpecError(problems)
    return TunePlan(scenario, chip, firmware, dict(overrides or {}), spec, str(space_path), doc,
                    objective, int(seed), base)


def _relocate(problem: Problem, doc, values: dict, section: str, note: str = "") -> Problem:
    from hwsim.sweep.spec import normalise_path

    target = normalise_path(problem.path)
    for path in values:
        key = normalise_path(path)
        if target == key or target.startswith(key + "."):
            return at_space_line(problem, doc, section, path, note)
    return problem


# --------------------------------------------------------------------------- one trial


def trial_runner(spec, seed: int, *, thresholds: dict, warmup: int) -> tuple[dict, pd.DataFrame]:
    """Run one trial (on a worker): the run stops itself at the first observation after
    ``warmup`` where its best test error so far exceeds ``thresholds[step]``; the summary
    gains ``pruned_at_step`` (None when it ran to its end)."""
    from hwsim.api import RunInterrupted, run

    state = {"best": math.inf, "seen": 0, "pruned": None}

    def progress(sim, point):
        state["best"] = min(state["best"], curve_error(point.test_accuracy))
        state["seen"] += 1
        limit = thresholds.get(int(point.step))
        if state["pruned"] is None and limit is not None and state["seen"] > warmup and state["best"] > limit:
            state["pruned"] = int(point.step)
            raise RunInterrupted()

    result = run(spec, seed, progress=progress, checkpoint_seconds=None)
    summary = dict(result.summary)
    summary["pruned_at_step"] = state["pruned"]
    return summary, result.curve


def curve_error(accuracy) -> float:
    """The learning-curve value the pruner compares: 1 - test accuracy (1 when unknown)."""
    if accuracy is None or not math.isfinite(accuracy):
        return 1.0
    return 1.0 - float(accuracy)


def score(plan: TunePlan, summary: dict | None) -> tuple[float, bool]:
    """(score, reached): the objective to the target, or the penalty formula (module docstring)."""
    sc = plan.base.scenario
    if summary is not None and summary.get("status") == "reached_target":
        value = summary.get(OBJECTIVES[plan.objective])
        if value is not None and math.isfinite(value):
            return float(value), True
    best = summary.get("best_test_accuracy") if summary is not None else None
    if best is None or not math.isfinite(best):
        shortfall = 1.0
    else:
        shortfall = min(1.0, max(0.0, (sc.target_accuracy - best) / sc.target_accuracy))
    if plan.objective == "joules":
        cycles = summary.get("cycles_simulated") if summary is not None else None
        if not cycles:
            return math.inf, False
        budget = float(summary["energy_joules"]) / cycles * sc.max_cycles
    else:
        budget = plan.budget()
    return plan.space.penalty * budget * (1.0 + shortfall), False


def thresholds_from(records: list["TrialRecord"], min_trials: int) -> dict[int, float]:
    """step -> median test error of the finished trials that observed it (at least min_trials)."""
    at: dict[int, list[float]] = {}
    for r in records:
        if r.state == "complete":
            for step, err in r.curve:
                at.setdefault(int(step), []).append(err)
    return {step: float(np.median(v)) for step, v in sorted(at.items()) if len(v) >= min_trials}


# --------------------------------------------------------------------------- records


@dataclass
class TrialRecord:
    """One trial as trial.json holds it."""

    number: int
    batch: int
    params: dict
    spec_hash: str | None
    seed: int
    thresholds: dict
    state: str = "complete"          # complete, pruned, failed (an error; scored) or refused (the spec
    #                                  refused its values; scored)
    status: str | None = None        # the run's status (reached_target, budget_exhausted, ...)
    score: float = math.nan
    reached: bool = False
    value_to_target: float | None = None
    best_test_accuracy: float | None = None
    final_test_accuracy: float | None = None
    pruned_step: int | None = None
    steps_simulated: int | None = None
    cycles_simulated: int | None = None
    energy_joules: float | None = None
    wall_seconds: float | None = None
    curve: list = field(default_factory=list)     # [(step, test error)] at each observation
    error: str | None = None

    def to_json(self) -> dict:
        out = dict(self.__dict__)
        out["thresholds"] = {str(k): v for k, v in self.thresholds.items()}
        out["score"] = self.score if math.isfinite(self.score) else ("inf" if self.score > 0 else None)
        return out

    @classmethod
    def from_json(cls, data: dict) -> "TrialRecord":
        data = dict(data)
        data["thresholds"] = {int(k): float(v) for k, v in data["thresholds"].items()}
        data["score"] = math.inf if data["score"] == "inf" else (math.nan if data["score"] is None
                                                                 else float(data["score"]))
        data["curve"] = [(int(s), float(e)) for s, e in data["curve"]]
        return cls(**data)

    def matches(self, other: "TrialRecord") -> bool:
        """Same trial asked: same parameters, spec, seed and thresholds."""
        return (json.dumps(self.params, sort_keys=True) == json.dumps(other.params, sort_keys=True)
                and self.spec_hash == other.spec_hash and self.seed == other.seed
                and self.thresholds == other.thresholds)


def trial_dir(out: Path, number: int) -> Path:
    return Path(out) / TRIALS_DIR / f"{number:05d}"


def read_record(out: Path, number: int) -> TrialRecord | None:
    path = trial_dir(out, number) / TRIAL_FILE
    try:
        return TrialRecord.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None        # absent, or not one of ours: run the trial again


def _complete(record: TrialRecord, plan: TunePlan, summary: dict | None, curve: pd.DataFrame | None,
              error: str | None) -> TrialRecord:
    """Fill a record from a run's summary and curve (or its error)."""
    record.error = error
    if curve is not None and len(curve):
        record.curve = [(int(s), curve_error(a)) for s, a in zip(curve["step"], curve["test_accuracy"])]
    if summary is not None:
        record.status = summary.get("status")
        record.pruned_step = summary.get("pruned_at_step")
        for name in ("best_test_accuracy", "final_test_accuracy", "steps_simulated", "cycles_simulated",
                     "energy_joules", "wall_seconds"):
            setattr(record, name, summary.get(name))
        record.value_to_target = summary.get(OBJECTIVES[plan.objective])
    record.score, record.reached = score(plan, summary)
    record.state = "failed" if error is not None else ("pruned" if record.pruned_step is not None else "complete")
    return record


# --------------------------------------------------------------------------- the study


@dataclass
class TuneOutcome:
    directory: Path
    records: list[TrialRecord]
    reused: int = 0               # trials taken from their files
    ran: int = 0                  # trials run by this call
    interrupted: bool = False
    where: str = ""

    @property
    def best(self) -> TrialRecord | None:
        return best_record(self.records)

    @property
    def failed(self) -> int:
        return sum(r.state == "failed" for r in self.records)


def best_record(records: list[TrialRecord]) -> TrialRecord | None:
    """The finished trial with the lowest score (the earliest among equals)."""
    done = [r for r in records if r.state == "complete" and not math.isnan(r.score)]
    return min(done, key=lambda r: (r.score, r.number)) if done else None


def default_tune_dir(plan: TunePlan) -> Path:
    """runs/tune-<scenario>-<objective>: no time stamp, so the same command resumes."""
    return Path("runs") / f"tune-{plan.name}"


def run_study(plan: TunePlan, out: str | Path | None = None, *, trials: int, workers: int | None = None,
              scheduler: str | None = None, client=None, serial: bool = False,
              on_trial: Callable[[TrialRecord, bool], None] | None = None,
              runner: Callable | None = None) -> TuneOutcome:
    """Run (or resume) the study in ``out``: ``trials`` trials in batches of ``plan.space.batch``.

    Where trials run is as for :func:`hwsim.sweep.execute.run_sweep`. ``on_trial(record,
    reused)`` is called as each trial is recorded (a KeyboardInterrupt raised there stops the
    study as Ctrl-C does). Tables, plots and the best firmware are written at the end, also
    when interrupted. ``runner`` replaces :func:`trial_runner` (tests)."""
    import optuna

    from hwsim.sweep.execute import SweepError, _lock
    from hwsim.tune import outputs

    out = Path(out) if out is not None else default_tune_dir(plan)
    out.mkdir(parents=True, exist_ok=True)
    outcome = TuneOutcome(out, [])
    with contextlib.ExitStack() as held, _quiet_optuna():
        try:
            held.enter_context(_lock(out))
        except SweepError:
            raise TuneError(f"another hwsim tune is writing into {out}; wait for it to finish or choose "
                            "another --out") from None
        for stale in list(out.glob(".*.tmp")) + list(out.glob(f"{TRIALS_DIR}/*/.*.tmp")):
            stale.unlink(missing_ok=True)
        _check_identity(out, plan)
        atomic_write(out / STUDY_FILE, dump_json({**plan.identity(), "space_file": plan.space_path,
                                                  "chip": plan.base.chip.name,
                                                  "firmware": plan.base.firmware.name,
                                                  "overrides": plan.overrides, "trials": trials}))
        sampler = optuna.samplers.TPESampler(seed=plan.seed, n_startup_trials=plan.space.startup_trials)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        dists = {path: knob.distribution() for path, knob in plan.space.params.items()}
        runner = runner if runner is not None else trial_runner
        pool = _Pool(client, scheduler, workers, serial)
        done_now: list[TrialRecord] = []      # recorded trials of the batch being run
        try:
            with pool:
                for start in range(0, trials, plan.space.batch):
                    batch = start // plan.space.batch
                    pr = plan.space.pruning
                    limits = thresholds_from(outcome.records, pr.min_trials) if pr.enabled else {}
                    asked = [study.ask(dists) for _ in range(min(plan.space.batch, trials - start))]
                    records, todo = [], []
                    done_now.clear()
                    for t in asked:
                        rec, spec = _new_record(plan, t, batch, limits)
                        saved = read_record(out, t.number)
                        if saved is not None and saved.state != "failed" and saved.matches(rec):
                            records.append(saved)
                            done_now.append(saved)
                            outcome.reused += 1
                            if on_trial is not None:
                                on_trial(saved, True)
                        elif spec is None:
                            records.append(rec)
                            done_now.append(rec)
                            _write_trial(out, plan, rec, None, None)
                            outcome.ran += 1
                            if on_trial is not None:
                                on_trial(rec, False)
                        else:
                            records.append(rec)
                            todo.append((rec, spec))

                    def record(rec, spec, result):
                        _complete(rec, plan, result.summary, result.curve, result.error)
                        if not result.lost:
                            _write_trial(out, plan, rec, spec, result)
                        done_now.append(rec)
                        outcome.ran += 1
                        if on_trial is not None:
                            on_trial(rec, False)

                    run = functools.partial(runner, thresholds=limits, warmup=pr.warmup_observations)
                    pool.run(todo, run, record)
                    outcome.where = pool.where
                    for t, rec in zip(asked, records):
                        _tell(study, t, rec)
                    outcome.records.extend(records)
                    done_now.clear()
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.records.extend(sorted(done_now, key=lambda r: r.number))
        finally:
            outcome.where = pool.where or outcome.where
            outputs.write_all(out, plan, outcome.records)
    return outcome


def _new_record(plan: TunePlan, trial, batch: int, limits: dict):
    """The record of an asked trial, and its spec (None, and the record scored, when the spec
    refuses the values: a failed trial)."""
    params = {k: _plain(v) for k, v in trial.params.items()}
    seed = plan.base.scenario.seed
    try:
        spec = plan.base.with_overrides(params)
    except SpecError as exc:
        rec = TrialRecord(trial.number, batch, params, None, seed, dict(limits))
        rec = _complete(rec, plan, None, None, "SpecError: " + "; ".join(p.message for p in exc.problems))
        rec.state = "refused"        # scored like a failure; not an error of hwsim's
        return rec, None
    return TrialRecord(trial.number, batch, params, spec.spec_hash, seed, dict(limits)), spec


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _tell(study, trial, rec: TrialRecord) -> None:
    import optuna

    for step, err in rec.curve:
        trial.report(err, step)
    if rec.state == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, rec.score)


def _write_trial(out: Path, plan: TunePlan, rec: TrialRecord, spec, result) -> None:
    """The trial's run directory (when it ran) then trial.json, each atomically."""
    from hwsim.api import manifest

    d = trial_dir(out, rec.number)
    d.mkdir(parents=True, exist_ok=True)
    if result is not None and result.ok:
        write_run(d, manifest(spec, rec.seed, None), result.curve, result.summary)
    elif result is not None and result.traceback:
        atomic_write(d / "error.json", dump_json({"error": result.error, "traceback": result.traceback}))
    atomic_write(d / TRIAL_FILE, dump_json(rec.to_json()))


def _check_identity(out: Path, plan: TunePlan) -> None:
    path = out / STUDY_FILE
    if not path.exists():
        return
    try:
        theirs = json.loads(path.read_text())
    except (OSError, ValueError):
        return             # unreadable: rewritten; the trials are checked one by one anyway
    mine = json.loads(dump_json(plan.identity()))
    diff = [k for k in mine if theirs.get(k) != mine[k]]
    if diff:
        raise TuneError(f"{out} holds another study (its {', '.join(diff)} differ{'s' if len(diff) == 1 else ''}"
                        f" from this call's); choose another --out, or delete the folder to start over")


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna logs every trial at INFO; the command prints its own lines."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


# --------------------------------------------------------------------------- where trials run


@dataclass
class _Result:
    ok: bool
    summary: dict | None = None
    curve: pd.DataFrame | None = None
    error: str | None = None
    traceback: str | None = None
    lost: bool = False            # the worker died: not written, so a rerun runs it


class _Pool:
    """Runs a batch serially, or on the Dask client of hwsim.sweep.execute (kept open across
    batches)."""

    def __init__(self, client, scheduler, workers, serial):
        self.args = (client, scheduler, workers)
        self.serial = serial
        self.client = None
        self.where = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def _client(self):
        if self.client is None:
            from hwsim.sweep.execute import _dask_client

            self.client, self.where = self._stack.enter_context(_dask_client(*self.args))
        return self.client

    def run(self, todo: list, runner, record) -> None:
        from hwsim.sweep.execute import execute_point

        if not todo:
            return
        if self.serial:
            self.where = "serial"
            for rec, spec in todo:
                record(rec, spec, _result(execute_point(runner, spec, rec.seed, str(rec.number))))
            return
        from distributed import as_completed

        client = self._client()
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(execute_point, runner, spec, rec.seed, str(rec.number),
                                 key=f"hwsim-trial-{rec.number}-{token}", priority=-i): (rec, spec)
                   for i, (rec, spec) in enumerate(todo)}
        try:
            for fut in as_completed(list(futures)):
                rec, spec = futures[fut]
                try:
                    result = _result(fut.result())
                except Exception as exc:  # noqa: BLE001 - a worker died: scored now, rerun next time
                    result = _Result(False, error=f"{type(exc).__name__}: {exc}", lost=True)
                fut.release()
                record(rec, spec, result)
        except BaseException:
            client.cancel(list(futures))
            raise


def _result(point) -> _Result:
    return _Result(point.ok, point.summary, point.curve, point.error, point.traceback)
