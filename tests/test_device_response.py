"""hwsim device: a chip's device response to single pulses, from the kernels' own device law."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.cli import main
from hwsim.results.device_response import device_response
from hwsim.run_plan import load_chip

CHIP = """extends: ideal_digital
device:
  law: {law}
  dw_min: 0.1
  w_min: -1.0
  w_max: 1.0
  write_noise: {noise}
  variation: {{dw_min: {variation}, bounds: {variation}}}
"""


def chip_file(tmp_path, law="constant_step", noise=0.0, variation=0.0):
    path = tmp_path / f"{law}.yaml"
    path.write_text(CHIP.format(law=law, noise=noise, variation=variation))
    return path


def test_constant_steps_climb_to_the_bound_and_back(tmp_path):
    """Noise-free constant steps: n pulses up give min(0.1 n, 1), then each pulse down 0.1."""
    r = device_response(load_chip(chip_file(tmp_path)), pulses=15, devices=3)
    up = np.minimum(0.1 * np.arange(16), 1.0)
    down = np.maximum(1.0 - 0.1 * np.arange(1, 16), -1.0)
    for d in range(3):
        np.testing.assert_allclose(r.weights[d], np.concatenate([up, down]), atol=1e-12)
    assert r.pulses_to_span() == 10          # 95 % of the way to 1.0: the tenth pulse


def test_soft_bounds_steps_shrink_toward_the_bound(tmp_path):
    """Soft bounds without noise: every potentiating pulse raises w by less than the one before,
    and w stays below w_max; the depressing pulses mirror it."""
    r = device_response(load_chip(chip_file(tmp_path, "soft_bounds")), pulses=60, devices=2)
    steps = np.diff(r.weights[0, :61])
    assert (steps > 0).all() and (np.diff(steps) < 0).all() and r.weights[0, 60] < 1.0
    assert (np.diff(r.weights[0, 60:]) < 0).all()


def test_variation_and_noise_spread_the_devices(tmp_path):
    """With device-to-device variation and write noise the devices differ; the same seed gives
    the same picture, another seed another one."""
    chip = load_chip(chip_file(tmp_path, "soft_bounds", noise=0.3, variation=0.3))
    a, b, c = (device_response(chip, 40, 6, seed) for seed in (0, 0, 1))
    assert np.ptp(a.weights[:, 40]) > 0.05
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)


def test_cli_writes_png_and_svg_and_refuses_an_ideal_device(tmp_path, capsys):
    out = tmp_path / "fig" / "dev.png"
    assert main(["device", str(chip_file(tmp_path, "soft_bounds", 0.2, 0.2)), "--out", str(out),
                 "--pulses", "30", "--devices", "4"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG") and out.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
    printed = capsys.readouterr().out
    assert "law soft_bounds, 4 devices, 30 pulses each way" in printed and "nominal step dw_min" in printed
    assert main(["device", "ideal_digital"]) == 2
    assert "ideal (law: ideal)" in capsys.readouterr().err


@pytest.mark.parametrize("preset", ["rram_crossbar", "pcm_hermes_like", "ecram_training"])
def test_every_pulsed_preset_has_a_picture(preset, tmp_path):
    r = device_response(load_chip(preset), devices=4)
    assert r.weights.shape == (4, 2 * r.pulses + 1) and np.isfinite(r.weights).all()
    assert r.weights[:, r.pulses].mean() > r.weights[:, 0].mean() > r.weights[:, -1].mean()


def test_drift_and_read_noise_follow_the_device_spec(tmp_path):
    """Programmed to w_max / 2 = 0.5: with nu = 0.1 and no read noise the weight at
    t0 x 10^6 is 0.5 x (10^6)^-0.1 exactly; with additive read noise 0.05 (and no drift) the
    reads scatter with that standard deviation (16,000 reads: within 3 %)."""
    path = tmp_path / "drifting.yaml"
    path.write_text(CHIP.format(law="soft_bounds", noise=0.0, variation=0.0)
                    + "  drift: {nu_mean: 0.1, nu_sigma: 0.0, t0: 20 s}\n")
    r = device_response(load_chip(path), pulses=5, devices=4)
    np.testing.assert_allclose(r.drift[:, 0], 0.5, rtol=1e-12)
    np.testing.assert_allclose(r.drift[:, -1], 0.5 * (10.0 ** 6) ** -0.1, rtol=1e-12)
    assert np.isclose(r.drift_times[-1], 20.0 * 1e6) and not r.read_errors.any()
    path.write_text(CHIP.format(law="soft_bounds", noise=0.0, variation=0.0)
                    + "  read_noise: {additive: 0.05}\n")
    r = device_response(load_chip(path), pulses=5, devices=8)
    assert r.read_errors.size == 8 * 2000 and abs(r.read_errors.std() / 0.05 - 1) < 0.03
    rows = dict(r.table())
    assert rows["law"] == "soft_bounds" and rows["read noise sd (measured; spec additive, proportional)"].endswith("0.05, 0")
