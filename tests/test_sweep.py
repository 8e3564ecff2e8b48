"""Sweeps: the sweep file, Dask against one-by-one execution, resume after SIGKILL, failures."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import hwsim
from hwsim.cli import main
from hwsim.results import load, load_curves
from hwsim.results.tables import WALL_COLUMNS
from hwsim.sweep import execute, plan_sweep, run_sweep
from helpers import default_sigint, write
from sweep_helpers import N_POINTS, ROOT, SWEEP, write_sweep


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    write_sweep(folder)
    return folder


@pytest.fixture(scope="module")
def serial_dir(folder):
    """The sweep run point by point in this process (also compiles the kernels for the workers)."""
    out = folder / "serial"
    outcome = run_sweep(plan_sweep(folder / "sweep.yaml"), out, serial=True)
    assert outcome.ran == N_POINTS and outcome.where == "serial"
    return out


@pytest.fixture(scope="module")
def cluster(serial_dir):
    """One 2-worker LocalCluster for the module (started after the kernels are cached)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as lc, Client(lc) as client:
        yield client


def test_dask_sweep_gives_the_same_table_as_the_points_one_by_one(folder, serial_dir, cluster):
    plan = plan_sweep(folder / "sweep.yaml")
    out = folder / "dask"
    outcome = run_sweep(plan, out, client=cluster)
    assert (outcome.ran, outcome.skipped, outcome.failed) == (N_POINTS, 0, 0)
    assert len(cluster.scheduler_info()["workers"]) == 2
    dask_table, serial_table = load(out), load(serial_dir)
    assert len(dask_table) == N_POINTS and list(dask_table.point) == list(range(N_POINTS))
    assert (dask_table.state == "finished").all()
    # The diverging points are results (status diverged), not failures. Only eta = 1e200 is
    # asserted to diverge: it is far past the edge (non-finite at its first update) whatever
    # the machine; which side of the edge a noisy point at eta = 1 lands on depends on the
    # rounding of the compiled kernels (CPU, LLVM) and is not what this test is about.
    far_past = dask_table["firmware.eta"] == 1e200
    assert far_past.sum() == 4 and (dask_table.status[far_past] == "diverged").all()
    assert (dask_table["divergence.step"][far_past] <= 4 * 2).all()
    # Where a point diverged, it diverged at the same step on both sides.
    assert dask_table.status.tolist() == serial_table.status.tolist()
    # Equal but for the wall time, which depends on the host's load.
    assert set(WALL_COLUMNS) <= set(dask_table.columns)
    pd.testing.assert_frame_equal(dask_table.drop(columns=list(WALL_COLUMNS)),
                                  serial_table.drop(columns=list(WALL_COLUMNS)))
    pd.testing.assert_frame_equal(load_curves(out), load_curves(serial_dir))
    # The written tables hold the same rows.
    parquet = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(parquet.drop(columns=list(WALL_COLUMNS)),
                                  dask_table.drop(columns=list(WALL_COLUMNS)), check_dtype=False)
    assert len(pd.read_csv(out / "results.csv")) == N_POINTS
    # A point is the run hwsim.run makes of its resolved spec and seed.
    point = plan.points[3]
    direct = hwsim.run(point.spec, point.seed).summary
    row = dask_table.iloc[3]
    for name in ("status", "final_test_accuracy", "best_test_accuracy", "cycles_simulated", "spec_hash"):
        assert row[name] == direct[name], name
    assert row["chip.cost_unit.noise_sigma"] == 0.05 and row["seed"] == 1


def _summaries(out):
    return {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in (out / "points").glob("*/summary.json")}


def test_sweep_killed_with_sigkill_resumes_without_lost_or_repeated_points(folder, serial_dir, cluster):
    out = folder / "killed"
    budget = ["--set", "max_cycles=20000"]          # points long enough to be caught mid-way
    proc = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "sweep", str(folder / "sweep.yaml"),
                             "--out", str(out), "--workers", "1", "--quiet", *budget],
                            cwd=folder, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(_summaries(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)              # the client, the nanny and the worker
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    before = _summaries(out)
    assert 2 <= len(before) < N_POINTS, "the sweep was not killed mid-way"

    outcome = run_sweep(plan_sweep(folder / "sweep.yaml", {"max_cycles": 20000}), out, client=cluster)
    assert outcome.skipped == len(before) and outcome.ran == N_POINTS - len(before)
    after = _summaries(out)
    assert {k: after[k] for k in before} == before   # finished points were not written again
    table = load(out)
    assert sorted(table.point) == list(range(N_POINTS)) and (table.state == "finished").all()
    assert sorted(p.name for p in (out / "points").iterdir()) == sorted(table.key)
    assert not list(out.rglob("*.tmp"))
    # Same figures as the sweep run in one go (but for wall time).
    fresh = run_sweep(plan_sweep(folder / "sweep.yaml", {"max_cycles": 20000}), folder / "fresh", serial=True)
    pd.testing.assert_frame_equal(table.drop(columns=list(WALL_COLUMNS)),
                                  fresh.table.drop(columns=list(WALL_COLUMNS)))


def test_failing_point_is_recorded_and_the_sweep_exits_4(folder, serial_dir, cluster, monkeypatch, capsys):
    real = execute.run_point

    def flaky(spec, seed):       # defined here: Dask ships it to the workers by value
        if spec.chip.cost_unit.noise_sigma > 0 and seed == 1:
            raise RuntimeError("injected fault")
        return real(spec, seed)

    monkeypatch.setattr(execute, "run_point", flaky)
    out = folder / "failing"
    args = ["sweep", str(folder / "sweep.yaml"), "--out", str(out), "--scheduler",
            cluster.scheduler.address, "--quiet"]
    assert main(args) == 4
    printed = capsys.readouterr().out
    assert "2 points failed" in printed
    table = load(out)
    failed = table[table.state == "failed"]
    assert len(failed) == 2 and (table.state == "finished").sum() == N_POINTS - 2
    assert set(failed.seed) == {1} and set(failed["chip.cost_unit.noise_sigma"]) == {0.05}
    assert all(e == "RuntimeError: injected fault" for e in failed.error)
    assert failed.status.isna().all()
    error = json.loads((out / failed.run_dir.iloc[0] / "error.json").read_text())
    assert "injected fault" in error["traceback"] and error["seed"] == 1
    assert not (out / failed.run_dir.iloc[0] / "summary.json").exists()
    # The next run retries the failed points only.
    monkeypatch.setattr(execute, "run_point", real)
    assert main(args) == 0
    assert "ran 2 points" in capsys.readouterr().out
    table = load(out)
    assert (table.state == "finished").all()
    assert not list((out / "points").glob("*/error.json"))


def test_plan_crosses_grid_zip_random_and_seed_axes(tmp_path):
    sweep = write_sweep(tmp_path, """\
        kind: sweep
        name: axes
        scenario: tiny.yaml
        overrides: {max_cycles: 2000}
        axes:
          chip.cost_unit.noise_sigma: {start: 0.001, stop: 0.1, num: 3, scale: log}
        zip:
          firmware.tau_x: [1, 4]
          firmware.tau_theta: [8, 16]
        random:
          samples: 2
          seed: 7
          axes:
            firmware.eta: {distribution: log_uniform, low: 0.1, high: 2.0}
            network.hidden: {distribution: choice, values: [[4], [8, 8]]}
        seeds: {count: 2, start: 3}
    """)
    plan = plan_sweep(sweep)
    assert len(plan.points) == 3 * 2 * 2 * 2
    assert plan.columns == ["chip.cost_unit.noise_sigma", "firmware.tau_x", "firmware.tau_theta",
                            "firmware.eta", "network.hidden"]
    first = plan.points[0]
    assert first.values["chip.cost_unit.noise_sigma"] == pytest.approx(0.001)
    assert [p.seed for p in plan.points[:4]] == [3, 4, 3, 4]
    for p in plan.points:
        assert p.spec.scenario.max_cycles == 2000
        assert (p.values["firmware.tau_x"], p.values["firmware.tau_theta"]) in ((1, 8), (4, 16))
        assert p.spec.firmware.tau_theta == p.values["firmware.tau_theta"]
        assert 0.1 <= p.values["firmware.eta"] <= 2.0 and p.spec.firmware.eta == p.values["firmware.eta"]
        assert list(p.spec.scenario.network.hidden) == p.values["network.hidden"]
    assert len({p.key for p in plan.points}) == len(plan.points)
    # The same file gives the same points and keys (random draws are seeded).
    assert [p.key for p in plan_sweep(sweep).points] == [p.key for p in plan.points]


def test_points_with_one_resolved_spec_run_once(tmp_path):
    sweep = write_sweep(tmp_path, """\
        kind: sweep
        name: same
        scenario: tiny.yaml
        overrides: {max_cycles: 1000}
        axes:
          firmware.eta: [0.5, 0.5e0]
    """)
    plan = plan_sweep(sweep)
    assert len(plan.points) == 2 and len(plan.unique_points()) == 1
    outcome = run_sweep(plan, tmp_path / "out", serial=True)
    assert outcome.ran == 1 and len(outcome.table) == 2
    assert outcome.table.key.nunique() == 1 and (outcome.table.state == "finished").all()


BAD_SWEEP = """\
    kind: sweep
    name: bad
    scenario: tiny.yaml
    overrides:
      max_cycle: 1000
    axes:
      firmware.etta: [0.1, 0.2]
      chip.cost_unit.noise_sigma: [0.0, -1.0]
    seeds: [0, 1]
"""


def test_wrong_paths_and_values_are_reported_before_anything_runs(tmp_path, capsys):
    sweep = write_sweep(tmp_path, BAD_SWEEP)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}:5:3: max_cycle: no such field" in err and "did you mean 'max_cycles'" in err
    assert f"{sweep}:7:3: firmware.etta: no such field" in err and "did you mean 'eta'" in err
    assert "Traceback" not in err and not out.exists()
    fixed = write_sweep(tmp_path, BAD_SWEEP.replace("max_cycle:", "max_cycles:").replace("etta", "eta"))
    assert main(["sweep", str(fixed), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    # A value wrong for some points: at that value in its axis, with the point.
    assert f"{sweep}:8:37: chip.cost_unit.noise_sigma: out of range" in err
    assert "chip.cost_unit.noise_sigma=-1.0" in err and not out.exists()
    assert main(["sweep", str(fixed), "--set", "firmware.eta=2", "--out", str(out)]) == 2
    assert "--set: firmware.eta: this path is swept" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("zip: {firmware.tau_x: [1, 2], firmware.tau_theta: [4]}", "zipped paths need lists of one length"),
    ("axes: {seed: [0, 1]}\nseeds: [0, 1]", "the seed is swept twice"),
    ("axes: {firmware.eta: {start: 0.1, stop: 1}}", "a range needs start, stop and num"),
    ("random: {samples: 2, axes: {firmware.eta: {distribution: log_uniform, low: 0, high: 1}}}",
     "log_uniform needs low > 0"),
    ("axes: {firmware.eta: [1]}\noverrides: {firmware.eta: 2}", "set in overrides and swept"),
    ("axes: {network.hidden.width: [1]}", "network.hidden is a value, not a group of fields"),
    ("axes: {firmware.eta: {start: 1, stop: 2, num: 5, integer: true}}", "num too large"),
    ("axes: {firmware.eta: [1]}\nzip: {firmware.eta: [2]}", "swept twice"),
    ("axes: {chip: [rram_crossbar]}\nchip: ideal_digital", "the chip is swept here and fixed"),
])
def test_sweep_file_problems_name_the_fix(tmp_path, text, message):
    from hwsim.spec.errors import SpecError

    sweep = write(tmp_path, "s.yaml", f"kind: sweep\nname: s\nscenario: tiny.yaml\n{text}\n")
    write_sweep(tmp_path, SWEEP)
    with pytest.raises(SpecError) as exc:
        plan_sweep(sweep)
    assert message in str(exc.value) and str(sweep) in str(exc.value)


def test_noise_small_example_is_valid():
    from sweep_helpers import ROOT

    plan = plan_sweep(ROOT / "sweeps" / "noise_small.yaml")
    assert len(plan.points) == 12 and plan.columns == ["chip.cost_unit.noise_sigma"]
    assert {p.spec.scenario.name for p in plan.points} == {"quickstart"}


def test_sweep_schema_file_is_up_to_date():
    from hwsim.sweep.spec import schema_text
    from sweep_helpers import ROOT

    path = ROOT / "docs" / "schema" / "sweep.schema.json"
    assert path.read_text() == schema_text(), \
        "regenerate: python -c 'from hwsim.sweep.spec import write_schema; write_schema(\".\")'"


def test_first_ctrl_c_stops_the_sweep_keeps_finished_points_and_exits_130(folder, serial_dir):
    out = folder / "interrupted"
    with default_sigint():
        proc = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "sweep", str(folder / "sweep.yaml"),
                                 "--out", str(out), "--workers", "1", "--quiet", "--set", "max_cycles=20000"],
                                cwd=folder, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(_summaries(out)) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)       # as a terminal sends it: to the whole group
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "run the same command again" in stdout and "Traceback" not in stderr
    table = load(out)
    finished = int((table.state == "finished").sum())
    assert 1 <= finished < N_POINTS and (table.state != "failed").all()
    assert len(pd.read_csv(out / "results.csv")) == N_POINTS


def test_the_sweep_file_in_docs_sweeps_md_is_valid(tmp_path):
    import re

    from sweep_helpers import ROOT

    text = (ROOT / "docs" / "sweeps.md").read_text()
    example = re.findall(r"```yaml\n(.*?)```", text, re.S)[0]
    plan = plan_sweep(write(tmp_path, "example.yaml", example))
    assert len(plan.points) == 4 * 4 * 2 * 8 * 3
    assert plan.columns == ["chip.cost_unit.noise_sigma", "firmware.eta", "firmware.tau_x", "firmware.tau_theta",
                            "firmware.perturbation.amplitude", "network.hidden"]


@pytest.mark.parametrize("text", [
    f"axes: {{seed: [1, {2**63}]}}",
    f"axes: {{seed: [{10**20}]}}",
    f"zip: {{seed: [1, {2**64 + 1}], firmware.eta: [0.1, 0.2]}}",
    "axes: {seed: [1.5]}",
    "axes: {seed: [-1]}",
])
def test_run_seeds_beyond_the_seed_range_are_refused_whichever_way_the_sweep_gives_them(tmp_path, capsys, text):
    sweep = write(tmp_path, "s.yaml", f"kind: sweep\nname: s\nscenario: tiny.yaml\n{text}\n")
    write_sweep(tmp_path, SWEEP)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--serial", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}:" in err and ": seed: not a run seed (got " in err and "2**63 - 1" in err, err
    assert "Traceback" not in err and not out.exists()


def test_the_table_of_a_sweep_holding_a_seed_beyond_64_bits_is_written(tmp_path):
    """A folder written before seeds were checked: its table is still written, the seed as
    text in Parquet, on every rerun."""
    from hwsim.results.tables import POINTS_DIR, SWEEP_FILE, write_tables

    key = "abc-s1"
    (tmp_path / SWEEP_FILE).write_text(json.dumps({"columns": [], "points": [
        {"point": 0, "values": {}, "seed": 2**70, "key": key}]}))
    (tmp_path / POINTS_DIR / key).mkdir(parents=True)
    (tmp_path / POINTS_DIR / key / "summary.json").write_text(json.dumps(
        {"status": "budget_exhausted", "final_test_accuracy": 0.5, "seed": 2**70}))
    for _ in range(2):
        table = write_tables(tmp_path)
    assert table.seed.tolist() == [2**70]
    assert pd.read_parquet(tmp_path / "results.parquet").seed.tolist() == [str(2**70)]
    assert pd.read_parquet(tmp_path / "results.parquet").final_test_accuracy.tolist() == [0.5]
    assert len(pd.read_csv(tmp_path / "results.csv")) == 1


# --------------------------------------------------------------------------- planning many points


def _plan_one_by_one(path, overrides=None):
    """The points as plan_sweep resolved them before it shared work between points (kept
    here to check it against): load_scenario on every point. ([(values, seed, key)], problems)."""
    import itertools

    from hwsim.spec.errors import SpecError
    from hwsim.run_plan import load_scenario
    from hwsim.spec.loader import find_spec_file
    from hwsim.sweep.plan import _at_sweep, _factors, _resolved_value, seed_problem
    from hwsim.sweep.spec import SEED_PATHS, normalise_path, raw_paths, read_sweep

    spec, doc = read_sweep(path)
    located = {normalise_path(p): loc for loc, p in raw_paths(doc.data)}
    factors = _factors(spec)
    seed_list = spec.seeds.expand() if spec.seeds is not None else [None]
    scenario = find_spec_file(spec.scenario, "scenario", Path(doc.path).resolve().parent)
    base = {**spec.overrides, **(overrides or {})}
    points, problems, seen = [], [], set()
    for combo in itertools.product(*(enumerate(values) for _, values in factors)):
        values = {p: v for (paths, _), (_, vals) in zip(factors, combo) for p, v in zip(paths, vals)}
        positions = {p: i for (paths, _), (i, _) in zip(factors, combo) for p in paths}
        swept_seed = next((values.pop(p) for p in list(values) if normalise_path(p) in SEED_PATHS), None)
        try:
            run = load_scenario(scenario, {**base, **values}, chip=spec.chip, firmware=spec.firmware)
        except SpecError as exc:
            for prob in exc.problems:
                moved = _at_sweep(prob, doc, located, values, positions)
                ident = (moved.file, moved.line, moved.col, moved.path, prob.message)
                if ident not in seen:
                    seen.add(ident)
                    problems.append(moved)
            continue
        values = {p: _resolved_value(run.resolved(), p, v) for p, v in values.items()}
        for seed in seed_list:
            seed = seed if seed is not None else swept_seed if swept_seed is not None else run.scenario.seed
            if seed_problem(seed) is not None:
                break
            points.append((values, int(seed), f"{run.spec_hash}-s{int(seed)}"))
    return points, problems


def _assert_plans_agree(path, overrides=None):
    from hwsim.spec.errors import SpecError

    points, problems = _plan_one_by_one(path, overrides)
    if problems:
        with pytest.raises(SpecError) as exc:
            plan_sweep(path, overrides)
        assert exc.value.problems == problems
        return problems
    plan = plan_sweep(path, overrides)
    assert [(p.values, p.seed, p.key) for p in plan.points] == points
    assert all(p.spec_hash == p.spec.spec_hash for p in plan.points)
    return []


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "sweeps").glob("*.yaml")))
def test_shipped_sweeps_plan_the_same_points_and_keys_as_resolved_alone(name):
    # Run folders are keyed by the spec hash: planning faster must not change a single key.
    assert _assert_plans_agree(ROOT / "sweeps" / name) == []


MIXED_SWEEP = """\
    kind: sweep
    name: mixed
    scenario: tiny.yaml
    overrides:
      max_cycles: 200000
      firmware.amplitude_schedule: {kind: step, gamma: 0.1, step_size: 50}
    axes:
      firmware.eta: [0.5, 1, 2.0, -1.0, 0.5]
      chip.cost_unit.noise_sigma: [0.0, 0.01]
      chip: [null, ideal_digital]
      firmware.perturbation.amplitude: [0.01, 1.0e-40]
    zip:
      firmware.tau_x: [1, 4, "10 ns"]
      network.hidden: [[8], [4, 4], [8]]
    seeds: [0, 1]
"""


@pytest.mark.slow
def test_a_mixed_sweep_plans_the_same_points_and_problems_as_resolved_alone(tmp_path):
    # Grid, zip, seeds, a chip preset axis, a time constant in ns, a value out of range, and
    # a swept number the cross checks look at (the amplitude, with a decaying schedule).
    sweep = write_sweep(tmp_path, MIXED_SWEEP)
    problems = _assert_plans_agree(sweep)
    messages = " ".join(p.message for p in problems)
    assert "out of range (got -1.0" in messages and "amplitude schedule" in messages
    good = write_sweep(tmp_path, MIXED_SWEEP.replace("-1.0, ", "").replace("gamma: 0.1, step_size: 50",
                                                                            "gamma: 0.9, step_size: 100000"))
    assert _assert_plans_agree(good) == []
    assert _assert_plans_agree(good, {"firmware.tau_p": 2}) == []
    assert len(plan_sweep(good).points) == 4 * 2 * 2 * 2 * 3 * 2


def test_a_bad_value_in_the_middle_of_a_long_axis_is_reported_at_its_own_line(tmp_path):
    from hwsim.spec.errors import SpecError
    from hwsim.run_plan import load_scenario

    etas = [f"{0.001 * (i + 1):.3f}" for i in range(3000)]
    etas[1700] = "-0.25"
    lines = "\n".join(f"      - {v}" for v in etas)
    sweep = write_sweep(tmp_path, f"""\
    kind: sweep
    name: long
    scenario: tiny.yaml
    max_points: 3000
    axes:
      firmware.eta:
{lines}
""")
    with pytest.raises(SpecError) as exc:
        plan_sweep(sweep)
    [problem] = exc.value.problems
    assert (problem.file, problem.line, problem.path) == (str(sweep), 7 + 1700, "firmware.eta")
    # The same problem as the point run alone.
    with pytest.raises(SpecError) as alone:
        load_scenario(tmp_path / "tiny.yaml", {"firmware.eta": -0.25})
    assert problem.message.startswith(alone.value.problems[0].message)
    assert "[at the point firmware.eta=-0.25]" in problem.message
