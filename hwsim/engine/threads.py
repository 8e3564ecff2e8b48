"""How many row chunks the kernel blocks run with: one core, or the parallel variant when it is
measured to be faster (issue 18, "never collapse").

The sign and node-fold paths split rows over numba threads (hwsim.kernels.parallel_rows):
OpenMP regions whose threads spin at a barrier. On an idle machine the second core pays; with
another CPU-bound process on the machine a thread of the region waits for a time slice at every
barrier and a step can take a scheduler quantum (measured on B2: 84 steps/s with two threads
against 21,684 on one). Which one wins depends on the machine at the moment, so it is measured,
not guessed, and results never depend on it (tests/test_parallel_rows.py): the choice may
change between any two blocks.

The policy (``ChunkPolicy``), driven by ``Simulation.advance``, which times every kernel block
with time.perf_counter and reports it (``record``):

  * Start on one core (``chunks = None``: no parallel region compiled). The policy's clock is
    the kernel time it was told about, so a fake clock is just the seconds a test reports.
  * Probe the parallel variant only when it can pay: more than one usable chunk (the numba
    threads, the usable CPUs, not in a child forked after OpenMP ran, not in trace mode), and,
    before the first probe, a projected remaining kernel time on one core (remaining steps x
    the measured time per step) above ``compile_bar`` (30 s): the parallel variant's first call
    may compile for tens of seconds on a cold cache. Its compilation is timed apart by
    ``Simulation.advance`` (a 1-step block attributed to ``compile_seconds``, never to a rate).
  * A probe is short and cut short: blocks of 1 step (the region's threads wake up: not
    measured), then 2, 4, 8... steps until ``probe_seconds`` (5 ms) worth of steps at the
    one-core rate measured just before have been timed. It stops at once, as a failure, when
    it has cost more than ``abort_seconds`` (3 ms) beyond what one core would have taken for
    the same steps. Because the sub-blocks double, the one that crosses that bound takes at
    most about as long as all the others, so a collapsed probe costs a few milliseconds plus
    one collapsed step.
  * Keep the faster: parallel if its time per step is below (1 - ``margin``) x the one-core
    rate, else back to one core. On parallel, every block is at most ``block_seconds`` (5 ms)
    worth of steps and is checked against the one-core rate: one slower block (contention
    began) returns to one core at once, as a failed probe. A parallel stretch is re-checked
    every ``recheck`` seconds (doubling up to 60 s while it keeps winning): a fresh one-core
    measurement, then a probe.
  * After a failure, the next probe waits ``retry`` x 2^(failures - 1) seconds of kernel time
    (1 s, 2 s, 4 s, ... up to ``max_retry``), and never starts while the losses of all probes
    so far exceed ``loss_budget`` (2 %) of the kernel time: the losses are bounded by 2 % of
    the run plus one probe, even if every probe collapses.

Per-block costs: a kernel call costs about 35 us beyond its steps on B2 (the call and the
block-end flush of the deferred integration), so 5 ms parallel blocks cost under 1 %; one-core
blocks are as long as the caller asks unless a probe falls due.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ONE_CORE = None     # the kernels' ``chunks`` for one core with no parallel region


@dataclass(frozen=True)
class Block:
    """The next kernel block: ``chunks`` (None: one core) and at most ``steps`` steps."""
    chunks: int | None
    steps: int


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


SERIAL, PROBE, PARALLEL = "serial", "probe", "parallel"
UNBOUNDED = 2**62


class ChunkPolicy:
    """The chunk choice of one run in one process (see the module docstring). Not run state:
    rebuilt with the scratch, never saved; results do not depend on it."""

    def __init__(self, max_chunks: int, *, compile_bar: float = 30.0, probe_seconds: float = 0.005,
                 abort_seconds: float = 0.003, block_seconds: float = 0.005, margin: float = 0.03,
                 retry: float = 1.0, max_retry: float = 300.0, recheck: float = 1.0,
                 max_recheck: float = 60.0, loss_budget: float = 0.02, calibration_steps: int = 100):
        if int(max_chunks) < 1:
            raise ValueError(f"max_chunks must be at least 1 (got {max_chunks})")
        for name, value in (("compile_bar", compile_bar), ("probe_seconds", probe_seconds),
                            ("abort_seconds", abort_seconds), ("block_seconds", block_seconds),
                            ("retry", retry), ("max_retry", max_retry), ("recheck", recheck),
                            ("max_recheck", max_recheck), ("loss_budget", loss_budget)):
            if not value > 0:
                raise ValueError(f"{name} must be positive (got {value})")
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1) (got {margin})")
        self.max_chunks = int(max_chunks)
        self.compile_bar, self.probe_seconds, self.abort_seconds = compile_bar, probe_seconds, abort_seconds
        self.block_seconds, self.margin = block_seconds, margin
        self.retry, self.max_retry, self.recheck_base, self.max_recheck = retry, max_retry, recheck, max_recheck
        self.loss_budget, self.calibration_steps = loss_budget, int(calibration_steps)
        self.mode = SERIAL
        self.now = 0.0              # kernel seconds recorded so far: the policy's clock
        self.serial_steps = 0       # the one-core measurement: steps and seconds since it restarted
        self.serial_time = 0.0
        self.serial_spp = None      # seconds per step on one core, as last measured
        self.parallel_spp = None
        self.probed = False         # a probe ran (the parallel variant is compiled in this run)
        self.failures = 0
        self.next_probe = 0.0
        self.recheck = recheck
        self.recheck_at = None
        self.loss = 0.0             # time the probes and parallel blocks lost against one core
        self.probe_steps = self.probe_time = 0
        self.probe_next = 1
        self.probe_excess = 0.0
        self.warming = False
        self.probes = 0             # counts, for reports and tests
        self.switches_back = 0

    # ------------------------------------------------------------------ decisions
    def _may_probe(self, remaining_steps: int) -> bool:
        if self.max_chunks < 2 or self.serial_spp is None or self.now < self.next_probe:
            return False
        if self.serial_time < self.probe_seconds:       # a fresh one-core rate first
            return False
        if self.loss > self.loss_budget * self.now:
            return False
        return self.probed or remaining_steps * self.serial_spp > self.compile_bar

    def plan(self, remaining_steps: int = UNBOUNDED) -> Block:
        """The next block, for a run with about ``remaining_steps`` steps to go."""
        if self.mode == SERIAL and self._may_probe(remaining_steps):
            self.mode = PROBE
            self.probes += 1
            self.probe_steps, self.probe_time, self.probe_next = 0, 0.0, 1
            self.warming = True
        if self.mode == PROBE:
            return Block(self.max_chunks, self.probe_next)
        if self.mode == PARALLEL:
            return Block(self.max_chunks, max(1, int(self.block_seconds / self.parallel_spp)))
        if self.serial_spp is None:
            return Block(ONE_CORE, self.calibration_steps)
        if self.max_chunks < 2:
            return Block(ONE_CORE, UNBOUNDED)
        # Return when a probe falls due (or the one-core measurement is fresh enough for it).
        wait = max(self.next_probe - self.now, self.probe_seconds - self.serial_time,
                   self.loss / self.loss_budget - self.now, 0.0)
        probe_len = self.probe_seconds / self.serial_spp
        if not self.probed and remaining_steps * self.serial_spp <= self.compile_bar:
            return Block(ONE_CORE, UNBOUNDED)
        return Block(ONE_CORE, max(1, int(max(wait / self.serial_spp, probe_len))))

    # ------------------------------------------------------------------ measurements
    def record(self, chunks: int | None, steps: int, seconds: float) -> None:
        """A kernel block of ``steps`` steps with ``chunks`` took ``seconds`` (a block that
        compiled is not reported)."""
        if steps <= 0:
            return
        seconds = max(float(seconds), 0.0)
        self.now += seconds
        if chunks is ONE_CORE or chunks == 1:
            self._serial(steps, seconds)
        elif self.mode == PROBE:
            self._probe(steps, seconds)
        elif self.mode == PARALLEL:
            self._parallel(steps, seconds)

    def _serial(self, steps, seconds):
        if self.serial_time > 1.0:          # keep the one-core rate recent
            self.serial_steps, self.serial_time = 0, 0.0
        self.serial_steps += steps
        self.serial_time += seconds
        self.serial_spp = self.serial_time / self.serial_steps

    def _probe(self, steps, seconds):
        self.probed = True
        excess = seconds - steps * self.serial_spp
        self.loss += max(excess, 0.0)
        if self.warming:            # the region's threads waking: not part of the rate
            self.warming = False
            self.probe_excess = max(excess, 0.0)
        else:
            self.probe_steps += steps
            self.probe_time += seconds
            self.probe_excess += excess
        self.probe_next = min(2 * self.probe_next, max(1, int(self.probe_seconds / self.serial_spp)))
        if self.probe_excess > self.abort_seconds:
            self._fail()
            return
        if self.probe_time >= self.probe_seconds or self.probe_steps * self.serial_spp >= self.probe_seconds:
            spp = self.probe_time / self.probe_steps
            if spp < (1.0 - self.margin) * self.serial_spp:
                self.mode, self.parallel_spp, self.failures = PARALLEL, spp, 0
                self.recheck_at = self.now + self.recheck
            else:
                self._fail()

    def _parallel(self, steps, seconds):
        spp = seconds / steps
        self.loss += max(seconds - steps * self.serial_spp, 0.0)
        if spp > self.serial_spp:           # slower than one core: contention began
            self.switches_back += 1
            self.recheck = self.recheck_base
            self._fail()
            return
        self.parallel_spp = spp
        if self.now >= self.recheck_at:     # a fresh one-core rate, then a probe
            self.recheck = min(2 * self.recheck, self.max_recheck)
            self.mode = SERIAL
            self.serial_steps, self.serial_time = 0, 0.0
            self.next_probe = self.now

    def _fail(self):
        self.failures += 1
        self.mode = SERIAL
        self.next_probe = self.now + min(self.retry * 2 ** (self.failures - 1), self.max_retry)
        self.serial_steps, self.serial_time = 0, 0.0   # measure one core afresh before the next
