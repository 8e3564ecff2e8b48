"""The sweep commands: ``hwsim sweep`` (run a sweep file's points, resuming) and ``hwsim
report`` (plots and an HTML page of a run, sweep or compare folder); the sweep library is hwsim.sweep.

Exit codes of ``hwsim sweep``: 0 every point finished (a diverged point is a result),
2 bad input, 4 some points failed (each one's error is in its error.json and in the table),
130 interrupted (what finished is kept; the same command resumes), 143 stopped by SIGTERM
(the same as a first Ctrl-C).
"""

from __future__ import annotations

import json
from pathlib import Path

from hwsim.cli.common import (EXIT_INTERRUPTED, EXIT_POINTS_FAILED, CliError, add_debug_option, add_set_option,
                              add_where_options, check_writable, sigterm_as_ctrl_c)


def add_commands(subparsers, commands: dict) -> None:
    """Add this module's subcommands to the CLI parser and their handlers to ``commands``."""
    p = subparsers.add_parser("sweep", help="run every point of a sweep file on Dask (resumes: "
                                            "finished points are not run again)")
    p.add_argument("sweep", metavar="SWEEP", help="sweep YAML file (kind: sweep; see docs/sweeps.md)")
    p.add_argument("--out", help="sweep folder (default: runs/sweep-<name>; the same folder resumes)")
    add_where_options(p, "points")
    add_set_option(p, help="override a dotted path on every point, e.g. --set max_cycles=20000 (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="list the points and which are finished; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-point lines")
    add_debug_option(p)
    commands["sweep"] = cmd_sweep

    p = subparsers.add_parser("report", help="plots (PNG and SVG) and a self-contained HTML report of a "
                                             "run, sweep or compare folder")
    p.add_argument("dir", metavar="DIR", help="run, sweep or compare folder")
    add_debug_option(p)
    commands["report"] = cmd_report


def cmd_sweep(args) -> int:
    from hwsim.results.progress import SweepProgress, bar_wanted
    from hwsim.results.tables import point_dir, point_state
    from hwsim.spec import parse_set_options
    from hwsim.sweep.execute import SweepError, default_sweep_dir, run_sweep
    from hwsim.sweep.plan import plan_sweep

    from hwsim.spec.loader import locate_spec

    plan = plan_sweep(locate_spec(args.sweep, kinds=("sweep",)), parse_set_options(args.sets))
    out = Path(args.out) if args.out else default_sweep_dir(plan)
    check_writable(out)
    runs = plan.unique_points()
    state = {p.key: point_state(point_dir(out, p.key)) for p in runs}
    finished = sum(s == "finished" for s in state.values())
    dup = f", {len(runs)} distinct runs" if len(runs) != len(plan.points) else ""
    print(f"sweep {plan.name}: {len(plan.points)} points{dup}, {finished} finished earlier, "
          f"{len(runs) - finished} to run -> {out}", flush=True)
    if args.dry_run:
        for p in plan.points:
            print(f"  point {p.index:>4}  {p.key}  {state[p.key]:<8}  {p.label()}")
        return 0
    progress = SweepProgress("bar" if bar_wanted(args.quiet) else "off" if args.quiet else "lines")
    term = {}
    try:
        with sigterm_as_ctrl_c(term):
            outcome = run_sweep(plan, out, workers=args.workers, scheduler=args.scheduler,
                                serial=args.serial, progress=progress)
    except SweepError as exc:
        raise CliError(str(exc)) from None
    finally:
        progress.close()
    table = outcome.table
    print(f"ran {outcome.ran} point{'s' if outcome.ran != 1 else ''} ({outcome.where}), skipped "
          f"{outcome.skipped} finished earlier")
    print(f"results: {out / 'results.parquet'} and results.csv; plots and report: hwsim report {out}")
    _print_overview(table, plan.columns)
    _print_warnings(table)
    if outcome.interrupted:
        print(f"interrupted: {int((table.state == 'finished').sum())} of {len(table)} points are finished and "
              f"kept; run the same command again to run the other {outcome.pending}")
        return 128 + term["signal"] if term else EXIT_INTERRUPTED
    if outcome.failed_total:
        print(f"{outcome.failed_total} point{'s' if outcome.failed_total != 1 else ''} failed: the error is in "
              f"the table's error column and in points/<key>/error.json; rerunning retries them")
        return EXIT_POINTS_FAILED
    return 0


def _print_overview(table, columns: list[str]) -> None:
    """Median over seeds of the headline figures, per combination of swept values."""
    done = table[table.state == "finished"]
    if done.empty:
        return
    figures = [c for c in ("seconds_to_target", "final_test_accuracy") if c in done]
    if columns:
        grouped = done.groupby(columns, sort=True, dropna=False)
        if grouped.ngroups > 30:
            return
        overview = grouped[figures].median()
        overview.insert(0, "points", grouped.size())
        overview.insert(1, "reached", grouped["status"].apply(lambda s: int((s == "reached_target").sum())))
    else:
        overview = done[figures].median().to_frame().T
    print("median over seeds:")
    print(overview.to_string(float_format=lambda v: f"{v:.4g}"))


def _print_warnings(table) -> None:
    """How many finished points the spec advice warned about (each point's warnings are in
    the table's warnings column and its summary.json), and the first warning."""
    if "warnings" not in table:
        return
    warned = [json.loads(w) for w in table.warnings if isinstance(w, str) and w not in ("[]", "")]
    if warned:
        print(f"{len(warned)} point{'s' if len(warned) != 1 else ''} warned (see the warnings column), "
              f"e.g. warning: {warned[0][0]}")


def cmd_report(args) -> int:
    from hwsim.results.report import PLOTS_DIR, write_report

    try:
        page = write_report(args.dir)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    plots = sorted((Path(args.dir) / PLOTS_DIR).glob("*.png"))
    print(f"report: {page} ({len(plots)} plots in {Path(args.dir) / PLOTS_DIR}, each as .png and .svg)")
    return 0
