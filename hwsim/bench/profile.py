"""Where the time of a benchmark step goes, in hwsim's kernel and in the plain numpy loop.

    python -m hwsim.bench.profile [--only B2,B3] [--seconds S] [--repeats N] [--node-scaling]

hwsim's kernel is one numba function, which no Python profiler can see into, so its step is
taken apart by running variants of the workload and timing its parts alone:
  * the full step (tau_x = 10, tau_theta = 100), as benchmarked;
  * no updates (tau_theta = 10^9): the difference is the update, every 100 steps;
  * no updates and one sample (tau_x = tau_theta = 10^9): the difference is what a new
    sample costs every 10 steps (the baseline inference; node perturbation: also the
    first layer's product and folding the node sums into G); what is left is the steady
    step: perturbation, perturbed inference, integration;
  * alone, called from Python (so a microsecond of call overhead included): the reference
    path's perturbation generator (``PerturbationGenerator.vector``, float values) and one
    forward pass (``hwsim.kernels.forward.forward``: a full pass, perturbed as the workload);
  * the full step again with the rows on one core (``chunks`` = 1), to show what the
    second core gives.
The plain loop's phases are methods (hwsim.bench.plain), so cProfile splits its step.
Prints markdown tables (microseconds per step, medians of the repetitions).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time

import numpy as np

from hwsim.bench.runner import whole_windows
from hwsim.bench.workloads import WINDOW, Workload, build_simulation, select

NEVER = 10**9


def _per_step_us(fn, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(steps)
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times) / steps


def _calls_us(fn, calls: int, repeats: int) -> float:
    def run(n):
        for i in range(n):
            fn(i)
    return _per_step_us(run, calls, repeats)


def hwsim_phases(w: Workload, seconds: float, repeats: int) -> list[tuple[str, float]]:
    """(phase, microseconds per step) of hwsim's kernel on workload ``w``."""
    from hwsim.kernels import codes
    from hwsim.kernels import forward as F

    sims, steps = {}, {}
    for name, taus in (("full", {}), ("one_core", {}), ("no_update", {"tau_theta": NEVER}),
                       ("steady", {"tau_x": NEVER, "tau_theta": NEVER})):
        sim = sims[name] = build_simulation(w, **taus)
        if name == "one_core":
            sim._chunks = 1          # rows not split over the cores (the same results)
        sim.advance(WINDOW)
        t0 = time.perf_counter()
        sim.advance(WINDOW)
        steps[name] = whole_windows(WINDOW * seconds / (time.perf_counter() - t0))
    # The variants take turns, so that a change in the machine's load hits them alike.
    times = {name: [] for name in sims}
    for _ in range(repeats):
        for name, sim in sims.items():
            times[name].append(_per_step_us(sim.advance, steps[name], 1))
    variants = {name: statistics.median(t) for name, t in times.items()}
    sim = build_simulation(w)
    out = np.empty(sim.n_perturbed)
    gen_us = _calls_us(lambda k: sim.generator.vector(k, out), 2000 if w.n_params < 10**6 else 200, repeats)
    lay = sim.layout
    h = np.zeros((lay.n_layers + 1, int(lay.sizes_arr.max())))
    mode = codes.NODE_PERT if sim.node else codes.WEIGHT_PERT
    x = sim.data.x_train[0]

    def fwd(_):
        F.forward(sim.net, sim.theta, out, mode, x, h)
    fwd_us = _calls_us(fwd, 200 if w.n_params > 10**5 else 2000, repeats)
    full, no_update, steady = variants["full"], variants["no_update"], variants["steady"]
    return [
        (f"full step, as benchmarked ({sim._chunks} chunk{'s' if sim._chunks > 1 else ''} of rows)", full),
        ("  the same on one core (1 chunk)", variants["one_core"]),
        ("  update (every 100 steps), per step", full - no_update),
        ("  new sample (every 10 steps: baseline inference and more), per step", no_update - steady),
        ("  steady step (no update, same sample)", steady),
        ("    reference path: perturbation generator (float values), alone", gen_us),
        ("    reference path: one forward pass of theta + theta~, alone", fwd_us),
    ]


PLAIN_PHASES = (("sample", "sample"), ("perturbation", "perturbation (numpy random signs)"),
                ("cost_weights", "forward passes (perturbed every step, baseline every 10)"),
                ("forward_nodes", "forward passes (perturbed every step, baseline every 10)"),
                ("integrate_weights", "integrate G += coef x perturbation"),
                ("integrate_nodes", "integrate G += outer(coef x node perturbation, activity)"),
                ("update", "update (every 100 steps)"))


def plain_phases(w: Workload, seconds: float) -> list[tuple[str, float]]:
    """(phase, microseconds per step) of the plain loop on ``w``, by cProfile."""
    from hwsim.bench.plain import PlainMGD

    plain = PlainMGD.from_simulation(build_simulation(w))
    plain.run(WINDOW)
    t0 = time.perf_counter()
    plain.run(WINDOW)
    steps = whole_windows(WINDOW * seconds / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    plain.run(steps)
    unprofiled = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    plain.run(steps)
    prof.disable()
    stats = pstats.Stats(prof).stats
    cum = {}
    for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if path.endswith("plain.py"):
            cum[func] = cum.get(func, 0.0) + ct
    total = cum.get("run", 0.0)
    rows = [("full step, as benchmarked (without the profiler)", 1e6 * unprofiled / steps),
            ("full step under cProfile", 1e6 * total / steps)]
    named = 0.0
    for func, label in PLAIN_PHASES:
        if func in cum:
            rows.append((f"  {label}", 1e6 * cum[func] / steps))
            named += cum[func]
    rows.append(("  the rest of the step (theta + perturbation, cost arithmetic, the loop)",
                 1e6 * (total - named) / steps))
    return rows


def node_scaling(seconds: float, repeats: int) -> list[dict]:
    """Node perturbation's steps/s as the inputs grow at a fixed number of nodes and as the
    nodes grow, at tau_x = 10 and at tau_x = 1,000 (the once-per-sample first layer amortised)."""
    rows = []
    for tau_x in (10, 1000):
        for n_in, hidden in ((64, 128), (784, 128), (3136, 128), (784, 32), (784, 512)):
            w = Workload("B3", "medium-np", n_in, (hidden,), 10, True, 0.0)
            sim = build_simulation(w, tau_x=tau_x, tau_theta=max(100, tau_x))
            sim.advance(max(100, tau_x))
            t0 = time.perf_counter()
            sim.advance(WINDOW)
            steps = whole_windows(WINDOW * seconds / (time.perf_counter() - t0))
            us = _per_step_us(sim.advance, steps, repeats)
            rows.append({"tau_x": tau_x, "inputs": n_in, "hidden": hidden, "nodes": w.n_nodes,
                         "weights": w.n_params, "steps_per_s": 1e6 / us})
    return rows


def _table(title: str, rows: list[tuple[str, float]]) -> str:
    lines = [f"| {title} | µs per step |", "|---|---:|"]
    lines += [f"| {label} | {us:,.1f} |" for label, us in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="B2,B3", help="workloads (default: B2,B3)")
    ap.add_argument("--seconds", type=float, default=1.0, help="about this long per timed block")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions (medians)")
    ap.add_argument("--node-scaling", action="store_true",
                    help="also node perturbation's steps/s against inputs and nodes")
    args = ap.parse_args(argv)
    try:
        chosen = select(args.only)
    except ValueError as exc:
        print(f"hwsim.bench.profile: --only: {exc}", file=sys.stderr)
        return 2
    for w in chosen:
        print(f"### {w.label} ({w.network}, {w.perturbation} perturbation)\n")
        print(_table("hwsim kernel", hwsim_phases(w, args.seconds, args.repeats)))
        print()
        print(_table("plain numpy loop", plain_phases(w, args.seconds)))
        print()
    if args.node_scaling:
        print("| tau_x | inputs | hidden | nodes | weights | steps/s |\n|---:|---:|---:|---:|---:|---:|")
        for r in node_scaling(args.seconds, args.repeats):
            print(f"| {r['tau_x']:,} | {r['inputs']:,} | {r['hidden']} | {r['nodes']} | {r['weights']:,} "
                  f"| {r['steps_per_s']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
