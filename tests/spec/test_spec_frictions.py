"""Issue 20's small frictions of the spec layer, each as the error (or the run) a user gets."""

from __future__ import annotations

import json

import pytest

from hwsim.cli import main
from hwsim.spec.errors import did_you_mean
from hwsim.spec.loader import parse_set_options


@pytest.mark.parametrize("text, value", [("1e12", 1e12), ("2.5E-3", 2.5e-3), ("-3e+2", -300.0), (".5e1", 5.0)])
def test_set_reads_exponent_numbers_as_numbers(text, value):
    """YAML 1.1 reads 1e12 (no decimal point, no exponent sign) as text; --set reads it as the
    number it is, and leaves other text alone."""
    got = parse_set_options([f"max_cycles={text}", "name=e12x", "dataset.name=1e"])
    assert got == {"max_cycles": value, "name": "e12x", "dataset.name": "1e"}


def test_a_file_with_1e12_says_how_yaml_reads_it(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("extends: quickstart\nmax_cycles: 1e12\n")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:1: max_cycles: wrong type (got '1e12'; expected a whole number); " \
           "YAML reads 1e12 as text: write 1.0e+12" in err
    spec.write_text("extends: quickstart\nmax_cycles: 1.0e+12\n")     # the suggestion validates
    assert main(["validate", str(spec)]) == 0


def test_a_chip_field_set_on_the_scenario_names_its_path(capsys):
    assert main(["validate", "quickstart", "--set", "clock_period=2ns"]) == 2
    assert "did you mean 'chip.clock_period' (a chip field)?" in capsys.readouterr().err
    assert main(["validate", "quickstart", "--set", "tau_theta=10"]) == 2
    assert "did you mean 'firmware.tau_theta' (a firmware field)?" in capsys.readouterr().err
    assert main(["validate", "quickstart", "--set", "chip.clock_period=2ns"]) == 0


def test_did_you_mean_finds_the_one_name_holding_a_prefix():
    names = ["rram_crossbar", "pcm_hermes_like", "ideal_digital"]
    assert did_you_mean("rram", names) == "; did you mean 'rram_crossbar'?"
    assert did_you_mean("ideal_digitl", names) == "; did you mean 'ideal_digital'?"       # close match first
    assert did_you_mean("_", names) == ""                          # too short to be a part
    assert did_you_mean("ram", names + ["ram_sim"]) == "; did you mean 'ram_sim'?"       # close match wins
    assert did_you_mean("al", names) == ""
    assert did_you_mean("xyz", names) == ""


def test_a_target_met_before_training_is_not_reported_as_reached_after_0_cycles(tmp_path, capsys):
    """At 10 % on ten classes the untrained network meets the target at its first observation:
    the run says so instead of 'reached after 0 cycles'."""
    out = tmp_path / "run"
    assert main(["run", "quickstart", "--set", "target_accuracy=0.1", "--set", "max_steps=100",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "the untrained network already meets the 10.0% target" in printed
    assert "after 0 cycles" not in printed


def test_show_marks_what_a_conductance_block_replaces(tmp_path, capsys):
    """With device.conductance and array.gain the run's device is the mapped one: hwsim show
    marks each figure it replaces with the weight-unit value (differential pair: w_max =
    gain (g_max - g_min), dw_min = gain dg_min, read noise x sqrt 2 for the two devices)."""
    chip = tmp_path / "mine.yaml"
    chip.write_text("extends: ideal_digital\ndevice:\n  law: soft_bounds\n"
                    "  conductance: {g_min: 1 uS, g_max: 100 uS, dg_min: 2 uS, read_noise: 1 uS}\n"
                    "array:\n  gain: 20000\n  mapping: differential\n")
    assert main(["show", str(chip)]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = {line.split(":")[0].strip(): line.split("# ")[1] for line in lines if "# replaced by" in line}
    assert marked == {"dw_min": "replaced by the conductance block: 0.04 in weight units",
                      "w_min": "replaced by the conductance block: -1.98 in weight units",
                      "w_max": "replaced by the conductance block: 1.98 in weight units",
                      "programming_error": "replaced by the conductance block: 0 in weight units",
                      "additive": "replaced by the conductance block: 0.02828 in weight units"}
    assert main(["show", "ideal_digital"]) == 0 and "# replaced by" not in capsys.readouterr().out


def test_help_is_text_for_people(capsys):
    """hwsim --help says what hwsim is and shows examples, with no docstring markup."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "multiplexed gradient" in out and "examples:" in out
    assert "hwsim device rram_crossbar" in out


def test_an_unknown_tuning_space_says_where_it_looked(tmp_path, monkeypatch):
    from hwsim.spec.errors import SpecError
    from hwsim.tune.space import find_space

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as err:
        find_space("devce_photonic")
    message = err.value.problems[0].message
    assert "looked in ./tunes, then " in message and "did you mean 'device_photonic'?" in message
    (tmp_path / "tunes").mkdir()
    (tmp_path / "tunes" / "mine.yaml").write_text("kind: tune_space\n")
    assert find_space("mine") == tmp_path / "tunes" / "mine.yaml"       # the user's folder first


def test_a_budget_passed_by_the_last_update_is_said(tmp_path, capsys):
    """A step starts only within the cycle budget, but on a chip with slow writes its update
    ends after it: the run says by how much rather than overshoot silently."""
    out = tmp_path / "r"
    assert main(["run", "quickstart", "--chip", "pcm_hermes_like", "--max-cycles", "200000", "--quiet",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    cycles = json.loads((out / "summary.json").read_text())["cycles_simulated"]
    assert cycles > 200_000
    assert (f"(the budget was 200,000 cycles: the last update started within it and ended "
            f"{cycles - 200_000:,} cycles later)") in printed


def test_sweep_takes_a_preset_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "noise_small", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("sweep noise_small: 12 points")
    assert main(["sweep", "nois_small", "--dry-run"]) == 2
    assert "did you mean 'noise_small'?" in capsys.readouterr().err


def test_a_run_stuck_at_chance_warns_once_pointing_to_what_to_check(tmp_path, capsys):
    """The quickstart firmware on the RRAM preset stays near 10 % on ten classes: one warning
    naming the tutorial's section; the ideal chip, which learns, gets none."""
    assert main(["run", "quickstart", "--chip", "rram_crossbar", "--max-cycles", "300000", "--quiet",
                 "--out", str(tmp_path / "rram")]) == 0
    err = capsys.readouterr().err
    assert err.count("hwsim: warning: test accuracy is still near chance") == 1
    assert "'My chip does not learn: what to check' in docs/tutorial.md" in err
    assert main(["run", "quickstart", "--max-cycles", "60000", "--quiet", "--out", str(tmp_path / "ideal")]) == 0
    assert "near chance" not in capsys.readouterr().err
