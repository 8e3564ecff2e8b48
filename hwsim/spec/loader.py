"""Load specs, resolve ``extends:`` and references, apply overrides, validate, report every problem.

Flow for a scenario: scenario YAML (with its ``extends:`` chain) -> chip and firmware found by
name (in ``chips/``, ``firmware_models/``) or path, each with its own ``extends:`` chain ->
dotted-path overrides (the scenario's own, then the caller's) -> pydantic models -> firmware
time constants turned into whole steps on this chip -> cross-field checks -> :class:`RunSpec`,
whose ``spec_hash`` identifies the resolved content.

Every value remembers the file, line and column it came from (a parent preset, the scenario's
``overrides:`` entry, ``--set``), so each problem is reported where it can be fixed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from hwsim.spec.errors import Problem, SpecError, did_you_mean
from hwsim.spec.limits import short
from hwsim.spec.models import (KINDS, TIME_CONSTANTS, ChipSpec, FirmwareSpec, ScenarioSpec,
                               check_tau_range)
from hwsim.spec.units import resolve_time_constant
from hwsim.spec.yaml_source import SourceDoc, parse_value, read_yaml

PRESET_DIRS = {"chip": "chips", "firmware": "firmware_models", "scenario": "scenarios"}
RUN_KIND = "run"
Origin = tuple[str, "int | None", "int | None"]


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
        docs = {k: SourceDoc("(overrides)", v) for k, v in self.resolved().items()}
        problems: list[Problem] = []
        _apply_overrides(docs, overrides, lambda key: ("(overrides)", None, None), problems)
        if problems:
            raise SpecError(problems)
        return _validate(docs)


# --------------------------------------------------------------------------- finding files


def find_spec_file(ref: str, kind: str, base_dir: Path | None) -> Path | None:
    """A preset name or a path -> the file; None when nothing matches."""
    candidates: list[Path] = []
    as_path = Path(ref)
    if ref.endswith((".yaml", ".yml", ".json")) or os.sep in ref or "/" in ref:
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
            if root.name == folder:
                candidates.append(root / f"{ref}.yaml")
            candidates.append(root / folder / f"{ref}.yaml")
    for c in candidates:
        try:
            if c.is_file():
                return c
        except OSError:
            continue
    return None


def not_found_message(ref: str, kind: str, base_dir: Path | None) -> str:
    """Why ``ref`` names no ``kind`` spec: a path to something other than a regular file (a
    FIFO, a device, a folder), or no such preset or file."""
    from hwsim.spec.yaml_source import special_file_kind

    as_path = Path(ref)
    for candidate in ([as_path] if as_path.is_absolute() else
                      [p / as_path for p in (base_dir, Path.cwd()) if p is not None]):
        try:
            special = special_file_kind(os.stat(candidate).st_mode)
        except (OSError, ValueError):
            continue
        if special is not None:
            return (f"not a regular file (got {short(str(candidate), 200)}, {special}; expected a "
                    f"{kind} preset name or a path to a .yaml file)")
    names = preset_names(kind)
    return (f"no {kind} preset found (got {short(ref, 200)}; expected one of {', '.join(names) or 'none'} "
            f"or a path to a .yaml file){did_you_mean(ref, names)}")


def preset_names(kind: str) -> list[str]:
    folder = project_root() / PRESET_DIRS[kind]
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def problem(doc: SourceDoc, loc: tuple, message: str, dotted: str | None = None) -> Problem:
    """A Problem at ``loc`` of ``doc`` (its file, line and column), named ``dotted`` (default:
    ``loc`` joined with dots). Public: the sweep and tune files report through it too."""
    file, line, col = doc.locate(loc)
    return Problem(file, line, col, dotted if dotted is not None else
                   (".".join(str(p) for p in loc) or "(top level)"), message)


def _layout(scenario: ScenarioSpec):
    """The scenario's network layout. Resolving time constants and the checks that span the
    three specs need it (cycles per inference, P, K): the one place the spec layer calls down
    into hwsim.network."""
    from hwsim.network.layout import scenario_layout

    return scenario_layout(scenario)


# --------------------------------------------------------------------------- kinds and extends

def kind_hints() -> dict[str, set[str]]:
    """For each kind, the top-level fields that only its model has (``kind``, ``name``,
    ``description`` and the chip's and firmware's ``perturbation`` tell nothing apart): a file
    without ``kind:`` outside the preset folders is of the kind whose fields it uses most."""
    fields = {kind: set(model.model_fields) for kind, model in KINDS.items()}
    return {kind: own - set().union(*(f for k, f in fields.items() if k != kind))
            for kind, own in fields.items()}


def detect_kind(doc: SourceDoc) -> str | None:
    """chip, firmware, scenario or run: from ``kind:``, else the folder, else the keys."""
    data = doc.data
    kind = data.get("kind")
    if isinstance(kind, str) and (kind in KINDS or kind == RUN_KIND):
        return kind
    if kind is not None:
        choices = [*KINDS, RUN_KIND]
        raise SpecError([problem(doc, ("kind",), f"unknown kind (got {short(kind)}; expected one of "
                                                  f"{', '.join(choices)}){did_you_mean(kind, choices)}")])
    if {"scenario", "chip", "firmware"} <= set(data) and all(
            isinstance(data[k], dict) for k in ("scenario", "chip", "firmware")):
        return RUN_KIND
    folder = Path(doc.path).resolve().parent.name
    for k, name in PRESET_DIRS.items():
        if folder == name:
            return k
    scores = {k: len(hints & set(data)) for k, hints in kind_hints().items()}
    best = max(scores.values())
    winners = [k for k, v in scores.items() if v == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def _deep_merge(parent: Any, child: Any) -> Any:
    if isinstance(parent, dict) and isinstance(child, dict):
        out = dict(parent)
        for k, v in child.items():
            out[k] = _deep_merge(parent[k], v) if k in parent else v
        return out
    return child


def _merge_docs(parent: SourceDoc, child: SourceDoc) -> SourceDoc:
    data = _deep_merge(parent.data, child.data)
    origins = {loc: (parent.path, *pos) for loc, pos in parent.positions.items()
               if loc and loc not in child.positions}
    origins.update({loc: o for loc, o in parent.origins.items() if loc not in child.positions})
    origins.update(child.origins)
    return SourceDoc(child.path, data, dict(child.positions), origins)


def read_spec(path: str | Path, kind: str | None = None, _chain: tuple[str, ...] = ()) -> tuple[str | None, SourceDoc]:
    """Read one spec file and resolve its ``extends:`` chain: (kind, merged document).

    ``kind`` is what the caller expects (a scenario's ``chip:`` must name a chip file);
    ``None`` detects it. Child keys override parent keys recursively; lists are replaced.
    """
    doc = read_yaml(path)
    found = detect_kind(doc)
    if kind is not None and found is not None and found != kind:
        raise SpecError([problem(doc, ("kind",), f"wrong kind of file (got kind {found!r}; expected a "
                                                  f"{kind} file)")])
    kind = kind or found
    if "extends" not in doc.data:
        return kind, doc
    ref = doc.data.pop("extends")
    here = str(Path(doc.path).resolve())
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError([problem(doc, ("extends",), f"wrong type (got {short(ref)}; expected a preset "
                                                     "name or a path to a YAML file)")])
    if kind is None or kind == RUN_KIND:
        raise SpecError([problem(doc, ("extends",), "cannot tell which kind of preset to extend (got no "
                                                     "'kind:'; expected kind: chip, firmware or scenario)")])
    parent_path = find_spec_file(ref, kind, Path(doc.path).resolve().parent)
    if parent_path is None:
        raise SpecError([problem(doc, ("extends",), not_found_message(ref, kind, Path(doc.path).resolve().parent))])
    chain = _chain + (here,)
    target = str(parent_path.resolve())
    if target in chain:
        loop = " -> ".join(Path(p).name for p in chain[chain.index(target):] + (target,))
        raise SpecError([problem(doc, ("extends",), f"extends loops back on itself (got {loop}; "
                                                     "expected a chain that ends in a file without extends)")])
    if len(chain) > 32:
        raise SpecError([problem(doc, ("extends",), "extends chain too long (got more than 32 levels)")])
    parent_kind, parent = read_spec(parent_path, None, chain)
    if parent_kind is not None and parent_kind != kind:
        raise SpecError([problem(doc, ("extends",), f"wrong kind of preset (got {short(ref)}, a {parent_kind} "
                                                     f"file; expected a {kind} file)")])
    return kind, _merge_docs(parent, doc)


# --------------------------------------------------------------------------- overrides


def _split_override(key: str) -> tuple[str, list[str]]:
    parts = key.split(".")
    if parts[0] in ("chip", "firmware", "scenario") and len(parts) > 1:
        return parts[0], parts[1:]
    return "scenario", parts


def _apply_overrides(docs: dict[str, SourceDoc], overrides: dict[str, Any],
                     origin_of: Callable[[str], Origin], problems: list[Problem],
                     default_target: str = "scenario") -> None:
    """Set each dotted path in ``docs``; the value remembers where the override was written."""
    for key, value in overrides.items():
        origin = origin_of(key)
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            problems.append(Problem(*origin, str(key) or "(empty key)", "not a dotted path (got "
                                    f"{short(key)}; expected something like firmware.eta)"))
            continue
        target, parts = _split_override(key)
        if target not in docs:
            if default_target in docs and len(docs) == 1:
                target, parts = default_target, key.split(".")
                if parts[0] == default_target and len(parts) > 1:
                    parts = parts[1:]
            else:
                problems.append(Problem(*origin, key, f"nothing to override here (got {target}.*; expected "
                                        f"one of {', '.join(sorted(docs))})"))
                continue
        doc = docs[target]
        node = doc.data
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = {}
                node[part] = nxt
                doc.set_origin(tuple(parts[:i + 1]), origin)
            if not isinstance(nxt, dict):
                problems.append(Problem(*origin, key, f"not a group of fields (got {short(part)} = {short(nxt)}; "
                                        f"expected a mapping to set {key} in)"))
                break
            node = nxt
        else:
            node[parts[-1]] = copy.deepcopy(value)
            doc.set_origin(tuple(parts), origin)


def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["firmware.eta=0.5", ...]`` -> ``{"firmware.eta": 0.5}`` with YAML typing of values."""
    out: dict[str, Any] = {}
    problems = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem("--set", None, None, item,
                                    "not an assignment (got this text; expected dotted.path=value, "
                                    "e.g. --set firmware.eta=0.5)"))
            continue
        if not text.strip():
            out[key.strip()] = ""
            continue
        try:
            out[key.strip()] = parse_value(text, "--set")
        except SpecError as exc:
            if any(p.path == "(syntax)" for p in exc.problems):
                out[key.strip()] = text      # not YAML: the text as written (a name, a quantity)
            else:
                problems.extend(Problem("--set", None, None, key.strip(), p.message) for p in exc.problems)
    if problems:
        raise SpecError(problems)
    return out


# --------------------------------------------------------------------------- pydantic errors


def _model_at(model: type[BaseModel], loc: tuple, data: Any = None) -> type[BaseModel] | None:
    """The pydantic model class that owns the field at ``loc`` (for 'did you mean'); a union
    of models (the data sets, the layers) is resolved by the ``name:``/``type:`` in ``data``."""
    annotation, node = model, data
    for part in loc:
        if isinstance(part, int):          # an item of a list: its model is picked by its data
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        current = _pick_model(annotation, node)
        field = current.model_fields.get(part) if current is not None else None
        if field is None:
            return None
        annotation = field.annotation
        node = node.get(part) if isinstance(node, dict) else None
    return _pick_model(annotation, node)


def _models_in(annotation) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _pick_model(annotation, node) -> type[BaseModel] | None:
    models = _models_in(annotation)
    if len(models) > 1 and isinstance(node, dict):
        for m in models:
            for tag in ("name", "type"):
                field = m.model_fields.get(tag)
                if field is not None and node.get(tag) is not None and field.default == node.get(tag):
                    return m
    return models[0] if models else None


def _field_places(kind: str, name: str) -> list[str]:
    """Where a field called ``name`` belongs in a ``kind`` file, in words ('dataset (name:
    digits, teacher or mnist1d)', 'the top level'); empty when no model has it."""
    places: dict[str, list[str]] = {}

    def walk(model, prefix: tuple, seen: tuple):
        if model in seen:
            return
        for field_name, field in model.model_fields.items():
            if field_name == name:
                tag = next((t for t in ("name", "type") if t in model.model_fields and t != name), None)
                variant = model.model_fields[tag].default if tag is not None else None
                variants = places.setdefault(".".join(prefix) or "the top level", [])
                if isinstance(variant, str) and len(_models_in(_parent_annotation(prefix))) > 1:
                    variants.append((tag, variant))
            for sub in _models_in(field.annotation):
                walk(sub, prefix + (field_name,), seen + (model,))

    def _parent_annotation(prefix):
        annotation = KINDS[kind]
        for part in prefix:
            owner = _models_in(annotation)
            annotation = next((m.model_fields[part].annotation for m in owner if part in m.model_fields), None)
        return annotation

    walk(KINDS[kind], (), ())
    out = []
    for where, variants in places.items():
        if variants:
            values = [v for _, v in variants]
            listed = ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]
            where = f"{where} (with {variants[0][0]}: {listed})"
        out.append(where)
    return out


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's internal loc parts (union tags, validator names) and keep real keys."""
    out = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (part.startswith("function-") or part in ("int", "str", "float")
                                        or (isinstance(node, dict) and node.get("name") == part)):
            continue
        else:
            out.append(part)
            node = None
    return tuple(out)


_TYPE_NAMES = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
    "bool_type": "true or false", "string_type": "text", "list_type": "a list such as [32, 16]",
    "tuple_type": "a list of two numbers such as [0.1, 0.4]", "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields", "model_attributes_type": "a mapping of fields",
    "finite_number": "a finite number",
}
_RANGE = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _message(err: dict, model: type[BaseModel], loc: tuple, data: Any = None) -> str:
    etype = err["type"]
    got = short(err.get("input"))
    ctx = err.get("ctx") or {}
    if etype == "extra_forbidden":
        owner = _model_at(model, loc[:-1], data)
        allowed = list(owner.model_fields) if owner else []
        if not loc[:-1]:
            allowed = allowed + ["extends"]
        kind = next((k for k, m in KINDS.items() if m is model), None)
        places = _field_places(kind, str(loc[-1])) if kind is not None else []
        hint = (f"; {loc[-1]} belongs under {', '.join(places[:3])}" if places
                else did_you_mean(loc[-1], allowed))
        return f"unknown field (got {short(loc[-1])}; expected one of {', '.join(allowed)}){hint}"
    if etype == "missing" and loc and isinstance(loc[-1], int):
        return "list too short (got fewer values; expected one more value here)"
    if etype == "missing":
        return "required field is missing (got nothing; expected a value)"
    if etype in ("literal_error", "union_tag_invalid", "enum"):
        expected = ctx.get("expected", ctx.get("expected_tags", ""))
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ",").split(",") if c.strip()]
        value = err.get("input") if etype != "union_tag_invalid" else ctx.get("tag")
        return (f"not an allowed value (got {short(value)}; expected one of {', '.join(choices)})"
                f"{did_you_mean(value, choices)}")
    if etype == "union_tag_not_found":
        return f"which one? (got no {ctx.get('discriminator', 'name')}; expected a 'name:' field)"
    if etype in _RANGE:
        bound = next(iter(ctx.values()), "")
        return f"out of range (got {got}; expected {_RANGE[etype]} {bound}){_percent_hint(err, model, loc, data)}"
    if etype in ("too_long", "too_short"):
        return f"wrong length (got {got}; expected {err['msg'].lower()})"
    if etype == "value_error":
        text = err["msg"].removeprefix("Value error, ")
        return text if "(got" in text else f"{text} (got {got})"
    if etype in _TYPE_NAMES:
        return f"wrong type (got {got}; expected {_TYPE_NAMES[etype]})"
    return f"{err['msg']} (got {got})"


def _percent_hint(err: dict, model: type[BaseModel], loc: tuple, data: Any) -> str:
    """'; if 90 is a percentage, write 0.9 ...' where a fraction is meant and 1 < value <= 100."""
    owner = _model_at(model, loc[:-1], data) if loc and isinstance(loc[-1], str) else None
    field = owner.model_fields.get(loc[-1]) if owner is not None else None
    unit = (field.json_schema_extra or {}).get("x-unit") if field is not None else None
    value = err.get("input")
    if unit == "fraction" and isinstance(value, (int, float)) and 1 < value <= 100:
        return f"; if {value:g} is a percentage, write {value / 100:g} or '{value:g} %'"
    return ""


def problems_from(exc: ValidationError, doc: SourceDoc, model: type[BaseModel], prefix: str) -> list[Problem]:
    """pydantic's errors on ``doc`` as Problems at their YAML lines, each saying what it got,
    what was expected and, for a misspelt name, what was meant. Public: the sweep and tune
    files validate through it too."""
    out = []
    seen = set()
    for err in exc.errors():
        loc = _clean_loc(tuple(err["loc"]), doc.data)
        dotted = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc) or "(top level)"
        p = problem(doc, loc, _message(err, model, loc, doc.data), dotted)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def validate_doc(kind: str, doc: SourceDoc, prefix: str = "") -> BaseModel:
    """One chip, firmware or scenario document -> its model, or SpecError with every problem."""
    model = KINDS[kind]
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(problems_from(exc, doc, model, prefix)) from None


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


def _validate(docs: dict[str, SourceDoc]) -> RunSpec:
    problems: list[Problem] = []
    built: dict[str, BaseModel] = {}
    for kind in ("scenario", "chip", "firmware"):
        try:
            built[kind] = validate_doc(kind, docs[kind], "" if kind == "scenario" else kind)
        except SpecError as exc:
            problems.extend(exc.problems)
    if "scenario" in built:
        problems.extend(network_checks(built["scenario"], docs["scenario"]))
    layout = None
    if len(built) == 3 and not problems:
        layout = _layout(built["scenario"])     # once, for every check below
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


def network_checks(sc: ScenarioSpec, doc: SourceDoc) -> list[Problem]:
    """The network's layers against the data set (shapes chain, conv layers fit the image)."""
    net = sc.network
    if net.layers is None:
        return []
    out = []
    n_in, n_out = sc.dataset.shape
    last = net.layers[-1]
    if last.units is not None and last.units != n_out:
        i = len(net.layers) - 1
        out.append(problem(doc, ("network", "layers", i, "units"),
                            f"the output layer does not match the data set (got {last.units} units; "
                            f"expected {n_out}, or null to take it from {sc.dataset.name})",
                            f"network.layers.{i}.units"))
    try:
        _layout(sc)
    except ValueError as exc:
        image = getattr(sc.dataset, "image_shape", None)
        shape = f"{sc.dataset.name} gives {'x'.join(map(str, image))} (channels x height x width) images" \
            if image is not None else f"{sc.dataset.name} is not an image data set"
        out.append(problem(doc, ("network", "layers"), f"{exc} ({shape}); expected layers that "
                            "fit the input: smaller kernels or fewer pooling layers, or dense "
                            "layers only", "network.layers"))
    return out


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
    from hwsim.spec.limits import format_bytes, memory_problem

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


#: Smallest perturbation amplitude, fixed or scheduled: the gradient is divided by its square.
MIN_AMPLITUDE = 1e-100


def _amplitude_schedule_problems(run: RunSpec, doc: SourceDoc, layout=None) -> list[Problem]:
    """The amplitude schedule must keep the amplitude at or above MIN_AMPLITUDE up to the last
    perturbation index the budget allows (step, cosine and inverse_time only ever fall)."""
    import math

    from hwsim.chip.timing import inference_timing

    fw, sc = run.firmware, run.scenario
    sched = fw.amplitude_schedule
    if sched.kind == "constant":
        return []
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


def cross_checks(run: RunSpec, docs: dict[str, SourceDoc], layout=None) -> list[Problem]:
    """Checks that span fields or files. The knowledge of a data set (its task, what its
    inputs and outputs are) is on its model class (hwsim.spec.scenario); the checks stay here
    because only the loader can aim a problem at a field's line. ``layout``: the scenario's,
    when the caller has it."""
    out: list[Problem] = []
    sc = run.scenario

    def at(kind, loc, msg):
        out.append(problem(docs[kind], loc, msg, ".".join(((kind,) if kind != "scenario" else ()) + loc)))

    dev, arr = run.chip.device, run.chip.array
    if (dev.conductance is None) != (arr.gain is None):
        given, missing = (("device.conductance", "array.gain") if arr.gain is None
                          else ("array.gain", "device.conductance"))
        at("chip", tuple(given.split(".")), f"{given} needs {missing} (got one without the other; "
                                             "expected both, or neither to give the device in weight units)")
    elif dev.conductance is not None:
        clash = [f for f in ("dw_min", "w_min", "w_max", "programming_error")
                 if getattr(dev, f) != type(dev).model_fields[f].default]
        if clash:
            at("chip", ("device", clash[0]), f"given twice: in weight units and through device.conductance "
                                             f"(got {', '.join(clash)}; expected only device.conductance)")
    if run.firmware.perturbation.target == "nodes" and run.chip.perturbation.injection == "weight_device":
        at("chip", ("perturbation", "injection"),
           "node perturbation adds theta~ to the neurons' pre-activations, not to the weight devices "
           "(got injection weight_device with firmware.perturbation.target nodes; expected "
           "injection: auxiliary)")
    if sc.accuracy == "threshold" and sc.cost == "cross_entropy":
        at("scenario", ("accuracy",), "threshold accuracy needs the mse cost (got cost cross_entropy, "
                                      "which uses argmax; expected accuracy: argmax or cost: mse)")
    ds = sc.dataset
    if ds.REGRESSION and sc.accuracy != "r2":
        at("scenario", ("accuracy",), f"the {ds.name} data set is a regression (got {short(sc.accuracy)}; "
                                      "expected accuracy: r2)")
    if not ds.REGRESSION and sc.accuracy == "r2":
        at("scenario", ("accuracy",), f"r2 is for regression (got r2 on {ds.name}, a classification "
                                      "task; expected argmax, or threshold for parity)")
    if ds.SINGLE_OUTPUT and sc.accuracy == "argmax":
        at("scenario", ("accuracy",), f"{ds.name} has a single output (got argmax; expected accuracy: threshold)")
    if ds.SINGLE_OUTPUT and sc.cost == "cross_entropy":
        at("scenario", ("cost",), f"{ds.name} has a single output (got cross_entropy, which needs two or more; "
                                  "expected cost: mse)")
    out_act = sc.network.output_activation
    if sc.network.layers is not None and sc.network.layers[-1].activation is not None:
        out_act = sc.network.layers[-1].activation
    if sc.cost == "cross_entropy" and out_act != "linear":
        at("scenario", ("network", "output_activation"),
           f"cross_entropy applies softmax to the outputs itself (got {short(out_act)}; "
           "expected output_activation: linear)")
    n_in, n_out = sc.dataset.shape
    what = (sc.dataset.INPUTS_ARE, sc.dataset.OUTPUTS_ARE)
    if sc.network.inputs is not None and sc.network.inputs != n_in:
        at("scenario", ("network", "inputs"), f"the network does not match the data set (got "
                                              f"{sc.network.inputs} inputs; expected {n_in}: {sc.dataset.name} "
                                              f"has {n_in} {what[0]})")
    if sc.network.outputs is not None and sc.network.outputs != n_out:
        at("scenario", ("network", "outputs"), f"the network does not match the data set (got "
                                               f"{sc.network.outputs} outputs; expected {n_out}: "
                                               f"{sc.dataset.name} has {n_out} {what[1]})")
    out.extend(_amplitude_schedule_problems(run, docs["firmware"], layout))
    return out


# --------------------------------------------------------------------------- entry points


def _run_docs(doc: SourceDoc) -> tuple[dict[str, SourceDoc], list[Problem]]:
    """Split a resolved run file ({kind: run, scenario, chip, firmware}) into three documents."""
    problems = []
    allowed = ["kind", "scenario", "chip", "firmware"]
    for key in doc.data:
        if key not in allowed:
            problems.append(problem(doc, (key,), f"unknown field (got {short(key)}; expected one of "
                                                  f"{', '.join(allowed)}){did_you_mean(key, allowed)}"))
    docs = {}
    for part in ("scenario", "chip", "firmware"):
        value = doc.data.get(part, {})
        if not isinstance(value, dict):
            problems.append(problem(doc, (part,), f"wrong type (got {short(value)}; expected the resolved "
                                                   f"{part} as a mapping of fields)"))
            value = {}
        n = 1
        positions = {loc[n:]: pos for loc, pos in doc.positions.items() if loc[:1] == (part,)}
        origins = {loc[n:]: o for loc, o in doc.origins.items() if loc[:1] == (part,)}
        docs[part] = SourceDoc(doc.path, value, positions, origins)
    return docs, problems


def _scenario_docs(scen: SourceDoc, overrides: dict[str, Any], chip: str | None,
                   firmware: str | None) -> tuple[dict[str, SourceDoc], list[Problem]]:
    base_dir = Path(scen.path).resolve().parent
    docs: dict[str, SourceDoc] = {"scenario": scen}
    problems: list[Problem] = []
    # A reference replaced on the command line (--chip, --set chip=...) is read instead.
    for key, value in overrides.items():
        if key in ("chip", "firmware", "scenario.chip", "scenario.firmware"):
            which = key.split(".")[-1]
            if which == "chip" and chip is None:
                chip = value
            if which == "firmware" and firmware is None:
                firmware = value
    for kind, given in (("chip", chip), ("firmware", firmware)):
        if given is not None:
            scen.data[kind] = given
            scen.set_origin((kind,), ("(command line)", None, None))
        ref = scen.data.get(kind, ScenarioSpec.model_fields[kind].default)
        docs[kind] = SourceDoc(scen.path, {})
        if not isinstance(ref, str) or not ref.strip():
            problems.append(problem(scen, (kind,), f"wrong type (got {short(ref)}; expected a {kind} "
                                                    "preset name or a path to a YAML file)"))
            continue
        found = find_spec_file(ref, kind, base_dir)
        if found is None:
            problems.append(problem(scen, (kind,), not_found_message(ref, kind, base_dir)))
            continue
        try:
            found_kind, docs[kind] = read_spec(found)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if found_kind is not None and found_kind != kind:
            problems.append(problem(scen, (kind,), f"wrong kind of file (got {short(ref)}, a {found_kind} file; "
                                                    f"expected a {kind} file)"))
    own = scen.data.pop("overrides", None) or {}
    if not isinstance(own, dict):
        problems.append(problem(scen, ("overrides",), f"wrong type (got {short(own)}; expected a mapping "
                                                       "of dotted.path: value)"))
        own = {}
    if not problems:
        _apply_overrides(docs, own, lambda key: scen.locate(("overrides", key)), problems)
    # The scenario keeps its overrides on record (already applied to chip and firmware).
    scen.data["overrides"] = own
    return docs, problems


def _cli_origin(key: str) -> Origin:
    return ("--set", None, None)


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None, *,
                  chip: str | None = None, firmware: str | None = None) -> RunSpec:
    """Read a scenario file and resolve its chip and firmware into a validated RunSpec.

    ``chip``/``firmware`` replace the scenario's references (CLI ``--chip``/``--firmware``);
    ``overrides`` maps dotted paths (``firmware.eta``, ``chip.clock_period``,
    ``network.hidden``) to values and is applied after the scenario's own ``overrides``.
    A resolved run file (``hwsim show`` of a scenario, or a manifest's ``resolved``) loads too.
    Raises :class:`SpecError` listing every problem found.
    """
    kind, doc = read_spec(path)
    if kind not in ("scenario", RUN_KIND):
        raise SpecError([problem(doc, ("kind",), f"not a scenario (got a {kind or 'unrecognised'} file; "
                                                  "expected kind: scenario): use 'hwsim validate' or "
                                                  "'hwsim show' for chip and firmware files")])
    return _load_run(kind, doc, dict(overrides or {}), chip, firmware)


def _load_run(kind: str, doc: SourceDoc, overrides: dict, chip, firmware) -> RunSpec:
    if kind == RUN_KIND:
        if chip is not None or firmware is not None:
            raise SpecError([Problem(doc.path, None, None, "chip" if chip is not None else "firmware",
                                     "a resolved run file already holds its chip and firmware (got "
                                     "--chip/--firmware; expected --set chip.FIELD=VALUE)")])
        docs, problems = _run_docs(doc)
    else:
        docs, problems = _scenario_docs(doc, overrides, chip, firmware)
    if problems:
        raise SpecError(problems)
    overrides = {k: v for k, v in overrides.items()
                 if k not in ("chip", "firmware", "scenario.chip", "scenario.firmware")}
    _apply_overrides(docs, overrides, _cli_origin, problems)
    if problems:
        raise SpecError(problems)
    return _validate(docs)


def load_spec(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[str, BaseModel]:
    """Any spec file -> (kind, model): a ChipSpec, a FirmwareSpec, or a RunSpec for a scenario
    or resolved run file. Raises :class:`SpecError` listing every problem found."""
    kind, doc = read_spec(path)
    if kind is None:
        raise SpecError([Problem(doc.path, 1, 1, "kind", "cannot tell which kind of spec this is (got no "
                                                         "'kind:' and no telling fields; expected kind: "
                                                         "chip, firmware or scenario)")])
    overrides = dict(overrides or {})
    if kind in ("scenario", RUN_KIND):
        return kind, _load_run(kind, doc, overrides, None, None)
    problems: list[Problem] = []
    _apply_overrides({kind: doc}, overrides, _cli_origin, problems, default_target=kind)
    if problems:
        raise SpecError(problems)
    return kind, validate_doc(kind, doc)


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
