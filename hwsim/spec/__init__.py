"""YAML -> typed specs: schemas, units, presets, errors and the resolved dump."""

from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.loader import RunSpec, load_scenario, load_spec, parse_set_options
from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

__all__ = ["ChipSpec", "FirmwareSpec", "Problem", "RunSpec", "ScenarioSpec", "SpecError",
           "load_scenario", "load_spec", "parse_set_options"]
