"""Every non-ideal chip preset has its own digits scenario and tuned firmware
(docs/device_training.md), and hwsim compare pairs each chip with that firmware."""

from pathlib import Path

import pandas as pd
import pytest

from helpers import tiny_scenario, write
from hwsim.api import run
from hwsim.cli import main
from hwsim.compare import chip_and_firmware
from hwsim.run_plan import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CHANCE = 0.1   # ten balanced classes

# scenario -> (chip, tuned firmware, steps of the short run, best test accuracy it must pass).
# Each floor sits well above chance and below what the run reached when it was measured (seed 0,
# noted beside it), so the test fails when the chip or the firmware stops learning.
SCENARIOS = {
    "ecram_digits": ("ecram_training", "mgd_ecram", 20_000, 0.5),          # 0.649
    "pcm_digits": ("pcm_hermes_like", "mgd_pcm", 40_000, 0.5),             # 0.638 (27 updates)
    "rram_digits": ("rram_crossbar", "mgd_rram", 20_000, 0.35),            # 0.457
    "photonic_digits": ("photonic_mzi", "mgd_photonic", 20_000, 0.4),      # 0.543
    "soen_digits": ("soen_superconducting", "mgd_soen", 20_000, 0.15),     # 0.173 (it starts at 0.128)
}


def load(name, **overrides):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides or None)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_chip_scenario_validates_with_its_chip_and_tuned_firmware(name):
    chip, firmware, _, _ = SCENARIOS[name]
    spec = load(name)
    assert (spec.chip.name, spec.firmware.name) == (chip, firmware)
    assert spec.scenario.target_accuracy == 0.85
    assert spec.scenario.dataset.name == "digits"


def test_every_non_ideal_chip_preset_has_a_scenario():
    presets = {p.stem for p in (ROOT / "chips").glob("*.yaml")} - {"ideal_digital"}
    assert presets == {chip for chip, *_ in SCENARIOS.values()}


@pytest.mark.parametrize("firmware", sorted(fw for _, fw, _, _ in SCENARIOS.values()))
def test_each_tuned_firmware_validates(firmware, capsys):
    assert main(["validate", str(ROOT / "firmware_models" / f"{firmware}.yaml")]) == 0
    assert f"firmware '{firmware}'" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_short_run_of_each_chip_scenario_learns_above_chance(name):
    """A few seconds of host time: the chip on its tuned firmware for the first steps of the
    run (the full run is in the docs), observed four times."""
    _, _, steps, floor = SCENARIOS[name]
    res = run(load(name, max_steps=steps, stop_at_target=False,
                   **{"firmware.evaluation.every_steps": steps // 4}))
    s = res.summary
    assert s["steps_simulated"] == steps
    assert s["best_test_accuracy"] > floor > CHANCE, (name, s["best_test_accuracy"])
    assert s["best_test_accuracy"] > res.curve.test_accuracy.iloc[0]   # it learnt, not started there
    assert s["energy_joules"] > 0 and s["time_breakdown_cycles"]["updating"] > 0


@pytest.mark.slow
def test_the_photonic_scenario_reaches_85_percent_within_its_budget():
    """The quickest of the per-chip scenarios to its target, in chip time (92.5 us) and in host
    time (110,000 steps, 5-10 s)."""
    spec = load("photonic_digits")
    s = run(spec).summary
    assert s["status"] == "reached_target"
    assert s["best_test_accuracy"] >= 0.85
    assert s["cycles_to_target"] <= spec.scenario.max_cycles
    assert s["seconds_to_target"] > 0 and s["energy_joules_to_target"] > 0


def test_device_presets_compares_each_chip_on_the_firmware_of_its_own_scenario():
    spec = load("device_presets")
    pairs = {chip_and_firmware(entry) for entry in spec.scenario.compare_chips}
    assert pairs == {(chip, fw) for chip, fw, _, _ in SCENARIOS.values()}
    assert spec.scenario.target_accuracy == 0.85 and spec.scenario.stop_at_target


def test_compare_trains_a_chip_on_its_own_firmware_and_tabulates_time_and_energy(tmp_path, capsys):
    scen = write(tmp_path, "cmp.yaml", tiny_scenario(max_cycles=100_000_000, max_steps=200)
                 + "stop_at_target: false\n"
                 "compare_chips: [rram_crossbar+mgd_rram, photonic_mzi]\n")
    out = tmp_path / "cmp"
    assert main(["compare", str(scen), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv").set_index("chip")
    assert table.loc["rram_crossbar", "firmware"] == "mgd_rram"
    assert table.loc["rram_crossbar", "variant"] == "rram_crossbar+mgd_rram"
    scenario_firmware = table.loc["ideal_digital", "firmware"]
    assert table.loc["photonic_mzi", "firmware"] == scenario_firmware != "mgd_rram"
    assert {"energy_joules", "energy_joules_to_target", "seconds_to_target"} <= set(table.columns)
    assert table.loc["rram_crossbar", "energy_joules"] > 0
    printed = capsys.readouterr().out      # the terminal table gives them too
    assert "seconds_to_target" in printed and "energy_joules_to_target" in printed


def test_compare_with_an_unknown_own_firmware_is_bad_input(tmp_path, capsys):
    scen = write(tmp_path, "cmp.yaml", tiny_scenario(max_steps=10))
    code = main(["compare", str(scen), "--chips", "rram_crossbar+mgd_nosuch", "--out", str(tmp_path / "c")])
    assert code == 2
    err = capsys.readouterr().err
    assert "mgd_nosuch" in err and "firmware" in err
