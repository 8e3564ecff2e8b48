"""Device physics changes training the way it should (measured on the digits quickstart)."""

from pathlib import Path

import numpy as np
import pytest

import hwsim

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_rram_accuracy_does_not_improve_as_write_noise_grows():
    """rram_crossbar on digits with its tuned firmware (scenarios/rram_digits.yaml), 3 seeds per
    level; the accuracy at the end of a fixed budget (mean of the last three observations)
    must not rise with cycle-to-cycle write noise. The budget is in steps, so the test's work
    does not move with the chip's cycle figures."""
    base = hwsim.load_scenario(ROOT / "scenarios/rram_digits.yaml")
    common = {"max_steps": 100_000, "max_cycles": 10**12, "firmware.evaluation.every_steps": 5_000,
              "stop_at_target": False}
    means, errors = [], []
    for noise in (0.0, 0.5, 1.5, 4.0):
        spec = base.with_overrides({**common, "chip.device.write_noise": noise})
        accs = [hwsim.run(spec, seed=s).curve.test_accuracy.iloc[-3:].mean() for s in range(3)]
        means.append(float(np.mean(accs)))
        errors.append(float(np.std(accs, ddof=1) / np.sqrt(len(accs))))
    # More noise never helps beyond the seed spread: each rise stays within two standard errors
    # of the difference of the two means.
    for (a, ea), (b, eb) in zip(zip(means, errors), zip(means[1:], errors[1:])):
        assert b <= a + 2 * np.hypot(ea, eb), (means, errors)
    assert means[0] - means[-1] > 0.05, means  # the effect is real, not a flat line at chance
