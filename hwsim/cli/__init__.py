"""Command line: ``hwsim run SCENARIO [...]``.

The ``hwsim`` command (entry point ``hwsim.cli:main``; also ``python -m hwsim.cli``). Its
commands, one module per family, each with ``add_commands(subparsers, commands)`` that adds
its subparsers and handlers:

- ``hwsim.cli.run``: ``run`` (and ``run --resume DIR``), ``compare``
- ``hwsim.cli.spec``: ``validate``, ``schema``, ``list``, ``show``
- ``hwsim.cli.sweep``: ``sweep``, ``report``
- ``hwsim.cli.bench``: ``bench``
- ``hwsim.cli.tune``: ``tune``

``hwsim.cli.common`` holds what they share (exit codes, ``CliError``, option checks,
``check_writable``, ``sigterm_as_ctrl_c``, the error-to-exit-code mapping); it imports no
command module, and no command module imports another, so the package has no import circle.
The libraries the commands drive (``hwsim.sweep``, ``hwsim.bench``, ``hwsim.tune``,
``hwsim.api``...) know nothing of the CLI. Every module of this package imports only light
modules at its top: the heavy ones (numpy, numba, pandas, pydantic) load inside ``main()``,
where an early Ctrl-C is handled.

Exit codes: 0 the run completed (target reached or not), 2 bad input (one line per problem,
no traceback unless --debug; also an unusable checkpoint or an output folder that cannot be
written), 3 training diverged (NaN/inf), 1 an internal error, 4 some points of a sweep
failed, 130 interrupted (Ctrl-C; what finished is kept), 143 stopped by SIGTERM (a run
writes a checkpoint first: ``hwsim run --resume DIR`` continues it).
"""

from __future__ import annotations

import argparse
import signal
import threading

DESCRIPTION = ("hwsim: cycle-level emulation of chips that train on-chip with multiplexed gradient\n"
               "descent. Train a scenario on a chip, sweep designs, and report the time, energy and\n"
               "accuracy to a target.")
EPILOG = """examples:
  hwsim run quickstart                      train the quickstart scenario on its chip
  hwsim run quickstart --chip rram_crossbar the same on another chip
  hwsim list                                the chip, firmware, scenario and sweep presets
  hwsim show rram_crossbar                  a preset with every default filled in
  hwsim device rram_crossbar                a device's response to programming pulses
  hwsim sweep sweeps/noise.yaml             every point of a sweep, then hwsim report DIR

hwsim COMMAND --help gives each command's options; the docs are in docs/ and README.md."""

from hwsim.cli import bench, run, spec, sweep, tune
from hwsim.cli.common import EXIT_INTERRUPTED, print_error, run_command

# Commands whose first moments are spent importing the engine (numpy, numba, pandas...).
_ENGINE_COMMANDS = ("run", "compare", "sweep")


class _Parser(argparse.ArgumentParser):
    """argparse whose error lines stay readable: a value it echoes back (an option of 5,000
    digits, a long path) is cut to its start and its length."""

    def error(self, message):
        words = [w if len(w) <= 80 else f"{w[:57]}... ({len(w):,} characters)" for w in message.split(" ")]
        super().error(" ".join(words))


def version_text() -> str:
    """``hwsim 0.1.0 from /path/to/hwsim (python 3.11.7)``: the installed distribution's
    version (importlib.metadata), else the package's own when it runs uninstalled from a
    checkout."""
    import importlib.metadata
    import platform
    from pathlib import Path

    import hwsim

    try:
        version = importlib.metadata.version("hwsim")
    except importlib.metadata.PackageNotFoundError:
        version = f"{hwsim.__version__} (not installed)"
    return f"hwsim {version} from {Path(hwsim.__file__).parent} (python {platform.python_version()})"


class _VersionAction(argparse.Action):
    """--version: the text is worked out only when asked for (it reads package metadata)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The ``hwsim`` parser and the handler of each command, by name."""
    parser = _Parser(prog="hwsim", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction, help="print hwsim's version and where it runs from")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict = {}
    for family in (run, spec, sweep, bench, tune):    # the order of `hwsim --help`
        family.add_commands(sub, commands)
    return parser, commands


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
            args, command = _start(argv)
        finally:
            if own_handler:     # None: the previous handler was not set from Python
                signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if noted:
            raise KeyboardInterrupt
        return run_command(command, args)
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED


def _start(argv: list[str] | None):
    """The parsed command line and its handler, with the modules the command needs imported."""
    import hwsim.data.errors  # noqa: F401
    import hwsim.engine.checkpoint  # noqa: F401
    import hwsim.results.rundir  # noqa: F401
    import hwsim.spec.errors  # noqa: F401

    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if args.command in _ENGINE_COMMANDS:
        import hwsim.api  # noqa: F401
    return args, commands[args.command]
