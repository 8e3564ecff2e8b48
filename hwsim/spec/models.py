"""Typed specs for the three kinds of YAML: chip (the hardware), firmware (the training
program the chip runs) and scenario (the workload). Every field carries a default, its unit
(in the description or as ``x-unit`` in the JSON Schema), an allowed range and one sentence
of physics; ``hwsim schema`` prints exactly this text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hwsim.spec.units import Seconds


class Spec(BaseModel):
    """Base for every spec block: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# --------------------------------------------------------------------------- chip


class InferenceTiming(Spec):
    cycles_per_inference: int = Field(
        1, ge=1, le=10**9,
        description="Clock cycles for one full-network inference (perturbed or not), input "
                    "present to cost available. Unit: cycles.")
    baseline_cycles: int = Field(
        0, ge=0, le=10**9,
        description="Extra cycles to measure the unperturbed baseline cost C0 in discrete mode; "
                    "0 means a twin inference path measures it in parallel at no time cost. "
                    "Unit: cycles.")


class CostUnit(Spec):
    noise_sigma: float = Field(
        0.0, ge=0.0,
        description="Standard deviation of additive Gaussian noise on every cost measurement "
                    "(analog read-out noise of the cost circuit). Unit: cost units.")
    baseline_noisy: bool = Field(
        True,
        description="Whether the baseline C0 is measured through the same noisy cost path as the "
                    "perturbed cost (true on a real chip; the MGD reference code assumes false).")


class ChipSpec(Spec):
    """The hardware: clock, inference timing and the cost unit."""

    kind: Literal["chip"] = Field("chip", description="Marks this file as a chip spec.")
    name: str = Field("unnamed_chip", description="Short identifier of the chip preset.")
    description: str = Field("", description="One line on what this chip models.")
    clock_period: Seconds = Field(
        1e-9, gt=0, le=1.0,
        description="Period of the chip clock; turns cycles into seconds. Unit: s "
                    "(accepts '1 ns' or a frequency is rejected).")
    inference: InferenceTiming = Field(default_factory=InferenceTiming,
                                       description="Timing of the inference datapath.")
    cost_unit: CostUnit = Field(default_factory=CostUnit,
                                description="The circuit that measures the scalar cost.")


# --------------------------------------------------------------------------- firmware

Scheme = Literal["tdma", "cdma", "walsh", "fdma", "gaussian"]


class PerturbationSpec(Spec):
    scheme: Scheme = Field(
        "cdma",
        description="How perturbations are multiplexed: tdma (one parameter at a time), cdma "
                    "(random +-a codes), walsh (orthogonal Hadamard codes), fdma (sinusoids), "
                    "gaussian (i.i.d. normal).")
    amplitude: float = Field(
        0.05, gt=0.0, le=1e6,
        description="Delta-theta: L2 norm (RMS norm for fdma) of the whole perturbation vector; "
                    "each entry is about amplitude/sqrt(P). Unit: weight units.")
    sparsity: float = Field(
        1.0, ge=1.0, le=1e6,
        description="cdma only: each entry is non-zero with probability 1/sparsity; the non-zero "
                    "magnitude grows by sqrt(sparsity) so the expected norm stays `amplitude`. "
                    "Unit: dimensionless.")
    fdma_band: tuple[float, float] = Field(
        (0.1, 0.4),
        description="fdma only: lowest and highest perturbation frequency, in cycles per "
                    "perturbation period tau_p; both inside (0, 0.5) (Nyquist).")

    @model_validator(mode="after")
    def _band(self):
        lo, hi = self.fdma_band
        if not (0.0 < lo < hi < 0.5):
            raise ValueError(f"fdma_band must satisfy 0 < low < high < 0.5 (got [{lo}, {hi}])")
        return self


class EvaluationSpec(Spec):
    every_steps: int = Field(
        1000, ge=1, le=10**12,
        description="The observer measures test accuracy every this many steps (it consumes no "
                    "chip time); time to target is resolved to this interval. Unit: steps.")
    gradient_angle: bool = Field(
        False,
        description="Also record the angle between the integrated MGD estimate and the exact "
                    "gradient on the current sample at each evaluation (costs host time only).")


class FirmwareSpec(Spec):
    """The training program: MGD mode, time constants, learning rate, normalisation."""

    kind: Literal["firmware"] = Field("firmware", description="Marks this file as a firmware spec.")
    name: str = Field("unnamed_firmware", description="Short identifier of the firmware preset.")
    description: str = Field("", description="One line on what this firmware does.")
    algorithm: Literal["mgd"] = Field("mgd", description="Training algorithm run on the chip.")
    mode: Literal["discrete", "analog"] = Field(
        "discrete",
        description="discrete: C~ = C - C0 with a re-measured baseline, accumulate-and-reset "
                    "integrators and an update every tau_theta; analog: high-passed cost, leaky "
                    "integrators and a small update every step.")
    perturbation: PerturbationSpec = Field(default_factory=PerturbationSpec,
                                           description="The perturbation generators.")
    tau_p: int = Field(1, ge=1, le=10**12,
                       description="Steps each perturbation value is held. Unit: steps.")
    tau_x: int = Field(1, ge=1, le=10**12,
                       description="Steps each training sample is presented (input bandwidth). "
                                   "Unit: steps.")
    tau_theta: int = Field(
        1, ge=1, le=10**15,
        description="discrete: steps integrated between weight updates; analog: time constant of "
                    "the leaky integrator. Unit: steps.")
    tau_hp: float = Field(1.6, gt=0.0, le=1e12,
                          description="analog only: time constant of the cost high-pass filter. "
                                      "Unit: steps.")
    eta: float = Field(1.0, ge=0.0, le=1e12,
                       description="Learning rate: theta <- theta - eta * G_int. Unit: dimensionless.")
    normalisation: Literal["vector_norm", "per_parameter_variance"] = Field(
        "vector_norm",
        description="vector_norm: G = C~ theta~ / amplitude^2 as in the reference code (so "
                    "E[G_int after T steps] = (T/P) grad C); per_parameter_variance: paper 2's "
                    "G = (1/tau_theta) sum C~ theta~ / sigma^2 with sigma^2 = amplitude^2/P "
                    "(an unbiased gradient at each update).")
    cost_change_clip: float = Field(
        math.inf, gt=0.0,
        description="C~ is clamped to +-this value before it multiplies the perturbation. "
                    "Unit: cost units ('inf' disables).")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec,
                                       description="When the observer measures test accuracy.")


# --------------------------------------------------------------------------- scenario


class DigitsData(Spec):
    name: Literal["digits"] = Field(description="scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes).")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0,
                                 description="Share of samples held out for testing (seeded split).")


class ParityData(Spec):
    name: Literal["parity"] = Field(description="All 2^n binary vectors labelled with their parity.")
    n_bits: int = Field(2, ge=1, le=16, description="Number of input bits n (n = 2 is XOR).")


class TeacherData(Spec):
    name: Literal["teacher"] = Field(description="Synthetic teacher-student regression: targets "
                                                 "from a fixed random tanh network.")
    n_samples: int = Field(1024, ge=2, le=10**7, description="Number of samples generated.")
    n_inputs: int = Field(8, ge=1, le=10**5, description="Input dimension.")
    n_outputs: int = Field(2, ge=1, le=10**4, description="Output dimension.")
    teacher_hidden: int = Field(16, ge=1, le=10**4, description="Hidden width of the teacher.")
    noise_sigma: float = Field(0.0, ge=0.0, description="Gaussian noise added to the targets.")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0,
                                 description="Share of samples held out for testing (seeded split).")


DatasetSpec = Annotated[Union[DigitsData, ParityData, TeacherData], Field(discriminator="name")]


class InitSpec(Spec):
    distribution: Literal["uniform", "normal", "glorot_uniform"] = Field(
        "glorot_uniform", description="Distribution of the initial weights and biases.")
    low: float = Field(-0.5, description="uniform only: lower bound.")
    high: float = Field(0.5, description="uniform only: upper bound.")
    std: float = Field(0.1, gt=0.0, description="normal only: standard deviation.")

    @model_validator(mode="after")
    def _bounds(self):
        if self.distribution == "uniform" and not self.low < self.high:
            raise ValueError(f"low must be below high (got low={self.low}, high={self.high})")
        return self


class NetworkSpec(Spec):
    hidden: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [32],
        description="Widths of the hidden layers; input and output sizes come from the data set.")
    activation: Literal["sigmoid", "tanh", "relu"] = Field(
        "sigmoid", description="Activation of every hidden neuron.")
    output_activation: Literal["linear", "sigmoid"] = Field(
        "linear", description="Activation of the output neurons (cross_entropy applies softmax itself).")
    init: InitSpec = Field(default_factory=InitSpec, description="Initial weights.")


class ScenarioSpec(Spec):
    """The workload: data set, network, cost, target, budget, and which chip and firmware."""

    kind: Literal["scenario"] = Field("scenario", description="Marks this file as a scenario spec.")
    name: str = Field("unnamed_scenario", description="Short identifier of the scenario.")
    description: str = Field("", description="The question this scenario asks.")
    chip: str = Field("ideal_digital", description="Chip preset name (in chips/) or path to a chip YAML.")
    firmware: str = Field("mgd_discrete",
                          description="Firmware preset name (in firmware_models/) or path.")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted paths set on the resolved specs, e.g. {'firmware.eta': 0.5}.")
    dataset: DatasetSpec = Field(description="The training and test data.")
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="The network on the chip.")
    cost: Literal["mse", "cross_entropy"] = Field(
        "mse", description="mse: mean over outputs of (y - target)^2 on one-hot targets; "
                           "cross_entropy: softmax cross-entropy.")
    accuracy: Literal["argmax", "threshold", "r2"] = Field(
        "argmax", description="argmax: predicted class = largest output; threshold: outputs and "
                              "targets compared at 0.5 (parity); r2: coefficient of determination "
                              "on the test set, floored at 0 (regression, the teacher data set).")
    target_accuracy: float = Field(0.9, gt=0.0, le=1.0,
                                   description="Test accuracy that counts as trained. Unit: fraction.")
    max_cycles: int = Field(1_000_000, ge=1, le=10**15,
                            description="Cycle budget: the run stops here if the target is not reached.")
    stop_at_target: bool = Field(True, description="Stop the run at the first evaluation that "
                                                   "reaches the target (else run the whole budget).")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Root of the run's seed tree.")


KINDS = {"chip": ChipSpec, "firmware": FirmwareSpec, "scenario": ScenarioSpec}
