"""The backprop baseline (hwsim.firmware.backprop): exact gradients, the chip's data order,
its optimisers and schedules, agreement with MGD's finite-difference limit, and accuracy on
scikit-learn's digits against scikit-learn's own MLPClassifier at the same settings."""

import math
import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

import naive
import naive_optim
from helpers import make_spec
from hwsim.data.datasets import Dataset, digits
from hwsim.engine.simulation import Simulation
from hwsim.seeds import Stream, stream_key
from hwsim.firmware.backprop import SampleOrder, loss_and_gradient, train_backprop
from hwsim.spec.models import OptimizerSpec, ScheduleSpec
from hwsim.kernels.input_path import sample_for_step
from hwsim.kernels.state import new_counters
from hwsim.network import batch as net
from hwsim.network.layout import dense_layout


def small_problem(hidden_act, out_act, cost, n=5, seed=0):
    rng = np.random.default_rng(seed)
    layout = dense_layout((4, 6, 5, 3), (hidden_act, hidden_act, out_act))
    theta = layout.init(rng, "normal", 0, 0, 0.7)
    x = rng.normal(size=(n, 4))
    if cost == "cross_entropy":
        t = np.eye(3)[rng.integers(0, 3, size=n)]
    else:
        t = rng.uniform(-1, 1, size=(n, 3))
    return layout, theta, x, t


def preactivations(layout, theta, x):
    zs, h = [], x
    for l in range(layout.n_layers):
        w, b = layout.weights(theta, l)
        z = h @ w.T + b
        zs.append(z)
        h = net.activate(z, layout.activations[l])
    return zs


def mean_cost(layout, theta, x, t, cost):
    return float(np.mean(net.cost_batch(net.forward_batch(layout, theta, x), t, cost)))


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost,out", [("mse", "same"), ("mse", "linear"), ("cross_entropy", "linear")])
def test_gradient_equals_central_finite_differences(act, cost, out):
    layout, theta, x, t = small_problem(act, act if out == "same" else out, cost)
    if act == "relu":  # keep every unit away from the kink so the difference quotient is exact
        assert min(np.abs(z).min() for z in preactivations(layout, theta, x)) > 1e-4
    c, g = loss_and_gradient(layout, theta, x, t, cost)
    assert c == pytest.approx(mean_cost(layout, theta, x, t, cost), rel=1e-13)
    h = 1e-6
    fd = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        fd[i] = (mean_cost(layout, theta + e, x, t, cost) - mean_cost(layout, theta - e, x, t, cost)) / (2 * h)
    assert np.abs(g).max() > 1e-3
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8 * np.abs(g).max())


def test_cross_entropy_needs_a_linear_output():
    layout, theta, x, t = small_problem("tanh", "sigmoid", "cross_entropy")
    with pytest.raises(ValueError):
        loss_and_gradient(layout, theta, x, t, "cross_entropy")


@pytest.mark.parametrize("n_train", [1, 7, 64])
def test_sample_order_is_the_chips(n_train):
    seed = stream_key(5, Stream.ORDER)
    count = 3 * n_train + 5
    counters = new_counters()
    order = np.zeros(n_train, dtype=np.int64)
    chip = [sample_for_step(n, 1, n_train, seed, order, counters[0]) for n in range(count)]
    so = SampleOrder(seed, n_train)
    np.testing.assert_array_equal(so.indices(0, count), chip)
    for start, length in [(0, 1), (n_train - 1, 3), (2 * n_train + 1, 4), (1, count - 1)]:
        np.testing.assert_array_equal(so.indices(start, length), chip[start:start + length])
    # every epoch is a permutation
    for e in range(3):
        assert sorted(so.indices(e * n_train, n_train)) == list(range(n_train))


def teacher_data(n_train=10, n_test=6, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_train + n_test, 4))
    y = np.tanh(x @ rng.normal(size=(4, 2)))
    return Dataset("teacher", x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes=0)


def manual_training(layout, theta0, data, cost, n_updates, batch, seed, lr_of, step_fn):
    """Reference loop from the definitions: sample s is perm(seed, s // N)[s % N]."""
    n = data.x_train.shape[0]
    theta = theta0.copy()
    for k in range(n_updates):
        idx = [naive.permutation(seed, s // n, n)[s % n] for s in range(k * batch, (k + 1) * batch)]
        g = net.gradient(layout, theta, data.x_train[idx], data.y_train[idx], cost)
        theta = theta + step_fn(g, lr_of(k))
    return theta


def test_plain_sgd_matches_the_definition_across_epoch_boundaries():
    data = teacher_data()
    layout = dense_layout((4, 5, 2), ("tanh", "linear"))
    theta0 = layout.init(np.random.default_rng(0), "uniform", -0.5, 0.5, 0.0)
    seed = stream_key(9, Stream.ORDER)
    # 10 samples, batches of 4: batches 2, 4, 7 straddle epochs; 31 samples -> 7 updates
    theta, rows = train_backprop(layout, theta0, data, "mse", 31, 0.2, batch=4, order_seed=seed,
                                 accuracy_fn="r2")
    ref = manual_training(layout, theta0, data, "mse", 7, 4, seed, lambda k: 0.2, lambda g, lr: -lr * g)
    np.testing.assert_allclose(theta, ref, rtol=1e-12, atol=1e-14)
    assert [r.samples_seen for r in rows] == [0, 28] and [r.updates for r in rows] == [0, 7]
    np.testing.assert_array_equal(theta0, layout.init(np.random.default_rng(0), "uniform", -0.5, 0.5, 0.0))


@pytest.mark.parametrize("kind", ["momentum", "nesterov", "adam"])
@pytest.mark.parametrize("sched", [ScheduleSpec(kind="step", step_size=3, gamma=0.5),
                                   ScheduleSpec(kind="cosine", min_fraction=0.1, horizon=1000),
                                   ScheduleSpec(kind="inverse_time", decay=0.2)])
def test_optimisers_and_schedules_match_the_numpy_twins(kind, sched):
    data = teacher_data()
    layout = dense_layout((4, 5, 2), ("sigmoid", "linear"))
    theta0 = layout.init(np.random.default_rng(1), "normal", 0, 0, 0.5)
    seed = stream_key(2, Stream.ORDER)
    opt = OptimizerSpec(kind=kind, beta=0.8, beta2=0.99, eps=1e-8)
    n_updates, batch, lr = 12, 3, 0.05
    theta, _ = train_backprop(layout, theta0, data, "mse", n_updates * batch, lr, batch=batch,
                              optimizer=opt, schedule=sched, order_seed=seed, accuracy_fn="r2")
    twin = naive_optim.NaiveOptimizer(kind, layout.n_params, beta=0.8, beta2=0.99, eps=1e-8)
    lrs = naive_optim.schedule(sched.kind, lr, np.arange(n_updates), total=n_updates,
                               step_size=sched.step_size, gamma=sched.gamma, decay=sched.decay,
                               min_fraction=sched.min_fraction)
    ref = manual_training(layout, theta0, data, "mse", n_updates, batch, seed, lambda k: lrs[k], twin.step)
    np.testing.assert_allclose(theta, ref, rtol=1e-10, atol=1e-12)
    plain, _ = train_backprop(layout, theta0, data, "mse", n_updates * batch, lr, batch=batch,
                              order_seed=seed, accuracy_fn="r2")
    assert not np.allclose(plain, theta)


def test_curve_rows():
    data = teacher_data(n_train=40, n_test=20)
    layout = dense_layout((4, 8, 2), ("tanh", "linear"))
    theta0 = layout.init(np.random.default_rng(4), "glorot_uniform", 0, 0, 0)
    theta, rows = train_backprop(layout, theta0, data, "mse", 1000, 0.1, batch=3, order_seed=1,
                                 eval_every=100, accuracy_fn="r2")
    seen = [r.samples_seen for r in rows]
    # first update boundary at or past each multiple of 100 samples, then the end (333 updates)
    assert seen == [0, 102, 201, 300, 402, 501, 600, 702, 801, 900, 999]
    assert [r.updates for r in rows] == [s // 3 for s in seen]
    assert math.isnan(rows[0].train_cost) and all(math.isfinite(r.train_cost) for r in rows[1:])
    assert rows[-1].test_cost < 0.5 * rows[0].test_cost
    assert rows[-1].test_accuracy > rows[0].test_accuracy
    y = net.forward_batch(layout, theta, data.x_test)
    assert rows[-1].test_cost == pytest.approx(float(np.mean(net.cost_batch(y, data.y_test, "mse"))))
    # a custom accuracy function is used as given
    _, rows2 = train_backprop(layout, theta0, data, "mse", 30, 0.1, batch=3, order_seed=1,
                              accuracy_fn=lambda y, t: 0.25)
    assert [r.test_accuracy for r in rows2] == [0.25, 0.25]


def test_divergence_stops_training():
    data = teacher_data()
    layout = dense_layout((4, 5, 2), ("relu", "linear"))
    theta0 = layout.init(np.random.default_rng(0), "uniform", -1, 1, 0.0)
    with np.errstate(all="ignore"):
        theta, rows = train_backprop(layout, theta0, data, "mse", 10**6, 1e6, order_seed=0,
                                     eval_every=10**5, accuracy_fn="r2")
    assert not np.isfinite(theta).all() or not math.isfinite(rows[-1].train_cost)
    assert rows[-1].samples_seen < 10**5


def test_mgd_finite_differences_follow_the_backprop_baseline():
    """tdma with tau_theta = tau_x = P and a tiny amplitude is forward finite differences:
    one exact-gradient SGD step per sample. From the chip's own initial weights and data order,
    the baseline with batch 1 takes the same path."""
    amp, eta, n_updates, seed = 1e-6, 0.3, 6, 4
    spec0 = make_spec(network={"hidden": [3], "activation": "tanh"})
    p = Simulation(spec0, seed=seed).layout.n_params
    spec = make_spec(network={"hidden": [3], "activation": "tanh"},
                     perturbation={"scheme": "tdma", "amplitude": amp}, tau_p=1, tau_x=p,
                     tau_theta=p, eta=eta)
    sim = Simulation(spec, seed=seed, max_cycles=10**12)
    theta0 = sim.theta.copy()
    assert sim.advance(n_updates * p) == n_updates * p
    theta, _ = train_backprop(sim.layout, theta0, sim.data, "mse", n_updates, eta, batch=1,
                              order_seed=stream_key(seed, Stream.ORDER), accuracy_fn="r2")
    moved = np.abs(theta - theta0).max()
    assert moved > 1e-2
    np.testing.assert_allclose(sim.theta, theta, rtol=0, atol=1e-5 * moved)
    # the data order matters: another order stream gives another path
    other, _ = train_backprop(sim.layout, theta0, sim.data, "mse", n_updates, eta, batch=1,
                              order_seed=stream_key(seed, 5), accuracy_fn="r2")
    assert np.abs(other - sim.theta).max() > 100 * np.abs(theta - sim.theta).max()


def test_digits_accuracy_matches_sklearn_mlpclassifier():
    """Same settings on both sides: 64-32-10, tanh hidden, linear output + softmax cross-entropy
    (sklearn's multiclass output), Glorot-uniform weights, plain SGD with a constant rate, batch
    16, no momentum, no L2, 20 epochs. The two differ only in random streams (init draws,
    sklearn's bias init, shuffling, last partial batch per epoch), so compare the mean test
    accuracy over three seeds."""
    hidden, lr, batch, epochs = 32, 0.05, 16, 20
    ours, theirs = [], []
    for seed in range(3):
        data = digits(0.2, np.random.default_rng(seed))
        layout = dense_layout((64, hidden, 10), ("tanh", "linear"))
        theta0 = layout.init(np.random.default_rng(100 + seed), "glorot_uniform", 0, 0, 0)
        n_train = data.x_train.shape[0]
        _, rows = train_backprop(layout, theta0, data, "cross_entropy", epochs * n_train, lr,
                                 batch=batch, order_seed=stream_key(seed, Stream.ORDER), accuracy_fn="argmax")
        ours.append(rows[-1].test_accuracy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
            clf = MLPClassifier((hidden,), activation="tanh", solver="sgd", alpha=0.0,
                                batch_size=batch, learning_rate="constant", learning_rate_init=lr,
                                momentum=0.0, nesterovs_momentum=False, max_iter=epochs,
                                shuffle=True, random_state=seed, tol=0.0,
                                n_iter_no_change=epochs + 1, early_stopping=False)
            clf.fit(data.x_train, data.y_train.argmax(axis=1))
        theirs.append(clf.score(data.x_test, data.y_test.argmax(axis=1)))
    assert min(ours) > 0.9 and min(theirs) > 0.9
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.02, (ours, theirs)


def test_a_diverging_baseline_run_exits_3_with_a_divergence_block_and_no_numpy_warnings(tmp_path, capsys):
    import json

    from helpers import tiny_scenario
    from hwsim.cli import main

    scen = tmp_path / "bp.yaml"
    scen.write_text(tiny_scenario(eta=1e200, cost="mse", every_steps=100, max_cycles=4000)
                    .replace("firmware: mgd_discrete", "firmware: backprop_sgd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["run", str(scen), "--out", str(tmp_path / "r"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 3
    assert [str(w.message) for w in caught] == [] and "Warning" not in captured.err, captured.err
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["status"] == "diverged"
    d = s["divergence"]
    assert {"step", "cycle", "seconds", "quantity", "non_finite", "hint", "update", "samples_seen"} == set(d)
    assert d["quantity"] == d["non_finite"][0] == "weights" and d["samples_seen"] == s["samples_seen"]
    assert "firmware.eta" in d["hint"] and "1e+200" in d["hint"]
    assert "diverged at update" in captured.out and "firmware.eta" in captured.out
