"""When the observer looks (in steps or in chip time), and where the target was crossed.

Cadence. ``firmware.evaluation`` observes every ``every_steps`` steps, or in chip time: every
``every_cycles`` cycles, every ``every_seconds`` seconds (rounded up to whole cycles) or at
about ``points`` points over the run. A chip-time observation falls after the first step that
ends at or after each multiple of the interval; a step is not split (its cycles vary with
input loads and update stalls, so the step is found by running, not by dividing).

Crossing. When an observation first finds test accuracy at or above the target, the
interval since the previous observation is replayed from the run state kept there (runs are
deterministic, so the replay is exact), observing more finely, in two stages:

1. a scan: observations at least every 1 % of the chip time so far (``RESOLUTION``), at most
   ``SCAN_PROBES`` of them (a longer interval gets wider spacing), up to the first at or above
   the target: an above-target stretch that lasts longer than the spacing is not skipped;
2. within that bracket, bisection on steps down to one step: the step located is at or above
   the target and the step before it below.

The crossing is that step: its end is the time to target, and the resolution is the step's
own cycles (the target was crossed during it). Accuracy is not monotone: an excursion above
the target shorter than the scan's spacing, before the located step, is not seen; a run
observed every step would report it. The run then continues from the state it had at the
observation, bit for bit as without the refinement: the probes are not in the curve, they
consume no chip time, and with observation read noise they draw their own noise (read index
``PROBE_READ_INDEX + step``, apart from the curve's). Cost: at most one observation interval
replayed, at most about 100 ln(1 + interval / time so far) (and SCAN_PROBES) + log2(bracket
steps) test-set passes, and a copy of the run state at each observation until the target is
reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


RESOLUTION = 0.01     # the scan observes at least every 1 % of the chip time so far
SCAN_PROBES = 128     # most scan observations over one replayed interval
PROBE_READ_INDEX = 2**61   # the probes' observation read-noise indices (the curve's: 0, 1, ...)

# Crossing.found_int / found_float entries.
F_STEP, F_CYCLE, F_SAMPLES, F_RESOLUTION, F_PROBES, F_REPLAYED, F_OBSERVED_STEP, F_OBSERVED_CYCLE, \
    F_REFINED = range(9)
F_ACCURACY, F_COST, F_ENERGY = range(3)


@dataclass(frozen=True)
class Cadence:
    """Observation every ``steps`` steps, or (``cycles`` set) every ``cycles`` chip cycles."""

    steps: int
    cycles: int | None
    text: str               # how summary.json states it

    def next_observation(self, step: int, cycle: int, step_budget: int) -> tuple[int, int | None]:
        """(step, cycle) of the next observation after (step, cycle): with a chip-time cadence
        the step is the step budget and the observation falls after the first step that ends
        at or after the cycle."""
        if self.cycles is None:
            return min((step // self.steps + 1) * self.steps, step_budget), None
        return step_budget, (cycle // self.cycles + 1) * self.cycles


def cadence_for(evaluation, clock_period: float, budget: int, max_steps: int | None,
                step_cycles: int) -> Cadence:
    """The cadence a run's ``firmware.evaluation`` asks for. ``budget`` is the run's cycle
    budget, ``step_cycles`` the cycles of a step without loads or stalls (for ``points``
    when ``max_steps`` ends the run first)."""
    ev = evaluation
    if ev.every_cycles is not None:
        return Cadence(ev.every_steps, int(ev.every_cycles), f"every {ev.every_cycles} cycles")
    if ev.every_seconds is not None:
        # Rounded up to whole cycles (a relative 1e-9 absorbs the float of '10 us' / 1 ns).
        cycles = max(1, math.ceil(ev.every_seconds / clock_period * (1 - 1e-9)))
        return Cadence(ev.every_steps, cycles, f"every {ev.every_seconds:g} s ({cycles} cycles)")
    if ev.points is not None:
        span = budget if max_steps is None else min(budget, max_steps * step_cycles)
        cycles = max(1, math.ceil(span / ev.points))
        return Cadence(ev.every_steps, cycles, f"{ev.points} points (every {cycles} cycles)")
    return Cadence(ev.every_steps, None, f"every {ev.every_steps} steps")


class Crossing:
    """Where the run crossed its target (run state: checkpointed and pickled with the run),
    and the kernel's run state at the last observation below the target (``marked``, the
    replay's starting point; empty arrays when refinement is off)."""

    def __init__(self, members: dict, refine: bool):
        self.refine = bool(refine)
        self.found_int = np.full(9, -1, dtype=np.int64)
        self.found_float = np.full(3, np.nan)
        self.marked = {name: np.zeros_like(a) if refine else np.zeros((0,) * a.ndim, dtype=a.dtype)
                       for name, a in members.items()}

    @property
    def found(self) -> bool:
        return bool(self.found_int[F_STEP] >= 0)

    def summary(self) -> dict:
        """The *_to_target figures of summary.json and how they were located (empty: not found)."""
        if not self.found:
            return {"cycles_to_target_resolution": None}
        i, f = self.found_int, self.found_float
        return {
            "cycles_to_target": int(i[F_CYCLE]),
            "steps_to_target": int(i[F_STEP]),
            "samples_to_target": int(i[F_SAMPLES]),
            "energy_joules_to_target": float(f[F_ENERGY]),
            "cycles_to_target_resolution": int(i[F_RESOLUTION]),
            "target_crossing": {
                "located_by": "refinement" if i[F_REFINED] else "observation",
                "test_accuracy": float(f[F_ACCURACY]),
                "test_cost": float(f[F_COST]),
                "observed_step": int(i[F_OBSERVED_STEP]),
                "observed_cycle": int(i[F_OBSERVED_CYCLE]),
                "probes": int(i[F_PROBES]),
                "replayed_steps": int(i[F_REPLAYED]),
            },
        }


# --------------------------------------------------------------------------- the run's state


def kernel_state(sim) -> dict:
    """A copy of the kernel's run state (every run member but the crossing's own)."""
    from hwsim.engine.simulation import KERNEL_MEMBERS

    return {name: sim.member(path).copy() for name, path in KERNEL_MEMBERS}


def load_kernel_state(sim, state: dict) -> None:
    from hwsim.engine.simulation import KERNEL_MEMBERS

    for name, path in KERNEL_MEMBERS:
        sim.member(path)[...] = state[name]      # in place: theta stays the devices' array
    sim.scratch.zmeta[:] = -1   # the products cache is keyed by update count: recomputed, never stale


def mark(sim) -> None:
    """Keep the kernel's state at this observation (below the target) for a replay."""
    from hwsim.engine.simulation import KERNEL_MEMBERS

    for name, path in KERNEL_MEMBERS:
        sim.crossing.marked[name][...] = sim.member(path)


def advance_to_cycle(sim, cycle: int, last_step: int) -> None:
    """Run to the first step that ends at or after ``cycle`` (at most to ``last_step``)."""
    sim.advance(last_step - sim.step, cycle_limit=min(sim.budget, cycle - 1))
    if sim.cycles < cycle and sim.step < last_step:
        sim.advance(1)


# --------------------------------------------------------------------------- the crossing


def record_crossing(sim, point, target: float, previous_cycle: int | None, refine: bool) -> None:
    """``point`` is the first observation at or above ``target``; ``previous_cycle`` the
    previous observation's cycle (None: this is the run's first). Locate the crossing (when
    ``refine`` and there is an interval to replay) and record it in ``sim.crossing``."""
    found = sim.crossing
    i, f = found.found_int, found.found_float
    i[F_OBSERVED_STEP], i[F_OBSERVED_CYCLE] = point.step, point.cycle
    step, cycle, samples = point.step, point.cycle, point.samples_seen
    acc, cost, energy = point.test_accuracy, point.test_cost, point.energy_joules
    resolution = point.cycle - previous_cycle if previous_cycle is not None else 0
    probes = replayed = 0
    refined = refine and previous_cycle is not None
    if refined:
        located = _replay(sim, point, target)
        step, cycle, samples, acc, cost, energy, resolution, probes, replayed = located
    i[F_STEP], i[F_CYCLE], i[F_SAMPLES], i[F_RESOLUTION] = step, cycle, samples, resolution
    i[F_PROBES], i[F_REPLAYED], i[F_REFINED] = probes, replayed, int(refined)
    f[F_ACCURACY], f[F_COST], f[F_ENERGY] = acc, cost, energy
    if sim.trace is not None:
        sim.trace.record_target_crossing(cycle, step, resolution)


def _replay(sim, hit, target: float) -> tuple:
    """Replay from the marked state to ``hit`` (the observation at the target); the run's
    state is put back as it was. Returns the located step's (step, cycle, samples, accuracy,
    test cost, energy, resolution in cycles, probes, steps replayed)."""
    now = kernel_state(sim)
    trace, sim.trace = sim.trace, None        # the replay is not the run's history
    replayed = 0
    probes = 0
    try:
        load_kernel_state(sim, sim.crossing.marked)

        def probe():
            nonlocal probes
            probes += 1
            return _probe(sim)

        # The upper end of the bracket: a located point (step, cycle, samples, acc, cost, energy).
        upper = (hit.step, hit.cycle, hit.samples_seen, hit.test_accuracy, hit.test_cost, hit.energy_joules)
        # Stage 1: scan at 1 % of the chip time so far (at most SCAN_PROBES observations).
        below = sim.crossing.marked
        widest = -(-(hit.cycle - sim.cycles) // SCAN_PROBES)
        while True:
            nxt = sim.cycles + max(1, widest, int(RESOLUTION * sim.cycles))
            if nxt >= hit.cycle:
                break
            before = sim.step
            advance_to_cycle(sim, nxt, hit.step)
            replayed += sim.step - before
            if sim.step >= hit.step:
                break
            located = probe()
            if located[3] >= target:
                upper = located
                break
            below = kernel_state(sim)
        # Stage 2: bisection on steps, down to one step.
        load_kernel_state(sim, below)
        low_state, low_step, low_cycle = below, sim.step, sim.cycles
        while upper[0] - low_step > 1:
            mid = (low_step + upper[0]) // 2
            load_kernel_state(sim, low_state)
            sim.advance(mid - low_step)
            replayed += mid - low_step
            located = probe()
            if located[3] >= target:
                upper = located
            else:
                low_state, low_step, low_cycle = kernel_state(sim), sim.step, sim.cycles
    finally:
        load_kernel_state(sim, now)
        sim.trace = trace
    return (*upper, upper[1] - low_cycle, probes, replayed)


def _probe(sim) -> tuple:
    """The observer's test accuracy and cost now, as (step, cycle, samples, accuracy, test
    cost, energy); nothing recorded."""
    from hwsim.engine.simulation import accuracy
    from hwsim.network import batch

    sc = sim.run_spec.scenario
    with np.errstate(all="ignore"):
        y = sim.chip_outputs(sim.data.x_test, observation_index=PROBE_READ_INDEX + sim.step)
        cost = float(np.mean(batch.cost_batch(y, sim.data.y_test, sc.cost)))
        acc = accuracy(y, sim.data.y_test, sc.accuracy)
    return (sim.step, sim.cycles, sim.samples_seen, acc, cost, sum(sim.energy().values()))
