"""A sweep file -> its points, each a fully resolved RunSpec and a seed, keyed by content.

Points are the cross product of the grid axes, the zip groups and the random draws (in the
file's order), with the seeds innermost. Every point is resolved and validated here, before
anything runs; a value that is wrong for some point is reported at the axis that set it.
A point's key is ``<spec hash>-s<seed>``: the same resolved spec and seed always get the same
key, whatever the sweep file looks like, so a rerun finds the points that already ran.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.limits import check_option
from hwsim.spec.loader import RunSpec, find_spec_file, load_scenario
from hwsim.sweep.spec import SEED_PATHS, SweepSpec, check_path, normalise_path, raw_paths, read_sweep


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the swept values (path -> value, the seed apart), the run seed,
    the resolved spec and its key."""

    index: int
    values: dict
    seed: int
    spec: RunSpec = field(repr=False)

    @property
    def key(self) -> str:
        return point_key(self.spec, self.seed)

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
    base = {**spec.overrides, **overrides}
    points: list[Point] = []
    problems, seen = [], set()
    combos = itertools.product(*(values for _, values in factors)) if factors else [()]
    for combo in combos:
        values = {p: v for (paths, _), vals in zip(factors, combo) for p, v in zip(paths, vals)}
        swept_seed = next((values.pop(p) for p in list(values) if normalise_path(p) in SEED_PATHS), None)
        try:
            run_spec = load_scenario(scenario, {**base, **values}, chip=spec.chip, firmware=spec.firmware)
        except SpecError as exc:
            for prob in exc.problems:
                moved = _at_sweep(prob, doc, located, values)
                ident = (moved.file, moved.line, moved.col, moved.path, prob.message)
                if ident not in seen:
                    seen.add(ident)
                    problems.append(moved)
            continue
        values = {p: _resolved_value(run_spec, p, v) for p, v in values.items()}
        for seed in seed_list:
            if seed is None:
                seed = swept_seed if swept_seed is not None else run_spec.scenario.seed
            if (message := seed_problem(seed)) is not None:
                loc = next((loc for p, loc in located.items() if p in SEED_PATHS), None)
                problems.append(Problem(doc.path, *((doc.where(loc) if loc else None) or (None, None)),
                                        "seed", message))
                break
            points.append(Point(len(points), values, int(seed), run_spec))
    if problems:
        raise SpecError(problems)
    columns = [c for c in columns if normalise_path(c) not in SEED_PATHS]
    return SweepPlan(spec, str(path), columns, overrides, points)


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


def _resolved_value(spec: RunSpec, path: str, raw):
    """The value a swept path has in the resolved spec ('10 ns' -> 1e-08, '1.0e200' -> 1e+200),
    so that a column holds numbers in base units; the value as written when the path is not
    a field of the resolved spec."""
    parts = path.split(".")
    resolved = spec.resolved()
    node = resolved[parts[0]] if parts[0] in resolved and len(parts) > 1 else resolved["scenario"]
    for part in parts[1:] if parts[0] in resolved and len(parts) > 1 else parts:
        if not isinstance(node, dict) or part not in node:
            return raw
        node = node[part]
    return node


def _at_sweep(prob: Problem, doc, located: dict, values: dict) -> Problem:
    """A problem the loader found in an override -> at the sweep file's line that set it."""
    if prob.file not in ("--set", "(command line)", "(overrides)"):
        return prob
    path = normalise_path(prob.path)
    for key, loc in located.items():
        if path == key or path.startswith(key + "."):
            line, col = doc.where(loc) or (None, None)
            note = ""
            if loc[0] != "overrides":
                note = " [at the point " + ", ".join(f"{p}={v!r}" for p, v in values.items()) + "]"
            return Problem(doc.path, line, col, prob.path, prob.message + note)
    return prob
