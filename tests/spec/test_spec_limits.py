"""Bounded input: the one YAML reader's limits, special files, YAML tags, numeric edges of
every spec field, names that become folders, and the memory estimate made at validation."""

from __future__ import annotations

import os
import tracemalloc

import pytest
import yaml

from hwsim.cli import main
from hwsim.spec import yaml_source
from hwsim.spec.errors import SpecError
from hwsim.spec.yaml_source import parse_yaml, read_yaml
from spec_helpers import BROKEN, ROOT


def _validate(capsys, *args) -> tuple[int, str]:
    code = main(["validate", *map(str, args)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


# --------------------------------------------------------------------------- the YAML reader


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_billion_laughs_is_refused_without_expanding_it():
    text = (BROKEN / "y_alias_bomb.yaml").read_bytes()   # 9**9 values once expanded

    def read():
        with pytest.raises(SpecError) as info:
            parse_yaml(text, "bomb.yaml")
        [p] = info.value.problems
        assert (p.file, p.line) == ("bomb.yaml", 9) and "alias" in p.message

    # Refused from the sizes counted once per anchored node: no expanded copy is ever made.
    assert _peak_bytes(read) < 2 * 2**20


def test_thousands_of_aliases_of_one_long_string_are_refused_at_the_alias_that_crosses():
    big = "x" * 100_000
    text = f"kind: chip\ns: &s \"{big}\"\nl: [{', '.join(['*s'] * 5000)}]\n".encode()

    def read():
        with pytest.raises(SpecError) as info:
            parse_yaml(text, "strings.yaml")
        [p] = info.value.problems
        assert p.line == 3 and p.path.startswith("l.") and "too much text" in p.message
        # The alias that crossed the limit: the anchored string and aliases 0..i make i + 2
        # copies of 100 KB, more than MAX_SCALAR_BYTES first at i = MAX // 100 KB - 1.
        assert int(p.path.split(".")[1]) == yaml_source.MAX_SCALAR_BYTES // 100_000 - 1

    assert _peak_bytes(read) < 8 * 2**20


def test_aliases_within_the_limits_expand_into_independent_copies():
    doc = parse_yaml("kind: scenario\nnetwork: {hidden: &h [32, 16]}\nother: *h\n", "a.yaml")
    assert doc.data["other"] == [32, 16] and doc.data["other"] is not doc.data["network"]["hidden"]
    assert doc.positions[("other",)] == (3, 1)


@pytest.mark.slow
def test_a_sweep_axis_of_100000_values_is_accepted(tmp_path):
    from hwsim.sweep.spec import read_sweep

    values = ", ".join(repr(1e-6 * (i + 1)) for i in range(100_000))
    path = tmp_path / "axis.yaml"
    path.write_text(f"kind: sweep\nname: big\nscenario: quickstart\nmax_points: 10000000\n"
                    f"axes:\n  firmware.eta: [{values}]\n")
    spec, doc = read_sweep(path)
    assert len(spec.axes["firmware.eta"].values) == 100_000
    assert doc.positions[("axes", "firmware.eta", 99_999)][0] == 6


def test_the_node_limit_counts_values_as_written(monkeypatch):
    monkeypatch.setattr(yaml_source, "MAX_NODES", 50)
    parse_yaml("kind: chip\nl: [" + ", ".join(["1"] * 40) + "]\n", "ok.yaml")
    with pytest.raises(SpecError, match="too many values"):
        parse_yaml("kind: chip\nl: [" + ", ".join(["1"] * 60) + "]\n", "big.yaml")


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("kind: chip\ndescription: '" + "x" * 2000 + "'\n")
    code, err = _validate(capsys, path)
    assert code == 2 and "file too large" in err


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom", "directory"])
def test_special_files_are_refused_before_reading(special, tmp_path, capsys):
    if special == "fifo":
        path = tmp_path / "spec.yaml"
        os.mkfifo(path)          # opening it for reading would wait for a writer forever
    elif special == "directory":
        path = tmp_path
    else:
        path = special
    code, err = _validate(capsys, path)
    assert code == 2
    assert f"{path}: (file): not a regular file" in err


def test_a_failing_file_is_parsed_once_by_validate(tmp_path, monkeypatch, capsys):
    calls = []
    real = yaml_source.parse_yaml
    monkeypatch.setattr(yaml_source, "parse_yaml", lambda raw, path: calls.append(path) or real(raw, path))
    path = tmp_path / "bad_chip.yaml"
    path.write_text("kind: chip\nclock_period: -1\n")
    code, err = _validate(capsys, path)
    assert code == 2 and "clock_period" in err
    assert calls == [str(path)]


# 15 tags of the YAML 1.1 type repository (and python/*), each on a scalar, a number, a list
# and a mapping: 19 standard spellings with !!python/object and !!python/name.
STANDARD_TAGS = ["null", "bool", "int", "float", "binary", "timestamp", "omap", "pairs", "set",
                 "str", "seq", "map", "merge", "value", "yaml", "python/object:os.system",
                 "python/name:os.system", "python/str", "python/tuple"]
TAG_FORMS = {"text": "maybe", "number": "1e3", "list": "[1, 2]", "mapping": "{a: 1}", "empty": "''"}


@pytest.mark.parametrize("tag", STANDARD_TAGS)
def test_every_standard_tag_gives_a_result_or_a_clean_error(tag, tmp_path, capsys):
    for form, value in TAG_FORMS.items():
        for field in ("description", "clock_period"):
            path = tmp_path / f"{form}_{field}.yaml"
            path.write_text(f"kind: chip\n{field}: !!{tag} {value}\n")
            code, err = _validate(capsys, path)
            assert code in (0, 2), (tag, form, field)
            if code == 2:
                first = err.splitlines()[0]
                assert first.startswith(f"{path}:2:"), first     # FILE:LINE:COL
                assert first.count(":") >= 4 and "(got" in first


@pytest.mark.parametrize("text, expected", [
    ("!!int 1e3", "not a value of !!int"), ("!!float abc", "not a value of !!float"),
    ("!!bool maybe", "not a value of !!bool"), ("!!timestamp x", "unsupported YAML tag"),
    ("!!binary aGk=", "unsupported YAML tag"), ("!!set {a, b}", "unsupported YAML tag")])
def test_bad_tags_name_the_place_and_the_reason(text, expected, tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(f"kind: chip\ncost_unit:\n  noise_sigma: {text}\n")
    code, err = _validate(capsys, path)
    assert code == 2
    assert err.startswith(f"{path}:3:16: cost_unit.noise_sigma: {expected}")


def test_tags_that_fit_their_value_are_honoured():
    doc = parse_yaml("kind: chip\na: !!int '12'\nb: !!float 1e3\nc: !!str 5\nd: !!bool yes\n"
                     "e: 2024-01-01\nf: =\n", "t.yaml")
    assert doc.data == {"kind": "chip", "a": 12, "b": 1000.0, "c": "5", "d": True, "e": "2024-01-01", "f": "="}


def test_set_values_go_through_the_same_reader(capsys):
    scenario = ROOT / "scenarios" / "quickstart.yaml"
    code, err = _validate(capsys, scenario, "--set", "firmware.eta=!!int 1e3")
    assert code == 2 and "--set: firmware.eta: not a value of !!int" in err
    code, err = _validate(capsys, scenario, "--set", "firmware.eta=!!int 2")
    assert code == 0


def test_the_reader_types_plain_values_as_yaml_safe_load_does():
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    assert read_yaml(ROOT / "scenarios" / "quickstart.yaml").data == yaml.safe_load(text)
    sample = "kind: chip\na: [1, 1.5, .inf, -.nan, 0x1f, 1_000, 0o17, true, no, null, ~, '1', 1e3, 1.0e3]\n"
    got = parse_yaml(sample, "s.yaml").data["a"]
    want = yaml.safe_load(sample)["a"]
    assert [type(v) for v in got] == [type(v) for v in want]
    assert [repr(v) for v in got] == [repr(v) for v in want]
