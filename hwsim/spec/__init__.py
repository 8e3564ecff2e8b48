"""YAML -> typed specs: schemas, units, presets, errors and the resolved dump.

This package is the spec layer only (stage 1 of loading a run): it imports nothing from the
model (hwsim.chip, hwsim.network, ...). Loading a scenario into a validated RunSpec, which
needs the chip's timing and the network layout, is hwsim.run_plan's (hwsim.load_scenario).
"""

from hwsim.spec.errors import Problem, SpecError
from hwsim.spec.loader import ValidatedSpecs, parse_set_options, read_run
from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

__all__ = ["ChipSpec", "FirmwareSpec", "Problem", "ScenarioSpec", "SpecError", "ValidatedSpecs",
           "parse_set_options", "read_run"]
