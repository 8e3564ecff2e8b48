"""The run record: summary.json (what a run did) and manifest.json (what it was asked to do).

One :class:`Summary` dataclass holds the figures of every run, chip (MGD) or backprop
baseline, and :meth:`Summary.to_dict` is the one place that lays out summary.json: its keys,
their order and which of them are written only when they apply. A dataclass rather than a
set of functions each adding keys to a dict, because the schema is then a single declaration
that both kinds of run must fill (a field either run forgets is a TypeError at construction,
not a key silently missing from one kind of summary.json), and because the order of the
keys, which the golden digests of tests/test_golden_runs.py pin byte for byte, is written
down once instead of following from the order of ``dict.update`` calls.

Both runs fill the one schema. A field a run does not write holds :data:`ABSENT` (left
out of the file), which is not the same as None (written as null: a figure that applies but
has no value, such as cycles_to_target of a run that never reached its target). A backprop
run has no chip: it writes its chip-time and energy *_to_target figures as null and leaves
out the chip's figures (steps, cycles, time and energy breakdowns, pulses, latency, the
observation cadence, not_modelled, warnings), exactly the keys it has always written: its
summary.json is pinned by a golden digest (tests/test_golden_runs.py, case "backprop") that
may change only on purpose. Writing those keys too (null, with not_modelled naming energy,
chip time and devices) is then a change of :func:`backprop_summary` alone. A backprop
summary adds three keys of its own (``algorithm``, ``updates_to_target``, ``batch``); an
MGD summary has no ``algorithm`` key (tests and earlier run directories rely on that).

Kernel counters are read only by name, through ``Simulation.counts()``; energy and time come
from hwsim.chip.energy.energy_breakdown and hwsim.chip.timing.time_breakdown of those
counts. Nothing here knows the kernel's state layout.

manifest.json is built here as well (:func:`manifest`) and read back through the pydantic
model :class:`Manifest`: the fields a resume needs are checked by type and range, and an
error names the file and the field. It lives here, not in rundir.py, because reading it back
raises hwsim.engine.checkpoint.CheckpointError and the checkpoint module imports rundir.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pydantic

from hwsim import __version__
from hwsim.chip.energy import energy_breakdown
from hwsim.chip.timing import time_breakdown
from hwsim.engine.checkpoint import CheckpointError
from hwsim.advice import not_modelled, spec_warnings
from hwsim.spec.errors import Problem
from hwsim.spec.limits import NotARegularFile, check_option, open_regular, range_text, short


class _Absent:
    """The value of a summary field a run does not write (see the module docstring)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclass(frozen=True)
class BackpropFigures:
    """The keys only a backprop baseline writes."""

    updates_to_target: int | None
    batch: int
    algorithm: str = "backprop"


@dataclass(frozen=True)
class Summary:
    """Every figure of summary.json, in its order (see :meth:`to_dict`). ``None`` is written
    as null, :data:`ABSENT` is left out (``target_crossing`` and ``divergence`` are absent
    unless the run found a crossing or diverged); ``backprop`` holds a baseline's own keys."""

    status: str
    target_accuracy: float
    cycles_to_target: int | None
    seconds_to_target: float | None
    energy_joules_to_target: float | None
    steps_to_target: int | None
    samples_to_target: int | None
    final_test_accuracy: float | None
    best_test_accuracy: float | None
    final_test_cost: float | None
    steps_simulated: int
    cycles_simulated: int | None
    seconds_simulated: float | None
    samples_seen: int
    updates: int
    baseline_measurements: int | None
    n_params: int
    n_perturbed: int | None
    observation_interval_steps: int | None
    clock_period_seconds: float | None
    wall_seconds: float              # excludes compile_seconds
    seed: int
    spec_hash: str
    observation_cadence: str
    observations: int
    observation_interval_cycles: int | None
    cycles_to_target_resolution: int | None
    energy_joules: float | None
    energy_breakdown_joules: dict | None
    not_modelled: list
    warnings: list
    time_breakdown_cycles: dict | None
    inference_latency_cycles: int | None
    initiation_interval_cycles: int | None
    device_pulses_total: int | None
    device_pulses_max: int | None
    device_pulses_mean: float | None
    endurance_used_max: float | None
    target_crossing: dict | _Absent = ABSENT
    divergence: dict | _Absent = ABSENT
    backprop: BackpropFigures | None = None
    hwsim_version: str = field(default=__version__)
    # The code path that ran: the MGD kernel path (hwsim.engine.paths) or "backprop".
    kernel_path: str | _Absent = ABSENT
    # numba's compilation (or cache load) of the kernels this run called, in its process
    compile_seconds: float | _Absent = ABSENT

    def to_dict(self) -> dict:
        """summary.json as a dict, keys in the order the file has always had them."""
        bp = self.backprop
        out = {"status": self.status}
        if bp is not None:
            out["algorithm"] = bp.algorithm
        out.update(target_accuracy=self.target_accuracy, cycles_to_target=self.cycles_to_target,
                   seconds_to_target=self.seconds_to_target,
                   energy_joules_to_target=self.energy_joules_to_target,
                   steps_to_target=self.steps_to_target, samples_to_target=self.samples_to_target)
        if bp is not None:
            out["updates_to_target"] = bp.updates_to_target
        out.update(final_test_accuracy=self.final_test_accuracy, best_test_accuracy=self.best_test_accuracy,
                   final_test_cost=self.final_test_cost, steps_simulated=self.steps_simulated,
                   cycles_simulated=self.cycles_simulated, seconds_simulated=self.seconds_simulated,
                   samples_seen=self.samples_seen, updates=self.updates)
        if bp is not None:
            out["batch"] = bp.batch
        out.update(baseline_measurements=self.baseline_measurements, n_params=self.n_params,
                   n_perturbed=self.n_perturbed, observation_interval_steps=self.observation_interval_steps,
                   clock_period_seconds=self.clock_period_seconds, wall_seconds=self.wall_seconds,
                   compile_seconds=self.compile_seconds,
                   seed=self.seed, spec_hash=self.spec_hash, hwsim_version=self.hwsim_version,
                   observation_cadence=self.observation_cadence, observations=self.observations,
                   observation_interval_cycles=self.observation_interval_cycles,
                   cycles_to_target_resolution=self.cycles_to_target_resolution)
        out["target_crossing"] = self.target_crossing
        out.update(energy_joules=self.energy_joules, energy_breakdown_joules=self.energy_breakdown_joules,
                   not_modelled=self.not_modelled, warnings=self.warnings,
                   time_breakdown_cycles=self.time_breakdown_cycles,
                   inference_latency_cycles=self.inference_latency_cycles,
                   initiation_interval_cycles=self.initiation_interval_cycles,
                   device_pulses_total=self.device_pulses_total, device_pulses_max=self.device_pulses_max,
                   device_pulses_mean=self.device_pulses_mean, endurance_used_max=self.endurance_used_max)
        out["divergence"] = self.divergence
        out["kernel_path"] = self.kernel_path
        return {key: value for key, value in out.items() if value is not ABSENT}


def final_status(status: str, reached) -> str:
    """How a run ended: a run still running when it stopped used up its budget; one that
    crossed the target reached it, unless it diverged or was interrupted (those say how it
    ended whatever it reached on the way; the *_to_target figures still record the crossing,
    and an interrupted run continues with --resume)."""
    if status == "running":
        status = "budget_exhausted"
    if status not in ("diverged", "interrupted") and reached is not None:
        status = "reached_target"
    return status


def _curve_figures(curve, target: float) -> tuple:
    """(first point at or above the target or None, final accuracy, best accuracy, final cost)."""
    reached = next((p for p in curve if p.test_accuracy >= target), None)
    accs = [p.test_accuracy for p in curve if not math.isnan(p.test_accuracy)]
    return (reached, curve[-1].test_accuracy if curve else None, max(accs) if accs else None,
            curve[-1].test_cost if curve else None)


def chip_summary(sim, spec) -> Summary:
    """The summary of an MGD run on the chip ``sim`` (a hwsim.engine.simulation.Simulation,
    finished or stopped) of the run spec ``spec``."""
    sc, period = spec.scenario, spec.chip.clock_period
    counts = sim.counts()
    reached, final_acc, best_acc, final_cost = _curve_figures(sim.curve, sc.target_accuracy)
    # The *_to_target figures of the first observation at the target, replaced by those of
    # the located crossing when the observer found one.
    to_target = {"cycles_to_target": reached.cycle if reached else None,
                 "seconds_to_target": reached.cycle * period if reached else None,
                 "energy_joules_to_target": reached.energy_joules if reached else None,
                 "steps_to_target": reached.step if reached else None,
                 "samples_to_target": reached.samples_seen if reached else None,
                 "observation_interval_steps": spec.firmware.evaluation.every_steps}
    to_target.update(sim.observation_summary())
    pulses = sim.devices.pulses
    pulses_total = int(pulses.sum())
    energy = energy_breakdown(spec.chip, sim.layout, counts, pulses_total, sim.n_perturbed)
    missing = not_modelled(spec.chip)
    endurance = spec.chip.device.endurance
    no_energy = "energy" in missing   # no energy table: no joules measured, null and not 0 J
    return Summary(
        status=final_status(sim.status, reached),
        target_accuracy=sc.target_accuracy,
        cycles_to_target=to_target["cycles_to_target"],
        seconds_to_target=to_target["seconds_to_target"],
        energy_joules_to_target=None if no_energy else to_target["energy_joules_to_target"],
        steps_to_target=to_target["steps_to_target"],
        samples_to_target=to_target["samples_to_target"],
        final_test_accuracy=final_acc, best_test_accuracy=best_acc, final_test_cost=final_cost,
        steps_simulated=counts["step"], cycles_simulated=counts["cycles"],
        seconds_simulated=counts["cycles"] * period, samples_seen=counts["samples"],
        updates=counts["updates"], baseline_measurements=counts["baselines"],
        n_params=sim.layout.n_params, n_perturbed=sim.n_perturbed,
        observation_interval_steps=to_target["observation_interval_steps"],
        clock_period_seconds=period, wall_seconds=round(sim.wall_seconds, 3),
        compile_seconds=round(getattr(sim, "compile_seconds", 0.0), 3), seed=sim.seed,
        spec_hash=spec.spec_hash,
        observation_cadence=to_target["observation_cadence"], observations=to_target["observations"],
        observation_interval_cycles=to_target["observation_interval_cycles"],
        cycles_to_target_resolution=to_target["cycles_to_target_resolution"],
        target_crossing=to_target.get("target_crossing", ABSENT),
        energy_joules=None if no_energy else sum(energy.values()),
        energy_breakdown_joules=None if no_energy else energy,
        not_modelled=missing, warnings=spec_warnings(spec),
        time_breakdown_cycles=time_breakdown(counts),
        inference_latency_cycles=sim.timing.latency, initiation_interval_cycles=sim.timing.interval,
        device_pulses_total=pulses_total, device_pulses_max=int(pulses.max(initial=0)),
        device_pulses_mean=float(pulses.mean()) if pulses.size else 0.0,
        endurance_used_max=float(pulses.max(initial=0)) / endurance if math.isfinite(endurance) else 0.0,
        divergence=ABSENT if sim.divergence is None else sim.divergence,
        kernel_path=sim.path.name)


def backprop_summary(spec, seed: int, curve, rows, *, n_params: int, batch: int,
                     blew_up: dict | None, wall_seconds: float) -> Summary:
    """The summary of a backprop baseline: ``curve`` its CurvePoints (steps are samples seen
    times tau_x), ``rows`` the BackpropPoints they come from (for the update counts),
    ``blew_up`` hwsim.firmware.backprop.divergence. The chip's figures are absent (see the
    module docstring); the chip-time *_to_target figures are null."""
    sc, fw = spec.scenario, spec.firmware
    reached, final_acc, best_acc, final_cost = _curve_figures(curve, sc.target_accuracy)
    reached_row = next((r for r in rows if r.test_accuracy >= sc.target_accuracy), None)
    divergence = ABSENT
    if blew_up:
        # The chip run's block (step of the curve's axis; no cycles on this baseline), with
        # the update and samples seen.
        divergence = {
            "step": blew_up["samples_seen"] * fw.tau_x, "cycle": None, "seconds": None, **blew_up,
            "hint": f"training blew up (NaN/inf in the {blew_up['quantity']}): lower firmware.eta "
                    f"(the learning rate, now {fw.eta:g})"}
    return Summary(
        status=final_status("diverged" if blew_up else "running", reached),
        target_accuracy=sc.target_accuracy,
        cycles_to_target=None, seconds_to_target=None, energy_joules_to_target=None,
        steps_to_target=ABSENT, samples_to_target=reached.samples_seen if reached else None,
        final_test_accuracy=final_acc, best_test_accuracy=best_acc, final_test_cost=final_cost,
        steps_simulated=ABSENT, cycles_simulated=ABSENT, seconds_simulated=ABSENT,
        samples_seen=rows[-1].samples_seen if rows else 0, updates=rows[-1].updates if rows else 0,
        baseline_measurements=ABSENT, n_params=n_params, n_perturbed=ABSENT,
        observation_interval_steps=ABSENT, clock_period_seconds=ABSENT,
        wall_seconds=round(wall_seconds, 3), seed=seed, spec_hash=spec.spec_hash,
        observation_cadence=ABSENT, observations=ABSENT, observation_interval_cycles=ABSENT,
        cycles_to_target_resolution=ABSENT, energy_joules=ABSENT, energy_breakdown_joules=ABSENT,
        not_modelled=ABSENT, warnings=ABSENT, time_breakdown_cycles=ABSENT,
        inference_latency_cycles=ABSENT, initiation_interval_cycles=ABSENT, device_pulses_total=ABSENT,
        device_pulses_max=ABSENT, device_pulses_mean=ABSENT, endurance_used_max=ABSENT,
        divergence=divergence,
        backprop=BackpropFigures(updates_to_target=reached_row.updates if reached_row else None, batch=batch),
        kernel_path="backprop")


# --------------------------------------------------------------------------- manifest.json

#: A manifest holds the resolved specs: a few KiB. Anything far larger is not one.
MAX_MANIFEST_BYTES = 16 * 2**20

_RESTART = "the run cannot be resumed: start it again with 'hwsim run SCENARIO --out DIR'"


def manifest(spec, seed: int, max_cycles: int | None, kernel_path: str | None = None) -> dict:
    """manifest.json of a run: the version, spec hash, seed, cycle budget (the scenario's
    unless given), the resolved specs and their warnings, and the kernel path that runs it
    (hwsim.engine.paths, or "backprop") when known."""
    return {"hwsim_version": __version__, "spec_hash": spec.spec_hash, "seed": seed,
            "max_cycles": max_cycles if max_cycles is not None else spec.scenario.max_cycles,
            "resolved": spec.resolved(), "warnings": spec_warnings(spec),
            **({} if kernel_path is None else {"kernel_path": kernel_path})}


class Manifest(pydantic.BaseModel):
    """The fields of manifest.json a resume reads (others, such as warnings, are kept as
    they are). Strict: a seed written as "3" or true is a damaged manifest, not a seed."""

    model_config = pydantic.ConfigDict(strict=True, extra="allow")

    hwsim_version: str
    spec_hash: str
    seed: int
    max_cycles: int
    resolved: dict


def _problem(path, key: str, message: str) -> Problem:
    return Problem(str(path), None, None, key, message)


def read_manifest_file(path: Path) -> dict:
    """DIR/manifest.json, every field checked (type, and the range of the spec field it
    stands for): a CheckpointError naming the file and the field otherwise."""
    from hwsim.spec.models import ScenarioSpec

    try:
        with open_regular(path, MAX_MANIFEST_BYTES) as f:
            man = json.loads(f.read(MAX_MANIFEST_BYTES + 1).decode())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, NotARegularFile) else f"unreadable ({short(str(exc))})"
        raise CheckpointError([_problem(path, "manifest.json", f"{reason}; {_RESTART}")]) from None
    if not isinstance(man, dict):
        raise CheckpointError([_problem(path, "manifest.json", f"not a JSON object (got "
                                        f"{type(man).__name__}; expected the run's manifest); {_RESTART}")])
    try:
        Manifest.model_validate(man)
    except pydantic.ValidationError as exc:
        # The first field in declaration order, as a reader checking them in turn would say.
        key = str(exc.errors()[0]["loc"][0])
        kind = Manifest.model_fields[key].annotation
        raise CheckpointError([_problem(path, key, f"missing or of the wrong type (got {short(man.get(key))}; "
                                        f"expected {kind.__name__}): not an hwsim run directory's "
                                        f"manifest; {_RESTART}")]) from None
    for key in ("seed", "max_cycles"):      # the spec fields they stand for
        if check_option(key, man[key], ScenarioSpec, key) is not None:
            raise CheckpointError([_problem(path, key, f"out of range (got {short(man[key])}; expected "
                                            f"{range_text(ScenarioSpec, key)}, as for the spec field "
                                            f"{key}): the manifest was edited or damaged; {_RESTART}")])
    return man
