"""The Python API: load a scenario, run it, probe the gradient estimate."""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.engine.checkpoint import (CHECKPOINT_FILE, DEFAULT_EVERY_SECONDS, CheckpointError,
                                     Checkpointer, CheckpointPolicy, poll_steps, restore, run_dir_lock)
from hwsim.engine.simulation import Simulation
from hwsim.network import batch
from hwsim.results.rundir import OutputError, atomic_write, curve_frame, dump_json, slug, write_run
from hwsim.results.summary import (MAX_MANIFEST_BYTES, backprop_summary, chip_summary,  # noqa: F401
                                   manifest, read_manifest_file)
from hwsim.run_plan import RunSpec, load_scenario, resolve  # noqa: F401  (load_scenario re-exported)
from hwsim.spec.limits import check_option, short


class RunInterrupted(Exception):
    """Raised by a ``progress`` callback to stop a run: it stops at its next resumable point
    (at once, unless the observation ends the run) with status ``interrupted``, keeps its curve
    so far and, with a run directory, writes a checkpoint there (the first Ctrl-C of
    ``hwsim run``)."""


@dataclass
class RunResult:
    summary: dict
    curve: pd.DataFrame
    weights: np.ndarray | None        # None when resume found the run already finished
    run_dir: Path | None = None
    resumed_from: dict | None = None  # the header of the checkpoint the run continued from
    checkpoints: dict | None = None   # written, last_bytes, write_seconds (runs with a directory)
    already_finished: bool = False    # resume() found a finished run: nothing ran

    def __repr__(self) -> str:
        """One line: what a notebook shows for a result (the summary and the curve are its
        fields)."""
        s = self.summary
        status = s.get("status", "?")
        parts = [f"status={status!r}"]
        for key in ("final_test_accuracy", "best_test_accuracy"):
            if isinstance(s.get(key), (int, float)):
                parts.append(f"{key}={s[key]:.3f}")
        if s.get("cycles_to_target") is not None:
            parts.append(f"cycles_to_target={s['cycles_to_target']:,}")
        for key in ("steps_simulated", "cycles_simulated", "samples_seen"):
            if s.get(key) is not None:
                parts.append(f"{key}={s[key]:,}")
                break
        parts.append(f"curve={len(self.curve)} points")
        if self.run_dir is not None:
            parts.append(f"run_dir={str(self.run_dir)!r}")
        return f"RunResult({', '.join(parts)})"

    def plot(self, x: str = "cycle", path: str | Path | None = None):
        """The learning curve of this in-memory result in hwsim's figure style (test accuracy
        against ``x``: cycle, seconds, samples_seen or step; its end marked by how the run
        ended); a matplotlib Figure, also saved as PNG and SVG when ``path`` is given."""
        from hwsim.results import plots

        s = self.summary
        fig = plots.learning_curves([(s.get("scenario") or "run", self.curve, s.get("status"))], x=x,
                                    target=s.get("target_accuracy"), title="Learning curve",
                                    context=plots.caption(s.get("chip"), s.get("firmware"), s.get("scenario")))
        if path is not None:
            plots.save(fig, path)
        return fig


def summarise(sim: Simulation, spec: RunSpec) -> dict:
    """summary.json of the MGD run ``sim`` (hwsim.results.summary.chip_summary)."""
    return chip_summary(sim, spec).to_dict()


def default_run_dir(spec: RunSpec, seed: int) -> Path:
    """runs/<name>-<hash>-s<seed>-<time>, the name reduced to a safe slug: one folder inside
    runs/, whatever the scenario calls itself."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return Path("runs") / f"{slug(spec.scenario.name)}-{spec.spec_hash[:8]}-s{int(seed)}-{stamp}"


def run(spec: RunSpec | str | Path, seed: int | None = None, *, out: str | Path | None = None,
        max_cycles: int | None = None, progress=None, max_block_steps: int | None = None,
        trace: str | Path | None = None, checkpoint_every: int | None = None,
        checkpoint_seconds: float | None = DEFAULT_EVERY_SECONDS, should_stop=None,
        overwrite: bool = False) -> RunResult:
    """Train the scenario on its chip; write a run directory when ``out`` is given and an
    event trace (Chrome JSON, or CSV by extension) when ``trace`` is given.

    ``progress(sim, point)`` is called at every observation; raising :class:`RunInterrupted`
    from it, or ``should_stop()`` returning True (polled at every resumable point), ends the
    run with status ``interrupted``; so does the first Ctrl-C (a notebook's interrupt) when
    Python's own Ctrl-C handling is in place, which writes the checkpoint, curve and summary
    and then raises KeyboardInterrupt. ``progress=True`` shows a progress bar (in a
    terminal or a notebook). With ``out``, manifest.json is written first, a
    checkpoint every ``checkpoint_every`` chip cycles and every ``checkpoint_seconds`` wall
    seconds (None or 0: never) and when the run is interrupted; :func:`resume` continues it.
    A finished run removes its checkpoint. ``out`` may not hold another run's results (a
    finished run, an unfinished one, another spec or seed) unless ``overwrite``, which
    replaces them; this is checked before anything is built."""
    if not isinstance(spec, RunSpec):
        spec = load_scenario(spec)
    seed = spec.scenario.seed if seed is None else int(seed)
    _check_arguments(seed, max_cycles)
    if out is not None:
        _check_out(Path(out), spec.spec_hash, seed, overwrite)
    if spec.firmware.algorithm == "backprop":
        if max_cycles is not None:
            spec = spec.with_overrides({"scenario.max_cycles": max_cycles})
        return run_backprop(spec, seed, out, overwrite=overwrite)
    sim = Simulation(spec, seed, max_cycles=max_cycles, max_block_steps=max_block_steps)
    if trace is not None:
        from hwsim.engine.trace import Trace

        sim.trace = Trace(clock_period=sim.clock_period)
    policy = CheckpointPolicy(checkpoint_every, checkpoint_seconds)
    if progress is True:
        from hwsim.results.progress import RunProgress, budget_cycles

        with RunProgress(budget_cycles(spec, max_cycles), show=True) as bar:
            result = _execute(sim, spec, seed, max_cycles, out, bar, policy,
                              lambda: bar.stop_requested or (should_stop is not None and bool(should_stop())),
                              fresh=True, overwrite=overwrite)
    else:
        result = _execute(sim, spec, seed, max_cycles, out, progress, policy, should_stop, fresh=True,
                          overwrite=overwrite)
    if trace is not None:
        sim.trace.write(Path(trace))
    return result


def resume(run_dir: str | Path, *, spec: RunSpec | None = None, seed: int | None = None,
           max_cycles: int | None = None, progress=None, max_block_steps: int | None = None,
           checkpoint_every: int | None = None, checkpoint_seconds: float | None = DEFAULT_EVERY_SECONDS,
           should_stop=None) -> RunResult:
    """Continue the run in ``run_dir`` from its checkpoint (from its beginning when it was
    killed before the first one) to the same result, bit for bit, as had it never stopped.

    The specs, seed and budget come from the directory's manifest.json; ``spec``, ``seed``
    and ``max_cycles``, when given, must be the run's own. A run that already finished is
    not run again: its summary and curve are returned (``already_finished``). Raises
    :class:`CheckpointError` (a SpecError) when the directory or its checkpoint is not
    resumable: damaged, another run's, another hwsim version's."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    man = read_manifest(run_dir)
    own = _spec_from_manifest(man, manifest_path)
    for name, given, theirs in (("spec_hash", spec.spec_hash if spec is not None else None, man["spec_hash"]),
                                ("seed", seed, man["seed"]), ("max_cycles", max_cycles, man["max_cycles"])):
        if given is not None and given != theirs:
            raise CheckpointError([_problem(manifest_path, name, f"the run was started with {name} "
                                            f"{theirs} (got {given}): --resume continues a run as it "
                                            "started; drop the option or give the run's own")])
    spec, seed, budget = own, int(man["seed"]), int(man["max_cycles"])
    checkpoint = run_dir / CHECKPOINT_FILE
    summary_path = run_dir / "summary.json"
    if not checkpoint.exists() and summary_path.is_file():
        finished = _finished_result(run_dir, summary_path)
        if finished is not None:
            return finished
    if spec.firmware.algorithm == "backprop":
        # No checkpoints: it is rerun (quickly), in its own folder, whatever it holds.
        return run_backprop(spec, seed, run_dir, overwrite=True)
    sim = Simulation(spec, seed, max_cycles=budget, max_block_steps=max_block_steps)
    header = None
    if checkpoint.exists():
        _check_same_run(checkpoint, manifest_path, spec.spec_hash, seed, sim.budget)
        header = restore(checkpoint, sim, spec_hash=spec.spec_hash, seed=seed, budget=sim.budget)
    policy = CheckpointPolicy(checkpoint_every, checkpoint_seconds)
    result = _execute(sim, spec, seed, budget, run_dir, progress, policy, should_stop, fresh=False)
    result.resumed_from = header
    return result


def _check_same_run(checkpoint: Path, manifest_path: Path, spec_hash: str, seed: int, budget: int) -> None:
    """The checkpoint and manifest.json of one directory must be of one run. Checked here,
    before restore(), whose messages are about the options a user gave (``drop --seed``):
    on a resume the seed and budget come from the manifest, so a mismatch is between files."""
    from hwsim.engine.checkpoint import peek_header

    header = peek_header(checkpoint)
    if header is None:
        return                       # unreadable: restore() says why
    for field, ours in (("spec_hash", spec_hash), ("seed", seed), ("max_cycles", budget)):
        theirs = header.get(field)
        if theirs is not None and theirs != ours:
            raise CheckpointError([_problem(checkpoint, field, f"belongs to a run with {field} "
                                            f"{short(theirs)}, but {manifest_path.name} beside it says "
                                            f"{short(ours)}: the folder holds files of two runs; delete "
                                            f"{checkpoint} to rerun the manifest's run from the beginning")])


def _problem(path, field: str, message: str):
    from hwsim.spec.errors import Problem

    return Problem(str(path), None, None, field, message)


def read_manifest(run_dir: str | Path) -> dict:
    """The manifest.json of the run directory ``run_dir``, checked field by field; raises
    CheckpointError (naming the file and the field) when it is missing or damaged."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise CheckpointError([_problem(run_dir, "--resume", "no such run directory")])
    if not (manifest_path.exists() or manifest_path.is_symlink()):
        raise CheckpointError([_problem(manifest_path, "manifest.json", "missing: not a run directory "
                                        "(hwsim run writes manifest.json first); start the run with "
                                        "'hwsim run SCENARIO --out DIR'")])
    return _read_manifest(manifest_path)


def _read_manifest(path: Path) -> dict:
    return read_manifest_file(path)


def _spec_from_manifest(man: dict, path: Path) -> RunSpec:
    from hwsim.run_plan import validate_run
    from hwsim.spec.yaml_source import SourceDoc

    resolved = man["resolved"]
    docs = {}
    for part in ("scenario", "chip", "firmware"):
        if not isinstance(resolved.get(part), dict):
            raise CheckpointError([_problem(path, f"resolved.{part}", "missing: not an hwsim run "
                                            "directory's manifest")])
        docs[part] = SourceDoc(str(path), dict(resolved[part]))
    spec = validate_run(docs)       # a SpecError names the field
    if spec.spec_hash != man["spec_hash"]:
        raise CheckpointError([_problem(path, "spec_hash", f"the resolved specs hash to {spec.spec_hash}, "
                                        f"not {man['spec_hash']}: edited, or written by another hwsim "
                                        "version; the run cannot be resumed")])
    return spec


def _finished_result(run_dir: Path, summary_path: Path) -> RunResult | None:
    """A finished run's result as its files hold it; None when it was interrupted."""
    import json

    try:
        summary = json.loads(summary_path.read_text())
        status = summary["status"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None                   # unreadable: run it again from the beginning
    if status == "interrupted":
        return None
    try:
        curve = pd.read_csv(run_dir / "curve.csv")
    except (OSError, ValueError):
        curve = curve_frame([])
    return RunResult(summary, curve, None, run_dir, already_finished=True)


@contextlib.contextmanager
def _ctrl_c_stops_the_run():
    """While a run called from Python (a script, a notebook) runs in the main thread with
    Python's own Ctrl-C handling, the first Ctrl-C (a notebook's interrupt) asks it to stop at
    its next resumable point, as ``hwsim run`` does: status ``interrupted``, the curve and
    summary so far, a checkpoint when it has a directory; then KeyboardInterrupt goes on to
    the caller. The second one interrupts at once. A caller's own handler (the CLI's) is left
    alone. Yields a list that holds True once asked."""
    asked = [False]
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield asked
        return

    def first(signum, frame):
        asked[0] = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("hwsim: stopping at the next resumable point: writing the results so far "
              "(interrupt again to stop at once)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, first)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _execute(sim: Simulation, spec: RunSpec, seed: int, max_cycles: int | None, out, progress,
             policy: CheckpointPolicy, should_stop, fresh: bool, overwrite: bool = False) -> RunResult:
    """Run ``sim`` (fresh, or restored from a checkpoint) and write its directory."""
    with _ctrl_c_stops_the_run() as ctrl_c:
        result = _execute_run(sim, spec, seed, max_cycles, out, progress, policy,
                              lambda: ctrl_c[0] or (should_stop is not None and bool(should_stop())), fresh,
                              overwrite)
    if ctrl_c[0] and result.summary.get("status") == "interrupted":
        # Written first (checkpoint, curve, summary): the interrupt then goes on to the caller.
        kept = (f"; the results so far are in {result.run_dir}, hwsim.resume({str(result.run_dir)!r}) continues"
                if result.run_dir is not None else "")
        raise KeyboardInterrupt(f"hwsim run interrupted at step {result.summary.get('steps_simulated', 0):,}{kept}")
    return result


def _execute_run(sim: Simulation, spec: RunSpec, seed: int, max_cycles: int | None, out, progress,
                 policy: CheckpointPolicy, should_stop, fresh: bool, overwrite: bool) -> RunResult:
    stop = [False]

    def observed(s, point):
        if progress is not None:
            try:
                progress(s, point)
            except RunInterrupted:
                stop[0] = True          # acted on at the next resumable point

    checkpointer = None

    def at_boundary(s):
        requested = stop[0] or (should_stop is not None and bool(should_stop()))
        if checkpointer is not None:
            checkpointer.at_boundary(s, force=requested)
        if requested:
            raise RunInterrupted()

    out = Path(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        if out is not None:
            _make_dir(out)
            stack.enter_context(run_dir_lock(out))
            for stale in out.glob(".*.tmp"):   # left by a process killed while writing here
                stale.unlink(missing_ok=True)
            if fresh:
                _start_dir(out, manifest(spec, seed, max_cycles, sim.path.name), overwrite)
            checkpointer = Checkpointer(out, sim, spec_hash=spec.spec_hash, seed=seed, budget=sim.budget,
                                        policy=policy)
        start = time.perf_counter()
        raw_interrupt = None
        try:
            try:
                sim.run(progress=observed, boundary=(poll_steps(sim, policy.every_cycles), at_boundary))
            except RunInterrupted:
                sim.status = "interrupted"
                sim.wall_seconds += time.perf_counter() - start   # sim.run adds it only when it returns
            except KeyboardInterrupt as exc:
                # Not at a resumable point (a second Ctrl-C, or one under a caller's own handler):
                # the curve and summary so far are written, no checkpoint (the last one stays).
                raw_interrupt = exc
                sim.status = "interrupted"
                sim.wall_seconds += time.perf_counter() - start
            summary = summarise(sim, spec)
            curve = curve_frame(sim.curve)
            if "energy" in summary.get("not_modelled", ()):
                curve["energy_joules"] = float("nan")   # not a measured 0 J: the chip has no energy table
            run_dir = None
            if out is not None:
                run_dir = write_run(out, manifest(spec, seed, max_cycles, sim.path.name), curve, summary)
                if sim.status != "interrupted":
                    (out / CHECKPOINT_FILE).unlink(missing_ok=True)   # finished: summary.json says so
            if raw_interrupt is not None:
                raise raw_interrupt
        except OutputError as exc:
            kept = (f"; {out} keeps its last checkpoint: continue with 'hwsim run --resume {out}' once "
                    "fixed" if out is not None and (out / CHECKPOINT_FILE).exists() else "")
            raise OutputError(exc.errno, f"{exc}{kept}", exc.filename) from None
    checkpoints = None
    if checkpointer is not None:
        checkpoints = {"written": checkpointer.written, "last_bytes": checkpointer.last_bytes,
                       "write_seconds": checkpointer.write_seconds}
    return RunResult(summary, curve, sim.theta.copy(), run_dir, checkpoints=checkpoints)


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(exc.errno, f"cannot create the run directory {out}: {exc.strerror or exc}; "
                                     "choose another --out", str(out)) from None


def _check_arguments(seed: int, max_cycles: int | None) -> None:
    """``seed`` and ``max_cycles`` given in Python take their spec fields' ranges, as the CLI
    options do (hwsim.spec.limits): a SpecError, not an overflow deep in the kernel."""
    from hwsim.spec.errors import SpecError
    from hwsim.spec.models import ScenarioSpec

    for name, value in (("seed", seed), ("max_cycles", max_cycles)):
        if value is not None and (message := check_option(name, value, ScenarioSpec, name)) is not None:
            raise SpecError([_problem("(arguments)", name, message)])


def _check_out(out: Path, spec_hash: str, seed: int, overwrite: bool) -> None:
    """Refuse to start a run in a directory holding another run's results: an unfinished run
    (a checkpoint), a finished one (summary.json) or one of other specs or another seed
    (manifest.json); ``overwrite`` allows replacing them. A directory holding this very run,
    killed before its first checkpoint, may start again."""
    if overwrite or not out.is_dir():
        return
    replace = "choose another --out, or give --overwrite (overwrite=True in Python) to replace it"
    if (out / CHECKPOINT_FILE).exists():
        raise CheckpointError([_problem(out / CHECKPOINT_FILE, "--out", "this directory holds an "
                                        f"unfinished run: continue it with 'hwsim run --resume {out}', "
                                        f"or {replace}")])
    if (out / "summary.json").exists():
        raise CheckpointError([_problem(out / "summary.json", "--out", "this directory holds a finished "
                                        f"run's results (got a new run into it; expected an empty or "
                                        f"new directory): {replace}")])
    manifest_path = out / "manifest.json"
    if manifest_path.exists() or manifest_path.is_symlink():
        try:
            man = _read_manifest(manifest_path)
            theirs = f"spec hash {man['spec_hash'][:12]}, seed {man['seed']}"
            same = (man["spec_hash"], man["seed"]) == (spec_hash, seed)
        except CheckpointError:
            theirs, same = "an unreadable manifest.json", False
        if not same:
            raise CheckpointError([_problem(manifest_path, "--out", f"this directory holds another run "
                                            f"(got {theirs}; this run has spec hash {spec_hash[:12]}, "
                                            f"seed {seed}): {replace}")])


def _start_dir(out: Path, man: dict, overwrite: bool = False) -> None:
    """A fresh run: refuse a directory holding another run (see :func:`_check_out`; checked
    again under the directory's lock); clear what ``overwrite`` replaces (a crash must not
    leave it looking like this run's); write manifest.json."""
    _check_out(out, man["spec_hash"], man["seed"], overwrite)
    for name in ("summary.json", "curve.csv", CHECKPOINT_FILE):
        (out / name).unlink(missing_ok=True)
    atomic_write(out / "manifest.json", dump_json(man))


@dataclass
class GradientProbe:
    estimate: np.ndarray     # integrated G_int after ``steps`` steps
    true: np.ndarray         # exact gradient (backprop) on the probed sample
    cosine: float
    steps: int
    sample: int
    expected_scale: float    # E[estimate] = expected_scale * true in the linear regime (NaN: analog)
    weights: np.ndarray      # the weights both were measured at: the initial ones, unchanged


def probe_gradient(spec: RunSpec | str | Path, steps: int, seed: int | None = None,
                   sample: int | None = None) -> GradientProbe:
    """Integrate the MGD estimate for ``steps`` steps on one fixed sample with the weights
    frozen, in either mode and whatever the firmware's eta.

    The weights stay at their initial values; the result holds the integrated estimate, the
    exact gradient by backpropagation and the cosine between them. Discrete mode never
    reaches an update; analog mode updates every step, so eta is set to 0 (the integrators,
    a leaky low-pass with time constant steps + 1, run as they would).
    """
    if not isinstance(spec, RunSpec):
        spec = load_scenario(spec)
    steps = int(steps)
    never = steps + 1
    spec = spec.with_overrides({"firmware.tau_x": never, "firmware.tau_theta": never,
                                "firmware.eta": 0.0, "scenario.stop_at_target": False})
    seed = spec.scenario.seed if seed is None else int(seed)
    sim = Simulation(spec, seed, max_cycles=10**15)
    if sample is not None:
        # Present the requested sample: pin the order table so step 0 reads it.
        sim.state.order[:] = sample
        sim.state.counters[0]["order_epoch"] = 0
    sim.advance(steps)
    s = sim.counts()["sample"]
    true = batch.gradient(sim.layout, sim.theta, sim.data.x_train[s], sim.data.y_train[s], spec.scenario.cost)
    est = sim.integrated_gradient()
    na, nb = np.linalg.norm(est), np.linalg.norm(true)
    cos = float(est @ true / (na * nb)) if na > 0 and nb > 0 else math.nan
    p = sim.n_perturbed  # E[G_int] = (T/P) grad C for P perturbed parameters (K for nodes)
    fw = spec.firmware
    if fw.mode == "analog":
        scale = float("nan")
    elif fw.normalisation == "vector_norm":
        scale = steps / p
    else:
        scale = steps / fw.tau_theta
    return GradientProbe(est, true, cos, steps, s, scale, sim.theta.copy())


def run_backprop(spec: RunSpec, seed: int, out: str | Path | None = None, *,
                 overwrite: bool = False) -> RunResult:
    """The backprop baseline of a scenario: same network, initial weights and data order as
    the chip run, as many samples as the MGD run sees in the scenario's budget. ``out`` is
    claimed as :func:`run` claims it (``overwrite``) before training."""
    from hwsim.engine.build import dataset_and_layout, initial_weights
    from hwsim.engine.simulation import CurvePoint, accuracy
    from hwsim.seeds import Stream, stream_key
    from hwsim.firmware.backprop import divergence, train_backprop

    import time

    start = time.perf_counter()
    if out is not None:
        out = Path(out)
        _make_dir(out)
        with run_dir_lock(out):
            _start_dir(out, manifest(spec, seed, None, "backprop"), overwrite)
    sc, fw = spec.scenario, spec.firmware
    plan = resolve(spec)           # the layout and timing validation checked, built once
    # The chip run's data, layout and initial weights (hwsim.engine.build, shared).
    data, layout = dataset_and_layout(plan, seed)
    theta0 = initial_weights(layout, spec, seed)
    steps = sc.max_cycles // plan.interval
    if sc.max_steps is not None:
        steps = min(steps, sc.max_steps)
    n_samples = steps // fw.tau_x
    batch_size = max(1, fw.tau_theta // fw.tau_x)
    theta, rows = train_backprop(
        layout, theta0, data, sc.cost, n_samples, fw.eta, batch=batch_size,
        optimizer=fw.optimizer, schedule=fw.learning_rate_schedule,
        order_seed=int(stream_key(seed, Stream.ORDER)),
        eval_every=max(1, fw.evaluation.every_steps // fw.tau_x),
        accuracy_fn=lambda y, t: accuracy(y, t, sc.accuracy))
    # Samples seen are the shared axis with MGD; cycles and seconds do not apply.
    curve_points = [CurvePoint(r.samples_seen * fw.tau_x, math.nan, math.nan, r.samples_seen,
                               r.train_cost, r.test_cost, r.test_accuracy, math.nan, math.nan,
                               math.nan) for r in rows]
    summary = backprop_summary(spec, seed, curve_points, rows, n_params=layout.n_params, batch=batch_size,
                               blew_up=divergence(theta, rows),
                               wall_seconds=time.perf_counter() - start).to_dict()
    curve = curve_frame(curve_points)
    run_dir = None
    if out is not None:
        run_dir = write_run(Path(out), manifest(spec, seed, None, "backprop"), curve, summary)
    return RunResult(summary, curve, theta, run_dir)
