"""The broken-spec corpus: every file in broken/ must fail with exactly the listed problems."""

from __future__ import annotations

import pytest
import yaml

from hwsim.cli import main
from hwsim.spec.errors import SpecError
from hwsim.run_plan import load_spec
from spec_helpers import BROKEN, HERE, relative

EXPECTED = yaml.safe_load((HERE / "broken_expected.yaml").read_text())
FILES = sorted(p.name for p in BROKEN.glob("*.yaml"))


def test_corpus_is_large_and_complete():
    assert len(FILES) >= 40
    assert sorted(EXPECTED) == FILES, "every broken file needs its expected problems, and vice versa"
    categories = {name.split("_")[0] for name in FILES}
    assert categories == {"c", "f", "s", "y"}   # chip, firmware, scenario, YAML/file level


@pytest.mark.parametrize("name", FILES)
def test_broken_file_gives_its_exact_problems(name):
    with pytest.raises(SpecError) as info:
        load_spec(BROKEN / name)
    got = [relative(str(p)) for p in info.value.problems]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", FILES)
def test_every_problem_names_file_path_and_got_expected(name):
    with pytest.raises(SpecError) as info:
        load_spec(BROKEN / name)
    for p in info.value.problems:
        assert p.file and p.path and p.message
        if p.path not in ("(syntax)",):
            # The message says what was found and what was expected (or names the duplicate key).
            assert "got" in p.message or "twice" in p.message, p


def test_all_problems_of_a_file_are_reported_at_once():
    assert len(EXPECTED["c_many_problems.yaml"]) == 5


def test_misspellings_get_suggestions():
    for name, field in [("c_unknown_key.yaml", "clock_period"), ("f_misspelled_scheme.yaml", "cdma"),
                        ("f_misspelled_mode.yaml", "analog"), ("s_dataset_misspelled.yaml", "digits"),
                        ("s_chip_misspelled.yaml", "rram_crossbar"), ("c_extends_missing.yaml", "ideal_digital"),
                        ("f_tau_misspelled_symbol.yaml", "full_period"), ("c_wrong_kind.yaml", "chip")]:
        assert EXPECTED[name][-1].endswith(f"did you mean {field!r}?"), name


def test_problem_in_a_parent_is_reported_in_the_parent_file():
    [line] = EXPECTED["c_extends_broken_parent.yaml"]
    assert line.startswith("parts/bad_parent_chip.yaml:3:1: clock_period:")


def test_override_problem_points_at_the_override_line():
    [line] = EXPECTED["s_override_misspelled.yaml"]
    assert line.startswith("s_override_misspelled.yaml:3:3: firmware.etaa:")


def test_cli_validate_prints_one_line_per_problem_and_exits_2(capsys):
    files = [str(BROKEN / "c_many_problems.yaml"), str(BROKEN / "y_empty.yaml"),
             str(HERE.parents[1] / "chips" / "ideal_digital.yaml")]
    assert main(["validate", *files]) == 2
    out, err = capsys.readouterr()
    assert "ok: " in out and "ideal_digital" in out
    lines = err.strip().splitlines()
    assert len(lines) == 5 + 1 + 1   # five problems, the empty file, the summary line
    assert "Traceback" not in err
    assert lines[-1] == "hwsim: 6 problems in the specs; nothing was run"
    assert relative(lines[0]).startswith("c_many_problems.yaml:4:1: clock_period: wrong dimension")


def test_cli_binary_garbage_is_a_clean_error(capsys):
    assert main(["validate", str(BROKEN / "y_binary_garbage.yaml")]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "Traceback" not in err
