"""``hwsim run`` (and ``hwsim run --resume DIR``) and ``hwsim compare``: train a scenario on
its chip, or on several chips and firmware, and print the result lines.

Exit codes of ``hwsim run``: 0 the run completed (target reached or not), 2 bad input, 3
training diverged, 130 interrupted by Ctrl-C and 143 stopped by SIGTERM (both write a
checkpoint first; ``hwsim run --resume DIR`` continues the run).
"""

from __future__ import annotations

import json

import sys
from pathlib import Path

from hwsim.cli.common import (EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, CliError, add_debug_option,
                              add_set_option, check_option, check_writable, option_fields)


def add_commands(subparsers, commands: dict) -> None:
    """Add ``run`` and ``compare`` to the CLI parser and their handlers to ``commands``."""
    run = subparsers.add_parser("run", help="train a scenario on its chip and write a run directory")
    run.add_argument("scenario", nargs="?", help="scenario preset name (hwsim list) or YAML file (optional "
                                                  "with --resume)")
    run.add_argument("--chip", help="chip preset name or path (replaces the scenario's)")
    run.add_argument("--firmware", help="firmware preset name or path (replaces the scenario's)")
    add_set_option(run)
    run.add_argument("--seed", type=int, help="run seed (default: the scenario's)")
    run.add_argument("--max-cycles", type=int, help="cycle budget (default: the scenario's)")
    run.add_argument("--out", help="run directory to write (default: runs/<name>-<hash>-s<seed>-<time>)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the results of the run already in --out DIR (by default a folder "
                          "holding a finished, unfinished or different run is refused)")
    run.add_argument("--quiet", action="store_true", help="print only the result lines (no progress bar)")
    run.add_argument("--plot", action="store_true", help="also write the run's plots (PNG) into DIR/plots")
    run.add_argument("--data-dir", metavar="DIR",
                     help="folder holding the data files (mnist/, fashion_mnist/, cifar-10-batches-py/; "
                          "sets dataset.data_dir; default: $HWSIM_DATA, else ./data)")
    run.add_argument("--trace", metavar="FILE",
                     help="write an event trace of this (short) run: FILE.json (Chrome trace "
                          "events, for Perfetto) or FILE.csv")
    run.add_argument("--resume", metavar="DIR",
                     help="continue the run in DIR from its last checkpoint (from its beginning when "
                          "it has none yet); its specs, seed and budget come from DIR/manifest.json")
    run.add_argument("--checkpoint-every", type=int, metavar="CYCLES",
                     help="also write a checkpoint every CYCLES chip cycles (default: by time only)")
    run.add_argument("--checkpoint-seconds", type=float, metavar="SECONDS",
                     help="write a checkpoint every SECONDS of wall time (default: 60; 0: never). "
                          "A run stopped by Ctrl-C or SIGTERM always writes one")
    add_debug_option(run)
    commands["run"] = cmd_run

    cmp = subparsers.add_parser("compare", help="train a scenario on several chips and tabulate the "
                                                "shortfall against its own chip")
    cmp.add_argument("scenario", help="scenario preset name or YAML file (its chip is the baseline)")
    cmp.add_argument("--chips", help="comma-separated chip names or paths (default: the "
                                     "scenario's compare_chips)")
    cmp.add_argument("--firmware", help="comma-separated firmware names or paths (default: the "
                                        "scenario's compare_firmware)")
    cmp.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    add_set_option(cmp, help="override a dotted path (repeatable)")
    cmp.add_argument("--data-dir", metavar="DIR",
                     help="folder holding the data files (sets dataset.data_dir; default: $HWSIM_DATA, "
                          "else ./data)")
    cmp.add_argument("--out", default="runs/compare", help="output folder (default: runs/compare)")
    add_debug_option(cmp)
    commands["compare"] = cmd_compare


def _with_data_dir(args, overrides: dict, **which) -> dict:
    """``overrides`` plus dataset.data_dir from --data-dir, when the data set reads files."""
    if args.data_dir is None:
        return overrides
    if not args.data_dir.strip():
        raise CliError("--data-dir needs a folder (got an empty string)")
    from hwsim.run_plan import load_scenario

    dataset = load_scenario(args.scenario, overrides, **which).scenario.dataset
    if "data_dir" not in type(dataset).model_fields:
        print(f"warning: --data-dir has no effect: the {dataset.name} data set reads no files",
              file=sys.stderr)
        return overrides
    return {**overrides, "dataset.data_dir": args.data_dir}


def _checkpoint_options(args) -> dict:
    from hwsim.engine.checkpoint import DEFAULT_EVERY_SECONDS

    seconds = args.checkpoint_seconds
    return {"checkpoint_every": args.checkpoint_every,
            "checkpoint_seconds": DEFAULT_EVERY_SECONDS if seconds is None else seconds}


def cmd_run(args) -> int:
    from hwsim.api import default_run_dir, run
    from hwsim.run_plan import load_scenario, resolve
    from hwsim.spec import parse_set_options

    checkpoints = _checkpoint_options(args)
    if args.resume is not None:
        return _cmd_resume(args, checkpoints)
    if args.scenario is None:
        raise CliError("hwsim run needs a SCENARIO (a preset name such as quickstart, or a YAML file; or "
                       "--resume DIR to continue a run)")
    overrides = _with_data_dir(args, parse_set_options(args.sets), chip=args.chip, firmware=args.firmware)
    spec = load_scenario(args.scenario, overrides, chip=args.chip, firmware=args.firmware)
    seed = spec.scenario.seed if args.seed is None else args.seed
    plan = resolve(spec)           # layout and timing, once for the checks below
    from hwsim.advice import spec_warnings

    for line in spec_warnings(plan):
        print(f"warning: {line}", file=sys.stderr)
    out = Path(args.out) if args.out is not None else default_run_dir(spec, seed)
    check_writable(out)
    if args.trace:
        _check_trace_size(plan, args.max_cycles)
    from hwsim.results.progress import RunProgress, bar_wanted, budget_cycles

    # The first Ctrl-C or SIGTERM stops the run at its next resumable point, writes a
    # checkpoint and keeps what ran.
    with RunProgress(budget_cycles(plan, args.max_cycles), bar_wanted(args.quiet)) as progress:
        result = run(spec, seed, out=out, max_cycles=args.max_cycles, progress=progress, trace=args.trace,
                     should_stop=lambda: progress.stop_requested, overwrite=args.overwrite, **checkpoints)
    return _report_run(args, result, progress)


def _cmd_resume(args, checkpoints: dict) -> int:
    from hwsim.api import resume
    from hwsim.engine.checkpoint import CHECKPOINT_FILE, peek_header
    from hwsim.results.progress import RunProgress, bar_wanted
    from hwsim.run_plan import load_scenario
    from hwsim.spec import parse_set_options

    for flag, value in (("--out", args.out), ("--trace", args.trace), ("--overwrite", args.overwrite)):
        if value:
            raise CliError(f"{flag} does not go with --resume: the run continues in {args.resume}")
    spec = None
    if args.scenario is not None:
        overrides = _with_data_dir(args, parse_set_options(args.sets), chip=args.chip, firmware=args.firmware)
        spec = load_scenario(args.scenario, overrides, chip=args.chip, firmware=args.firmware)
    elif args.sets or args.chip or args.firmware or args.data_dir:
        raise CliError("--set, --chip, --firmware and --data-dir change a run's specs; --resume continues "
                       "the run as it started (give its scenario and options to check them, or none)")
    run_dir = Path(args.resume)
    budget = _manifest_budget(run_dir)
    header = peek_header(run_dir / CHECKPOINT_FILE)
    if header is not None and isinstance(header.get("cycle"), int) and isinstance(header.get("step"), int):
        print(f"resuming {run_dir} from its checkpoint at cycle {header['cycle']:,} (step "
              f"{header['step']:,}, written {header.get('written_utc')})", file=sys.stderr, flush=True)
    with RunProgress(budget, bar_wanted(args.quiet), label="resuming") as progress:
        had_checkpoint = (run_dir / CHECKPOINT_FILE).exists()
        result = resume(run_dir, spec=spec, seed=args.seed, max_cycles=args.max_cycles, progress=progress,
                        should_stop=lambda: progress.stop_requested, **checkpoints)
    if result.already_finished:
        print(f"{run_dir}: the run already finished ({result.summary.get('status')}); nothing to resume",
              file=sys.stderr)
    elif not had_checkpoint:
        print(f"{run_dir}: there was no checkpoint yet: the run went again from the beginning",
              file=sys.stderr)
    return _report_run(args, result, progress)


def _manifest_budget(run_dir: Path) -> int:
    """The cycle budget in DIR/manifest.json, for the progress bar (a damaged manifest is
    reported here, as the resume would)."""
    from hwsim.api import read_manifest

    return read_manifest(run_dir)["max_cycles"]


def _fixed(value) -> str:
    """An accuracy for a result line (a summary read back from JSON has null for NaN)."""
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def _cycle_budget(run_dir) -> int | None:
    """The cycle budget manifest.json records for a run directory (None without one)."""
    if run_dir is None:
        return None
    try:
        return int(json.loads((Path(run_dir) / "manifest.json").read_text())["max_cycles"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _report_run(args, result, progress) -> int:
    s = result.summary
    print(f"results: {result.run_dir}")
    if args.plot:
        from hwsim.results.report import plot_run

        print(f"plots: {', '.join(str(p) for p in plot_run(result.run_dir))}")
    if s.get("algorithm") == "backprop":
        reached = (f"reached {s['target_accuracy']:.1%} test accuracy after {s['samples_to_target']:,} "
                   f"samples" if s["status"] == "reached_target" else
                   f"target {s['target_accuracy']:.1%} not reached in {s['samples_seen']:,} samples")
        if s["status"] == "diverged":
            d = s["divergence"]
            reached = (f"diverged at update {d['update']:,} ({d['samples_seen']:,} samples): non-finite "
                       f"{d['quantity']}; {d['hint']}")
        print(f"backprop baseline: {reached}; final test accuracy {_fixed(s['final_test_accuracy'])} "
              f"(best {_fixed(s['best_test_accuracy'])}), {s['wall_seconds']:.1f} s wall time")
        return EXIT_DIVERGED if s["status"] == "diverged" else EXIT_OK
    from hwsim.results.report import breakdown_text, cost_text

    if s["status"] == "reached_target" and not s["samples_to_target"]:
        # The first observation (before any training) already met it: no training time to report.
        print(f"the untrained network already meets the {s['target_accuracy']:.1%} target at its first "
              f"observation, before any training: no training time to report; raise target_accuracy")
    elif s["status"] == "reached_target":
        cost = cost_text(s, s["cycles_to_target"], s["seconds_to_target"], s["energy_joules_to_target"])
        print(f"reached {s['target_accuracy']:.1%} test accuracy after {cost} "
              f"({s['samples_to_target']:,} samples)")
    elif s["status"] == "interrupted":
        kept = (f"; continue with: hwsim run --resume {result.run_dir}" if result.run_dir is not None
                else "")
        print(f"interrupted after {s['cycles_simulated']:,} cycles: a checkpoint and the curve so far are "
              f"kept in {result.run_dir}{kept}")
    elif s["status"] == "diverged":
        d = s["divergence"]
        print(f"diverged at cycle {d['cycle']:,}: non-finite {d['quantity']}; {d['hint']}")
    else:
        cost = cost_text(s, s["cycles_simulated"], s["seconds_simulated"], s["energy_joules"])
        print(f"target {s['target_accuracy']:.1%} not reached within {cost}")
        budget = _cycle_budget(result.run_dir)
        if budget is not None and s["cycles_simulated"] > budget:
            # A step starts only within the budget, but its update phase may end after it.
            print(f"(the budget was {budget:,} cycles: the last update started within it and ended "
                  f"{s['cycles_simulated'] - budget:,} cycles later)")
    if breakdown_text(s):
        print(breakdown_text(s))
    print(f"final test accuracy {_fixed(s['final_test_accuracy'])} (best {_fixed(s['best_test_accuracy'])}); "
          f"{s['steps_simulated']:,} steps simulated in {s['wall_seconds']:.1f} s wall time")
    if s["status"] == "interrupted":
        return 128 + progress.signal_number if progress.signal_number else EXIT_INTERRUPTED
    return EXIT_DIVERGED if s["status"] == "diverged" else EXIT_OK


def _check_trace_size(plan, max_cycles) -> None:
    """A trace holds a few events per step: refuse runs that would make it huge. ``plan``:
    the run's hwsim.run_plan.ResolvedRun."""
    from hwsim.engine.trace import MAX_EVENTS
    from hwsim.results.progress import budget_cycles

    steps = budget_cycles(plan, max_cycles) // plan.interval
    if steps * 3 > MAX_EVENTS:
        raise CliError(f"--trace is for short runs: this one may run {steps:,} steps; limit it with "
                       f"--max-cycles or --set max_steps=N (at most {MAX_EVENTS // 3:,} steps)")


def cmd_compare(args) -> int:
    from hwsim.compare import compare
    from hwsim.spec import parse_set_options
    from hwsim.spec.limits import short

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise CliError(f"--seeds takes comma-separated integers (got {short(args.seeds)})") from None
    if not seeds:
        raise CliError(f"--seeds needs at least one seed (got {short(args.seeds)})")
    for seed in seeds:
        check_option("--seeds", seed, *option_fields()["seeds"])
    chips = [c.strip() for c in args.chips.split(",") if c.strip()] if args.chips else None
    firmware = [f.strip() for f in args.firmware.split(",") if f.strip()] if args.firmware else None
    check_writable(Path(args.out))

    from hwsim.results.report import format_figure, format_si

    def show(name, seed, s):
        chip_time = (f" ({format_si(s['seconds_simulated'], 's')} of chip time)" if s.get("seconds_simulated")
                     is not None else "")
        print(f"  {name:<40} seed {seed}: final test accuracy {s['final_test_accuracy']:.3f} "
              f"after {s['samples_seen']:,} samples{chip_time}", flush=True)

    overrides = _with_data_dir(args, parse_set_options(args.sets))
    table = compare(args.scenario, chips, seeds, args.out, overrides, show, firmware)
    print(f"results: {Path(args.out) / 'comparison.csv'} and curves.csv; plots (PNG and SVG) in "
          f"{Path(args.out) / 'plots'}; an HTML report: hwsim report {args.out}")
    # Time and energy to the target beside the accuracy: "-" where a variant did not reach it,
    # "not modelled" for the energy of a chip without an energy table.
    headline = ["final_test_accuracy", "shortfall_vs_baseline", "seconds_to_target", "energy_joules_to_target"]
    summary = table.groupby("variant", sort=False)[headline].mean().astype(object)
    if "not_modelled" in table:
        unmodelled = table.groupby("variant", sort=False)["not_modelled"].first().astype(str)
        summary.loc[unmodelled.str.contains(r"\benergy\b(?!\.)", regex=True), "energy_joules_to_target"] = \
            "not modelled"
    print(summary.to_string(formatters={c: (lambda v, c=c: "-" if v is None or v != v else
                                             v if isinstance(v, str) else format_figure(v, c)) for c in headline},
                            na_rep="-"))
    if "cycles_to_target" in table:
        untrained = table.loc[table["cycles_to_target"] == 0, "variant"].unique()
        if len(untrained):
            print(f"(the untrained network already meets the target on {', '.join(map(str, untrained))}: "
                  "no training time to compare there; raise target_accuracy)")
    return EXIT_OK
