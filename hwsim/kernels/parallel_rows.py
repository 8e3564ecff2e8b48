"""Work split by rows over the cores: the sign path's step, the first stage's unperturbed
product, and the node-perturbation window's flush.

Each is cut into ``chunks``: chunk c owns rows [n c / chunks, n (c + 1) / chunks) of every
stage -- their weights and biases (signs in ``psign``, integrators in ``g_int``) and their
outputs -- and runs in one thread of a numba parallel region (OpenMP: about 2 us to start).
``chunks`` = 1 runs the same code on one core, without a region.

Why the results cannot depend on the number of chunks or threads: a chunk writes only what it
owns, every output is summed by one chunk with the same compiled code, and each integrator
gains the same terms in step order whichever chunk owns it (tests/test_parallel_rows.py).

The sign path (hwsim.kernels.paths.sign) is weight perturbation with random signs (cdma,
sparsity 1) on the ideal chip in discrete mode, dense network. Its step is O(P): the signs of
theta~(k), the perturbed first layer sum_j s_ij x_j, G += C~ a s. A step is one parallel
region per large stage (the first carries the signs and the integration); small stages run
on one core. The integration is deferred by one step: the step's C~ a multiplies the signs
still in ``psign`` at the start of the next step's region (before they are overwritten), at
the update, or when the block ends (``integrate``), so that it shares the pass over the owned
parameters with the new signs; each integrator still gains g + v_t s exactly as per step.

The routines take the network as its ``Network`` bundle (``net``, hwsim.kernels.state), and
what a pass does to the parameters a chunk owns as one ``OwnWork`` record (the pending
integration, the update, the new signs) built by ``step_work`` or ``flush_work``, rather
than as seven loose flags and scalars.
"""

import os
from collections import namedtuple

import numba
import numpy as np
from numba import njit, prange

from hwsim.kernels.forward import MVM_MATH, activate, axpy, dot, unit
from hwsim.kernels.geometry import G_FAN
from hwsim.kernels.perturb import fill_signs_range

# Stages with fewer weights than this run on one core: below it, the cost of a parallel
# region (about 2 us with OpenMP) is more than the work it splits.
MIN_PARALLEL_WEIGHTS = 16384


# ``chunks = None`` is one core with no parallel region compiled: numba prunes the region
# branches for a None argument, so a run on one thread (a sweep point, NUMBA_NUM_THREADS=1,
# a small first stage) compiles the serial code only (about half of a cold compile).


@njit(cache=True, inline="always")
def _rows(n, c, chunks):
    return n * c // chunks, n * (c + 1) // chunks


# What a pass does to the parameters a chunk owns (``own_parameters``): G += pend x the signs
# in psign (``pending``: the deferred integration), then theta -= eta G, G = 0 (``descend``:
# the update), then the signs of theta~(k) from ``seed`` (``refill``).
OwnWork = namedtuple("OwnWork", "pending pend descend eta refill k seed")


@njit(cache=True, inline="always")
def step_work(pending, pend, refill, k, seed):
    """A step's pass (``sign_forward``): the pending integration and the new signs, no update."""
    return OwnWork(pending, pend, False, 0.0, refill, k, seed)


@njit(cache=True, inline="always")
def flush_work(pend, eta, descend):
    """The deferred integration's flush (``integrate``), with the update when ``descend``."""
    return OwnWork(True, pend, descend, eta, False, 0, np.uint64(0))


@njit(cache=True)
def own_parameters(net, c, chunks, work, theta, g_int, psign):
    """Chunk c's weights and biases in every stage, as ``work`` (an ``OwnWork``) says."""
    sizes, w_off, b_off = net.sizes, net.w_off, net.b_off
    for l in range(sizes.shape[0] - 1):
        n_in = sizes[l]
        lo, hi = _rows(sizes[l + 1], c, chunks)
        for a, b in ((w_off[l] + lo * n_in, w_off[l] + hi * n_in), (b_off[l] + lo, b_off[l] + hi)):
            if work.pending:
                axpy(g_int[a:b], work.pend, psign[a:b])
            if work.descend:
                descend_range(theta[a:b], g_int[a:b], work.eta)
            if work.refill:
                fill_signs_range(work.k, work.seed, psign, a, b)


@njit(cache=True)
def descend_range(theta, g, eta):
    """theta -= eta g, then g = 0 (a discrete update of plain SGD)."""
    for i in range(g.shape[0]):
        theta[i] -= eta * g[i]
        g[i] = 0.0


@njit(cache=True, fastmath=MVM_MATH)
def stage_rows(net, l, lo, hi, theta, psign, amp, h, hb, z1, base):
    """Rows [lo, hi) of stage l: the perturbed output into h[l + 1] and, when ``base``, the
    unperturbed one into hb[l + 1]. The first stage adds amp (sum_j s_ij x_j + s_i) to its
    unperturbed product z1 = W_1 x + b_1 (``first_product``), so it reads the signs, not the
    weights; later stages use theta + amp psign."""
    sizes, w_off, b_off, acts = net.sizes, net.w_off, net.b_off, net.acts
    n_in = sizes[l]
    code = acts[l]
    if l == 0:
        x = h[0, :n_in]
        for i in range(lo, hi):
            row = w_off[0] + i * n_in
            if base:
                hb[1, i] = activate(z1[i], code)
            sr = psign[row:row + n_in]
            acc = 0.0
            for j in range(n_in):
                acc += sr[j] * x[j]
            h[1, i] = activate(z1[i] + amp * (acc + psign[b_off[0] + i]), code)
        return
    hl = h[l, :n_in]
    hbl = hb[l, :n_in]
    for i in range(lo, hi):
        row = w_off[l] + i * n_in
        bias = b_off[l] + i
        wr = theta[row:row + n_in]
        sr = psign[row:row + n_in]
        if base:
            acc = theta[bias]
            for j in range(n_in):
                acc += wr[j] * hbl[j]
            hb[l + 1, i] = activate(acc, code)
        acc = theta[bias] + amp * psign[bias]
        for j in range(n_in):
            acc += (wr[j] + amp * sr[j]) * hl[j]
        h[l + 1, i] = activate(acc, code)


@njit(cache=True, parallel=True)
def _region(net, chunks, l, first, work, theta, g_int, psign, amp, h, hb, z1, base):
    for c in prange(chunks):
        if first:
            own_parameters(net, c, chunks, work, theta, g_int, psign)
        lo, hi = _rows(net.sizes[l + 1], c, chunks)
        stage_rows(net, l, lo, hi, theta, psign, amp, h, hb, z1, base)


@njit(cache=True)
def sign_forward(net, chunks, work, theta, g_int, psign, amp, x, h, hb, z1, base):
    """One step of the sign path up to the output: ``work`` (``step_work``: the pending
    integration and the new signs) on the way (see the module's docstring), the perturbed pass
    into ``h`` and, when ``base``, the unperturbed pass into ``hb``, both from the first
    stage's product ``z1`` = W_1 x + b_1. ``chunks`` = 1 runs on one core."""
    sizes = net.sizes
    n_layers = sizes.shape[0] - 1
    for j in range(sizes[0]):
        h[0, j] = x[j]          # (hb[0] is never read: the first stage's product is z1)
    for l in range(n_layers):
        rows = sizes[l + 1]
        if chunks is not None and chunks > 1 and (l == 0 or sizes[l] * rows >= MIN_PARALLEL_WEIGHTS):
            _region(net, chunks, l, l == 0, work, theta, g_int, psign, amp, h, hb, z1, base)
        else:
            if l == 0:
                count = 1 if chunks is None else chunks
                for c in range(count):
                    own_parameters(net, c, count, work, theta, g_int, psign)
            stage_rows(net, l, 0, rows, theta, psign, amp, h, hb, z1, base)


@njit(cache=True, parallel=True)
def _integrate_region(net, chunks, work, theta, g_int, psign):
    for c in prange(chunks):
        own_parameters(net, c, chunks, work, theta, g_int, psign)


@njit(cache=True)
def integrate(net, chunks, theta, g_int, psign, pend, eta, descend):
    """G += pend x the signs in ``psign``, every parameter (the deferred integration's
    flush: at an update and when a block ends), and with ``descend`` the update in the same
    pass: theta -= eta G, G = 0."""
    work = flush_work(pend, eta, descend)
    if chunks is not None and chunks > 1:
        _integrate_region(net, chunks, work, theta, g_int, psign)
    else:
        own_parameters(net, 0, 1, work, theta, g_int, psign)


@njit(cache=True, fastmath=MVM_MATH)
def _first_rows(net, lo, hi, theta, X, idx, zb):
    w_off, b_off, geom, gidx = net.w_off, net.b_off, net.geom, net.gidx
    fan = geom[0, G_FAN]
    for i in range(lo, hi):
        row, bias, gb = unit(geom, 0, i, w_off, b_off)
        for q in range(idx.shape[0]):
            zb[q, i] = theta[bias] + dot(theta, row, X[idx[q]], gidx, gb, 0, fan)


@njit(cache=True, parallel=True)
def _first_region(net, chunks, theta, X, idx, zb):
    for c in prange(chunks):
        lo, hi = _rows(zb.shape[1], c, chunks)
        _first_rows(net, lo, hi, theta, X, idx, zb)


@njit(cache=True)
def first_product(net, chunks, theta, X, order, s, s_end, version, zb, zmeta, zidx, z1):
    """z1 = W_1 x + b_1 (dense or conv first stage) for the s-th sample presented, x =
    X[order[s mod n]]: the unperturbed pre-activation the sign path and node perturbation reuse
    while x and theta stay. Reading W_1 is most of its cost, so the products of the samples
    s .. s_end - 1 (those due before theta next changes, at most ``zb``'s rows) are formed in
    one pass over W_1's rows into ``zb`` and kept, with ``zmeta`` = (``version`` of theta,
    first sample, count) and their data indices in ``zidx`` (as many entries as ``zb`` has
    rows), for the samples after s (``version`` < 0: no reuse, theta may change before the
    next sample). Every product is the same ``dot`` whatever the batch, so a cached z1 equals
    a fresh one to the bit."""
    if version < 0 or not (zmeta[0] == version and zmeta[1] <= s < zmeta[1] + zmeta[2]):
        count = min(max(s_end - s, 1), zb.shape[0])
        idx = zidx[:count]
        for q in range(count):
            idx[q] = order[(s + q) % order.shape[0]]
        if chunks is not None and chunks > 1:
            _first_region(net, chunks, theta, X, idx, zb[:count])
        else:
            _first_rows(net, 0, zb.shape[1], theta, X, idx, zb[:count])
        zmeta[0] = version
        zmeta[1] = s
        zmeta[2] = count
    row = zb[s - zmeta[1]]
    for i in range(z1.shape[0]):    # a loop, not z1[:] = row: no shape-error path to compile
        z1[i] = row[i]


@njit(cache=True)
def _flush_rows(net, lo, hi, g_int, window, m, theta, eta, descend):
    """Rows [lo, hi) of W_1's integrators gain their queued products (``flush_rows``). Four
    queued samples are added in one pass over the row: each integrator still gains them one
    by one in queue order (the same bits as four passes), with a quarter of the row's loads
    and stores."""
    w0, n0, k1 = net.w_off[0], net.sizes[0], net.sizes[1]
    for i in range(lo, hi):
        a, b = w0 + i * n0, w0 + (i + 1) * n0
        orow = g_int[a:b]
        r = 0
        while r < m:
            # The next (up to) four queued samples whose node sum is not zero, in queue order.
            count = 0
            v0 = v1 = v2 = v3 = 0.0
            q0 = q1 = q2 = q3 = 0
            while r < m and count < 4:
                v = window[r, i]
                if v != 0.0:
                    if count == 0:
                        v0, q0 = v, r
                    elif count == 1:
                        v1, q1 = v, r
                    elif count == 2:
                        v2, q2 = v, r
                    else:
                        v3, q3 = v, r
                    count += 1
                r += 1
            if count == 4:
                x0, x1 = window[q0, k1:k1 + n0], window[q1, k1:k1 + n0]
                x2, x3 = window[q2, k1:k1 + n0], window[q3, k1:k1 + n0]
                for j in range(n0):
                    t = orow[j] + v0 * x0[j]
                    t = t + v1 * x1[j]
                    t = t + v2 * x2[j]
                    orow[j] = t + v3 * x3[j]
            else:
                for v, q in ((v0, q0), (v1, q1), (v2, q2)):
                    if count > 0:
                        axpy(orow, v, window[q, k1:k1 + n0])
                        count -= 1
        if descend:
            descend_range(theta[a:b], orow, eta)


@njit(cache=True, parallel=True)
def _flush_region(net, chunks, g_int, window, m, theta, eta, descend):
    for c in prange(chunks):
        lo, hi = _rows(net.sizes[1], c, chunks)
        _flush_rows(net, lo, hi, g_int, window, m, theta, eta, descend)


@njit(cache=True)
def flush_rows(net, chunks, g_int, window, m, theta, eta, descend):
    """Add the m queued first-stage products of node perturbation (hwsim.kernels.paths.node_fold's
    window: per row, the node sums then the input): row i of W_1's integrators gains, sample
    after sample in queue order, node sum x input (the order immediate folding would use);
    W_1 is the dense first stage of ``net``. With ``descend``, the update of those rows in the
    same pass: theta -= eta G, G = 0."""
    if chunks is not None and chunks > 1:
        _flush_region(net, chunks, g_int, window, m, theta, eta, descend)
    else:
        _flush_rows(net, 0, net.sizes[1], g_int, window, m, theta, eta, descend)


@njit(cache=True, parallel=True)
def _probe(out):
    for c in prange(out.shape[0]):
        out[c] = c


# GNU OpenMP does not survive fork(): a child that starts a region after its parent did is
# terminated. A child forked after the kernels ran in parallel is marked (in its environment,
# which is process state, not run state) and keeps to one chunk.
_FORKED_AFTER_OPENMP = "HWSIM_FORKED_AFTER_OPENMP"


def _after_fork_in_child():
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", False) and numba.threading_layer() == "omp":
        os.environ[_FORKED_AFTER_OPENMP] = "1"


os.register_at_fork(after_in_child=_after_fork_in_child)


def threads_usable() -> bool:
    """False in a process forked (without exec) from one whose kernels ran OpenMP regions."""
    return os.environ.get(_FORKED_AFTER_OPENMP) != "1"


def row_chunks(sizes) -> int:
    """How many chunks the kernels split rows into: the number of numba threads when the
    first stage is large enough to gain and the threading layer starts a region cheaply
    (OpenMP or TBB, not the workqueue fallback, whose regions cost tens of microseconds);
    else 1 (also in a child forked after OpenMP ran: ``threads_usable``). Results do not
    depend on it."""
    threads = numba.get_num_threads()
    if threads < 2 or int(sizes[0]) * int(sizes[1]) < MIN_PARALLEL_WEIGHTS or not threads_usable():
        return 1
    _probe(np.zeros(threads, dtype=np.int64))     # starts the threading layer
    if numba.threading_layer() == "workqueue":
        return 1
    return threads
