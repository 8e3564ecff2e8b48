"""Plots of runs and sweeps, headless: figures are built with matplotlib's object API on the
Agg canvas (no pyplot, no GUI backend, nothing global changed), every PNG ``SIZE`` pixels.

* :func:`learning_curves` - test accuracy against cycles, seconds or samples, runs overlaid;
* :func:`time_to_target` - time (or cycles, joules) to the target against a swept parameter,
  every seed shown, the median joined and the seed spread as a bar;
* :func:`heatmap` - a figure of merit over two swept parameters (median over the rest);
* :func:`gradient_angle` - angle between the integrated MGD estimate and the true gradient;
* :func:`breakdown` - where the cycles and the joules went, one bar per run or group.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hwsim.results.rundir import atomic_write
from hwsim.results.tables import energy_not_modelled

DPI = 100
SIZE = (800, 480)           # pixels of every PNG
MAX_LEGEND = 12
AXIS_LABELS = {"cycle": "cycles", "seconds": "chip time (s)", "samples_seen": "samples seen",
               "step": "steps", "seconds_to_target": "chip time to target (s)",
               "cycles_to_target": "cycles to target", "energy_joules_to_target": "energy to target (J)",
               "final_test_accuracy": "final test accuracy", "best_test_accuracy": "best test accuracy"}


def new_figure(ncols: int = 1, sharey: bool = False) -> Figure:
    fig = Figure(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(1, ncols, sharey=sharey)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG of exactly SIZE pixels, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    atomic_write(path, buf.getvalue())
    return path


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True,
            fontsize=10, color="0.35")


def _colours(labels: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    unique = list(dict.fromkeys(labels))
    cmap = colormaps["tab10" if len(unique) <= 10 else "viridis"]
    n = max(1, len(unique) - 1)
    return {lab: cmap(i if len(unique) <= 10 else i / n) for i, lab in enumerate(unique)}


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values)


def _log_scale_fits(values) -> bool:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return v.size > 1 and (v > 0).all() and v.max() / v.min() >= 100


def _short(path: str) -> str:
    return AXIS_LABELS.get(path, path)


def learning_curves(runs: list[tuple[str, pd.DataFrame]], x: str = "cycle", target: float | None = None,
                    title: str = "") -> Figure:
    """Test accuracy against ``x`` (cycle, seconds, samples_seen, step) for every run; runs
    sharing a label (e.g. the seeds of one point) share a colour and a legend entry."""
    fig = new_figure()
    ax = fig.axes[0]
    colours = _colours([label for label, _ in runs])
    drawn, shown = 0, set()
    for label, curve in runs:
        c = curve[[x, "test_accuracy"]].dropna()
        if c.empty:
            continue
        ax.plot(c[x], c["test_accuracy"], color=colours[label], lw=1.4, alpha=0.85,
                label=label if label not in shown else None, marker="." if len(c) < 30 else None)
        shown.add(label)
        drawn += 1
    if drawn == 0:
        _note(ax, f"no learning curve has a {_short(x)} axis")
    if target is not None:
        ax.axhline(target, color="0.3", ls="--", lw=1, label=f"target {target:.0%}")
    ax.set_xlabel(_short(x))
    ax.set_ylabel("test accuracy")
    ax.set_title(title or f"learning curves against {_short(x)}")
    ax.grid(alpha=0.3)
    if 0 < len(shown) <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="best")
    elif shown:
        ax.text(0.99, 0.01, f"{len(shown)} runs", ha="right", va="bottom", transform=ax.transAxes, fontsize=8)
    return fig


def time_to_target(table: pd.DataFrame, param: str, y: str = "seconds_to_target", title: str = "") -> Figure:
    """``y`` against swept ``param``: every seed as a dot, the median over seeds joined, the
    min-max spread as a bar; points that never reached the target are counted per value."""
    fig = new_figure()
    ax = fig.axes[0]
    done = table[table.state == "finished"] if "state" in table else table
    values = list(dict.fromkeys(done[param].tolist()))
    try:
        values.sort()
    except TypeError:
        pass
    numeric = _numeric(values)
    pos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    ys = pd.to_numeric(done[y], errors="coerce") if y in done else pd.Series(np.nan, index=done.index)
    med, missed = [], []
    for v in values:
        sel = ys[done[param] == v].dropna()
        n_miss = int((done[param] == v).sum() - len(sel))
        if n_miss:
            missed.append((pos[v], n_miss))
        if len(sel):
            ax.scatter([pos[v]] * len(sel), sel, s=18, color="tab:blue", alpha=0.6, zorder=3)
            m = float(sel.median())
            med.append((pos[v], m))
            ax.errorbar([pos[v]], [m], yerr=[[m - sel.min()], [sel.max() - m]], color="tab:blue",
                        capsize=4, lw=1.2, zorder=2)
    if med:
        xs, ms = zip(*med)
        ax.plot(xs, ms, color="tab:blue", lw=1.5, label="median over seeds (bar: min-max)")
        if _log_scale_fits(list(ms) + list(ys.dropna())):
            ax.set_yscale("log")
    else:
        _note(ax, "no point reached the target accuracy within its budget")
    for xpos, n in missed:
        note = ax.annotate(f"{n} not\nreached", (xpos, 0.98), xycoords=("data", "axes fraction"),
                           ha="center", va="top", fontsize=7, color="tab:red")
        note.set_in_layout(False)
    if numeric and _log_scale_fits(values):
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.5, max(values) * 1.5)
    elif values:
        lo, hi = min(pos.values()), max(pos.values())
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_xlim(lo - pad, hi + pad)
    if not numeric:
        ax.set_xticks(list(pos.values()), [str(v) for v in values], rotation=20, fontsize=8)
    ax.set_xlabel(param)
    ax.set_ylabel(_short(y))
    ax.set_title(title or f"{_short(y)} against {param}")
    ax.grid(alpha=0.3)
    if med:
        ax.legend(fontsize=8, loc="best")
    return fig


def heatmap(table: pd.DataFrame, x: str, y: str, value: str = "seconds_to_target", title: str = "") -> Figure:
    """Median of ``value`` over seeds (and any other axis) on the grid of swept ``x`` and
    ``y``; cells where no run reached the target are grey and marked."""
    from matplotlib.patheffects import withStroke

    fig = new_figure()
    ax = fig.axes[0]
    done = table[table.state == "finished"] if "state" in table else table
    xs, ys = _sorted_unique(table[x]), _sorted_unique(table[y])
    grid = np.full((len(ys), len(xs)), np.nan)
    vals = pd.to_numeric(done[value], errors="coerce") if value in done else pd.Series(dtype=float)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            sel = vals[(done[x] == xv) & (done[y] == yv)].dropna()
            if len(sel):
                grid[i, j] = float(sel.median())
    ax.set_facecolor("0.85")
    finite = grid[np.isfinite(grid)]
    if finite.size:
        from matplotlib.colors import LogNorm

        norm = LogNorm(finite.min(), finite.max()) if _log_scale_fits(finite) else None
        # Times and energies: lower is better, shown bright; accuracies: higher is bright.
        cmap = "viridis_r" if value.endswith("_to_target") else "viridis"
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap, norm=norm)
        fig.colorbar(im, ax=ax, label=_short(value) + " (median)")
    else:
        _note(ax, "no point reached the target accuracy within its budget")
        ax.imshow(np.zeros_like(grid), origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=4)
    if grid.size <= 225:
        for i in range(len(ys)):
            for j in range(len(xs)):
                text = "not\nreached" if not np.isfinite(grid[i, j]) else f"{grid[i, j]:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white",
                        path_effects=[withStroke(linewidth=2, foreground="black")])
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys], fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{_short(value)} over {x} and {y}")
    return fig


def _sorted_unique(series: pd.Series) -> list:
    values = list(dict.fromkeys(series.tolist()))
    try:
        values.sort()
    except TypeError:
        pass
    return values


def _tick(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def gradient_angle(runs: list[tuple[str, pd.DataFrame]], title: str = "") -> Figure:
    """Angle (degrees) between the integrated MGD gradient estimate and the true gradient
    against steps, for every run that recorded it (firmware.evaluation.gradient_angle)."""
    fig = new_figure()
    ax = fig.axes[0]
    colours = _colours([label for label, _ in runs])
    shown = set()
    for label, curve in runs:
        c = curve[["step", "gradient_angle_deg"]].dropna()
        if c.empty:
            continue
        ax.plot(c["step"], c["gradient_angle_deg"], color=colours[label], lw=1.3,
                label=label if label not in shown else None, marker="." if len(c) < 30 else None)
        shown.add(label)
    if not shown:
        _note(ax, "no gradient angle recorded (set firmware.evaluation.gradient_angle: true)")
    ax.axhline(90, color="0.5", ls=":", lw=1)
    ax.set_ylim(0, 180)
    ax.set_xlabel("steps")
    ax.set_ylabel("angle to the true gradient (degrees)")
    ax.set_title(title or "gradient estimate: angle to the true gradient")
    ax.grid(alpha=0.3)
    if 0 < len(shown) <= MAX_LEGEND:
        ax.legend(fontsize=8, loc="best")
    return fig


def breakdown(rows: list[tuple[str, dict]], title: str = "") -> Figure:
    """Stacked bars of where the cycles (left) and the joules (right) went, one bar per
    (label, flattened summary); missing parts count as zero."""
    fig = new_figure(ncols=2, sharey=True)
    for ax, prefix, unit in ((fig.axes[0], "time_breakdown_cycles.", "cycles"),
                             (fig.axes[1], "energy_breakdown_joules.", "joules")):
        parts = list(dict.fromkeys(k[len(prefix):] for _, s in rows for k in s if k.startswith(prefix)))
        labels = [label for label, _ in rows]
        left = np.zeros(len(rows))
        total = 0.0
        colours = _colours(parts)
        for part in parts:
            vals = np.array([_number(s.get(prefix + part)) for _, s in rows])
            if not vals.any():
                continue
            ax.barh(range(len(rows)), vals, left=left, color=colours[part], label=part)
            left += vals
            total += vals.sum()
        ax.set_yticks(range(len(rows)), labels, fontsize=7 if len(rows) > 8 else 8)
        ax.set_ylim(len(rows) - 0.5, -0.5)   # first row on top
        ax.set_xlabel(unit)
        ax.set_title(("time" if unit == "cycles" else "energy") + " breakdown", fontsize=10)
        if total > 0:
            ax.legend(fontsize=7, loc="lower right")
        else:
            unmodelled = unit == "joules" and rows and all(energy_not_modelled(s) for _, s in rows)
            _note(ax, "energy not modelled (the chip has no energy table)" if unmodelled else
                  f"no {unit} recorded")
    if title:
        fig.suptitle(title)
    return fig


def _number(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) else 0.0
