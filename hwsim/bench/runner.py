"""The measurements of ``hwsim bench``.

Per workload (hwsim.bench.workloads):
  * throughput: steps per second of hwsim's kernel (``Simulation.advance``, after a warm-up
    block so numba's compilation or cache load is excluded) and of the plain numpy loop
    (hwsim.bench.plain), the two interleaved repetition by repetition in this process; the
    median of the repetitions; parameter-steps per second (P x steps/s, P the weights and
    biases trained); the ratio of the medians, hwsim over plain;
  * memory: in a fresh child process (hwsim.bench.probe), the peak resident set size (RSS)
    of a run of the workload, the RSS after ``import hwsim``, and the RSS growth per step
    over a second run of as many steps as the first, against the bound
    1.5 x (weights + integrators + data set) + 250 MiB.
Once, on B2:
  * engine overhead: what the full engine (``Simulation.run``: SimPy processes, an
    observation of the test set every 1,000 steps) adds to the time its kernel calls
    (``advance``) take within the same run; also with no observation but the first and the
    last; and, as a cross-check, kernel-only runs of the same steps;
  * cold start: the wall time from launching a second Python process to the end of its first
    step (a first process is launched before, so numba's cache is populated).
And B4's parameter-steps per second over B2's (cost linear in P: at least 0.5).
And, on B2, contention (issue 18, never collapse): with a CPU-bound competitor process running
(``python -c "while True: pass"``, killed afterwards), B2's steps/s in a child process with the
default threads (the chunk policy, hwsim.engine.threads) and in one with NUMBA_NUM_THREADS=1,
run one after the other; the median of each and the ratio (default over one thread: at least
0.9).

B5 (B2 on the rram_crossbar and pcm_hermes_like chips) and B6 (the paper-1 CNN) are timed as
B1-B4, against their own plain loops (hwsim.bench.plain_chip, hwsim.bench.plain_cnn), with a
third implementation in the turns: B2 on hwsim, so that B5's per-step time over B2's (at most
3x) and B6's multiply-adds per second beside B2's are measured on the same machine at the
same moments. B2 there is hwsim's kernel only (its plain loop is not needed). Their plain
loops run with numpy's BLAS held to one thread (threadpoolctl): issue 18's floors are on one
core, and on this shared machine OpenBLAS's two spinning threads made the CNN loop 5-8x
slower under contention than on one thread. B1-B4's plain loop keeps numpy's default, as
before.

Timed blocks are whole update windows (100 steps: ten samples, ten baselines, one update),
so both implementations run the same mix of phases.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from hwsim.bench.workloads import WINDOW, Workload, build_simulation, select, workloads

MIB = 2**20
SECONDS = {"full": 1.0, "quick": 0.25, "tiny": 0.01}   # target wall time of one timed block
PROBE_SECONDS = {"full": 0.5, "quick": 0.25, "tiny": 0.02}
TARGETS = {"contention_ratio_min": 0.9, "engine_overhead_pct": 10.0, "cold_start_s": 3.0, "b4_vs_b2_min": 0.5,
           "memory_slack_mib": 250.0, "memory_factor": 1.5}
OBSERVE_EVERY = 1000
SCHEMA = 1


@dataclass(frozen=True)
class BenchOptions:
    mode: str = "full"            # full, quick or tiny (the smoke test's tiny networks)
    repeats: int = 3
    steps: int | None = None      # steps per timed block, both implementations (None: by time)
    only: str | None = None       # comma-separated workload keys

    def __post_init__(self):
        if self.mode not in SECONDS:
            raise ValueError(f"mode must be one of {', '.join(SECONDS)} (got {self.mode!r})")
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1 (got {self.repeats})")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1 (got {self.steps})")

    @property
    def tiny(self) -> bool:
        return self.mode == "tiny"

    @property
    def seconds(self) -> float:
        return SECONDS[self.mode]


def whole_windows(n: float) -> int:
    """``n`` steps rounded up to whole update windows (at least one)."""
    return max(1, math.ceil(n / WINDOW)) * WINDOW


def _time(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn(n)
    return time.perf_counter() - t0


def block_steps(fn, seconds: float) -> int:
    """Steps of a block that takes about ``seconds`` (one window timed to estimate)."""
    dt = _time(fn, WINDOW)
    return whole_windows(WINDOW * seconds / max(dt, 1e-9))


def _advance_exactly(sim):
    def advance(n):
        done = sim.advance(n)
        if done != n:
            d = sim.counts()["diverged"]
            why = f"the cost became non-finite at step {d}" if d >= 0 else "the cycle budget ran out"
            raise RuntimeError(f"the hwsim run stopped after {done} of {n} steps: {why}")
    return advance


def _rates(steps: int, times: list[float]) -> dict:
    rates = [steps / t for t in times]
    return {"steps": steps, "steps_per_s": statistics.median(rates), "runs_steps_per_s": rates}


def plain_loop(w: Workload, sim, same_streams: bool = False):
    """The workload's plain numpy loop on ``sim``'s network, data and initial weights: the
    chip loop for B5, the CNN loop for B6, PlainMGD for B1-B4."""
    if w.cnn:
        from hwsim.bench.plain_cnn import PlainCNN as cls
    elif w.chip is not None:
        from hwsim.bench.plain_chip import PlainChipMGD as cls
    else:
        from hwsim.bench.plain import PlainMGD as cls
    return cls.from_simulation(sim, same_streams=same_streams)


def throughput(w: Workload, opts: BenchOptions) -> dict:
    """Median steps/s of hwsim and of the plain loop, interleaved in this process (B5 and
    B6: and of B2 on hwsim, in the same turns)."""
    sim = build_simulation(w)
    advance = _advance_exactly(sim)
    advance(WINDOW)                      # numba: compile, or load the cache
    plain = plain_loop(w, sim)
    beside_b2 = w.chip is not None or w.cnn
    run_plain = _one_blas_thread(plain.run) if beside_b2 else plain.run
    run_plain(WINDOW)                    # numpy's first calls
    n_h = whole_windows(opts.steps) if opts.steps else block_steps(advance, opts.seconds)
    n_p = whole_windows(opts.steps) if opts.steps else block_steps(run_plain, opts.seconds)
    if beside_b2:
        b2 = _advance_exactly(build_simulation(workloads(opts.tiny)["B2"]))
        b2(WINDOW)
        n_b = whole_windows(opts.steps) if opts.steps else block_steps(b2, opts.seconds)
    t_h, t_p, t_b = [], [], []
    for _ in range(opts.repeats):
        t_h.append(_time(advance, n_h))
        t_p.append(_time(run_plain, n_p))
        if beside_b2:
            t_b.append(_time(b2, n_b))
    hw, pl = _rates(n_h, t_h), _rates(n_p, t_p)
    for r in (hw, pl):
        r["param_steps_per_s"] = r["steps_per_s"] * w.n_params
    ratio = hw["steps_per_s"] / pl["steps_per_s"]
    out = {"label": w.label, "network": w.network, "perturbation": w.perturbation,
           "params": w.n_params, "perturbed": w.n_perturbed, "hwsim": hw, "plain": pl,
           "ratio": ratio, "ratio_target": w.ratio_target, "ratio_met": ratio >= w.ratio_target}
    if beside_b2:
        out.update(beside_b2_figures(w, sim, hw, _rates(n_b, t_b), opts))
        out["plain"]["blas_threads"] = 1
    return out


def _one_blas_thread(fn):
    """``fn`` with numpy's BLAS held to one thread while it runs."""
    from threadpoolctl import threadpool_limits

    def run(n):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(n)
    return run


def beside_b2_figures(w: Workload, sim, hw: dict, b2: dict, opts: BenchOptions) -> dict:
    """B5: hwsim's per-step time over B2's; B6: multiply-adds per second of hwsim's kernel and
    of B2's (a step's multiply-adds: ``Workload.macs_per_step``, with each run's tau_x)."""
    b2w = workloads(opts.tiny)["B2"]
    out = {"chip": w.chip, "b2": b2}
    if w.chip is not None:
        per_step = b2["steps_per_s"] / hw["steps_per_s"]
        out.update({"per_step_us": 1e6 / hw["steps_per_s"], "b2_per_step_us": 1e6 / b2["steps_per_s"],
                    "per_step_vs_b2": per_step, "vs_b2_target": w.vs_b2_target,
                    "vs_b2_met": per_step <= w.vs_b2_target})
    if w.cnn:
        macs = w.macs_per_step(sim.run_spec.firmware.tau_x)
        b2_macs = b2w.macs_per_step()
        out.update({"macs_per_inference": w.macs_per_inference, "macs_per_step": macs,
                    "macs_per_s": macs * hw["steps_per_s"], "b2_macs_per_step": b2_macs,
                    "b2_macs_per_s": b2_macs * b2["steps_per_s"],
                    "macs_vs_b2": macs * hw["steps_per_s"] / (b2_macs * b2["steps_per_s"])})
    return out


def _timed_run(sim) -> tuple[float, float]:
    """(wall time of ``sim.run()``, the part of it spent in ``sim.advance``, the kernel)."""
    inner = sim.advance
    spent = [0.0]

    def advance(n):
        t0 = time.perf_counter()
        try:
            return inner(n)
        finally:
            spent[0] += time.perf_counter() - t0

    sim.advance = advance          # the engine calls self.advance: time it from outside
    t0 = time.perf_counter()
    try:
        sim.run()
    finally:
        del sim.advance
    return time.perf_counter() - t0, spent[0]


def engine_overhead(w: Workload, opts: BenchOptions, steps: int | None = None) -> dict:
    """What the event engine (``Simulation.run``: SimPy processes, the observer) adds to the
    kernel's time: within each run, its wall time over the time spent in ``advance``; the
    median of the repetitions, observing every OBSERVE_EVERY steps and with no observation
    but the first and the last. Also, as a cross-check, the median wall time of separate
    kernel-only runs (``advance`` for the same steps, fresh Simulations)."""
    warm = build_simulation(w)
    warm.advance(WINDOW)
    if steps is None:
        steps = whole_windows(opts.steps) if opts.steps else block_steps(warm.advance, opts.seconds)
    out = {"workload": w.key, "steps": steps, "observe_every": OBSERVE_EVERY,
           "target_pct": TARGETS["engine_overhead_pct"]}
    for every, suffix in ((OBSERVE_EVERY, ""), (10**12, "_no_obs")):
        alone, engine, inside, added = [], [], [], []
        for _ in range(opts.repeats):
            sim = build_simulation(w, max_steps=steps, every_steps=every)
            alone.append(_time(_advance_exactly(sim), steps))
            sim = build_simulation(w, max_steps=steps, every_steps=every)
            wall, kernel = _timed_run(sim)
            if sim.step != steps:
                raise RuntimeError(f"Simulation.run stopped at step {sim.step} of {steps} ({sim.status})")
            engine.append(wall)
            inside.append(kernel)
            added.append(100.0 * (wall - kernel) / kernel)
        out[f"overhead_pct{suffix}"] = statistics.median(added)
        out[f"engine_s{suffix}"] = statistics.median(engine)
        out[f"kernel_in_engine_s{suffix}"] = statistics.median(inside)
        out[f"kernel_s{suffix}"] = statistics.median(alone)
        out[f"observations{suffix}"] = len(sim.curve)
    out["met"] = out["overhead_pct"] <= TARGETS["engine_overhead_pct"]
    return out


def contention_child(tiny: bool, seconds: float, repeats: int) -> None:
    """In a child process: B2's steps/s over ``repeats`` timed blocks of about ``seconds``
    each, after a warm-up, as one JSON line on stdout (``contention``)."""
    import numba

    sim = build_simulation(workloads(tiny)["B2"])
    advance = _advance_exactly(sim)
    advance(WINDOW)
    # A block first, untimed: the policy's first probe (and the parallel variant's cache load)
    # falls there; the figure is the steady state a long run sees.
    advance(block_steps(advance, seconds))
    n = block_steps(advance, seconds)
    rates = [n / _time(advance, n) for _ in range(repeats)]
    print(json.dumps({"steps": n, "runs_steps_per_s": rates, "threads": numba.get_num_threads(),
                      "compile_seconds": sim.compile_seconds}))


def contention(opts: BenchOptions) -> dict:
    """B2 beside a CPU-bound competitor: default threads against NUMBA_NUM_THREADS=1."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    out = {"workload": "B2", "competitor": "one CPU-bound process", "target_min": TARGETS["contention_ratio_min"]}
    try:
        time.sleep(0.2)
        for name, extra in (("default", {}), ("one_thread", {"NUMBA_NUM_THREADS": "1"})):
            code = (f"from hwsim.bench.runner import contention_child; "
                    f"contention_child({opts.tiny}, {opts.seconds}, {opts.repeats})")
            proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **extra),
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"the contention child ({name}) failed (exit {proc.returncode}): "
                                   f"{proc.stderr.strip()[-2000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["steps_per_s"] = statistics.median(r["runs_steps_per_s"])
            out[name] = r
    finally:
        hog.kill()
        hog.wait()
    out["ratio"] = out["default"]["steps_per_s"] / out["one_thread"]["steps_per_s"]
    out["met"] = out["ratio"] >= out["target_min"]
    return out


def _probe_cmd(key: str, opts: BenchOptions) -> list[str]:
    cmd = [sys.executable, "-m", "hwsim.bench.probe", key, "--seconds", str(PROBE_SECONDS[opts.mode])]
    return cmd + (["--tiny"] if opts.tiny else [])


def _probe_result(key: str, proc: subprocess.Popen, launched: float) -> dict:
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"the benchmark probe of {key} took more than 10 minutes") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark probe of {key} failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["cold_start_s"] = result["first_step_at"] - launched
    result["startup_s"] = result["started_at"] - launched
    return result


def run_probes(keys: list[str], opts: BenchOptions, concurrent: bool = False) -> list[dict]:
    """Run ``python -m hwsim.bench.probe`` for each workload and return its figures, with
    ``cold_start_s`` (launch to the end of the first step) and ``startup_s`` (launch to
    ``import hwsim`` done). ``concurrent`` launches them all at once: their memory figures
    are their own, but then their times mean nothing."""
    if concurrent:
        launched = [(key, time.time(), subprocess.Popen(_probe_cmd(key, opts), stdout=subprocess.PIPE,
                                                        stderr=subprocess.PIPE, text=True))
                    for key in keys]
        return [_probe_result(key, proc, t) for key, t, proc in launched]
    results = []
    for key in keys:
        t = time.time()
        proc = subprocess.Popen(_probe_cmd(key, opts), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results.append(_probe_result(key, proc, t))
    return results


def memory(probe: dict) -> dict:
    """The memory figures of a probe, against 1.5 x (weights + integrators + data) + 250 MiB."""
    arrays = probe["weights_bytes"] + probe["integrators_bytes"] + probe["data_bytes"]
    bound = TARGETS["memory_factor"] * arrays + TARGETS["memory_slack_mib"] * MIB
    peak = max(probe["peak_rss"], probe["rss_after_2n"])
    return {"peak_rss_mib": peak / MIB,
            "import_rss_mib": probe["rss_import"] / MIB,
            "above_import_mib": (peak - probe["rss_import"]) / MIB,
            "built_above_import_mib": (probe["rss_built"] - probe["rss_import"]) / MIB,
            "weights_mib": probe["weights_bytes"] / MIB,
            "integrators_mib": probe["integrators_bytes"] / MIB,
            "data_mib": probe["data_bytes"] / MIB,
            "bound_mib": bound / MIB,
            "within_bound": peak <= bound,
            "per_step_bytes": probe["per_step_bytes"],
            "probe_steps": probe["steps"]}


def machine_info() -> dict:
    import numba
    import numpy

    from hwsim import __version__ as hwsim_version

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "cpus_usable": usable, "load_average": load,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "numba": numba.__version__, "hwsim": hwsim_version,
            # the kernel's threads (issue 18's floors are on one: NUMBA_NUM_THREADS=1)
            "numba_threads": int(numba.config.NUMBA_NUM_THREADS)}


def run_bench(opts: BenchOptions, log=print) -> dict:
    """Every figure of ``hwsim bench`` as a JSON-ready dict (see docs/performance.md)."""
    start = time.perf_counter()
    chosen = select(opts.only, opts.tiny)
    keys = [w.key for w in chosen]
    results = {"schema": SCHEMA, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": opts.mode,
               "repeats": opts.repeats, "steps": opts.steps, "seconds_per_block": opts.seconds,
               "machine": machine_info(), "workloads": {}, "engine_overhead": None,
               "cold_start": None, "b4_vs_b2": None, "contention": None}
    if opts.repeats < 3:
        log(f"note: {opts.repeats} repetition{'s' if opts.repeats > 1 else ''}: the figures are not "
            "medians of at least 3")
    from hwsim.bench.fma import fma_peak

    peak = results["fma_peak"] = fma_peak(0.05 if opts.tiny else 0.3)
    log(f"this core's multiply-add peak: {peak['fma_per_s']:.3g}/s ({peak['method']})")
    for w in chosen:
        r = throughput(w, opts)
        r["hwsim"]["of_fma_peak"] = r["hwsim"]["param_steps_per_s"] / peak["fma_per_s"]
        results["workloads"][w.key] = r
        log(f"{w.label:<14} hwsim {r['hwsim']['steps_per_s']:>10,.0f} steps/s   plain "
            f"{r['plain']['steps_per_s']:>8,.0f} steps/s   ratio {r['ratio']:6.1f}x "
            f"(target {w.ratio_target:g}x)")
        if "per_step_vs_b2" in r:
            log(f"{'':<14} per step {r['per_step_us']:,.1f} us against B2's {r['b2_per_step_us']:,.1f} us "
                f"in the same turns: {r['per_step_vs_b2']:.2f}x (target at most {w.vs_b2_target:g}x)")
        if "macs_per_s" in r:
            log(f"{'':<14} {r['macs_per_s']:.3g} multiply-adds/s ({r['macs_per_step']:,.0f} a step) against "
                f"B2's {r['b2_macs_per_s']:.3g} in the same turns: {r['macs_vs_b2']:.3f}x")
    b2 = workloads(opts.tiny)["B2"]
    if "B2" in keys:
        rate = results["workloads"]["B2"]["hwsim"]["steps_per_s"]
        # Long enough for several observations (at least 5,000 steps; --quick 2,000).
        floor = {"full": 5, "quick": 2, "tiny": 0}[opts.mode] * OBSERVE_EVERY
        steps = whole_windows(opts.steps) if opts.steps else whole_windows(max(2 * rate * opts.seconds, floor))
        e = engine_overhead(b2, opts, steps)
        results["engine_overhead"] = e
        log(f"B2 engine overhead over the kernel: {e['overhead_pct']:+.1f} % observing every "
            f"{OBSERVE_EVERY:,} steps, {e['overhead_pct_no_obs']:+.1f} % without ({steps:,} steps)")
        if not opts.tiny:
            # A first process, so that the measured ones are second processes: numba's cache is
            # populated (this process has run the kernels already, so this is belt and braces;
            # the smoke test skips it to save its few seconds).
            run_probes(["B2"], opts)
        probes = run_probes(["B2"] * opts.repeats, opts)
        cold = [p["cold_start_s"] for p in probes]
        results["cold_start"] = {
            "workload": "B2", "seconds": statistics.median(cold), "runs_s": cold,
            "startup_s": statistics.median(p["startup_s"] for p in probes),
            "target_s": TARGETS["cold_start_s"], "met": statistics.median(cold) <= TARGETS["cold_start_s"]}
        log(f"cold start of a second process to its first step: {results['cold_start']['seconds']:.2f} s "
            f"(of which python and import hwsim {results['cold_start']['startup_s']:.2f} s)")
        results["workloads"]["B2"]["memory"] = memory(probes[0])
        k = results["contention"] = contention(opts)
        log(f"B2 beside a CPU-bound process: {k['default']['steps_per_s']:,.0f} steps/s with the default "
            f"threads, {k['one_thread']['steps_per_s']:,.0f} on one thread: {k['ratio']:.2f}x "
            f"(target at least {k['target_min']:g}x)")
    rest = [key for key in keys if "memory" not in results["workloads"][key]]
    for key, probe in zip(rest, run_probes(rest, opts, concurrent=True)):
        results["workloads"][key]["memory"] = memory(probe)
    for key in keys:
        m = results["workloads"][key]["memory"]
        log(f"{key} peak RSS {m['peak_rss_mib']:,.0f} MiB (bound {m['bound_mib']:,.0f} MiB), "
            f"{m['per_step_bytes']:.1f} bytes per step")
    if "B2" in keys and "B4" in keys:
        r2 = results["workloads"]["B2"]["hwsim"]["param_steps_per_s"]
        r4 = results["workloads"]["B4"]["hwsim"]["param_steps_per_s"]
        results["b4_vs_b2"] = {"per_param_throughput_ratio": r4 / r2,
                               "target_min": TARGETS["b4_vs_b2_min"],
                               "met": r4 / r2 >= TARGETS["b4_vs_b2_min"]}
    results["machine"]["load_average_end"] = machine_info()["load_average"]
    results["wall_seconds"] = time.perf_counter() - start
    return results
