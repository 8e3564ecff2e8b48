"""Physical quantities in specs: "10 ns", "1 GHz", "0.5 %" -> floats in the documented base unit.

Each quantity field is annotated with the base unit it is stored in; strings with units are
parsed by pint and converted at load time, plain numbers (and numeric strings such as
"1e-9", which YAML leaves as text) are taken as already in the base unit. A wrong dimension
("1 GHz" where a time is expected) is a ValueError whose text names the expected dimension,
so pydantic reports it at the field's location.

Firmware time constants (tau_p, tau_x, tau_theta, tau_hp) are special: they may be written
in steps (a plain integer or "4 steps"), in chip clock cycles ("200 cycles") or in physical
time ("2 us"). Until a chip is known they stay as written (normalised); the loader turns them
into whole steps with :func:`resolve_time_constant`.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, WithJsonSchema

from hwsim.spec.limits import short

# A number, then an optional unit expression made of names, digits, '/', '*', '^', '.', '%'.
# Checked before pint sees the text, so no expression can make pint compute something huge.
_QUANTITY = re.compile(
    r"^\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?)\s*"
    r"(?P<unit>[A-Za-z%µμΩ][A-Za-z0-9%µμΩ_/*^. ]{0,40})?\s*$")
_INF = {"inf", "+inf", "infinity", ".inf", "+.inf"}


@functools.lru_cache(maxsize=1)
def _registry():
    # Built once per process on first use; a read-only lookup table, not run state.
    import pint

    return pint.UnitRegistry()


DIMENSIONS = {
    "s": ("a time", "'10 ns'"),
    "Hz": ("a frequency", "'1 GHz'"),
    "J": ("an energy", "'3 pJ'"),
    "S": ("a conductance", "'25 uS'"),
    "bit/s": ("a bit rate", "'2 Gbit/s'"),
    "fraction": ("a fraction", "0.005 or '0.5 %'"),
    "percent": ("a percentage", "0.5 (meaning 0.5 %) or '0.5 %'"),
}
_RECIPROCAL = {"s": "Hz", "Hz": "s"}


def _expected(unit: str) -> str:
    name, example = DIMENSIONS.get(unit, (f"a quantity in {unit}", f"'1 {unit}'"))
    return f"{name} such as {example}, or a plain number in {unit}"


def _fail(value: Any, what: str, unit: str, hint: str = "") -> ValueError:
    return ValueError(f"{what} (got {short(value)}; expected {_expected(unit)}){hint}")


def _pint_unit(text: str, value: Any, unit: str):
    try:
        return _registry().parse_units(text.strip())
    except Exception:
        raise _fail(value, f"unknown unit {text.strip()!r}", unit) from None


def to_base_unit(value: Any, unit: str) -> float:
    """Convert ``value`` (number, or string with a unit) to a float in ``unit``.

    ``unit`` is a pint unit ("s", "Hz", "J", "S", "bit/s") or "fraction" (a dimensionless
    share: 0.5 % -> 0.005) or "percent" (stored in percent: 0.5 % -> 0.5, plain 0.5 -> 0.5).
    """
    if isinstance(value, bool):
        raise _fail(value, "wrong type", unit)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:        # an integer beyond any float
            raise _fail(value, "out of range: too large for a number", unit) from None
    if not isinstance(value, str):
        raise _fail(value, "wrong type", unit)
    text = value.strip()
    if text.lower() in _INF:
        return math.inf
    m = _QUANTITY.match(text)
    if not m:
        raise _fail(value, "cannot read this as a quantity", unit)
    number = float(m.group("num"))
    if not math.isfinite(number):
        raise _fail(value, "out of range: too large for a number", unit,
                    "; write 'inf' where the field means infinity")
    if not m.group("unit"):
        return number
    converted = _convert(value, number, m.group("unit"), unit)
    # A conversion that leaves the floats (1e300 s in ns, 1e-320 s in Ts) is refused, not
    # read as infinity or zero.
    if not math.isfinite(converted) or (converted == 0.0 and number != 0.0):
        raise _fail(value, "out of range: too large or too small once converted", unit)
    return converted


@functools.lru_cache(maxsize=4096)
def _convert(value: str, number: float, unit_text: str, unit: str) -> float:
    """``number`` in ``unit_text`` converted to ``unit`` (ValueError naming the dimension).
    Memoised: pint takes milliseconds, and a sweep converts the same '1 ns' at every point."""
    given = _pint_unit(unit_text, value, unit)
    ureg = _registry()
    if unit in ("fraction", "percent"):
        target = ureg.dimensionless if unit == "fraction" else ureg.percent
    else:
        target = ureg.parse_units(unit)
    try:
        # Rounded to 15 significant digits so "0.1 ns" is 1e-10, not 1.0000000000000002e-10.
        return float(f"{float(ureg.Quantity(number, given).to(target).magnitude):.15g}")
    except Exception:
        hint = ""
        other = _RECIPROCAL.get(unit)
        if other is not None:
            try:
                inv = 1.0 / ureg.Quantity(number, given).to(ureg.parse_units(other)).magnitude
                hint = f"; a {DIMENSIONS[other][0][2:]} was given: did you mean {inv:g} {unit}?"
            except Exception:
                hint = ""
        raise _fail(value, "wrong dimension", unit, hint) from None


def quantity(unit: str, json_unit: str | None = None):
    """A float type stored in ``unit`` that accepts numbers or strings with units."""
    return Annotated[
        float,
        BeforeValidator(functools.partial(to_base_unit, unit=unit)),
        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}],
                        "x-unit": json_unit or unit}),
    ]


Seconds = quantity("s")
Hertz = quantity("Hz")
Joules = quantity("J")
Siemens = quantity("S")
BitsPerSecond = quantity("bit/s")
Fraction = quantity("fraction")     # 0.9 or "90 %" -> 0.9
Percent = quantity("percent")       # 0.5 or "0.5 %" -> 0.5 (stored in percent)


# --------------------------------------------------------------------------- time constants

FULL_PERIOD = "full_period"
#: Largest time constant in clock cycles: 10**15 steps (tau_theta's bound) of up to 10**9
#: cycles each, so every resolved value stays a finite float and fits the kernels' int64.
MAX_TIME_CONSTANT_CYCLES = 1e24
_TC = re.compile(r"^\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?)\s*"
                 r"(?P<unit>steps?|cycles?)?\s*$")
_TC_EXPECTED = ("a whole number of steps such as 10, a number of clock cycles such as "
                "'200 cycles', or a time such as '2 us'")


def _time_constant(value: Any, integer: bool, symbolic: bool) -> int | float | str:
    """Normalise a time constant written in steps, cycles or seconds (not yet resolved)."""
    expected = _TC_EXPECTED if integer else _TC_EXPECTED.replace("a whole number", "a number")
    if symbolic:
        expected += f", or {FULL_PERIOD!r} (one whole period of a tdma/walsh code)"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"wrong type (got {short(value)}; expected {expected})")
    if isinstance(value, str):
        text = value.strip()
        if text == FULL_PERIOD and symbolic:
            return FULL_PERIOD
        m = _TC.match(text)
        if m is None:
            m2 = _QUANTITY.match(text)
            if m2 is None or not m2.group("unit"):
                raise ValueError(f"cannot read this as a time constant (got {short(value)}; expected {expected})"
                                 + _suggest_symbol(text, symbolic))
            try:
                seconds = to_base_unit(text, "s")
            except ValueError as exc:
                what = "out of range" if str(exc).startswith("out of range") else "wrong dimension"
                raise ValueError(f"{what} (got {short(value)}; expected {expected})") from None
            if not seconds > 0:
                raise ValueError(f"out of range (got {short(value)}; expected a positive time)")
            return " ".join(text.split())
        number = float(m.group("num"))
        if (m.group("unit") or "step").startswith("cycle"):
            if not 0 < number <= MAX_TIME_CONSTANT_CYCLES:
                raise ValueError(f"out of range (got {short(value)}; expected a positive number of cycles "
                                 f"up to {MAX_TIME_CONSTANT_CYCLES:.0e})")
            if number != int(number):
                raise ValueError(f"not a whole number of cycles (got {short(value)}; expected {expected})")
            return f"{int(number)} cycles"
        value = number
    # Beyond any bound (the largest is 10**15 steps), and an int this large has no float.
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) > MAX_TIME_CONSTANT_CYCLES:
        raise ValueError(f"out of range (got {short(value)}; expected {expected})")
    if integer:
        if value != int(value):
            raise ValueError(f"not a whole number of steps (got {short(value)}; expected {expected})")
        return int(value)
    return float(value)


def _suggest_symbol(text: str, symbolic: bool) -> str:
    if not symbolic:
        return ""
    from hwsim.spec.errors import did_you_mean

    return did_you_mean(text, [FULL_PERIOD])


def time_constant(integer: bool = True, symbolic: bool = False):
    """Type of a firmware time constant: steps, '200 cycles', '2 us' (and 'full_period')."""
    base = int if integer else float
    return Annotated[
        Union[base, str],
        BeforeValidator(functools.partial(_time_constant, integer=integer, symbolic=symbolic)),
        WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1} if integer else
                                  {"type": "number", "exclusiveMinimum": 0}, {"type": "string"}],
                        "x-unit": "steps"}),
    ]


def resolve_time_constant(value: int | float | str, *, cycles_per_inference: int, clock_period: float,
                          full_period: int | None = None, integer: bool = True) -> int | float:
    """Steps from a normalised time constant; ValueError when it is not a whole number of steps.

    One step is one perturbed inference: ``cycles_per_inference`` clock cycles of
    ``clock_period`` seconds. ``full_period`` is the perturbation code's period in steps.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if integer else float(value)
    if value == FULL_PERIOD:
        if full_period is None:
            raise ValueError("'full_period' needs a periodic perturbation code (got a scheme without "
                             "a period; expected perturbation.scheme tdma or walsh, or a number of steps)")
        return int(full_period)
    number, _, unit = value.partition(" ")
    if not unit.startswith("cycle"):
        cycles = to_base_unit(value, "s") / clock_period
        if not cycles <= MAX_TIME_CONSTANT_CYCLES:
            raise ValueError(f"out of range (got {short(value)} = {cycles:.3g} cycles of {clock_period:g} s; "
                             f"expected at most {MAX_TIME_CONSTANT_CYCLES:.0e} cycles)")
        whole = round(cycles)
        if whole < 1 or abs(cycles - whole) > 1e-6 * max(1.0, cycles):
            raise ValueError(f"not a whole number of clock cycles (got {short(value)} = {cycles:.6g} cycles of "
                             f"{clock_period:g} s; expected a multiple of the clock period)")
        cycles = whole
    else:
        cycles = int(number)
    steps = cycles / cycles_per_inference
    if not integer:
        return steps
    if steps != int(steps) or steps < 1:
        raise ValueError(f"not a whole number of steps (got {short(value)} = {cycles} cycles = {steps:.6g} steps "
                         f"of {cycles_per_inference} cycles; expected a multiple of one step on this chip "
                         f"and network: chip.inference.initiation_interval when pipelined, else the tile "
                         f"model's latency when array.tile_latency is set, else cycles_per_inference)")
    return int(steps)
