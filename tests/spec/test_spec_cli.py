"""hwsim validate / schema / list / show through hwsim.cli.main."""

from __future__ import annotations

import json

import yaml

from hwsim.cli import main
from hwsim.run_plan import load_scenario
from spec_helpers import BROKEN, ROOT, preset_files


def test_validate_every_preset_ok(capsys):
    files = [str(p) for p in preset_files()]
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == len(files)
    assert "(chip 'rram_crossbar')" in out and "(firmware 'spsa')" in out and "(scenario 'quickstart')" in out


def test_validate_with_set(capsys):
    chip = str(ROOT / "chips" / "ideal_digital.yaml")
    assert main(["validate", chip, "--set", "clock_period=2 GHz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--set: clock_period: wrong dimension (got '2 GHz'; expected a time")


def test_schema_prints_json_schema(capsys):
    for kind in ("chip", "firmware", "scenario"):
        assert main(["schema", kind]) == 0
        schema = json.loads(capsys.readouterr().out)
        assert schema["$schema"].endswith("2020-12/schema")
        assert schema["additionalProperties"] is False
        assert "extends" in schema["properties"]
    assert main(["schema", "chip"]) == 0
    chip = json.loads(capsys.readouterr().out)
    assert chip["properties"]["clock_period"]["x-unit"] == "s"
    assert "Unit: s." in chip["properties"]["clock_period"]["description"]


def test_list_shows_every_preset_with_description(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for section in ("chips/", "firmware_models/", "scenarios/"):
        assert section in out
    for path in preset_files():
        description = yaml.safe_load(path.read_text())["description"]
        assert f"  {path.stem}" in out and description in out


def test_show_scenario_prints_the_manifest_content(capsys):
    quick = ROOT / "scenarios" / "quickstart.yaml"
    assert main(["show", str(quick), "--set", "firmware.eta=0.25", "--chip", "rram_crossbar"]) == 0
    out = capsys.readouterr().out
    spec = load_scenario(quick, {"firmware.eta": 0.25}, chip="rram_crossbar")
    data = yaml.safe_load(out)
    assert data == {"kind": "run", **spec.resolved()}
    assert f"# spec hash {spec.spec_hash}" in out
    assert "cycles = " in out and " ns" in out      # tau in steps, cycles and time


def test_show_chip_and_firmware_fill_every_default(capsys):
    assert main(["show", str(ROOT / "chips" / "photonic_mzi.yaml")]) == 0
    chip = yaml.safe_load(capsys.readouterr().out)
    assert chip["clock_period"] == 1e-10 and chip["inference"]["cycles_per_inference"] == 5
    assert main(["show", str(ROOT / "firmware_models" / "finite_difference.yaml")]) == 0
    out = capsys.readouterr().out
    fw = yaml.safe_load(out)
    assert fw["tau_theta"] == "full_period" and fw["cost_change_clip"] == float("inf")
    assert "resolved to whole steps against the chip" in out


def test_show_broken_file_exits_2_without_traceback(capsys):
    assert main(["show", str(BROKEN / "y_unclosed_bracket.yaml")]) == 2
    err = capsys.readouterr().err
    assert "y_unclosed_bracket.yaml:4:8: (syntax): YAML syntax error" in err
    assert "Traceback" not in err


def test_run_rejects_chip_file(capsys):
    assert main(["run", str(ROOT / "chips" / "ideal_digital.yaml")]) == 2
    assert "not a scenario (got a chip file" in capsys.readouterr().err


def test_docs_examples_match_the_loader(tmp_path):
    """The YAML examples and error lines quoted in docs/specs.md are what hwsim really does."""
    import re

    from hwsim.spec.errors import SpecError
    from hwsim.run_plan import load_spec

    docs = (ROOT / "docs" / "specs.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", docs, re.S)
    chip_example = next(b for b in blocks if "extends: rram_crossbar" in b)
    (tmp_path / "c.yaml").write_text(chip_example)
    kind, chip = load_spec(tmp_path / "c.yaml")
    assert kind == "chip" and chip.inference.cycles_per_inference == 60 and chip.inference.baseline_cycles == 120
    line = next(l for l in docs.splitlines() if l.startswith("chips/x.yaml:4:1: clock_period:"))
    (tmp_path / "x.yaml").write_text("kind: chip\nname: x\ndescription: x\nclock_period: 1 GHz\n")
    try:
        load_spec(tmp_path / "x.yaml")
    except SpecError as exc:
        assert str(exc.problems[0]).split(": ", 1)[1] == line.split(": ", 1)[1]
    else:
        raise AssertionError("1 GHz must be rejected as a clock period")
    spec = load_scenario(ROOT / "scenarios" / "quickstart.yaml", chip="rram_crossbar", firmware="finite_difference",
                         overrides={"firmware.tau_p": 1, "firmware.tau_theta": "full_period"})
    from hwsim.cli.spec import dump_resolved
    from hwsim.chip.timing import inference_timing
    from hwsim.network.layout import scenario_layout

    line = next(l for l in docs.splitlines() if l.startswith("  tau_theta: 2410  # steps = "))
    assert line in dump_resolved(spec).splitlines()
    # The cycles are the step's own (the tile model's interval), not cycles_per_inference.
    step = inference_timing(spec.chip, scenario_layout(spec.scenario)).interval
    assert step != spec.chip.inference.cycles_per_inference and f"= {2410 * step} cycles" in line
    error = next(l for l in docs.splitlines() if l.startswith("s.yaml:5:3: firmware.tau_x: not a whole"))
    broken = (ROOT / "tests" / "spec" / "broken_expected.yaml").read_text()
    assert error.split(": ", 1)[1] in broken.replace("''", "'")
