"""Every shortcut path of the MGD kernel equals the reference path on the same inputs
(hwsim.engine.paths; ``force_path="reference"`` runs the reference): the sign path for
random-sign weight perturbation (int8 signs, the first layer's unperturbed product reused per
sample) and the node-perturbation fold (node sums multiplied out when the presynaptic activity
changes). Stated tolerance: 1e-10 relative on weights and G_int (the sums are the same terms,
grouped alike; in practice they agree to the bit), exact on every counter; and the path
selection itself, with its reasons."""

import numpy as np
import pytest

from helpers import make_spec
from hwsim.engine import paths
from hwsim.engine.simulation import Simulation
from hwsim.kernels.state import COUNTERS

CASES = {
    "sign path, tanh": dict(network={"hidden": [9, 5], "activation": "tanh"},
                            perturbation={"scheme": "cdma", "amplitude": 0.05}),
    "sign path, adam, schedules": dict(network={"hidden": [10], "activation": "relu"},
                                       perturbation={"scheme": "cdma", "amplitude": 0.05},
                                       optimizer={"kind": "adam"},
                                       learning_rate_schedule={"kind": "step", "step_size": 5, "gamma": 0.7},
                                       amplitude_schedule={"kind": "inverse_time", "decay": 0.01}),
    "sign path, relu, cost noise": dict(network={"hidden": [13], "activation": "relu"},
                                        perturbation={"scheme": "cdma", "amplitude": 0.05},
                                        chip={"cost_unit": {"noise_sigma": 0.01}}),
    "node fold, faithful": dict(network={"hidden": [9, 5], "activation": "tanh"},
                                perturbation={"scheme": "cdma", "amplitude": 0.05, "target": "nodes"}),
    "node fold, momentum, schedule": dict(eta=0.02, network={"hidden": [9, 5], "activation": "relu"},
                                          perturbation={"scheme": "cdma", "amplitude": 0.05, "target": "nodes"},
                                          optimizer={"kind": "momentum", "beta": 0.8},
                                          learning_rate_schedule={"kind": "step", "step_size": 4, "gamma": 0.8}),
    "node fold, idealised": dict(network={"hidden": [9], "activation": "sigmoid"},
                                 perturbation={"scheme": "walsh", "amplitude": 0.05, "target": "nodes",
                                               "node_activity": "idealised"}),
}


def pair(case, **firmware):
    kw = dict(CASES[case])
    chip = kw.pop("chip", None)
    eta = kw.pop("eta", 0.3)
    spec = make_spec(chip=chip, tau_p=2, tau_x=3, tau_theta=7, eta=eta, **kw, **firmware)
    fast = Simulation(spec, seed=4, max_cycles=10**9)
    ref = Simulation(spec, seed=4, max_cycles=10**9, force_path="reference")
    return fast, ref


@pytest.mark.parametrize("case", list(CASES))
def test_shortcut_equals_the_reference_path(case):
    fast, ref = pair(case)
    for block in (1, 5, 64, 250):
        fast.advance(block)
        ref.advance(block)
        np.testing.assert_allclose(fast.theta, ref.theta, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(fast.integrated_gradient(), ref.integrated_gradient(), rtol=1e-10, atol=1e-13)
        names = [n for n in COUNTERS.names if n != "window"]   # the queue is the shortcut's own
        np.testing.assert_array_equal(fast.state.counters[names], ref.state.counters[names])
        assert fast.state.floats[0]["c0"] == pytest.approx(ref.state.floats[0]["c0"], rel=1e-12)
    assert fast.path.name == ("sign" if case.startswith("sign path") else "node_fold")
    assert ref.path.name == "reference"
    if case.startswith("sign path"):
        assert fast.state.psign.any()
    else:
        assert fast.state.z1.any() and not ref.state.z1.any()   # (the fold keeps the first layer's product)


def test_node_fold_queue_that_fills_before_the_update_equals_the_reference():
    """tau_x = 1, tau_theta = 200: the first-layer queue (64 rows) fills and is flushed three
    times per update window; the sums still equal the reference path's."""
    spec = make_spec(network={"hidden": [6], "activation": "tanh"},
                     perturbation={"scheme": "cdma", "amplitude": 0.05, "target": "nodes"},
                     tau_p=1, tau_x=1, tau_theta=200, eta=0.3)
    fast = Simulation(spec, seed=2, max_cycles=10**9)
    ref = Simulation(spec, seed=2, max_cycles=10**9, force_path="reference")
    assert fast.path.name == "node_fold" and fast.state.window.shape[0] == 64
    for block in (70, 130, 333):
        fast.advance(block)
        ref.advance(block)
        np.testing.assert_allclose(fast.integrated_gradient(), ref.integrated_gradient(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(fast.theta, ref.theta, rtol=1e-10, atol=1e-13)


def test_sign_table_gives_the_generators_cdma_signs():
    from hwsim.chip.perturbation import PerturbationGenerator
    from hwsim.kernels.perturb import fill_signs

    for p in (1, 63, 64, 65, 130, 1000):
        gen = PerturbationGenerator("cdma", p, 0.3, seed=11)
        signs = np.zeros(-(-p // 64) * 64, dtype=np.int8)
        for k in (0, 1, 7, 10**9 + 7):
            fill_signs(k, np.uint64(gen.stream), signs)
            np.testing.assert_array_equal(signs[:p], np.sign(gen.vector(k)).astype(np.int8))


@pytest.mark.parametrize("settings, path, reason", [
    (dict(perturbation={"scheme": "cdma"}), "sign", None),
    (dict(perturbation={"scheme": "walsh"}), "reference", "a scheme other than cdma"),
    (dict(perturbation={"scheme": "cdma", "sparsity": 4.0}), "reference", "sparsity other than 1"),
    (dict(perturbation={"scheme": "cdma"}, mode="analog", tau_x=10), "reference", "analog mode"),
    (dict(perturbation={"scheme": "cdma"}, chip={"cost_unit": {"adc_bits": 8}}), "reference",
     "modelled circuits"),
    (dict(perturbation={"scheme": "cdma", "target": "nodes"}), "node_fold", None),
    (dict(perturbation={"scheme": "cdma", "target": "nodes"}, chip={"broadcast": {"noise_sigma": 0.01}}),
     "reference", "modelled circuits"),
])
def test_the_path_is_chosen_once_with_its_reason(settings, path, reason):
    spec = make_spec(**settings)
    sim = Simulation(spec, seed=0)
    assert sim.path.name == path
    if reason is not None:
        shortcut = "node_fold" if settings["perturbation"].get("target") == "nodes" else "sign"
        assert reason in sim.path.not_applicable[shortcut], sim.path.not_applicable
    with pytest.raises(ValueError, match="does not apply"):
        other = "node_fold" if path != "node_fold" else "sign"
        Simulation(spec, seed=0, force_path=other)
    assert Simulation(spec, seed=0, force_path="reference").path.name == "reference"
