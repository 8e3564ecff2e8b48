"""Results as tables: one row per run (a run directory) or per point (a sweep directory).

A sweep directory holds ``sweep.json`` (the points: swept values, seed, key) and one run
directory per point under ``points/<key>/``; the table is rebuilt from them, so it is always
what is on disk, and written as ``results.parquet`` and ``results.csv`` at the end of a sweep.
A row holds the point, every swept value, the seed, the key, the point's state (finished,
failed, pending), its error, and every figure of its summary.json (nested figures flattened
to dotted names: ``energy_breakdown_joules.mvm``; lists such as ``warnings`` and
``not_modelled`` as JSON text). A chip without an energy table has null joules, and
``not_modelled`` says so (:func:`energy_not_modelled`).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd

from hwsim.results.rundir import atomic_write

SWEEP_FILE = "sweep.json"
POINTS_DIR = "points"
ERROR_FILE = "error.json"
TABLE_PARQUET, TABLE_CSV = "results.parquet", "results.csv"
# Columns that differ between two executions of the same point (host load, JIT warm-up):
# excluded when comparing tables.
WALL_COLUMNS = ("wall_seconds", "compile_seconds")
STATES = ("finished", "failed", "pending")


NON_FINITE = {"inf": math.inf, "-inf": -math.inf}   # how summary.json writes them (JSON has no inf)


def flatten(summary: dict, prefix: str = "") -> dict:
    """Nested figures to dotted names; lists to JSON text (a table cell holds one value);
    infinities written as "inf" in summary.json back to numbers."""
    out = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value)
        elif isinstance(value, str) and value in NON_FINITE:
            out[name] = NON_FINITE[value]
        else:
            out[name] = value
    return out


def point_dir(sweep_dir: str | Path, key: str) -> Path:
    return Path(sweep_dir) / POINTS_DIR / key


def point_state(directory: str | Path) -> str:
    """finished once summary.json exists (written last); failed when only error.json does."""
    directory = Path(directory)
    if (directory / "summary.json").is_file():
        return "finished"
    if (directory / ERROR_FILE).is_file():
        return "failed"
    return "pending"


def is_sweep(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def read_sweep_record(sweep_dir: str | Path) -> dict:
    return json.loads((Path(sweep_dir) / SWEEP_FILE).read_text())


def _column(values: list) -> list:
    """One swept column: numbers, switches or text stay as they are; mixed or structured
    values (a list such as [32, 16]) become their JSON text so that they compare and group."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    present = [v for v in values if v is not None]
    if all(number(v) for v in present) or all(isinstance(v, bool) for v in present) \
            or all(isinstance(v, str) for v in present):
        return values
    return [v if isinstance(v, str) or v is None else json.dumps(v) for v in values]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def sweep_table(sweep_dir: str | Path) -> pd.DataFrame:
    """A sweep directory -> one row per point, in point order (see the module docstring)."""
    sweep_dir = Path(sweep_dir)
    record = read_sweep_record(sweep_dir)
    columns = record["columns"]
    cache: dict[str, dict] = {}
    rows = []
    for p in record["points"]:
        key = p["key"]
        if key not in cache:
            d = point_dir(sweep_dir, key)
            state = point_state(d)
            found = {"state": state, "error": None}
            if state == "finished":
                summary = _read_json(d / "summary.json") or {}
                flat = flatten(summary)
                flat.pop("seed", None)
                found.update(flat)
            elif state == "failed":
                found["error"] = (_read_json(d / ERROR_FILE) or {}).get("error", "unknown error")
            cache[key] = found
        row = {"point": p["point"], **{c: p["values"].get(c) for c in columns}, "seed": p["seed"],
               "key": key, **cache[key], "run_dir": f"{POINTS_DIR}/{key}"}
        rows.append(row)
    table = pd.DataFrame(rows)
    for c in columns:
        table[c] = _column(table[c].tolist())
    front = ["point", *columns, "seed", "key", "state", "error"]
    rest = [c for c in table.columns if c not in front and c != "run_dir"]
    return table.reindex(columns=front + rest + ["run_dir"])


def run_table(run_dir: str | Path) -> pd.DataFrame:
    """A run directory -> a one-row table of its summary (nested figures flattened)."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    return pd.DataFrame([{**flatten(summary), "run_dir": str(run_dir)}])


def load(path: str | Path) -> pd.DataFrame:
    """Results as a DataFrame: a sweep directory (a row per point), a run directory (one
    row), a compare folder (comparison.csv) or a table file (.parquet or .csv)."""
    path = Path(path)
    if path.is_file():
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    if is_sweep(path):
        return sweep_table(path)
    if (path / "summary.json").is_file():
        return run_table(path)
    if (path / "comparison.csv").is_file():
        return pd.read_csv(path / "comparison.csv")
    raise FileNotFoundError(f"{path}: not a run or sweep directory (no summary.json or {SWEEP_FILE}); "
                            "a run writes one when it finishes")


def load_curves(path: str | Path) -> pd.DataFrame:
    """Learning curves: a run's curve.csv, or every finished point's curve of a sweep with the
    point, its swept values, seed and key in front (one table, long format)."""
    path = Path(path)
    if not is_sweep(path):
        return pd.read_csv(path / "curve.csv")
    table = sweep_table(path)
    record = read_sweep_record(path)
    front = ["point", *record["columns"], "seed", "key"]
    frames, cache = [], {}
    for row in table[table.state == "finished"].to_dict("records"):
        key = row["key"]
        if key not in cache:
            cache[key] = pd.read_csv(point_dir(path, key) / "curve.csv")
        curve = cache[key].copy()
        for i, c in enumerate(front):
            curve.insert(i, c, [row[c]] * len(curve))
        frames.append(curve)
    if not frames:
        return pd.DataFrame(columns=front)
    return pd.concat(frames, ignore_index=True)


def write_tables(sweep_dir: str | Path) -> pd.DataFrame:
    """results.parquet and results.csv of a sweep directory, each written atomically."""
    sweep_dir = Path(sweep_dir)
    table = sweep_table(sweep_dir)
    atomic_write(sweep_dir / TABLE_CSV, table.to_csv(index=False).encode())
    atomic_write(sweep_dir / TABLE_PARQUET, _parquet_bytes(table))
    return table


def _parquet_bytes(table: pd.DataFrame) -> bytes:
    """The table as Parquet; a column Parquet cannot type (an integer beyond 64 bits, mixed
    values) is written as text rather than failing the whole table, on every rerun."""
    buf = io.BytesIO()
    try:
        table.to_parquet(buf, index=False)
    except (OverflowError, TypeError, ValueError):      # pyarrow's ArrowInvalid is a ValueError
        table = table.copy()
        for c in table.columns[table.dtypes == object]:
            table[c] = [None if is_missing(v) else v if isinstance(v, str) else json.dumps(v, default=str)
                        for v in table[c]]
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
    return buf.getvalue()


def counts(table: pd.DataFrame) -> dict:
    """How many points are in each state, and among the finished ones each status."""
    out = {s: int((table.state == s).sum()) for s in STATES}
    if "status" in table:
        done = table[table.state == "finished"]
        for status in ("reached_target", "budget_exhausted", "diverged"):
            out[status] = int((done.status == status).sum())
    return out


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def energy_not_modelled(summary: dict) -> bool:
    """The run's chip has no energy table (summary.json's not_modelled lists "energy"; in a
    table row that list is JSON text)."""
    missing = summary.get("not_modelled")
    if isinstance(missing, str):
        try:
            missing = json.loads(missing)
        except ValueError:
            return False
    return isinstance(missing, list) and "energy" in missing
