"""The scenarios of scenarios/: every one validates, the short ones run at reduced budgets,
and each answers its question in the direction the mathematics says."""

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from data_files import write_idx
from hwsim.api import run
from hwsim.network.layout import scenario_layout
from hwsim.run_plan import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
EXPECTED = {"quickstart", "parity", "gradient_angle", "scaling", "perturbation_types", "tau_sweep",
            "noise", "bandwidth", "fashion_mnist_cnn", "cifar10_cnn"}


def load(name, **overrides):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides or None)


def test_every_scenario_of_the_issue_exists_and_validates():
    assert EXPECTED <= set(SCENARIOS)
    for name in SCENARIOS:
        spec = load(name)
        assert scenario_layout(spec.scenario).n_params > 0


def test_parity_reaches_a_perfect_score():
    s = run(load("parity", max_cycles=200_000)).summary
    assert s["status"] == "reached_target" and s["final_test_accuracy"] == 1.0


def test_gradient_angle_closes_as_the_random_code_integrates():
    """Random codes: cos = sqrt(T / (T + P - 1)); P = 610: about 68 degrees at T = 100 and
    21 degrees at T = 4,000."""
    res = run(load("gradient_angle"))
    angle = res.curve.set_index("step")["gradient_angle_deg"]
    p = res.summary["n_params"]
    assert p == 610
    for t in (100, 4000):
        expected = math.degrees(math.acos(math.sqrt(t / (t + p - 1))))
        assert abs(angle[t] - expected) < 8.0, (t, angle[t], expected)


def test_gradient_angle_walsh_is_exact_after_one_period():
    """Walsh codes of order 1,024 >= P: orthogonal over a period, so G_int lies along the
    gradient at every multiple of 1,024 steps and not between."""
    res = run(load("gradient_angle", **{"firmware.perturbation.scheme": "walsh", "max_steps": 2048,
                                        "firmware.evaluation.every_steps": 512}))
    angle = res.curve.set_index("step")["gradient_angle_deg"]
    assert angle[1024] < 0.1 and angle[2048] < 0.1
    assert angle[512] > 10 and angle[1536] > 10


def test_scaling_gives_a_time_to_target_for_four_widths():
    """Reduced budget: 80 % instead of 90 %, widths 16...128."""
    cycles = {}
    for width in (16, 32, 64, 128):
        spec = load("scaling", **{"network.hidden": [width], "target_accuracy": 0.8,
                                  "max_cycles": 400_000, "firmware.evaluation.every_steps": 5000})
        s = run(spec).summary
        assert s["status"] == "reached_target", (width, s["status"])
        cycles[width] = s["cycles_to_target"]
    assert len(cycles) == 4 and all(c > 0 for c in cycles.values())


@pytest.mark.parametrize("name", ["perturbation_types", "noise", "bandwidth", "tau_sweep"])
def test_short_scenarios_run_at_a_reduced_budget(name):
    s = run(load(name, max_cycles=30_000, **{"firmware.evaluation.every_steps": 1000})).summary
    assert s["status"] in ("reached_target", "budget_exhausted")
    assert s["cycles_simulated"] <= 30_000
    assert sum(s["time_breakdown_cycles"].values()) == s["cycles_simulated"]


def test_tau_sweep_chip_waits_for_inputs_and_updates():
    """The tau_sweep chip loads 64 pixels at 4 per cycle (16 cycles) and stalls 100 cycles per
    update: with tau_x = tau_theta = 10 and no double buffering, every sample waits 16 cycles
    and every update 100."""
    s = run(load("tau_sweep", max_cycles=100_000, stop_at_target=False)).summary
    t = s["time_breakdown_cycles"]
    samples = s["samples_seen"]
    assert t["waiting_for_inputs"] == 16 * samples
    assert t["updating"] == 100 * math.floor(s["steps_simulated"] / 10)


def banded_images(n, shape, rng):
    """Class c: a bright band at rows 2c..2c+1 on noise (learnable, tiny)."""
    labels = rng.integers(0, 10, size=n)
    img = rng.integers(0, 60, size=(n, *shape)).astype(np.uint8)
    for i, c in enumerate(labels):
        img[i, ..., 2 + 2 * c: 4 + 2 * c, 2:-2] = 250
    return img, labels


def test_fashion_mnist_cnn_runs_on_tiny_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "fashion_mnist"
    d.mkdir()
    for prefix, n in (("train", 1100), ("t10k", 50)):
        img, lab = banded_images(n, (28, 28), rng)
        write_idx(d / f"{prefix}-images-idx3-ubyte", img, gz=True)
        write_idx(d / f"{prefix}-labels-idx1-ubyte", lab, gz=True)
    spec = load("fashion_mnist_cnn", **{"dataset.data_dir": str(tmp_path), "max_cycles": 300,
                                        "firmware.evaluation.every_steps": 150})
    res = run(spec)
    assert res.summary["n_params"] == 14_378
    assert res.summary["cycles_simulated"] == 300
    assert np.isfinite(res.curve["test_accuracy"]).all()


def test_cifar10_cnn_runs_on_tiny_pickle_batches(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for name, n in [(f"data_batch_{i}", 220) for i in range(1, 6)] + [("test_batch", 40)]:
        img, lab = banded_images(n, (3, 32, 32), rng)
        with open(d / name, "wb") as f:
            pickle.dump({b"data": img.reshape(n, -1), b"labels": [int(v) for v in lab]}, f)
    spec = load("cifar10_cnn", **{"dataset.data_dir": str(tmp_path), "max_cycles": 200,
                                  "firmware.evaluation.every_steps": 100})
    res = run(spec)
    assert res.summary["n_params"] == 26_154
    assert res.summary["cycles_simulated"] == 200
