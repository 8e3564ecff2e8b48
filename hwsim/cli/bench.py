"""``hwsim bench``: the benchmark workloads B1-B4 on hwsim and on the plain numpy loop (the
harness is hwsim.bench; this module is its command line).

Exit codes: 0 the figures were measured (whether or not they meet their targets), 2 bad
input, 1 a measurement failed, 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

from hwsim.cli.common import CliError, add_debug_option, check_writable


def add_commands(subparsers, commands: dict) -> None:
    """Add ``bench`` to the CLI parser and its handler to ``commands``."""
    p = subparsers.add_parser(
        "bench", help="measure steps/s, parameter-steps/s, peak memory and the ratio to a plain "
                      "numpy loop on the benchmark workloads B1-B6 (see docs/performance.md)",
        description="Runs each benchmark workload (docs/performance.md) on hwsim and on a plain "
                    "per-step numpy loop in the same process and prints the medians of the "
                    "repetitions: steps per second, parameter-steps per second, the ratio, peak "
                    "memory; the engine's overhead over the kernel and the cold start of a second "
                    "process on B2; B4's per-parameter throughput over B2's; B5's per-step time "
                    "(the chip path on two chip presets) and B6's multiply-adds per second (a CNN) "
                    "beside B2's.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="short timed blocks (about 0.25 s instead of 1 s): a first look in about a minute")
    size.add_argument("--tiny", action="store_true",
                      help="tiny networks and blocks, for the smoke test of the harness (its figures mean nothing)")
    p.add_argument("--json", metavar="FILE", help="also write every figure, with the machine's details, to FILE")
    p.add_argument("--only", metavar="B1,B3", help="only these workloads: B1..B4, B5 (B5-rram and B5-pcm) "
                                                   "or one of them, B6 (default: all; the engine overhead "
                                                   "and cold start need B2, B4/B2 needs both)")
    p.add_argument("--repeats", type=int, default=3, metavar="N",
                   help="timed repetitions per figure; the median is reported (default: 3)")
    p.add_argument("--steps", type=int, metavar="N",
                   help="steps per timed block for both implementations, rounded up to whole update "
                        "windows of 100 steps (default: as many as take about 1 s)")
    add_debug_option(p)
    commands["bench"] = cmd_bench


def cmd_bench(args) -> int:
    from hwsim.bench.report import markdown
    from hwsim.bench.runner import BenchOptions, run_bench
    from hwsim.bench.workloads import select
    from hwsim.results.rundir import atomic_write, dump_json

    if args.repeats < 1:
        raise CliError(f"--repeats must be at least 1 (got {args.repeats})")
    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps must be a positive number of steps (got {args.steps})")
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    try:
        select(args.only, mode == "tiny")
    except ValueError as exc:
        raise CliError(f"--only: {exc}") from None
    out = Path(args.json) if args.json else None
    if out is not None:
        if out.is_dir():
            raise CliError(f"--json {out}: is a directory; give a file name")
        check_writable(out.parent if str(out.parent) else Path("."))
    opts = BenchOptions(mode=mode, repeats=args.repeats, steps=args.steps, only=args.only)
    results = run_bench(opts, log=lambda line: print(line, flush=True))
    results["command"] = " ".join(
        ["hwsim bench"] + ([f"--{mode}"] if mode != "full" else []) + [f"--repeats {args.repeats}"]
        + ([f"--only {args.only}"] if args.only else []) + ([f"--steps {args.steps}"] if args.steps else []))
    print()
    print(markdown(results))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, dump_json(results))
        print(f"\nfigures: {out}")
    return 0
