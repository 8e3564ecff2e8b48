"""Load a scenario with its chip and firmware, apply overrides, validate, report every problem.

Flow: scenario YAML -> chip and firmware found by name (in ``chips/``, ``firmware_models/``)
or path -> dotted-path overrides (the scenario's own, then the caller's) -> pydantic models ->
cross-field checks -> :class:`RunSpec`, whose ``spec_hash`` identifies the resolved content.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hwsim.spec.errors import Problem, SpecError, did_you_mean
from hwsim.spec.models import KINDS, ChipSpec, FirmwareSpec, ScenarioSpec
from hwsim.spec.yaml_source import SourceDoc, read_yaml

PRESET_DIRS = {"chip": "chips", "firmware": "firmware_models", "scenario": "scenarios"}


def project_root() -> Path:
    """The folder that holds chips/, firmware_models/ and scenarios/ of this installation."""
    return Path(__file__).resolve().parents[2]


class RunSpec(BaseModel):
    """The fully resolved specs of one run (what goes into manifest.json)."""

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
        raw = self.resolved()
        problems: list[Problem] = []
        _apply_overrides(raw, overrides, "(overrides)", problems)
        if problems:
            raise SpecError(problems)
        docs = {k: SourceDoc("(overrides)", raw[k]) for k in raw}
        return _validate(docs)


def find_spec_file(ref: str, kind: str, base_dir: Path | None) -> Path | None:
    """A preset name or a path -> the file; None when nothing matches."""
    candidates: list[Path] = []
    as_path = Path(ref)
    if ref.endswith((".yaml", ".yml")) or os.sep in ref or "/" in ref:
        if as_path.is_absolute():
            candidates.append(as_path)
        else:
            if base_dir is not None:
                candidates.append(base_dir / as_path)
            candidates.append(Path.cwd() / as_path)
    else:
        folder = PRESET_DIRS[kind]
        roots = ([base_dir, base_dir.parent] if base_dir is not None else []) + [Path.cwd(), project_root()]
        for root in roots:
            candidates.append(root / folder / f"{ref}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    return None


def preset_names(kind: str) -> list[str]:
    folder = project_root() / PRESET_DIRS[kind]
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _split_override(key: str) -> tuple[str, list[str]]:
    parts = key.split(".")
    if parts[0] in ("chip", "firmware") and len(parts) > 1:
        return parts[0], parts[1:]
    if parts[0] == "scenario" and len(parts) > 1:
        return "scenario", parts[1:]
    return "scenario", parts


def _apply_overrides(raw: dict[str, dict], overrides: dict[str, Any], origin: str,
                     problems: list[Problem]) -> None:
    for key, value in overrides.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            problems.append(Problem(origin, None, None, str(key),
                                    "an override key must be a dotted path like firmware.eta"))
            continue
        target, parts = _split_override(key)
        node = raw[target]
        for part in parts[:-1]:
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = {}
                node[part] = nxt
            if not isinstance(nxt, dict):
                problems.append(Problem(origin, None, None, key,
                                        f"'{part}' is a value, not a group of fields; cannot set {key}"))
                break
            node = nxt
        else:
            node[parts[-1]] = copy.deepcopy(value)


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["firmware.eta=0.5", ...]`` -> ``{"firmware.eta": 0.5}`` with YAML typing of values."""
    out: dict[str, Any] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem("--set", None, None, item,
                                    "expected dotted.path=value, e.g. --set firmware.eta=0.5"))
            continue
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = text
    if problems:
        raise SpecError(problems)
    return out


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _first_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _first_model(annotation):
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _first_model(arg)
        if m is not None:
            return m
    return None


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's internal loc parts (union tags, validator names) and keep real keys."""
    out = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (part.startswith("function-") or
                                        (isinstance(node, dict) and node.get("name") == part)):
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem_from_error(err: dict, doc: SourceDoc, model: type[BaseModel], prefix: str) -> Problem:
    loc = _clean_loc(tuple(err["loc"]), doc.data)
    dotted = ".".join(str(p) for p in (((prefix,) if prefix else ()) + loc)) or "(top level)"
    line_col = doc.where(loc)
    line, col = line_col if line_col else (None, None)
    etype = err["type"]
    if etype == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = list(owner.model_fields) if owner else []
        msg = f"unknown field {loc[-1]!r}{did_you_mean(loc[-1], allowed)}"
        if allowed and not did_you_mean(loc[-1], allowed):
            msg += f" (allowed: {', '.join(allowed)})"
    elif etype == "missing":
        msg = "this field is required; add it"
    elif etype in ("literal_error", "union_tag_invalid"):
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",") if c.strip()]
        msg = f"got {_short(err.get('input'))}; expected one of {expected}{did_you_mean(err.get('input'), choices)}"
    elif etype == "value_error":
        msg = f"{err['msg'].removeprefix('Value error, ')} (got {_short(err.get('input'))})"
    else:
        msg = f"{err['msg']} (got {_short(err.get('input'))})"
    return Problem(doc.path, line, col, dotted, msg)


def _validate(docs: dict[str, SourceDoc]) -> RunSpec:
    problems: list[Problem] = []
    built: dict[str, BaseModel] = {}
    for kind, model in (("scenario", ScenarioSpec), ("chip", ChipSpec), ("firmware", FirmwareSpec)):
        doc = docs[kind]
        try:
            built[kind] = model.model_validate(doc.data)
        except ValidationError as exc:
            prefix = "" if kind == "scenario" else ""
            problems.extend(_problem_from_error(e, doc, model, prefix) for e in exc.errors())
    if problems:
        raise SpecError(problems)
    run = RunSpec(**built)
    cross = cross_checks(run, docs)
    if cross:
        raise SpecError(cross)
    return run


def cross_checks(run: RunSpec, docs: dict[str, SourceDoc]) -> list[Problem]:
    """Checks that span fields or files."""
    out: list[Problem] = []
    sc, fw = run.scenario, run.firmware

    def at(kind, loc, msg):
        doc = docs[kind]
        lc = doc.where(loc) or (None, None)
        out.append(Problem(doc.path, lc[0], lc[1], ".".join(loc), msg))

    if sc.accuracy == "threshold" and sc.cost == "cross_entropy":
        at("scenario", ("accuracy",), "threshold accuracy needs the mse cost (cross_entropy uses argmax)")
    if sc.dataset.name == "teacher" and sc.accuracy != "r2":
        at("scenario", ("accuracy",), f"the teacher data set is a regression; use accuracy: r2 "
                                      f"(got {sc.accuracy!r})")
    if sc.dataset.name != "teacher" and sc.accuracy == "r2":
        at("scenario", ("accuracy",), f"r2 is for regression; {sc.dataset.name} is a classification "
                                      "task: use argmax (or threshold for parity)")
    if sc.dataset.name == "parity" and sc.accuracy == "argmax":
        at("scenario", ("accuracy",), "parity has a single output; use accuracy: threshold")
    if sc.dataset.name == "parity" and sc.cost == "cross_entropy":
        at("scenario", ("cost",), "parity has a single output; softmax cross_entropy needs "
                                  "two or more: use cost: mse")
    if sc.cost == "cross_entropy" and sc.network.output_activation != "linear":
        at("scenario", ("network", "output_activation"),
           "cross_entropy applies softmax to the outputs itself; use output_activation: linear")
    return out


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None, *,
                  chip: str | None = None, firmware: str | None = None) -> RunSpec:
    """Read a scenario file and resolve its chip and firmware into a validated RunSpec.

    ``chip``/``firmware`` replace the scenario's references (CLI ``--chip``/``--firmware``);
    ``overrides`` maps dotted paths (``firmware.eta``, ``chip.clock_period``,
    ``network.hidden``) to values and is applied after the scenario's own ``overrides``.
    Raises :class:`SpecError` listing every problem found.
    """
    scen = read_yaml(path)
    base_dir = Path(scen.path).resolve().parent
    if scen.data.get("kind", "scenario") != "scenario":
        lc = scen.where(("kind",)) or (None, None)
        raise SpecError([Problem(scen.path, lc[0], lc[1], "kind",
                                 f"expected a scenario file (kind: scenario), got kind: {scen.data.get('kind')!r}; "
                                 "use 'hwsim validate' for chip and firmware files")])
    docs: dict[str, SourceDoc] = {"scenario": scen}
    problems: list[Problem] = []
    for kind, given in (("chip", chip), ("firmware", firmware)):
        ref = given if given is not None else scen.data.get(kind, ScenarioSpec.model_fields[kind].default)
        if given is not None:
            scen.data[kind] = given
        if not isinstance(ref, str) or not ref:
            lc = scen.where((kind,)) or (None, None)
            problems.append(Problem(scen.path, lc[0], lc[1], kind,
                                    f"expected a {kind} preset name or a path to a YAML file (got {_short(ref)})"))
            docs[kind] = SourceDoc(scen.path, {})
            continue
        found = find_spec_file(ref, kind, base_dir)
        if found is None:
            lc = scen.where((kind,)) or (None, None)
            names = preset_names(kind)
            problems.append(Problem(
                scen.path, lc[0], lc[1], kind,
                f"no {kind} named {ref!r}{did_you_mean(ref, names)} "
                f"(presets: {', '.join(names) or 'none'}; or give a path to a .yaml file)"))
            docs[kind] = SourceDoc(scen.path, {})
            continue
        try:
            doc = read_yaml(found)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if doc.data.get("kind", kind) != kind:
            lc = doc.where(("kind",)) or (None, None)
            problems.append(Problem(doc.path, lc[0], lc[1], "kind",
                                    f"the scenario's {kind!r} points to a {doc.data.get('kind')!r} file"))
        docs[kind] = doc
    if problems:
        raise SpecError(problems)
    raw = {k: docs[k].data for k in docs}
    own = scen.data.pop("overrides", None) or {}
    if not isinstance(own, dict):
        lc = scen.where(("overrides",)) or (None, None)
        raise SpecError([Problem(scen.path, lc[0], lc[1], "overrides",
                                 "expected a mapping of dotted.path: value")])
    _apply_overrides(raw, own, scen.path, problems)
    _apply_overrides(raw, dict(overrides or {}), "(overrides)", problems)
    if problems:
        raise SpecError(problems)
    # The scenario keeps its overrides on record (they are already applied to chip/firmware).
    run = _validate(docs)
    return run
