"""Bounded input: the one YAML reader's limits, special files, YAML tags, numeric edges of
every spec field, names that become folders, and the memory estimate made at validation."""

from __future__ import annotations

import os
import tracemalloc

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- values


def test_constant_step_with_a_bound_of_zero_is_well_defined():
    import numpy as np

    from hwsim.chip.devices import DeviceArray
    from hwsim.spec.chip import DeviceSpec, UpdateController

    for w_min, w_max in ((-1.0, 0.0), (0.0, 1.0)):
        device = DeviceSpec(law="constant_step", dw_min=0.01, w_min=w_min, w_max=w_max)
        devices = DeviceArray(device, 4, seed=0, controller=UpdateController(rounding="deterministic"))
        devices.program(np.full(4, (w_min + w_max) / 2))
        start = devices.w.copy()
        sent = devices.update(np.array([0.05, -0.05, 0.02, -0.02]), update_index=0)
        assert sent == 14
        # One constant step per pulse, clipped to the bounds: no division by the zero bound.
        np.testing.assert_allclose(devices.w, np.clip(start + [0.05, -0.05, 0.02, -0.02], w_min, w_max))


def test_device_spec_refuses_non_finite_numbers():
    from hwsim.spec.chip import DeviceSpec

    for name in ("dw_min", "w_min", "w_max", "asymmetry", "write_noise", "programming_error"):
        for value in (float("inf"), float("nan")):
            with pytest.raises(ValueError, match=name):
                DeviceSpec(**{name: value})


def test_a_time_constant_that_overflows_is_a_clean_error(capsys):
    scenario = ROOT / "scenarios" / "quickstart.yaml"
    for value in ("1e300 s", "1e999 cycles", "1e400 us", "1e-320 s"):
        code, err = _validate(capsys, scenario, "--set", f"firmware.tau_x={value}")
        assert code == 2 and "--set: firmware.tau_x:" in err, value


def test_a_quantity_converted_out_of_the_floats_is_refused():
    from hwsim.spec.units import to_base_unit

    for text in ("1e300 Ts", "1e-320 ns", "1e999 s"):
        with pytest.raises(ValueError, match="out of range"):
            to_base_unit(text, "s")
    with pytest.raises(ValueError, match="out of range"):
        to_base_unit(10**400, "s")
    assert to_base_unit("inf", "s") == float("inf")      # what 'inf' fields mean


@pytest.mark.parametrize("name", ["../../x", "a/b", "a\\b", "a\x00b", "tab\there", ".", "..", "é" * 150])
def test_a_scenario_name_must_be_usable_as_a_folder_name(name):
    from hwsim.spec.models import ScenarioSpec

    with pytest.raises(ValueError, match="not a usable name"):
        ScenarioSpec(name=name)


def test_long_values_are_shortened_in_messages(tmp_path, capsys):
    path = tmp_path / "long.yaml"
    path.write_text("kind: chip\nclock_period: '" + "x" * 1_000_000 + "'\n? " + "y" * 100_000 + "\n: 1\n")
    code, err = _validate(capsys, path)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3 and all(len(line) < 1000 for line in lines), [len(x) for x in lines]
    assert "(1,000,002 characters)" in lines[0]


def test_a_field_put_in_the_wrong_section_says_where_it_belongs(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("kind: scenario\ndataset: {name: mnist, test_fraction: 0.1}\n")
    code, err = _validate(capsys, path)
    assert code == 2
    assert "did you mean 'test_fraction'" not in err
    assert "test_fraction belongs under dataset (with name: digits, teacher or mnist1d)" in err
    # A misspelling still gets its suggestion.
    path.write_text("kind: scenario\ndataset: {name: digits, test_fracton: 0.1}\n")
    code, err = _validate(capsys, path)
    assert "did you mean 'test_fraction'?" in err


def test_problems_are_listed_by_file_then_line(tmp_path):
    from hwsim.spec.errors import Problem

    problems = [Problem("b.yaml", 9, 1, "x", "m"), Problem("a.yaml", 5, 1, "x", "m"),
                Problem("b.yaml", 2, 7, "x", "m"), Problem("a.yaml", None, None, "x", "m"),
                Problem("a.yaml", 3, 1, "x", "m")]
    got = [(p.file, p.line) for p in SpecError(problems).problems]
    assert got == [("b.yaml", 2), ("b.yaml", 9), ("a.yaml", None), ("a.yaml", 3), ("a.yaml", 5)]


def test_sweep_seeds_stay_in_the_run_seed_range():
    from hwsim.spec.limits import MAX_SEED
    from hwsim.sweep.spec import SeedAxis

    SeedAxis.model_validate({"count": 2, "start": MAX_SEED - 1})
    for bad in ({"count": 3, "start": MAX_SEED - 1}, {"values": [MAX_SEED + 1]}, {"start": 2**64, "count": 1}):
        with pytest.raises(ValueError):
            SeedAxis.model_validate(bad)


# --------------------------------------------------------------------------- memory


def test_a_network_too_large_for_memory_is_refused_at_validation(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HWSIM_MEMORY_LIMIT", "64 MiB")
    path = tmp_path / "big.yaml"
    path.write_text("kind: scenario\nname: big\nnetwork:\n  hidden: [2000, 2000]\n")
    code, err = _validate(capsys, path)
    assert code == 2
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:4:3: network.hidden: this run (4,152,010 parameters")
    assert "64.0 MiB allowed: HWSIM_MEMORY_LIMIT" in first
    path.write_text("kind: scenario\nname: small\nnetwork:\n  hidden: [200, 200]\n")
    assert _validate(capsys, path)[0] == 0


def test_the_estimate_counts_at_least_what_the_simulation_holds(monkeypatch):
    import numpy as np

    from hwsim.engine.simulation import Simulation
    from hwsim.run_plan import load_scenario, run_memory_estimate

    for overrides in ({}, {"chip": "rram_crossbar", "firmware": "mgd_adam"}):
        run = load_scenario(ROOT / "scenarios" / "quickstart.yaml",
                            {"network.hidden": [64], **overrides})
        sim = Simulation(run, seed=0)
        p = sim.layout.n_params
        held = sum(v.nbytes for v in vars(sim).values() if isinstance(v, np.ndarray) and v.size >= p)
        held += sum(v.nbytes for v in vars(sim.devices).values() if isinstance(v, np.ndarray) and v.size >= p)
        network, _ = run_memory_estimate(run)
        assert network >= held, overrides


def test_the_shipped_scenarios_fit_the_real_budget(capsys):
    scenarios = sorted((ROOT / "scenarios").glob("*.yaml"))
    code, err = _validate(capsys, *scenarios)
    assert code == 0, err


# --------------------------------------------------------------------------- numeric edges


def _numeric_fields():
    """(override path, model, field, how to wrap the value) of every numeric field of the
    chip, firmware and scenario models, data set variants included."""
    import typing

    from pydantic import BaseModel

    from hwsim.spec.models import DATASETS, KINDS

    def models_in(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for a in typing.get_args(annotation) for m in models_in(a)]

    def numeric(annotation):
        args = typing.get_args(annotation) or (annotation,)
        return any(a in (int, float) or numeric(a) for a in args if a is not annotation) or annotation in (int, float)

    out = []

    def walk(model, prefix, wrap):
        for name, field in model.model_fields.items():
            subs = models_in(field.annotation)
            if subs and not numeric(field.annotation):
                if len(subs) == 1:
                    walk(subs[0], prefix + (name,), wrap)
                continue
            if numeric(field.annotation) or name in ("tau_p", "tau_x", "tau_theta", "tau_hp"):
                out.append((".".join(prefix + (name,)), model, name, wrap))

    walk(KINDS["chip"], ("chip",), None)
    walk(KINDS["firmware"], ("firmware",), None)
    walk(KINDS["scenario"], (), None)
    for data_name, model in DATASETS.items():
        for name, field in model.model_fields.items():
            if numeric(field.annotation):
                out.append(("dataset", model, name, (data_name, name)))
    out.append(("network.hidden", None, None, ("hidden",)))
    return out


NUMERIC_FIELDS = _numeric_fields()


def _edges(model, name):
    """Values at and around a field's declared bounds, and the float and int64 extremes."""
    from hwsim.spec.limits import field_bounds

    out = [0, -0.0, 1, -1, 5e-324, 1e-162, 1e-100, 1e308, float("inf"), float("-inf"), float("nan"),
           2**63 - 1, 2**63, 2**64, 10**400, -(10**400), "1e300 s", "1e-320 s", "1e999", "inf", "nan"]
    if model is not None:
        low, _, high, _ = field_bounds(model, name)
        for bound in (low, high):
            if bound is not None:
                out += [bound, bound * (1 + 1e-12) + 1e-300, bound * (1 - 1e-12) - 1e-300,
                        int(bound) if abs(bound) < 1e18 else bound, int(bound) + 1 if abs(bound) < 1e18 else bound]
    return out


def test_every_numeric_field_is_enumerated():
    paths = {p for p, *_ in NUMERIC_FIELDS}
    for expected in ("chip.clock_period", "chip.device.w_max", "firmware.perturbation.amplitude",
                     "firmware.tau_x", "firmware.eta", "max_cycles", "seed", "dataset", "network.hidden"):
        assert expected in paths
    assert len(NUMERIC_FIELDS) > 80


def _validate_edge(path, wrap, value):
    """Validate the quickstart with ``value`` at ``path``: it loads or is a SpecError."""
    from hwsim.run_plan import load_scenario

    if wrap is not None and wrap[0] == "hidden":
        value = [value]
    elif wrap is not None:
        value = {"name": wrap[0], wrap[1]: value}
    overrides = {path: value, "max_cycles": 1000} if path != "max_cycles" else {path: value}
    try:
        load_scenario(ROOT / "scenarios" / "quickstart.yaml", overrides)
    except SpecError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_value_at_the_edge_of_any_numeric_field_validates_or_is_a_spec_error(data):
    path, model, name, wrap = data.draw(st.sampled_from(NUMERIC_FIELDS))
    _validate_edge(path, wrap, data.draw(st.sampled_from(_edges(model, name))))


@pytest.mark.slow
def test_every_edge_of_every_numeric_field_validates_or_is_a_spec_error():
    for path, model, name, wrap in NUMERIC_FIELDS:
        for value in _edges(model, name):
            _validate_edge(path, wrap, value)


EDGE_RUNS = [
    {"chip.cost_unit.adc_bits": 64, "chip.cost_unit.adc_range": 1e-100},
    {"chip.array.adc_bits": 32, "chip.array.adc_range": 1e-100, "chip.array.dac_bits": 32,
     "chip.array.dac_range": 1e-100},
    {"chip.broadcast.bits": 64, "chip.broadcast.range": 1e-100},
    {"chip.integrator.bits": 64, "chip.integrator.saturation": 1e-100},
    {"chip.clock_period": 1e-15, "chip.update.pulse_duration": 1.0},
    {"chip.device.law": "constant_step", "chip.device.w_min": 0.0, "chip.device.w_max": 1.0},
    {"firmware.perturbation.amplitude": 1e-100},
    {"firmware.amplitude_schedule.kind": "step", "firmware.amplitude_schedule.step_size": 1000,
     "firmware.amplitude_schedule.gamma": 1e-30},
    {"firmware.amplitude_schedule.kind": "inverse_time", "firmware.amplitude_schedule.decay": 1e12},
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", EDGE_RUNS)
def test_values_at_the_bounds_that_validate_also_run(overrides):
    from hwsim.engine.simulation import Simulation
    from hwsim.run_plan import load_scenario

    run = load_scenario(ROOT / "scenarios" / "quickstart.yaml",
                        {**overrides, "max_cycles": 3000, "network.hidden": [8]})
    sim = Simulation(run, seed=0)
    sim.run()
    assert sim.status in ("budget_exhausted", "reached_target", "diverged")


@pytest.mark.parametrize("schedule, ok", [
    ({"kind": "step", "step_size": 100, "gamma": 1e-6}, False),
    ({"kind": "step", "step_size": 1000, "gamma": 1e-30}, True),
    ({"kind": "cosine", "horizon": 10}, False),
    ({"kind": "cosine", "horizon": 10, "min_fraction": 0.01}, True),
    ({"kind": "cosine", "horizon": 1e6}, True)])
def test_an_amplitude_schedule_may_not_take_the_amplitude_to_zero(schedule, ok):
    from hwsim.run_plan import load_scenario

    overrides = {"firmware.amplitude_schedule": schedule, "max_cycles": 3000}
    if ok:
        load_scenario(ROOT / "scenarios" / "quickstart.yaml", overrides)
    else:
        with pytest.raises(SpecError, match="firmware.amplitude_schedule: the amplitude schedule takes"):
            load_scenario(ROOT / "scenarios" / "quickstart.yaml", overrides)


def test_a_percentage_given_for_a_fraction_gets_the_two_ways_to_write_it(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("kind: scenario\ntarget_accuracy: 90\n")
    code, err = _validate(capsys, path)
    assert code == 2
    assert "target_accuracy: out of range (got 90.0; expected <= 1.0); if 90 is a percentage, write 0.9 or '90 %'" in err


def test_a_reference_to_a_special_file_says_so(tmp_path, capsys):
    fifo = tmp_path / "firmware.yaml"
    os.mkfifo(fifo)
    code = main(["show", str(ROOT / "scenarios" / "quickstart.yaml"), "--firmware", str(fifo)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"firmware: not a regular file (got '{fifo}', a FIFO (named pipe)" in err


def test_reading_a_small_file_allocates_about_its_size(tmp_path):
    path = tmp_path / "chip.yaml"
    path.write_text("kind: chip\nclock_period: 1 ns\n")
    read_yaml(path)
    # Not the 32 MiB a read up to the file-size limit would reserve.
    assert _peak_bytes(lambda: read_yaml(path)) < 2**20
