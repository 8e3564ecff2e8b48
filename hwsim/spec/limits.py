"""Bounds on what a user may ask for: one range policy for spec fields and CLI options, and a
memory budget checked before anything large is allocated.

Ranges are declared once, on the pydantic fields of ``hwsim.spec.models`` (``ge``/``le``...).
A CLI option that sets a spec value (``--max-cycles``, ``--seed``, ``--checkpoint-every``)
is checked against the same field with :func:`check_option`, so the option and the YAML field
accept exactly the same numbers and say so in the same words.

Memory: :func:`memory_budget` is what a run may plan to hold (``HWSIM_MEMORY_LIMIT`` when set,
e.g. ``"2 GiB"`` or a number of bytes; else 80 % of the memory the machine has available
now). Code that is about to allocate something whose size a user controls (network
parameters, data sets, checkpoint members) estimates it first and refuses with the figure
(:func:`memory_problem`), instead of letting the machine swap or the kernel kill hwsim.
"""

from __future__ import annotations

import math
import os
import re
import stat

import annotated_types
import pydantic

#: Seeds become numpy SeedSequence entropy and int64 table columns.
MAX_SEED = 2**63 - 1

#: Fraction of the available memory a run may plan to use when HWSIM_MEMORY_LIMIT is unset.
MEMORY_FRACTION = 0.8

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def field_bounds(model, name: str) -> tuple[float | None, bool, float | None, bool]:
    """(low, low_inclusive, high, high_inclusive) declared on ``model.name`` (None: open)."""
    low = high = None
    low_incl = high_incl = True
    for item in model.model_fields[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low, low_incl = item.ge, True
        elif isinstance(item, annotated_types.Gt):
            low, low_incl = item.gt, False
        elif isinstance(item, annotated_types.Le):
            high, high_incl = item.le, True
        elif isinstance(item, annotated_types.Lt):
            high, high_incl = item.lt, False
    return low, low_incl, high, high_incl


def range_text(model, name: str) -> str:
    """The accepted range of ``model.name`` in words, e.g. 'an integer from 1 to 10**15'."""
    low, low_incl, high, high_incl = field_bounds(model, name)
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_incl else '>'} {_number(low)}")
    if high is not None:
        parts.append(f"{'<=' if high_incl else '<'} {_number(high)}")
    return " and ".join(parts) if parts else "any value"


def check_option(flag: str, value, model, name: str) -> str | None:
    """A message when the CLI option ``flag`` is outside ``model.name``'s declared range, else
    None. The message names the option, the value (shortened), the range and the field."""
    low, low_incl, high, high_incl = field_bounds(model, name)
    try:
        ok = not (isinstance(value, float) and not math.isfinite(value))
        ok = ok and (low is None or (value >= low if low_incl else value > low))
        ok = ok and (high is None or (value <= high if high_incl else value < high))
    except TypeError:
        ok = False
    if ok:
        return None
    unit = (model.model_fields[name].json_schema_extra or {}).get("x-unit", "-")
    unit_text = "" if unit in ("-", None) else f" {unit}"
    source = "" if model is OptionRanges else f", as for the spec field {name}"
    return f"{flag} is out of range (got {short(value)}; expected {range_text(model, name)}{unit_text}{source})"


def _number(v) -> str:
    if isinstance(v, int) and abs(v) >= 10**6:
        exp = round(math.log10(abs(v)))
        if 10**exp == abs(v):
            return f"{'-' if v < 0 else ''}10**{exp}"
        if v == 2**63 - 1:
            return "2**63 - 1"
        return f"{v:,}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def short(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long it was: messages stay one
    readable line whatever a user typed."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 3]}... ({len(text):,} characters)"


def short_path(path, limit: int = 120) -> str:
    """A path for a message: whole when short, else its start and end around '...' with its
    length (the end names the file, the start where it is)."""
    text = str(path)
    if len(text) <= limit:
        return text
    keep = (limit - 30) // 2
    return f"{text[:keep]}...{text[-keep:]} ({len(text):,} characters)"


def parse_bytes(text: str) -> int:
    """'2 GiB', '500MB', '123456' -> bytes (ValueError when unreadable)."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a memory size (got {short(text)}; expected e.g. '2 GiB' or a number of bytes)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def available_memory() -> int:
    """Bytes the machine can give now (MemAvailable), or its physical memory when unknown."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 8 * 2**30


def memory_budget() -> int:
    """Bytes a run may plan to allocate: HWSIM_MEMORY_LIMIT when set, else a fraction of the
    memory available now."""
    env = os.environ.get("HWSIM_MEMORY_LIMIT", "").strip()
    if env:
        try:
            return parse_bytes(env)
        except ValueError:
            pass   # an unreadable limit is reported by check_environment(); fall back here
    return int(available_memory() * MEMORY_FRACTION)


def check_environment() -> str | None:
    """A message when HWSIM_MEMORY_LIMIT is set but unreadable, else None."""
    env = os.environ.get("HWSIM_MEMORY_LIMIT", "").strip()
    if not env:
        return None
    try:
        parse_bytes(env)
    except ValueError as exc:
        return f"HWSIM_MEMORY_LIMIT: {exc}"
    return None


def format_bytes(n: float) -> str:
    """Bytes for people: '3.2 GiB', '512 KiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def memory_problem(nbytes: float, what: str, fix: str) -> str | None:
    """A message when ``nbytes`` (an estimate of what ``what`` would allocate) exceeds the
    memory budget, else None. ``fix`` says what to change, e.g. 'use fewer hidden units'."""
    budget = memory_budget()
    if nbytes <= budget:
        return None
    source = ("HWSIM_MEMORY_LIMIT" if os.environ.get("HWSIM_MEMORY_LIMIT", "").strip()
              else f"{MEMORY_FRACTION:.0%} of the memory available now")
    return (f"{what} would need about {format_bytes(nbytes)} of memory (got more than the "
            f"{format_bytes(budget)} allowed: {source}); {fix}")


# --------------------------------------------------------------------------- files a user names


class NotARegularFile(ValueError):
    """A path a user named is not a regular file (a FIFO, device, socket or directory), or is
    larger than the reader accepts. ``str()`` says what was found; the caller names the file
    and what it expected, in its own error type."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _not_regular(path, mode: int) -> str:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    link = f" (a symlink to {os.path.realpath(path)})" if os.path.islink(path) else ""
    return f"not a regular file: it is {kind}{link} (expected a regular file)"


def open_regular(path, max_bytes: int | None = None):
    """Open a file a user named for reading (binary), only if it is a regular file (symlinks
    are followed and their target checked) of at most ``max_bytes`` bytes.

    A FIFO would block forever and ``/dev/zero`` never ends, so the type is checked before
    anything is read; the open itself does not block (O_NONBLOCK), and the opened file is
    checked again (it may have been replaced in between). Raises :class:`NotARegularFile`,
    or OSError (FileNotFoundError, PermissionError...) as ``open`` would. A reader still
    bounds what it reads (a regular file may grow while it is read)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotARegularFile(_not_regular(path, mode))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(_not_regular(path, st.st_mode))
        if max_bytes is not None and st.st_size > max_bytes:
            raise NotARegularFile(f"too large ({format_bytes(st.st_size)}; expected at most "
                                  f"{format_bytes(max_bytes)})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class OptionRanges(pydantic.BaseModel):
    """Ranges of the CLI options that set no spec field, declared as the spec fields declare
    theirs so that :func:`check_option` checks every numeric option the same way."""

    workers: int = pydantic.Field(1, ge=1, le=1024, description="Dask worker processes started here")
    repeats: int = pydantic.Field(3, ge=1, le=10**6, description="timed repetitions of hwsim bench")
    checkpoint_seconds: float = pydantic.Field(
        60.0, ge=0, le=10**9, json_schema_extra={"x-unit": "s"},
        description="wall seconds between checkpoints (0: never)")
