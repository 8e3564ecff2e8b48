"""The non-ideal chip in the MGD loop: every device law x perturbation scheme on the fast path
equals the numpy twin (tests/naive.py: mgd_steps_chip, with tests/naive_devices.py)."""

import itertools

import numpy as np
import pytest

import naive
from helpers import SCHEMES, make_spec
from hwsim.engine.simulation import Simulation
from hwsim.kernels import forward as FK
from hwsim.kernels import codes

LAWS = ("ideal", "quantised", "constant_step", "linear_step", "soft_bounds", "exp_step", "pow_step")

NONIDEAL_CHIP = {
    "clock_period": "1 us",
    "inference": {"cycles_per_inference": 3, "baseline_cycles": 2},
    "device": {"dw_min": 0.01, "w_min": -1.5, "w_max": 1.5, "asymmetry": 0.1, "gamma_up": 0.7,
               "levels": 64, "write_noise": 0.2, "variation": {"dw_min": 0.1, "bounds": 0.05},
               "programming_error": 0.01, "read_noise": {"additive": 0.002, "proportional": 0.01},
               "drift": {"nu_mean": 0.05, "nu_sigma": 0.01, "t0": "10 us"},
               "stuck": {"fraction": 0.05}},
    "update": {"rounding": "stochastic", "max_pulses": 5},
    "array": {"rows": 4, "dac_bits": 6, "dac_range": 1.0, "adc_bits": 8, "adc_range": 4.0},
    "neurons": {"activation_variation": 0.05},
    "perturbation": {"mismatch": 0.1, "amplitude_bits": 4},
    "cost_unit": {"adc_bits": 10, "adc_range": 4.0, "noise_sigma": 0.001},
    "broadcast": {"bits": 12, "range": 0.5, "noise_sigma": 1e-4},
    "integrator": {"bits": 16, "saturation": 50.0, "leak_tau": "200 us"},
}


def assert_matches_twin(sim, steps):
    """The fast path and the numpy twin advance the same state to the same place."""
    theta, g, cycles, pulses = naive.mgd_steps_chip(sim, steps)
    sim.advance(steps)
    np.testing.assert_allclose(sim.theta, theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sim.integrated_gradient(), g, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(sim.devices.pulses, pulses)
    assert sim.cycles == cycles


def chip_spec(law, scheme, mode, **chip_over):
    chip = {**NONIDEAL_CHIP, **chip_over}
    chip["device"] = {**NONIDEAL_CHIP["device"], "law": law}
    return make_spec(chip=chip, perturbation={"scheme": scheme, "amplitude": 0.2}, mode=mode,
                     tau_p=2, tau_x=3, tau_theta=4, eta=0.5)


CASES = list(itertools.product(LAWS, SCHEMES, ("discrete", "analog")))


@pytest.mark.parametrize("law,scheme,mode", CASES, ids=[f"{l}-{s}-{m}" for l, s, m in CASES])
def test_chip_path_matches_numpy_twin(law, scheme, mode):
    sim = Simulation(chip_spec(law, scheme, mode), seed=7, max_cycles=10**12)
    cfg = sim.config[0]
    assert cfg["chip"] and cfg["devices"] and cfg["drift"]
    assert sim.periphery.config[0].read_noise
    assert_matches_twin(sim, 41)


def test_weight_device_injection_rounds_to_whole_steps_and_counts_wear():
    spec = chip_spec("constant_step", "gaussian", "discrete",
                     perturbation={"injection": "weight_device"})
    sim = Simulation(spec, seed=1, max_cycles=10**12)
    assert_matches_twin(sim, 30)
    steps = sim.state.pert / 0.01
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)  # whole device steps only


def test_ideal_chip_spec_takes_the_ideal_path():
    """Default chip sections change nothing: the fast ideal path runs, bit for bit as before."""
    sim = Simulation(make_spec(), seed=0)
    assert not sim.config[0]["chip"]


def test_every_circuit_alone_switches_to_the_chip_path():
    for chip in ({"device": {"law": "constant_step", "w_min": -1, "w_max": 1}},
                 {"device": {"read_noise": {"additive": 0.01}}}, {"array": {"adc_bits": 8}},
                 {"array": {"rows": 2}}, {"neurons": {"activation_variation": 0.1}},
                 {"perturbation": {"mismatch": 0.1}}, {"cost_unit": {"adc_bits": 8}},
                 {"broadcast": {"noise_sigma": 0.1}}, {"integrator": {"leak_tau": "100 ns"}}):
        sim = Simulation(make_spec(chip=chip), seed=0)
        assert sim.config[0]["chip"], chip


def test_observer_sees_the_chip_and_can_record_ideal_accuracy():
    spec = chip_spec("soft_bounds", "cdma", "discrete").with_overrides({
        "scenario.observation.ideal_accuracy": True})
    sim = Simulation(spec, seed=2, max_cycles=10**12)
    sim.advance(20)
    point = sim.observe()
    assert 0.0 <= point.test_accuracy <= 1.0 and 0.0 <= point.ideal_test_accuracy <= 1.0
    # Without read noise the observed outputs are the periphery applied to the drifted weights.
    quiet = sim.run_spec.with_overrides({"scenario.observation.read_noise": False})
    sim.run_spec = quiet
    y1 = sim.chip_outputs(sim.data.x_test, 5)
    y2 = sim.chip_outputs(sim.data.x_test, 6)
    np.testing.assert_array_equal(y1, y2)   # no noise: the observation index does not matter
    sim.run_spec = spec
    assert not np.array_equal(sim.chip_outputs(sim.data.x_test, 5), sim.chip_outputs(sim.data.x_test, 6))
    # The batched observer path equals the per-sample twin.
    y = sim.periphery.forward_batch(sim.theta, sim.data.x_test[:5])
    for i in range(5):
        np.testing.assert_allclose(y[i], naive.forward_chip(sim, sim.theta, sim.data.x_test[i]), rtol=1e-12)


def test_read_noise_per_partial_sum_has_the_per_device_distribution():
    """forward_chip draws one normal per tile partial sum with variance
    sum_j (s_add^2 + s_prop^2 w_j^2) h_j^2; reading every device with its own noise gives the
    same distribution. Compare the spread of one pre-activation both ways (4,000 reads)."""
    chip = {"device": {"read_noise": {"additive": 0.05, "proportional": 0.2}},
            "array": {"rows": 16}}
    spec = make_spec(chip=chip, network={"hidden": [], "activation": "tanh"},
                     dataset={"name": "teacher", "n_samples": 8, "n_inputs": 40, "n_outputs": 1,
                              "teacher_hidden": 3})
    sim = Simulation(spec, seed=0)
    x = sim.data.x_train[0]
    layout = sim.layout
    fast, per_device = [], []
    h = np.zeros((2, 40))
    zero = np.zeros(layout.n_params)
    for m in range(4000):
        FK.forward_chip(sim.net, sim.periphery_k, sim.theta, zero, codes.NO_PERT, x, h,
                        sim.devices.config[0].seed_read, m)
        fast.append(h[1, 0])
        w = sim.devices.read(0.0, 10**6 + m)
        per_device.append(float(w[:40] @ x + w[40]))
    fast, per_device = np.array(fast), np.array(per_device)
    clean = float(sim.theta[:40] @ x + sim.theta[40])
    sd = np.sqrt(np.sum((0.05**2 + 0.2**2 * sim.theta[:40] ** 2) * x**2))
    for sample in (fast, per_device):
        assert abs(sample.mean() - clean) < 5 * sd / np.sqrt(4000)
        assert abs(sample.std() / sd - 1) < 5 * np.sqrt(0.5 / 4000)



@pytest.mark.parametrize("gathered", [False, True])
def test_read_variance_equals_its_numpy_twin(gathered):
    """A tile's read-noise variance sum_j (s_add^2 + s_prop^2 w_j^2) h_j^2 over fan-in
    [start, stop) of a weight row, the inputs taken directly (dense) or through a gather index
    (conv): numpy's sum to rounding (the kernel's sum is vectorised, in another order)."""
    rng = np.random.default_rng(5)
    w, hl = rng.normal(size=300), rng.normal(size=50)
    gidx = rng.integers(0, 50, size=120)
    row, start, stop, gbase = 17, 8, 40, (30 if gathered else -1)
    h_in = hl[gidx[gbase + start:gbase + stop]] if gathered else hl[start:stop]
    wr = w[row + start:row + stop]
    want = np.sum((0.05**2 + 0.2**2 * wr**2) * h_in**2)
    got = FK.read_variance(w, row, hl, gidx, gbase, start, stop, 0.05**2, 0.2**2)
    assert got == pytest.approx(want, rel=1e-12)

TIMING = {
    "pipelined_late_broadcast": {"inference": {"cycles_per_inference": 5, "initiation_interval": 2},
                                 "broadcast": {"latency": 3}, "integrator": {"delay_compensation": False}},
    "input_bound_double_buffered": {"input": {"values_per_cycle": 4, "double_buffering": True},
                                    "inference": {"baseline_cycles": 2}},
    "row_serial_blocking": {"update": {"parallelism": "row_serial", "pulse_duration": "2 us",
                                       "overhead_cycles": 3}},
    "serial_non_blocking": {"update": {"parallelism": "serial", "pulse_duration": "1 us",
                                       "blocking": False}},
}


@pytest.mark.parametrize("law", ["ideal", "soft_bounds"])
@pytest.mark.parametrize("name", sorted(TIMING))
def test_timing_matches_numpy_twin(name, law):
    """The kernel's timing (waits, pipeline drain, update phases, non-blocking snapshots, the
    late perturbation) equals the twin's, with plain weights and with a pulsed device."""
    chip = {"clock_period": "1 us", **TIMING[name]}
    if law != "ideal":
        chip["device"] = {"law": law, "dw_min": 0.01, "w_min": -1, "w_max": 1, "write_noise": 0.1}
    spec = make_spec(chip=chip, perturbation={"scheme": "fdma", "amplitude": 0.2}, tau_p=1, tau_x=3,
                     tau_theta=4, eta=0.5)
    sim = Simulation(spec, seed=3, max_cycles=10**12)
    assert_matches_twin(sim, 45)


NODE_CASES = list(itertools.product(("faithful", "idealised"), ("discrete", "analog"), ("cdma", "walsh")))


@pytest.mark.parametrize("activity,mode,scheme", NODE_CASES, ids=["-".join(c) for c in NODE_CASES])
@pytest.mark.parametrize("chip_kind", ["ideal", "nonideal"])
def test_node_perturbation_matches_numpy_twin(chip_kind, activity, mode, scheme):
    chip = {} if chip_kind == "ideal" else {**NONIDEAL_CHIP, "device": {**NONIDEAL_CHIP["device"],
                                                                       "law": "soft_bounds"}}
    spec = make_spec(chip=chip, perturbation={"scheme": scheme, "amplitude": 0.2, "target": "nodes",
                                              "node_activity": activity},
                     mode=mode, tau_p=2, tau_x=3, tau_theta=4, eta=0.5)
    sim = Simulation(spec, seed=7, max_cycles=10**12)
    assert sim.n_perturbed == sim.layout.n_neurons == 5 + 3
    assert_matches_twin(sim, 41)


def test_conductances_map_to_weights_through_the_gain():
    """A device given in siemens: w = gain (G+ - G-) for a differential pair, gain (G - G_ref)
    against a mid-range reference; steps and noise scale with the gain (and the pair's two
    reads double the read-noise variance)."""
    from hwsim.chip.devices import device_in_weight_units

    cond = {"g_min": "1 uS", "g_max": "25 uS", "dg_min": "0.5 uS", "read_noise": "0.2 uS",
            "programming_error": "0.1 uS"}
    for mapping, half, pair in (("differential", 24.0, np.sqrt(2)), ("reference", 12.0, 1.0)):
        spec = make_spec(chip={"device": {"law": "constant_step", "conductance": cond},
                               "array": {"mapping": mapping, "gain": 1e5}})
        p = device_in_weight_units(spec.chip)
        assert (p.w_min, p.w_max) == pytest.approx((-half * 0.1, half * 0.1))
        assert p.dw_min == pytest.approx(0.05) and p.programming_error == pytest.approx(0.01)
        assert p.read_noise.additive == pytest.approx(0.02 * pair) and p.conductance is None


def test_conductance_without_gain_is_an_error(tmp_path):
    from hwsim.spec.errors import SpecError
    from hwsim.run_plan import load_scenario

    scen = tmp_path / "s.yaml"
    scen.write_text("kind: scenario\ndataset: {name: digits}\n"
                    "overrides:\n  chip.device.conductance: {g_max: 25 uS, dg_min: 0.5 uS}\n")
    with pytest.raises(SpecError) as info:
        load_scenario(scen)
    assert "array.gain" in str(info.value)


OPT_CASES = [("momentum", "step"), ("nesterov", "cosine"), ("adam", "inverse_time"), ("sgd", "cosine")]


@pytest.mark.parametrize("opt,sched", OPT_CASES, ids=[f"{o}-{s}" for o, s in OPT_CASES])
@pytest.mark.parametrize("chip_kind", ["ideal", "nonideal"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
def test_optimisers_and_schedules_match_numpy_twin(opt, sched, chip_kind, mode):
    """Momentum, Nesterov and Adam at update time, learning-rate and amplitude schedules: the
    kernel and the twin (tests/naive_optim.py) agree step for step."""
    chip = {} if chip_kind == "ideal" else NONIDEAL_CHIP
    schedule = {"kind": sched, "step_size": 3, "gamma": 0.5, "decay": 0.2, "min_fraction": 0.1,
                "horizon": 20}
    spec = make_spec(chip=chip, perturbation={"scheme": "cdma", "amplitude": 0.2}, mode=mode,
                     tau_p=2, tau_x=3, tau_theta=4, eta=0.05,
                     optimizer={"kind": opt, "beta": 0.8}, learning_rate_schedule=schedule,
                     amplitude_schedule={**schedule, "kind": "step"})
    sim = Simulation(spec, seed=5, max_cycles=10**12)
    assert_matches_twin(sim, 41)
