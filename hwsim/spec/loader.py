"""Read specs, resolve ``extends:`` and references, apply overrides, validate, report every problem.

Flow for a scenario: scenario YAML (with its ``extends:`` chain) -> chip and firmware found by
name (in ``chips/``, ``firmware_models/``) or path, each with its own ``extends:`` chain ->
dotted-path overrides (the scenario's own, then the caller's) -> pydantic models and the
checks that need nothing but the specs (:func:`read_run`, a :class:`ValidatedSpecs`).

This is stage 1 of loading a run, and all of the spec layer's part. Stage 2 (firmware time
constants turned into whole steps on this chip, the checks that need the network layout or the
chip's timing, the memory estimate) needs model facts from hwsim.network and hwsim.chip, so it
lives a level up in :mod:`hwsim.run_plan`, which also makes the :class:`RunSpec`. The spec
layer imports nothing from the model packages (tests/spec/test_spec_layering.py checks it).

Every value remembers the file, line and column it came from (a parent preset, the scenario's
``overrides:`` entry, ``--set``), so each problem is reported where it can be fixed.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from hwsim.spec.errors import Problem, SpecError, did_you_mean
from hwsim.spec.limits import short
from hwsim.spec.models import KINDS, ChipSpec, FirmwareSpec, ScenarioSpec
from hwsim.spec.yaml_source import SourceDoc, parse_value, read_yaml

PRESET_DIRS = {"chip": "chips", "firmware": "firmware_models", "scenario": "scenarios"}
# Every folder of presets, by the kind of file it holds: all of them ship inside the package
# (setup.py maps each to hwsim/presets/<folder>), and each is searched the same way.
SHIPPED_DIRS = {**PRESET_DIRS, "sweep": "sweeps", "tune_space": "tunes"}
RUN_KIND = "run"
Origin = tuple[str, "int | None", "int | None"]


@functools.cache             # where this installation is does not change while it runs
def packaged_root() -> Path | None:
    """The folder holding the presets shipped inside an installed hwsim (hwsim/presets/ of a
    wheel or a ``pip install .``); None when hwsim runs from a source checkout, where that
    folder holds no presets (they stay at the root of the checkout)."""
    from importlib.resources import files

    try:
        root = Path(str(files("hwsim.presets")))
    except (ModuleNotFoundError, TypeError):
        return None
    return root if (root / PRESET_DIRS["scenario"]).is_dir() else None


@functools.cache
def source_root() -> Path | None:
    """The source checkout hwsim runs from (an editable install, or PYTHONPATH), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / PRESET_DIRS["scenario"]).is_dir() else None


def project_root() -> Path:
    """The folder that holds this installation's own chips/, firmware_models/, scenarios/,
    sweeps/ and tunes/: the presets packaged with hwsim, or those of the source checkout it
    runs from."""
    return packaged_root() or source_root() or Path(__file__).resolve().parents[2]


def installation_label() -> str:
    """What :func:`project_root` is, in words for ``hwsim list`` and error messages."""
    return "packaged with hwsim" if packaged_root() is not None else "hwsim's source checkout"


# --------------------------------------------------------------------------- finding files


def _is_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml", ".json")) or os.sep in ref or "/" in ref


def search_folders(kind: str, base_dir: Path | None = None) -> list[Path]:
    """The folders a preset name of ``kind`` is looked up in, first match wins: beside the
    file that names it (``base_dir`` and its parent's ``<folder>/``), then the user's
    ``./<folder>/`` (or ``.`` itself when it is that folder), then the installation's presets."""
    folder = SHIPPED_DIRS[kind]
    out: list[Path] = []
    for root in ([base_dir, base_dir.parent] if base_dir is not None else []) + [Path.cwd()]:
        if root.name == folder:
            out.append(root)
        out.append(root / folder)
    out.append(project_root() / folder)
    seen: set[str] = set()
    unique = []
    for f in out:
        key = os.path.normpath(os.path.abspath(f))
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def find_spec_file(ref: str, kind: str, base_dir: Path | None) -> Path | None:
    """A preset name or a path -> the file; None when nothing matches. A path is taken
    relative to ``base_dir`` (the folder of the file that names it), then to the working
    folder; a name is looked up in :func:`search_folders`."""
    candidates: list[Path] = []
    as_path = Path(ref)
    if _is_path(ref):
        if as_path.is_absolute():
            candidates.append(as_path)
        else:
            if base_dir is not None:
                candidates.append(base_dir / as_path)
            candidates.append(Path.cwd() / as_path)
    else:
        candidates = [folder / f"{ref}.yaml" for folder in search_folders(kind, base_dir)]
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
    if base_dir is None and not _is_path(ref):
        # A name typed on the command line: where it was looked for, and `hwsim list` for the
        # choices (all of them and the folders would not fit one readable line).
        return (f"no {kind} preset found (got {short(ref, 60)}; looked in {looked_in(kind)}; expected a "
                f"preset name that hwsim list shows, or a path to a .yaml file){did_you_mean(ref, names)}")
    return (f"no {kind} preset found (got {short(ref, 200)}; expected one of "
            f"{', '.join(names) or 'none'} or a path to a .yaml file){did_you_mean(ref, names)}")


def preset_names(kind: str, base_dir: Path | None = None) -> list[str]:
    """Every name a preset of ``kind`` can be found by (see :func:`search_folders`)."""
    names: set[str] = set()
    for folder in search_folders(kind, base_dir):
        try:
            names.update(p.stem for p in folder.glob("*.yaml") if p.is_file())
        except OSError:
            continue
    return sorted(names)


def presets(kind: str) -> list[tuple[str, Path, bool]]:
    """The presets of ``kind`` a name finds from the working folder: (name, file, whether the
    file is the installation's own), the user's ``./<folder>/`` first; a user's file hides
    the installation's preset of the same name, as it does when the name is looked up."""
    own = (project_root() / SHIPPED_DIRS[kind]).resolve()
    found: dict[str, tuple[Path, bool]] = {}
    for folder in search_folders(kind):
        try:
            files = sorted(p for p in folder.glob("*.yaml") if p.is_file())
        except OSError:
            continue
        for f in files:
            found.setdefault(f.stem, (f, folder.resolve() == own))
    return [(name, f, is_own) for name, (f, is_own) in sorted(found.items())]


def locate_spec(ref: str | Path, kinds=("scenario",)) -> Path:
    """The file a command-line argument or API call names (``hwsim run quickstart``,
    ``hwsim show rram_crossbar``): the path as given when there is one (the user's file wins),
    else a preset of the first of ``kinds`` that has one by that name, looked up as in
    :func:`search_folders`. A SpecError says where it looked and suggests close names."""
    text = str(ref)
    path = Path(ref)
    if os.path.lexists(path) or not text.strip():
        return path            # read_yaml reports a folder, a device...
    if _is_path(text):
        # A missing path such as scenarios/quickstart.yaml outside a checkout: point to the
        # preset of that name (read_yaml reports any other missing path).
        stem = path.stem if path.suffix in (".yaml", ".yml") else None
        for kind in kinds if stem else ():
            found = find_spec_file(stem, kind, None)
            if found is not None:
                raise SpecError([Problem(text, None, None, "(file)",
                                         f"file not found (got this path; expected an existing file): "
                                         f"there is a {kind} preset {stem!r} ({_shown(found)}): "
                                         f"give its name, {stem}, instead of a path")])
        return path
    for kind in kinds:
        found = find_spec_file(text, kind, None)
        if found is not None:
            return found
    names = sorted({n for kind in kinds for n in preset_names(kind)})
    if len(kinds) == 1:
        looked = looked_in(kinds[0])
    else:       # the same two places for each kind: said once, to keep the line readable
        looked = (f"./FOLDER, then {_shown(project_root())}/FOLDER ({installation_label()}), FOLDER = "
                  f"{', '.join(SHIPPED_DIRS[k] for k in kinds)}")
    raise SpecError([Problem(text, None, None, "(file)",
                             f"no such file, and no {kinds[0] + ' ' if len(kinds) == 1 else ''}preset by that "
                             f"name (got {short(text, 40)}; looked for the file in the working folder, then for "
                             f"{short(text + '.yaml') if len(text) <= 40 else 'the name + .yaml'} in {looked}; "
                             f"expected a .yaml file or a name from "
                             f"hwsim list){did_you_mean(text, names)}")])


def looked_in(kind: str, base_dir: Path | None = None) -> str:
    """The folders a ``kind`` name is looked up in, in order, as a user would type them."""
    own = os.path.abspath(project_root() / SHIPPED_DIRS[kind])
    return ", then ".join(_shown(f) + (f" ({installation_label()})" if os.path.abspath(f) == own else "")
                          for f in search_folders(kind, base_dir))


def _shown(folder: Path) -> str:
    """A folder as a user would type it: relative to the working folder when inside it."""
    try:
        rel = Path(os.path.abspath(folder)).relative_to(Path.cwd())
    except ValueError:
        return str(folder)
    return f"./{rel}" if str(rel) != "." else "."


def problem(doc: SourceDoc, loc: tuple, message: str, dotted: str | None = None) -> Problem:
    """A Problem at ``loc`` of ``doc`` (its file, line and column), named ``dotted`` (default:
    ``loc`` joined with dots). Public: the sweep and tune files report through it too."""
    file, line, col = doc.locate(loc)
    return Problem(file, line, col, dotted if dotted is not None else
                   (".".join(str(p) for p in loc) or "(top level)"), message)


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


def apply_overrides(docs: dict[str, SourceDoc], overrides: dict[str, Any],
                     origin_of: Callable[[str], Origin], problems: list[Problem],
                     default_target: str = "scenario") -> None:
    """Set each dotted path in ``docs``; the value remembers where the override was written.
    ``origin_of(key)``: where the override ``key`` was written (file, line, column)."""
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


def cli_origin(key: str) -> Origin:
    """The origin of an override given by the caller (``--set``, an API ``overrides`` dict)."""
    return ("--set", None, None)


# A number in exponent form without a decimal point (1e12, -3E-4), which YAML 1.1 reads as text.
_E_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


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
            value = parse_value(text, "--set")
            # YAML 1.1 reads 1e12 (no dot) as text; on the command line it is a number.
            out[key.strip()] = float(value) if isinstance(value, str) and _E_NUMBER.match(value) else value
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


def _as_decimal(text: str) -> str:
    """1e12 -> '1.0e+12': YAML 1.1 reads a number in exponent form only with a decimal point
    and a signed exponent."""
    mantissa, _, exponent = text.lower().partition("e")
    if not exponent.startswith(("+", "-")):
        exponent = "+" + exponent
    return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"


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
        if not places and kind == "scenario" and not loc[:-1]:
            # A chip or firmware field set on the scenario (--set clock_period=2ns): its path.
            other = next((f"{k}.{loc[-1]}" for k in ("chip", "firmware") if _field_places(k, str(loc[-1]))), None)
            if other is not None:
                hint = f"; did you mean {other!r} (a {other.split('.')[0]} field)?"
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
        hint = ""
        if isinstance(err.get("input"), str) and _E_NUMBER.match(err["input"]) and "number" in _TYPE_NAMES[etype]:
            hint = f"; YAML reads {err['input']} as text: write {_as_decimal(err['input'])}"
        return f"wrong type (got {got}; expected {_TYPE_NAMES[etype]}){hint}"
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
        # A name given on the command line is the user's: looked up from the working folder
        # (then the installation's presets), not beside the scenario file.
        where = None if given is not None and not _is_path(ref) else base_dir
        found = find_spec_file(ref, kind, where)
        if found is None:
            problems.append(problem(scen, (kind,), not_found_message(ref, kind, where)))
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
        apply_overrides(docs, own, lambda key: scen.locate(("overrides", key)), problems)
    # The scenario keeps its overrides on record (already applied to chip and firmware).
    scen.data["overrides"] = own
    return docs, problems




# --------------------------------------------------------------------------- validation (stage 1)


@dataclass
class ValidatedSpecs:
    """Stage 1 of loading a run: the three documents (scenario, chip, firmware: the
    SourceDocs that stage 2 aims its problems at), the models that validated, and every
    problem found so far. The firmware's time constants are still as written (cycles, a time,
    'full_period'); hwsim.run_plan resolves them and raises the problems."""

    docs: dict[str, SourceDoc]
    models: dict[str, BaseModel]
    problems: list[Problem]


def output_layer_checks(sc: ScenarioSpec, doc: SourceDoc) -> list[Problem]:
    """The network's output layer against the data set (whether the layers fit the input is
    stage 2's: it needs the network layout)."""
    net = sc.network
    if net.layers is None:
        return []
    n_in, n_out = sc.dataset.shape
    last = net.layers[-1]
    if last.units is not None and last.units != n_out:
        i = len(net.layers) - 1
        return [problem(doc, ("network", "layers", i, "units"),
                        f"the output layer does not match the data set (got {last.units} units; "
                        f"expected {n_out}, or null to take it from {sc.dataset.name})",
                        f"network.layers.{i}.units")]
    return []


def validate_docs(docs: dict[str, SourceDoc]) -> ValidatedSpecs:
    """The scenario, chip and firmware documents -> their models and problems (none raised)."""
    problems: list[Problem] = []
    built: dict[str, BaseModel] = {}
    for kind in ("scenario", "chip", "firmware"):
        try:
            built[kind] = validate_doc(kind, docs[kind], "" if kind == "scenario" else kind)
        except SpecError as exc:
            problems.extend(exc.problems)
    if "scenario" in built:
        problems.extend(output_layer_checks(built["scenario"], docs["scenario"]))
    return ValidatedSpecs(docs, built, problems)


def cross_field_checks(scenario: ScenarioSpec, chip: ChipSpec, firmware: FirmwareSpec,
                       docs: dict[str, SourceDoc]) -> list[Problem]:
    """Checks that span fields or files and need nothing but the specs. The knowledge of a
    data set (its task, what its inputs and outputs are) is on its model class
    (hwsim.spec.scenario); the checks stay here because only the loader can aim a problem at
    a field's line. hwsim.run_plan.cross_checks adds the ones that need the chip's timing."""
    out: list[Problem] = []
    sc = scenario

    def at(kind, loc, msg):
        out.append(problem(docs[kind], loc, msg, ".".join(((kind,) if kind != "scenario" else ()) + loc)))

    dev, arr = chip.device, chip.array
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
    if firmware.perturbation.target == "nodes" and chip.perturbation.injection == "weight_device":
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
    return out


# --------------------------------------------------------------------------- reading a run


def read_run(path: str | Path, overrides: dict[str, Any] | None = None, *,
             chip: str | None = None, firmware: str | None = None) -> ValidatedSpecs:
    """Stage 1 of hwsim.run_plan.load_scenario (same arguments): read a scenario or resolved
    run file, find and read its chip and firmware, apply the overrides and validate the three
    documents. Problems in reading raise :class:`SpecError`; validation problems are in the
    result, for stage 2 to report with its own. ``path`` may name a scenario preset
    (``quickstart``): see :func:`locate_spec`."""
    kind, doc = read_spec(locate_spec(path, ("scenario",)))
    if kind not in ("scenario", RUN_KIND):
        raise SpecError([problem(doc, ("kind",), f"not a scenario (got a {kind or 'unrecognised'} file; "
                                                  "expected kind: scenario): use 'hwsim validate' or "
                                                  "'hwsim show' for chip and firmware files")])
    return validate_docs(run_docs(kind, doc, dict(overrides or {}), chip, firmware))


def run_docs(kind: str, doc: SourceDoc, overrides: dict, chip, firmware) -> dict[str, SourceDoc]:
    """A scenario or resolved run document -> its scenario, chip and firmware documents with
    every override applied (not validated)."""
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
    apply_overrides(docs, overrides, cli_origin, problems)
    if problems:
        raise SpecError(problems)
    return docs


def read_any(path: str | Path, overrides: dict[str, Any] | None = None
             ) -> tuple[str, BaseModel | dict[str, SourceDoc]]:
    """Any spec file -> (kind, what stage 1 makes of it): a ChipSpec or FirmwareSpec, or for a
    scenario or resolved run file its three documents with the overrides applied (validated by
    hwsim.run_plan.load_spec). Raises :class:`SpecError` listing every problem found.
    ``path`` may name a preset of any kind (scenarios first): see :func:`locate_spec`."""
    kind, doc = read_spec(locate_spec(path, ("scenario", "chip", "firmware")))
    if kind is None:
        raise SpecError([Problem(doc.path, 1, 1, "kind", "cannot tell which kind of spec this is (got no "
                                                         "'kind:' and no telling fields; expected kind: "
                                                         "chip, firmware or scenario)")])
    overrides = dict(overrides or {})
    if kind in ("scenario", RUN_KIND):
        return kind, run_docs(kind, doc, overrides, None, None)
    problems: list[Problem] = []
    apply_overrides({kind: doc}, overrides, cli_origin, problems, default_target=kind)
    if problems:
        raise SpecError(problems)
    return kind, validate_doc(kind, doc)
