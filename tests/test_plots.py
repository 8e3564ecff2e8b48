"""Plots and reports: every plot kind renders a PNG of the expected size and an SVG beside it;
the one plotting style (SI-prefixed units chosen per axis range, a legend or colour bar for
several series, seed spread only across seeds, runs that reached their target marked apart, the
chip, firmware and scenario named); the HTML report references only files that exist; run
--plot, hwsim report of run, sweep and compare folders from the command line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

import hwsim
from hwsim.cli import main
from hwsim.results import load, load_curves, plots
from hwsim.results.tables import flatten
from hwsim.sweep import plan_sweep, run_sweep
from helpers import tiny_scenario, write
from sweep_helpers import png_size, write_sweep


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plots")
    out = folder / "out"
    run_sweep(plan_sweep(write_sweep(folder)), out, serial=True)
    return out


@pytest.fixture(scope="module")
def angle_run(sweep_dir):
    """A run that records the gradient angle (observed between updates, so G_int is not empty)."""
    spec = hwsim.load_scenario(sweep_dir.parent / "tiny.yaml", {
        "firmware.evaluation.gradient_angle": True, "firmware.tau_theta": 100,
        "firmware.evaluation.every_steps": 250})
    return hwsim.run(spec, seed=0, out=sweep_dir.parent / "angle").run_dir


def _runs(sweep_dir):
    curves = load_curves(sweep_dir)
    return [(f"eta={eta:g}", c) for (eta, _), c in curves.groupby(["firmware.eta", "point"])]


def _check_png(path: Path) -> None:
    assert path.stat().st_size > 5000, f"{path} looks empty"
    assert png_size(path) == plots.SIZE
    _check_svg(path.with_suffix(".svg"))


def _check_svg(path: Path) -> str:
    """The SVG beside a PNG exists and parses; returns its text (kept as text, not paths)."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", f"{path} is not an SVG"
    return "".join(root.itertext())


@pytest.mark.parametrize("kind", ["curves_cycles", "curves_seconds", "time_to_target", "heatmap",
                                  "gradient_angle", "breakdown"])
def test_each_plot_kind_renders_a_png_and_an_svg_naming_chip_firmware_and_scenario(kind, sweep_dir, angle_run,
                                                                                    tmp_path):
    table = load(sweep_dir)
    assert (table.status == "reached_target").any()     # the time-to-target plots have data
    context = plots.caption("ideal_digital", "mgd_discrete", "tiny")
    figure = {
        "curves_cycles": lambda: plots.learning_curves(_runs(sweep_dir), "cycle", target=0.15, context=context),
        "curves_seconds": lambda: plots.learning_curves(_runs(sweep_dir), "seconds", context=context),
        "time_to_target": lambda: plots.time_to_target(table, "chip.cost_unit.noise_sigma", context=context,
                                                       others=["firmware.eta"]),
        "heatmap": lambda: plots.heatmap(table, "firmware.eta", "chip.cost_unit.noise_sigma",
                                         value="final_test_accuracy", context=context),
        "gradient_angle": lambda: plots.gradient_angle([("run", pd.read_csv(angle_run / "curve.csv"))],
                                                       context=context),
        "breakdown": lambda: plots.breakdown([(str(r["point"]), r) for r in table.to_dict("records")],
                                             context=context),
    }[kind]()
    png = plots.save(figure, tmp_path / f"{kind}.png")
    assert png == tmp_path / f"{kind}.png"
    _check_png(png)
    svg_text = _check_svg(tmp_path / f"{kind}.svg")
    assert "chip ideal_digital, firmware mgd_discrete, scenario tiny" in svg_text
    if kind == "gradient_angle":
        assert pd.read_csv(angle_run / "curve.csv").gradient_angle_deg.notna().sum() >= 3


def _references(page: Path) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page.read_text())


def _check_report(page: Path) -> list[str]:
    refs = _references(page)
    local = [r for r in refs if not r.startswith("data:")]
    for ref in local:
        assert not re.match(r"^[a-z]+:", ref), f"external reference {ref}"
        assert (page.parent / ref).is_file(), f"{page} references a missing file: {ref}"
    return refs


def test_sweep_report_writes_the_plots_and_a_page_that_references_existing_files(sweep_dir, capsys):
    assert main(["report", str(sweep_dir)]) == 0
    assert "report.html" in capsys.readouterr().out
    pngs = sorted((sweep_dir / "plots").glob("*.png"))
    names = {p.name for p in pngs}
    assert {"curves_cycles.png", "curves_seconds.png", "breakdown.png",
            "time_to_target_firmware.eta.png", "time_to_target_chip.cost_unit.noise_sigma.png",
            "heatmap_firmware.eta__chip.cost_unit.noise_sigma.png"} <= names
    for p in pngs:
        _check_png(p)
    refs = _check_report(sweep_dir / "report.html")
    assert sum(r.startswith("data:image/png;base64,") for r in refs) == len(pngs)   # self-contained
    assert sum(r.endswith(".svg") for r in refs) == len(pngs)                       # each links its SVG
    assert "results.parquet" in refs and sum(r.endswith("/summary.json") for r in refs) == 8
    page = (sweep_dir / "report.html").read_text()
    assert "chip ideal_digital, firmware mgd_discrete, scenario tiny" in page
    assert "chip ideal_digital, firmware mgd_discrete, scenario tiny" in _check_svg(
        sweep_dir / "plots" / "curves_cycles.svg")


def test_run_plot_and_run_report(sweep_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(sweep_dir.parent / "tiny.yaml"), "--out", str(out), "--quiet", "--plot"]) == 0
    assert "plots:" in capsys.readouterr().out
    pngs = sorted((out / "plots").glob("*.png"))
    assert [p.name for p in pngs] == ["breakdown.png", "curves_cycles.png", "curves_seconds.png"]
    for p in pngs:
        _check_png(p)
    assert main(["report", str(out)]) == 0
    refs = _check_report(out / "report.html")
    assert {"manifest.json", "curve.csv", "summary.json"} <= set(refs)


def test_report_of_a_folder_without_results_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run, sweep or compare directory" in capsys.readouterr().err


def test_plotting_leaves_the_matplotlib_backend_alone():
    import subprocess
    import sys

    code = ("import matplotlib; before = matplotlib.get_backend(); "
            "import hwsim.results.report, hwsim.results.plots; "
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())")
    subprocess.run([sys.executable, "-c", code], check=True, env={"MPLBACKEND": "svg", **_env()})


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}


def test_breakdown_bars_follow_the_summary(sweep_dir):
    table = load(sweep_dir)
    row = table.to_dict("records")[0]
    fig = plots.breakdown([("p0", row)])
    bars = [b for b in fig.axes[0].patches]
    assert sum(b.get_width() for b in bars) == pytest.approx(row["cycles_simulated"])
    assert flatten({"time_breakdown_cycles": {"x": 1}}) == {"time_breakdown_cycles.x": 1}


# --------------------------------------------------------------------------- the style

def _draw(fig) -> None:
    fig.canvas.draw()       # tick labels are only formatted when the figure is drawn


def _ticks(axis) -> list[str]:
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def _curve(seconds_max: float, cycles_max: float, n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"cycle": np.linspace(0, cycles_max, n), "seconds": np.linspace(0, seconds_max, n),
                         "samples_seen": np.arange(n) * 10, "step": np.arange(n) * 10,
                         "test_accuracy": np.linspace(0.1, 0.9, n), "gradient_angle_deg": np.nan})


@pytest.mark.parametrize("seconds_max, prefix", [(2.5e-5, "\N{MICRO SIGN}s"), (2.5e-9, "ns"), (2.5e-2, "ms"),
                                                  (40.0, " s")])
def test_time_axes_read_in_the_si_prefix_of_their_range(seconds_max, prefix):
    fig = plots.learning_curves([("run", _curve(seconds_max, 5e4))], "seconds")
    _draw(fig)
    ax = fig.axes[0]
    labels = _ticks(ax.xaxis)
    nonzero = [t for t in labels if not t.startswith("0 ")]
    assert nonzero and all(t.endswith(prefix) for t in nonzero), labels
    assert not any("e-" in t or "e+" in t for t in labels), labels
    assert ax.get_xlabel() == "chip time"
    # accuracies in percent
    assert all(t.endswith("%") for t in _ticks(ax.yaxis)), _ticks(ax.yaxis)


def test_cycle_and_energy_axes_use_si_prefixes_without_offsets():
    fig = plots.learning_curves([("run", _curve(2.5e-5, 5e4))], "cycle")
    _draw(fig)
    labels = _ticks(fig.axes[0].xaxis)
    assert "50k" in labels and "20k" in labels, labels
    assert fig.axes[0].xaxis.get_offset_text().get_text() == ""
    rows = [("a", {"time_breakdown_cycles.inferring": 3.0e6, "energy_breakdown_joules.mvm": 2.5e-6}),
            ("b", {"time_breakdown_cycles.inferring": 1.0e6, "energy_breakdown_joules.mvm": 1.0e-6})]
    fig = plots.breakdown(rows)
    _draw(fig)
    cycles, joules = _ticks(fig.axes[0].xaxis), _ticks(fig.axes[1].xaxis)
    assert any(t.endswith("M") for t in cycles), cycles
    assert [t for t in joules if not t.startswith("0 ")] and \
        all(t.endswith("\N{MICRO SIGN}J") for t in joules if not t.startswith("0 ")), joules


def test_several_series_get_a_legend_and_many_get_a_colour_bar():
    one = plots.learning_curves([("only", _curve(1e-5, 1e4))], "cycle")
    assert one.axes[0].get_legend() is None and len(one.axes) == 1
    three = plots.learning_curves([(f"eta={e}", _curve(1e-5 * e, 1e4 * e)) for e in (1, 2, 3)], "cycle")
    legend = three.axes[0].get_legend()
    assert legend is not None
    assert {"eta=1", "eta=2", "eta=3"} <= {t.get_text() for t in legend.get_texts()}
    many = [(f"sigma={s:.3f}", _curve(1e-5, 1e4)) for s in np.linspace(0.001, 0.03, plots.MAX_LEGEND + 6)]
    fig = plots.learning_curves(many, "cycle", colour_by={lab: float(lab.split("=")[1]) for lab, _ in many},
                                colour_label="noise sigma")
    bars = [ax for ax in fig.axes if ax is not fig.axes[0]]
    assert len(bars) == 1 and bars[0].get_ylabel() == "noise sigma"     # the colour bar, named
    angles = [(f"run {i}", _curve(1e-5, 1e4).assign(gradient_angle_deg=np.linspace(80, 40, 6))) for i in (0, 1)]
    legend = plots.gradient_angle(angles).axes[0].get_legend()
    assert legend is not None and {"run 0", "run 1"} <= {t.get_text() for t in legend.get_texts()}


def _grid_table(seeds: list[int]) -> pd.DataFrame:
    """Two swept axes a (3 values) and b (2 values), ``seeds`` per point; b shifts the result
    by 1e-3 s, each seed by 1e-6 s: a spread across b would be a thousand times a seed's."""
    rows = []
    for a in (1.0, 2.0, 3.0):
        for b in (0.0, 1.0):
            for seed in seeds:
                rows.append({"a": a, "b": b, "seed": seed, "state": "finished", "status": "reached_target",
                             "seconds_to_target": 1e-3 * (1 + b) + 1e-6 * seed,
                             "final_test_accuracy": 0.9})
    return pd.DataFrame(rows)


def _spreads(fig) -> list[float]:
    out = []
    for c in fig.axes[0].containers:
        if isinstance(c, ErrorbarContainer):
            for seg in c.lines[2][0].get_segments():
                out.append(abs(seg[1][1] - seg[0][1]))
    return out


def test_seed_spread_appears_only_across_seeds_of_the_same_point():
    single = plots.time_to_target(_grid_table([0]), "a", others=["b"])
    assert _spreads(single) == []
    texts = [t.get_text() for t in single.axes[0].get_legend().get_texts()]
    assert "b=0" in texts and "b=1" in texts and not any("min-max" in t for t in texts)
    assert "one run per point" in single._suptitle.get_text()
    several = plots.time_to_target(_grid_table([0, 1, 2]), "a", others=["b"])
    spreads = _spreads(several)
    assert len(spreads) == 6                                            # every point, both series
    assert max(spreads) == pytest.approx(2e-6)                          # seeds only, never b's 1e-3
    assert "median over 3 seeds" in several._suptitle.get_text()
    assert any("min-max over seeds" in t.get_text() for t in several.axes[0].get_legend().get_texts())


def test_runs_that_reached_their_target_are_marked_apart_from_those_out_of_budget():
    table = _grid_table([0, 1])
    table.loc[table.seed == 1, "status"] = "budget_exhausted"
    table.loc[table.seed == 1, "final_test_accuracy"] = 0.6
    fig = plots.time_to_target(table, "a", y="final_test_accuracy", others=["b"])
    texts = {t.get_text() for t in fig.axes[0].get_legend().get_texts()}
    assert {"reached the target (stopped there)", "ran out of budget"} <= texts
    # the two kinds of run are drawn with different marker shapes
    reached = [c for c in fig.axes[0].collections if c.get_offsets().size and c.get_offsets()[0][1] == 0.9]
    exhausted = [c for c in fig.axes[0].collections if c.get_offsets().size and c.get_offsets()[0][1] == 0.6]
    assert reached and exhausted
    assert not np.array_equal(reached[0].get_paths()[0].vertices, exhausted[0].get_paths()[0].vertices)
    curves = plots.learning_curves([("a", _curve(1e-5, 1e4), "reached_target"),
                                    ("b", _curve(2e-5, 2e4), "budget_exhausted")], "cycle", target=0.9)
    texts = {t.get_text() for t in curves.axes[0].get_legend().get_texts()}
    assert {"reached the target (stopped there)", "ran out of budget", "target 90%"} <= texts


def test_heatmap_names_what_the_median_is_over_and_formats_seconds(tmp_path):
    table = _grid_table([0, 1]).assign(c=[0, 0, 1, 1] * 3)
    fig = plots.heatmap(table, "a", "b", over=["c"])
    _draw(fig)
    bar = fig.axes[1]
    assert "median over seeds and c" in bar.get_ylabel()
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert "1 ms" in cells and "2 ms" in cells, cells
    single = plots.heatmap(_grid_table([0]), "a", "b")
    assert "one run per cell" in single.axes[1].get_ylabel() and "median" not in single.axes[1].get_ylabel()


# --------------------------------------------------------------------------- compare folders

@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory):
    from hwsim.compare import compare

    folder = tmp_path_factory.mktemp("compare")
    scen = write(folder, "cmp.yaml", tiny_scenario(eta=1.0, cost="mse", target=0.15, max_cycles=100_000_000,
                                                    max_steps=300, every_steps=100)
                 + "compare_chips: [rram_crossbar]\n")
    compare(scen, seeds=(0, 1), out=folder / "cmp")
    return folder / "cmp"


def test_compare_writes_its_plots_and_hwsim_report_accepts_the_folder(compare_dir, capsys):
    names = {p.name for p in (compare_dir / "plots").glob("*.png")}
    assert {"curves_samples.png", "curves_seconds.png", "final_accuracy_variant.png",
            "time_to_target_variant.png", "breakdown.png"} <= names
    for name in names:
        _check_png(compare_dir / "plots" / name)
    text = _check_svg(compare_dir / "plots" / "curves_samples.svg")
    assert "2 chips, firmware mgd_discrete, scenario tiny" in text
    assert "ideal_digital+mgd_discrete" in text and "rram_crossbar+mgd_discrete" in text   # the legend
    assert main(["report", str(compare_dir)]) == 0
    assert "report.html" in capsys.readouterr().out
    refs = _check_report(compare_dir / "report.html")
    assert sum(r.startswith("data:image/png;base64,") for r in refs) == len(names)
    assert "comparison.csv" in refs and sum(r.endswith("/summary.json") for r in refs) == 4


@pytest.mark.parametrize("values, scale", [([0.0, 0.001, 0.003, 0.01, 0.03], "symlog"),
                                           ([0.001, 0.003, 0.01, 0.03], "log"), ([0.1, 0.2, 0.3], "linear")])
def test_log_spaced_swept_values_get_a_log_axis(values, scale):
    rows = [{"a": a, "seed": 0, "state": "finished", "status": "reached_target", "seconds_to_target": 1e-4 + a}
            for a in values]
    assert plots.time_to_target(pd.DataFrame(rows), "a").axes[0].get_xscale() == scale
