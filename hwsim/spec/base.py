"""The base of every spec block: ``Spec`` (unknown keys are errors, values are checked on
assignment), ``F(default, unit=, doc=)`` (a field with its unit and one sentence of physics,
which ``hwsim schema`` prints) and the ``Name`` type shared by the three kinds.

Kept apart from the three kind modules (chip, firmware, scenario) so that each imports only
this and ``hwsim.spec.units``; import models from ``hwsim.spec.models``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hwsim.spec.limits import short


class Spec(BaseModel):
    """Base for every spec block: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def F(default: Any = ..., *, unit: str, doc: str, **kw) -> Any:
    """A field with its default, unit and one sentence of physics (shown by ``hwsim schema``).

    ``unit`` is the base unit a plain number is read in ("s", "cycles", "steps", "fraction",
    "cost units", ...), or "-" for text, choices and switches.
    """
    text = doc if unit == "-" else f"{doc} Unit: {unit}."
    return Field(default, description=text, json_schema_extra={"x-unit": unit}, **kw)


def _usable_name(value: str) -> str:
    """A preset or scenario name that is safe as (part of) a folder name under runs/."""
    bad = sorted({c for c in value if c in "/\\" or ord(c) < 32 or 0x7f <= ord(c) < 0xa0})
    if bad or value.strip() in (".", "..") or len(value.encode("utf-8", "surrogatepass")) > 200:
        why = (f"contains {', '.join(repr(c) for c in bad)}" if bad else
               "is '.' or '..'" if value.strip() in (".", "..") else "is longer than 200 bytes")
        raise ValueError(f"not a usable name: it {why} (got {short(value)}; expected letters, digits, "
                         "spaces and punctuation other than / and \\, no control characters, not '.' "
                         "or '..': the name becomes a folder name under runs/)")
    return value


#: A name that becomes part of a folder or file name (runs/<scenario name>-..., tuned presets).
Name = Annotated[str, AfterValidator(_usable_name)]


#: Smallest full scale of a converter or integrator: its step, range / (2^bits - 1) with up
#: to 64 bits, stays a normal float the kernels can divide by.
MIN_RANGE = 1e-100
