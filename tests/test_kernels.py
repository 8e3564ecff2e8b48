"""The numba kernels agree with their plain numpy twins (tests/naive.py)."""

import itertools

import numpy as np
import pytest

import naive
from helpers import SCHEMES, make_spec
from hwsim.chip.perturbation import PerturbationGenerator
from hwsim.engine.simulation import Simulation
from hwsim.kernels import rng

RTOL = 1e-9  # float64 on both paths, different summation order (see tests/naive.py)


def test_hash_and_streams_match_numpy():
    keys = np.arange(50)
    for seed in (0, 1, 2**63 + 5):
        fast = np.array([rng.hash3(np.uint64(seed), 7, int(b)) for b in keys], dtype=np.uint64)
        np.testing.assert_array_equal(fast, naive.hash3(seed, 7, keys))
        u = np.array([rng.uniform(np.uint64(seed), 3, int(b)) for b in keys])
        np.testing.assert_array_equal(u, naive.uniform(seed, 3, keys))
        z = np.array([rng.normal(np.uint64(seed), 3, int(b)) for b in keys])
        np.testing.assert_allclose(z, naive.normal(seed, 3, keys), rtol=1e-12)
        out = np.empty(37, dtype=np.int64)
        rng.permutation_into(np.uint64(seed), 4, out)
        np.testing.assert_array_equal(out, naive.permutation(seed, 4, 37))


@pytest.mark.parametrize("scheme,sparsity", [(s, 1.0) for s in SCHEMES] + [("cdma", 3.0)])
def test_perturbation_vectors_match_numpy(scheme, sparsity):
    for p in (1, 63, 64, 65, 130):
        gen = PerturbationGenerator(scheme, p, 0.3, seed=11, sparsity=sparsity)
        for k in (0, 1, 2, 63, 64, 1000, 10**9 + 7):
            np.testing.assert_allclose(gen.vector(k), naive.perturbation(gen, k), rtol=1e-12, atol=1e-15)


CASES = list(itertools.product(SCHEMES, ("discrete", "analog")))
# The kernel path as a test axis: the path hwsim chooses (a shortcut where one applies) and
# the reference path forced (hwsim.engine.paths); both must match the twin.
PATHS = (None, "reference")


@pytest.mark.parametrize("path", PATHS, ids=["chosen", "reference"])
@pytest.mark.parametrize("scheme,mode", CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_mgd_kernel_matches_numpy_twin(scheme, mode, path):
    spec = make_spec(perturbation={"scheme": scheme, "amplitude": 0.05}, mode=mode,
                     tau_p=2, tau_x=3, tau_theta=5, eta=0.2)
    sim = Simulation(spec, seed=3, max_cycles=10**9, force_path=path)
    if path is None and scheme == "cdma" and mode == "discrete":
        assert sim.path.name == "sign"
    theta, g, cycles = naive.mgd_steps(sim, 157)
    sim.advance(157)
    np.testing.assert_allclose(sim.theta, theta, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(sim.g_int, g, rtol=RTOL, atol=1e-12)
    assert sim.cycles == cycles == 157


@pytest.mark.parametrize("path", PATHS, ids=["chosen", "reference"])
@pytest.mark.parametrize("mode", ["discrete", "analog"])
def test_mgd_kernel_options_match_numpy_twin(mode, path):
    """Cost noise (also on the baseline), clipping, sparsity, the paper-2 normalisation,
    cross-entropy, relu, and slow baselines: the same equations on both paths."""
    spec = make_spec(dataset={"name": "digits"}, network={"hidden": [7], "activation": "relu"},
                     cost="cross_entropy",
                     chip={"cost_unit": {"noise_sigma": 0.01}, "inference": {"cycles_per_inference": 3,
                                                                             "baseline_cycles": 2}},
                     perturbation={"scheme": "cdma", "amplitude": 0.1, "sparsity": 2.5}, mode=mode,
                     tau_p=1, tau_x=4, tau_theta=6, eta=0.05, cost_change_clip=0.002,
                     normalisation="per_parameter_variance")
    sim = Simulation(spec, seed=5, max_cycles=10**9, force_path=path)
    theta, g, cycles = naive.mgd_steps(sim, 120)
    sim.advance(120)
    np.testing.assert_allclose(sim.theta, theta, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(sim.g_int, g, rtol=RTOL, atol=1e-12)
    assert sim.cycles == cycles


def test_tdma_walsh_periods_are_exactly_orthogonal():
    """Sum over a full period of theta~ theta~^T is (amplitude^2 * period / P) * I for walsh
    and amplitude^2 * I for tdma: the reason both give the exact gradient after one period."""
    p = 37
    for scheme in ("tdma", "walsh"):
        gen = PerturbationGenerator(scheme, p, 0.2, seed=1)
        v = np.array([gen.vector(k) for k in range(gen.period)])
        gram = v.T @ v
        expected = 0.2**2 * (gen.period / p if scheme == "walsh" else 1.0)
        np.testing.assert_allclose(gram, expected * np.eye(p), atol=1e-14)
