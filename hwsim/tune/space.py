"""The search space of ``hwsim tune`` (``kind: tune_space``): which knobs, over which ranges,
and how the study runs (batch size, sampler start-up, pruning, penalty).

A knob is a dotted path of the scenario as ``--set`` takes it (``firmware.eta``,
``firmware.perturbation.amplitude``, ``firmware.optimizer.kind``), with a float or integer
range (``low``, ``high``, ``log``) or a list of ``choices``. ``fixed:`` sets paths on every
trial (e.g. the observation cadence that feeds the pruner). Validated like every spec: each
problem is reported as ``FILE:LINE:COL: field: message``, all at once.

Space files live in ``tunes/`` at the project root, beside ``chips/``, ``firmware_models/``
and ``scenarios/``, and are found by name (``--space mgd``) or path; ``tunes/mgd.yaml`` is
the default.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from hwsim.spec.errors import Problem, SpecError, did_you_mean
from hwsim.spec.loader import problem, problems_from, project_root
from hwsim.spec.models import F, Spec
from hwsim.spec.yaml_source import SourceDoc, read_yaml

SPACE_DIR = "tunes"
DEFAULT_SPACE = "mgd"
KIND = "tune_space"


class Knob(Spec):
    """One searched knob: a range (low, high, log, integer) or a list of choices."""

    low: float | None = F(None, unit="the path's unit", allow_inf_nan=False, doc="Lower end of the range.")
    high: float | None = F(None, unit="the path's unit", allow_inf_nan=False, doc="Upper end of the range.")
    log: bool = F(False, unit="-", doc="Sample evenly in log (low and high > 0): for rates and amplitudes.")
    integer: bool = F(False, unit="-", doc="Whole numbers only (time constants in steps).")
    choices: list[Any] | None = F(None, unit="-", min_length=1, max_length=1000,
                                  doc="The values to choose from (e.g. optimiser kinds), instead of a range.")

    @model_validator(mode="after")
    def _one_form(self):
        ranged = self.low is not None or self.high is not None
        if self.choices is not None:
            if ranged or self.log or self.integer:
                raise ValueError("give either choices or a range (got choices and low/high/log/integer; "
                                 "expected one of the two forms)")
            if len({repr(c) for c in self.choices}) != len(self.choices):
                raise ValueError(f"a choice appears twice (got {self.choices}; expected distinct choices)")
            if not all(c is None or isinstance(c, (str, int, float, bool)) for c in self.choices):
                raise ValueError(f"choices are plain values (got {self.choices!r:.80}; expected numbers or "
                                 "names)")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a range needs low and high (got low={self.low}, high={self.high}; expected "
                             "both, or choices: [...])")
        if not self.low < self.high:
            raise ValueError(f"low must be below high (got low={self.low:g}, high={self.high:g})")
        if self.log and not self.low > 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low:g}; expected a positive bound, or "
                             "log: false)")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"an integer range needs whole-number bounds (got {self.low:g}, {self.high:g})")
        return self

    def distribution(self):
        """The Optuna distribution of this knob."""
        import optuna

        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def extremes(self) -> list:
        """Values that every trial may get: each choice, or both ends of the range."""
        if self.choices is not None:
            return list(self.choices)
        if self.integer:
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


class Pruning(Spec):
    """The median rule that stops a trial whose learning curve falls behind (see hwsim.tune.study)."""

    enabled: bool = F(True, unit="-", doc="Stop trials whose curve is worse than the median of earlier ones.")
    warmup_observations: int = F(
        2, unit="observations", ge=0, le=10**6,
        doc="No trial is stopped at its first this many observations (curves are noisy early).")
    min_trials: int = F(
        3, unit="trials", ge=1, le=10**6,
        doc="A median is used at an observation only when at least this many finished trials of earlier "
            "batches observed it.")


class SpaceSpec(Spec):
    """What ``hwsim tune`` searches and how."""

    kind: str = F(KIND, unit="-", doc="Marks this file as a tuning search space (kind: tune_space).")
    name: str = F(..., unit="-", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$",
                  doc="Short identifier of the space.")
    description: str = F("", unit="-", max_length=2000, doc="What this space is for.")
    params: dict[str, Knob] = F(..., unit="-", min_length=1, max_length=100,
                                doc="Dotted path -> its range or choices, e.g. firmware.eta: {low: 0.01, "
                                    "high: 3, log: true}.")
    fixed: dict[str, Any] = F(default_factory=dict, unit="-",
                              doc="Dotted paths set on every trial (like --set), e.g. "
                                  "firmware.evaluation.every_steps: 2000.")
    batch: int = F(4, unit="trials", ge=1, le=1000,
                   doc="Trials asked of the sampler at once and run in parallel; the study depends on it, "
                       "not on the number of workers.")
    startup_trials: int = F(8, unit="trials", ge=1, le=10**6,
                            doc="Trials sampled at random before TPE models the results.")
    penalty: float = F(2.0, unit="dimensionless", ge=1.0, le=1e6, allow_inf_nan=False,
                       doc="A trial that does not reach the target scores penalty x budget x "
                           "(1 + shortfall), shortfall = (target - best accuracy) / target.")
    pruning: Pruning = F(default_factory=Pruning, unit="-", doc="When a trial is stopped early.")

    @model_validator(mode="after")
    def _kind(self):
        if self.kind != KIND:
            raise ValueError(f"not a tuning space (got kind {self.kind!r}; expected kind: {KIND})")
        return self


def find_space(ref: str | None) -> Path:
    """A space name (in tunes/) or path -> the file; SpecError naming the choices when none."""
    ref = ref or DEFAULT_SPACE
    if ref.endswith((".yaml", ".yml")) or os.sep in ref or "/" in ref:
        path = Path(ref)
        if path.is_file():
            return path
        raise SpecError([Problem("--space", None, None, "space", f"no such file (got {ref!r}; expected a "
                                                                 "tuning space YAML file, or a name in tunes/)")])
    for root in (Path.cwd(), project_root()):
        candidate = root / SPACE_DIR / f"{ref}.yaml"
        if candidate.is_file():
            return candidate
    from hwsim.spec.loader import looked_in, preset_names

    names = preset_names("tune_space")
    raise SpecError([Problem("--space", None, None, "space",
                             f"no tuning space named {ref!r} (looked in {looked_in('tune_space')}; expected one "
                             f"of {', '.join(names) or 'none'}, or a path to a .yaml file)"
                             f"{did_you_mean(ref, names)}")])


def read_space(path: str | Path) -> tuple[SpaceSpec, SourceDoc]:
    """Read and validate a space file: (spec, document with positions), or SpecError with
    every problem, including every path that names no field of the scenario."""
    from hwsim.sweep.spec import check_path

    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise SpecError([Problem(doc.path, 1, 1, "(top level)", "not a tuning space (got no mapping; "
                                                                 f"expected kind: {KIND}, name:, params:)")])
    problems = []
    for section in ("params", "fixed"):
        block = doc.data.get(section)
        if isinstance(block, dict):
            for path in block:
                message = check_path(str(path)) if path not in ("chip", "firmware") else (
                    f"the {path} is chosen with --{path}, not searched (got {path} in {section}; expected a "
                    f"field such as firmware.eta)")
                if message is not None:
                    problems.append(problem(doc, (section, path), message, str(path)))
    params, fixed = doc.data.get("params"), doc.data.get("fixed")
    if isinstance(params, dict) and isinstance(fixed, dict):
        for path in params:
            if path in fixed:
                problems.append(problem(doc, ("fixed", path), f"both searched and fixed (got {path} in params "
                                                               "and fixed; expected one of the two)", str(path)))
    try:
        spec = SpaceSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(problems + problems_from(exc, doc, SpaceSpec, "")) from None
    if problems:
        raise SpecError(problems)
    return spec, doc


def at_space_line(problem: Problem, doc: SourceDoc, section: str, path: str, note: str = "") -> Problem:
    """A problem the scenario loader found in a value the space set -> at the space file's line."""
    if problem.file not in ("--set", "(command line)", "(overrides)"):
        return problem
    file, line, col = doc.locate((section, path))
    return Problem(file, line, col, problem.path, problem.message + note)


def short_value(value) -> str:
    """A parameter value as a short, exact-enough label ('0.0123', 'adam', '12')."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)
