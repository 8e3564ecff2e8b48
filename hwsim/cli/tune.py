"""The ``hwsim tune`` command (the study itself is hwsim.tune): registered by add_commands.

Exit codes, as ``hwsim sweep``: 0 every trial finished (a trial that misses the target or
diverges is a scored result), 2 bad input, 4 some trials failed with an error (scored, the
study went on; each error is in trials.csv and trials/<n>/error.json), 130 interrupted (the
finished trials are kept; the same command resumes), 143 stopped by SIGTERM.
"""

from __future__ import annotations

import math
from pathlib import Path

from hwsim.cli.common import (EXIT_INTERRUPTED, EXIT_POINTS_FAILED, CliError, add_debug_option, add_set_option,
                              add_where_options, check_writable, sigterm_as_ctrl_c)
from hwsim.tune import OBJECTIVE_UNITS, OBJECTIVES

MAX_TRIALS = 100_000


def add_commands(subparsers, commands: dict) -> None:
    """Add ``tune`` to the CLI parser and its handler to ``commands``."""
    p = subparsers.add_parser("tune", help="search the firmware's knobs (Optuna) for the least time or "
                                           "energy to the scenario's target (resumes)")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file or preset name")
    p.add_argument("--chip", help="chip preset name or YAML file (replaces the scenario's)")
    p.add_argument("--firmware", help="firmware preset name or YAML file to tune (replaces the scenario's)")
    p.add_argument("--space", metavar="SPACE",
                   help="search space: a name in tunes/ or a YAML file (default: mgd; see docs/tuning.md)")
    p.add_argument("--trials", type=int, default=40, metavar="N",
                   help="trials in the study (default 40); a larger N continues a finished study")
    p.add_argument("--objective", choices=list(OBJECTIVES), default="cycles",
                   help="what to minimise to the target: chip cycles, seconds or joules (default cycles)")
    add_where_options(p, "trials")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the sampler (default 0); the runs use the scenario's seed")
    add_set_option(p, help="override a dotted path on every trial, e.g. --set max_cycles=200000 (repeatable)")
    p.add_argument("--out", help="study folder (default: runs/tune-<scenario>-<objective>; the same folder "
                                 "resumes)")
    p.add_argument("--quiet", action="store_true", help="no per-trial lines")
    add_debug_option(p)
    commands["tune"] = cmd_tune


def cmd_tune(args) -> int:
    from hwsim.spec import parse_set_options
    from hwsim.spec.limits import MAX_SEED
    from hwsim.sweep.execute import SweepError
    from hwsim.tune.outputs import BEST_FIRMWARE, PLOTS_DIR
    from hwsim.tune.study import TuneError, default_tune_dir, plan_tune, run_study

    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1 (got {args.workers}); --serial runs in this process")
    if not 1 <= args.trials <= MAX_TRIALS:
        raise CliError(f"--trials out of range (got {args.trials}; expected 1 to {MAX_TRIALS:,})")
    if not 0 <= args.seed <= MAX_SEED:
        raise CliError(f"--seed out of range (got {args.seed}; expected 0 to 2**63 - 1)")
    try:
        plan = plan_tune(args.scenario, chip=args.chip, firmware=args.firmware, space=args.space,
                         objective=args.objective, seed=args.seed, overrides=parse_set_options(args.sets))
    except TuneError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out) if args.out else default_tune_dir(plan)
    check_writable(out)
    unit = OBJECTIVE_UNITS[plan.objective]
    print(f"tune {plan.base.scenario.name} on {plan.base.chip.name}, firmware {plan.base.firmware.name}: "
          f"{args.trials} trials of {len(plan.space.params)} knobs ({plan.space_path}), batches of "
          f"{plan.space.batch}, objective {plan.objective} to {plan.base.scenario.target_accuracy:g} -> {out}",
          flush=True)

    def show(rec, reused):
        if args.quiet:
            return
        values = ", ".join(f"{p.removeprefix('firmware.')}={_short(v)}" for p, v in rec.params.items())
        if rec.state == "pruned":
            what = f"pruned at step {rec.pruned_step:,}"
        elif rec.state == "failed":
            what = f"failed ({rec.error}); score {rec.score:.4g}"
        elif rec.reached:
            what = f"{rec.score:.4g} {unit} to target"
        else:
            what = f"{rec.status}, best accuracy {_short(rec.best_test_accuracy)}; score {rec.score:.4g}"
        print(f"  trial {rec.number:>4}{' (done earlier)' if reused else ''}: {values} -> {what}", flush=True)

    term = {}
    try:
        with sigterm_as_ctrl_c(term):
            outcome = run_study(plan, out, trials=args.trials, workers=args.workers, scheduler=args.scheduler,
                                serial=args.serial, on_trial=show)
    except TuneError as exc:
        raise CliError(str(exc)) from None
    except SweepError as exc:      # the scheduler cannot be reached, the folder is busy
        raise CliError(str(exc)) from None
    print(f"ran {outcome.ran} trial{'s' if outcome.ran != 1 else ''} ({outcome.where or 'nothing to run'}), "
          f"{outcome.reused} done earlier")
    print(f"trials: {out / 'trials.csv'} and trials.parquet; plots: {out / PLOTS_DIR}")
    best = outcome.best
    if best is not None:
        verdict = (f"{best.score:.4g} {unit} to target" if best.reached
                   else f"did not reach the target (best accuracy {_short(best.best_test_accuracy)})")
        print(f"best: trial {best.number}, {verdict}: "
              + ", ".join(f"{p}={_short(v)}" for p, v in best.params.items()))
        print(f"best firmware: {out / BEST_FIRMWARE} (check it with 'hwsim validate')")
    else:
        print("no trial finished yet: no best firmware")
    if outcome.interrupted:
        print(f"interrupted: {len(outcome.records)} trials are kept; run the same command again to go on")
        return 128 + term["signal"] if term else EXIT_INTERRUPTED
    if outcome.failed:
        print(f"{outcome.failed} trial{'s' if outcome.failed != 1 else ''} failed with an error (scored, the "
              "study went on): see the error column of trials.csv and trials/<n>/error.json")
        return EXIT_POINTS_FAILED
    return 0


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)
