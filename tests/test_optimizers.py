"""Optimisers and schedules at update time (hwsim.kernels.optim, hwsim.firmware.optimizers)
against their numpy twins (tests/naive_optim.py), closed forms and scikit-learn's optimisers."""

import math
import pickle

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

import naive_optim
from hwsim.firmware.optimizers import OptimizerState, optimizer_params, schedule_params, schedule_value
from hwsim.spec.models import OptimizerSpec, ScheduleSpec
from hwsim.kernels import optim as KO
from hwsim.kernels import codes

KINDS = ("sgd", "momentum", "nesterov", "adam")
HYPER = [dict(beta=0.9, beta2=0.999, eps=1e-8),
         dict(beta=0.5, beta2=0.9, eps=1e-6),
         dict(beta=0.99, beta2=0.99999, eps=1e-3),
         dict(beta=0.0, beta2=0.0, eps=1e-8)]


def gradient_sequence(seed, n_steps=50, p=9):
    rng = np.random.default_rng(seed)
    # mixed scales, some exact zeros, a sign-flipping component
    g = rng.normal(size=(n_steps, p)) * np.logspace(-3, 2, p)
    g[:, 0] = 0.0
    g[::3, 1] = 0.0
    return g


def kernel_run(kind, grads, lrs, beta, beta2, eps):
    """Deltas and final state from apply_optimizer, one call per update."""
    state = np.zeros((KO.N_STATE, grads.shape[1]))
    out = np.empty(grads.shape[1])
    deltas = []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        KO.apply_optimizer(codes.OPTIMIZERS[kind], g, state, t, lr, beta, beta2, eps, out)
        deltas.append(out.copy())
    return np.array(deltas), state


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("h", range(len(HYPER)))
def test_kernel_equals_numpy_twin_step_for_step(kind, h):
    hyper = HYPER[h]
    grads = gradient_sequence(h)
    lrs = 0.05 * (1.0 + np.sin(np.arange(grads.shape[0])))  # a changing learning rate
    fast, state = kernel_run(kind, grads, lrs, **hyper)
    twin = naive_optim.NaiveOptimizer(kind, grads.shape[1], **hyper)
    for n, (g, lr) in enumerate(zip(grads, lrs)):
        np.testing.assert_allclose(fast[n], twin.step(g, lr), rtol=1e-12, atol=1e-300,
                                   err_msg=f"{kind} step {n}")
    np.testing.assert_allclose(state, twin.state(), rtol=1e-12, atol=1e-300)
    assert np.isfinite(fast).all()


@pytest.mark.parametrize("kind", KINDS)
def test_scalar_core_equals_array_loop_bit_for_bit(kind):
    grads = gradient_sequence(7, n_steps=20)
    b1, b2, eps = 0.8, 0.95, 1e-7
    fast, state = kernel_run(kind, grads, np.full(20, 0.03), b1, b2, eps)
    s1 = np.zeros(grads.shape[1])
    s2 = np.zeros(grads.shape[1])
    for n, g in enumerate(grads):
        for i in range(grads.shape[1]):
            d, s1[i], s2[i] = KO.optimizer_step(codes.OPTIMIZERS[kind], g[i], s1[i], s2[i], n + 1, 0.03,
                                                b1, b2, eps)
            assert d == fast[n, i]
    np.testing.assert_array_equal(state, np.stack([s1, s2]))


@pytest.mark.parametrize("kind", ["momentum", "nesterov"])
def test_momentum_with_beta_zero_is_plain_sgd_exactly(kind):
    grads = gradient_sequence(3)
    lrs = np.linspace(0.2, 0.01, grads.shape[0])
    sgd, _ = kernel_run("sgd", grads, lrs, 0.0, 0.999, 1e-8)
    mom, _ = kernel_run(kind, grads, lrs, 0.0, 0.999, 1e-8)
    np.testing.assert_array_equal(mom, sgd)
    np.testing.assert_array_equal(sgd, -lrs[:, None] * grads)
    # and through the Python state object
    st = OptimizerState(grads.shape[1])
    cfg = OptimizerSpec(kind=kind, beta=0.0)
    np.testing.assert_array_equal(np.array([st.step(g, lr, cfg) for g, lr in zip(grads, lrs)]), sgd)


def test_momentum_does_change_the_path():
    grads = gradient_sequence(4)
    sgd, _ = kernel_run("sgd", grads, np.full(50, 0.1), 0.9, 0.999, 1e-8)
    mom, _ = kernel_run("momentum", grads, np.full(50, 0.1), 0.9, 0.999, 1e-8)
    nes, _ = kernel_run("nesterov", grads, np.full(50, 0.1), 0.9, 0.999, 1e-8)
    np.testing.assert_array_equal(mom[0], sgd[0])          # v1 = g1
    np.testing.assert_allclose(nes[0], 1.9 * sgd[0])        # g1 + beta g1
    assert not np.allclose(mom[1:], sgd[1:]) and not np.allclose(nes[1:], mom[1:])


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_closed_forms_for_a_constant_gradient(beta):
    n, lr = 40, 0.1
    g = np.array([1.0, -2.0, 0.5, 3e-3, -7.0])
    grads = np.tile(g, (n, 1))
    t = np.arange(1, n + 1)[:, None]
    v = g * (1.0 - beta ** t) / (1.0 - beta)          # geometric sum of the heavy ball
    mom, _ = kernel_run("momentum", grads, np.full(n, lr), beta, 0.999, 1e-8)
    np.testing.assert_allclose(mom, -lr * v, rtol=1e-12)
    nes, _ = kernel_run("nesterov", grads, np.full(n, lr), beta, 0.999, 1e-8)
    np.testing.assert_allclose(nes, -lr * (g + beta * v), rtol=1e-12)
    # Adam: bias correction makes m^ = g and v^ = g^2 at every t
    eps = 1e-8
    adam, _ = kernel_run("adam", grads, np.full(n, lr), beta, 0.999, eps)
    np.testing.assert_allclose(adam, np.tile(-lr * g / (np.abs(g) + eps), (n, 1)), rtol=1e-10)


def test_adam_is_invariant_to_gradient_scale():
    grads = gradient_sequence(5)
    a, _ = kernel_run("adam", grads, np.full(50, 0.01), 0.9, 0.999, 1e-300)
    b, _ = kernel_run("adam", 1e4 * grads, np.full(50, 0.01), 0.9, 0.999, 1e-300)
    nz = grads[:, 0] == 0.0
    assert nz.all()  # column 0 is all zeros: its Adam step is exactly 0
    np.testing.assert_array_equal(a[:, 0], 0.0)
    np.testing.assert_allclose(a[:, 1:], b[:, 1:], rtol=1e-12)
    assert np.all(np.abs(a) <= 0.01 * (1 - 0.9) / math.sqrt(1 - 0.999) + 1e-12)  # Adam's step bound


@pytest.mark.parametrize("kind,nesterov", [("momentum", False), ("nesterov", True)])
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_momentum_and_nesterov_equal_sklearn_sgd_optimizer(kind, nesterov, beta):
    """scikit-learn writes momentum as u = beta u - lr g (Sutskever); with a constant rate it is
    the same path as PyTorch's v = beta v + g, step -lr v (u = -lr v)."""
    grads = gradient_sequence(11)
    lr = 0.07
    ours, _ = kernel_run(kind, grads, np.full(50, lr), beta, 0.999, 1e-8)
    params = [np.zeros(grads.shape[1])]
    sk = SGDOptimizer(params, learning_rate_init=lr, lr_schedule="constant", momentum=beta,
                      nesterov=nesterov)
    theta = np.zeros(grads.shape[1])
    for n, g in enumerate(grads):
        before = params[0].copy()
        sk.update_params(params, [g.copy()])
        theta += ours[n]
        np.testing.assert_allclose(params[0] - before, ours[n], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(params[0], theta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("b1,b2", [(0.9, 0.999), (0.5, 0.9)])
def test_adam_equals_sklearn_adam_optimizer(b1, b2):
    """scikit-learn folds the bias corrections into the rate (eps on the uncorrected sqrt(v));
    with a negligible eps the two forms are the same update."""
    grads = gradient_sequence(12)[:, 1:]  # no all-zero column (0/0 with eps ~ 0)
    lr, eps = 0.01, 1e-15
    ours, _ = kernel_run("adam", grads, np.full(50, lr), b1, b2, eps)
    params = [np.zeros(grads.shape[1])]
    sk = AdamOptimizer(params, learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    for n, g in enumerate(grads):
        before = params[0].copy()
        sk.update_params(params, [g.copy()])
        np.testing.assert_allclose(params[0] - before, ours[n], rtol=1e-8, atol=1e-14)


def test_kernel_rejects_bad_kind_and_adam_t_zero():
    with pytest.raises(ValueError):
        KO.optimizer_step(codes.ADAM, 1.0, 0.0, 0.0, 0, 0.1, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError):
        KO.optimizer_step(9, 1.0, 0.0, 0.0, 1, 0.1, 0.9, 0.999, 1e-8)
    with pytest.raises(ValueError):
        KO.schedule_value(9, 1.0, 0, 10, 0.0, 0.0)
    with pytest.raises(ValueError):
        KO.schedule_value(KO.COSINE, 1.0, 0, 0, 0.0, 0.0)


# ----------------------------------------------------------------------------- schedules

def sched(kind, base, t, total=0.0, **kw):
    spec = ScheduleSpec(kind=kind, horizon=total if kind == "cosine" else None, **kw)
    code, total, p1, p2 = schedule_params(spec)
    return KO.schedule_value(code, base, t, total, p1, p2)


def test_schedules_against_closed_form_values():
    for t in (0, 1, 17, 10**6, 2.5):
        assert sched("constant", 0.37, t) == 0.37
    step = dict(step_size=10, gamma=0.5)
    for t, want in [(0, 0.2), (9, 0.2), (9.99, 0.2), (10, 0.1), (19.5, 0.1), (20, 0.05), (35, 0.025)]:
        assert sched("step", 0.2, t, **step) == pytest.approx(want, rel=1e-15), t
    cos = dict(min_fraction=0.1)
    for t, want in [(0, 1.0), (25, 0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2), (50, 0.55),
                    (100, 0.1), (150, 0.1), (10**9, 0.1)]:
        assert sched("cosine", 1.0, t, total=100, **cos) == pytest.approx(want, rel=1e-14), t
    assert sched("cosine", 2.0, 100, total=100) == pytest.approx(0.0, abs=1e-15)
    assert sched("cosine", 2.0, 0, total=100) == 2.0
    for t, want in [(0, 0.3), (2, 0.15), (6, 0.075), (0.5, 0.24)]:
        assert sched("inverse_time", 0.3, t, decay=0.5) == pytest.approx(want, rel=1e-15), t
    assert sched("inverse_time", 0.3, 1000, decay=0.0) == 0.3


@pytest.mark.parametrize("kind,total,kw", [
    ("constant", 0.0, {}),
    ("step", 0.0, dict(step_size=7, gamma=0.3)),
    ("step", 0.0, dict(step_size=2.5, gamma=1.5)),
    ("cosine", 333.0, dict(min_fraction=0.0)),
    ("cosine", 50.0, dict(min_fraction=0.25)),
    ("inverse_time", 0.0, dict(decay=0.01)),
])
def test_schedule_kernel_equals_numpy_twin(kind, total, kw):
    ts = np.concatenate([np.arange(0, 400), [0.5, 3.25, 1e3]])
    fast = np.array([sched(kind, 0.8, float(t), total, **kw) for t in ts])
    fast_int = np.array([sched(kind, 0.8, int(t), total, **kw) for t in ts[:400]])
    twin = naive_optim.schedule(kind, 0.8, ts, total=total, **kw)
    np.testing.assert_allclose(fast, twin, rtol=1e-13)
    np.testing.assert_array_equal(fast_int, fast[:400])
    assert np.all(np.diff(fast[:400]) <= 0) or np.all(np.diff(fast[:400]) >= 0)  # monotone
    assert schedule_value(ScheduleSpec(kind=kind, **kw, horizon=total or None), 0.8, 5.0) == fast[5]


# ----------------------------------------------------------------------------- configs, state

def test_optimizer_params_from_the_spec():
    assert optimizer_params(OptimizerSpec()) == (codes.SGD, 0.9, 0.999, 1e-8)
    assert optimizer_params(OptimizerSpec(kind="adam", beta=0.8, beta2=0.99, eps=1e-6)) == (codes.ADAM, 0.8, 0.99, 1e-6)
    assert optimizer_params(OptimizerSpec(kind="nesterov"))[0] == 2
    assert optimizer_params(OptimizerSpec(kind="momentum"))[0] == 1
    # The spec is the one validation of these settings (no second, hand-written one).
    for bad in (dict(kind="rmsprop"), dict(beta=1.0), dict(beta=-0.1), dict(beta2=1.0),
                dict(eps=0.0), dict(eps=float("nan"))):
        with pytest.raises(ValueError):
            OptimizerSpec(**bad)


def test_schedule_params_from_the_spec():
    assert schedule_params(ScheduleSpec()) == (codes.CONSTANT, 0.0, 0.0, 0.0)
    assert schedule_params(ScheduleSpec(kind="step", step_size=5, gamma=0.5)) == (KO.STEP, 0.0, 5.0, 0.5)
    assert schedule_params(ScheduleSpec(kind="cosine", min_fraction=0.2, horizon=10)) == (KO.COSINE, 10.0, 0.2, 0.0)
    assert schedule_params(ScheduleSpec(kind="inverse_time", decay=0.3)) == (KO.INVERSE_TIME, 0.0, 0.3, 0.0)
    # A caller's horizon replaces the spec's (the backprop baseline's is its number of updates).
    assert schedule_params(ScheduleSpec(kind="cosine", horizon=10), total=7) == (KO.COSINE, 7.0, 0.0, 0.0)
    for bad in (dict(kind="linear"), dict(step_size=0), dict(gamma=0.0), dict(decay=-1.0),
                dict(min_fraction=1.5), dict(min_fraction=-0.1), dict(step_size=float("inf")),
                dict(kind="cosine")):  # no horizon
        with pytest.raises(ValueError):
            ScheduleSpec(**bad)


def test_optimizer_state_counts_updates_and_survives_pickle():
    grads = gradient_sequence(8, n_steps=30)
    cfg = OptimizerSpec(kind="adam", beta=0.85)
    whole = OptimizerState(grads.shape[1])
    ref = np.array([whole.step(g, 0.01, cfg) for g in grads])
    assert whole.t == 30
    part = OptimizerState(grads.shape[1])
    first = [part.step(g, 0.01, cfg) for g in grads[:13]]
    part = pickle.loads(pickle.dumps(part))
    rest = [part.step(g, 0.01, cfg) for g in grads[13:]]
    np.testing.assert_array_equal(np.array(first + rest), ref)
    np.testing.assert_array_equal(part.values, whole.values)
    part.reset()
    assert part.t == 0 and not part.values.any()
    with pytest.raises(ValueError):
        part.step(np.zeros(3), 0.1, cfg)
    with pytest.raises(ValueError):
        OptimizerState(4, values=np.zeros((2, 5)))
