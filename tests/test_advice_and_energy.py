"""Honest advice and honest figures (issue 16): the update-stall warning against the measured
update phases for parallel, row-serial and serial writes; warnings recorded in manifest.json,
summary.json and sweep tables; a chip without an energy table writes null joules and lists
what it does not model; the run headline gives cycles, seconds, joules and the largest
components."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import make_spec, write
from hwsim.api import run
from hwsim.chip.timing import inference_timing, update_phase_bound
from hwsim.cli import main
from hwsim.engine.simulation import Simulation
from hwsim.network.layout import scenario_layout
from hwsim.results.report import format_si
from hwsim.run_plan import load_scenario
from hwsim.advice import spec_warnings, timing_warnings
from sweep_helpers import ROOT, TINY

N = 100                     # steps
TAU_THETA = 5               # steps per update: N // TAU_THETA updates
INPUT_ROWS = (64 + 1) + (8 + 1)   # crossbar input lines of 64-8-10 (each layer's fan-in + bias row)
# II = 2, L = 6, B = 3: every update waits 6 - 2 + 3 = 7 cycles for its window's last cost,
# then 4 cycles of controller overhead, then pulses of 5 cycles.
DRAIN, OVERHEAD, PULSE = 7, 4, 5
UPDATE_WARNING = re.compile(r"an update may take up to (\d+) cycles")


def timed(chip: dict):
    base = {"inference": {"cycles_per_inference": 6, "initiation_interval": 2}, "broadcast": {"latency": 3}}
    spec = make_spec(dataset={"name": "digits"}, network={"hidden": [8], "activation": "relu"},
                     cost="cross_entropy", chip={**base, **chip},
                     perturbation={"scheme": "cdma", "amplitude": 0.05}, tau_x=5, tau_theta=TAU_THETA,
                     eta=0.1, evaluation={"every_steps": 50})
    return spec.with_overrides({"scenario.max_steps": N, "scenario.max_cycles": 10**9})


def writing(parallelism: str, law: str, dw_min: float = 1e-12, blocking: bool = True, max_pulses: int = 3):
    return timed({"update": {"pulse_duration": "5 ns", "overhead_cycles": OVERHEAD, "max_pulses": max_pulses,
                             "parallelism": parallelism, "blocking": blocking},
                  "device": {"law": law, "dw_min": dw_min}})


def promised(spec) -> int:
    """The cycles per update the tau_theta warning promises at most."""
    found = [int(m.group(1)) for w in timing_warnings(spec) if (m := UPDATE_WARNING.search(w))]
    assert len(found) == 1, timing_warnings(spec)
    return found[0]


@pytest.mark.parametrize("law, pulses", [("ideal", 1), ("constant_step", 3)])
@pytest.mark.parametrize("parallelism", ["parallel", "row_serial", "serial"])
def test_update_warning_is_the_measured_update_phase(parallelism, law, pulses):
    """Exact, not just a bound: every device takes the most pulses an update can send it (the
    ideal law writes every changed weight in one slot; with dw_min = 1e-12 every request of a
    pulsed law is above max_pulses x dw_min), so each blocking update phase is the bound."""
    spec = writing(parallelism, law)
    p = Simulation(spec, seed=0).layout.n_params
    slots = {"parallel": 1, "row_serial": INPUT_ROWS, "serial": p}[parallelism] * pulses
    closed_form = DRAIN + OVERHEAD + slots * PULSE
    layout = scenario_layout(spec.scenario)
    assert update_phase_bound(spec.chip, layout, inference_timing(spec.chip, layout)) == closed_form
    assert promised(spec) == closed_form
    s = run(spec, seed=0).summary
    assert s["updates"] == N // TAU_THETA
    assert s["time_breakdown_cycles"]["updating"] == s["updates"] * closed_form
    assert s["cycles_simulated"] == N * 2 + s["updates"] * closed_form


@pytest.mark.parametrize("parallelism", ["parallel", "row_serial", "serial"])
def test_update_warning_bounds_updates_whose_pulses_vary(parallelism):
    """A bound: with dw_min = 0.002 devices take 0 to 31 pulses, so an update phase is at most
    the warning's figure, and for row-serial and serial writes far beyond what pricing them as
    parallel (drain + overhead + 31 pulses) promised (issue 16: 620 promised, 11,030 measured)."""
    spec = writing(parallelism, "constant_step", dw_min=0.002, max_pulses=31)
    s = run(spec, seed=0).summary
    measured = s["time_breakdown_cycles"]["updating"] / s["updates"]
    assert s["device_pulses_max"] > 0
    assert measured <= promised(spec)
    as_if_parallel = DRAIN + OVERHEAD + 31 * PULSE
    if parallelism == "parallel":
        assert promised(spec) == as_if_parallel
    else:
        assert measured > 2 * as_if_parallel


def test_non_blocking_update_warning_predicts_the_stalls():
    """Non-blocking: inference carries on, and each update after the first waits for the one
    before, the promised phase less the TAU_THETA steps x 2 cycles between updates."""
    spec = writing("row_serial", "constant_step", blocking=False)
    phase = promised(spec)
    assert "updates queue up" in timing_warnings(spec)[0]
    s = run(spec, seed=0).summary
    updates = s["updates"]
    assert s["time_breakdown_cycles"]["updating"] == 0
    assert s["time_breakdown_cycles"]["stalled"] == (updates - 1) * (phase - TAU_THETA * 2)


def test_no_update_warning_when_the_window_holds_the_update():
    spec = writing("row_serial", "constant_step")
    steps = -(-promised(spec) // 2)           # the warning's "raise tau_theta to at least" figure
    assert f"at least {steps} steps" in timing_warnings(spec)[0]
    assert timing_warnings(spec.with_overrides({"firmware.tau_theta": steps})) == []


def test_spec_warnings_include_analog_mgd_that_cannot_learn():
    quickstart = ROOT / "scenarios" / "quickstart.yaml"
    dead = load_scenario(quickstart, {"firmware.tau_p": 1, "firmware.tau_x": 1}, firmware="mgd_analog")
    assert any(w.startswith("firmware.tau_x: analog MGD resets") for w in spec_warnings(dead))
    alive = load_scenario(quickstart, {"firmware.tau_p": 1, "firmware.tau_x": 10}, firmware="mgd_analog")
    assert not any("analog MGD" in w for w in spec_warnings(alive))


def test_warnings_are_recorded_in_manifest_and_summary(tmp_path):
    spec = writing("serial", "ideal")
    expected = spec_warnings(spec)
    assert len(expected) == 1 and expected[0].startswith("firmware.tau_theta:")
    res = run(spec, seed=0, out=tmp_path / "warned")
    assert res.summary["warnings"] == expected
    for name in ("manifest.json", "summary.json"):
        assert json.loads((tmp_path / "warned" / name).read_text())["warnings"] == expected
    quiet = run(timed({}), seed=0, out=tmp_path / "quiet")
    assert quiet.summary["warnings"] == []
    assert json.loads((tmp_path / "quiet" / "manifest.json").read_text())["warnings"] == []


def test_sweep_table_has_a_warnings_column(tmp_path, capsys):
    from hwsim.results import load

    write(tmp_path, "tiny.yaml", TINY)
    write(tmp_path, "sweep.yaml", """\
        kind: sweep
        name: slow_writes
        scenario: tiny.yaml
        axes:
          chip.update.pulse_duration: [0.0, 5.0e-8]
        seeds: [0]
        overrides:
          max_cycles: 400
    """)
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "out"), "--serial",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "1 point warned (see the warnings column), e.g. warning: firmware.tau_theta: " in printed
    table = load(tmp_path / "out" / "results.csv")
    assert list(table.state) == ["finished", "finished"]
    by_pulse = dict(zip(table["chip.update.pulse_duration"], table["warnings"].map(json.loads)))
    assert by_pulse[0.0] == []
    slow, = by_pulse[5e-8]
    assert slow.startswith("firmware.tau_theta: an update may take up to 50 cycles")
    assert "warnings" in (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")


ENERGY = {"mvm": "2 pJ", "adc": "0.5 pJ", "dac": "0.25 pJ", "perturbation": "1 fJ",
          "broadcast": "3 pJ", "integrator": "2 fJ", "write": "10 fJ"}


def test_a_chip_without_an_energy_table_writes_null_joules_and_says_what_is_not_modelled(tmp_path):
    import pandas as pd

    result = run(load_scenario(tiny_file(tmp_path)), seed=0, out=tmp_path / "run")   # on ideal_digital
    s = result.summary
    # The curve's energy column is empty, not a measured 0 J, in memory and in curve.csv.
    assert result.curve.energy_joules.isna().all()
    assert pd.read_csv(tmp_path / "run" / "curve.csv").energy_joules.isna().all()
    assert s["status"] == "reached_target"
    assert s["energy_joules"] is None and s["energy_joules_to_target"] is None
    assert s["energy_breakdown_joules"] is None
    assert s["not_modelled"] == ["energy", "update_time", "input_bandwidth", "broadcast_latency"]
    # The cycles are still measured: nothing about them is nulled.
    assert sum(s["time_breakdown_cycles"].values()) == s["cycles_simulated"] > 0


def test_a_chip_with_an_energy_table_measures_joules_and_lists_its_gaps():
    measured = run(timed({"energy": ENERGY, "input": {"values_per_cycle": 8}}), seed=0)
    full = measured.summary
    assert full["energy_joules"] > 0 and measured.curve.energy_joules.iloc[-1] > 0
    assert full["energy_joules"] == pytest.approx(sum(full["energy_breakdown_joules"].values()))
    assert full["not_modelled"] == ["update_time"]       # timed() has a broadcast latency
    partial = run(timed({"energy": {"mvm": "2 pJ"}}), seed=0).summary
    assert partial["energy_breakdown_joules"]["mvm"] > 0 and partial["energy_breakdown_joules"]["adc"] == 0.0
    assert partial["not_modelled"] == ["energy.adc", "energy.dac", "energy.perturbation", "energy.broadcast",
                                       "energy.integrator", "energy.write", "update_time", "input_bandwidth"]


def test_compare_table_lists_what_each_chip_does_not_model(tmp_path):
    import pandas as pd

    from hwsim.compare import compare

    scenario = write(tmp_path, "tiny.yaml", TINY + "max_steps: 400\n")
    compare(scenario, chips=["rram_crossbar"], out=tmp_path / "cmp")
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv").set_index("chip")
    ideal, rram = table.loc["ideal_digital"], table.loc["rram_crossbar"]
    assert "energy" in json.loads(ideal.not_modelled) and pd.isna(ideal.energy_joules)
    assert "energy" not in json.loads(rram.not_modelled) and rram.energy_joules > 0
    assert json.loads(ideal.warnings) == []


def tiny_file(folder: Path) -> Path:
    return write(folder, "tiny.yaml", TINY)


def test_run_headline_gives_cycles_seconds_joules_and_the_largest_components(tmp_path, capsys):
    scenario = tiny_file(tmp_path)
    assert main(["run", str(scenario), "--out", str(tmp_path / "ideal")]) == 0
    lines = capsys.readouterr().out.splitlines()
    s = json.loads((tmp_path / "ideal" / "summary.json").read_text())
    assert s["status"] == "reached_target"
    assert lines[1] == (f"reached 15.0% test accuracy after {s['cycles_to_target']:,} cycles = "
                        f"{format_si(s['seconds_to_target'], 's')} of chip time, energy not modelled "
                        f"({s['samples_to_target']:,} samples)")
    assert lines[2] == "time: 100 % inferring; not modelled: energy, update time, input bandwidth, broadcast latency"

    assert main(["run", str(scenario), "--out", str(tmp_path / "costed"), "--set", "chip.energy.mvm=2e-12",
                 "--set", "chip.energy.write=1e-12", "--set", "chip.update.overhead_cycles=3",
                 "--set", "target_accuracy=0.99"]) == 0
    lines = capsys.readouterr().out.splitlines()
    s = json.loads((tmp_path / "costed" / "summary.json").read_text())
    assert s["status"] == "budget_exhausted"
    assert lines[1] == (f"target 99.0% not reached within {s['cycles_simulated']:,} cycles = "
                        f"{format_si(s['seconds_simulated'], 's')} of chip time, "
                        f"{format_si(s['energy_joules'], 'J')}")
    assert re.search(r" of chip time, [0-9.]+ [munp]J$", lines[1])
    time, energy = s["time_breakdown_cycles"], s["energy_breakdown_joules"]
    assert time["updating"] > 0 and energy["mvm"] > 0 and energy["writes"] > 0
    # The last update, started within the budget, ends after it: said on its own line.
    budget = json.loads((tmp_path / "costed" / "manifest.json").read_text())["max_cycles"]
    assert s["cycles_simulated"] > budget
    assert lines[2] == (f"(the budget was {budget:,} cycles: the last update started within it and ended "
                        f"{s['cycles_simulated'] - budget:,} cycles later)")
    assert lines[3] == (f"time: {largest(time)}; energy: {largest(energy)}; not modelled: "
                        "energy.adc, energy.dac, energy.perturbation, energy.broadcast, energy.integrator, "
                        "input bandwidth, broadcast latency")


def largest(breakdown: dict) -> str:
    """The non-zero parts, largest first, as percentages of their sum (two here, below three)."""
    total = sum(breakdown.values())
    parts = sorted(((v, k) for k, v in breakdown.items() if v > 0), reverse=True)
    assert len(parts) == 2
    return ", ".join(f"{100 * v / total:.0f} % {k.replace('_', ' ')}" for v, k in parts)


def test_format_si():
    assert format_si(1.8e-4, "s") == "180 us"
    assert format_si(2.1e-6, "J") == "2.1 uJ"
    assert format_si(3.0, "s") == "3 s"
    assert format_si(1.54e-3, "J") == "1.54 mJ"


def test_report_shows_energy_as_not_modelled(tmp_path):
    from hwsim.results.report import write_report

    res = run(load_scenario(tiny_file(tmp_path)), seed=0, out=tmp_path / "run")
    assert res.summary["energy_joules"] is None
    page = write_report(res.run_dir).read_text()
    for figure in ("energy_joules_to_target", "energy_joules"):
        assert re.search(rf"<th class=\"t\">{figure}</th><td>not modelled</td>", page), figure
    from hwsim.results import plots
    from hwsim.results.tables import flatten

    notes = [t.get_text() for ax in plots.breakdown([("run", flatten(res.summary))]).axes for t in ax.texts]
    assert notes == ["energy not modelled (the chip has no energy table)"]


@pytest.mark.slow
def test_readme_quickstart_output_is_what_the_run_prints(tmp_path, capsys, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```\n(results: runs/quickstart.*?)```", readme, re.S).group(1).strip().splitlines()
    monkeypatch.chdir(ROOT)
    assert main(["run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "qs")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert shown[0] == "results: runs/quickstart-<hash>-s0-<time>" and printed[0] == f"results: {tmp_path / 'qs'}"
    assert printed[1:len(shown)] == shown[1:]
