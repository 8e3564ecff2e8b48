"""Synapse devices (hwsim/chip/devices.py, hwsim/kernels/devices.py): kernels against their
numpy twins (tests/naive_devices.py), each law against its closed form, and the statistics
of noise and variation against their parameters (5 sigma of the estimator).
"""

import pickle
from collections import namedtuple

import numpy as np
import pytest

import naive_devices as nd
from hwsim.chip.devices import DeviceArray
from hwsim.kernels import devices as K
from hwsim.spec.chip import DeviceSpec, UpdateController
from hwsim.kernels import codes

LAWS = tuple(codes.LAWS)
PULSED = ("constant_step", "linear_step", "soft_bounds", "exp_step", "pow_step")
RTOL = 1e-12  # same equations in float64; libm calls may differ in the last bit

# A technology as the chip spec gives it: the device and the update controller's rounding
# and pulse limit.
Tech = namedtuple("Tech", "device controller")


def tech(base, rounding, max_pulses, kw):
    """``base`` updated by ``kw`` (sections such as ``stuck`` merged field by field)."""
    kw = dict(kw)
    rounding = kw.pop("rounding", rounding)
    max_pulses = kw.pop("max_pulses", max_pulses)
    fields = dict(base)
    for name, value in kw.items():
        fields[name] = {**fields.get(name, {}), **value} if isinstance(value, dict) else value
    return Tech(DeviceSpec(**fields), UpdateController(rounding=rounding, max_pulses=max_pulses))


def array(t, n, seed):
    return DeviceArray(t.device, n, seed, controller=t.controller)


def noisy_params(law, rounding="stochastic", **kw):
    """Every non-ideality on at once."""
    base = dict(law=law, dw_min=0.02, w_min=-0.8, w_max=1.2, asymmetry=0.1, gamma_up=0.7, gamma_down=1.6,
                levels=33, write_noise=0.3, variation={"dw_min": 0.2, "bounds": 0.1, "asymmetry": 0.05},
                programming_error=0.02, read_noise={"additive": 0.01, "proportional": 0.03},
                drift={"nu_mean": 0.05, "nu_sigma": 0.02, "t0": 20.0}, stuck={"fraction": 0.1})
    return tech(base, rounding, 7, kw)


def clean(law, **kw):
    """One nominal device law, nothing random."""
    return tech(dict(law=law, dw_min=0.01, w_min=-1.0, w_max=1.0, gamma_up=0.5), "deterministic", 1000, kw)


def closed_form(law, d, w, dw, w_min, w_max, g):
    """s^d(w) written out per law (equations of hwsim.kernels.devices)."""
    b = w_max if d > 0 else w_min
    return {"constant_step": dw,
            "linear_step": dw * max(1 - g * w / b, 0.0),
            "soft_bounds": dw * (1 - w / b),
            "exp_step": dw * (1 - np.exp(g * (w / b - 1))) / (1 - np.exp(-g)),
            "pow_step": dw * (1 - w / b) ** g}[law]


def within(est, expected, se, k=5.0):
    assert abs(est - expected) <= k * se, (est, expected, se)


# -- kernels == numpy twins -----------------------------------------------------------------

CASES = [(law, r) for law in LAWS for r in ("stochastic", "deterministic")]


@pytest.mark.parametrize("law,rounding", CASES, ids=[f"{law}-{r}" for law, r in CASES])
def test_kernels_match_numpy_twin(law, rounding):
    arr = array(noisy_params(law, rounding), 300, seed=5)
    rng = np.random.default_rng(1)
    target = rng.uniform(-0.9, 1.3, arr.n)
    w, tp = nd.program(arr, target, 0, 3.0)
    arr.program(target, t=3.0)
    np.testing.assert_allclose(arr.w, w, rtol=RTOL, atol=1e-15)
    np.testing.assert_array_equal(arr.t_prog, tp)
    for u, t in enumerate((10.0, 50.0, 400.0, 400.0, 5e3, 1e5)):
        # some zeros, many beyond max_pulses (7 pulses of 0.02, or 7 levels of 0.0625)
        delta = rng.normal(0, 0.06, arr.n) * (rng.random(arr.n) < 0.8) * rng.choice([1.0, 10.0], arr.n)
        w, tp, pulses, total = nd.update(arr, delta, u, t)
        assert arr.update(delta, u, t=t) == total
        np.testing.assert_allclose(arr.w, w, rtol=RTOL, atol=1e-15)
        np.testing.assert_array_equal(arr.t_prog, tp)
        np.testing.assert_array_equal(arr.pulse_counts, pulses)
        np.testing.assert_allclose(arr.read(t + 30.0, u), nd.read(arr, t + 30.0, u), rtol=RTOL, atol=1e-15)
    if law in PULSED or law == "quantised":
        assert arr.pulse_counts.sum() > 0


@pytest.mark.parametrize("law", PULSED)
def test_step_size_kernel_matches_twin(law):
    w = np.linspace(-1.2, 1.6, 57)
    for d in (1.0, -1.0):
        fast = np.array([K.step_size(codes.LAWS[law], d, x, 0.011, 0.007, -1.0, 1.5, 0.6, 2.0) for x in w])
        np.testing.assert_allclose(fast, nd.step_size(law, d, w, 0.011, 0.007, -1.0, 1.5, 0.6, 2.0), rtol=RTOL)


# -- each law against its closed form --------------------------------------------------------

@pytest.mark.parametrize("law", PULSED)
def test_one_pulse_follows_closed_form(law):
    p = clean(law, w_min=-0.8, w_max=1.2, gamma_up=0.6)
    w0 = np.linspace(-0.8, 1.2, 41)
    for d in (1.0, -1.0):
        arr = array(p, w0.size, seed=0)
        arr.program(w0)
        assert arr.update(np.full(w0.size, d * p.device.dw_min), 0) == w0.size  # one pulse each
        expected = [np.clip(x + d * closed_form(law, d, x, p.device.dw_min, -0.8, 1.2, 0.6), -0.8, 1.2) for x in w0]
        np.testing.assert_allclose(arr.w, expected, rtol=1e-12, atol=1e-15)
    # the step at w = 0 is dw_min in both directions, and it vanishes at the bound it moves toward
    # for the saturating laws
    for d in (1.0, -1.0):
        assert K.step_size(codes.LAWS[law], d, 0.0, 0.01, 0.01, -0.8, 1.2, 0.6, 0.6) == pytest.approx(0.01, rel=1e-12)
    if law in ("soft_bounds", "exp_step", "pow_step"):
        assert K.step_size(codes.LAWS[law], 1.0, 1.2, 0.01, 0.01, -0.8, 1.2, 0.6, 0.6) == 0.0
        assert K.step_size(codes.LAWS[law], -1.0, -0.8, 0.01, 0.01, -0.8, 1.2, 0.6, 0.6) == 0.0
    if law == "linear_step":  # the step has fallen by the fraction gamma at the bound
        assert K.step_size(codes.LAWS[law], 1.0, 1.2, 0.01, 0.01, -0.8, 1.2, 0.6, 0.6) == pytest.approx(0.004)


def test_law_family_limits():
    """pow gamma=0 is constant, pow/linear gamma=1 are soft bounds, exp gamma->0 tends to soft bounds."""
    w = np.linspace(-1, 1, 21)
    for d in (1.0, -1.0):
        sb = nd.step_size("soft_bounds", d, w, 0.01, 0.01, -1.0, 1.0, 0.0, 0.0)
        np.testing.assert_allclose(nd.step_size("pow_step", d, w, 0.01, 0.01, -1.0, 1.0, 1.0, 1.0), sb, rtol=1e-12)
        np.testing.assert_allclose(nd.step_size("linear_step", d, w, 0.01, 0.01, -1.0, 1.0, 1.0, 1.0), sb, rtol=1e-12)
        np.testing.assert_allclose(nd.step_size("exp_step", d, w, 0.01, 0.01, -1.0, 1.0, 1e-6, 1e-6), sb, atol=1e-8)
        np.testing.assert_allclose(nd.step_size("pow_step", d, w, 0.01, 0.01, -1.0, 1.0, 0.0, 0.0), 0.01)


def test_soft_bounds_saturate_geometrically():
    """From w0, N up pulses of soft bounds give w_N = w_max - (w_max - w0)(1 - dw/w_max)^N; never past w_max."""
    p = clean("soft_bounds", dw_min=0.02, max_pulses=50)
    arr = array(p, 3, seed=0)
    w0 = np.array([-0.5, 0.0, 0.7])
    arr.program(w0)
    for u in range(40):
        arr.update(np.full(3, 50 * p.device.dw_min), u)
        n = 50 * (u + 1)
        np.testing.assert_allclose(arr.w, 1.0 - (1.0 - w0) * (1 - 0.02) ** n, rtol=1e-10)
        assert np.all(arr.w <= 1.0)
    assert np.all(arr.w > 1.0 - 1e-6)
    np.testing.assert_array_equal(arr.pulse_counts, 2000)


@pytest.mark.parametrize("law", PULSED)
def test_saturation_at_the_bounds(law):
    p = clean(law, dw_min=0.05, w_min=-0.6, w_max=0.9, max_pulses=100, gamma_up=0.8)
    arr = array(p, 2, seed=0)
    trace = []
    for u in range(30):
        arr.update(np.array([100 * p.device.dw_min, -100 * p.device.dw_min]), u)
        trace.append(arr.w.copy())
    trace = np.array(trace)
    assert np.all(np.diff(trace[:, 0]) >= 0) and np.all(np.diff(trace[:, 1]) <= 0)  # monotone
    assert np.all(trace[:, 0] <= 0.9) and np.all(trace[:, 1] >= -0.6)  # never past the bounds
    np.testing.assert_allclose(trace[-1], [0.9, -0.6], atol=1e-3)  # and they get there
    if law in ("constant_step", "linear_step"):  # hard bounds: clipped exactly
        np.testing.assert_array_equal(trace[-1], [0.9, -0.6])


@pytest.mark.parametrize("law", PULSED)
def test_asymmetry_ratio(law):
    a = 0.25
    arr = array(clean(law, asymmetry=a, w_min=-0.8, w_max=1.2), 2, seed=0)
    arr.update(np.array([0.01, -0.01]), 0)
    up, down = arr.w[0], -arr.w[1]
    assert up == pytest.approx(0.01 * (1 + a), rel=1e-12)
    assert down == pytest.approx(0.01 * (1 - a), rel=1e-12)
    assert up / down == pytest.approx((1 + a) / (1 - a), rel=1e-12)


def test_constant_step_counts_exactly():
    """Deterministic rounding: n = floor(|delta|/dw + 1/2) pulses of dw, clipped at the bounds."""
    arr = array(clean("constant_step"), 6, seed=0)
    delta = np.array([0.0, 0.0049, 0.005, -0.026, 0.5, -3.0])
    assert arr.update(delta, 0) == 0 + 0 + 1 + 3 + 50 + 300  # all 300 pulses are sent; w stops at -1
    np.testing.assert_allclose(arr.w, [0, 0, 0.01, -0.03, 0.5, -1.0], atol=1e-12)


def test_ideal_applies_the_change_exactly():
    arr = array(clean("ideal", w_min=-2.0, w_max=2.0), 5, seed=0)
    w0 = np.array([0.1, -0.3, 1.9, 0.0, 0.7])
    arr.program(w0)
    delta = np.array([1e-7, 0.123456789, 0.5, -1e-12, 0.0])
    assert arr.update(delta, 0) == 0
    np.testing.assert_array_equal(arr.w, np.minimum(w0 + delta, 2.0))
    np.testing.assert_array_equal(arr.pulse_counts, 0)


def test_quantised_levels_and_rounding():
    p = clean("quantised", levels=11, w_min=-1.0, w_max=1.0)  # levels every 0.2
    arr = array(p, 6, seed=0)
    arr.program(np.array([0.05, 0.11, -0.33, 0.99, -2.0, 0.3]))
    np.testing.assert_allclose(arr.w, [0.0, 0.2, -0.4, 1.0, -1.0, 0.4], atol=1e-12)
    pulses = arr.update(np.array([0.09, 0.11, 0.25, 0.2, -0.5, -1.5]), 0)
    np.testing.assert_allclose(arr.w, [0.0, 0.4, -0.2, 1.0, -1.0, -1.0], atol=1e-12)
    assert pulses == 0 + 1 + 1 + 0 + 0 + 7
    grid = np.linspace(-1, 1, 11)
    assert np.all(np.min(np.abs(arr.w[:, None] - grid[None, :]), axis=1) < 1e-12)


def test_quantised_stochastic_rounding_is_unbiased():
    n = 20000
    arr = array(clean("quantised", levels=11, rounding="stochastic"), n, seed=3)
    arr.update(np.full(n, 0.07), 0)  # 0.35 of a level
    assert set(np.round(arr.w, 12)) == {0.0, 0.2}
    within(arr.w.mean(), 0.07, 0.2 * np.sqrt(0.35 * 0.65 / n))


# -- update controller -------------------------------------------------------------------------

@pytest.mark.parametrize("x", [0.37, 2.6, 5.0])
def test_stochastic_rounding_is_unbiased(x):
    n = 20000
    arr = array(clean("constant_step", rounding="stochastic", w_min=-10, w_max=10), n, seed=2)
    arr.update(np.full(n, x * 0.01), 7)
    c = arr.pulse_counts
    frac = x - np.floor(x)
    assert set(np.unique(c)) <= {int(np.floor(x)), int(np.ceil(x))}
    within(c.mean(), x, np.sqrt(frac * (1 - frac) / n) + 1e-12)
    np.testing.assert_allclose(arr.w, 0.01 * c, rtol=1e-12)


def test_max_pulses_caps():
    for law in ("constant_step", "quantised"):
        p = clean(law, max_pulses=31, levels=201, w_min=-1.0, w_max=1.0)
        arr = array(p, 4, seed=0)
        assert arr.update(np.array([1.0, -1.0, 0.2, np.inf]), 0) == 31 + 31 + 20 + 31
        np.testing.assert_array_equal(arr.pulse_counts, [31, 31, 20, 31])
        np.testing.assert_allclose(arr.w, [0.31, -0.31, 0.2, 0.31], atol=1e-12)


def test_pulse_counters_accumulate():
    arr = array(noisy_params("soft_bounds", stuck={"fraction": 0.2}), 500, seed=4)
    rng = np.random.default_rng(0)
    total = 0
    for u in range(5):
        before = arr.pulse_counts.copy()
        sent = arr.update(rng.normal(0, 0.05, arr.n), u)
        assert sent == int((arr.pulse_counts - before).sum())
        assert np.all(arr.pulse_counts - before <= arr.controller.max_pulses)
        total += sent
    assert arr.pulse_counts.sum() == total > 0
    assert arr.pulse_counts.dtype == np.int64
    # a stuck device is still sent pulses (the controller cannot tell), it just does not move
    assert arr.pulse_counts[arr.stuck == 1].sum() > 0


def test_update_is_a_pure_function_of_inputs_and_index():
    p = noisy_params("exp_step")
    a, b = array(p, 200, seed=9), array(p, 200, seed=9)
    delta = np.random.default_rng(0).normal(0, 0.05, 200)
    a.update(delta, 12, t=100.0)
    b.update(delta, 12, t=100.0)
    np.testing.assert_array_equal(a.w, b.w)
    c = array(p, 200, seed=9)
    c.update(delta, 13, t=100.0)
    assert not np.array_equal(a.w, c.w)  # another update index draws other noise
    # the raw kernel: same inputs, bit-identical outputs
    outs = []
    for _ in range(2):
        d = array(p, 200, seed=9)
        w, dev, stuck, tp, pulses, config = d.kernel_args()
        n = K.apply_update(w, delta, dev, stuck, tp, pulses, config, 12, 100.0)
        outs.append((n, w.copy(), tp.copy(), pulses.copy()))
    assert outs[0][0] == outs[1][0]
    for x, y in zip(outs[0][1:], outs[1][1:]):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(outs[0][1], a.w)


# -- statistics: noise and variation match their parameters ----------------------------------

def test_cycle_to_cycle_noise_statistics():
    n, sigma = 20000, 0.3
    arr = array(clean("constant_step", write_noise=sigma, w_min=-10, w_max=10), n, seed=1)
    arr.update(np.full(n, 0.01), 0)
    rel = arr.w / 0.01 - 1.0  # one pulse: dw (1 + sigma xi)
    within(rel.mean(), 0.0, sigma / np.sqrt(n))
    within(rel.std(ddof=1), sigma, sigma / np.sqrt(2 * (n - 1)))
    # pulses compound: k pulses have std sigma*dw*sqrt(k)
    arr2 = array(clean("constant_step", write_noise=sigma, w_min=-10, w_max=10), n, seed=1)
    arr2.update(np.full(n, 0.09), 0)
    s9 = sigma * 0.01 * 3
    within(arr2.w.mean(), 0.09, s9 / np.sqrt(n))
    within(arr2.w.std(ddof=1), s9, s9 / np.sqrt(2 * (n - 1)))


def test_read_noise_statistics():
    n = 20000
    p = clean("constant_step", read_noise={"additive": 0.01, "proportional": 0.05}, w_min=-2.0, w_max=2.0)
    arr = array(p, n, seed=1)
    arr.program(np.where(np.arange(n) < n // 2, 0.0, 0.8))
    r = arr.read(0.0, 3)
    for sl, mean, sd in ((slice(0, n // 2), 0.0, 0.01), (slice(n // 2, n), 0.8, np.hypot(0.01, 0.05 * 0.8))):
        m = n // 2
        within(r[sl].mean(), mean, sd / np.sqrt(m))
        within(r[sl].std(ddof=1), sd, sd / np.sqrt(2 * (m - 1)))
    np.testing.assert_array_equal(arr.read(0.0, 3), r)  # same MVM index, same noise
    other = arr.read(0.0, 4)
    within(np.corrcoef(other[: n // 2], r[: n // 2])[0, 1], 0.0, 1 / np.sqrt(n // 2))  # fresh per MVM
    np.testing.assert_array_equal(arr.w[: n // 2], 0.0)  # reading never writes


def test_programming_error_statistics():
    n, sigma = 20000, 0.02
    arr = array(clean("constant_step", programming_error=sigma), n, seed=1)
    arr.program(np.full(n, 0.3))
    within(arr.w.mean(), 0.3, sigma / np.sqrt(n))
    within(arr.w.std(ddof=1), sigma, sigma / np.sqrt(2 * (n - 1)))
    first = arr.w.copy()
    arr.program(np.full(n, 0.3))  # the next program call draws a new error
    assert not np.array_equal(first, arr.w)


def test_device_to_device_spreads():
    n = 40000
    p = Tech(DeviceSpec(law="soft_bounds", dw_min=0.01, w_min=-0.8, w_max=1.2, asymmetry=0.2,
                        variation={"dw_min": 0.1, "bounds": 0.15, "asymmetry": 0.05},
                        drift={"nu_mean": 0.06, "nu_sigma": 0.01}), UpdateController())
    arr = array(p, n, seed=11)
    up, down = arr.dev[K.D_DW_UP], arr.dev[K.D_DW_DOWN]
    scale = (up + down) / (2 * p.device.dw_min)  # = 1 + sigma_dw xi
    asym = (up - down) / (up + down)  # = a + sigma_a xi
    checks = [(scale, 1.0, 0.1), (asym, 0.2, 0.05), (arr.dev[K.D_W_MAX] / 1.2, 1.0, 0.15),
              (arr.dev[K.D_W_MIN] / -0.8, 1.0, 0.15), (arr.dev[K.D_NU], 0.06, 0.01)]
    for x, mean, sd in checks:
        within(x.mean(), mean, sd / np.sqrt(n))
        within(x.std(ddof=1), sd, sd / np.sqrt(2 * (n - 1)))
    # independent draws for the independent quantities
    assert abs(np.corrcoef(arr.dev[K.D_W_MAX], arr.dev[K.D_W_MIN])[0, 1]) < 5 / np.sqrt(n)
    # and the variation is real: one pulse up from 0 moves each device by its own dw_up
    arr.update(np.full(n, 0.01), 0)
    np.testing.assert_allclose(arr.w, up, rtol=1e-12)


def test_same_seed_same_devices_different_seed_different_devices():
    p = noisy_params("linear_step")
    a, b, c = array(p, 1000, seed=1), array(p, 1000, seed=1), array(p, 1000, seed=2)
    for name in ("dev", "stuck", "w", "config"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.dev, c.dev)
    assert not np.array_equal(a.stuck, c.stuck)
    assert not np.array_equal(a.config, c.config)      # other stream seeds
    a.program(np.zeros(1000))
    c.program(np.zeros(1000))
    assert not np.array_equal(a.w, c.w)


def test_pickled_array_continues_identically():
    arr = array(noisy_params("pow_step"), 100, seed=3)
    arr.program(np.linspace(-0.5, 0.5, 100), t=1.0)
    arr.update(np.full(100, 0.03), 0, t=30.0)
    copy = pickle.loads(pickle.dumps(arr))
    delta = np.linspace(-0.1, 0.1, 100)
    arr.update(delta, 1, t=60.0)
    copy.update(delta, 1, t=60.0)
    np.testing.assert_array_equal(arr.w, copy.w)
    np.testing.assert_array_equal(arr.pulse_counts, copy.pulse_counts)
    np.testing.assert_array_equal(arr.read(90.0, 5), copy.read(90.0, 5))


# -- drift -----------------------------------------------------------------------------------

def test_drift_follows_the_power_law():
    nu, t0 = 0.05, 20.0
    arr = array(clean("constant_step", drift={"nu_mean": nu, "t0": t0}), 3, seed=0)
    w0 = np.array([0.8, -0.5, 0.0])
    arr.program(w0, t=0.0)
    for t in (5.0, 20.0):  # within t0 of the write: no drift yet
        np.testing.assert_array_equal(arr.read(t, 0), w0)
    for t in (21.0, 100.0, 1e3, 1e5, 3e7):
        np.testing.assert_allclose(arr.read(t, 0), w0 * (t / t0) ** -nu, rtol=1e-12)
    # at nu = 0.05 the weight falls 18 % by 1000 s (hw_params.md section 0)
    assert arr.read(1e3, 0)[0] / 0.8 == pytest.approx(0.822, abs=1e-3)
    # measured from each device's last write
    arr.program(w0, t=500.0)
    np.testing.assert_allclose(arr.read(1500.0, 0), w0 * (1000.0 / t0) ** -nu, rtol=1e-12)


def test_drift_exponents_per_device_and_write_restarts_the_clock():
    n, t0 = 2000, 20.0
    p = clean("constant_step", drift={"nu_mean": 0.05, "nu_sigma": 0.02, "t0": t0}, w_min=-2, w_max=2)
    arr = array(p, n, seed=4)
    arr.program(np.full(n, 1.0), t=0.0)
    for t in (200.0, 2e4):  # each device follows its own nu_i: log(w/w0)/log(t/t0) = -nu_i
        np.testing.assert_allclose(np.log(arr.read(t, 0)) / np.log(t / t0), -arr.dev[K.D_NU], rtol=1e-9)
    assert np.all(arr.dev[K.D_NU] >= 0.0)
    # a pulse at t = 2000 s starts from the drifted value, then the clock restarts
    one = array(clean("constant_step", drift={"nu_mean": 0.05, "t0": t0}), 2, seed=0)
    one.program(np.array([0.5, 0.5]), t=0.0)
    one.update(np.array([0.01, 0.0]), 0, t=2000.0)
    w_drift = 0.5 * (2000.0 / t0) ** -0.05
    np.testing.assert_allclose(one.w, [w_drift + 0.01, 0.5], rtol=1e-12)
    np.testing.assert_allclose(one.read(2010.0, 0), [w_drift + 0.01, 0.5 * (2010.0 / t0) ** -0.05], rtol=1e-12)
    np.testing.assert_allclose(one.read(2100.0, 0)[0], (w_drift + 0.01) * (100.0 / t0) ** -0.05, rtol=1e-12)


# -- stuck devices -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["min", "max", "bounds", "uniform", "value"])
@pytest.mark.parametrize("law", ["ideal", "quantised", "soft_bounds"])
def test_stuck_devices_never_move(law, mode):
    n = 2000
    p = noisy_params(law, stuck={"fraction": 0.25, "at": mode, "value": 0.3},
                     read_noise={"additive": 0.0, "proportional": 0.0})
    arr = array(p, n, seed=8)
    stuck = arr.stuck == 1
    within(stuck.mean(), 0.25, np.sqrt(0.25 * 0.75 / n))
    w_stuck = arr.w[stuck].copy()
    lo, hi = arr.dev[K.D_W_MIN][stuck], arr.dev[K.D_W_MAX][stuck]
    expected = {"min": lo, "max": hi, "value": np.full(stuck.sum(), 0.3)}
    if mode in expected:
        np.testing.assert_array_equal(w_stuck, expected[mode])
    elif mode == "bounds":
        assert np.all((w_stuck == lo) | (w_stuck == hi))
        within(np.mean(w_stuck == hi), 0.5, np.sqrt(0.25 / stuck.sum()))
    else:
        assert np.all((w_stuck >= lo) & (w_stuck <= hi))
    rng = np.random.default_rng(0)
    arr.program(rng.uniform(-0.5, 0.5, n), t=1.0)
    for u in range(5):
        arr.update(rng.normal(0, 0.2, n), u, t=100.0 * (u + 1))
    np.testing.assert_array_equal(arr.w[stuck], w_stuck)
    np.testing.assert_array_equal(arr.read(1e6, 0)[stuck], w_stuck)  # no drift either
    assert not np.allclose(arr.w[~stuck], 0.0)  # the working devices did move


# -- parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,fragment", [
    ({"law": "soft_bound"}, "law"),
    ({"law": "soft_bounds", "w_min": 0.0, "w_max": 2.0}, "needs w_min < 0 < w_max"),
    ({"stuck": {"fraction": 5.0}}, "fraction"),
    ({"asymmetry": 1.0}, "asymmetry"),
    ({"law": "exp_step", "gamma_up": 0.0}, "exp_step law needs gamma_up > 0"),
    ({"law": "exp_step", "gamma_down": 0.0}, "exp_step law needs gamma_down > 0"),
    ({"law": "quantised", "levels": 1}, "levels"),
    ({"write_noise": -0.1}, "write_noise"),
    ({"dw_min": float("inf")}, "dw_min"),
], ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v)))
def test_bad_device_spec_names_the_field(kw, fragment):
    """The DeviceSpec is the one validated schema of a device: the checks DeviceArray relies on."""
    with pytest.raises(ValueError, match=fragment):
        DeviceSpec(**kw)


@pytest.mark.parametrize("kw,fragment", [({"max_pulses": 0}, "max_pulses"), ({"rounding": "stochastc"}, "rounding")])
def test_bad_controller_names_the_field(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        UpdateController(**kw)


def test_array_refuses_what_is_not_a_weight_unit_device_spec():
    with pytest.raises(TypeError, match="DeviceSpec"):
        DeviceArray({"law": "ideal"}, 4, seed=0)
    in_siemens = DeviceSpec(law="constant_step", conductance={"g_max": 25e-6, "dg_min": 0.5e-6})
    with pytest.raises(ValueError, match="device_in_weight_units"):
        DeviceArray(in_siemens, 4, seed=0)


def test_config_record_holds_the_spec_values_by_name():
    p = noisy_params("pow_step", rounding="deterministic")
    c = array(p, 8, seed=0).config[0]
    d = p.device
    assert (c.law, c.levels, c.rounding, c.max_pulses) == (codes.POW_STEP, 33, codes.ROUND_DETERMINISTIC, 7)
    assert (c.dw_ctrl, c.gamma_up, c.gamma_down, c.c2c, c.prog_sigma) == (0.02, 0.7, 1.6, 0.3, 0.02)
    assert (c.read_add, c.read_prop, c.t0) == (d.read_noise.additive, d.read_noise.proportional, 20.0)
    # gamma_down: null = gamma_up
    assert array(clean("linear_step"), 2, seed=0).config[0].gamma_down == 0.5
    # four distinct stream seeds
    assert len({c.seed_round, c.seed_c2c, c.seed_prog, c.seed_read}) == 4


def test_arrays_are_contiguous():
    arr = array(noisy_params("pow_step"), 64, seed=0)
    for name, dtype in (("w", np.float64), ("dev", np.float64), ("stuck", np.int64), ("t_prog", np.float64),
                        ("pulses", np.int64), ("config", K.DEVICE_CONFIG)):
        a = getattr(arr, name)
        assert a.dtype == dtype and a.flags.c_contiguous, name
    assert arr.config.shape == (1,)
    assert arr.dev.shape == (K.N_DEV, 64)
    assert not arr.read_is_identity
    quiet = array(clean("soft_bounds", write_noise=0.5, programming_error=0.1), 64, seed=0)
    quiet.program(np.linspace(-1, 1, 64))
    assert quiet.read_is_identity
    np.testing.assert_array_equal(quiet.read(1e9, 3), quiet.w)
    with pytest.raises(ValueError, match="shape"):
        arr.update(np.zeros(3), 0)
