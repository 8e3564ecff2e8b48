"""A run directory holds manifest.json (resolved specs, spec hash, seed, version), curve.csv
and summary.json. Every file is written to a temporary name, fsynced and renamed, so a
reader never sees a half-written file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import tempfile
from pathlib import Path

import pandas as pd

CURVE_COLUMNS = ["step", "cycle", "seconds", "samples_seen", "train_cost", "test_cost",
                 "test_accuracy", "gradient_angle_deg", "ideal_test_accuracy", "energy_joules"]


def atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "manifest.json", dump_json(manifest))
    buf = io.StringIO()
    curve.to_csv(buf, index=False, float_format="%.10g")
    atomic_write(out_dir / "curve.csv", buf.getvalue().encode())
    # summary.json last: its presence marks a finished run directory.
    atomic_write(out_dir / "summary.json", dump_json(summary))
    return out_dir
