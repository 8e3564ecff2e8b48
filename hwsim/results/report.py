"""Plots and an HTML report of a run, a sweep or a ``hwsim compare`` folder: ``hwsim report DIR``.

The figures go to ``DIR/plots/`` as PNG and SVG; ``DIR/report.html`` is one self-contained
page (the PNGs inlined as base64, each linking its SVG) that links only to files that exist
beside it (the tables, each point's summary.json and error.json). Numbers are written for
people: cycles with thousands separators, times and energies with SI prefixes, accuracies in
percent; wide tables scroll inside the page rather than widening it.
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
                                  is_missing, is_sweep, load_curves, point_dir, read_sweep_record, run_table,
                                  sweep_table)

PLOTS_DIR = "plots"
REPORT_FILE = "report.html"
COMPARE_TABLE, COMPARE_CURVES = "comparison.csv", "curves.csv"   # what hwsim compare writes
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


def _curve_plots(runs: list[tuple], folder: Path, target, context: str = "", colour_by: dict | None = None,
                 colour_label: str = "", x_axes: list[str] | None = None) -> list[Path]:
    out = []
    for x in x_axes or _x_axes([r[1] for r in runs] or [pd.DataFrame({"cycle": [1.0]})]):
        name = {"cycle": "curves_cycles", "seconds": "curves_seconds"}.get(x, "curves_samples")
        out.append(P.save(P.learning_curves(runs, x, target, context=context, colour_by=colour_by,
                                            colour_label=colour_label), folder / f"{name}.png"))
    if any(r[1]["gradient_angle_deg"].notna().any() for r in runs if "gradient_angle_deg" in r[1]):
        out.append(P.save(P.gradient_angle(runs, context=context), folder / "gradient_angle.png"))
    return out


def _manifest_names(run_dir: Path) -> tuple:
    """(chip, firmware, scenario) names from a run's manifest.json (None where unknown)."""
    try:
        resolved = json.loads((run_dir / "manifest.json").read_text()).get("resolved", {})
    except (OSError, ValueError):
        return None, None, None
    return tuple(resolved.get(part, {}).get("name") for part in ("chip", "firmware", "scenario"))


def _context(names: list[tuple]) -> str:
    """The caption of a set of runs: each of chip, firmware and scenario by name when all the
    runs share it, 'N chips' (or firmware models, scenarios) when they differ."""
    parts = {}
    for i, (part, plural) in enumerate((("chip", "chips"), ("firmware", "firmware models"),
                                        ("scenario", "scenarios"))):
        found = list(dict.fromkeys(n[i] for n in names if n[i]))
        parts[part] = found[0] if len(found) == 1 else f"{len(found)} {plural}" if found else None
    return P.caption(**parts)


def plot_run(run_dir: str | Path) -> list[Path]:
    """The plots of one run directory into run_dir/plots/ (PNG and SVG): learning curves
    against cycles and seconds, the gradient angle (when recorded), time and energy breakdown."""
    run_dir = Path(run_dir)
    folder = run_dir / PLOTS_DIR
    summary = json.loads((run_dir / "summary.json").read_text())
    curve = pd.read_csv(run_dir / "curve.csv")
    label = f"seed {summary.get('seed')}"
    context = _context([_manifest_names(run_dir)]) + f", seed {summary.get('seed')}"
    out = _curve_plots([(label, curve, summary.get("status"))], folder, summary.get("target_accuracy"), context)
    out.append(P.save(P.breakdown([(label, flatten(summary))], context=context), folder / "breakdown.png"))
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


def _sweep_context(sweep_dir: Path, table: pd.DataFrame) -> str:
    keys = table.key[table.state == "finished"].unique() if "key" in table else []
    return _context([_manifest_names(point_dir(sweep_dir, k)) for k in keys])


def plot_sweep(sweep_dir: str | Path) -> list[Path]:
    """The plots of a sweep into sweep_dir/plots/ (PNG and SVG): learning curves (every
    finished point, coloured by its swept values, where each ended marked), time to target and
    final accuracy against each swept parameter (one series per combination of the others, the
    spread over seeds only), heatmaps over pairs of swept parameters, gradient angle (when
    recorded), time and energy breakdown."""
    sweep_dir = Path(sweep_dir)
    folder = sweep_dir / PLOTS_DIR
    record = read_sweep_record(sweep_dir)
    table = sweep_table(sweep_dir)
    columns = [c for c in record["columns"] if table[c].nunique(dropna=False) > 1]
    labels = _labels(table, columns)
    context = _sweep_context(sweep_dir, table)
    context = f"sweep {record['name']}: " + context if context else f"sweep {record['name']}"
    curves = load_curves(sweep_dir)
    runs = []
    for point, curve in list(curves.groupby("point", sort=True))[:MAX_CURVES]:
        row = table.index[table.point == point][0]
        runs.append((labels[row], curve, table.status[row] if "status" in table else None))
    # Many lines: coloured by the first numeric swept parameter, on a colour bar.
    numeric = [c for c in columns if P._numeric(table[c].dropna().tolist())]
    colour_by = ({labels[i]: table[numeric[0]][i] for i in table.index} if numeric else None)
    done = table[table.state == "finished"]
    target = done.target_accuracy.dropna().iloc[0] if "target_accuracy" in done and len(done) and \
        done.target_accuracy.notna().any() else None
    out = _curve_plots(runs, folder, target, context, colour_by, P.quantity(numeric[0])[0] if numeric else "")
    for c in columns:
        others = [o for o in columns if o != c]
        out.append(P.save(P.time_to_target(table, c, context=context, others=others),
                          folder / f"time_to_target_{_file_name(c)}.png"))
        out.append(P.save(P.time_to_target(table, c, y="final_test_accuracy", context=context, others=others),
                          folder / f"final_accuracy_{_file_name(c)}.png"))
    pairs = [(a, b) for i, a in enumerate(columns[:3]) for b in columns[i + 1:3]]
    for a, b in pairs:
        stem = f"{_file_name(a)}__{_file_name(b)}"
        over = [o for o in columns if o not in (a, b)]
        out.append(P.save(P.heatmap(table, a, b, context=context, over=over), folder / f"heatmap_{stem}.png"))
        out.append(P.save(P.heatmap(table, a, b, value="final_test_accuracy", context=context, over=over),
                          folder / f"heatmap_accuracy_{stem}.png"))
    if len(done):
        by = columns if done.groupby(columns).ngroups <= MAX_BARS else columns[:1] if columns else []
        out.append(P.save(P.breakdown(_mean_rows(done, by), "Where the chip time and the energy went "
                                      "(mean over seeds)" if "seed" in table else "", context),
                          folder / "breakdown.png"))
    return out


def _mean_rows(done: pd.DataFrame, by: list[str], sort: bool = True) -> list[tuple[str, dict]]:
    """(label, mean figures) per group of ``by`` (at most MAX_BARS), for a breakdown figure."""
    numeric = done.select_dtypes("number").columns
    groups = done.groupby(by, sort=sort)[list(numeric)].mean() if by else done[numeric].mean().to_frame().T
    rows = []
    # (The means keep numbers only: whether the chips model energy is carried over.)
    unmodelled = {"not_modelled": '["energy"]'} if all(
        energy_not_modelled(r) for r in done.to_dict("records")) else {}
    for idx, row in groups.head(MAX_BARS).iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        names = [c.split(".")[-1] for c in by]
        rows.append((", ".join(f"{n}={_fmt(v)}" if n != "variant" else str(v) for n, v in zip(names, idx))
                     or "mean", {**row.to_dict(), **unmodelled}))
    return rows


def compare_table(compare_dir: str | Path) -> pd.DataFrame:
    """A hwsim compare folder's comparison.csv, finished runs marked as such."""
    table = pd.read_csv(Path(compare_dir) / COMPARE_TABLE)
    return table.assign(state="finished")


def _compare_run_dir(compare_dir: Path, run_dir) -> Path:
    """A variant's run folder: comparison.csv holds it as written (relative to where compare
    ran); the folder of that name inside the compare folder when the table was moved."""
    path = Path(str(run_dir))
    inside = compare_dir / path.name
    return inside if inside.is_dir() or not path.is_dir() else path


def compare_context(compare_dir: str | Path, table: pd.DataFrame | None = None) -> str:
    compare_dir = Path(compare_dir)
    table = compare_table(compare_dir) if table is None else table
    return _context([_manifest_names(_compare_run_dir(compare_dir, r)) for r in table.run_dir.dropna().unique()])


def plot_compare(compare_dir: str | Path) -> list[Path]:
    """The plots of a hwsim compare folder into compare_dir/plots/ (PNG and SVG): learning
    curves of every variant against samples seen (the axis they share) and against chip time
    (each chip's own), final accuracy and time to target per variant (every seed, where each
    run ended marked), time and energy breakdown per variant (mean over seeds)."""
    compare_dir = Path(compare_dir)
    folder = compare_dir / PLOTS_DIR
    table = compare_table(compare_dir)
    curves = pd.read_csv(compare_dir / COMPARE_CURVES)
    context = compare_context(compare_dir, table)
    status = {(r["variant"], r["seed"]): r["status"] for r in table.to_dict("records")}
    runs = [(variant, c, status.get((variant, seed))) for (variant, seed), c in
            curves.groupby(["variant", "seed"], sort=False)]
    target = _target(compare_dir, table)
    x_axes = ["samples_seen"] + (["seconds"] if "seconds" in curves and curves.seconds.notna().any() else [])
    out = _curve_plots(runs, folder, target, context, x_axes=x_axes)
    out.append(P.save(P.time_to_target(table, "variant", y="final_test_accuracy", context=context, sort=False,
                                       title="Final test accuracy per variant (same steps for each)"),
                      folder / "final_accuracy_variant.png"))
    out.append(P.save(P.time_to_target(table, "variant", context=context, sort=False,
                                       title="Chip time to target per variant"),
                      folder / "time_to_target_variant.png"))
    runs_summaries = []
    for r in table.to_dict("records"):
        summary_file = _compare_run_dir(compare_dir, r["run_dir"]) / "summary.json"
        if summary_file.is_file():
            runs_summaries.append({**flatten(json.loads(summary_file.read_text())), "variant": r["variant"]})
    if runs_summaries:
        done = pd.DataFrame(runs_summaries)
        out.append(P.save(P.breakdown(_mean_rows(done, ["variant"], sort=False),
                                      "Where the chip time and the energy went (mean over seeds)", context),
                          folder / "breakdown.png"))
    return out


def _target(compare_dir: Path, table: pd.DataFrame):
    for r in table.run_dir.dropna():
        try:
            return json.loads((_compare_run_dir(compare_dir, r) / "summary.json").read_text()).get("target_accuracy")
        except (OSError, ValueError):
            continue
    return None


# --------------------------------------------------------------------------- HTML

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.8em}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f4f4f4;font-weight:600}td.t,th.t{text-align:left}td.n{white-space:nowrap}
table.fig-table th.t{font:.9em monospace;color:#666;background:none}table.fig-table td{white-space:nowrap}
.fig{margin:1em 0}.fig img{max-width:100%;height:auto;border:1px solid #eee}
.failed{color:#b00}.muted{color:#777}code{word-break:break-all}
pre{background:#f8f8f8;padding:.6em;overflow-x:auto;font-size:.8em}"""


def _img(path: Path) -> str:
    """The PNG inlined, with a link to the SVG beside it (when it exists)."""
    data = base64.b64encode(path.read_bytes()).decode()
    svg = path.with_suffix(".svg")
    vector = (f' &middot; <a href="{html.escape(f"{PLOTS_DIR}/{svg.name}")}">SVG</a>' if svg.is_file() else "")
    return (f'<div class="fig"><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f'<div class="muted">{html.escape(path.name)}{vector}</div></div>')


def _link(base: Path, rel: str, text: str | None = None) -> str:
    """A link to ``rel`` when that file exists beside the report, else plain text."""
    label = html.escape(text or rel)
    return f'<a href="{html.escape(rel)}">{label}</a>' if (base / rel).exists() else label


# Column -> (what people call it, unit): unit "cycles"/"count" are whole numbers written with
# thousands separators, "s"/"J" get SI prefixes, "%" are fractions shown as percent.
FIGURES = {
    "status": ("status", None), "state": ("state", None), "seed": ("seed", None), "point": ("point", None),
    "target_accuracy": ("target accuracy", "%"), "final_test_accuracy": ("final test accuracy", "%"),
    "best_test_accuracy": ("best test accuracy", "%"), "shortfall_vs_baseline": ("shortfall vs baseline", "pt"),
    "cycles_to_target": ("cycles to target", "cycles"), "seconds_to_target": ("chip time to target", "s"),
    "energy_joules_to_target": ("energy to target", "J"), "samples_to_target": ("samples to target", "count"),
    "steps_simulated": ("steps simulated", "count"), "cycles_simulated": ("cycles simulated", "cycles"),
    "seconds_simulated": ("chip time simulated", "s"), "energy_joules": ("energy", "J"),
    "samples_seen": ("samples seen", "count"), "not_modelled": ("not modelled", None),
    "wall_seconds": ("wall-clock time", "s"), "clock_period_seconds": ("clock period", "s"),
    "inference_latency_cycles": ("inference latency", "cycles"), "device_pulses_max": ("device pulses (max)", "count"),
    "warnings": ("warnings", None), "variant": ("variant", None), "chip": ("chip", None),
    "firmware": ("firmware", None),
}


def format_figure(value, column: str) -> str:
    """A figure of ``column`` for people: '50,000' cycles, '180 us', '2.1 uJ', '87.5 %', '0 J'
    (a measured zero), '-' when missing."""
    if is_missing(value):
        return "-"
    unit = FIGURES.get(column, (None, None))[1]
    if column in ("status", "state") and isinstance(value, str):
        return html.escape(value.replace("_", " "))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return html.escape(str(value))
    v = float(value)
    if not math.isfinite(v):
        return "never" if v > 0 else html.escape(str(value))
    if unit in ("cycles", "count"):
        return f"{round(v):,}" if v == round(v) else f"{v:,.1f}"
    if unit in ("s", "J"):
        return format_si(v, unit) if v else f"0 {unit}"
    if unit == "%":
        return f"{100 * v:.1f} %"
    if unit == "pt":
        return f"{100 * v:+.1f} pt"
    if column in ("seed", "point") and v == round(v):
        return str(round(v))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{v:.4g}"


def _cell(v, column: str = "") -> str:
    if is_missing(v):
        return "-"
    if column:
        return format_figure(v, column)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return html.escape(str(v))


def _heading(column: str) -> str:
    """A table heading: the figure's name for people, a swept path by its last part (the whole
    path on hover)."""
    if column in FIGURES:
        return html.escape(FIGURES[column][0])
    tail = column.split(".")[-1].replace("_", " ")
    return f'<span title="{html.escape(column)}">{html.escape(tail)}</span>'


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


def _not_modelled_text(v) -> object:
    if isinstance(v, str) and v.startswith("["):
        try:
            return ", ".join(m.replace("_", " ") for m in json.loads(v)) or "-"
        except ValueError:
            return v
    return v


def _figures_table(pairs: list[tuple[str, object]]) -> str:
    """Name for people | summary.json field | value, one row per figure."""
    rows = "".join(f'<tr><td class="t">{_heading(k)}</td><th class="t">{html.escape(k)}</th>'
                   f'<td>{_cell(v, k)}</td></tr>' for k, v in pairs)
    return f'<div class="scroll"><table class="fig-table">{rows}</table></div>'


HEADLINE = ["status", "target_accuracy", "cycles_to_target", "seconds_to_target", "energy_joules_to_target",
            "samples_to_target", "final_test_accuracy", "best_test_accuracy", "steps_simulated",
            "cycles_simulated", "seconds_simulated", "energy_joules", "not_modelled", "clock_period_seconds",
            "inference_latency_cycles", "wall_seconds"]


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _run_page(run_dir: Path, pngs: list[Path]) -> str:
    row = run_table(run_dir).iloc[0].to_dict()
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    resolved = manifest.get("resolved", {})
    name = resolved.get("scenario", {}).get("name", run_dir.name)
    chip = html.escape(str(resolved.get("chip", {}).get("name", "?")))
    firmware = html.escape(str(resolved.get("firmware", {}).get("name", "?")))
    pairs = [(k, _not_modelled_text(_value(row, k))) for k in HEADLINE if k in row]
    body = [f"<h1>Run {html.escape(name)}</h1>",
            f"<p>chip <b>{chip}</b>, firmware <b>{firmware}</b>, seed {_cell(row.get('seed'))}, "
            f"spec hash <code>{_cell(row.get('spec_hash'))}</code>, hwsim {_cell(row.get('hwsim_version'))}</p>",
            "<h2>Figures</h2>", _figures_table(pairs),
            _warnings_html(row),
            "<h2>Plots</h2>", *[_img(p) for p in pngs],
            "<h2>Files</h2><p>" + " &middot; ".join(_link(run_dir, f) for f in
                                                     ("manifest.json", "curve.csv", "summary.json")) + "</p>"]
    return _page(f"hwsim run {name}", body)


def _point_cell(row: dict, column: str) -> str:
    """A table cell: the number of warnings (their text on hover), not modelled joules, the
    figure formatted for people."""
    if column != "warnings":
        return _cell(_not_modelled_text(_value(row, column)), column)
    found = row.get(column)
    found = json.loads(found) if isinstance(found, str) and found.startswith("[") else []
    if not found:
        return "-"
    return f'<span title="{html.escape(chr(10).join(found))}">{len(found)}</span>'


def _points_table(table: pd.DataFrame, shown: list[str], text_columns: list[str], files) -> str:
    head = "".join(f"<th>{_heading(c)}</th>" for c in shown) + "<th>files</th>"

    def css(r, c):
        if c == "state" and r.get("state") == "failed":
            return "t failed"
        return "t" if c in text_columns else "n"

    rows = []
    for r in table.to_dict("records"):
        cells = "".join(f'<td class="{css(r, c)}">{_point_cell(r, c)}</td>' for c in shown)
        rows.append(f'<tr>{cells}<td class="t">{files(r)}</td></tr>')
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'


def _sweep_page(sweep_dir: Path, pngs: list[Path]) -> str:
    record = read_sweep_record(sweep_dir)
    table = sweep_table(sweep_dir)
    n = counts(table)
    columns = record["columns"]
    shown = ["point", *columns, "seed", "state", "status", "seconds_to_target", "cycles_to_target",
             "energy_joules_to_target", "final_test_accuracy", "warnings"]
    shown = [c for c in shown if c in table]

    def files(r):
        rel = r["run_dir"]
        return _link(sweep_dir, f"{rel}/summary.json", "summary") if r["state"] == "finished" else \
            _link(sweep_dir, f"{rel}/{ERROR_FILE}", "error") if r["state"] == "failed" else "-"

    failed = table[table.state == "failed"]
    errors = "".join(f"<li>point {r['point']} (seed {r['seed']}): <code>{html.escape(str(r['error']))}</code> "
                     f"&mdash; {_link(sweep_dir, r['run_dir'] + '/' + ERROR_FILE, 'traceback')}</li>"
                     for r in failed.to_dict("records"))
    desc = record.get("description") or ""
    context = _sweep_context(sweep_dir, table)
    body = [f"<h1>Sweep {html.escape(record['name'])}</h1>",
            f"<p>{html.escape(desc)}</p>" if desc else "",
            f"<p>{html.escape(context)}</p>" if context else "",
            f"<p>{len(table)} points over {', '.join(map(html.escape, columns)) or 'seeds only'}: "
            f"{n['finished']} finished ({n.get('reached_target', 0)} reached the target, "
            f"{n.get('budget_exhausted', 0)} ran out of budget, {n.get('diverged', 0)} diverged), "
            f"<span class=\"{'failed' if n['failed'] else ''}\">{n['failed']} failed</span>, "
            f"{n['pending']} pending. Source <code>{html.escape(str(record.get('source', '')))}</code>, "
            f"hwsim {html.escape(record.get('hwsim_version', ''))}.</p>",
            "<p>Tables: " + " &middot; ".join(_link(sweep_dir, f) for f in (TABLE_PARQUET, TABLE_CSV)) + "</p>",
            "<h2>Plots</h2>", *[_img(p) for p in pngs],
            f"<h2>Failed points</h2><ul>{errors}</ul>" if len(failed) else "",
            "<h2>Points</h2>", _points_table(table, shown, [*columns, "state", "status"], files)]
    return _page(f"hwsim sweep {record['name']}", body)


def _compare_page(compare_dir: Path, pngs: list[Path]) -> str:
    table = compare_table(compare_dir)
    context = compare_context(compare_dir, table)
    shown = [c for c in ("variant", "seed", "status", "final_test_accuracy", "shortfall_vs_baseline",
                         "seconds_to_target", "energy_joules_to_target", "cycles_simulated", "seconds_simulated",
                         "energy_joules", "warnings") if c in table]

    def files(r):
        rel = Path(str(r["run_dir"])).name
        return _link(compare_dir, f"{rel}/summary.json", "summary")

    baseline = table.variant.iloc[0] if len(table) else "-"
    reached = int((table.status == "reached_target").sum()) if "status" in table else 0
    body = [f"<h1>Comparison {html.escape(compare_dir.name)}</h1>",
            f"<p>{html.escape(context)}</p>" if context else "",
            f"<p>{table.variant.nunique()} variants, {len(table)} runs ({reached} reached the target), the same "
            f"number of steps each; baseline <b>{html.escape(str(baseline))}</b> (the shortfall is its final "
            f"accuracy minus the variant's, same seed).</p>",
            "<p>Tables: " + " &middot; ".join(_link(compare_dir, f) for f in (COMPARE_TABLE, COMPARE_CURVES))
            + "</p>",
            "<h2>Plots</h2>", *[_img(p) for p in pngs],
            "<h2>Runs</h2>", _points_table(table, shown, ["variant", "status"], files)]
    return _page(f"hwsim compare {compare_dir.name}", body)


def is_compare(path: str | Path) -> bool:
    return (Path(path) / COMPARE_TABLE).is_file() and (Path(path) / COMPARE_CURVES).is_file()


def write_report(path: str | Path) -> Path:
    """Plots and report.html of a run, sweep or compare directory; returns the report's path."""
    path = Path(path)
    if is_sweep(path):
        pngs = plot_sweep(path)
        page = _sweep_page(path, pngs)
    elif (path / "summary.json").is_file():
        pngs = plot_run(path)
        page = _run_page(path, pngs)
    elif is_compare(path):
        pngs = plot_compare(path)
        page = _compare_page(path, pngs)
    else:
        raise FileNotFoundError(f"{path}: not a run, sweep or compare directory (no summary.json, sweep.json "
                                f"or {COMPARE_TABLE}); give the folder that hwsim run, hwsim sweep or "
                                "hwsim compare wrote")
    atomic_write(path / REPORT_FILE, page.encode())
    return path / REPORT_FILE
