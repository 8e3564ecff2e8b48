"""The child process of ``hwsim bench``: memory of one workload, and the time to its first step.

    python -m hwsim.bench.probe KEY [--tiny] [--seconds S]

Imports hwsim, builds the workload's Simulation, runs one step (the time of day is recorded
then, for the cold-start figure: the parent knows when it launched this process), then runs
blocks of steps for about S seconds (N steps), reads the resident set size (RSS), runs N more
steps and reads it again: the difference over N is what the run keeps per step (nothing,
hwsim regenerates values, never stores them per step). Prints one JSON object on stdout.

Run in a fresh process so that its peak RSS belongs to this workload alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def rss_bytes() -> int:
    """The current resident set size of this process."""
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """The peak resident set size of this process so far: VmHWM of /proc/self/status (not
    getrusage's ru_maxrss, which on Linux carries the parent's peak across fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def probe(key: str, tiny: bool, seconds: float) -> dict:
    started_at = time.time()   # the interpreter is up and the hwsim package imported
    from hwsim.bench.workloads import WINDOW, build_simulation, workloads

    w = workloads(tiny)[key]
    rss_import = rss_bytes()
    sim = build_simulation(w)
    rss_built = rss_bytes()
    sim.advance(1)
    first_step_at = time.time()
    sim.advance(WINDOW - 1)
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        sim.advance(WINDOW)
        n += WINDOW
    rss_1 = rss_bytes()
    sim.advance(n)
    rss_2 = rss_bytes()
    nodes = sim.state.nacc.nbytes if sim.node else 0
    return {
        "workload": key,
        "started_at": started_at,
        "first_step_at": first_step_at,
        "steps": 2 * n + WINDOW,
        "rss_import": rss_import,
        "rss_built": rss_built,
        "rss_after_n": rss_1,
        "rss_after_2n": rss_2,
        "per_step_bytes": (rss_2 - rss_1) / n,
        "peak_rss": peak_rss_bytes(),
        "weights_bytes": sim.theta.nbytes,
        "integrators_bytes": sim.g_int.nbytes + nodes,
        "data_bytes": sim.data.nbytes,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("key", help="workload key, B1..B4")
    ap.add_argument("--tiny", action="store_true", help="the tiny networks of the smoke test")
    ap.add_argument("--seconds", type=float, default=0.5, help="time of the first block of steps")
    args = ap.parse_args(argv)
    print(json.dumps(probe(args.key, args.tiny, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
