"""What every ``hwsim`` command shares: exit codes, the bad-input error, option checks, the
hidden ``--debug`` and the ``--set`` option, the output-folder check, SIGTERM as Ctrl-C and the
mapping of errors to one line on stderr and an exit code.

Design: this module sits below every command module (``hwsim.cli.run``, ``spec``, ``sweep``,
``bench``, ``tune``) and imports none of them, so the CLI package has no import circle. It
imports only the standard library at module level: ``python -m hwsim.cli`` must reach
``main()`` (which notes an early Ctrl-C) before the heavy libraries load, so the hwsim
modules these helpers need are imported where they are used.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 1, 2, 3
EXIT_POINTS_FAILED, EXIT_INTERRUPTED = 4, 130

#: Options that name a file or folder: an empty one would silently mean the current folder.
PATH_OPTIONS = ("out", "trace", "resume", "data_dir", "json", "space", "scheduler")


class CliError(Exception):
    """Bad input found by the CLI itself (not in a spec file)."""


def print_error(message: str) -> None:
    """One ``hwsim: ...`` line on stderr."""
    print(f"hwsim: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- options


def add_debug_option(parser) -> None:
    """``--debug`` after the command too (``hwsim run X --debug``), hidden from its help."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_set_option(parser, help: str = "override a dotted path, e.g. --set firmware.eta=0.5 "
                                       "(repeatable)") -> None:
    """``--set PATH=VALUE``, repeatable, collected in ``args.sets``."""
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE", help=help)


def add_where_options(parser, items: str) -> None:
    """Where a sweep's points or a study's trials run (``items``: 'points', 'trials'): a local
    Dask cluster of --workers N, an existing one at --scheduler, or --serial in this process."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local Dask cluster (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask cluster, e.g. tcp://host:8786 (see docs/sweeps.md)")
    where.add_argument("--serial", action="store_true", help=f"run the {items} one by one in this process")


def option_fields() -> dict:
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


def check_option(flag: str, value, model, field: str) -> None:
    """``value`` of option ``flag`` against the declared range of ``model.field``."""
    from hwsim.spec.limits import check_option as problem_of

    problem = problem_of(flag, value, model, field)
    if problem is not None:
        raise CliError(problem)


def check_options(args) -> None:
    """Every numeric option given, against its field's range (hwsim.spec.limits); no path
    option given as an empty string."""
    for dest, (model, field) in option_fields().items():
        value = getattr(args, dest, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_option(f"--{dest.replace('_', '-')}", value, model, field)
    for dest in PATH_OPTIONS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            check_path_option(f"--{dest.replace('_', '-')}", value)


def check_path_option(flag: str, value: str) -> None:
    """A path option that is empty, or whose names the file system cannot hold, is refused
    naming the option (the system's own error would name only the path)."""
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


def check_writable(out: Path) -> None:
    """Fail early, with a clear message, when the output folder cannot be created or written."""
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CliError(f"--out {out}: {probe} exists and is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CliError(f"--out {out}: cannot write into {probe} (permission denied); choose another --out")


# --------------------------------------------------------------------------- signals and errors


@contextlib.contextmanager
def sigterm_as_ctrl_c(state: dict):
    """The first SIGTERM (a batch system's stop) stops a sweep or study as a first Ctrl-C does:
    the points not yet finished are cancelled, the finished ones and the tables kept; a second
    one kills at once. ``state["signal"]`` is set when it came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        state["signal"] = signum
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(command, args) -> int:
    """``command(args)`` after the option checks, with every error it raises turned into its
    lines on stderr and an exit code (a traceback only with --debug, for the errors that are
    not the input's fault)."""
    from hwsim.data.errors import DataError
    from hwsim.engine.checkpoint import CheckpointError
    from hwsim.results.rundir import OutputError
    from hwsim.spec.errors import SpecError

    try:
        check_options(args)
        return command(args)
    except OutputError as exc:
        if args.debug:
            raise
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except DataError as exc:
        print_error(str(exc))
        print_error("the data set could not be built; nothing was run")
        return EXIT_BAD_INPUT
    except SpecError as exc:   # bad specs, or a bad checkpoint (CheckpointError)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        where = "" if isinstance(exc, CheckpointError) else f" {n} problem{'s' if n != 1 else ''} in the specs;"
        print(f"hwsim:{where} nothing was run", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CliError as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `hwsim show ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if args.debug:
            raise
        from hwsim.spec.limits import short_path

        print_error(f"{short_path(exc.filename or '')}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - last line of defence, never a bare traceback
        if args.debug:
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                    "traceback and report it)")
        return EXIT_INTERNAL
