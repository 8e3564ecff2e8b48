"""Convolutional networks on crossbars: conv and max-pool stages against a direct numpy
convolution, exact gradients, the fast kernels against their twins, the papers' CNNs."""

import numpy as np
import pytest

import naive
from helpers import make_spec
from hwsim.api import probe_gradient
from hwsim.engine.simulation import Simulation
from hwsim.kernels import forward as FK
from hwsim.kernels.state import network_of
from hwsim.network import batch as net
from hwsim.network.layout import NetworkLayout, conv, dense, maxpool, scenario_layout
from hwsim.kernels import codes

# Digits as 1 x 8 x 8 images: conv 3x3 (8x8 -> 6x6), pool 2 (-> 3x3), conv 2x2 (-> 2x2), dense.
SMALL_CNN = [{"type": "conv", "channels": 3, "kernel": 3}, {"type": "maxpool", "size": 2},
             {"type": "conv", "channels": 4, "kernel": 2}, {"type": "flatten"}, {"type": "dense"}]


def small_layout(act="tanh", out_act="linear"):
    c1 = conv((2, 7, 6), 3, 3, act)            # 2x7x6 -> 3x5x4
    p1 = maxpool(c1.out_shape, 2)              # -> 3x2x2
    c2 = conv(p1.out_shape, 4, 2, act)         # -> 4x1x1
    return NetworkLayout((c1, p1, c2, dense(c2.n_out, 3, out_act)))


def direct_conv(img, w, b, k):
    """A k x k convolution (stride 1, no padding) by explicit loops: w is (C_out, C_in, k, k)."""
    c_out, c_in = w.shape[:2]
    ho, wo = img.shape[1] - k + 1, img.shape[2] - k + 1
    out = np.zeros((c_out, ho, wo))
    for co in range(c_out):
        for y in range(ho):
            for x in range(wo):
                out[co, y, x] = b[co] + sum(w[co, ci, ky, kx] * img[ci, y + ky, x + kx]
                                            for ci in range(c_in) for ky in range(k) for kx in range(k))
    return out


def direct_pool(img, k):
    c, h, w = img.shape
    out = np.zeros((c, h // k, w // k))
    for ci in range(c):
        for y in range(h // k):
            for x in range(w // k):
                out[ci, y, x] = img[ci, y * k:(y + 1) * k, x * k:(x + 1) * k].max()
    return out


def test_conv_and_pool_stages_equal_a_direct_convolution():
    rng = np.random.default_rng(0)
    lay = small_layout("linear")
    theta = rng.normal(size=lay.n_params)
    x = rng.normal(size=(3, lay.sizes[0]))
    for n in range(3):
        img = x[n].reshape(2, 7, 6)
        w, b = lay.weights(theta, 0)
        z1 = direct_conv(img, w.reshape(3, 2, 3, 3), b, 3)
        np.testing.assert_allclose(net.forward_stage(lay, 0, theta, x[n:n + 1])[0], z1.ravel(), rtol=1e-12)
        p1 = direct_pool(z1, 2)
        np.testing.assert_allclose(net.forward_stage(lay, 1, theta, z1.reshape(1, -1))[0], p1.ravel())
        w2, b2 = lay.weights(theta, 2)
        z2 = direct_conv(p1, w2.reshape(4, 3, 2, 2), b2, 2)
        w3, b3 = lay.weights(theta, 3)
        y = w3 @ z2.ravel() + b3
        np.testing.assert_allclose(net.forward_batch(lay, theta, x[n:n + 1])[0], y, rtol=1e-12)
        np.testing.assert_allclose(naive.forward(lay, theta, x[n]), y, rtol=1e-12)


@pytest.mark.parametrize("cost", ["mse", "cross_entropy"])
def test_cnn_gradient_equals_central_finite_differences(cost):
    rng = np.random.default_rng(1)
    lay = small_layout("tanh")
    theta = rng.normal(scale=0.5, size=lay.n_params)
    x = rng.normal(size=(4, lay.sizes[0]))
    t = np.eye(3)[rng.integers(0, 3, size=4)]
    c, g = net.loss_and_gradient(lay, theta, x, t, cost)

    def mean_cost(th):
        return float(np.mean(net.cost_batch(net.forward_batch(lay, th, x), t, cost)))

    assert c == pytest.approx(mean_cost(theta), rel=1e-13)
    eps = 1e-6
    fd = np.array([(mean_cost(theta + eps * e) - mean_cost(theta - eps * e)) / (2 * eps)
                   for e in np.eye(lay.n_params)])
    assert np.abs(g).max() > 1e-3
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8 * np.abs(g).max())


def kernel_forward(lay, theta, pert, mode, x):
    h = np.zeros((lay.n_layers + 1, int(lay.sizes_arr.max())))
    FK.forward(network_of(lay), theta, pert, mode, x, h)
    return h[lay.n_layers, :lay.sizes[-1]].copy()


def test_kernel_forward_equals_numpy_with_weight_and_node_perturbation():
    rng = np.random.default_rng(2)
    lay = small_layout("relu")
    theta = rng.normal(size=lay.n_params)
    x = rng.normal(size=lay.sizes[0])
    wp = 0.1 * rng.normal(size=lay.n_params)
    np_ = 0.1 * rng.normal(size=lay.n_neurons)
    np.testing.assert_allclose(kernel_forward(lay, theta, wp, codes.NO_PERT, x),
                               naive.forward(lay, theta, x), rtol=1e-12)
    np.testing.assert_allclose(kernel_forward(lay, theta, wp, codes.WEIGHT_PERT, x),
                               naive.forward(lay, theta + wp, x), rtol=1e-12)
    # Node perturbation: node n of the parametric stages gains np_[n] before its activation.
    h, n0 = x, 0
    for l, st in enumerate(lay.stages):
        if st.kind == "maxpool":
            h = naive.max_pool(st, h)
            continue
        w, b = lay.weights(theta, l)
        z = naive.stage_product(st, w, h) + np.repeat(b, st.positions) + np_[n0:n0 + st.n_out]
        h = naive.act(z, lay.act_codes[l])
        n0 += st.n_out
    assert n0 == lay.n_neurons
    np.testing.assert_allclose(kernel_forward(lay, theta, np_, codes.NODE_PERT, x), h, rtol=1e-12)


def test_node_outer_with_exact_node_gradients_is_the_exact_weight_gradient():
    """The local one-step backprop: dC/dW = sum over positions of dC/dz x presynaptic activity,
    shared conv weights included; fed the exact node gradients it gives the exact gradient."""
    rng = np.random.default_rng(3)
    lay = small_layout("tanh")
    theta = rng.normal(scale=0.5, size=lay.n_params)
    x = rng.normal(size=lay.sizes[0])
    t = np.eye(3)[1]
    g = net.gradient(lay, theta, x, t, "mse")
    # dC/dz of every node by finite differences on a node perturbation.
    eps = 1e-6
    pert = np.zeros(lay.n_neurons)
    node_grad = np.empty(lay.n_neurons)
    for n in range(lay.n_neurons):
        pert[n] = eps
        up = naive.cost(kernel_forward(lay, theta, pert, codes.NODE_PERT, x), t, 0)
        pert[n] = -eps
        down = naive.cost(kernel_forward(lay, theta, pert, codes.NODE_PERT, x), t, 0)
        pert[n] = 0.0
        node_grad[n] = (up - down) / (2 * eps)
    h = np.zeros((lay.n_layers + 1, int(lay.sizes_arr.max())))
    FK.forward(network_of(lay), theta, pert, codes.NO_PERT, x, h)
    out = np.zeros(lay.n_params)
    FK.node_outer(network_of(lay), out, node_grad, 1.0, h, 0, lay.n_layers, weights=True, biases=True)
    np.testing.assert_allclose(out, g, rtol=1e-5, atol=1e-9)


def test_the_papers_cnns_have_their_parameter_counts():
    fashion = NetworkLayout((
        c1 := conv((1, 28, 28), 16, 3, "relu"), p1 := maxpool(c1.out_shape, 2),
        c2 := conv(p1.out_shape, 32, 3, "relu"), p2 := maxpool(c2.out_shape, 2),
        c3 := conv(p2.out_shape, 32, 3, "relu"), p3 := maxpool(c3.out_shape, 2),
        dense(p3.n_out, 10, "linear")))
    assert [s.out_shape[1] for s in fashion.stages[:-1]] == [26, 13, 11, 5, 3, 1]
    assert fashion.n_params == 14_378
    cifar = NetworkLayout((
        c1 := conv((3, 32, 32), 16, 3, "relu"), p1 := maxpool(c1.out_shape, 2),
        c2 := conv(p1.out_shape, 32, 3, "relu"), p2 := maxpool(c2.out_shape, 2),
        c3 := conv(p2.out_shape, 64, 3, "relu"), p3 := maxpool(c3.out_shape, 2),
        dense(p3.n_out, 10, "linear")))
    assert p3.n_out == 256
    assert cifar.n_params == 26_154
    # Node perturbation perturbs every conv and dense output: more nodes than weights here.
    assert fashion.n_neurons == 16 * 26 * 26 + 32 * 11 * 11 + 32 * 3 * 3 + 10 > fashion.n_params


def digits_cnn_spec(**firmware):
    return make_spec(dataset={"name": "digits"}, network={"layers": SMALL_CNN, "activation": "tanh"},
                     **firmware)


@pytest.mark.parametrize("path", [None, "reference"], ids=["chosen", "reference"])
@pytest.mark.parametrize("target", ["weights", "nodes"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
def test_cnn_mgd_kernel_matches_numpy_twin(target, mode, path):
    spec = digits_cnn_spec(perturbation={"scheme": "cdma", "amplitude": 0.05, "target": target},
                           mode=mode, tau_p=2, tau_x=3, tau_theta=5, eta=0.2)
    sim = Simulation(spec, seed=3, max_cycles=10**9, force_path=path)
    if path is None and (target, mode) == ("nodes", "discrete"):
        assert sim.path.name == "node_fold"
    assert sim.layout.n_params == (3 * 9 + 3) + (4 * 12 + 4) + (16 * 10 + 10)
    theta, g, _, _ = naive.mgd_steps_chip(sim, 60)
    sim.advance(60)
    np.testing.assert_allclose(sim.theta, theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sim.integrated_gradient(), g, rtol=1e-9, atol=1e-12)


def test_cnn_chip_path_matches_numpy_twin():
    """DACs, ADCs, row tiles smaller than a conv kernel's fan-in, read noise per partial sum
    (each position a separate read) and neuron variation, on a CNN."""
    chip = {"array": {"rows": 5, "dac_bits": 6, "adc_bits": 8, "adc_range": 4.0},
            "neurons": {"activation_variation": 0.05},
            "device": {"read_noise": {"additive": 0.01, "proportional": 0.02}}}
    spec = make_spec(dataset={"name": "digits"}, network={"layers": SMALL_CNN, "activation": "tanh"},
                     chip=chip, perturbation={"scheme": "cdma", "amplitude": 0.05}, tau_p=1, tau_x=2,
                     tau_theta=4, eta=0.1)
    sim = Simulation(spec, seed=5, max_cycles=10**9)
    theta, g, _, _ = naive.mgd_steps_chip(sim, 40)
    sim.advance(40)
    np.testing.assert_allclose(sim.theta, theta, rtol=1e-9, atol=1e-12)
    # The observer's batched chip pass equals the per-sample twin without read noise.
    y = sim.periphery.forward_batch(sim.theta, sim.data.x_test[:5])
    for i in range(5):
        np.testing.assert_allclose(y[i], naive.forward_chip(sim, sim.theta, sim.data.x_test[i]), rtol=1e-12)


@pytest.mark.parametrize("activity", ["faithful", "idealised"])
def test_cnn_node_perturbation_walsh_full_period_gives_the_gradient(activity):
    """Node perturbation on a CNN (conv nodes included), Walsh codes, one full code period on
    a fixed sample: the integrated estimate is the exact gradient, scaled by T/K."""
    spec = digits_cnn_spec(perturbation={"scheme": "walsh", "amplitude": 1e-6, "target": "nodes",
                                         "node_activity": activity},
                           tau_p=1, tau_x=10**6, tau_theta=10**6)
    sim = Simulation(spec, seed=0, max_cycles=10**12)
    assert sim.n_perturbed == sim.layout.n_neurons == 3 * 36 + 4 * 4 + 10
    probe = probe_gradient(spec, steps=sim.generator.period, seed=0)
    assert probe.cosine > 0.99
    np.testing.assert_allclose(probe.estimate, probe.expected_scale * probe.true, rtol=5e-3,
                               atol=1e-5 * np.abs(probe.true).max())


def test_conv_latency_scales_with_positions():
    from hwsim.chip.energy import energy_breakdown
    from hwsim.chip.timing import inference_timing

    spec = digits_cnn_spec()
    chip = spec.chip.model_copy(update={"array": spec.chip.array.model_copy(update={"tile_latency": 10})})
    lay = scenario_layout(spec.scenario)
    t = inference_timing(chip, lay)
    # conv1: 36 positions, conv2: 4 positions, dense: 1; stages pipelined.
    assert (t.latency, t.interval) == (10 * (36 + 4 + 1), 10 * 36)
    counts = {"step": 1, "baselines": 0, "pert_updates": 0, "writes": 0}
    e = energy_breakdown(chip.model_copy(update={"energy": chip.energy.model_copy(update={"mvm": 1.0})}),
                         lay, counts, 0)
    assert e["mvm"] == 36 + 4 + 1
