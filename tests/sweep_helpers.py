"""A tiny scenario and a sweep over it, shared by the sweep, results and plot tests."""

from __future__ import annotations

from pathlib import Path

from helpers import tiny_scenario, write

# 8x8 digits on a 64-8-10 network: a point trains in a fraction of a second.
TINY = tiny_scenario(eta=1.0, cost="mse", target=0.15)

# 2 x 2 x 2 = 8 points; eta = 1e200 diverges at once: a result, not a failure.
SWEEP = """\
    kind: sweep
    name: tiny
    description: Learning rate and cost noise on the tiny scenario.
    scenario: tiny.yaml
    axes:
      firmware.eta: [1.0, 1.0e200]
      chip.cost_unit.noise_sigma: [0.0, 0.05]
    seeds: [0, 1]
"""
N_POINTS = 8


def write_sweep(folder: Path, sweep: str = SWEEP) -> Path:
    """tiny.yaml and sweep.yaml in ``folder``; returns the sweep file."""
    write(folder, "tiny.yaml", TINY)
    return write(folder, "sweep.yaml", sweep)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


ROOT = Path(__file__).resolve().parents[1]
