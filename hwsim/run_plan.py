"""The run plan: a scenario file -> a validated :class:`RunSpec` -> a :class:`ResolvedRun`.

Loading a run has two stages. Stage 1 is the spec layer's (hwsim.spec.loader.read_run):
reading YAML, ``extends:``, presets, overrides, pydantic and the translation of its errors
into ``FILE:LINE:COL`` problems. Stage 2, here, needs facts of the model: the firmware's time
constants are written in cycles, seconds or 'full_period' and become whole steps through the
chip's cycles per inference (hwsim.chip.timing) on the scenario's network layout
(hwsim.network.layout); the amplitude schedule, the memory budget and whether the layers fit
the input need the same. Keeping stage 2 a level above spec/, network/ and chip/ lets the
spec layer import none of them, so that nothing in the model can depend on the loader.

Stage 2 lays the network out once and hands the layout to every check. :func:`resolve` then
builds the facts everything downstream of validation needs (layout, timing, P, the perturbed
count, the code period, the seed streams) once per run, as a :class:`ResolvedRun`: the
warnings, the progress budget, the CLI's trace-size check and the backprop run take it
instead of laying the network out again. The validated :class:`RunSpec` does not carry the
layout it was checked with: laying out takes well under a millisecond even for the CNN
presets, while a layout inside a pydantic model would take part in equality, pickles and
``model_copy`` (where an updated scenario would keep a stale layout).

The model packages are imported inside the functions, as the spec layer did before: a process
that only reads chip or firmware files (``hwsim show chips/x.yaml``) does not import numba.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from hwsim.seeds import Stream
from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.limits import format_bytes, memory_problem
from hwsim.spec.loader import (apply_overrides, cross_field_checks, output_layer_checks, problem, read_any,
                               read_run, validate_docs)
from hwsim.spec.models import TIME_CONSTANTS, ChipSpec, FirmwareSpec, ScenarioSpec, check_tau_range
from hwsim.spec.units import resolve_time_constant
from hwsim.spec.yaml_source import SourceDoc

if TYPE_CHECKING:
    from hwsim.chip.timing import InferenceTiming
    from hwsim.network.layout import NetworkLayout


class RunSpec(BaseModel):
    """The fully resolved specs of one run (what goes into manifest.json): validated, the
    firmware's time constants in whole steps on this chip, every cross check passed. Made here
    (stage 2), never by the spec layer."""

    scenario: ScenarioSpec
    chip: ChipSpec
    firmware: FirmwareSpec

    def resolved(self) -> dict:
        return {"scenario": self.scenario.model_dump(mode="json"),
                "chip": self.chip.model_dump(mode="json"),
                "firmware": self.firmware.model_dump(mode="json")}

    @property
    def spec_hash(self) -> str:
        """sha256 of the resolved specs without the seed (the seed is recorded beside it)."""
        content = self.resolved()
        content["scenario"] = {k: v for k, v in content["scenario"].items() if k != "seed"}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_overrides(self, overrides: dict[str, Any]) -> "RunSpec":
        """A copy with dotted-path overrides applied and everything validated again."""
        docs = {k: SourceDoc("(overrides)", v) for k, v in self.resolved().items()}
        problems: list[Problem] = []
        apply_overrides(docs, overrides, lambda key: ("(overrides)", None, None), problems)
        if problems:
            raise SpecError(problems)
        return validate_run(docs)


# --------------------------------------------------------------------------- loading (stage 2)


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None, *,
                  chip: str | None = None, firmware: str | None = None) -> RunSpec:
    """Read a scenario file and resolve its chip and firmware into a validated RunSpec.

    ``chip``/``firmware`` replace the scenario's references (CLI ``--chip``/``--firmware``);
    ``overrides`` maps dotted paths (``firmware.eta``, ``chip.clock_period``,
    ``network.hidden``) to values and is applied after the scenario's own ``overrides``.
    A resolved run file (``hwsim show`` of a scenario, or a manifest's ``resolved``) loads too.
    Raises :class:`SpecError` listing every problem found.
    """
    return _resolved_spec(read_run(path, overrides, chip=chip, firmware=firmware))


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[str, BaseModel]:
    """Any spec file -> (kind, model): a ChipSpec, a FirmwareSpec, or a RunSpec for a scenario
    or resolved run file. Raises :class:`SpecError` listing every problem found."""
    kind, read = read_any(path, overrides)
    if isinstance(read, dict):
        return kind, validate_run(read)
    return kind, read


def load_chip(path: str | Path) -> ChipSpec:
    kind, spec = load_spec(path)
    if kind != "chip":
        raise SpecError([Problem(str(path), None, None, "kind", f"not a chip (got {kind}; expected kind: chip)")])
    return spec


def load_firmware(path: str | Path) -> FirmwareSpec:
    kind, spec = load_spec(path)
    if kind != "firmware":
        raise SpecError([Problem(str(path), None, None, "kind",
                                 f"not a firmware model (got {kind}; expected kind: firmware)")])
    return spec


def validate_run(docs: dict[str, SourceDoc]) -> RunSpec:
    """The scenario, chip and firmware documents -> a RunSpec (stages 1 and 2), or SpecError."""
    return _resolved_spec(validate_docs(docs))


def _resolved_spec(checked) -> RunSpec:
    """Stage 2 on stage 1's outcome (hwsim.spec.loader.ValidatedSpecs). The order of the
    problems is part of the interface (tests/spec/broken): the documents', the network's,
    the time constants', then the cross checks', then the memory budget's."""
    docs, built, problems = checked.docs, dict(checked.models), list(checked.problems)
    layout = None
    if "scenario" in built:
        layout, unfit = _layout_or_problem(built["scenario"], docs["scenario"])
        problems.extend(unfit)
    if len(built) == 3 and not problems:
        fw, extra = resolve_firmware(built["firmware"], built["chip"], built["scenario"], docs["firmware"],
                                     layout=layout)
        problems.extend(extra)
        built["firmware"] = fw
    if problems:
        raise SpecError(problems)
    run = RunSpec(**built)
    cross = cross_checks(run, docs, layout)
    if not cross:
        cross = memory_checks(run, docs["scenario"], layout)
    if cross:
        raise SpecError(cross)
    return run


def _layout(scenario: ScenarioSpec):
    from hwsim.network.layout import scenario_layout

    return scenario_layout(scenario)


def _layout_or_problem(sc: ScenarioSpec, doc: SourceDoc) -> tuple[Any, list[Problem]]:
    """(the scenario's network layout, []), or (None, [why the layers do not fit the input])."""
    try:
        return _layout(sc), []
    except ValueError as exc:
        image = getattr(sc.dataset, "image_shape", None)
        shape = f"{sc.dataset.name} gives {'x'.join(map(str, image))} (channels x height x width) images" \
            if image is not None else f"{sc.dataset.name} is not an image data set"
        return None, [problem(doc, ("network", "layers"), f"{exc} ({shape}); expected layers that "
                              "fit the input: smaller kernels or fewer pooling layers, or dense "
                              "layers only", "network.layers")]


def network_checks(sc: ScenarioSpec, doc: SourceDoc) -> list[Problem]:
    """The network's layers against the data set (shapes chain, conv layers fit the image)."""
    return laid_out(sc, doc)[1]


def laid_out(sc: ScenarioSpec, doc: SourceDoc) -> tuple[Any, list[Problem]]:
    """(the scenario's layout or None, :func:`network_checks`' problems), laying out once."""
    layout, unfit = _layout_or_problem(sc, doc)
    return layout, output_layer_checks(sc, doc) + unfit


def perturbation_period(scenario: ScenarioSpec, firmware: FirmwareSpec, layout=None) -> int | None:
    """Perturbation indices in one period of the code (tdma: P; walsh: N_H), None if aperiodic.
    ``layout``: the scenario's (hwsim.network.layout.scenario_layout), when the caller has it."""
    from hwsim.chip.perturbation import walsh_order

    layout = layout if layout is not None else _layout(scenario)
    p = layout.n_params if firmware.perturbation.target == "weights" else layout.n_neurons
    scheme = firmware.perturbation.scheme
    if scheme == "tdma":
        return p
    if scheme == "walsh":
        return walsh_order(p)
    return None


def resolve_firmware(fw: FirmwareSpec, chip: ChipSpec, scenario: ScenarioSpec, doc: SourceDoc,
                     prefix: str = "firmware", layout=None) -> tuple[FirmwareSpec, list[Problem]]:
    """Turn tau_* written in cycles, time or 'full_period' into whole steps on this chip.
    ``layout``: the scenario's, when the caller has it."""
    problems: list[Problem] = []
    from hwsim.chip.timing import inference_timing

    layout = layout if layout is not None else _layout(scenario)
    cpi, clock = inference_timing(chip, layout).interval, chip.clock_period
    period = perturbation_period(scenario, fw, layout)
    values: dict[str, Any] = {}
    for name in TIME_CONSTANTS:
        raw = getattr(fw, name)
        full = period * values["tau_p"] if period is not None and "tau_p" in values else None
        try:
            steps = resolve_time_constant(raw, cycles_per_inference=cpi, clock_period=clock,
                                          full_period=full, integer=name != "tau_hp")
            check_tau_range(name, steps)
        except ValueError as exc:
            problems.append(problem(doc, (name,), str(exc), f"{prefix}.{name}" if prefix else name))
            continue
        values[name] = steps
    if problems:
        return fw, problems
    return fw.model_copy(update=values), problems


def cross_checks(run: RunSpec, docs: dict[str, SourceDoc], layout=None) -> list[Problem]:
    """Checks that span fields or files: the spec layer's (hwsim.spec.loader.cross_field_checks),
    then the amplitude schedule over the run's length in steps. ``layout``: the scenario's,
    when the caller has it."""
    out = cross_field_checks(run.scenario, run.chip, run.firmware, docs)
    out.extend(_amplitude_schedule_problems(run, docs["firmware"], layout))
    return out


#: Smallest perturbation amplitude, fixed or scheduled: the gradient is divided by its square.
MIN_AMPLITUDE = 1e-100


def _amplitude_schedule_problems(run: RunSpec, doc: SourceDoc, layout=None) -> list[Problem]:
    """The amplitude schedule must keep the amplitude at or above MIN_AMPLITUDE up to the last
    perturbation index the budget allows (step, cosine and inverse_time only ever fall)."""
    fw, sc = run.firmware, run.scenario
    sched = fw.amplitude_schedule
    if sched.kind == "constant":
        return []
    from hwsim.chip.timing import inference_timing

    layout = layout if layout is not None else _layout(sc)
    steps = sc.max_cycles // max(1, inference_timing(run.chip, layout).interval)
    if sc.max_steps is not None:
        steps = min(steps, sc.max_steps)
    k = steps // fw.tau_p                      # the last perturbation index of the run
    if sched.kind == "step":
        log_factor = math.floor(k / sched.step_size) * math.log(sched.gamma) if sched.gamma < 1 else 0.0
    elif sched.kind == "cosine":
        t = min(k, sched.horizon)
        lowest = sched.min_fraction
        factor = lowest + (1 - lowest) * (1 + math.cos(math.pi * t / sched.horizon)) / 2
        log_factor = math.log(factor) if factor > 0 else -math.inf
    else:  # inverse_time
        log_factor = -math.log1p(sched.decay * k)
    log_amp = math.log(fw.perturbation.amplitude) + log_factor
    if log_amp >= math.log(MIN_AMPLITUDE):
        return []
    reached = f"{math.exp(log_amp):.3g}" if log_amp > -700 else "0"
    return [problem(doc, ("amplitude_schedule",),
                     f"the amplitude schedule takes the perturbation amplitude to {reached} by the end "
                     f"of the run (got {sched.kind} from {fw.perturbation.amplitude:g} over up to {k:,} "
                     f"perturbation indices; expected at least {MIN_AMPLITUDE:g}: the gradient is divided "
                     "by its square): decay more slowly (gamma, step_size, decay, min_fraction) or "
                     "shorten the run", "firmware.amplitude_schedule")]


#: Samples of the data sets whose size the spec does not say (train + test).
_DATASET_SAMPLES = {"digits": 1797, "mnist": 70_000, "fashion_mnist": 70_000, "cifar10": 60_000}


def run_memory_estimate(run: RunSpec, layout=None) -> tuple[int, int]:
    """(network bytes, data bytes): a lower bound of what a run of ``run`` allocates, counted
    from the arrays hwsim/engine/simulation.py builds (keep the two in step). ``layout``: the
    scenario's, when the caller has it."""
    from hwsim.chip.devices import devices_in_play

    sc, fw, chip = run.scenario, run.firmware, run.chip
    layout = layout if layout is not None else _layout(sc)
    p = layout.n_params
    node = fw.perturbation.target == "nodes"
    perturbed = layout.n_neurons if node else p
    # Per parameter, float64 or int64: the initial weights, the weights (devices.w), G_int
    # and the update controller's row map; per perturbed element: theta~ twice and the
    # generators' gains (float64), and theta~'s sign (int8).
    per_param = 4
    if fw.optimizer.kind != "sgd" or fw.learning_rate_schedule.kind != "constant":
        per_param += 2                          # optimiser state
    if not chip.update.blocking:
        per_param += 1                          # theta_old
    writes, drift, noisy = devices_in_play(chip)
    if drift:
        per_param += 1                          # drifted weights buffer
    if node:
        per_param += 1                          # perturbed weights
    if writes or drift or noisy or chip.perturbation.injection != "auxiliary":
        per_param += 8                          # device state: 5 constants, stuck, t_prog, pulses
    network = 8 * per_param * p + 25 * perturbed
    ds = sc.dataset
    n_in, _ = ds.shape
    if ds.name == "parity":
        samples = 2 ** ds.n_bits
    elif ds.name in ("teacher", "mnist1d"):
        samples = ds.n_samples
    elif ds.name in ("mnist", "fashion_mnist", "cifar10"):
        train, test = (50_000, 10_000) if ds.name == "cifar10" else (60_000, 10_000)
        samples = (ds.n_train or train) + (ds.n_test or test)
    else:
        samples = _DATASET_SAMPLES.get(ds.name, 0)
    data = 8 * (n_in + 2) * samples            # inputs (float64), a label and the sample order
    return network, data


def memory_checks(run: RunSpec, doc: SourceDoc, layout=None) -> list[Problem]:
    """Refuse a run whose network and data set would not fit the memory budget
    (hwsim.spec.limits.memory_budget), at the field that makes them large. ``layout``: the
    scenario's, when the caller has it."""
    sc = run.scenario
    layout = layout if layout is not None else _layout(sc)
    network, data = run_memory_estimate(run, layout)
    p = layout.n_params
    what = (f"this run ({p:,} parameters: {format_bytes(network)}; the {sc.dataset.name} data set: "
            f"{format_bytes(data)})")
    if network >= data:
        where = ("network", "layers") if sc.network.layers is not None else ("network", "hidden")
        fix = "use fewer or narrower layers, or raise HWSIM_MEMORY_LIMIT if the machine has the memory"
    else:
        where = ("dataset",)
        fix = "use fewer samples (n_train, n_samples), or raise HWSIM_MEMORY_LIMIT if the machine has the memory"
    message = memory_problem(network + data, what, fix)
    return [problem(doc, where, message)] if message else []


# --------------------------------------------------------------------------- the resolved run


@dataclass(frozen=True)
class ResolvedRun:
    """What a validated run implies, built once (:func:`resolve`) and handed to everything that
    needs it instead of each laying the network out again.

    ``spec``: the validated RunSpec; ``layout``: its network layout (hwsim.network.layout);
    ``timing``: latency and interval of one inference on the chip (hwsim.chip.timing);
    ``n_params``: P; ``n_perturbed``: the elements perturbed (P for weight perturbation, the
    neurons K for node perturbation); ``perturbation_period``: perturbation indices in one
    period of the code (tdma: the perturbed count, walsh: the Walsh order; None if aperiodic);
    ``streams``: the run's seed streams (hwsim.seeds.Stream, the one enumeration of spawn keys);
    ``path``: the kernel path, None until the engine chooses it from the kernel configuration."""

    spec: RunSpec
    layout: NetworkLayout
    timing: InferenceTiming
    n_params: int
    n_perturbed: int
    perturbation_period: int | None
    streams: type[Stream] = Stream
    path: str | None = None

    @property
    def interval(self) -> int:
        """Cycles per step (one inference issue to the next)."""
        return self.timing.interval


def resolve(spec: RunSpec) -> ResolvedRun:
    """The resolved run of a validated spec (its layout and timing built here, once)."""
    from hwsim.chip.timing import inference_timing

    if not isinstance(spec, RunSpec):
        raise TypeError(f"resolve needs a validated RunSpec (got {type(spec).__name__}; "
                        "expected hwsim.run_plan.load_scenario's result)")
    layout = _layout(spec.scenario)
    node = spec.firmware.perturbation.target == "nodes"
    return ResolvedRun(spec=spec, layout=layout, timing=inference_timing(spec.chip, layout),
                       n_params=layout.n_params, n_perturbed=layout.n_neurons if node else layout.n_params,
                       perturbation_period=perturbation_period(spec.scenario, spec.firmware, layout))


def as_resolved(run: RunSpec | ResolvedRun) -> ResolvedRun:
    """``run`` itself if it is resolved already, else :func:`resolve` of it: for consumers that
    accept either (the warnings, the progress budget)."""
    return run if isinstance(run, ResolvedRun) else resolve(run)
