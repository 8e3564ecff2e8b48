"""The numbers the docs quote from short runs are what a fresh run gives: the quickstart's
time to target in README.md, the tutorial and its scenario page, and its seed range."""

from pathlib import Path

import pytest

import hwsim
from hwsim.results.report import format_si

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quickstart():
    return hwsim.run("quickstart").summary


def test_the_quickstart_headline_in_the_docs_is_a_fresh_runs(quickstart):
    s = quickstart
    cycles, seconds, samples = s["cycles_to_target"], s["seconds_to_target"], s["samples_to_target"]
    readme = (ROOT / "README.md").read_text()
    assert (f"reached 90.0% test accuracy after {cycles:,} cycles = {format_si(seconds, 's')} of chip time, "
            f"energy not modelled ({samples:,} samples)") in readme
    tutorial = " ".join((ROOT / "docs" / "tutorial.md").read_text().split())
    assert f"after {cycles:,} cycles, which is {seconds * 1e3:.2f} ms of chip time" in tutorial
    page = " ".join((ROOT / "docs" / "scenarios" / "quickstart.md").read_text().split())
    assert (f"90 % is reached after {cycles:,} cycles, which is {seconds * 1e3:.2f} ms of chip time "
            f"and {samples:,} samples") in page


def test_the_quickstart_seed_range_on_its_page_is_six_fresh_runs():
    cycles = [hwsim.run("quickstart", seed).summary["cycles_to_target"] for seed in range(6)]
    assert None not in cycles
    page = " ".join((ROOT / "docs" / "scenarios" / "quickstart.md").read_text().split())
    assert f"Over seeds 0-5 the target is reached after {min(cycles):,} to {max(cycles):,} cycles" in page
