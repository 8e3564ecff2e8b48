"""A sweep file -> its points, each a fully resolved RunSpec and a seed, keyed by content.

Points are the cross product of the grid axes, the zip groups and the random draws (in the
file's order), with the seeds innermost. Every point is resolved and validated here, before
anything runs, exactly as if it ran alone (PointResolver shares only the work whose outcome
cannot differ between points); a value that is wrong for some point is reported at its line
in the sweep file (at its axis for a range or a random draw). A point's key is ``<spec hash>-s<seed>``: the same resolved spec and seed always get the same
key, whatever the sweep file looks like, so a rerun finds the points that already ran.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pydantic import BaseModel

from hwsim.run_plan import RunSpec, cross_checks, laid_out, load_scenario, memory_checks, resolve_firmware
from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.limits import check_option
from hwsim.spec.loader import (_scenario_docs, _split_override, apply_overrides, cli_origin, find_spec_file,
                               read_spec, validate_doc)
from hwsim.spec.yaml_source import SourceDoc
from hwsim.sweep.spec import (REFERENCE_PATHS, SEED_PATHS, SweepSpec, check_path, normalise_path, raw_paths,
                              read_sweep)


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the swept values (path -> value, the seed apart), the run seed,
    the resolved spec and its hash (``spec.spec_hash``, worked out once when planning)."""

    index: int
    values: dict
    seed: int
    spec: RunSpec = field(repr=False)
    spec_hash: str = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.spec_hash}-s{int(self.seed)}"

    def label(self) -> str:
        parts = [f"{path}={value}" for path, value in self.values.items()]
        return ", ".join(parts + [f"seed {self.seed}"])


def point_key(spec: RunSpec, seed: int) -> str:
    """The key of a run: hash of its fully resolved spec, and its seed."""
    return f"{spec.spec_hash}-s{int(seed)}"


@dataclass
class SweepPlan:
    spec: SweepSpec
    source: str
    columns: list[str]            # the swept paths, in file order (the seed apart)
    set_overrides: dict           # the command line's --set, applied to every point
    points: list[Point]

    @property
    def name(self) -> str:
        return self.spec.name

    def unique_points(self) -> list[Point]:
        """The first point of each key: two points with one resolved spec and seed run once."""
        seen: dict[str, Point] = {}
        for p in self.points:
            seen.setdefault(p.key, p)
        return list(seen.values())

    def record(self) -> dict:
        """What sweep.json holds: enough to rebuild the results table from the point folders."""
        from hwsim import __version__

        return {"hwsim_version": __version__, "name": self.name, "description": self.spec.description,
                "source": self.source, "set": self.set_overrides, "columns": self.columns,
                "sweep": self.spec.model_dump(mode="json"),
                "points": [{"point": p.index, "values": p.values, "seed": p.seed, "key": p.key}
                           for p in self.points]}


def _factors(spec: SweepSpec) -> list[tuple[list[str], list[tuple]]]:
    """(paths, list of value tuples) per independent factor, in file order."""
    out = [([path], [(v,) for v in axis.expand()]) for path, axis in spec.axes.items()]
    for group in spec.zip:
        out.append((list(group), list(zip(*group.values()))))
    if spec.random is not None:
        rng = np.random.default_rng(spec.random.seed)
        draws = [tuple(d.draw(rng) for d in spec.random.axes.values()) for _ in range(spec.random.samples)]
        out.append((list(spec.random.axes), draws))
    return out


def plan_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepPlan:
    """Read a sweep file, expand and resolve every point; SpecError lists every problem.

    ``overrides`` (the command line's ``--set``) apply to every point, after the sweep's own
    ``overrides:`` and before the axes; they cannot set a swept path.
    """
    spec, doc = read_sweep(path)
    overrides = dict(overrides or {})
    located = {normalise_path(p): loc for loc, p in raw_paths(doc.data)}
    problems = []
    for key in overrides:
        if normalise_path(key) in located and located[normalise_path(key)][0] != "overrides":
            problems.append(Problem("--set", None, None, key, "this path is swept by the sweep file "
                                                             "(got --set for it; expected no --set, or "
                                                             "edit the axis)"))
        elif key not in ("chip", "firmware") and (message := check_path(key)) is not None:
            problems.append(Problem("--set", None, None, key, message))
    if problems:
        raise SpecError(problems)
    factors = _factors(spec)
    columns = [p for paths, _ in factors for p in paths]
    n = int(np.prod([len(values) for _, values in factors], dtype=np.float64))
    seed_list = spec.seeds.expand() if spec.seeds is not None else [None]
    n *= len(seed_list)
    if n > spec.max_points:
        raise SpecError([Problem(doc.path, *(doc.where(("axes",)) or (None, None)), "max_points",
                                 f"the sweep has {n:,} points (got more than max_points = "
                                 f"{spec.max_points:,}; expected fewer axis values, or raise max_points)")])
    scenario = find_spec_file(spec.scenario, "scenario", Path(doc.path).resolve().parent)
    resolver = PointResolver(scenario, {**spec.overrides, **overrides}, spec.chip, spec.firmware)
    seed_problems: dict[tuple, str | None] = {}

    def _seed_problem(seed):
        key = _frozen(seed)
        if key not in seed_problems:
            seed_problems[key] = seed_problem(seed)
        return seed_problems[key]

    points: list[Point] = []
    problems, seen = [], set()
    with _cyclic_gc_paused():
        combos = itertools.product(*(enumerate(values) for _, values in factors)) if factors else [()]
        for combo in combos:
            values = {p: v for (paths, _), (_, vals) in zip(factors, combo) for p, v in zip(paths, vals)}
            positions = {p: i for (paths, _), (i, _) in zip(factors, combo) for p in paths}
            swept_seed = next((values.pop(p) for p in list(values) if normalise_path(p) in SEED_PATHS), None)
            try:
                resolved = resolver.resolve(values)
            except SpecError as exc:
                for prob in exc.problems:
                    moved = _at_sweep(prob, doc, located, values, positions)
                    ident = (moved.file, moved.line, moved.col, moved.path, prob.message)
                    if ident not in seen:
                        seen.add(ident)
                        problems.append(moved)
                continue
            run_spec = resolved.spec
            values = dict(resolved.columns)
            for seed in seed_list:
                if seed is None:
                    seed = swept_seed if swept_seed is not None else run_spec.scenario.seed
                if (message := _seed_problem(seed)) is not None:
                    loc = next((loc for p, loc in located.items() if p in SEED_PATHS), None)
                    problems.append(Problem(doc.path, *((doc.where(loc) if loc else None) or (None, None)),
                                            "seed", message))
                    break
                points.append(Point(len(points), values, int(seed), run_spec, resolved.spec_hash))
    if problems:
        raise SpecError(problems)
    columns = [c for c in columns if normalise_path(c) not in SEED_PATHS]
    return SweepPlan(spec, str(path), columns, overrides, points)


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Resolving a long sweep builds hundreds of thousands of objects and next to no reference cycles;
    the cyclic collector's passes over them would cost a third of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def seed_problem(seed) -> str | None:
    """Why ``seed`` cannot be a run seed (the scenario's seed field's range, whichever way the
    sweep gave it: seeds:, a seed axis, a zip group or a random draw), else None."""
    from hwsim.spec.limits import range_text, short
    from hwsim.spec.models import ScenarioSpec

    if isinstance(seed, int) and not isinstance(seed, bool) and \
            check_option("seed", seed, ScenarioSpec, "seed") is None:
        return None
    return (f"not a run seed (got {short(seed)}; expected an integer {range_text(ScenarioSpec, 'seed')}, "
            "as for the scenario's seed)")


def _resolved_value(resolved: dict, path: str, raw):
    """The value a swept path has in the resolved spec (``RunSpec.resolved()``: '10 ns' ->
    1e-08, '1.0e200' -> 1e+200), so that a column holds numbers in base units; the value as
    written when the path is not a field of the resolved spec."""
    parts = path.split(".")
    node = resolved[parts[0]] if parts[0] in resolved and len(parts) > 1 else resolved["scenario"]
    for part in parts[1:] if parts[0] in resolved and len(parts) > 1 else parts:
        if not isinstance(node, dict) or part not in node:
            return raw
        node = node[part]
    return node


def _at_sweep(prob: Problem, doc, located: dict, values: dict, positions: dict | None = None) -> Problem:
    """A problem the loader found in an override -> at the sweep file's line that set it: the
    value's own line when the file lists it (``positions``: swept path -> index of the
    point's value in its axis or zip group), else the axis."""
    if prob.file not in ("--set", "(command line)", "(overrides)"):
        return prob
    path = normalise_path(prob.path)
    for key, loc in located.items():
        if path == key or path.startswith(key + "."):
            index = next((i for p, i in (positions or {}).items() if normalise_path(p) == key), None)
            if index is not None and loc[0] != "overrides":
                loc = next((c for c in (loc + (index,), loc + ("values", index)) if c in doc.positions), loc)
            line, col = doc.where(loc) or (None, None)
            note = ""
            if loc[0] != "overrides":
                note = " [at the point " + ", ".join(f"{p}={v!r}" for p, v in values.items()) + "]"
            return Problem(doc.path, line, col, prob.path, prob.message + note)
    return prob


# --------------------------------------------------------------------------- resolving points


class _LookedAt(BaseException):
    """A check used a swept number (so its outcome may differ from point to point). A
    BaseException, so that no ``except Exception`` in a check can swallow it."""


def _looked_at(*args, **kwargs):
    raise _LookedAt


class _SweptNumber:
    """Stands for a swept number while the checks that span the scenario, chip and firmware
    run once for every point that differs only in such numbers: any use of it (comparison,
    arithmetic, conversion, formatting, hashing, isinstance, an attribute) raises _LookedAt,
    and those checks then run point by point. Sound as long as the checks look at a value
    only through such uses, never through type() or ``is`` against a number."""

    __class__ = property(_looked_at)
    __getattr__ = _looked_at


for _name in ("eq ne lt le gt ge hash bool int float index complex round trunc floor ceil abs neg pos "
              "invert add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod divmod "
              "rdivmod pow rpow lshift rlshift rshift rrshift and rand or ror xor rxor str repr format len "
              "iter contains getitem call reduce reduce_ex copy deepcopy array").split():
    setattr(_SweptNumber, f"__{_name}__", _looked_at)
del _name

_SWEPT = _SweptNumber()


def _is_swept_number(value) -> bool:
    return type(value) in (int, float)


def _holds_swept(value) -> bool:
    """Whether ``value`` (a model, list or dict) carries _SWEPT somewhere."""
    if value is _SWEPT:
        return True
    if type(value) in (list, tuple):
        return any(_holds_swept(v) for v in value)
    if type(value) is dict:
        return any(_holds_swept(v) for v in value.values())
    if isinstance(value, BaseModel):
        return any(_holds_swept(v) for v in value.__dict__.values())
    return False


def _with_value(model, parts: list[str], value):
    """A shallow copy of ``model`` with the field at ``parts`` set to ``value`` (no
    validation); None when ``parts`` does not name fields of models all the way down."""
    if not isinstance(model, BaseModel) or parts[0] not in type(model).model_fields:
        return None
    if len(parts) == 1:
        return model.model_copy(update={parts[0]: value})
    inner = _with_value(getattr(model, parts[0]), parts[1:], value)
    return None if inner is None else model.model_copy(update={parts[0]: inner})


@dataclass(frozen=True)
class ResolvedPoint:
    """What a point's values resolve to: the RunSpec, its spec hash, and the swept values as
    the resolved spec has them (path -> value)."""

    spec: RunSpec
    spec_hash: str
    columns: dict


@dataclass
class _Model:
    """One validated document (scenario, chip or firmware), or the problems it has."""

    model: Any = None
    problems: list = field(default_factory=list)
    network_problems: list = field(default_factory=list)     # the scenario's: network_checks
    dump: dict | None = None           # model_dump(mode="json")
    hash_text: str = ""                # its JSON as the spec hash writes it (the scenario's without the seed)
    layout: Any = None                 # the scenario's network layout, built once for the checks


def _frozen(value) -> tuple:
    """A hashable stand-in for a YAML value that tells apart what validates differently
    (1, 1.0 and True; a list and a tuple)."""
    if isinstance(value, dict):
        return ("dict", tuple((_frozen(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    return (type(value).__name__, repr(value))


def _hash_text(content: dict) -> str:
    """JSON as RunSpec.spec_hash writes it; the JSON of the whole is that of its parts."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _spanning_checks(scenario, chip, firmware, docs: dict, layout=None) -> tuple[list[Problem], Any]:
    """What hwsim.run_plan.validate_run does once the three models are valid: (problems, resolved firmware).
    ``layout``: the scenario's, when it is known (laying out takes about a millisecond, and
    many points share one scenario); None lays it out here (a swept number then shows)."""
    fw, extra = resolve_firmware(firmware, chip, scenario, docs["firmware"], layout=layout)
    if extra:
        return extra, None
    checked = RunSpec.model_construct(scenario=scenario, chip=chip, firmware=fw)
    return cross_checks(checked, docs, layout) or memory_checks(checked, docs["scenario"], layout), fw


class PointResolver:
    """Resolves each point's values into a RunSpec exactly as ``load_scenario(scenario,
    {**base, **values}, chip=, firmware=)`` does, with the same problems, but doing once what
    points share.

    * The scenario, chip and firmware files are read and ``base`` applied once per distinct
      chip and firmware reference; a point copies only the mappings on the paths it sets.
    * Each of the scenario, chip and firmware documents is validated once per distinct set
      of the values that change it: an axis over firmware.eta validates the firmware per
      point, the scenario and the chip once.
    * What spans the three (time constants in steps, cross checks, the memory estimate) runs
      once for all points that differ only in swept numbers those checks never look at
      (found out by running them with _SWEPT in place of the numbers), else per point.

    hwsim.run_plan's order of checks is mirrored here; tests/test_sweep.py compares the two on
    every shipped sweep. A base that does not load, or a resolved run file as the scenario,
    goes the plain way: load_scenario per point.
    """

    def __init__(self, scenario: Path, base: dict[str, Any], chip: str | None, firmware: str | None):
        self.scenario, self.base, self.chip, self.firmware = scenario, base, chip, firmware
        self._bases: dict[tuple, dict | None] = {}       # frozen references -> documents, or None
        self._models: dict[tuple, _Model] = {}
        self._spanning: dict[tuple, tuple | None] = {}   # None: the checks look at a swept number
        self._points: dict[tuple, ResolvedPoint | list] = {}

    def resolve(self, values: dict[str, Any]) -> ResolvedPoint:
        """The point with these swept values (the seed apart); SpecError lists its problems."""
        frozen = {k: _frozen(v) for k, v in values.items()}
        key = tuple(frozen.items())
        if key not in self._points:
            try:
                self._points[key] = self._resolve(values, frozen)
            except SpecError as exc:
                self._points[key] = list(exc.problems)
        out = self._points[key]
        if isinstance(out, list):
            raise SpecError(out)
        return out

    def _plain(self, values: dict) -> ResolvedPoint:
        spec = load_scenario(self.scenario, {**self.base, **values}, chip=self.chip, firmware=self.firmware)
        dump = spec.resolved()
        return ResolvedPoint(spec, spec.spec_hash, {p: _resolved_value(dump, p, v) for p, v in values.items()})

    def _base_docs(self, refs: dict, key: tuple) -> dict | None:
        """The three documents with ``base`` applied, for these chip/firmware references (``key``:
        them frozen); None when they do not load cleanly (the plain way then reports the
        problems per point)."""
        if key not in self._bases:
            self._bases[key] = None
            try:
                kind, doc = read_spec(self.scenario)
            except SpecError:
                return None
            if kind != "scenario":
                return None
            docs, problems = _scenario_docs(doc, {**self.base, **refs}, self.chip, self.firmware)
            rest = {k: v for k, v in self.base.items() if k not in REFERENCE_PATHS}
            if not problems:
                apply_overrides(docs, rest, cli_origin, problems)
            if not problems:
                self._bases[key] = docs
        return self._bases[key]

    def _resolve(self, values: dict, frozen: dict) -> ResolvedPoint:
        refs = {k: v for k, v in values.items() if k in REFERENCE_PATHS}
        rest = {k: v for k, v in values.items() if k not in REFERENCE_PATHS}
        ref_key = tuple((k, frozen[k]) for k in refs)
        base = self._base_docs(refs, ref_key)
        if base is None:
            return self._plain(values)
        docs = dict(base)
        by_kind: dict[str, dict] = {kind: {} for kind in docs}
        for key, value in rest.items():
            if isinstance(key, str) and key and all(key.split(".")):
                target, parts = _split_override(key)
                by_kind[target][key] = value
                docs[target] = _copied_along(docs[target], parts, fresh=docs[target] is base[target])
        problems: list[Problem] = []
        apply_overrides(docs, rest, cli_origin, problems)
        if problems:
            raise SpecError(problems)
        built = {kind: self._model(kind, docs[kind], (ref_key, kind, tuple((k, frozen[k]) for k in by_kind[kind])))
                 for kind in ("scenario", "chip", "firmware")}
        # As hwsim.run_plan: the three documents' problems, then the network's, then the rest.
        problems = [p for kind in ("scenario", "chip", "firmware") for p in built[kind].problems]
        scenario, chip = built["scenario"], built["chip"]
        problems += scenario.network_problems
        if problems or any(m.model is None for m in built.values()):
            raise SpecError(problems)
        firmware = built["firmware"].model
        spanning_key = (ref_key, tuple((k, ("number", type(v).__name__) if _is_swept_number(v) else frozen[k])
                                       for k, v in rest.items()))
        if spanning_key not in self._spanning:
            self._spanning[spanning_key] = self._spanning_once(built, docs, rest)
        once = self._spanning[spanning_key]
        if once is None:
            problems, fw = _spanning_checks(scenario.model, chip.model, firmware, docs, scenario.layout)
        else:
            problems, updates = once
            fw = firmware.model_copy(update=updates) if not problems else None
        if problems:
            raise SpecError(problems)
        run = RunSpec(scenario=scenario.model, chip=chip.model, firmware=fw)
        fw_dump = fw.model_dump(mode="json")
        text = f'{{"chip":{chip.hash_text},"firmware":{_hash_text(fw_dump)},"scenario":{scenario.hash_text}}}'
        spec_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
        dump = {"scenario": scenario.dump, "chip": chip.dump, "firmware": fw_dump}
        return ResolvedPoint(run, spec_hash, {p: _resolved_value(dump, p, v) for p, v in values.items()})

    def _spanning_once(self, built: dict[str, _Model], docs: dict, rest: dict) -> tuple | None:
        """The checks spanning the models, run with _SWEPT for every swept number: (problems,
        the fields resolve_firmware sets), the same for every point that differs from this
        one only in those numbers; None when the checks looked at one of them."""
        models = {kind: m.model for kind, m in built.items()}
        for key, value in rest.items():
            if _is_swept_number(value):
                target, parts = _split_override(key)
                models[target] = _with_value(models[target], parts, _SWEPT)
                if models[target] is None:
                    return None
        # A scenario holding a swept number is laid out inside the checks (so that its use shows).
        same = models["scenario"] is built["scenario"].model
        try:
            problems, fw = _spanning_checks(models["scenario"], models["chip"], models["firmware"], docs,
                                            built["scenario"].layout if same else None)
        except _LookedAt:
            return None
        if problems:
            return problems, {}
        updates = {name: value for name, value in fw.__dict__.items()
                   if value is not models["firmware"].__dict__.get(name)}
        if _holds_swept(updates):
            return None
        return [], updates

    def _model(self, kind: str, doc: SourceDoc, key: tuple) -> _Model:
        if key in self._models:
            return self._models[key]
        out = _Model()
        try:
            out.model = validate_doc(kind, doc, "" if kind == "scenario" else kind)
        except SpecError as exc:
            out.problems = list(exc.problems)
        if kind == "scenario" and out.model is not None:
            out.layout, out.network_problems = laid_out(out.model, doc)
        if out.model is not None and not out.network_problems and kind != "firmware":
            out.dump = out.model.model_dump(mode="json")
            hashed = {k: v for k, v in out.dump.items() if k != "seed"} if kind == "scenario" else out.dump
            out.hash_text = _hash_text(hashed)
        self._models[key] = out
        return out


def _copied_along(doc: SourceDoc, parts: list[str], fresh: bool) -> SourceDoc:
    """``doc`` with the mappings on the way to ``parts`` copied, so that setting that path
    changes nothing another point shares; ``fresh``: doc is shared and needs its own
    data, positions and origins first."""
    if fresh:
        doc = SourceDoc(doc.path, dict(doc.data), dict(doc.positions), dict(doc.origins))
    node = doc.data
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            break
        node[part] = nxt = dict(nxt)
        node = nxt
    return doc
