"""Every exact shortcut of the MGD kernel equals the reference path on the same inputs
(icfg[I_SHORTCUTS] = 0 runs the reference): the sign path for random-sign weight
perturbation (int8 signs, the first layer's unperturbed product reused per sample) and the
node-perturbation fold (node sums multiplied out when the presynaptic activity changes)."""

import numpy as np
import pytest

from helpers import make_spec
from hwsim.engine.simulation import Simulation
from hwsim.kernels import mgd_block as K

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
    fast, ref = Simulation(spec, seed=4, max_cycles=10**9), Simulation(spec, seed=4, max_cycles=10**9)
    ref.icfg[K.I_SHORTCUTS] = 0
    return fast, ref


@pytest.mark.parametrize("case", list(CASES))
def test_shortcut_equals_the_reference_path(case):
    fast, ref = pair(case)
    for block in (1, 5, 64, 250):
        fast.advance(block)
        ref.advance(block)
        np.testing.assert_allclose(fast.theta, ref.theta, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(fast.integrated_gradient(), ref.integrated_gradient(), rtol=1e-10, atol=1e-13)
        counters = np.arange(K.N_ISTATE) != K.S_WINDOW   # the queue is the shortcut's own
        np.testing.assert_array_equal(fast.istate[counters], ref.istate[counters])
        assert fast.fstate[K.S_C0] == pytest.approx(ref.fstate[K.S_C0], rel=1e-12)
    if case.startswith("sign path"):
        assert fast._psign.any() and not ref._psign.any()    # the shortcut ran, the reference did not
    else:
        assert fast.z1.any() and not ref.z1.any()            # (the fold keeps the first layer's product)


def test_node_fold_queue_that_fills_before_the_update_equals_the_reference():
    """tau_x = 1, tau_theta = 200: the first-layer queue (64 rows) fills and is flushed three
    times per update window; the sums still equal the reference path's."""
    spec = make_spec(network={"hidden": [6], "activation": "tanh"},
                     perturbation={"scheme": "cdma", "amplitude": 0.05, "target": "nodes"},
                     tau_p=1, tau_x=1, tau_theta=200, eta=0.3)
    fast, ref = Simulation(spec, seed=2, max_cycles=10**9), Simulation(spec, seed=2, max_cycles=10**9)
    ref.icfg[K.I_SHORTCUTS] = 0
    assert fast.fold_window.shape[0] == 64
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
