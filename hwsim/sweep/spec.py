"""The sweep file: a base scenario and the axes to vary over it (``kind: sweep``).

Grid axes (``axes:``) are crossed with each other; a zip group (``zip:``) varies its paths
together, position by position; random axes (``random:``) draw ``samples`` values of each
path from a seeded distribution; ``seeds:`` is the innermost axis. Every path is a dotted
path of the scenario, as ``--set`` takes it (``firmware.eta``, ``chip.cost_unit.noise_sigma``,
``network.hidden``, ``max_cycles``, ``chip`` for a chip preset, ``seed``).

Validated like the other specs: every problem is reported as ``FILE:LINE:COL: field: message``.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from hwsim.spec.errors import SpecError, did_you_mean
from hwsim.spec.limits import MAX_SEED, short
from hwsim.spec.loader import find_spec_file, problem, problems_from
from hwsim.spec.models import KINDS, Spec, F
from hwsim.spec.yaml_source import SourceDoc, read_yaml

SEED_PATHS = ("seed", "scenario.seed")
REFERENCE_PATHS = ("chip", "firmware", "scenario.chip", "scenario.firmware")


class _ValuesSpec(Spec):
    """A spec whose plain YAML list is short for {values: [...]}."""

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, data):
        return {"values": data} if isinstance(data, list) else data


class GridAxis(_ValuesSpec):
    """One grid axis: a list of values, or a range (``start``, ``stop``, ``num``)."""

    values: list[Any] | None = F(
        None, unit="-", min_length=1, max_length=100_000,
        doc="The values of this axis in order; any YAML value the path accepts (numbers, "
            "'10 ns', [32, 16], a preset name). A plain list is short for {values: [...]}.")
    start: float | None = F(None, unit="the path's unit", allow_inf_nan=False, doc="First value of a range.")
    stop: float | None = F(None, unit="the path's unit", allow_inf_nan=False,
                           doc="Last value of a range (included).")
    num: int | None = F(None, unit="values", ge=1, le=100_000, doc="Number of values in the range.")
    scale: Literal["linear", "log"] = F(
        "linear", unit="-", doc="linear: evenly spaced; log: evenly spaced in log (start, stop > 0).")
    integer: bool = F(False, unit="-", doc="Round the range's values to whole numbers (they must stay distinct).")

    @model_validator(mode="after")
    def _one_form(self):
        ranged = [f for f in ("start", "stop", "num") if getattr(self, f) is not None]
        if self.values is not None and ranged:
            raise ValueError(f"give either values or start/stop/num (got values and {', '.join(ranged)}; "
                             "expected one of the two forms)")
        if self.values is None and len(ranged) != 3:
            missing = [f for f in ("start", "stop", "num") if getattr(self, f) is None]
            raise ValueError(f"a range needs start, stop and num (got no {', '.join(missing)}; expected "
                             "all three, or a list of values)")
        if self.values is None and self.scale == "log" and not (self.start > 0 and self.stop > 0):
            raise ValueError(f"a log range needs start and stop > 0 (got {self.start:g} to {self.stop:g}; "
                             "expected positive bounds, or scale: linear)")
        if self.values is None and self.integer and len(set(self._rounded())) != self.num:
            raise ValueError(f"num too large for a whole-number range (got {self.num} values from "
                             f"{self.start:g} to {self.stop:g}; expected distinct whole numbers)")
        return self

    def _rounded(self) -> list:
        import numpy as np

        if self.scale == "log":
            raw = np.geomspace(self.start, self.stop, self.num)
        else:
            raw = np.linspace(self.start, self.stop, self.num)
        return [int(round(v)) for v in raw] if self.integer else [float(v) for v in raw]

    def expand(self) -> list:
        return list(self.values) if self.values is not None else self._rounded()


class Draw(Spec):
    """How one random axis draws its values."""

    distribution: Literal["uniform", "log_uniform", "int_uniform", "choice"] = F(
        ..., unit="-", doc="uniform: low..high; log_uniform: uniform in log between low and high "
                           "(> 0); int_uniform: whole numbers low..high, both included; choice: one "
                           "of values, equally likely.")
    low: float | None = F(None, unit="the path's unit", allow_inf_nan=False,
                          doc="Lower bound (uniform, log_uniform, int_uniform).")
    high: float | None = F(None, unit="the path's unit", allow_inf_nan=False,
                           doc="Upper bound (uniform, log_uniform, int_uniform).")
    values: list[Any] | None = F(None, unit="-", min_length=1, doc="The choices (choice).")

    @model_validator(mode="after")
    def _bounds(self):
        if self.distribution == "choice":
            if self.values is None:
                raise ValueError("choice needs values (got none; expected values: [a, b, ...])")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.distribution} needs low and high (got low={self.low}, high={self.high}; "
                             "expected both bounds)")
        if not self.low <= self.high:
            raise ValueError(f"low must not exceed high (got low={self.low:g}, high={self.high:g})")
        if self.distribution == "log_uniform" and not self.low > 0:
            raise ValueError(f"log_uniform needs low > 0 (got {self.low:g}; expected a positive bound)")
        whole = float(self.low).is_integer() and float(self.high).is_integer()
        if self.distribution == "int_uniform" and not whole:
            raise ValueError(f"int_uniform needs whole-number bounds (got {self.low:g}, {self.high:g})")
        return self

    def draw(self, rng):
        import math

        if self.distribution == "choice":
            return self.values[int(rng.integers(len(self.values)))]
        if self.distribution == "int_uniform":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.distribution == "log_uniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


class RandomAxes(Spec):
    """Random axes: ``samples`` draws, each a value for every path, crossed with the grid."""

    samples: int = F(..., unit="draws", ge=1, le=100_000, doc="Number of random draws.")
    seed: int = F(0, unit="-", ge=0, le=2**63 - 1,
                  doc="Seed of the draws (the same seed draws the same values; not the runs' seed).")
    axes: dict[str, Draw] = F(..., unit="-", min_length=1,
                              doc="Dotted path -> its distribution, e.g. firmware.eta: {distribution: "
                                  "log_uniform, low: 0.01, high: 1}.")


class SeedAxis(_ValuesSpec):
    """The runs' seeds: a list, or ``count`` seeds from ``start``."""

    values: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | None = F(
        None, unit="-", min_length=1, max_length=100_000,
        doc="The seeds in order. A plain list is short for {values: [...]}.")
    count: int | None = F(None, unit="seeds", ge=1, le=100_000, doc="Number of consecutive seeds.")
    start: int = F(0, unit="-", ge=0, le=MAX_SEED, doc="First of the consecutive seeds.")

    @model_validator(mode="after")
    def _one_form(self):
        if (self.values is None) == (self.count is None):
            raise ValueError("give either a list of seeds or count (got "
                             f"{'both' if self.values is not None else 'neither'}; expected e.g. "
                             "seeds: [0, 1, 2] or seeds: {count: 3})")
        if self.count is not None and self.start + self.count - 1 > MAX_SEED:
            raise ValueError(f"the last seed is too large (got start {self.start} and count {self.count}; "
                             f"expected seeds up to {MAX_SEED}, the run seed's range)")
        if self.values is not None and any(s < 0 for s in self.values):
            raise ValueError(f"seeds are non-negative integers (got {short(self.values)})")
        if self.values is not None and len(set(self.values)) != len(self.values):
            raise ValueError(f"a seed appears twice (got {short(self.values)}; expected distinct seeds)")
        return self

    def expand(self) -> list[int]:
        return list(self.values) if self.values is not None else list(range(self.start, self.start + self.count))


class SweepSpec(Spec):
    """A design-space sweep: a base scenario and the axes varied over it."""

    kind: Literal["sweep"] = F("sweep", unit="-", doc="Marks this file as a sweep spec.")
    name: str = F(..., unit="-", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$",
                  doc="Short identifier (letters, digits, _ . -): the default output folder is "
                      "runs/sweep-<name>.")
    description: str = F("", unit="-", max_length=2000, doc="The question this sweep asks.")
    scenario: str = F(..., unit="-", min_length=1,
                      doc="Base scenario: preset name (in scenarios/) or path, relative to this file.")
    chip: str | None = F(None, unit="-", doc="Chip preset name or path replacing the scenario's "
                                             "(like hwsim run --chip); null keeps the scenario's.")
    firmware: str | None = F(None, unit="-", doc="Firmware preset name or path replacing the "
                                                 "scenario's (like --firmware); null keeps the scenario's.")
    overrides: dict[str, Any] = F(
        default_factory=dict, unit="-",
        doc="Dotted paths set on every point before the axes (like --set), e.g. {max_cycles: 200000}.")
    axes: dict[str, GridAxis] = F(
        default_factory=dict, unit="-",
        doc="Grid axes, crossed with each other: dotted path -> list of values or {start, stop, num, "
            "scale}. E.g. chip.cost_unit.noise_sigma: [0, 0.01, 0.1].")
    zip: list[dict[str, list[Any]]] = F(
        default_factory=list, unit="-",
        doc="Zipped axes: a group (or a list of groups) of dotted path -> values, all of one length; "
            "the paths of a group vary together, one point per position. Crossed with the rest.")
    random: RandomAxes | None = F(None, unit="-",
                                  doc="Random axes: samples draws of every path, crossed with the grid.")
    seeds: SeedAxis | None = F(None, unit="-",
                               doc="The runs' seeds, the innermost axis: [0, 1, 2] or {count: 3, start: 0}; "
                                   "null runs the scenario's seed only.")
    max_points: int = F(10_000, unit="points", ge=1, le=10_000_000,
                        doc="Refuse sweeps larger than this (a guard against a typo multiplying the grid).")

    @field_validator("zip", mode="before")
    @classmethod
    def _one_group(cls, value):
        return [value] if isinstance(value, dict) else value

    @field_validator("zip")
    @classmethod
    def _same_length(cls, groups):
        for i, group in enumerate(groups):
            if not group:
                raise ValueError(f"zip group {i} is empty (got no paths; expected path: [values, ...])")
            lengths = {path: len(values) for path, values in group.items()}
            if len(set(lengths.values())) != 1:
                raise ValueError("zipped paths need lists of one length (got "
                                 + ", ".join(f"{p}: {n}" for p, n in lengths.items())
                                 + "; expected the same number of values for each)")
            if 0 in lengths.values():
                raise ValueError(f"zip group {i} has no values (got empty lists; expected at least one)")
        return groups


# --------------------------------------------------------------------------- paths


def normalise_path(path: str) -> str:
    """'scenario.max_cycles' and 'max_cycles' name the same field."""
    return path.removeprefix("scenario.") if path.startswith("scenario.") else path


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _is_mapping(annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict or annotation is dict or annotation is Any:
        return True
    return any(_is_mapping(a) for a in typing.get_args(annotation) if a is not type(None))


def check_path(path: str) -> str | None:
    """What is wrong with a dotted path of the scenario (chip.*, firmware.*, or a scenario
    field), or None when every part names a field."""
    parts = path.split(".")
    if not all(parts):
        return "not a dotted path (got an empty part; expected something like firmware.eta)"
    if parts[0] in ("chip", "firmware") and len(parts) > 1:
        models, rest, done = [KINDS[parts[0]]], parts[1:], [parts[0]]
    else:
        models, rest, done = [KINDS["scenario"]], parts[1:] if parts[0] == "scenario" else parts, []
    for part in rest:
        fields = {name: f for m in models for name, f in m.model_fields.items()}
        if part not in fields:
            names = sorted(fields)
            where = ".".join(done) or "the scenario"
            return (f"no such field (got {short(part)} in {where}; expected one of {', '.join(names)})"
                    f"{did_you_mean(part, names)}")
        annotation = fields[part].annotation
        done.append(part)
        if _is_mapping(annotation):
            return None            # a free mapping (overrides): any key
        models = _models_in(annotation)
        if not models and part != rest[-1]:
            return f"{'.'.join(done)} is a value, not a group of fields (got more parts after it)"
    return None


# --------------------------------------------------------------------------- reading


def read_sweep(path: str | Path) -> tuple[SweepSpec, SourceDoc]:
    """Read and validate a sweep file: (spec, source document with positions), or SpecError
    with every problem, including every dotted path that names no field."""
    doc = read_yaml(path)
    kind = doc.data.get("kind")
    if kind != "sweep":
        raise SpecError([problem(doc, ("kind",), f"not a sweep file (got kind {short(kind)}; expected "
                                                  "kind: sweep)")])
    problems = [problem(doc, loc, message, p) for loc, p in raw_paths(doc.data)
                if (message := check_path(p)) is not None]
    try:
        spec = SweepSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(problems + problems_from(exc, doc, SweepSpec, "")) from None
    seen: dict[str, tuple] = {}
    for loc, path in raw_paths(doc.data):
        key = normalise_path(path)
        if loc[0] == "overrides":
            if key in seen:
                problems.append(problem(doc, loc, f"set in overrides and swept (got {path} in both; "
                                                   "expected one of the two)", path))
            elif key in SEED_PATHS:
                problems.append(problem(doc, loc, f"the run seed is not an override (got {path}; "
                                                   "expected seeds: [N])", path))
            continue
        if key in seen:
            first = ".".join(map(str, seen[key]))
            problems.append(problem(doc, loc, f"swept twice (got {path} here and at {first}; expected one "
                                               "axis per path)", path))
            continue
        seen[key] = loc
        if key in SEED_PATHS and spec.seeds is not None:
            problems.append(problem(doc, loc, "the seed is swept twice (got a seed axis here and seeds:; "
                                               "expected one of the two)", path))
        if key in ("chip", "firmware") and getattr(spec, key) is not None:
            problems.append(problem(doc, loc, f"the {key} is swept here and fixed by the sweep's {key}: "
                                               f"(got both; expected one of the two)", path))
    base = Path(doc.path).resolve().parent
    if find_spec_file(spec.scenario, "scenario", base) is None:
        from hwsim.spec.loader import not_found_message

        problems.append(problem(doc, ("scenario",), not_found_message(spec.scenario, "scenario", base)))
    if problems:
        raise SpecError(problems)
    return spec, doc


def raw_paths(data: dict) -> list[tuple[tuple, str]]:
    """(location in the file, dotted path) of every swept path, in the order the columns
    appear (grid, zip, random), then of every override."""
    out = []
    axes = data.get("axes")
    if isinstance(axes, dict):
        out += [(("axes", p), p) for p in axes]
    groups = data.get("zip")
    if isinstance(groups, dict):
        out += [(("zip", p), p) for p in groups]
    elif isinstance(groups, list):
        out += [(("zip", i, p), p) for i, g in enumerate(groups) if isinstance(g, dict) for p in g]
    rand = data.get("random")
    if isinstance(rand, dict) and isinstance(rand.get("axes"), dict):
        out += [(("random", "axes", p), p) for p in rand["axes"]]
    over = data.get("overrides")
    if isinstance(over, dict):
        out += [(("overrides", p), p) for p in over]
    return [(loc, p) for loc, p in out if isinstance(p, str)]


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a sweep file (docs/schema/sweep.schema.json)."""
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": "https://hwsim.invalid/schema/sweep.schema.json"}
    out.update(SweepSpec.model_json_schema(mode="validation"))
    # The short forms the validators accept: a plain list for an axis or the seeds, one
    # mapping for a single zip group.
    props = out["properties"]
    values = {"type": "array", "minItems": 1}
    props["axes"]["additionalProperties"] = {"anyOf": [values, {"$ref": "#/$defs/GridAxis"}]}
    group = props["zip"].pop("items")
    props["zip"]["anyOf"] = [group, {"type": "array", "items": group}]
    del props["zip"]["type"]
    props["seeds"]["anyOf"].insert(0, {"type": "array", "minItems": 1,
                                       "items": {"type": "integer", "minimum": 0, "maximum": MAX_SEED}})
    return out


def schema_text() -> str:
    return json.dumps(schema(), indent=2) + "\n"


def write_schema(root: str | Path) -> Path:
    """Write docs/schema/sweep.schema.json under ``root``."""
    path = Path(root) / "docs" / "schema" / "sweep.schema.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(schema_text())
    tmp.replace(path)
    return path
