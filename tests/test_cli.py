"""The command line: run directories, exit codes, and errors without tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import tiny_scenario, write
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"status", "target_accuracy", "cycles_to_target", "seconds_to_target",
                "final_test_accuracy", "best_test_accuracy", "steps_simulated", "cycles_simulated",
                "wall_seconds", "seed", "spec_hash"}


TINY = tiny_scenario()


def test_run_writes_manifest_curve_and_summary(tmp_path, capsys):
    scen = write(tmp_path, "tiny.yaml", TINY)
    out = tmp_path / "run"
    code = main(["run", str(scen), "--out", str(out), "--seed", "3", "--set", "firmware.eta=0.2", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "test accuracy" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["status"] == "budget_exhausted"
    assert summary["cycles_to_target"] is None and summary["seconds_to_target"] is None
    assert summary["seed"] == 3 and summary["cycles_simulated"] == 3000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec_hash"] == summary["spec_hash"] and manifest["seed"] == 3
    assert manifest["resolved"]["firmware"]["eta"] == 0.2           # --set applied
    assert manifest["resolved"]["firmware"]["tau_x"] == 4           # scenario override applied
    assert manifest["resolved"]["chip"]["clock_period"] == 1e-9
    curve = pd.read_csv(out / "curve.csv")
    assert list(curve.columns[:7]) == ["step", "cycle", "seconds", "samples_seen", "train_cost",
                                       "test_cost", "test_accuracy"]
    assert curve.cycle.iloc[-1] == 3000 and curve.step.is_monotonic_increasing
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_bad_scenario_exits_2_naming_file_line_and_field(tmp_path, capsys):
    scen = write(tmp_path, "bad.yaml", TINY.replace("cost: cross_entropy", "cost: cross_entropie")
                 .replace("hidden: [8]", "hiden: [8]"))
    code = main(["run", str(scen), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{scen}:12:" in err and "cost" in err and "cross_entropy" in err   # line 12: cost
    assert "network.hiden" in err and "did you mean 'hidden'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_missing_file_and_bad_set_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    scen = write(tmp_path, "tiny.yaml", TINY)
    assert main(["run", str(scen), "--set", "firmware.tau_x=-1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "tau_x" in err and "Traceback" not in err


def test_console_script_runs_in_a_subprocess(tmp_path):
    """The installed `hwsim` entry point, as a user calls it."""
    scen = write(tmp_path, "tiny.yaml", TINY)
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "hwsim.cli", "run", str(scen), "--quiet",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "summary.json").is_file()


def test_diverging_run_exits_3_and_keeps_its_results(tmp_path, capsys):
    scen = write(tmp_path, "tiny.yaml", TINY.replace("cost: cross_entropy", "cost: mse"))
    out = tmp_path / "r"
    code = main(["run", str(scen), "--set", "firmware.eta=1e200", "--out", str(out), "--quiet"])
    assert code == 3
    assert "diverged" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert summary["divergence"]["cycle"] <= summary["cycles_simulated"]
    assert "eta" in summary["divergence"]["hint"]
    assert (out / "curve.csv").is_file()


def test_compare_runs_every_chip_for_the_same_steps_and_tabulates_shortfall(tmp_path, capsys):
    scen = write(tmp_path, "cmp.yaml", TINY.replace("max_cycles: 3000", "max_cycles: 100000000")
                 + "max_steps: 600\nstop_at_target: false\n"
                 "compare_chips: [rram_crossbar, photonic_mzi]\n")
    out = tmp_path / "cmp"
    assert main(["compare", str(scen), "--out", str(out), "--seeds", "0,1"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.chip) == ["ideal_digital"] * 2 + ["rram_crossbar"] * 2 + ["photonic_mzi"] * 2
    assert (table.steps_simulated == 600).all()
    base = table[table.chip == "ideal_digital"].set_index("seed").final_test_accuracy
    for _, row in table.iterrows():
        assert row.shortfall_vs_baseline == pytest.approx(base[row.seed] - row.final_test_accuracy)
        assert (Path(row.run_dir) / "summary.json").is_file()
    # The chips' own timing: 60 cycles per inference (plus baselines) on rram, 1 on ideal.
    cyc = table.groupby("chip").cycles_simulated.first()
    assert cyc["rram_crossbar"] >= 60 * 600 and cyc["ideal_digital"] == 600
    # Where the plots are, and figures for people in the summary table (percent, not 0.123).
    printed = capsys.readouterr().out
    assert f"plots (PNG and SVG) in {out / 'plots'}" in printed and (out / "plots").is_dir()
    assert "e-0" not in printed and " %" in printed


def test_compare_says_when_the_untrained_network_already_meets_the_target(tmp_path, capsys):
    scen = write(tmp_path, "cmp.yaml", TINY.replace("max_cycles: 3000", "max_cycles: 100000000")
                 + "max_steps: 100\ncompare_chips: [photonic_mzi]\n")
    out = tmp_path / "cmp"
    assert main(["compare", str(scen), "--out", str(out), "--set", "target_accuracy=0.01"]) == 0
    assert "the untrained network already meets the target on " in capsys.readouterr().out


def test_compare_without_a_step_budget_is_bad_input(tmp_path, capsys):
    scen = write(tmp_path, "cmp.yaml", TINY)
    assert main(["compare", str(scen), "--chips", "rram_crossbar", "--out", str(tmp_path / "c")]) == 2
    assert "max_steps" in capsys.readouterr().err


def test_perturbation_below_one_device_step_on_the_weight_path_warns(tmp_path, capsys):
    scen = write(tmp_path, "w.yaml", TINY.replace("max_cycles: 3000", "max_cycles: 100"))
    args = ["--set", "chip.perturbation.injection=weight_device", "--set", "chip.device.law=constant_step",
            "--set", "chip.device.dw_min=0.01", "--set", "chip.device.w_min=-1", "--set", "chip.device.w_max=1"]
    assert main(["validate", str(scen), *args]) == 0
    err = capsys.readouterr().err
    assert "below one device step" in err and "auxiliary" in err
    # amplitude 0.05 over P = 64*8+8+8*10+10 = 610 parameters: 0.05/sqrt(610) < 0.01 per weight
    assert main(["validate", str(scen), *args, "--set", "firmware.perturbation.amplitude=1.0"]) == 0
    assert "below one device step" not in capsys.readouterr().err   # 1/sqrt(610) = 0.04 > 0.01
