"""Results tables: loading runs and sweeps, point states, flattening; a run stopped by Ctrl-C."""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest

import hwsim
from hwsim.results import load, load_curves
from hwsim.results.progress import RunProgress, budget_cycles
from hwsim.results.tables import flatten, point_state, sweep_table, write_tables
from hwsim.sweep import plan_sweep, run_sweep
from helpers import default_sigint
from sweep_helpers import N_POINTS, write_sweep


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("results")
    out = folder / "out"
    run_sweep(plan_sweep(write_sweep(folder)), out, serial=True)
    return out


def test_a_run_directory_loads_as_one_row_with_every_figure(tmp_path, sweep_dir):
    spec = hwsim.load_scenario(sweep_dir.parent / "tiny.yaml")
    res = hwsim.run(spec, seed=2, out=tmp_path / "run")
    table = load(tmp_path / "run")
    assert len(table) == 1 and table.seed[0] == 2 and table.run_dir[0] == str(tmp_path / "run")
    flat = flatten(res.summary)
    assert set(flat) | {"run_dir"} == set(table.columns)
    assert table["time_breakdown_cycles.inferring"][0] == res.summary["time_breakdown_cycles"]["inferring"]
    pd.testing.assert_frame_equal(load_curves(tmp_path / "run"), pd.read_csv(tmp_path / "run" / "curve.csv"))


def test_a_sweep_directory_loads_a_row_per_point_and_its_tables_agree(sweep_dir):
    table = load(sweep_dir)
    assert len(table) == N_POINTS and list(table.columns[:6]) == [
        "point", "firmware.eta", "chip.cost_unit.noise_sigma", "seed", "key", "state"]
    assert table.run_dir.tolist() == [f"points/{k}" for k in table.key]
    for row in table.to_dict("records"):
        summary = json.loads((sweep_dir / row["run_dir"] / "summary.json").read_text())
        assert row["final_test_accuracy"] == summary["final_test_accuracy"]
        assert row["spec_hash"] == summary["spec_hash"] and row["key"].startswith(summary["spec_hash"])
    pd.testing.assert_frame_equal(load(sweep_dir / "results.parquet"), table, check_dtype=False)
    assert len(load(sweep_dir / "results.csv")) == N_POINTS
    curves = load_curves(sweep_dir)
    assert set(curves.point) == set(range(N_POINTS))
    first = pd.read_csv(sweep_dir / table.run_dir[0] / "curve.csv")
    assert len(curves[curves.point == 0]) == len(first)


def test_unfinished_and_failed_points_read_as_pending_and_failed(sweep_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sweep_dir, copy)
    table = sweep_table(copy)
    half = copy / table.run_dir[0]
    (half / "summary.json").unlink()                  # a point killed before its summary
    assert point_state(half) == "pending"
    broken = copy / table.run_dir[1]
    (broken / "summary.json").unlink()
    (broken / "error.json").write_text(json.dumps({"error": "ValueError: boom"}))
    table = write_tables(copy)
    assert table.state.tolist()[:3] == ["pending", "failed", "finished"]
    assert table.error[1] == "ValueError: boom" and pd.isna(table.status[0]) and pd.isna(table.status[1])
    assert pd.read_parquet(copy / "results.parquet").state.tolist() == table.state.tolist()


def test_load_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run or sweep directory"):
        load(tmp_path)


def test_infinities_in_a_summary_read_back_as_numbers():
    assert flatten({"a": "inf", "b": {"c": "-inf", "d": [1, 2]}, "e": "reached_target"}) == {
        "a": float("inf"), "b.c": float("-inf"), "b.d": "[1, 2]", "e": "reached_target"}


def test_first_ctrl_c_stops_a_run_at_its_next_observation_and_keeps_the_curve(tmp_path, sweep_dir):
    spec = hwsim.load_scenario(sweep_dir.parent / "tiny.yaml", {"max_cycles": 20000,
                                                                "target_accuracy": 0.99})
    full = hwsim.run(spec, seed=0)
    with default_sigint():
        with RunProgress(budget_cycles(spec), show=False) as progress:
            def observe(sim, point):
                if len(sim.curve) == 3:
                    os.kill(os.getpid(), signal.SIGINT)     # Ctrl-C, as the terminal sends it
                progress(sim, point)

            res = hwsim.run(spec, seed=0, out=tmp_path / "r", progress=observe)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["status"] == "interrupted" and res.summary["status"] == "interrupted"
    curve = pd.read_csv(tmp_path / "r" / "curve.csv")
    assert 3 <= len(curve) <= 4 < len(full.curve)
    pd.testing.assert_frame_equal(curve, full.curve.iloc[:len(curve)].reset_index(drop=True),
                                  check_dtype=False)
    assert s["cycles_simulated"] == curve.cycle.iloc[-1]


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_an_output_path_that_is_not_a_regular_file_is_refused_and_left_as_it_was(tmp_path, kind):
    # As root a rename replaces a device node itself: `--trace /dev/zero` once turned /dev/zero
    # into a JSON file. A FIFO stands in for a device here (no test touches /dev).
    from hwsim.results.rundir import OutputError, atomic_write

    target = tmp_path / "special"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    with pytest.raises(OutputError, match="a FIFO" if kind == "fifo" else "a folder"):
        atomic_write(target, b"{}")
    assert (os.path.stat.S_ISFIFO if kind == "fifo" else os.path.stat.S_ISDIR)(os.lstat(target).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["special"]   # no temporary file left


def test_a_trace_into_a_fifo_exits_2_and_leaves_the_fifo(tmp_path, capsys):
    from hwsim.cli import main

    fifo = tmp_path / "trace.json"
    os.mkfifo(fifo)
    code = main(["run", "scenarios/quickstart.yaml", "--quiet", "--max-cycles", "200", "--trace", str(fifo),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "a FIFO" in err and "Traceback" not in err
    assert os.path.stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --------------------------------------------------------------------------- the run record


def test_mgd_and_backprop_summaries_share_one_schema_in_one_order(tmp_path):
    from helpers import tiny_scenario

    mgd_path = tmp_path / "mgd.yaml"
    mgd_path.write_text(tiny_scenario(every_steps=100, max_cycles=4000))
    bp_path = tmp_path / "bp.yaml"
    bp_path.write_text(tiny_scenario(every_steps=100, max_cycles=4000)
                       .replace("firmware: mgd_discrete", "firmware: backprop_sgd"))
    mgd = hwsim.run(mgd_path, seed=0, out=tmp_path / "m").summary
    bp = hwsim.run(bp_path, seed=0, out=tmp_path / "b").summary
    own = {"algorithm", "updates_to_target", "batch"}
    assert "algorithm" not in mgd and bp["algorithm"] == "backprop"
    assert set(bp) - set(mgd) == own and not own & set(mgd)
    # Shared keys come in the MGD order, so the two files read alike.
    shared = [k for k in bp if k not in own]
    assert shared == [k for k in mgd if k in set(shared)]
    # A baseline has no chip: chip-time and energy to the target are null, not absent or 0.
    assert all(bp[k] is None for k in ("cycles_to_target", "seconds_to_target", "energy_joules_to_target"))
    assert bp["samples_seen"] == json.loads((tmp_path / "b" / "summary.json").read_text())["samples_seen"] > 0
    assert json.loads((tmp_path / "m" / "summary.json").read_text()) == json.loads(json.dumps(mgd))


def test_the_summary_reads_the_chips_counters_by_name(sweep_dir):
    from hwsim.api import summarise
    from hwsim.engine.simulation import Simulation

    spec = hwsim.load_scenario(sweep_dir.parent / "tiny.yaml")
    sim = Simulation(spec, 1)
    sim.run()
    s, counts = summarise(sim, spec), sim.counts()
    assert (s["steps_simulated"], s["cycles_simulated"], s["samples_seen"], s["updates"],
            s["baseline_measurements"]) == (counts["step"], counts["cycles"], counts["samples"],
                                            counts["updates"], counts["baselines"])
    assert s["updates"] > 0 and sum(s["time_breakdown_cycles"].values()) == s["cycles_simulated"]
    # ideal_digital has no energy table: its joules are null and listed as not modelled, not 0 J.
    assert "energy" in s["not_modelled"] and s["energy_joules"] is s["energy_breakdown_joules"] is None


def test_absent_fields_are_left_out_and_none_is_written_as_null():
    from hwsim.results.summary import ABSENT, Summary

    names = [f for f in Summary.__dataclass_fields__ if f not in ("backprop", "hwsim_version")]
    summary = Summary(**{name: ABSENT for name in names}).to_dict()
    assert summary == {"hwsim_version": hwsim.__version__}
    summary = Summary(**{name: None for name in names}).to_dict()
    assert set(summary) == set(names) | {"hwsim_version"} and summary["divergence"] is None


@pytest.mark.parametrize("key, value, expected", [
    ("seed", "3", "int"), ("seed", True, "int"), ("max_cycles", 1.5, "int"),
    ("spec_hash", 5, "str"), ("resolved", [], "dict"), ("hwsim_version", None, "str")])
def test_a_damaged_manifest_names_the_file_and_the_field(tmp_path, key, value, expected):
    from hwsim.engine.checkpoint import CheckpointError
    from hwsim.results.summary import read_manifest_file

    good = {"hwsim_version": "1", "spec_hash": "ab", "seed": 3, "max_cycles": 1000, "resolved": {}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(good))
    assert read_manifest_file(path) == good
    path.write_text(json.dumps({**good, key: value}))
    with pytest.raises(CheckpointError) as exc:
        read_manifest_file(path)
    text = str(exc.value)
    assert f"{path}: {key}: missing or of the wrong type" in text and f"expected {expected})" in text, text


def test_a_manifest_seed_out_of_the_spec_range_is_refused(tmp_path):
    from hwsim.engine.checkpoint import CheckpointError
    from hwsim.results.summary import read_manifest_file

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"hwsim_version": "1", "spec_hash": "ab", "seed": -1, "max_cycles": 10,
                                "resolved": {}}))
    with pytest.raises(CheckpointError, match="seed: out of range"):
        read_manifest_file(path)


@pytest.mark.parametrize("value, column, text", [
    (50000.0, "cycles_to_target", "50,000"), (110000, "cycles_simulated", "110,000"),
    (2.5e-5, "seconds_to_target", "25 us"), (0.0, "energy_joules", "0 J"), (2.52e-5, "energy_joules", "25.2 uJ"),
    (0.875, "final_test_accuracy", "87.5 %"), (-0.0237, "shortfall_vs_baseline", "-2.4 pt"),
    (float("nan"), "seconds_to_target", "-"), (None, "energy_joules_to_target", "-"),
    ("reached_target", "status", "reached target"), (3.0, "seed", "3"), (0.05, "chip.cost_unit.noise_sigma", "0.05"),
])
def test_report_tables_write_numbers_for_people(value, column, text):
    from hwsim.results.report import format_figure

    assert format_figure(value, column) == text


def test_the_sweep_report_table_has_no_e_notation_and_scrolls_inside_the_page(sweep_dir):
    import re

    from hwsim.results.report import write_report

    page = write_report(sweep_dir).read_text()
    points = page[page.index("<h2>Points</h2>"):]
    cells = re.findall(r'<td class="n">([^<]*)</td>', points)
    assert cells and not [c for c in cells if re.search(r"\de[+-]\d", c)], cells
    assert points.startswith('<h2>Points</h2>\n<div class="scroll"><table>')   # wide tables scroll, not the page
    assert ".scroll{max-width:100%;overflow-x:auto}" in page and "max-width:1100px" in page
    assert '<span title="chip.cost_unit.noise_sigma">noise sigma</span>' in points
