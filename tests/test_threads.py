"""The chunk policy (hwsim.engine.threads): its decisions on a fake clock, results identical
whatever it chose, compile time kept out of wall_seconds, and the contention guard."""

import subprocess
import sys
import time

import numpy as np
import pytest

from hwsim.bench.workloads import build_simulation, workloads
from hwsim.engine import simulation as S
from hwsim.engine.threads import ONE_CORE, PARALLEL, SERIAL, ChunkPolicy
from hwsim.api import summarise

LONG = 10**9


def feed(policy, spp, until, remaining=LONG, parallel_spp=None):
    """Drive ``policy`` until its clock reaches ``until``: a block on one core takes ``spp``
    seconds per step, a parallel one ``parallel_spp`` (a number or a function of the clock)."""
    while policy.now < until:
        block = policy.plan(remaining)
        steps = min(block.steps, 10**6)
        if block.chunks is ONE_CORE:
            policy.record(ONE_CORE, steps, steps * spp)
        else:
            p = parallel_spp(policy.now) if callable(parallel_spp) else parallel_spp
            policy.record(block.chunks, steps, steps * p)
    return policy


def test_one_thread_never_probes():
    policy = feed(ChunkPolicy(1), 50e-6, 100.0, parallel_spp=1e-6)
    assert policy.probes == 0 and policy.mode == SERIAL
    assert policy.plan(LONG).chunks is ONE_CORE


def test_a_short_run_never_probes():
    # 100,000 steps left at 50 us: 5 s on one core, less than the 30 s a compilation may take
    policy = feed(ChunkPolicy(2), 50e-6, 20.0, remaining=100_000, parallel_spp=1e-6)
    assert policy.probes == 0


def test_prefers_the_faster():
    fast = feed(ChunkPolicy(2), 50e-6, 10.0, parallel_spp=30e-6)
    assert fast.mode == PARALLEL and fast.failures == 0
    assert fast.plan(LONG).chunks == 2
    slow = feed(ChunkPolicy(2), 50e-6, 10.0, parallel_spp=60e-6)
    assert slow.mode == SERIAL and slow.failures >= 1
    assert not slow.switches_back


def test_backs_off_after_failures():
    policy = ChunkPolicy(2, retry=1.0, max_retry=1e6)
    starts = []
    while policy.now < 200.0:
        block = policy.plan(LONG)
        if block.chunks is not ONE_CORE and policy.probe_steps == 0 and policy.warming:
            starts.append(policy.now)
        steps = min(block.steps, 10**6)
        policy.record(block.chunks, steps, steps * (50e-6 if block.chunks is ONE_CORE else 80e-6))
    gaps = np.diff(starts)
    assert len(starts) >= 5
    # each wait at least doubles (the retry interval, plus the fresh one-core measurement)
    assert all(b >= 1.9 * a for a, b in zip(gaps[1:], gaps[2:]))
    assert policy.failures == len(starts)


def test_collapsed_probes_cost_little():
    # Every parallel step takes 12 ms (a collapsed region) against 50 us on one core.
    policy = feed(ChunkPolicy(2, max_retry=5.0), 50e-6, 600.0, parallel_spp=12e-3)
    assert policy.probes >= 10
    assert policy.loss < 0.03 * policy.now


def test_returns_to_one_core_when_contention_begins():
    policy = feed(ChunkPolicy(2), 50e-6, 100.0, parallel_spp=lambda now: 30e-6 if now < 50 else 12e-3)
    assert policy.switches_back >= 1 and policy.mode == SERIAL
    assert policy.loss < 0.05 * policy.now


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_chunks"):
        ChunkPolicy(0)
    with pytest.raises(ValueError, match="margin"):
        ChunkPolicy(2, margin=1.5)


class Alternating:
    """A policy that switches between one core and the row chunks every block."""

    def __init__(self, chunks):
        self.chunks, self.turn = chunks, 0

    def plan(self, remaining):
        self.turn += 1
        from hwsim.engine.threads import Block
        return Block(self.chunks if self.turn % 2 else ONE_CORE, 37 + 11 * (self.turn % 5))

    def record(self, chunks, steps, seconds):
        pass


def test_results_do_not_depend_on_the_choice():
    w = workloads(False)["B2"]
    single = build_simulation(w)
    single._policy = ChunkPolicy(1)
    mixed = build_simulation(w)
    if mixed._chunks < 2:
        pytest.fail("this test needs two usable CPUs and numba threads")
    mixed._policy = Alternating(mixed._chunks)
    probing = build_simulation(w)
    probing._policy = ChunkPolicy(probing._chunks, compile_bar=1e-9, probe_seconds=2e-4, retry=1e-3,
                                  recheck=1e-3, block_seconds=2e-4)
    for sim in (single, mixed, probing):
        sim.advance(3000)
    assert probing._policy.probes >= 1
    for name, value in single.run_state().items():
        if name == "wall_seconds":
            continue
        for other in (mixed, probing):
            theirs = other.run_state()[name]
            assert np.asarray(value).tobytes() == np.asarray(theirs).tobytes(), name


def test_compile_time_is_apart_from_wall_time(monkeypatch):
    w = workloads(True)["B2"]
    sim = build_simulation(w, max_steps=500)
    seen = []
    real = S._specialized

    def first_call_compiles(driver, chunks):
        seen.append(chunks)
        return len(seen) > 1 and real(driver, chunks)

    monkeypatch.setattr(S, "_specialized", first_call_compiles)
    t0 = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - t0
    assert sim.compile_seconds > 0
    assert 0 < sim.wall_seconds <= elapsed - sim.compile_seconds
    summary = summarise(sim, sim.run_spec)
    assert summary["compile_seconds"] == round(sim.compile_seconds, 3)
    assert summary["wall_seconds"] == round(sim.wall_seconds, 3)
    assert sim.step == 500


@pytest.mark.slow
def test_contention_guard():
    """With a CPU-bound process beside it, the default policy is not slower than one core
    beyond 10 %: paired blocks, the bootstrap interval of the median time ratio."""
    w = workloads(False)["B2"]
    policy, single = build_simulation(w), build_simulation(w)
    single._policy = ChunkPolicy(1)
    # The policy would wait for a long run before its first probe (a compilation's worth):
    # here it probes at once so that the guard exercises it.
    policy._policy.compile_bar = 1e-9
    policy.advance(200)
    single.advance(200)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        ratios = []
        for i in range(40):
            times = {}
            for name, sim in (("policy", policy), ("single", single)) if i % 2 else (("single", single), ("policy", policy)):
                t0 = time.perf_counter()
                sim.advance(1000)
                times[name] = time.perf_counter() - t0
            ratios.append(times["policy"] / times["single"])
    finally:
        hog.kill()
        hog.wait()
    rng = np.random.default_rng(0)
    ratios = np.array(ratios)
    medians = np.median(rng.choice(ratios, size=(2000, ratios.size)), axis=1)
    upper = np.quantile(medians, 0.95)
    assert upper <= 1.10, (np.median(ratios), upper, policy._policy.probes)
