"""Command line: ``hwsim run SCENARIO [...]``.

Exit codes: 0 the run completed (target reached or not), 2 bad input (one line per problem,
no traceback unless --debug; also an unusable checkpoint or an output folder that cannot be
written), 3 training diverged (NaN/inf), 1 an internal error, 4 some points of a sweep
failed, 130 interrupted (Ctrl-C; what finished is kept), 143 stopped by SIGTERM (a run
writes a checkpoint first: ``hwsim run --resume DIR`` continues it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 1, 2, 3
EXIT_POINTS_FAILED, EXIT_INTERRUPTED = 4, 130


class CliError(Exception):
    """Bad input found by the CLI itself (not in a spec file)."""


class _Parser(argparse.ArgumentParser):
    """argparse whose error lines stay readable: a value it echoes back (an option of 5,000
    digits, a long path) is cut to its start and its length."""

    def error(self, message):
        words = [w if len(w) <= 80 else f"{w[:57]}... ({len(w):,} characters)" for w in message.split(" ")]
        super().error(" ".join(words))


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hwsim", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="train a scenario on its chip and write a run directory")
    run.add_argument("scenario", nargs="?", help="scenario YAML file (optional with --resume)")
    run.add_argument("--chip", help="chip preset name or path (replaces the scenario's)")
    run.add_argument("--firmware", help="firmware preset name or path (replaces the scenario's)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE",
                     help="override a dotted path, e.g. --set firmware.eta=0.5 (repeatable)")
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
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    cmp = sub.add_parser("compare", help="train a scenario on several chips and tabulate the "
                                           "shortfall against its own chip")
    cmp.add_argument("scenario", help="scenario YAML file (its chip is the baseline)")
    cmp.add_argument("--chips", help="comma-separated chip names or paths (default: the "
                                     "scenario's compare_chips)")
    cmp.add_argument("--firmware", help="comma-separated firmware names or paths (default: the "
                                        "scenario's compare_firmware)")
    cmp.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    cmp.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE",
                     help="override a dotted path (repeatable)")
    cmp.add_argument("--data-dir", metavar="DIR",
                     help="folder holding the data files (sets dataset.data_dir; default: $HWSIM_DATA, "
                          "else ./data)")
    cmp.add_argument("--out", default="runs/compare", help="output folder (default: runs/compare)")
    cmp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    from hwsim.bench.commands import add_commands as add_bench_commands
    from hwsim.spec.commands import add_commands
    from hwsim.sweep.commands import add_commands as add_sweep_commands
    from hwsim.tune.commands import add_commands as add_tune_commands

    add_commands(sub, COMMANDS)
    add_sweep_commands(sub, COMMANDS)
    add_bench_commands(sub, COMMANDS)
    add_tune_commands(sub, COMMANDS)
    return parser


def _with_data_dir(args, overrides: dict, **which) -> dict:
    """``overrides`` plus dataset.data_dir from --data-dir, when the data set reads files."""
    if args.data_dir is None:
        return overrides
    if not args.data_dir.strip():
        raise CliError("--data-dir needs a folder (got an empty string)")
    from hwsim.spec import load_scenario

    dataset = load_scenario(args.scenario, overrides, **which).scenario.dataset
    if "data_dir" not in type(dataset).model_fields:
        print(f"warning: --data-dir has no effect: the {dataset.name} data set reads no files",
              file=sys.stderr)
        return overrides
    return {**overrides, "dataset.data_dir": args.data_dir}


def _option_fields() -> dict:
    """The numeric options of every command, by argparse dest, and the field whose declared
    range each takes: an option accepts exactly what its spec field accepts."""
    from hwsim.spec.limits import OptionRanges
    from hwsim.spec.models import ScenarioSpec

    return {"max_cycles": (ScenarioSpec, "max_cycles"),
            "checkpoint_every": (ScenarioSpec, "max_cycles"),    # a number of cycles of the budget
            "seed": (ScenarioSpec, "seed"),
            "seeds": (ScenarioSpec, "seed"),
            "steps": (ScenarioSpec, "max_steps"),
            "checkpoint_seconds": (OptionRanges, "checkpoint_seconds"),
            "workers": (OptionRanges, "workers"),
            "repeats": (OptionRanges, "repeats")}


def _check_option(flag: str, value, model, field: str) -> None:
    from hwsim.spec.limits import check_option

    problem = check_option(flag, value, model, field)
    if problem is not None:
        raise CliError(problem)


#: Options that name a file or folder: an empty one would silently mean the current folder.
PATH_OPTIONS = ("out", "trace", "resume", "data_dir", "json", "space", "scheduler")


def _check_options(args) -> None:
    """Every numeric option given, against its field's range (hwsim.spec.limits); no path
    option given as an empty string."""
    for dest, (model, field) in _option_fields().items():
        value = getattr(args, dest, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_option(f"--{dest.replace('_', '-')}", value, model, field)
    for dest in PATH_OPTIONS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            _check_path_option(f"--{dest.replace('_', '-')}", value)


def _check_path_option(flag: str, value: str) -> None:
    """A path option that is empty, or whose names the file system cannot hold, is refused
    naming the option (the system's own error would name only the path)."""
    import os

    from hwsim.spec.limits import short_path

    if not value.strip():
        raise CliError(f"{flag} needs a path (got an empty string)")
    if flag == "--scheduler":
        return
    try:
        name_max, path_max = os.pathconf(".", "PC_NAME_MAX"), os.pathconf(".", "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    longest = max(len(os.fsencode(part)) for part in value.split(os.sep))
    if longest > name_max or len(os.fsencode(value)) >= path_max:
        raise CliError(f"{flag} {short_path(value)}: too long for the file system (got a name of "
                       f"{longest:,} bytes; expected names of at most {name_max} bytes and a path of "
                       f"less than {path_max}); choose a shorter path")


def _checkpoint_options(args) -> dict:
    from hwsim.engine.checkpoint import DEFAULT_EVERY_SECONDS

    seconds = args.checkpoint_seconds
    return {"checkpoint_every": args.checkpoint_every,
            "checkpoint_seconds": DEFAULT_EVERY_SECONDS if seconds is None else seconds}


def _cmd_run(args) -> int:
    from hwsim.api import default_run_dir, run
    from hwsim.spec import load_scenario, parse_set_options

    checkpoints = _checkpoint_options(args)
    if args.resume is not None:
        return _cmd_resume(args, checkpoints)
    if args.scenario is None:
        raise CliError("hwsim run needs a SCENARIO file (or --resume DIR to continue a run)")
    overrides = _with_data_dir(args, parse_set_options(args.sets), chip=args.chip, firmware=args.firmware)
    spec = load_scenario(args.scenario, overrides, chip=args.chip, firmware=args.firmware)
    seed = spec.scenario.seed if args.seed is None else args.seed
    from hwsim.spec.advice import spec_warnings

    for line in spec_warnings(spec):
        print(f"warning: {line}", file=sys.stderr)
    out = Path(args.out) if args.out is not None else default_run_dir(spec, seed)
    _check_writable(out)
    if args.trace:
        _check_trace_size(spec, args.max_cycles)
    from hwsim.results.progress import RunProgress, bar_wanted, budget_cycles

    # The first Ctrl-C or SIGTERM stops the run at its next resumable point, writes a
    # checkpoint and keeps what ran.
    with RunProgress(budget_cycles(spec, args.max_cycles), bar_wanted(args.quiet)) as progress:
        result = run(spec, seed, out=out, max_cycles=args.max_cycles, progress=progress, trace=args.trace,
                     should_stop=lambda: progress.stop_requested, overwrite=args.overwrite, **checkpoints)
    return _report_run(args, result, progress)


def _cmd_resume(args, checkpoints: dict) -> int:
    from hwsim.api import resume
    from hwsim.spec import load_scenario, parse_set_options

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
    from hwsim.engine.checkpoint import CHECKPOINT_FILE
    from hwsim.results.progress import RunProgress, bar_wanted

    from hwsim.engine.checkpoint import peek_header

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

    if s["status"] == "reached_target":
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
    if breakdown_text(s):
        print(breakdown_text(s))
    print(f"final test accuracy {_fixed(s['final_test_accuracy'])} (best {_fixed(s['best_test_accuracy'])}); "
          f"{s['steps_simulated']:,} steps simulated in {s['wall_seconds']:.1f} s wall time")
    if s["status"] == "interrupted":
        return 128 + progress.signal_number if progress.signal_number else EXIT_INTERRUPTED
    return EXIT_DIVERGED if s["status"] == "diverged" else EXIT_OK


def _check_trace_size(spec, max_cycles) -> None:
    """A trace holds a few events per step: refuse runs that would make it huge."""
    from hwsim.chip.timing import inference_timing
    from hwsim.engine.trace import MAX_EVENTS
    from hwsim.results.progress import budget_cycles

    steps = budget_cycles(spec, max_cycles) // inference_timing(spec.chip, spec.scenario.layout()).interval
    if steps * 3 > MAX_EVENTS:
        raise CliError(f"--trace is for short runs: this one may run {steps:,} steps; limit it with "
                       f"--max-cycles or --set max_steps=N (at most {MAX_EVENTS // 3:,} steps)")


def _check_writable(out: Path) -> None:
    """Fail early, with a clear message, when the run directory cannot be created or written."""
    import os

    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CliError(f"--out {out}: {probe} exists and is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CliError(f"--out {out}: cannot write into {probe} (permission denied); choose another --out")


def _cmd_compare(args) -> int:
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
        _check_option("--seeds", seed, *_option_fields()["seeds"])
    chips = [c.strip() for c in args.chips.split(",") if c.strip()] if args.chips else None
    firmware = [f.strip() for f in args.firmware.split(",") if f.strip()] if args.firmware else None
    _check_writable(Path(args.out))

    def show(name, seed, s):
        chip_time = (f" ({s['seconds_simulated']:.3g} s of chip time)" if s.get("seconds_simulated")
                     is not None else "")
        print(f"  {name:<40} seed {seed}: final test accuracy {s['final_test_accuracy']:.3f} "
              f"after {s['samples_seen']:,} samples{chip_time}", flush=True)

    overrides = _with_data_dir(args, parse_set_options(args.sets))
    table = compare(args.scenario, chips, seeds, args.out, overrides, show, firmware)
    print(f"results: {Path(args.out) / 'comparison.csv'} and curves.csv")
    # Time and energy to the target beside the accuracy: "-" where a variant did not reach it,
    # "not modelled" for the energy of a chip without an energy table.
    headline = ["final_test_accuracy", "shortfall_vs_baseline", "seconds_to_target", "energy_joules_to_target"]
    summary = table.groupby("variant", sort=False)[headline].mean().astype(object)
    if "not_modelled" in table:
        unmodelled = table.groupby("variant", sort=False)["not_modelled"].first().astype(str)
        summary.loc[unmodelled.str.contains(r"\benergy\b(?!\.)", regex=True), "energy_joules_to_target"] = \
            "not modelled"
    print(summary.to_string(formatters={c: (lambda v: "-" if v != v or v is None else
                                             v if isinstance(v, str) else f"{v:.3g}") for c in headline},
                            na_rep="-"))
    return EXIT_OK


COMMANDS = {"run": _cmd_run, "compare": _cmd_compare}


# Commands whose first moments are spent importing the engine (numpy, numba, pandas...).
_ENGINE_COMMANDS = ("run", "compare", "sweep")


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C from the very start is one line and exit 130, never a traceback: while hwsim
    # imports its libraries (a few tenths of a second) a Ctrl-C is only noted, since one
    # landing inside a C extension's import turns into an ImportError; it is acted on as soon
    # as the imports are done. Once a run is under way its own handler stops it cleanly.
    noted: list[int] = []
    own_handler = threading.current_thread() is threading.main_thread()
    if own_handler:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    try:
        try:
            args = _start(argv)
        finally:
            if own_handler:     # None: the previous handler was not set from Python
                signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if noted:
            raise KeyboardInterrupt
        return _main(args)
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _start(argv: list[str] | None):
    """The parsed command line, with the modules its command needs imported."""
    import hwsim.data.errors  # noqa: F401
    import hwsim.engine.checkpoint  # noqa: F401
    import hwsim.results.rundir  # noqa: F401
    import hwsim.spec.errors  # noqa: F401

    args = _build_parser().parse_args(argv)
    if args.command in _ENGINE_COMMANDS:
        import hwsim.api  # noqa: F401
    return args


def _main(args) -> int:
    from hwsim.data.errors import DataError
    from hwsim.engine.checkpoint import CheckpointError
    from hwsim.results.rundir import OutputError
    from hwsim.spec.errors import SpecError

    try:
        _check_options(args)
        return COMMANDS[args.command](args)
    except OutputError as exc:
        if args.debug:
            raise
        print(f"hwsim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DataError as exc:
        print(f"hwsim: {exc}", file=sys.stderr)
        print("hwsim: the data set could not be built; nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SpecError as exc:   # bad specs, or a bad checkpoint (CheckpointError)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        where = "" if isinstance(exc, CheckpointError) else f" {n} problem{'s' if n != 1 else ''} in the specs;"
        print(f"hwsim:{where} nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CliError as exc:
        print(f"hwsim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `hwsim show ... | head`): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if args.debug:
            raise
        from hwsim.spec.limits import short_path

        print(f"hwsim: {short_path(exc.filename or '')}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - last line of defence, never a bare traceback
        if args.debug:
            raise
        print(f"hwsim: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
              "traceback and report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
