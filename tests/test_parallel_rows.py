"""The sign path split by rows over the cores (hwsim.kernels.parallel_rows): each routine against
its numpy twin, and whole runs that do not depend on how many chunks the rows are split into
or how many threads run them."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import make_spec
from hwsim.chip.perturbation import PerturbationGenerator
from hwsim.engine.simulation import Simulation
from hwsim.kernels.perturb import fill_signs, fill_signs_range
from hwsim.kernels.parallel_rows import (MIN_PARALLEL_WEIGHTS, first_product, flush_rows, integrate, sign_forward,
                                         step_work)
from hwsim.kernels.state import network_of
from hwsim.network.layout import dense_layout


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(0, 400), span=st.integers(0, 300), k=st.integers(0, 10**6))
def test_fill_signs_range_writes_its_range_and_nothing_else(lo, span, k):
    seed = np.uint64(987654321)
    whole = np.zeros(768, dtype=np.int8)
    fill_signs(k, seed, whole)
    hi = min(lo + span, 768)
    out = np.full(768, 7, dtype=np.int8)
    fill_signs_range(k, seed, out, lo, hi)
    np.testing.assert_array_equal(out[lo:hi], whole[lo:hi])
    assert (out[:lo] == 7).all() and (out[hi:] == 7).all()


def test_byte_table_signs_are_the_generators_signs():
    gen = PerturbationGenerator("cdma", 200, 0.3, seed=5)
    signs = np.zeros(256, dtype=np.int8)
    fill_signs(3, np.uint64(gen.stream), signs)
    np.testing.assert_array_equal(signs[:200], np.sign(gen.vector(3)).astype(np.int8))


def _network(sizes, rng):
    lay = dense_layout(list(sizes), ["relu"] * (len(sizes) - 2) + ["linear"])
    theta = rng.normal(0.0, 0.3, lay.n_params)
    return lay, theta


def _numpy_pass(lay, theta, x, pert):
    """The forward pass of theta + pert (numpy): activities per layer."""
    h = [x]
    for l in range(lay.n_layers):
        n_in, n_out = lay.sizes[l], lay.sizes[l + 1]
        w = (theta + pert)[lay.w_off[l]:lay.w_off[l] + n_in * n_out].reshape(n_out, n_in)
        b = (theta + pert)[lay.b_off[l]:lay.b_off[l] + n_out]
        z = w @ h[-1] + b
        h.append(np.maximum(z, 0.0) if l < lay.n_layers - 1 else z)
    return h


@pytest.mark.parametrize("chunks", [1, 2, 3, 5])
@pytest.mark.parametrize("sizes", [(20, 13, 4), (9, 130, 130, 3)])
def test_sign_forward_equals_its_numpy_twin(chunks, sizes):
    """Perturbed and unperturbed passes from the first layer's product, the deferred
    integration (G + v s_old, exactly) and the new signs, against numpy."""
    rng = np.random.default_rng(1)
    lay, theta = _network(sizes, rng)
    p = lay.n_params
    seed, amp, v = np.uint64(424242), 0.05, 0.37
    width = max(sizes)
    h = np.zeros((len(sizes), width))
    hb = np.zeros_like(h)
    z1 = np.zeros(sizes[1])
    psign = np.zeros(-(-p // 64) * 64, dtype=np.int8)
    fill_signs(4, seed, psign)
    old = psign[:p].astype(float)
    g = rng.normal(size=p)
    g_before = g.copy()
    x = rng.normal(size=sizes[0])
    w1 = theta[:sizes[0] * sizes[1]].reshape(sizes[1], sizes[0])
    z1[:] = w1 @ x + theta[lay.b_off[0]:lay.b_off[0] + sizes[1]]
    net = network_of(lay)
    sign_forward(net, chunks, step_work(True, v, True, 5, seed), theta, g, psign, amp, x, h, hb, z1, base=True)
    np.testing.assert_array_equal(g, g_before + v * old)
    new = np.zeros_like(psign)
    fill_signs(5, seed, new)
    np.testing.assert_array_equal(psign[:p], new[:p])   # the padding is never read
    base = _numpy_pass(lay, theta, x, np.zeros(p))
    pert = _numpy_pass(lay, theta, x, amp * psign[:p].astype(float))
    for l in range(1, len(sizes)):
        np.testing.assert_allclose(hb[l, :sizes[l]], base[l], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h[l, :sizes[l]], pert[l], rtol=1e-12, atol=1e-12)
    # Without the unperturbed pass (base False): the same perturbed pass.
    h2 = np.zeros_like(h)
    sign_forward(net, chunks, step_work(False, 0.0, False, 5, seed), theta, g, psign, amp, x, h2, hb, z1,
                 base=False)
    np.testing.assert_array_equal(h2, h)
    g_now = g.copy()
    integrate(net, chunks, theta, g, psign, -1.5, 0.0, descend=False)
    np.testing.assert_array_equal(g, g_now - 1.5 * psign[:p])
    # The update in the same pass: theta -= eta (G + v s), G = 0.
    g_now, theta_now = g.copy(), theta.copy()
    integrate(net, chunks, theta, g, psign, 0.25, 0.1, descend=True)
    np.testing.assert_array_equal(theta, theta_now - 0.1 * (g_now + 0.25 * psign[:p]))
    assert not g.any()


@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_first_product_equals_its_numpy_twin_and_its_cache_a_fresh_product(chunks):
    """W_1 x + b_1 for a batch of samples in one pass; a cached row equals the product formed
    alone to the bit; another version of theta, or version -1, forms it again."""
    rng = np.random.default_rng(2)
    lay, theta = _network((30, 17, 4), rng)
    X = rng.normal(size=(40, 30))
    order = rng.permutation(40)
    w1 = theta[:30 * 17].reshape(17, 30)
    b1 = theta[lay.b_off[0]:lay.b_off[0] + 17]
    net = network_of(lay)
    zb, zmeta, zidx, z1 = np.zeros((6, 17)), np.full(3, -1, dtype=np.int64), np.zeros(6, dtype=np.int64), np.zeros(17)
    first_product(net, chunks, theta, X, order, 70, 77, 5, zb, zmeta, zidx, z1)   # 6 of the 7 (zb's rows)
    assert list(zmeta) == [5, 70, 6]
    for s in range(70, 76):
        alone = np.zeros(17)
        first_product(net, 1, theta, X, order, s, s + 1, -1, np.zeros((1, 17)), np.full(3, -1, dtype=np.int64),
                      np.zeros(1, dtype=np.int64), alone)
        first_product(net, chunks, theta, X, order, s, s + 1, 5, zb, zmeta, zidx, z1)
        assert list(zmeta) == [5, 70, 6]                       # served from the batch
        np.testing.assert_array_equal(z1, alone)
        np.testing.assert_allclose(z1, w1 @ X[order[s % 40]] + b1, rtol=1e-12, atol=1e-12)
    theta2 = theta * 1.5
    first_product(net, chunks, theta2, X, order, 80, 81, 6, zb, zmeta, zidx, z1)
    assert list(zmeta) == [6, 80, 1]
    np.testing.assert_allclose(z1, 1.5 * (w1 @ X[order[0]] + b1), rtol=1e-12, atol=1e-12)
    first_product(net, chunks, theta, X, order, 80, 81, -1, zb, zmeta, zidx, z1)
    np.testing.assert_allclose(z1, w1 @ X[order[0]] + b1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunks", [1, 2, 3])
def test_flush_rows_equals_its_numpy_twin(chunks):
    """The node-perturbation queue: G's first-stage rows gain sum_r v_ri x_r, term by term in
    queue order (the bits of one chunk equal the bits of another), and with the update fused,
    those rows descend and nothing else changes."""
    rng = np.random.default_rng(3)
    k1, n0, m = 11, 23, 5
    window = rng.normal(size=(7, k1 + n0))
    window[2, 4] = 0.0
    g = rng.normal(size=4 + k1 * n0 + 9)
    want = g.copy()
    rows = want[4:4 + k1 * n0].reshape(k1, n0)
    for r in range(m):
        rows += np.outer(window[r, :k1], window[r, k1:])
    one, theta = g.copy(), rng.normal(size=g.shape[0])
    # A dense first stage n0 -> k1 whose weights start at parameter 4 (the rows around it stay).
    lay = dense_layout([n0, k1], ["linear"])
    net = network_of(lay)._replace(w_off=lay.w_off + 4)
    flush_rows(net, 1, one, window, m, theta, 0.0, descend=False)
    g_before = g.copy()
    flush_rows(net, chunks, g, window, m, theta, 0.0, descend=False)
    np.testing.assert_array_equal(g, one)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
    # With the update of those rows in the same pass: theta -= eta G there, G = 0 there.
    g, t = g_before.copy(), theta.copy()
    flush_rows(net, chunks, g, window, m, t, 0.5, descend=True)
    rows = slice(4, 4 + k1 * n0)
    np.testing.assert_array_equal(t[rows], theta[rows] - 0.5 * one[rows])
    assert not g[rows].any()
    np.testing.assert_array_equal(t[:4], theta[:4])
    np.testing.assert_array_equal(g[rows.stop:], g_before[rows.stop:])



@pytest.mark.parametrize("m", range(9))
@pytest.mark.parametrize("chunks", [1, 2])
def test_flush_rows_adds_in_queue_order_to_the_bit(m, chunks):
    """However the queued samples are grouped in a pass (four at a time, the rest one by one),
    each integrator gains v_ri x_rj sample by sample in queue order, skipping zero node sums:
    the bits of a plain numpy loop that adds them one at a time."""
    rng = np.random.default_rng(10 + m)
    k1, n0 = 5, 13
    window = rng.normal(size=(8, k1 + n0))
    zeros = rng.random((8, k1)) < 0.3
    window[:, :k1][zeros] = 0.0                     # zero node sums: skipped, not added as 0 x
    window[1, k1:] = -0.0                           # a -0.0 input would show an added 0 x (-0.0)
    g = rng.normal(size=k1 * n0)
    g[:n0] = 0.0
    want = g.copy()
    for i in range(k1):
        for r in range(m):
            v = window[r, i]
            if v != 0.0:
                for j in range(n0):
                    want[i * n0 + j] = want[i * n0 + j] + v * window[r, k1 + j]
    net = network_of(dense_layout([n0, k1], ["linear"]))
    flush_rows(net, chunks, g, window, m, np.zeros_like(g), 0.0, descend=False)
    np.testing.assert_array_equal(g, want)
    assert np.array_equal(np.signbit(g), np.signbit(want))

def _sign_path_spec(hidden=(256, 70)):
    return make_spec(dataset={"name": "digits"}, network={"hidden": list(hidden), "activation": "relu"},
                     perturbation={"scheme": "cdma", "amplitude": 0.05}, tau_p=2, tau_x=3, tau_theta=7,
                     eta=0.05)


def test_the_spec_takes_the_parallel_regions():
    """The test network is large enough for both of its big stages to run in regions."""
    sim = Simulation(_sign_path_spec(), seed=0, max_cycles=10**9)
    sizes = sim.layout.sizes
    assert sizes[0] * sizes[1] >= MIN_PARALLEL_WEIGHTS and sizes[1] * sizes[2] >= MIN_PARALLEL_WEIGHTS


def test_sign_path_results_do_not_depend_on_the_chunks():
    """1, 2 and 3 chunks, blocks of 1, 6, 50 and 313 steps: the same weights, integrators and
    run state to the last bit, and the reference path's to rounding."""
    spec = _sign_path_spec()
    sims = []
    for chunks in (1, 2, 3):
        sim = Simulation(spec, seed=3, max_cycles=10**9)
        sim._chunks = chunks
        sims.append(sim)
    ref = Simulation(spec, seed=3, max_cycles=10**9, force_path="reference")
    assert ref.path.name == "reference"
    for block in (1, 6, 50, 313):
        for sim in sims + [ref]:
            sim.advance(block)
        for sim in sims[1:]:
            np.testing.assert_array_equal(sim.theta, sims[0].theta)
            np.testing.assert_array_equal(sim.g_int, sims[0].g_int)
            np.testing.assert_array_equal(sim.state.z1, sims[0].state.z1)
            np.testing.assert_array_equal(sim.state.counters, sims[0].state.counters)
            np.testing.assert_array_equal(sim.state.floats, sims[0].state.floats)
        np.testing.assert_allclose(sims[0].theta, ref.theta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sims[0].g_int, ref.g_int, rtol=1e-9, atol=1e-10)
        np.testing.assert_array_equal(sims[0].state.counters, ref.state.counters)
    assert sims[0].path.name == "sign" and (sims[0].state.psign != 0).any()     # the sign path ran
    assert sims[0].step == 370 and np.abs(sims[0].theta - Simulation(spec, seed=3).theta).max() > 0


def test_sign_path_results_do_not_depend_on_the_thread_count():
    """Fresh processes with NUMBA_NUM_THREADS = 1 and 2 (the default split: one chunk per
    thread): the same weights to the last bit."""
    script = textwrap.dedent("""
        import hashlib, sys
        sys.path.insert(0, sys.argv[1])
        from test_parallel_rows import _sign_path_spec
        from hwsim.engine.simulation import Simulation
        sim = Simulation(_sign_path_spec(), seed=7, max_cycles=10**9)
        sim.advance(400)
        print(sim._chunks, hashlib.sha256(sim.theta.tobytes() + sim.g_int.tobytes()).hexdigest())
        """)
    here = os.path.dirname(os.path.abspath(__file__))
    seen = {}
    for threads in (1, 2):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        proc = subprocess.run([sys.executable, "-c", script, here], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        chunks, digest = proc.stdout.split()
        seen[threads] = (int(chunks), digest)
    assert seen[1][0] == 1
    assert seen[1][1] == seen[2][1]


def _continue_in_child(queue, inherited):
    fresh = Simulation(_sign_path_spec(), seed=7, max_cycles=10**9)
    fresh.advance(30)
    inherited.advance(30)
    queue.put((fresh._chunks, inherited.theta.tobytes()))


def test_a_child_forked_after_the_split_kernels_ran_keeps_to_one_chunk():
    """GNU OpenMP terminates a forked child that starts a region after its parent did; hwsim's
    child keeps to one chunk instead, and continues its parent's run to the same bits."""
    import multiprocessing

    parent = Simulation(_sign_path_spec(), seed=7, max_cycles=10**9)
    parent.advance(30)                       # regions ran here (with two or more threads)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_continue_in_child, args=(queue, parent))
    child.start()
    chunks, theta = queue.get(timeout=300)   # (before join: the child waits for its pipe to drain)
    child.join(60)
    assert child.exitcode == 0
    assert chunks == 1
    parent.advance(30)
    assert theta == parent.theta.tobytes()
