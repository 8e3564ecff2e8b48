"""The chip presets carry their physics: update time and an energy table that a short run
charges and reports consistently, every number tagged with its kind of source and pointing to
the page that cites it (docs/hardware.md), and that page agreeing with the presets."""

import json
import math
import re
from pathlib import Path

import pytest
import yaml

import hwsim

ROOT = Path(__file__).resolve().parents[1]
CHIPS = ROOT / "chips"
HARDWARE_PAGE = ROOT / "docs" / "hardware.md"
PHYSICAL = ["rram_crossbar", "pcm_hermes_like", "ecram_training", "photonic_mzi", "soen_superconducting"]
TAG = re.compile(r"\[([SCDE])\]")
NUMBER = re.compile(r"^[-+.\d]")


def numeric_lines(path):
    """(dotted field, value, comment) of every numeric value in a preset."""
    stack, out = [], []
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or ":" not in line:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, line.strip().split(":", 1)[0]))
        value = line.split(":", 1)[1].split("#", 1)[0].strip()
        if NUMBER.match(value):
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            out.append((".".join(k for _, k in stack), value, comment))
    return out


def page_sections():
    """docs/hardware.md split at its '## ' headings: {heading: text}."""
    parts = re.split(r"^## (.+)$", HARDWARE_PAGE.read_text(), flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def short_run(chip, tmp_path):
    spec = hwsim.load_scenario(ROOT / "scenarios" / "quickstart.yaml",
                               {"max_steps": 200, "stop_at_target": False,
                                "firmware.evaluation.every_steps": 100}, chip=chip)
    hwsim.run(spec, seed=0, out=tmp_path / chip)
    return spec, json.loads((tmp_path / chip / "summary.json").read_text())


@pytest.mark.parametrize("chip", PHYSICAL)
def test_a_short_run_spends_update_time_and_energy_that_add_up(chip, tmp_path):
    spec, s = short_run(chip, tmp_path)
    time, energy = s["time_breakdown_cycles"], s["energy_breakdown_joules"]
    assert s["updates"] > 0 and time["updating"] > 0
    # Every blocking update phase costs at least the controller's set-up.
    assert spec.chip.update.blocking
    assert time["updating"] >= s["updates"] * spec.chip.update.overhead_cycles
    assert sum(time.values()) == s["cycles_simulated"]
    assert s["energy_joules"] > 0
    assert math.isclose(sum(energy.values()), s["energy_joules"], rel_tol=1e-12)
    # The preset's per-action energies are what the run charges: on the quickstart each of
    # the two layers fits one tile of every preset, so each inference is two tile MVMs.
    table = spec.chip.energy
    inferences = s["steps_simulated"] + s["baseline_measurements"]
    assert energy["mvm"] == pytest.approx(2 * inferences * table.mvm, rel=1e-12)
    assert energy["integrators"] == pytest.approx(s["steps_simulated"] * s["n_params"] * table.integrator,
                                                  rel=1e-12)
    assert energy["writes"] == pytest.approx(s["device_pulses_total"] * table.write, rel=1e-12)
    assert all(v > 0 for v in energy.values()), energy


def test_ideal_digital_says_it_is_ideal_and_models_no_energy():
    text = (CHIPS / "ideal_digital.yaml").read_text()
    header = " ".join(l.lstrip("# ") for l in text.splitlines() if l.startswith("#")).lower()
    assert "ideal" in header and "zero time" in header and "energy is not modelled" in header
    data = yaml.safe_load(text)
    assert "energy" not in data and "update" not in data and "input" not in data


@pytest.mark.parametrize("path", sorted(CHIPS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_preset_number_carries_a_tag_and_points_to_its_section(path):
    sections = page_sections()
    assert path.stem in sections, f"docs/hardware.md has no '## {path.stem}' section"
    for field, value, comment in numeric_lines(path):
        assert len(TAG.findall(comment)) == 1, f"{path.name}: {field}: {value} needs one tag [S]/[C]/[D]/[E]"
        assert f"docs/hardware.md#{path.stem}" in comment, f"{path.name}: {field} does not point to its section"


@pytest.mark.parametrize("path", sorted(CHIPS.glob("*.yaml")), ids=lambda p: p.name)
def test_preset_comments_cite_only_what_the_package_ships(path):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        comment = line.split("#", 1)[1] if "#" in line else ""
        if line.startswith("# yaml-language-server"):
            continue
        assert not re.search(r"hw_params|reference/|DESIGN|\bissue\b|\bsection \d|#\d", comment), \
            f"{path.name}:{n}: cites something hwsim does not ship: {comment.strip()!r}"
        for cited in re.findall(r"[\w./-]+\.(?:md|py|jl|cpp|json|yaml|txt)\b", comment):
            assert (ROOT / cited).is_file(), f"{path.name}:{n}: cites {cited}, which hwsim does not ship"


def test_the_hardware_page_tables_agree_with_the_presets():
    sections = page_sections()
    for path in sorted(CHIPS.glob("*.yaml")):
        rows = {}
        for row in re.findall(r"^\| `([\w.]+)` \| ([^|]+) \|[^|]*\| \[([SCDE])\] \|", sections[path.stem], re.M):
            rows[row[0]] = (row[1].strip(), row[2])
        for field, value, comment in numeric_lines(path):
            assert field in rows, f"docs/hardware.md#{path.stem} has no row for {field}"
            assert rows[field] == (value, TAG.search(comment).group(1)), (path.stem, field)


def test_every_source_a_preset_names_is_in_the_references():
    references = page_sections()["References"]
    cited = set()
    for path in CHIPS.glob("*.yaml"):
        for line in path.read_text().splitlines():
            comment = line.split("#", 1)[1] if "#" in line else ""
            cited |= set(re.findall(r"[A-Z][\w-]+ (?:et al\.(?: \d{4}[ab]?)?|and [A-Z]\w+ \d{4})", comment))
    assert cited
    for name in sorted(cited):
        assert f"**{name}" in references or f"{name}." in references or f"{name} (" in references, \
            f"{name} is cited by a preset but missing from docs/hardware.md#references"
