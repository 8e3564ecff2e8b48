"""Every preset validates, carries its schema comment and its sources; schemas are current."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from hwsim.network.layout import scenario_layout
from hwsim.run_plan import load_scenario, load_spec
from hwsim.spec.models import KINDS
from hwsim.spec.schema import schema_for, schema_text
from spec_helpers import ROOT, preset_files

KIND_OF_DIR = {"chips": "chip", "firmware_models": "firmware", "scenarios": "scenario"}
CHIPS = ["ideal_digital", "rram_crossbar", "pcm_hermes_like", "ecram_training", "photonic_mzi",
         "soen_superconducting"]
FIRMWARE = ["mgd_discrete", "mgd_analog", "spsa", "finite_difference"]


def test_required_presets_exist():
    names = {(p.parent.name, p.stem) for p in preset_files()}
    assert {("chips", c) for c in CHIPS} <= names
    assert {("firmware_models", f) for f in FIRMWARE} <= names


@pytest.mark.parametrize("path", preset_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_preset_validates_and_starts_with_its_schema(path):
    kind = KIND_OF_DIR[path.parent.name]
    first = path.read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../docs/schema/{kind}.schema.json"
    found, spec = load_spec(path)
    assert found == kind
    data = yaml.safe_load(path.read_text())
    assert data.get("description"), "every preset has a one-line description for hwsim list"
    name = spec.scenario.name if kind == "scenario" else spec.name
    assert name == path.stem


@pytest.mark.parametrize("path", sorted((ROOT / "chips").glob("*.yaml")) + sorted((ROOT / "firmware_models").glob("*.yaml")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_numeric_preset_value_carries_its_source(path):
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or ":" not in line:
            continue
        value = line.split(":", 1)[1].split("#")[0].strip()
        if re.match(r"^[-+.\d]", value):
            comment = line.split("#", 1)[1] if "#" in line else ""
            assert comment.strip(), f"{path.name}: no source for {line.strip()!r}"
            assert any(word in comment for word in ("estimate", "hw_params", "MGD", "et al.", "Spall")), \
                f"{path.name}: source unclear in {line.strip()!r}"


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("firmware", FIRMWARE)
def test_every_chip_runs_every_firmware_on_the_quickstart(chip, firmware):
    spec = load_scenario(ROOT / "scenarios" / "quickstart.yaml", chip=chip, firmware=firmware)
    for name in ("tau_p", "tau_x", "tau_theta"):
        assert isinstance(getattr(spec.firmware, name), int)
    assert spec.chip.name == chip and spec.firmware.name == firmware


def test_finite_difference_period_is_p_times_tau_p():
    spec = load_scenario(ROOT / "scenarios" / "quickstart.yaml", firmware="finite_difference",
                         overrides={"firmware.tau_p": 3, "firmware.tau_x": "full_period",
                                    "firmware.tau_theta": "full_period"})
    p = scenario_layout(spec.scenario).n_params
    assert p == 64 * 32 + 32 + 32 * 10 + 10
    assert spec.firmware.tau_theta == 3 * p and spec.firmware.tau_x == 3 * p


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_files_are_up_to_date(kind):
    path = ROOT / "docs" / "schema" / f"{kind}.schema.json"
    assert path.read_text() == schema_text(kind), \
        "regenerate: python -c 'from hwsim.spec.schema import write_schemas; write_schemas(\".\")'"


def _leaf_properties(schema: dict):
    defs = schema.get("$defs", {})
    seen = []

    def walk(node, where):
        for name, prop in node.get("properties", {}).items():
            seen.append((f"{where}{name}", prop))
            for sub in [prop, *prop.get("anyOf", []), *prop.get("allOf", []), *prop.get("oneOf", [])]:
                ref = sub.get("$ref")
                if ref:
                    walk(defs[ref.split("/")[-1]], f"{where}{name}.")
    walk(schema, "")
    return seen


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_documents_default_unit_and_physics(kind):
    schema = schema_for(kind)
    json.dumps(schema)   # serialisable
    props = _leaf_properties(schema)
    assert len(props) > 10
    for name, prop in props:
        assert prop.get("description", "").strip(), name
        assert "x-unit" in prop, name
        if name.split(".")[-1] not in ("name", "extends") or name == "name":
            assert "default" in prop or name.endswith("extends"), name
        if prop.get("x-unit") not in ("-",) and prop.get("type") in ("integer", "number"):
            assert {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} & set(prop), name
