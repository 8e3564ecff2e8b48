"""Units: right dimensions convert, wrong ones fail with a message naming the expectation."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec
from hwsim.spec.units import resolve_time_constant, to_base_unit


@pytest.mark.parametrize("text, unit, value", [
    ("10 ns", "s", 10e-9), ("2 us", "s", 2e-6), ("1.5ms", "s", 1.5e-3), ("1e-9", "s", 1e-9),
    (3e-9, "s", 3e-9), (7, "s", 7.0), ("inf", "s", math.inf),
    ("1 GHz", "Hz", 1e9), ("25 uS", "S", 25e-6), ("3 pJ", "J", 3e-12), ("2 Gbit/s", "bit/s", 2e9),
    ("0.5 %", "fraction", 0.005), ("90 %", "fraction", 0.9), (0.9, "fraction", 0.9),
    ("0.5 %", "percent", 0.5), (0.5, "percent", 0.5), ("0.25", "percent", 0.25),
])
def test_quantities_convert_to_the_base_unit(text, unit, value):
    assert to_base_unit(text, unit) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text, unit, expected", [
    ("1 GHz", "s", "wrong dimension (got '1 GHz'; expected a time such as '10 ns'"),
    ("10 ns", "Hz", "wrong dimension (got '10 ns'; expected a frequency such as '1 GHz'"),
    ("3 pJ", "S", "wrong dimension (got '3 pJ'; expected a conductance"),
    ("2 Gbit/s", "J", "wrong dimension (got '2 Gbit/s'; expected an energy"),
    ("5 ms", "fraction", "wrong dimension (got '5 ms'; expected a fraction such as 0.005 or '0.5 %'"),
    ("10 zorks", "s", "unknown unit 'zorks' (got '10 zorks'"),
    ("ten ns", "s", "cannot read this as a quantity (got 'ten ns'"),
    ("2**2**99 s", "s", "cannot read this as a quantity"),
    (True, "s", "wrong type (got True"),
    ([1, 2], "s", "wrong type (got [1, 2]"),
])
def test_wrong_dimensions_and_types_are_named(text, unit, expected):
    with pytest.raises(ValueError) as info:
        to_base_unit(text, unit)
    assert str(info.value).startswith(expected)


def test_frequency_for_a_period_suggests_the_inverse():
    with pytest.raises(ValueError, match=r"did you mean 5e-10 s\?"):
        to_base_unit("2 GHz", "s")


def test_model_fields_accept_units_and_report_the_field():
    assert ChipSpec(clock_period="100 ps").clock_period == pytest.approx(1e-10)
    assert ScenarioSpec(target_accuracy="95 %").target_accuracy == pytest.approx(0.95)
    assert ScenarioSpec(dataset={"name": "digits", "test_fraction": "25 %"}).dataset.test_fraction == 0.25
    with pytest.raises(ValidationError) as info:
        ChipSpec(clock_period="1 GHz")
    err = info.value.errors()[0]
    assert err["loc"] == ("clock_period",) and "expected a time" in err["msg"]


@pytest.mark.parametrize("written, cpi, clock, steps", [
    (10, 1, 1e-9, 10), ("10 steps", 1, 1e-9, 10), ("200 cycles", 1, 1e-9, 200),
    ("200 cycles", 50, 1e-9, 4), ("2 us", 1, 1e-9, 2000), ("2 us", 60, 1e-9, None),
    ("1.2 us", 60, 1e-9, 20), ("1 ns", 5, 0.1e-9, 2), ("3 ns", 1, 1e-9, 3),
])
def test_time_constants_resolve_to_whole_steps(written, cpi, clock, steps):
    fw = FirmwareSpec(tau_x=written)
    if steps is None:
        with pytest.raises(ValueError, match="not a whole number of steps"):
            resolve_time_constant(fw.tau_x, cycles_per_inference=cpi, clock_period=clock)
    else:
        got = resolve_time_constant(fw.tau_x, cycles_per_inference=cpi, clock_period=clock)
        assert got == steps and isinstance(got, int)


def test_full_period_resolves_only_with_a_period():
    assert resolve_time_constant("full_period", cycles_per_inference=1, clock_period=1e-9, full_period=17) == 17
    with pytest.raises(ValueError, match="needs a periodic perturbation code"):
        resolve_time_constant("full_period", cycles_per_inference=1, clock_period=1e-9)


def test_tau_hp_may_be_fractional_but_steps_may_not():
    assert FirmwareSpec(tau_hp=1.6).tau_hp == 1.6
    assert resolve_time_constant("3 cycles", cycles_per_inference=2, clock_period=1e-9, integer=False) == 1.5
    with pytest.raises(ValidationError, match="not a whole number of steps"):
        FirmwareSpec(tau_theta=2.5)
    with pytest.raises(ValidationError, match="wrong dimension"):
        FirmwareSpec(tau_theta="3 pJ")
