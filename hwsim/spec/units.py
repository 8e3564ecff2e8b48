"""Physical quantities in specs: "10 ns", "1 GHz", "0.5 %" -> floats in the documented base unit.

Each quantity field is annotated with the base unit it is stored in; strings with units are
parsed by pint and converted at load time, plain numbers are taken as already in the base
unit. A wrong dimension ("1 GHz" where a time is expected) is a ValueError whose text names
the expected dimension, so pydantic reports it at the field's location.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


@functools.lru_cache(maxsize=1)
def _registry():
    # Built once per process on first use; a read-only lookup table, not run state.
    import pint

    ureg = pint.UnitRegistry()
    ureg.define("percent = 0.01 = %")
    ureg.define("cycle = [cycles]")
    return ureg


_DIMENSION_NAMES = {
    "s": "a time (e.g. '10 ns')",
    "Hz": "a frequency (e.g. '1 GHz')",
    "J": "an energy (e.g. '3 pJ')",
    "S": "a conductance (e.g. '25 uS')",
    "bit/s": "a bit rate (e.g. '2 Gbit/s')",
    "dimensionless": "a plain number or a percentage (e.g. 0.005 or '0.5 %')",
}


def to_base_unit(value: Any, unit: str) -> float:
    """Convert ``value`` (number, or string with a unit) to a float in ``unit``."""
    if isinstance(value, bool):
        raise ValueError(f"expected {_DIMENSION_NAMES.get(unit, unit)}, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {_DIMENSION_NAMES.get(unit, unit)}, got {type(value).__name__}")
    text = value.strip()
    if text.lower() in {"inf", "+inf", "infinity", ".inf"}:
        return math.inf
    ureg = _registry()
    try:
        q = ureg.Quantity(text)
    except Exception:
        raise ValueError(
            f"cannot read {value!r} as a quantity; expected {_DIMENSION_NAMES.get(unit, unit)}"
        ) from None
    target = ureg.dimensionless if unit == "dimensionless" else ureg(unit)
    try:
        return float(q.to(target).magnitude)
    except Exception:
        raise ValueError(
            f"{value!r} has the wrong dimension; expected {_DIMENSION_NAMES.get(unit, unit)} "
            f"in {unit}"
        ) from None


def quantity(unit: str):
    """A float type stored in ``unit`` that accepts numbers or strings with units."""
    return Annotated[
        float,
        BeforeValidator(functools.partial(to_base_unit, unit=unit)),
        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}], "x-unit": unit}),
    ]


Seconds = quantity("s")
Hertz = quantity("Hz")
Joules = quantity("J")
Fraction = quantity("dimensionless")
