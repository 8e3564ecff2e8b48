"""Shared paths and helpers of the spec tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
PRESET_DIRS = ("chips", "firmware_models", "scenarios")


def preset_files() -> list[Path]:
    return sorted(p for d in PRESET_DIRS for p in (ROOT / d).glob("*.yaml"))


def relative(problem_text: str) -> str:
    """A problem line with the broken/ folder and the project root made relative."""
    return problem_text.replace(str(BROKEN) + "/", "").replace(str(ROOT) + "/", "<root>/")
