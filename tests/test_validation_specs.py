"""The hardware reality check (docs/validation.md): every spec in validation/ validates, each
validation scenario learns above chance on a short run, and the per-seed figures the page
quotes are what a fresh run of the command printed beside them gives (every seed: each run
takes about a second)."""

import re
from pathlib import Path

import pytest

from hwsim import api
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation"
PAGE = ROOT / "docs" / "validation.md"
SPECS = sorted(VALIDATION.glob("*.yaml"))
# Chance level of each validation task's accuracy measure: a constant output gets half the
# XOR truth table right, and r2 = 0 is the mean predictor.
CHANCE = {"boon2025_xor.yaml": 0.5, "cauwenberghs1993_trajectory.yaml": 0.0}
MARKER = re.compile(r"<!-- validation-runs: (\S+) -->\n\|[^\n]*\n\|[-| ]*\n((?:\|[^\n]*\n)+)")


def quoted_runs() -> dict[str, dict[int, tuple[int, float, float]]]:
    """scenario path -> seed -> (cycles, seconds, joules) to target, as docs/validation.md quotes them."""
    tables = {}
    for scenario, rows in MARKER.findall(PAGE.read_text()):
        table = {}
        for row in rows.strip().splitlines():
            seed, cycles, seconds, joules = (cell.strip() for cell in row.strip("|").split("|"))
            table[int(seed)] = (int(cycles.replace(",", "")), float(seconds), float(joules))
        tables[scenario] = table
    return tables


def assert_matches_quote(scenario: str, seed: int, quoted: tuple[int, float, float]) -> None:
    summary = api.run(ROOT / scenario, seed=seed).summary
    cycles, seconds, joules = quoted
    assert summary["status"] == "reached_target", (scenario, seed, summary["status"])
    assert summary["cycles_to_target"] == cycles, (scenario, seed)
    # The page prints seconds and joules to a few significant figures.
    assert summary["seconds_to_target"] == pytest.approx(seconds, rel=1e-5), (scenario, seed)
    assert summary["energy_joules_to_target"] == pytest.approx(joules, rel=1e-4), (scenario, seed)


def test_there_are_validation_specs_and_tables():
    assert {p.name for p in SPECS} >= set(CHANCE)
    assert set(quoted_runs()) == {f"validation/{name}" for name in CHANCE}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_validation_spec_validates(path, capsys):
    assert main(["validate", str(path)]) == 0, capsys.readouterr()


@pytest.mark.parametrize("name", sorted(CHANCE))
def test_a_short_run_learns_above_chance(name):
    # Half the cycles seed 0 needs to reach its target: the curve must already be above chance.
    cycles_to_target = quoted_runs()[f"validation/{name}"][0][0]
    result = api.run(VALIDATION / name, seed=0, max_cycles=cycles_to_target // 2)
    assert result.summary["best_test_accuracy"] > CHANCE[name] + 0.1, result.summary


@pytest.mark.parametrize("scenario,seed", [(scenario, seed) for scenario, table in sorted(quoted_runs().items())
                                           for seed in sorted(table)])
def test_every_figure_on_the_page_comes_from_a_fresh_run(scenario, seed):
    # Each run takes about a second of host time, so every quoted seed is re-run.
    assert_matches_quote(scenario, seed, quoted_runs()[scenario][seed])


def test_the_page_cites_every_spec_it_builds_on():
    text = PAGE.read_text()
    for path in SPECS:
        assert f"validation/{path.name}" in text, path.name
    for spec in SPECS:
        # Every docs link in a spec points at a section of this page that exists.
        for anchor in re.findall(r"docs/validation\.md#([\w-]+)", spec.read_text()):
            headings = {re.sub(r"[^\w -]", "", h).strip().lower().replace(" ", "-")
                        for h in re.findall(r"^#+ (.+)$", text, re.M)}
            assert anchor in headings, (spec.name, anchor)
