"""The best per-step kernel time of a workload in CPU time: for comparing two trees of hwsim
run side by side (one per core, so that both see the same machine), as docs/performance.md
does for the kernel split of issue 17.

    python -m hwsim.bench.step_time B1 --seconds 3

prints ``B1 <microseconds per step>``: the best of repeated kernel blocks (``Simulation.advance``
without observations) in ``time.process_time``, after one block of warm-up (compilation or the
cache load). Pin the process (``taskset -c 0``) and set ``NUMBA_NUM_THREADS=1`` to compare one
core; run the other tree with its own ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import argparse
import time

# Steps per timed block: about 40 ms each on this machine class.
BLOCK_STEPS = {"B1": 20000, "B2": 1000, "B3": 5000, "B4": 200, "B5-rram": 200, "B5-pcm": 200, "B6": 200}


def best_step_seconds(key: str, seconds: float) -> float:
    """The best per-step CPU time of ``key``'s kernel blocks over about ``seconds``."""
    from hwsim.bench.workloads import build_simulation, workloads

    sim = build_simulation(workloads()[key])
    sim.max_cycles = None
    block = BLOCK_STEPS[key]
    sim.advance(block)
    best = float("inf")
    start = time.process_time()
    while time.process_time() - start < seconds:
        t0 = time.process_time()
        done = sim.advance(block)
        best = min(best, (time.process_time() - t0) / max(done, 1))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hwsim.bench.step_time", description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=sorted(BLOCK_STEPS))
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds of timed blocks (default 3)")
    args = parser.parse_args(argv)
    print(f"{args.workload} {best_step_seconds(args.workload, args.seconds) * 1e6:.3f}")


if __name__ == "__main__":
    main()
