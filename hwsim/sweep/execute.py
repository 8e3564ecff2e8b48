"""Run a sweep's points on Dask distributed (or one by one), write each point as it finishes,
and resume: ``run_sweep(plan_sweep("sweeps/x.yaml"), "runs/sweep-x")``.

Workers only compute: a task gets a resolved RunSpec and a seed and returns the summary and
the learning curve (or the error); this process writes every file, atomically, under
``points/<key>/`` (summary.json last: its presence marks the point finished). So workers
need hwsim and nothing else (no shared file system), a killed sweep leaves only finished
points behind, and a rerun runs exactly the points without a summary.json.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from hwsim.results.rundir import atomic_write, dump_json, write_run
from hwsim.results.tables import (ERROR_FILE, SWEEP_FILE, point_dir, point_state, write_tables)
from hwsim.sweep.plan import Point, SweepPlan


class SweepError(Exception):
    """A sweep cannot start (its folder is busy, the scheduler cannot be reached)."""


@dataclass
class PointResult:
    """What a task sends back: the run's summary and curve, or the error it raised."""

    key: str
    ok: bool
    summary: dict | None = None
    curve: pd.DataFrame | None = None
    error: str | None = None
    traceback: str | None = None


def run_point(spec, seed: int) -> tuple[dict, pd.DataFrame]:
    """Train one point: (summary, curve). A pure function of (spec, seed)."""
    from hwsim.api import run

    result = run(spec, seed)
    return result.summary, result.curve


def execute_point(runner: Callable, spec, seed: int, key: str) -> PointResult:
    """The task a worker runs: any exception becomes a recorded error, not a lost point."""
    try:
        summary, curve = runner(spec, seed)
    except Exception as exc:  # noqa: BLE001 - a failing point is recorded, the others go on
        return PointResult(key, False, error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc())
    return PointResult(key, True, summary, curve)


@dataclass
class SweepOutcome:
    directory: Path
    points: int                 # points in the sweep (rows of the table)
    runs: int                   # distinct (spec, seed) among them
    skipped: int                # finished before this call, not run again
    ran: int                    # finished by this call
    failed: int                 # failed in this call (error.json written)
    interrupted: bool = False
    where: str = ""             # where the points ran: "serial", "LocalCluster(2 workers)", an address
    table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def pending(self) -> int:
        return int((self.table.state == "pending").sum()) if len(self.table) else 0

    @property
    def failed_total(self) -> int:
        return int((self.table.state == "failed").sum()) if len(self.table) else 0


def default_sweep_dir(plan: SweepPlan) -> Path:
    """runs/sweep-<name>: no time stamp, so running the sweep again resumes it."""
    from hwsim.results.rundir import slug

    return Path("runs") / f"sweep-{slug(plan.name)}"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def run_sweep(plan: SweepPlan, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, client=None, serial: bool = False, progress=None,
              runner: Callable | None = None) -> SweepOutcome:
    """Run every point of ``plan`` that has no summary.json in ``out`` yet; write each one as
    it finishes, then the tables (results.parquet, results.csv).

    Where the points run: in this process one by one (``serial``), on ``client`` (a
    ``distributed.Client``), on the cluster whose scheduler is at ``scheduler``
    (``tcp://host:8786``), or on a new LocalCluster of ``workers`` processes (default: one per
    core). ``progress`` gets ``start(to_run, finished_before)`` and ``point_done(point,
    result)``. ``runner(spec, seed) -> (summary, curve)`` defaults to :func:`run_point`.
    A KeyboardInterrupt cancels the points not yet finished and returns with
    ``interrupted`` set; what finished is kept.
    """
    runner = runner if runner is not None else run_point
    out = Path(out) if out is not None else default_sweep_dir(plan)
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        for stale in list(out.glob(".*.tmp")):
            stale.unlink(missing_ok=True)
        atomic_write(out / SWEEP_FILE, dump_json(plan.record()))
        unique = plan.unique_points()
        todo = [p for p in unique if point_state(point_dir(out, p.key)) != "finished"]
        outcome = SweepOutcome(out, len(plan.points), len(unique), len(unique) - len(todo), 0, 0)
        if progress is not None:
            progress.start(len(todo), outcome.skipped)

        def record(point: Point, result: PointResult) -> None:
            _record(out, point, result)
            if result.ok:
                outcome.ran += 1
            else:
                outcome.failed += 1
            if progress is not None:
                progress.point_done(point, result)

        try:
            if not todo:
                outcome.where = "nothing to run"
            elif serial:
                outcome.where = "serial"
                for p in todo:
                    record(p, execute_point(runner, p.spec, p.seed, p.key))
            else:
                _run_dask(todo, runner, record, outcome, client, scheduler, workers)
        except KeyboardInterrupt:
            outcome.interrupted = True
        finally:
            outcome.table = write_tables(out)
    return outcome


def _run_dask(todo: list[Point], runner, record, outcome: SweepOutcome, client, scheduler, workers) -> None:
    from distributed import as_completed

    with _dask_client(client, scheduler, workers) as (dask_client, where):
        outcome.where = where
        token = uuid.uuid4().hex[:8]
        futures = {}
        try:
            for i, p in enumerate(todo):
                fut = dask_client.submit(execute_point, runner, p.spec, p.seed, p.key,
                                         key=f"hwsim-point-{p.index}-{p.key}-{token}", priority=-i)
                futures[fut] = p
            for fut in as_completed(list(futures)):
                p = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died, a task was lost
                    result = PointResult(p.key, False, error=f"{type(exc).__name__}: {exc}")
                fut.release()
                record(p, result)
        except BaseException:
            dask_client.cancel(list(futures))
            raise


@contextlib.contextmanager
def _dask_client(client, scheduler: str | None, workers: int | None):
    """The client to submit to, and a description of where the points run."""
    if client is not None:
        yield client, f"Dask cluster at {client.scheduler.address}"
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            own = Client(scheduler, timeout="15s")
        except ValueError as exc:
            raise SweepError(f"--scheduler {scheduler}: not a Dask scheduler address ({exc}); expected "
                             "something like tcp://host:8786") from None
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                             "'dask scheduler' and workers with 'dask worker ADDRESS' "
                             "(see docs/sweeps.md)") from None
        try:
            yield own, f"Dask cluster at {scheduler}"
        finally:
            own.close()
        return
    n = workers or cpu_count()
    # The cores are shared out: a worker's kernel splits its rows over cores // workers
    # threads (OpenMP threads spin while they wait, so more threads than cores stall them all).
    env = {"NUMBA_NUM_THREADS": str(max(1, cpu_count() // n))}
    # The workers ignore Ctrl-C (a terminal sends it to the whole process group): this
    # process decides what to cancel, and closes them.
    with _sigint_ignored():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, env=env,
                               dashboard_address=None, silence_logs=logging.ERROR)
    try:
        own = Client(cluster)
        try:
            yield own, f"LocalCluster of {n} worker{'s' if n != 1 else ''}"
        finally:
            own.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _sigint_ignored():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _lock(directory: Path):
    """One sweep at a time writes into a folder (the lock goes with the process, even killed)."""
    try:
        import fcntl
    except ImportError:   # not POSIX: no lock
        yield
        return
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(f"another hwsim sweep is writing into {directory}; wait for it to finish "
                             "or choose another --out") from None
        yield
    finally:
        os.close(fd)


def _record(out: Path, point: Point, result: PointResult) -> None:
    """Write one point's run directory (summary.json last) or its error.json."""
    from hwsim.api import manifest

    d = point_dir(out, point.key)
    d.mkdir(parents=True, exist_ok=True)
    for stale in list(d.glob(".*.tmp")):   # left by a sweep killed while writing this point
        stale.unlink(missing_ok=True)
    if result.ok:
        write_run(d, manifest(point.spec, point.seed, None), result.curve, result.summary)
        (d / ERROR_FILE).unlink(missing_ok=True)
    else:
        from hwsim import __version__

        atomic_write(d / ERROR_FILE, dump_json({
            "error": result.error, "point": point.index, "values": point.values, "seed": point.seed,
            "key": point.key, "spec_hash": point.spec.spec_hash, "hwsim_version": __version__,
            "traceback": result.traceback}))
