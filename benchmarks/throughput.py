"""Kernel throughput on the standard workloads B1-B4 (DESIGN section 5).

Ideal chip, ReLU hidden layers, linear output, MSE, 1,024 Gaussian input samples, discrete
mode, tau_p = 1, tau_x = 10, tau_theta = 100, random codes. Prints the median of several
repetitions of steps per second and parameter-steps per second (numba compilation excluded:
one warm-up block first), and the ratio to the plain numpy loop of benchmarks/plain_numpy.py
measured in the same process.

    python benchmarks/throughput.py [--steps N] [--repeats R] [--only B1,B2] [--engine] [--node-scaling]
"""

from __future__ import annotations

import argparse
import statistics
import time

from plain_numpy import PlainMGD

from hwsim.engine.simulation import Simulation
from hwsim.spec.loader import RunSpec
from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

WORKLOADS = {
    "B1 small-wp": (64, [32], 10),
    "B2 medium-wp": (784, [128], 10),
    "B3 medium-np": (784, [128], 10),
    "B4 large-wp": (784, [512, 512], 10),
}


def workload_spec(n_in, hidden, n_out, nodes=False, tau_x=10) -> RunSpec:
    sc = ScenarioSpec(dataset={"name": "teacher", "n_samples": 1024, "n_inputs": n_in,
                               "n_outputs": n_out, "teacher_hidden": 16, "test_fraction": 0.1},
                      network={"hidden": hidden, "activation": "relu"}, cost="mse", accuracy="r2",
                      stop_at_target=False)
    fw = FirmwareSpec(mode="discrete", perturbation={"scheme": "cdma", "amplitude": 0.01,
                                                     "target": "nodes" if nodes else "weights"},
                      tau_p=1, tau_x=tau_x, tau_theta=max(100, tau_x), eta=0.01)
    return RunSpec(scenario=sc, chip=ChipSpec(), firmware=fw)


def measure(spec: RunSpec, steps: int, repeats: int) -> dict:
    """Median steps/s of hwsim and of the plain numpy loop, interleaved in the same process."""
    sim = Simulation(spec, seed=0, max_cycles=10**15)
    sim.advance(100)  # warm-up: compile or load the numba cache
    d = sim.data
    plain = PlainMGD(sim.layout.sizes, d.x_train, d.y_train, nodes=sim.node)
    plain.run(10)
    plain_steps = max(steps // 20, 20)
    rates, plain_rates = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim.advance(steps)
        rates.append(steps / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        plain.run(plain_steps)
        plain_rates.append(plain_steps / (time.perf_counter() - t0))
    rate, plain_rate = statistics.median(rates), statistics.median(plain_rates)
    return {"params": sim.n_perturbed, "steps_per_s": rate,
            "param_steps_per_s": rate * sim.layout.n_params, "plain_steps_per_s": plain_rate,
            "ratio": rate / plain_rate}


def engine_overhead(spec: RunSpec, steps: int, repeats: int, every: int) -> dict:
    """Median wall time of the full engine (SimPy processes, observations every ``every`` steps)
    against the kernel alone (Simulation.advance) for the same steps, in the same process."""
    spec = spec.with_overrides({"scenario.max_steps": steps, "scenario.max_cycles": 10**15,
                                "firmware.evaluation.every_steps": every})
    warm = Simulation(spec, seed=0)
    warm.advance(100)
    kernel, engine = [], []
    for _ in range(repeats):
        sim = Simulation(spec, seed=0)
        t0 = time.perf_counter()
        sim.advance(steps)
        kernel.append(time.perf_counter() - t0)
        sim = Simulation(spec, seed=0)
        t0 = time.perf_counter()
        sim.run()
        engine.append(time.perf_counter() - t0)
    k, e = statistics.median(kernel), statistics.median(engine)
    return {"kernel_s": k, "engine_s": e, "overhead": e / k - 1.0}


def node_scaling(steps: int, repeats: int) -> list[dict]:
    """Node perturbation's steps/s as the weights grow at a fixed number of nodes (inputs
    64 -> 3,136, hidden 128: 138 nodes) and as the nodes grow (hidden 32 -> 512), at tau_x = 10
    and at tau_x = 1,000 (where the once-per-sample first-layer product is amortised away)."""
    rows = []
    for tau_x in (10, 1000):
        for n_in, hidden in ((64, 128), (784, 128), (3136, 128), (784, 32), (784, 512)):
            spec = workload_spec(n_in, [hidden], 10, nodes=True, tau_x=tau_x)
            sim = Simulation(spec, seed=0, max_cycles=10**15)
            sim.advance(100)
            rates = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                sim.advance(steps)
                rates.append(steps / (time.perf_counter() - t0))
            rows.append({"tau_x": tau_x, "inputs": n_in, "hidden": hidden, "nodes": hidden + 10,
                         "weights": sim.layout.n_params, "steps_per_s": statistics.median(rates)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--engine", action="store_true",
                    help="also measure the event engine's overhead over the kernel on B2")
    ap.add_argument("--node-scaling", action="store_true",
                    help="also measure node perturbation's cost against nodes and weights (B3)")
    args = ap.parse_args(argv)
    print(f"{'workload':<14} {'P or K':>9} {'steps/s':>12} {'param-steps/s':>15} {'numpy steps/s':>14} {'ratio':>7}")
    for name, (n_in, hidden, n_out) in WORKLOADS.items():
        if args.only and not any(name.startswith(o) for o in args.only.split(",")):
            continue
        r = measure(workload_spec(n_in, hidden, n_out, nodes="-np" in name), args.steps, args.repeats)
        print(f"{name:<14} {r['params']:>9,} {r['steps_per_s']:>12,.0f} {r['param_steps_per_s']:>15.3g} "
              f"{r['plain_steps_per_s']:>14,.0f} {r['ratio']:>6.1f}x")
    if args.engine:
        for every in (1000, 10**9):
            r = engine_overhead(workload_spec(*WORKLOADS["B2 medium-wp"]), args.steps, args.repeats, every)
            print(f"B2 engine vs kernel, observing every {every:,} steps: kernel {r['kernel_s']:.3f} s, "
                  f"engine {r['engine_s']:.3f} s, overhead {r['overhead']:+.1%}")

    if args.node_scaling:
        print(f"\n{'tau_x':>6} {'inputs':>7} {'hidden':>7} {'nodes':>6} {'weights':>9} {'steps/s':>10}")
        for r in node_scaling(args.steps, args.repeats):
            print(f"{r['tau_x']:>6} {r['inputs']:>7} {r['hidden']:>7} {r['nodes']:>6} {r['weights']:>9,} "
                  f"{r['steps_per_s']:>10,.0f}")


if __name__ == "__main__":
    main()
