"""Plots and an HTML report of a run or a sweep directory: ``hwsim report DIR``.

The PNGs go to ``DIR/plots/``; ``DIR/report.html`` is one self-contained page (the plots
inlined as base64) that links only to files that exist beside it (the tables, each point's
summary.json and error.json).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

import pandas as pd

from hwsim.results import plots as P
from hwsim.results.rundir import atomic_write
from hwsim.results.tables import (ERROR_FILE, TABLE_CSV, TABLE_PARQUET, counts, energy_not_modelled, flatten,
                                  is_missing, is_sweep, load_curves, read_sweep_record, run_table, sweep_table)

PLOTS_DIR = "plots"
REPORT_FILE = "report.html"
MAX_CURVES = 400          # learning curves drawn in one sweep figure
MAX_BARS = 30             # bars in a breakdown figure


def format_si(value: float, unit: str) -> str:
    """'180 us', '2.1 uJ': three significant figures, the largest SI prefix keeping them >= 1."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    for factor, prefix in ((1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
                           (1e-12, "p"), (1e-15, "f")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def cost_text(summary: dict, cycles: int, seconds: float, joules: float | None) -> str:
    """'180,000 cycles = 180 us of chip time, 2.1 uJ' (energy not modelled: said so)."""
    energy = ("energy not modelled" if energy_not_modelled(summary) or joules is None
              else format_si(joules, "J"))
    return f"{cycles:,} cycles = {format_si(seconds, 's')} of chip time, {energy}"


def shares(breakdown: dict | None, top: int = 3) -> str | None:
    """'61 % updating, 30 % inferring': the largest parts of a breakdown (at least 0.5 %)."""
    if not breakdown:
        return None
    total = sum(breakdown.values())
    if not total > 0:
        return None
    parts = sorted(breakdown.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{100 * v / total:.0f} % {k.replace('_', ' ')}" for k, v in parts
                     if v / total >= 0.005)


def breakdown_text(summary: dict) -> str:
    """'time: 61 % updating, ...; energy: 70 % writes, ...; not modelled: update time': where
    the run's chip time and joules went, and what the chip leaves out."""
    out = []
    time_parts = shares(summary.get("time_breakdown_cycles"))
    if time_parts:
        out.append(f"time: {time_parts}")
    energy_parts = None if energy_not_modelled(summary) else shares(summary.get("energy_breakdown_joules"))
    if energy_parts:
        out.append(f"energy: {energy_parts}")
    missing = summary.get("not_modelled") or []
    if missing:
        out.append("not modelled: " + ", ".join(m.replace("_", " ") for m in missing))
    return "; ".join(out)


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "plot"


def _x_axes(curves: list[pd.DataFrame]) -> list[str]:
    """cycle and seconds when the curves have them (chip runs), else samples (backprop)."""
    if any(c["cycle"].notna().any() for c in curves):
        return ["cycle", "seconds"]
    return ["samples_seen"]


def _curve_plots(runs: list[tuple[str, pd.DataFrame]], folder: Path, target) -> list[Path]:
    out = []
    for x in _x_axes([c for _, c in runs] or [pd.DataFrame({"cycle": [1.0]})]):
        name = {"cycle": "curves_cycles", "seconds": "curves_seconds"}.get(x, "curves_samples")
        out.append(P.save(P.learning_curves(runs, x, target), folder / f"{name}.png"))
    if any(c["gradient_angle_deg"].notna().any() for _, c in runs):
        out.append(P.save(P.gradient_angle(runs), folder / "gradient_angle.png"))
    return out


def plot_run(run_dir: str | Path) -> list[Path]:
    """The plots of one run directory into run_dir/plots/: learning curves against cycles and
    seconds, the gradient angle (when recorded), time and energy breakdown."""
    run_dir = Path(run_dir)
    folder = run_dir / PLOTS_DIR
    summary = json.loads((run_dir / "summary.json").read_text())
    curve = pd.read_csv(run_dir / "curve.csv")
    label = f"seed {summary.get('seed')}"
    out = _curve_plots([(label, curve)], folder, summary.get("target_accuracy"))
    out.append(P.save(P.breakdown([(label, flatten(summary))]), folder / "breakdown.png"))
    return out


def _labels(table: pd.DataFrame, columns: list[str]) -> pd.Series:
    """'noise_sigma=0.05, eta=0.3' per row: the swept values (the seed apart), short names."""
    if not columns:
        return pd.Series(["all points"] * len(table), index=table.index)
    tails = [c.split(".")[-1] for c in columns]
    names = tails if len(set(tails)) == len(tails) else columns
    return table[columns].apply(lambda r: ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, r)), axis=1)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def plot_sweep(sweep_dir: str | Path) -> list[Path]:
    """The plots of a sweep into sweep_dir/plots/: learning curves (every finished point,
    coloured by its swept values), time to target and final accuracy against each swept
    parameter, heatmaps over pairs of swept parameters, gradient angle (when recorded),
    time and energy breakdown."""
    sweep_dir = Path(sweep_dir)
    folder = sweep_dir / PLOTS_DIR
    record = read_sweep_record(sweep_dir)
    table = sweep_table(sweep_dir)
    columns = [c for c in record["columns"] if table[c].nunique(dropna=False) > 1]
    labels = _labels(table, columns)
    curves = load_curves(sweep_dir)
    runs = []
    for point, curve in list(curves.groupby("point", sort=True))[:MAX_CURVES]:
        runs.append((labels[table.index[table.point == point][0]], curve))
    done = table[table.state == "finished"]
    target = done.target_accuracy.dropna().iloc[0] if "target_accuracy" in done and len(done) else None
    out = _curve_plots(runs, folder, target)
    for c in columns:
        out.append(P.save(P.time_to_target(table, c), folder / f"time_to_target_{_file_name(c)}.png"))
        out.append(P.save(P.time_to_target(table, c, y="final_test_accuracy"),
                          folder / f"final_accuracy_{_file_name(c)}.png"))
    pairs = [(a, b) for i, a in enumerate(columns[:3]) for b in columns[i + 1:3]]
    for a, b in pairs:
        stem = f"{_file_name(a)}__{_file_name(b)}"
        out.append(P.save(P.heatmap(table, a, b), folder / f"heatmap_{stem}.png"))
        out.append(P.save(P.heatmap(table, a, b, value="final_test_accuracy"),
                          folder / f"heatmap_accuracy_{stem}.png"))
    if len(done):
        by = columns if done.groupby(columns).ngroups <= MAX_BARS else columns[:1] if columns else []
        numeric = done.select_dtypes("number").columns
        groups = done.groupby(by, sort=True)[list(numeric)].mean() if by else done[numeric].mean().to_frame().T
        rows = []
        # (The means keep numbers only: whether the chips model energy is carried over.)
        unmodelled = {"not_modelled": '["energy"]'} if all(
            energy_not_modelled(r) for r in done.to_dict("records")) else {}
        for idx, row in groups.head(MAX_BARS).iterrows():
            idx = idx if isinstance(idx, tuple) else (idx,)
            names = [c.split(".")[-1] for c in by]
            rows.append((", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, idx)) or "mean",
                         {**row.to_dict(), **unmodelled}))
        out.append(P.save(P.breakdown(rows, "mean over seeds" if "seed" in table else ""),
                          folder / "breakdown.png"))
    return out


# --------------------------------------------------------------------------- HTML

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td.t{text-align:left}.fig{margin:1em 0}.fig img{max-width:100%;border:1px solid #eee}
.failed{color:#b00}.muted{color:#777}pre{background:#f8f8f8;padding:.6em;overflow-x:auto;font-size:.8em}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<div class="fig"><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f'<div class="muted">{html.escape(path.name)}</div></div>')


def _link(base: Path, rel: str, text: str | None = None) -> str:
    """A link to ``rel`` when that file exists beside the report, else plain text."""
    label = html.escape(text or rel)
    return f'<a href="{html.escape(rel)}">{label}</a>' if (base / rel).exists() else label


def _cell(v) -> str:
    if is_missing(v):
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return html.escape(str(v))


NOT_MODELLED = "not modelled"


def _value(row: dict, column: str):
    """A table row's figure, "not modelled" for the joules of a chip without an energy table."""
    if column.startswith("energy_") and energy_not_modelled(row):
        return NOT_MODELLED
    return row.get(column)


def _warnings_html(row: dict) -> str:
    """The run's warnings (summary.json's warnings; JSON text in a table row) as a list."""
    found = row.get("warnings")
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except ValueError:
            found = [found]
    if not found:
        return ""
    return "<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(str(w))}</li>" for w in found) + "</ul>"


def _figures_table(pairs: list[tuple[str, object]]) -> str:
    rows = "".join(f'<tr><th class="t">{html.escape(k)}</th><td>{_cell(v)}</td></tr>' for k, v in pairs)
    return f"<table>{rows}</table>"


HEADLINE = ["status", "target_accuracy", "cycles_to_target", "seconds_to_target", "energy_joules_to_target",
            "samples_to_target", "final_test_accuracy", "best_test_accuracy", "steps_simulated",
            "cycles_simulated", "seconds_simulated", "energy_joules", "not_modelled", "wall_seconds"]


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _run_page(run_dir: Path, pngs: list[Path]) -> str:
    row = run_table(run_dir).iloc[0].to_dict()
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    resolved = manifest.get("resolved", {})
    name = resolved.get("scenario", {}).get("name", run_dir.name)
    chip = html.escape(str(resolved.get("chip", {}).get("name", "?")))
    firmware = html.escape(str(resolved.get("firmware", {}).get("name", "?")))
    body = [f"<h1>Run {html.escape(name)}</h1>",
            f"<p>chip <b>{chip}</b>, firmware <b>{firmware}</b>, seed {_cell(row.get('seed'))}, "
            f"spec hash <code>{_cell(row.get('spec_hash'))}</code>, hwsim {_cell(row.get('hwsim_version'))}</p>",
            "<h2>Figures</h2>", _figures_table([(k, _value(row, k)) for k in HEADLINE if k in row]),
            _warnings_html(row),
            "<h2>Plots</h2>", *[_img(p) for p in pngs],
            "<h2>Files</h2><p>" + " &middot; ".join(_link(run_dir, f) for f in
                                                     ("manifest.json", "curve.csv", "summary.json")) + "</p>"]
    return _page(f"hwsim run {name}", body)


def _point_cell(row: dict, column: str) -> str:
    """A sweep table cell: the number of warnings (their text on hover), not modelled joules."""
    if column != "warnings":
        return _cell(_value(row, column))
    found = row.get(column)
    found = json.loads(found) if isinstance(found, str) and found.startswith("[") else []
    if not found:
        return "-"
    return f'<span title="{html.escape(chr(10).join(found))}">{len(found)}</span>'


def _sweep_page(sweep_dir: Path, pngs: list[Path]) -> str:
    record = read_sweep_record(sweep_dir)
    table = sweep_table(sweep_dir)
    n = counts(table)
    columns = record["columns"]
    shown = ["point", *columns, "seed", "state", "status", "seconds_to_target", "cycles_to_target",
             "energy_joules_to_target", "final_test_accuracy", "warnings"]
    shown = [c for c in shown if c in table]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown) + "<th>files</th>"
    rows = []
    def css(r, c):
        return "t failed" if r["state"] == "failed" and c == "state" else "t" if c in columns else ""

    for r in table.to_dict("records"):
        cells = "".join(f'<td class="{css(r, c)}">{_point_cell(r, c)}</td>' for c in shown)
        rel = r["run_dir"]
        files = _link(sweep_dir, f"{rel}/summary.json", "summary") if r["state"] == "finished" else \
            _link(sweep_dir, f"{rel}/{ERROR_FILE}", "error") if r["state"] == "failed" else "-"
        rows.append(f"<tr>{cells}<td class=\"t\">{files}</td></tr>")
    failed = table[table.state == "failed"]
    errors = "".join(f"<li>point {r['point']} (seed {r['seed']}): <code>{html.escape(str(r['error']))}</code> "
                     f"&mdash; {_link(sweep_dir, r['run_dir'] + '/' + ERROR_FILE, 'traceback')}</li>"
                     for r in failed.to_dict("records"))
    desc = record.get("description") or ""
    body = [f"<h1>Sweep {html.escape(record['name'])}</h1>",
            f"<p>{html.escape(desc)}</p>" if desc else "",
            f"<p>{len(table)} points over {', '.join(map(html.escape, columns)) or 'seeds only'}: "
            f"{n['finished']} finished ({n.get('reached_target', 0)} reached the target, "
            f"{n.get('budget_exhausted', 0)} ran out of budget, {n.get('diverged', 0)} diverged), "
            f"<span class=\"{'failed' if n['failed'] else ''}\">{n['failed']} failed</span>, "
            f"{n['pending']} pending. Source <code>{html.escape(str(record.get('source', '')))}</code>, "
            f"hwsim {html.escape(record.get('hwsim_version', ''))}.</p>",
            "<p>Tables: " + " &middot; ".join(_link(sweep_dir, f) for f in (TABLE_PARQUET, TABLE_CSV)) + "</p>",
            "<h2>Plots</h2>", *[_img(p) for p in pngs],
            f"<h2>Failed points</h2><ul>{errors}</ul>" if len(failed) else "",
            "<h2>Points</h2>", f"<table><tr>{head}</tr>{''.join(rows)}</table>"]
    return _page(f"hwsim sweep {record['name']}", body)


def write_report(path: str | Path) -> Path:
    """Plots and report.html of a run or sweep directory; returns the report's path."""
    path = Path(path)
    if is_sweep(path):
        pngs = plot_sweep(path)
        page = _sweep_page(path, pngs)
    elif (path / "summary.json").is_file():
        pngs = plot_run(path)
        page = _run_page(path, pngs)
    else:
        raise FileNotFoundError(f"{path}: not a run or sweep directory (no summary.json or sweep.json)")
    atomic_write(path / REPORT_FILE, page.encode())
    return path / REPORT_FILE
