"""Plots of runs and sweeps, headless: figures are built with matplotlib's object API on the
Agg canvas (no pyplot, no GUI backend, nothing global changed), every PNG ``SIZE`` pixels,
with an SVG of the same figure beside it (:func:`save`).

Every figure kind goes through one style, :func:`style`: axes in engineering units with SI
prefixes (matplotlib's EngFormatter: ``25 us``, ``3 nJ``, ``50k`` cycles), accuracies in
percent, a title naming what is plotted and a caption naming the chip, firmware and scenario
(``context``), a legend or a colour bar whenever there is more than one series.

* :func:`learning_curves` - test accuracy against cycles, seconds or samples, runs overlaid;
  where each run ended is marked: reached its target, ran out of budget or diverged;
* :func:`time_to_target` - time (or cycles, joules, final accuracy) against a swept
  parameter, one series per combination of the other swept parameters, every seed shown, the
  median joined and the min-max spread over seeds as a bar (only where a point has several);
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
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import EngFormatter, NullFormatter, PercentFormatter, ScalarFormatter

from hwsim.results.rundir import atomic_write
from hwsim.results.tables import energy_not_modelled

DPI = 100
SIZE = (800, 480)           # pixels of every PNG
FORMATS = ("png", "svg")    # every figure is saved in each (the vector one for papers)
MAX_LEGEND = 24             # series named one by one in a legend; beyond, a colour bar
PERCENT = "%"               # the unit of accuracies (fractions shown as percent)

# column -> (axis label, unit): unit "" is a count (50k, 1.2M), None a plain number.
QUANTITIES = {
    "cycle": ("chip cycles", ""), "seconds": ("chip time", "s"), "samples_seen": ("samples seen", ""),
    "step": ("steps", ""), "seconds_to_target": ("chip time to target", "s"),
    "cycles_to_target": ("chip cycles to target", ""), "samples_to_target": ("samples to target", ""),
    "energy_joules_to_target": ("energy to target", "J"), "energy_joules": ("energy", "J"),
    "final_test_accuracy": ("final test accuracy", PERCENT),
    "best_test_accuracy": ("best test accuracy", PERCENT), "test_accuracy": ("test accuracy", PERCENT),
    "gradient_angle_deg": ("angle to the true gradient (degrees)", None),
    "cycles": ("chip cycles", ""), "joules": ("energy", "J"),
}
AXIS_LABELS = {k: v[0] for k, v in QUANTITIES.items()}      # (kept for callers of the old name)
# Where a run ended, as the marker at the end of its curve or on its dot.
STATUS_MARKERS = {"reached_target": ("o", "reached the target (stopped there)"),
                  "budget_exhausted": ("X", "ran out of budget"),
                  "diverged": ("v", "diverged")}


def new_figure(ncols: int = 1, sharey: bool = False) -> Figure:
    fig = Figure(figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(1, ncols, sharey=sharey)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG of exactly SIZE pixels and, beside it, an SVG of the same name
    (text kept as text, no date: the same figure gives the same bytes), each atomically;
    returns the PNG's path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        buf = io.BytesIO()
        # rc_context restores the caller's settings: nothing global is changed.
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "hwsim"}):
            fig.savefig(buf, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else None)
        atomic_write(path.with_suffix(f".{fmt}"), buf.getvalue())
    return path


# --------------------------------------------------------------------------- the style

def quantity(name: str) -> tuple[str, str | None]:
    """(axis label, unit) of a column: a known figure, or a swept dotted path shown by its
    last part ('noise sigma (chip.cost_unit)') with the unit its name implies."""
    if name in QUANTITIES:
        return QUANTITIES[name]
    head, _, tail = name.rpartition(".")
    label = tail.replace("_", " ") + (f" ({head})" if head else "")
    unit = ("s" if tail.endswith(("period", "duration", "latency", "_seconds")) or tail == "seconds"
            else "J" if "joules" in tail else None)
    return label, unit


class AxisEngFormatter(EngFormatter):
    """matplotlib's EngFormatter with one SI prefix for the whole axis, chosen from the axis
    range (0, 0.5 ns, ..., 2.5 ns rather than 500 ps, 1 ns, ...): the prefix of the largest
    value in view. Log axes keep EngFormatter's prefix per tick (they span decades)."""

    def set_locs(self, locs):
        super().set_locs(locs)
        self._prefix_power = None
        if len(locs) and self.axis is not None:
            big = max(abs(v) for v in self.axis.get_view_interval())
            if np.isfinite(big) and big > 0:
                self._prefix_power = int(np.clip(math.floor(math.log10(big) / 3) * 3, -30, 30))

    def __call__(self, x, pos=None):
        power = getattr(self, "_prefix_power", None)
        if power is None or not np.isfinite(x):
            return super().__call__(x, pos)
        v = x / 10.0 ** power
        if abs(v) < 1e-9:
            return f"0{self.sep}{self.unit}".rstrip() if self.unit else "0"
        text = f"{v:.{self.places}f}" if self.places is not None else f"{v:.4g}"
        return self.fix_minus(f"{text}{self.sep}{self.ENG_PREFIXES[power]}{self.unit}")


def formatter(unit: str | None, log: bool = False):
    """The tick formatter of a unit: SI prefixes (EngFormatter) for units and counts, one per
    axis on linear axes; percent for accuracies; plain numbers without an offset otherwise."""
    if unit == PERCENT:
        return PercentFormatter(xmax=1.0)
    if unit is None:
        return ScalarFormatter(useOffset=False)
    return (EngFormatter if log else AxisEngFormatter)(unit=unit, sep=" " if unit else "")


def format_value(value: float, unit: str | None) -> str:
    """One number as the axes show it: '25 us', '50k', '87.5%', '0.003'."""
    if value is None or not np.isfinite(value):
        return "-"
    if unit == PERCENT:
        return f"{100 * value:.3g}%"
    if unit is None:
        return f"{value:.3g}"
    # Three significant figures, then EngFormatter's prefix: '1 ms', not '1.0005 ms'.
    return EngFormatter(unit=unit, sep=" " if unit else "").format_data(float(f"{value:.3g}")).strip()


def _set_axis(axis, name: str | None, label: bool = True) -> None:
    if name is None:
        return
    text, unit = quantity(name)
    if label:
        axis.set_label_text(text)
    if axis.get_scale() in ("log", "symlog"):
        if unit not in (None, PERCENT):
            axis.set_major_formatter(formatter(unit, log=True))
            axis.set_minor_formatter(NullFormatter())
    else:
        axis.set_major_formatter(formatter(unit))


def caption(chip=None, firmware=None, scenario=None) -> str:
    """'chip rram_crossbar, firmware mgd_discrete, scenario quickstart' (what is known); a
    part given as a count ('3 chips') is written as it is."""
    parts = [v if str(v)[:1].isdigit() else f"{k} {v}"
             for k, v in (("chip", chip), ("firmware", firmware), ("scenario", scenario)) if v]
    return ", ".join(parts)


def style(fig: Figure, title: str, context: str = "", axes: list[tuple] = (), grid: bool = True) -> Figure:
    """The one style of every figure: ``axes`` lists (ax, x column, y column) whose axes get
    their label and SI-prefixed ticks; the title on top with the context (chip, firmware,
    scenario) as its caption line; light grid, no top and right spines, 8-point ticks."""
    for ax, x, y in axes:
        _set_axis(ax.xaxis, x)
        _set_axis(ax.yaxis, y)
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        if grid:
            ax.grid(alpha=0.3)
    fig.suptitle(title + (f"\n{context}" if context else ""), fontsize=11)
    return fig


def _legend(ax, n_entries: int) -> None:
    """A legend inside the axes when it is short, beside them when long."""
    if n_entries > 6:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                  ncols=1 if n_entries <= 18 else 2, frameon=False)
    else:
        ax.legend(fontsize=8, loc="best")


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True,
            fontsize=10, color="0.35")


def _colours(labels: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    unique = list(dict.fromkeys(labels))
    cmap = colormaps["tab10" if len(unique) <= 10 else "tab20" if len(unique) <= 20 else "viridis"]
    n = max(1, len(unique) - 1)
    return {lab: cmap(i if len(unique) <= 20 else i / n) for i, lab in enumerate(unique)}


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values)


def _log_scale_fits(values) -> bool:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return v.size > 1 and (v > 0).all() and v.max() / v.min() >= 100


def _spacing(values) -> str:
    """How swept values are spaced: 'log' (positive, each a multiple of the last: 1e-3, 3e-3,
    1e-2, ...), 'symlog' (the same with a zero in front) or 'linear'."""
    v = sorted(float(x) for x in values if x is not None and np.isfinite(x))
    if _log_scale_fits(v):
        return "log"
    positive = [x for x in v if x > 0]
    if len(v) >= 3 and v[0] >= 0 and len(positive) >= 2 and positive[-1] / positive[0] >= 10 \
            and np.median(np.diff(np.log(positive))) >= np.log(1.8):
        return "log" if len(positive) == len(v) else "symlog"
    return "linear"


def _short(path: str) -> str:
    return quantity(path)[0]


def _end_markers(ax, present: set[str]) -> list:
    """Legend handles for the end-of-run markers that appear in the figure."""
    return [Line2D([], [], ls="none", marker=STATUS_MARKERS[s][0], color="0.3", markersize=6,
                   label=STATUS_MARKERS[s][1]) for s in STATUS_MARKERS if s in present]


# --------------------------------------------------------------------------- figure kinds

def learning_curves(runs: list[tuple], x: str = "cycle", target: float | None = None, title: str = "",
                    context: str = "", colour_by: dict | None = None, colour_label: str = "") -> Figure:
    """Test accuracy against ``x`` (cycle, seconds, samples_seen, step) for every run. ``runs``
    holds (label, curve) or (label, curve, status): runs sharing a label (the seeds of one
    point) share a colour and a legend entry; a status marks where the run ended. Beyond
    MAX_LEGEND labels the lines are coloured by ``colour_by`` (label -> number) on a colour
    bar named ``colour_label`` (or by their order when it is not given)."""
    fig = new_figure()
    ax = fig.axes[0]
    labels = list(dict.fromkeys(r[0] for r in runs))
    mapped = None
    if len(labels) > MAX_LEGEND:
        from matplotlib import colormaps
        from matplotlib.colors import LogNorm, Normalize

        values = colour_by if colour_by and all(lab in colour_by for lab in labels) else \
            {lab: i for i, lab in enumerate(labels)}
        v = np.array([float(values[lab]) for lab in labels])
        norm = LogNorm(v.min(), v.max()) if _log_scale_fits(v) else Normalize(v.min(), v.max())
        cmap = colormaps["viridis"]
        colours = {lab: cmap(norm(float(values[lab]))) for lab in labels}
        mapped = (cmap, norm, colour_label if values is colour_by else "run (in legend order)")
    else:
        colours = _colours(labels)
    drawn, shown, ends = 0, set(), set()
    for run in runs:
        label, curve = run[0], run[1]
        status = run[2] if len(run) > 2 else None
        c = curve[[x, "test_accuracy"]].dropna()
        if c.empty:
            continue
        ax.plot(c[x], c["test_accuracy"], color=colours[label], lw=1.4, alpha=0.85,
                label=label if label not in shown and mapped is None else None,
                marker="." if len(c) < 30 else None)
        if status in STATUS_MARKERS:
            ax.plot(c[x].iloc[-1], c["test_accuracy"].iloc[-1], ls="none", marker=STATUS_MARKERS[status][0],
                    color=colours[label], markeredgecolor="0.2", markersize=6, zorder=4)
            ends.add(status)
        shown.add(label)
        drawn += 1
    if drawn == 0:
        _note(ax, f"no learning curve has a {_short(x)} axis")
    if target is not None:
        ax.axhline(target, color="0.3", ls="--", lw=1, label=f"target {target:.0%}")
    handles, _ = ax.get_legend_handles_labels()
    handles += _end_markers(ax, ends)
    if mapped is not None:
        from matplotlib.cm import ScalarMappable

        cmap, norm, name = mapped
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=name)
        bar.ax.tick_params(labelsize=8)
    if handles and (len(shown) > 1 or target is not None or ends):
        ax.legend(handles=handles, fontsize=7 if len(handles) > 6 else 8, frameon=False,
                  **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0,
                      "ncols": 1 if len(handles) <= 18 else 2} if len(handles) > 6 else {"loc": "best"}))
    return style(fig, title or f"Learning curves against {_short(x)}", context, [(ax, x, "test_accuracy")])


def _groups(table: pd.DataFrame, columns: list[str]):
    """(label, rows) per combination of ``columns`` ('eta=0.3, noise_sigma=0.05'), in order."""
    if not columns:
        yield "", table
        return
    tails = [c.split(".")[-1] for c in columns]
    names = tails if len(set(tails)) == len(tails) else columns
    for key, rows in table.groupby(columns, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield ", ".join(f"{n}={_tick(v)}" for n, v in zip(names, key)), rows


def time_to_target(table: pd.DataFrame, param: str, y: str = "seconds_to_target", title: str = "",
                   context: str = "", others: list[str] | None = None, sort: bool = True) -> Figure:
    """``y`` against swept ``param``, one series per combination of the ``others`` swept
    parameters (so that a point's spread is over its seeds only): every seed as a dot (its
    marker says whether the run reached its target, ran out of budget or diverged), the median
    over seeds joined, the min-max over seeds as a bar where a point has several seeds; runs
    that never reached the target are counted per value. ``sort=False`` keeps the values in
    table order (the baseline variant first)."""
    fig = new_figure()
    ax = fig.axes[0]
    others = [c for c in (others or []) if c != param and c in table]
    done = table[table.state == "finished"] if "state" in table else table
    values = (_sorted_unique(done[param]) if sort else list(dict.fromkeys(done[param]))) if param in done else []
    numeric = _numeric(values)
    pos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    ys_all = pd.to_numeric(done[y], errors="coerce") if y in done else pd.Series(np.nan, index=done.index)
    groups = list(_groups(done, others))
    colours = _colours([g for g, _ in groups])
    any_line = spread_drawn = False
    ends, missed, seeds_per_point = set(), {}, []
    for name, rows in groups:
        colour = colours[name] if len(groups) > 1 else "tab:blue"
        ys = ys_all[rows.index]
        med = []
        for v in values:
            at = rows[param] == v
            sel = ys[at].dropna()
            n_miss = int(at.sum() - len(sel))
            if n_miss and y.endswith("_to_target"):
                missed[pos[v]] = missed.get(pos[v], 0) + n_miss
            if at.any():
                seeds_per_point.append(int(at.sum()))
            if not len(sel):
                continue
            status = rows.loc[sel.index, "status"] if "status" in rows else pd.Series(None, index=sel.index)
            for st, part in sel.groupby(status.fillna("").values):
                marker = STATUS_MARKERS.get(st, ("o", ""))[0]
                ax.scatter([pos[v]] * len(part), part, s=40, marker=marker, color=colour, alpha=0.8,
                           zorder=4, edgecolors="white", linewidths=0.5)
                ends.add(st)
            m = float(sel.median())
            med.append((pos[v], m))
            if len(sel) > 1:
                ax.errorbar([pos[v]], [m], yerr=[[m - sel.min()], [sel.max() - m]], color=colour, capsize=3,
                            lw=1.0, alpha=0.6, zorder=2, fmt="none", gid="seed-spread",
                            label=None if spread_drawn else "min-max over seeds")
                spread_drawn = True
        if med:
            xs, ms = zip(*med)
            # Categories (chips, firmware) are not joined: the median is a dash at each.
            ax.plot(xs, ms, color=colour, lw=1.5, label=name or None, ls="-" if numeric else "none",
                    marker=None if numeric else "_", markersize=24, markeredgewidth=2)
            any_line = True
    if any_line and _log_scale_fits(list(ys_all.dropna())) and not quantity(y)[1] == PERCENT:
        ax.set_yscale("log")
    if not any_line:
        _note(ax, "no point reached the target accuracy within its budget" if y.endswith("_to_target")
              else f"no finished point has {_short(y)}")
    for xpos, n in missed.items():
        note = ax.annotate(f"{n} not\nreached", (xpos, 0.98), xycoords=("data", "axes fraction"),
                           ha="center", va="top", fontsize=7, color="tab:red")
        note.set_in_layout(False)
    spacing = _spacing(values) if numeric else "linear"
    if spacing == "log":
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.5, max(values) * 1.5)
    elif spacing == "symlog":       # log-spaced values and a zero (0, 0.001, 0.003, 0.01)
        smallest = min(v for v in values if v > 0)
        ax.set_xscale("symlog", linthresh=smallest)
        ax.set_xlim(-0.3 * smallest, max(values) * 1.5)
    elif values:
        lo, hi = min(pos.values()), max(pos.values())
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_xlim(lo - pad, hi + pad)
    if not numeric:
        ax.set_xticks(list(pos.values()), [str(v) for v in values], rotation=20, fontsize=8)
    # What the line is: the median over how many seeds (one seed: the line joins single runs).
    n_seeds = sorted(set(seeds_per_point))
    line_is = ("one run per point" if n_seeds == [1] else
               f"median over {n_seeds[0]} seeds" if len(n_seeds) == 1 else
               f"median over {n_seeds[0]}-{n_seeds[-1]} seeds")
    if n_seeds != [1] and y.endswith("_to_target") and missed:
        line_is += " that reached the target"
    handles, _ = ax.get_legend_handles_labels()
    if len(groups) == 1 and any_line:
        handles.insert(0, Line2D([], [], color="tab:blue", lw=1.5, label=line_is))
    handles += _end_markers(ax, ends) if len(ends) > 1 or "reached_target" not in ends else []
    if handles:
        ax.legend(handles=handles, fontsize=7 if len(handles) > 6 else 8, frameon=False,
                  **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0,
                      "ncols": 1 if len(handles) <= 18 else 2} if len(handles) > 6 else {"loc": "best"}))
    subtitle = f" ({line_is})" if len(groups) > 1 and any_line else ""
    style(fig, (title or f"{_short(y).capitalize()} against {_short(param)}") + subtitle, context,
          [(ax, None if not numeric else param, y)])
    ax.set_xlabel(_short(param))
    return fig


def heatmap(table: pd.DataFrame, x: str, y: str, value: str = "seconds_to_target", title: str = "",
            context: str = "", over: list[str] | None = None) -> Figure:
    """Median of ``value`` over seeds (and the ``over`` swept axes, named on the colour bar)
    on the grid of swept ``x`` and ``y``; cells where no run reached the target are grey and
    marked; accuracy cells say how many of their runs stopped at the target."""
    from matplotlib.patheffects import withStroke

    fig = new_figure()
    ax = fig.axes[0]
    done = table[table.state == "finished"] if "state" in table else table
    xs, ys = _sorted_unique(table[x]), _sorted_unique(table[y])
    grid = np.full((len(ys), len(xs)), np.nan)
    reached = np.zeros_like(grid, dtype=int)
    runs = np.zeros_like(grid, dtype=int)
    vals = pd.to_numeric(done[value], errors="coerce") if value in done else pd.Series(dtype=float)
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            at = (done[x] == xv) & (done[y] == yv)
            sel = vals[at].dropna()
            runs[i, j] = int(at.sum())
            if "status" in done:
                reached[i, j] = int((done.status[at] == "reached_target").sum())
            if len(sel):
                grid[i, j] = float(sel.median())
    ax.set_facecolor("0.85")
    unit = quantity(value)[1]
    finite = grid[np.isfinite(grid)]
    over = [c for c in (over or []) if c not in (x, y)]
    median_of = ("one run per cell" if runs.max(initial=0) <= 1 else
                 "median over seeds" + (" and " + ", ".join(_short(c) for c in over) if over else ""))
    if finite.size:
        from matplotlib.colors import LogNorm

        norm = LogNorm(finite.min(), finite.max()) if _log_scale_fits(finite) else None
        # Times and energies: lower is better, shown bright; accuracies: higher is bright.
        cmap = "viridis_r" if value.endswith("_to_target") else "viridis"
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap, norm=norm)
        bar = fig.colorbar(im, ax=ax, label=f"{_short(value)}\n({median_of})")
        _set_axis(bar.ax.yaxis, value, label=False)
        bar.ax.tick_params(labelsize=8)
    else:
        _note(ax, "no point reached the target accuracy within its budget")
        ax.imshow(np.zeros_like(grid), origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=4)
    accuracy = unit == PERCENT and "status" in done
    if grid.size <= 225:
        for i in range(len(ys)):
            for j in range(len(xs)):
                text = "not\nreached" if not np.isfinite(grid[i, j]) else format_value(grid[i, j], unit)
                if accuracy and np.isfinite(grid[i, j]) and reached[i, j]:
                    text += ("\nat target" if reached[i, j] == runs[i, j]
                             else f"\n{reached[i, j]}/{runs[i, j]} at target")
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white",
                        path_effects=[withStroke(linewidth=2, foreground="black")])
    xunit, yunit = quantity(x)[1], quantity(y)[1]
    ax.set_xticks(range(len(xs)), [_tick(v, xunit) for v in xs], fontsize=8)
    ax.set_yticks(range(len(ys)), [_tick(v, yunit) for v in ys], fontsize=8)
    ax.set_xlabel(_short(x))
    ax.set_ylabel(_short(y))
    return style(fig, title or f"{_short(value).capitalize()} over {_short(x)} and {_short(y)}", context,
                 grid=False)


def _sorted_unique(series: pd.Series) -> list:
    values = list(dict.fromkeys(series.tolist()))
    try:
        values.sort()
    except TypeError:
        pass
    return values


def _tick(v, unit: str | None = None) -> str:
    if isinstance(v, float) and unit not in (None, PERCENT):
        return format_value(v, unit)
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def gradient_angle(runs: list[tuple], title: str = "", context: str = "") -> Figure:
    """Angle (degrees) between the integrated MGD gradient estimate and the true gradient
    against steps, for every run that recorded it (firmware.evaluation.gradient_angle)."""
    fig = new_figure()
    ax = fig.axes[0]
    colours = _colours([r[0] for r in runs])
    shown = set()
    for run in runs:
        label, curve = run[0], run[1]
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
    if 1 < len(shown):
        _legend(ax, len(shown))
    return style(fig, title or "Gradient estimate: angle to the true gradient", context,
                 [(ax, "step", "gradient_angle_deg")])


def breakdown(rows: list[tuple[str, dict]], title: str = "", context: str = "") -> Figure:
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
            ax.barh(range(len(rows)), vals, left=left, color=colours[part], label=part.replace("_", " "))
            left += vals
            total += vals.sum()
        ax.set_yticks(range(len(rows)), labels, fontsize=7 if len(rows) > 8 else 8)
        ax.set_ylim(len(rows) - 0.5, -0.5)   # first row on top
        ax.xaxis.get_major_locator().set_params(nbins=5)
        ax.set_title(("time" if unit == "cycles" else "energy") + " breakdown", fontsize=10)
        if total > 0:   # below the bars, never over them
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(3, len(parts)),
                      frameon=False)
        else:
            unmodelled = unit == "joules" and rows and all(energy_not_modelled(s) for _, s in rows)
            _note(ax, "energy not modelled (the chip has no energy table)" if unmodelled else
                  f"no {unit} recorded")
    style(fig, title or "Where the chip time and the energy went", context,
          [(fig.axes[0], "cycles", None), (fig.axes[1], "joules", None)])
    for ax in fig.axes:
        ax.grid(axis="y", visible=False)
    return fig


def _number(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) else 0.0
