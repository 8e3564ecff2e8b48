"""Device physics changes training the way it should (measured on the digits quickstart)."""

from pathlib import Path

import numpy as np
import pytest

import hwsim

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_rram_accuracy_does_not_improve_as_write_noise_grows():
    """rram_crossbar preset on the quickstart (firmware tuned for its coarse 1/32-range steps:
    long integration, larger amplitude), 3 seeds per level; the accuracy at the end of a fixed
    budget (mean of the last three observations) must not rise with cycle-to-cycle write noise."""
    base = hwsim.load_scenario(ROOT / "scenarios/quickstart.yaml", chip="rram_crossbar")
    common = {"max_cycles": 12_000_000, "firmware.perturbation.amplitude": 1.0,
              "firmware.tau_theta": 1000, "firmware.eta": 1.0,
              "firmware.evaluation.every_steps": 10_000, "stop_at_target": False}
    means = []
    for noise in (0.0, 0.5, 1.5, 4.0):
        spec = base.with_overrides({**common, "chip.device.write_noise": noise})
        accs = [hwsim.run(spec, seed=s).curve.test_accuracy.iloc[-3:].mean() for s in range(3)]
        means.append(float(np.mean(accs)))
    assert all(b <= a for a, b in zip(means, means[1:])), means
    assert means[0] - means[-1] > 0.05, means  # the effect is real, not a flat line at chance
