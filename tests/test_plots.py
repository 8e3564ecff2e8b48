"""Plots and reports: every plot kind renders a PNG of the expected size; the HTML report
references only files that exist; run --plot and hwsim report from the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import hwsim
from hwsim.cli import main
from hwsim.results import load, load_curves, plots
from hwsim.results.tables import flatten
from hwsim.sweep import plan_sweep, run_sweep
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


@pytest.mark.parametrize("kind", ["curves_cycles", "curves_seconds", "time_to_target", "heatmap",
                                  "gradient_angle", "breakdown"])
def test_each_plot_kind_renders_a_png_of_the_expected_size(kind, sweep_dir, angle_run, tmp_path):
    table = load(sweep_dir)
    assert (table.status == "reached_target").any()     # the time-to-target plots have data
    figure = {
        "curves_cycles": lambda: plots.learning_curves(_runs(sweep_dir), "cycle", target=0.15),
        "curves_seconds": lambda: plots.learning_curves(_runs(sweep_dir), "seconds"),
        "time_to_target": lambda: plots.time_to_target(table, "chip.cost_unit.noise_sigma"),
        "heatmap": lambda: plots.heatmap(table, "firmware.eta", "chip.cost_unit.noise_sigma",
                                         value="final_test_accuracy"),
        "gradient_angle": lambda: plots.gradient_angle([("run", pd.read_csv(angle_run / "curve.csv"))]),
        "breakdown": lambda: plots.breakdown([(str(r["point"]), r) for r in table.to_dict("records")]),
    }[kind]()
    _check_png(plots.save(figure, tmp_path / f"{kind}.png"))
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
    assert "results.parquet" in refs and sum(r.endswith("/summary.json") for r in refs) == 8


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
    assert "not a run or sweep directory" in capsys.readouterr().err


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
