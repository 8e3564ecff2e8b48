"""Cycle-level timing against closed forms, the time and energy breakdowns, and the broadcast
latency's mis-correlation (DESIGN section 3)."""

import math

import numpy as np
import pytest

from helpers import make_spec
from hwsim.api import run
from hwsim.engine.simulation import Simulation

N = 100  # steps


def timed(chip=None, tau_x=5, tau_theta=10, perturbation=None, **fw):
    spec = make_spec(dataset={"name": "digits"}, network={"hidden": [8], "activation": "relu"},
                     cost="cross_entropy", chip=chip or {},
                     perturbation=perturbation or {"scheme": "cdma", "amplitude": 0.05}, tau_x=tau_x,
                     tau_theta=tau_theta, eta=0.1, evaluation={"every_steps": 50}, **fw)
    return spec.with_overrides({"scenario.max_steps": N, "scenario.max_cycles": 10**9})


def totals(spec):
    s = run(spec, seed=0).summary
    assert s["steps_simulated"] == N
    assert sum(s["time_breakdown_cycles"].values()) == s["cycles_simulated"]
    return s


def test_input_bound_without_double_buffering():
    # 64 values at 3.2 values/cycle = 20 cycles per sample, every tau_x = 5 steps of 2 cycles.
    s = totals(timed({"inference": {"cycles_per_inference": 2}, "input": {"values_per_cycle": 3.2}}))
    samples = math.ceil(N / 5)
    assert s["samples_seen"] == samples and s["updates"] == N // 10
    assert s["cycles_simulated"] == samples * 20 + N * 2
    assert s["time_breakdown_cycles"]["waiting_for_inputs"] == samples * 20


def test_input_bound_with_double_buffering():
    # The next sample loads while the current one is presented (5 steps x 2 cycles = 10 < 20):
    # the first load is waited for in full, every later one for 20 - 10 cycles.
    s = totals(timed({"inference": {"cycles_per_inference": 2},
                      "input": {"bits_per_cycle": 25.6, "value_bits": 8, "double_buffering": True}}))
    samples = math.ceil(N / 5)
    assert s["cycles_simulated"] == 20 + (samples - 1) * 10 + N * 2
    # Loading faster than presenting: only the first load costs time.
    s = totals(timed({"inference": {"cycles_per_inference": 2},
                      "input": {"values_per_cycle": 8, "double_buffering": True}}))
    assert s["cycles_simulated"] == 8 + N * 2


def test_inference_bound_pipelined_with_broadcast_latency():
    # II = 2, L = 6, B = 3: each discrete update waits for its window's last cost, 6 - 2 + 3 cycles.
    s = totals(timed({"inference": {"cycles_per_inference": 6, "initiation_interval": 2},
                      "broadcast": {"latency": 3}}))
    assert s["cycles_simulated"] == N * 2 + (N // 10) * 7
    assert s["time_breakdown_cycles"]["updating"] == (N // 10) * 7
    assert s["inference_latency_cycles"] == 6 and s["initiation_interval_cycles"] == 2


@pytest.mark.parametrize("parallelism", ["parallel", "row_serial", "serial"])
def test_update_bound_blocking(parallelism):
    # Pulses of 5 ns at 1 ns per cycle, 4 cycles of overhead; every parameter is written once.
    chip = {"update": {"pulse_duration": "5 ns", "overhead_cycles": 4, "parallelism": parallelism}}
    spec = timed(chip)
    sim = Simulation(spec, seed=0)
    p, rows = sim.layout.n_params, sim.n_rows          # rows: 64 + 1 and 8 + 1 input lines
    assert rows == (64 + 1) + (8 + 1)
    per_update = {"parallel": 5, "row_serial": rows * 5, "serial": p * 5}[parallelism] + 4
    s = totals(spec)
    assert s["cycles_simulated"] == N + (N // 10) * per_update
    assert s["time_breakdown_cycles"]["updating"] == (N // 10) * per_update


def test_non_blocking_updates_overlap_inference_and_stall_only_when_busy():
    # Update phase 7 + 4 + 5 = 16 cycles < 20 cycles between updates: no time lost.
    chip = {"inference": {"cycles_per_inference": 6, "initiation_interval": 2}, "broadcast": {"latency": 3},
            "update": {"pulse_duration": "5 ns", "overhead_cycles": 4, "blocking": False}}
    s = totals(timed(chip))
    assert s["cycles_simulated"] == N * 2 and s["time_breakdown_cycles"]["stalled"] == 0
    # Phase 7 + 18 + 5 = 30 > 20: from the second update on, each waits 10 cycles.
    chip["update"]["overhead_cycles"] = 18
    s = totals(timed(chip))
    assert s["time_breakdown_cycles"]["stalled"] == (N // 10 - 1) * 10
    assert s["cycles_simulated"] == N * 2 + (N // 10 - 1) * 10


def test_non_blocking_inference_uses_the_old_weights_until_the_update_lands():
    chip = {"update": {"overhead_cycles": 6, "blocking": False}}
    sim = Simulation(timed(chip), seed=0)
    sim.advance(10)                      # the first window ends: update written until cycle 16
    assert sim.counts()["apply_at"] == 16
    assert not np.array_equal(sim.theta, sim.state.theta_old)
    snapshot = sim.state.theta_old.copy()
    sim.advance(5)                       # steps 10..14 at cycles 10..14 run on the snapshot
    np.testing.assert_array_equal(sim.state.theta_old, snapshot)
    assert sim.counts()["baselines"] == 3  # x changed at steps 0, 5, 10; theta not yet
    sim.advance(1)                       # step 15: a new sample, a new baseline
    assert sim.counts()["baselines"] == 4
    sim.advance(1)                       # step 16 starts at cycle 16: new weights, new baseline
    assert sim.counts()["baselines"] == 5 and sim.counts()["c0_on_apply"] == 0


def test_time_shared_tiles():
    # 64-8-10 network on 16x4 tiles: layer 1 needs 4 x 2 = 8 tiles, layer 2 needs 1 x 3 = 3.
    base = {"array": {"rows": 16, "cols": 4, "tile_latency": 5}}
    sim = Simulation(timed(base), seed=0)
    assert (sim.timing.latency, sim.timing.interval) == (10, 5)   # pipelined layers
    sim = Simulation(timed({"array": {**base["array"], "tiles": 4}}), seed=0)
    # 4 tiles: layer 1 in 2 rounds, layer 2 in 1 round, no pipelining.
    assert (sim.timing.latency, sim.timing.interval) == (15, 15)
    s = totals(timed({"array": {**base["array"], "tiles": 4}}))
    assert s["cycles_simulated"] == N * 15


def test_seconds_and_energy_add_up():
    e = {"mvm": "2 pJ", "adc": "0.5 pJ", "dac": "0.25 pJ", "perturbation": "1 fJ",
         "broadcast": "3 pJ", "integrator": "2 fJ", "write": "10 fJ"}
    chip = {"clock_period": "2 ns", "energy": e, "array": {"rows": 32, "cols": 4},
            "inference": {"baseline_cycles": 1}}
    s = totals(timed(chip))
    assert s["seconds_simulated"] == pytest.approx(s["cycles_simulated"] * 2e-9)
    b = s["energy_breakdown_joules"]
    assert s["energy_joules"] == pytest.approx(sum(b.values()))
    inferences = N + s["baseline_measurements"]
    # 64-8-10: layer 1 is 2 row tiles x 2 column tiles, layer 2 is 1 x 3.
    assert b["mvm"] == pytest.approx(inferences * (4 + 3) * 2e-12)
    assert b["adc"] == pytest.approx(inferences * (8 * 2 + 10 * 1) * 0.5e-12)
    assert b["dac"] == pytest.approx(inferences * (64 * 2 + 8 * 3) * 0.25e-12)
    p = s["n_params"]
    assert b["perturbation"] == pytest.approx(N * p * 1e-15)          # tau_p = 1
    assert b["broadcast"] == pytest.approx(N * 3e-12)
    assert b["integrators"] == pytest.approx(N * p * 2e-15)
    assert b["writes"] == pytest.approx((N // 10) * p * 10e-15)       # one write per weight


@pytest.mark.parametrize("target", ["weights", "nodes"])
@pytest.mark.parametrize("tau_p", [1, 3])
def test_generator_energy_is_one_value_per_perturbed_element_per_perturbation(target, tau_p):
    """Each new perturbation costs one value from each generator: P of them under weight
    perturbation, K (the neurons) under node perturbation (issue 15: P were charged)."""
    spec = timed({"energy": {"perturbation": "1 fJ"}}, tau_p=tau_p,
                 perturbation={"scheme": "cdma", "amplitude": 0.05, "target": target})
    s = totals(spec)
    perturbed = {"weights": 64 * 8 + 8 + 8 * 10 + 10, "nodes": 8 + 10}[target]
    assert s["n_perturbed"] == perturbed
    draws = math.ceil(N / tau_p)
    assert s["energy_breakdown_joules"]["perturbation"] == pytest.approx(draws * perturbed * 1e-15, rel=1e-12)


def test_energy_to_target_is_the_energy_at_the_first_observation_at_target():
    spec = timed({"energy": {"mvm": "1 pJ"}}).with_overrides({
        "scenario.max_steps": 3000, "scenario.target_accuracy": 0.2, "scenario.stop_at_target": True,
        "firmware.evaluation.refine_crossing": False})   # refined: tests/test_observation.py
    res = run(spec, seed=0)
    s = res.summary
    assert s["status"] == "reached_target"
    first = res.curve[res.curve.test_accuracy >= 0.2].iloc[0]
    assert s["energy_joules_to_target"] == pytest.approx(first.energy_joules)
    assert s["seconds_to_target"] == pytest.approx(s["cycles_to_target"] * 1e-9)


def test_broadcast_latency_without_compensation_decorrelates_fdma_as_predicted():
    """C~ of step n reaches the integrators d = ceil((L + B)/II) - 1 steps later. Without delay
    compensation it multiplies theta~(n + d): sinusoid i contributes cos(2 pi f_i d) of its
    gradient component. The projection of G on the gradient drops by sum g_i^2 c_i / sum g_i^2
    (about the mean of c_i = cos 2 pi f_i d over the frequencies) and the cosine to
    sum g_i^2 c_i / (|g| sqrt(sum g_i^2 c_i^2)); with compensation nothing drops."""
    big = 10**9

    def probe(compensate):
        spec = make_spec(dataset={"name": "teacher", "n_samples": 16, "n_inputs": 8, "n_outputs": 3,
                                  "teacher_hidden": 4},
                         network={"hidden": [6], "activation": "tanh"},
                         perturbation={"scheme": "fdma", "amplitude": 1e-5, "fdma_band": [0.01, 0.06]},
                         tau_x=big, tau_theta=big,
                         chip={"broadcast": {"latency": 3},
                               "integrator": {"delay_compensation": compensate}})
        sim = Simulation(spec, seed=0, max_cycles=10**12)
        steps = int(math.ceil(4.0 / sim.generator.frequency_spacing))
        sim.advance(steps)
        from hwsim.network import batch
        s = sim.counts()["sample"]
        g = batch.gradient(sim.layout, sim.theta, sim.data.x_train[s], sim.data.y_train[s], "mse")
        return sim, sim.g_int.copy(), g

    sim, g_comp, g = probe(True)
    _, g_late, _ = probe(False)
    d = int(sim.config[0]["delay_steps"]) or 3
    c = np.cos(2 * np.pi * sim.generator.table_f * d)
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(g_comp, g) > 0.99
    predicted_projection = float(np.sum(g**2 * c) / np.sum(g**2))
    assert (g_late @ g) / (g_comp @ g) == pytest.approx(predicted_projection, abs=0.02)
    assert abs(predicted_projection - c.mean()) < 0.1       # close to the plain frequency average
    predicted_cos = float(np.sum(g**2 * c) / (np.linalg.norm(g) * np.sqrt(np.sum(g**2 * c**2))))
    assert cos(g_late, g) == pytest.approx(predicted_cos, abs=0.02)
    assert predicted_projection < 0.9                        # a real drop for this band and delay


def test_time_constants_shorter_than_the_chip_latencies_warn():
    from hwsim.advice import timing_warnings

    slow_input = timed({"input": {"values_per_cycle": 1.0}})          # 64 cycles per sample
    assert any("tau_x" in w for w in timing_warnings(slow_input))
    assert not timing_warnings(slow_input.with_overrides({"firmware.tau_x": 100}))
    # Up to 5 pulses of 10 cycles on a pulsed device (the ideal law writes in one 10-cycle slot).
    slow_update = timed({"update": {"pulse_duration": "10 ns", "max_pulses": 5},
                         "device": {"law": "constant_step"}})
    assert any("tau_theta" in w and "50 steps" in w for w in timing_warnings(slow_update))
    assert not timing_warnings(slow_update.with_overrides({"firmware.tau_theta": 50}))
