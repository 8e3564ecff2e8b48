"""Run-level invariants: block size, pickling mid-run, seeds, cycle accounting, divergence."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from helpers import SCHEMES, make_spec
from hwsim.api import run, summarise
from hwsim.engine.simulation import Simulation
from hwsim.firmware.mgd import analog_signal_warnings
from hwsim.run_plan import load_scenario


def small_spec(**fw):
    base = dict(perturbation={"scheme": "cdma", "amplitude": 0.05}, tau_p=1, tau_x=3, tau_theta=4,
                eta=0.2, evaluation={"every_steps": 50})
    base.update(fw)
    return make_spec(dataset={"name": "digits"}, network={"hidden": [8], "activation": "relu"},
                     cost="cross_entropy", **base).with_overrides({"scenario.max_cycles": 700})


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("mode", ["discrete", "analog"])
def test_block_size_does_not_change_results(scheme, mode):
    spec = small_spec(mode=mode, perturbation={"scheme": scheme, "amplitude": 0.05}, tau_p=2)
    one = run(spec, seed=1, max_block_steps=1)
    auto = run(spec, seed=1)
    odd = run(spec, seed=1, max_block_steps=7)
    np.testing.assert_array_equal(one.weights, auto.weights)
    np.testing.assert_array_equal(odd.weights, auto.weights)
    assert one.curve.equals(auto.curve)
    for key in ("cycles_simulated", "steps_simulated", "final_test_accuracy", "status"):
        assert one.summary[key] == auto.summary[key]


def test_pickled_simulation_resumes_identically():
    spec = small_spec()
    straight = Simulation(spec, seed=2)
    straight.advance(333)
    first = Simulation(spec, seed=2)
    first.advance(121)
    resumed = pickle.loads(pickle.dumps(first))
    resumed.advance(333 - 121)
    np.testing.assert_array_equal(straight.theta, resumed.theta)
    np.testing.assert_array_equal(straight.g_int, resumed.g_int)
    np.testing.assert_array_equal(straight.state.counters, resumed.state.counters)
    np.testing.assert_array_equal(straight.state.floats, resumed.state.floats)


def test_same_seed_same_run_different_seed_different_run():
    spec = small_spec()
    a, b, c = run(spec, seed=5), run(spec, seed=5), run(spec, seed=6)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.curve.equals(b.curve)
    assert not np.array_equal(a.weights, c.weights)


def test_cycles_seconds_and_samples_add_up():
    spec = small_spec(mode="discrete", tau_x=5, tau_theta=3).with_overrides({
        "chip.inference.cycles_per_inference": 4, "chip.inference.baseline_cycles": 3,
        "chip.clock_period": "2.5 ns", "scenario.max_cycles": 2000})
    res = run(spec, seed=0)
    s = res.summary
    steps = s["steps_simulated"]
    # A baseline is measured at each step where x or theta changed: n % 5 == 0 or n % 3 == 0.
    baselines = sum(1 for n in range(steps) if n % 5 == 0 or n % 3 == 0)
    assert s["baseline_measurements"] == baselines
    assert s["cycles_simulated"] == 4 * steps + 3 * baselines
    assert s["cycles_simulated"] <= 2000 < s["cycles_simulated"] + 4 + 3  # budget filled
    assert s["seconds_simulated"] == pytest.approx(s["cycles_simulated"] * 2.5e-9, rel=1e-12)
    assert s["samples_seen"] == -(-steps // 5)
    assert s["updates"] == steps // 3
    cyc = res.curve["cycle"].to_numpy()
    np.testing.assert_allclose(res.curve["seconds"], cyc * 2.5e-9, rtol=1e-12)


def test_time_to_target_is_first_observation_at_target():
    # Without refinement (tests/test_observation.py: the crossing located between observations).
    spec = small_spec(eta=0.3).with_overrides({"scenario.target_accuracy": 0.3, "scenario.stop_at_target": True,
                                               "scenario.max_cycles": 20000,
                                               "firmware.evaluation.refine_crossing": False})
    res = run(spec, seed=0)
    s = res.summary
    assert s["status"] == "reached_target"
    first = res.curve[res.curve.test_accuracy >= 0.3].iloc[0]
    assert s["cycles_to_target"] == first.cycle == res.curve.cycle.iloc[-1]
    assert s["seconds_to_target"] == pytest.approx(first.cycle * 1e-9)


def test_huge_learning_rate_diverges_with_the_cycle_and_a_hint():
    spec = small_spec().with_overrides({"scenario.max_cycles": 100000, "scenario.cost": "mse"})
    sim = Simulation(spec, seed=0)
    sim.config[0]["eta"] = 1e200  # beyond what a spec accepts: the first update overflows
    sim.run()
    s = summarise(sim, spec)
    assert s["status"] == "diverged"
    d = s["divergence"]
    assert d["quantity"] in ("cost", "weights", "integrators")
    assert 0 < d["cycle"] <= s["cycles_simulated"] < 100000
    assert "eta" in d["hint"]


def test_results_do_not_depend_on_the_numba_thread_count(tmp_path):
    """The same run in two fresh processes with NUMBA_NUM_THREADS = 1 and 2: identical files."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        proc = subprocess.run([sys.executable, "-m", "hwsim.cli", "run", str(root / "scenarios/quickstart.yaml"),
                               "--quiet", "--max-cycles", "30000", "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    a, b = (json.loads((o / "summary.json").read_text()) for o in outs)
    for volatile in ("wall_seconds", "compile_seconds"):   # machine time, not results
        a.pop(volatile), b.pop(volatile)
    assert a == b
    assert (outs[0] / "curve.csv").read_text() == (outs[1] / "curve.csv").read_text()


def test_hooks_fire_on_their_interval_without_changing_the_run():
    spec = small_spec()
    plain = Simulation(spec, seed=3).run()
    seen = []
    hooked = Simulation(spec, seed=3).run(hooks=[(37, lambda sim: seen.append((sim.step, sim.cycles)))])
    np.testing.assert_array_equal(plain.theta, hooked.theta)
    assert [p.step for p in plain.curve] == [p.step for p in hooked.curve]
    assert [s for s, _ in seen] == list(range(37, hooked.step + 1, 37))
    assert all(c == s for s, c in seen)   # ideal chip: one cycle per step


def test_curve_has_one_row_per_observation():
    res = run(small_spec(), seed=0)
    assert res.curve.step.is_unique and res.curve.step.iloc[0] == 0
    assert list(res.curve.step) == sorted(set(range(0, res.summary["steps_simulated"], 50))
                                          | {res.summary["steps_simulated"]})


@pytest.mark.parametrize("activity", ["faithful", "idealised"])
def test_node_perturbation_folding_does_not_depend_on_block_size(activity):
    spec = small_spec(perturbation={"scheme": "cdma", "amplitude": 0.05, "target": "nodes",
                                    "node_activity": activity})
    auto, one = run(spec, seed=4), run(spec, seed=4, max_block_steps=1)
    np.testing.assert_array_equal(auto.weights, one.weights)
    assert auto.curve.equals(one.curve)


QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


@pytest.mark.slow
def test_analog_preset_learns_on_digits():
    """The mgd_analog preset on the quickstart: the weights change and the training cost falls
    (with the reference code's tau_x = 1 it never changed a weight, issue 15)."""
    spec = load_scenario(QUICKSTART, {"scenario.max_steps": 40_000, "scenario.stop_at_target": False,
                                      "firmware.evaluation.every_steps": 10_000}, firmware="mgd_analog")
    assert analog_signal_warnings(spec.firmware) == []
    initial = Simulation(spec, seed=0).theta.copy()
    res = run(spec, seed=0)
    assert not np.array_equal(res.weights, initial)
    costs = res.curve.train_cost.dropna().to_numpy()
    assert len(costs) == 4 and costs[-1] < 0.8 * costs[0], costs
    assert res.curve.test_accuracy.iloc[-1] > res.curve.test_accuracy.iloc[0] + 0.3


@pytest.mark.parametrize("tau_p, tau_x", [(1, 1), (4, 2), (3, 3)])
def test_analog_mode_whose_perturbation_changes_only_with_the_sample_is_warned_and_never_learns(tau_p, tau_x):
    """The high-pass is reset at every new sample: when tau_p is a multiple of tau_x no
    perturbation-driven cost change ever passes, C~ = 0 and no weight moves, whatever eta."""
    spec = load_scenario(QUICKSTART, {"firmware.tau_p": tau_p, "firmware.tau_x": tau_x,
                                      "firmware.eta": 1e6}, firmware="mgd_analog")
    warning, = analog_signal_warnings(spec.firmware)
    assert warning.startswith("firmware.tau_x:") and f"tau_x = {tau_x}" in warning
    sim = Simulation(spec, seed=0)
    initial = sim.theta.copy()
    sim.advance(600)
    np.testing.assert_array_equal(sim.theta, initial)
    assert not sim.g_int.any()
    # One perturbation change inside a sample is enough for a signal.
    learning = spec.with_overrides({"firmware.tau_x": 2 * tau_p})
    assert analog_signal_warnings(learning.firmware) == []
    sim = Simulation(learning, seed=0)
    sim.advance(600)
    assert sim.g_int.any()
