"""Firmware beyond plain MGD: node perturbation on a real task, the backprop baseline, and the
algorithm comparison scenario."""

from pathlib import Path

import numpy as np
import pandas as pd

import hwsim
from hwsim.cli import main
from hwsim.engine.simulation import Simulation
from hwsim.seeds import Stream, stream_key

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios/quickstart.yaml"


def test_node_perturbation_reaches_the_quickstart_target():
    spec = hwsim.load_scenario(QUICKSTART, firmware="mgd_node_perturbation")
    s = hwsim.run(spec, seed=0).summary
    assert s["status"] == "reached_target" and s["n_perturbed"] == 32 + 10
    assert s["final_test_accuracy"] >= 0.9


def test_backprop_baseline_runs_from_the_same_start_and_data_order(tmp_path, capsys):
    out = tmp_path / "bp"
    assert main(["run", str(QUICKSTART), "--firmware", "backprop_sgd", "--out", str(out),
                 "--set", "max_steps=100000", "--quiet"]) == 0
    assert "backprop baseline" in capsys.readouterr().out
    res = hwsim.results.load(out)
    assert res.algorithm[0] == "backprop" and res.samples_seen[0] == 100000 // 10
    curve = pd.read_csv(out / "curve.csv")
    assert curve.samples_seen.is_monotonic_increasing and curve.cycle.isna().all()
    assert res.best_test_accuracy[0] >= 0.9
    # Same initial weights and order stream as the chip run of the same scenario and seed.
    spec = hwsim.load_scenario(QUICKSTART, firmware="backprop_sgd")
    chip = Simulation(hwsim.load_scenario(QUICKSTART), seed=0)
    from hwsim.api import run_backprop

    zero = run_backprop(spec.with_overrides({"max_steps": 10}), seed=0)  # one sample, one update
    assert zero.summary["updates"] == 1
    first = chip.counts()["step"]
    assert first == 0 and int(stream_key(0, Stream.ORDER)) == int(chip.config[0]["order_seed"])
    assert not np.array_equal(zero.weights, chip.theta)   # it moved by exactly one SGD step
    from hwsim.firmware.backprop import SampleOrder, loss_and_gradient

    idx = SampleOrder(int(chip.config[0]["order_seed"]), chip.data.x_train.shape[0]).indices(0, 1)
    _, g = loss_and_gradient(chip.layout, chip.theta, chip.data.x_train[idx], chip.data.y_train[idx],
                             "cross_entropy")
    np.testing.assert_allclose(zero.weights, chip.theta - 0.05 * g, rtol=1e-12, atol=1e-15)


def test_algorithm_comparison_writes_curves_side_by_side(tmp_path):
    out = tmp_path / "alg"
    assert main(["compare", str(ROOT / "scenarios/algorithms.yaml"), "--out", str(out),
                 "--set", "max_steps=20000"]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.firmware) == ["mgd_weight_perturbation", "mgd_node_perturbation", "mgd_momentum",
                                    "mgd_adam", "backprop_sgd"]
    assert (table.samples_seen == 2000).all()          # the same samples for every algorithm
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves.variant) == set(table.variant)
    last = curves.groupby("variant").samples_seen.max()
    assert (last == 2000).all()
