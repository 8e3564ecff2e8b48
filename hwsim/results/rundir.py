"""A run directory holds manifest.json (resolved specs, spec hash, seed, version), curve.csv
and summary.json. Every file is written to a temporary name, fsynced and renamed, so a
reader never sees a half-written file.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import pandas as pd

from hwsim.spec.limits import short_path

CURVE_COLUMNS = ["step", "cycle", "seconds", "samples_seen", "train_cost", "test_cost",
                 "test_accuracy", "gradient_angle_deg", "ideal_test_accuracy", "energy_joules"]


class OutputError(OSError):
    """A file of the results could not be written (permission, full disk, ...): the message
    names the file, the reason and what to do; nothing half-written is left under its name."""

    def __str__(self) -> str:
        return str(self.strerror)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    atomic_write_with(path, lambda f: f.write(data))


def atomic_write_with(path: Path, write) -> None:
    """``write(f)`` into a temporary file beside ``path`` (binary), then fsync, rename over
    ``path`` and fsync the folder: a reader sees the old file or the new one, never part of
    one, and a crash leaves at worst a ``.NAME.*.tmp`` file. The file gets the permissions an
    ordinary ``open`` would (0666 minus the umask). An OSError becomes :class:`OutputError`."""
    path = Path(path)
    tmp = None
    try:
        _refuse_special(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        reason = exc.strerror or str(exc)
        hint = {errno.ENOSPC: "free some space or choose another output folder",
                errno.EDQUOT: "free some space or choose another output folder",
                errno.EACCES: "choose an output folder you can write to",
                errno.EPERM: "choose an output folder you can write to",
                errno.EROFS: "choose an output folder on a writable file system"}.get(
                    exc.errno, "check the output folder")
        raise OutputError(exc.errno, f"cannot write {short_path(path)}: {reason}; {hint}", str(path)) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _refuse_special(path: Path) -> None:
    """An OutputError when ``path`` exists and is not a regular file (or a link to one): the
    rename would replace a device, FIFO or socket node itself (as root, ``--trace /dev/zero``
    would turn /dev/zero into a JSON file) or fail on a folder."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(exc.errno, f"cannot write {short_path(path)}: {exc.strerror}; check the output path",
                          str(path)) from None
    if not stat.S_ISREG(st.st_mode):
        what = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a special file")
        raise OutputError(errno.EEXIST, f"cannot write {short_path(path)}: it is {what} (expected a regular file or a "
                                        "new name); choose another output path", str(path))


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def dump_json(obj) -> bytes:
    return (json.dumps(_json_safe(obj), indent=2, sort_keys=False) + "\n").encode()


def curve_frame(points) -> pd.DataFrame:
    rows = [dataclasses.asdict(p) for p in points]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def write_run(out_dir: Path, manifest: dict, curve: pd.DataFrame, summary: dict) -> Path:
    """manifest.json (unless the folder holds it unchanged), curve.csv, then summary.json, each
    atomically. A file that cannot be written does not stop the others: OutputError then
    names it and says which of the run's results are in place."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    curve.to_csv(buf, index=False, float_format="%.10g")
    # summary.json last: its presence marks a finished run directory.
    files = [("manifest.json", dump_json(manifest)), ("curve.csv", buf.getvalue().encode()),
             ("summary.json", dump_json(summary))]
    failed: list[OutputError] = []
    for name, data in files:
        path = out_dir / name
        if name == "manifest.json" and _holds(path, data):
            continue          # rewriting it could only fail (a full disk) and lose the rest
        try:
            atomic_write(path, data)
        except OutputError as exc:
            failed.append(exc)
    if failed:
        first = failed[0]
        lost = {Path(exc.filename).name for exc in failed}
        kept = [name for name, _ in files if name not in lost and (out_dir / name).is_file()]
        where = (f"; the run's other results ({', '.join(kept)}) are in place in {out_dir}" if kept
                 else f"; nothing of the run's results could be written in {out_dir}")
        also = "".join(f"; also cannot write {exc.filename}" for exc in failed[1:])
        raise OutputError(first.errno, f"{first}{also}{where}", first.filename)
    return out_dir


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data``."""
    try:
        return path.is_file() and not path.is_symlink() and path.stat().st_size == len(data) \
            and path.read_bytes() == data
    except OSError:
        return False


def slug(name: str, limit: int = 64) -> str:
    """``name`` as one safe folder name: letters, digits, '.', '_' and '-' only (anything else
    becomes '-'), no leading dot or dash, at most ``limit`` characters, never empty. A
    default folder built from it stays inside its parent whatever a spec names itself."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip(".-")[:limit].strip(".-")
    return text or "run"
