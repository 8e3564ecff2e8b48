"""Typed specs for the three kinds of YAML: chip (the hardware), firmware (the training
program the chip runs) and scenario (the workload). Every field carries a default, its unit
(in the description or as ``x-unit`` in the JSON Schema), an allowed range and one sentence
of physics; ``hwsim schema`` prints exactly this text.

This module is the one import point of the models: they are written in one module per kind,
``hwsim.spec.chip``, ``hwsim.spec.firmware`` and ``hwsim.spec.scenario``, on the shared base of
``hwsim.spec.base`` (``Spec``, ``F``, ``Name``), and re-exported here, so that
``from hwsim.spec.models import X`` is the way to name any of them. The models are pure schema:
what a spec implies for the simulator is derived outside the spec layer by small pure functions
(``hwsim.network.layout.scenario_layout``, ``hwsim.firmware.optimizers.schedule_params``,
``hwsim.chip.devices``).
"""

from __future__ import annotations

from hwsim.spec.base import MIN_RANGE, F, Name, Spec
from hwsim.spec.chip import (ArraySpec, Broadcast, ChipSpec, ConductanceSpec, CostUnit, DeviceSpec,
                             DeviceVariation, DriftSpec, EnergyTable, InferenceTiming, InputPath,
                             IntegratorSpec, NeuronSpec, PerturbationCircuit, ReadNoise, StuckDevices,
                             UpdateController)
from hwsim.spec.firmware import (CHIP_TIME_CADENCES, PERIODIC_SCHEMES, TIME_CONSTANTS, EvaluationSpec,
                                 FirmwareSpec, FloatSteps, OptimizerSpec, PerturbationSpec, ScheduleSpec,
                                 Scheme, Steps, StepsOrPeriod, check_tau_range)
from hwsim.spec.scenario import (DATASETS, ActivationName, Cifar10Data, ConvLayer, DatasetSpec,
                                 DenseLayer, DigitsData, FashionMnistData, FlattenLayer, InitSpec,
                                 LayerSpec, MaxPoolLayer, Mnist1dData, MnistData, NetworkSpec,
                                 ObservationSpec, ParityData, ScenarioSpec, TeacherData)

#: The model of each kind of YAML (the value of its ``kind:`` key).
KINDS = {"chip": ChipSpec, "firmware": FirmwareSpec, "scenario": ScenarioSpec}

__all__ = [
    "MIN_RANGE", "F", "Name", "Spec",
    "ArraySpec", "Broadcast", "ChipSpec", "ConductanceSpec", "CostUnit", "DeviceSpec", "DeviceVariation",
    "DriftSpec", "EnergyTable", "InferenceTiming", "InputPath", "IntegratorSpec", "NeuronSpec",
    "PerturbationCircuit", "ReadNoise", "StuckDevices", "UpdateController",
    "CHIP_TIME_CADENCES", "PERIODIC_SCHEMES", "TIME_CONSTANTS", "EvaluationSpec", "FirmwareSpec",
    "FloatSteps", "OptimizerSpec", "PerturbationSpec", "ScheduleSpec", "Scheme", "Steps",
    "StepsOrPeriod", "check_tau_range",
    "DATASETS", "ActivationName", "Cifar10Data", "ConvLayer", "DatasetSpec", "DenseLayer", "DigitsData",
    "FashionMnistData", "FlattenLayer", "InitSpec", "LayerSpec", "MaxPoolLayer", "Mnist1dData",
    "MnistData", "NetworkSpec", "ObservationSpec", "ParityData", "ScenarioSpec", "TeacherData",
    "KINDS",
]
