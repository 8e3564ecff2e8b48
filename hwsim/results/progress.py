"""Progress bars for runs and sweeps (rich, on stderr) and the first Ctrl-C's clean stop.

A run's bar shows the cycles simulated against the budget, the current test accuracy and an
ETA (to the budget: a run that reaches its target stops earlier). A sweep's bar shows the
points done, the cycles they simulated, the last point's accuracy, failures and an ETA.
Both are off when stderr is not a terminal or with --quiet.
"""

from __future__ import annotations

import signal
import sys
import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def bar_wanted(quiet: bool, stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    return not quiet and hasattr(stream, "isatty") and stream.isatty()


def budget_cycles(run, max_cycles: int | None = None) -> int:
    """The most cycles a run can take: its cycle budget, or its step budget in cycles.
    ``run``: a hwsim.run_plan.ResolvedRun (a RunSpec is resolved here when it has a step
    budget, the one case that needs the chip's timing)."""
    from hwsim.run_plan import ResolvedRun, resolve

    spec = run.spec if isinstance(run, ResolvedRun) else run
    budget = max_cycles if max_cycles is not None else spec.scenario.max_cycles
    if spec.scenario.max_steps is not None:
        plan = run if isinstance(run, ResolvedRun) else resolve(run)
        budget = min(budget, spec.scenario.max_steps * plan.interval)
    return int(budget)


def _console() -> Console:
    return Console(stderr=True)


class RunProgress:
    """``progress(sim, point)`` for :func:`hwsim.api.run`, used as a context manager.

    Inside it, the first Ctrl-C (SIGINT) or SIGTERM asks the run to stop at its next
    resumable point (``stop_requested``, which ``hwsim.api.run(should_stop=...)`` polls): the
    run writes a checkpoint and ends with status ``interrupted``, keeping its curve so far; a
    second one stops at once (the last checkpoint stays). ``signal_number`` says which came.
    """

    def __init__(self, total_cycles: int, show: bool, label: str = "training"):
        self.total = max(1, int(total_cycles))
        self.show = show
        self.label = label
        self.stop_requested = False
        self.signal_number: int | None = None
        self._bar: Progress | None = None
        self._task = None
        self._previous_handler = None
        self._previous_term = None
        self._best = 0.0                # best test accuracy observed (the at-chance warning)
        self._chance_warned = False

    def __enter__(self):
        if self.show:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:,.0f}/{task.total:,.0f} cycles"),
                                 TextColumn("test accuracy {task.fields[accuracy]}"),
                                 TimeRemainingColumn(), console=_console(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, accuracy="-")
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
            self._previous_term = signal.signal(signal.SIGTERM, self._on_sigint)
        return self

    def _on_sigint(self, signum, frame):
        self.stop_requested = True
        if self.signal_number is None:
            self.signal_number = signum
        # The second signal interrupts at once.
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            again = "Ctrl-C again to stop at once"
        else:
            signal.signal(signum, signal.SIG_DFL)
            again = "SIGTERM again to stop at once"
        print(f"hwsim: stopping: writing a checkpoint and the results so far ({again})",
              file=sys.stderr, flush=True)

    def _warn_if_at_chance(self, sim, point) -> None:
        """Once: a classifier whose best test accuracy is still near chance (at most 1.5x it)
        after a quarter of the budget gets a pointer to what to check."""
        n_classes = getattr(getattr(sim, "data", None), "n_classes", 0) or 0
        if self._chance_warned or n_classes < 2 or not point.test_accuracy == point.test_accuracy:
            return
        chance = 1.0 / n_classes
        self._best = max(self._best, point.test_accuracy)
        if self._best <= 1.5 * chance and point.cycle >= 0.25 * self.total:
            self._chance_warned = True
            print(f"hwsim: warning: test accuracy is still near chance (best {self._best:.1%}, chance "
                  f"{chance:.1%}) after {point.cycle / self.total:.0%} of the budget; see 'My chip does not "
                  "learn: what to check' in docs/tutorial.md", file=sys.stderr, flush=True)

    def __call__(self, sim, point) -> None:
        self._warn_if_at_chance(sim, point)
        if self._bar is not None:
            self._bar.update(self._task, completed=min(point.cycle, self.total),
                             accuracy=f"{point.test_accuracy:.3f}")
        if self.stop_requested:
            from hwsim.api import RunInterrupted

            raise RunInterrupted()

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)
        return False


class SweepProgress:
    """``progress`` for :func:`hwsim.sweep.run_sweep`: a bar (``mode="bar"``), one line per
    point (``"lines"``, when stderr is not a terminal) or nothing (``"off"``)."""

    def __init__(self, mode: str = "bar", stream=None):
        self.mode = mode
        self.stream = stream if stream is not None else sys.stdout
        self.cycles = 0
        self.failed = 0
        self._bar: Progress | None = None
        self._task = None

    def start(self, to_run: int, finished_before: int) -> None:
        if self.mode == "bar" and to_run:
            self._bar = Progress(TextColumn("points"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[cycles]:,} cycles simulated"),
                                 TextColumn("last accuracy {task.fields[accuracy]}"),
                                 TextColumn("{task.fields[failed]}"), TimeRemainingColumn(),
                                 console=_console(), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("points", total=to_run, cycles=0, accuracy="-", failed="")

    def point_done(self, point, result) -> None:
        if result.ok:
            s = result.summary
            self.cycles += int(s.get("cycles_simulated") or 0)
            acc = s.get("final_test_accuracy")
            accuracy = f"{acc:.3f}" if isinstance(acc, float) else "-"
        else:
            self.failed += 1
            accuracy = "-"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, cycles=self.cycles, accuracy=accuracy,
                             failed=f"{self.failed} failed" if self.failed else "")
            if self._bar.finished:
                self.close()        # the last point is in: the rest is closing the cluster
        elif self.mode == "lines":
            what = (f"{result.summary['status']}, final test accuracy {accuracy}" if result.ok
                    else f"FAILED: {result.error}")
            print(f"  point {point.index} ({point.label()}): {what}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
