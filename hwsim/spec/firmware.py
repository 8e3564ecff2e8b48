"""The firmware spec (``kind: firmware``): the training program the chip runs (MGD mode,
time constants, perturbation, optimiser, schedules, evaluation cadence).

One of the three kind modules split out of ``hwsim.spec.models`` (which re-exports every model:
import from there). Pure schema: the kernel code of a schedule is derived outside, by
``hwsim.firmware.optimizers.schedule_params``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import field_validator, model_validator

from hwsim.spec.base import F, Name, Spec
from hwsim.spec.limits import short
from hwsim.spec.units import FULL_PERIOD, Seconds, time_constant


Scheme = Literal["tdma", "cdma", "walsh", "fdma", "gaussian"]
PERIODIC_SCHEMES = ("tdma", "walsh")

Steps = time_constant(integer=True)
StepsOrPeriod = time_constant(integer=True, symbolic=True)
FloatSteps = time_constant(integer=False)


class PerturbationSpec(Spec):
    """The perturbation generators."""

    scheme: Scheme = F(
        "cdma", unit="-",
        doc="How perturbations are multiplexed: tdma (one parameter at a time, finite "
            "differences), cdma (random +-a codes, SPSA-like), walsh (orthogonal Hadamard codes), "
            "fdma (sinusoids), gaussian (i.i.d. normal).")
    amplitude: float = F(
        0.05, unit="weight units", ge=1e-100, le=1e6,
        doc="Delta-theta: L2 norm (RMS norm for fdma) of the whole perturbation vector; each "
            "entry is about amplitude/sqrt(P). At least 1e-100: the gradient is divided by "
            "amplitude^2, which must not underflow to 0.")
    sparsity: float = F(
        1.0, unit="dimensionless", ge=1.0, le=1e6,
        doc="cdma only: each entry is non-zero with probability 1/sparsity; the non-zero "
            "magnitude grows by sqrt(sparsity) so the expected norm stays `amplitude`.")
    fdma_band: tuple[float, float] = F(
        (0.1, 0.4), unit="cycles per tau_p",
        doc="fdma only: lowest and highest perturbation frequency, both inside (0, 0.5) (Nyquist).")
    target: Literal["weights", "nodes"] = F(
        "weights", unit="-",
        doc="What is perturbed: the weights and biases (weight perturbation, P generators) or each "
            "neuron's pre-activation (node perturbation, one generator per neuron; the weight "
            "gradient is formed locally as node signal x presynaptic activity). The weights and "
            "biases are what is updated either way.")
    node_activity: Literal["faithful", "idealised"] = F(
        "faithful", unit="-",
        doc="Node perturbation: the presynaptic activity a synapse multiplies the node signal by: "
            "the activity it sees during the perturbed inference (faithful, what hardware has) or "
            "the unperturbed activity (idealised).")

    @field_validator("fdma_band")
    @classmethod
    def _band(cls, band):
        lo, hi = band
        if not (0.0 < lo < hi < 0.5):
            raise ValueError(f"out of range (got [{lo}, {hi}]; expected 0 < low < high < 0.5)")
        return band


class OptimizerSpec(Spec):
    """How an update turns the integrated G into a change (MGD's G is a drop-in gradient)."""

    kind: Literal["sgd", "momentum", "nesterov", "adam"] = F(
        "sgd", unit="-",
        doc="sgd: theta -= eta G; momentum: v = beta v + G, theta -= eta v; nesterov: theta -= "
            "eta (G + beta v); adam: Kingma & Ba with bias correction (hwsim.kernels.optim).")
    beta: float = F(0.9, unit="dimensionless", ge=0.0, lt=1.0,
                    doc="Momentum coefficient (momentum, nesterov) or Adam's beta1.")
    beta2: float = F(0.999, unit="dimensionless", ge=0.0, lt=1.0, doc="Adam's beta2.")
    eps: float = F(1e-8, unit="gradient units", gt=0.0, le=1.0, doc="Adam's epsilon.")


class ScheduleSpec(Spec):
    """A value that changes over the run: base x f(t)."""

    kind: Literal["constant", "step", "cosine", "inverse_time"] = F(
        "constant", unit="-",
        doc="constant; step: x gamma every step_size; cosine: from 1 down to min_fraction over "
            "horizon; inverse_time: / (1 + decay t).")
    step_size: float = F(1000.0, unit="clock units", gt=0.0, le=1e15,
                         doc="step: clock units between two decays.")
    gamma: float = F(0.1, unit="dimensionless", gt=0.0, le=1e6, doc="step: factor per decay.")
    decay: float = F(0.0, unit="1/clock unit", ge=0.0, le=1e12, doc="inverse_time: decay rate.")
    min_fraction: float = F(0.0, unit="fraction", ge=0.0, le=1.0, doc="cosine: final fraction of the base.")
    horizon: float | None = F(None, unit="clock units", gt=0.0, le=1e15,
                              doc="cosine: clock units to reach min_fraction (required for cosine).")

    @model_validator(mode="after")
    def _cosine_horizon(self):
        if self.kind == "cosine" and self.horizon is None:
            raise ValueError("a cosine schedule needs a horizon (got none; expected horizon: N)")
        return self


class EvaluationSpec(Spec):
    """When the observer measures test accuracy, and how the target crossing is located.

    The cadence is every_steps unless one chip-time cadence is given (every_cycles,
    every_seconds or points; at most one), which takes precedence over every_steps."""

    every_steps: int = F(
        1000, unit="steps", ge=1, le=10**12,
        doc="The observer measures test accuracy every this many steps (it consumes no chip "
            "time); not used when every_cycles, every_seconds or points is given.")
    every_cycles: int | None = F(
        None, unit="cycles", ge=1, le=10**18,
        doc="Observe in chip time: after the first step that ends at or after each multiple of "
            "this many clock cycles (a slow chip gets as many points as a fast one); null = not "
            "used. Takes precedence over every_steps.")
    every_seconds: Seconds | None = F(
        None, unit="s", gt=0.0, le=1e6,
        doc="Observe every this much chip time ('10 us'), rounded up to whole clock cycles; "
            "null = not used. Takes precedence over every_steps.")
    points: int | None = F(
        None, unit="observations", ge=1, le=10**6,
        doc="Observe about this many times over the run: every max_cycles / points cycles (the "
            "budget given with --max-cycles counts), or, when scenario.max_steps ends the run "
            "first, max_steps x the chip's cycles per step / points; null = not used. Takes "
            "precedence over every_steps.")
    refine_crossing: bool = F(
        True, unit="-",
        doc="When an observation first reaches the target, replay the interval from the previous "
            "observation (runs are deterministic, so the replay is exact) observing more finely, "
            "and report the step at which test accuracy crossed the target; summary.json gives "
            "the resolution (cycles_to_target_resolution). false = the first observation at the "
            "target (resolution: one observation interval). Costs host time only.")
    gradient_angle: bool = F(
        False, unit="-",
        doc="Also record the angle between the integrated MGD estimate and the exact gradient on "
            "the current sample at each evaluation (costs host time only).")

    @model_validator(mode="after")
    def _one_chip_time_cadence(self):
        given = [name for name in CHIP_TIME_CADENCES if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"more than one chip-time cadence (got {' and '.join(given)}; expected at most "
                             "one of every_cycles, every_seconds, points): keep one, or set the others "
                             "to null")
        return self


#: The chip-time observation cadences of EvaluationSpec (any one replaces every_steps).
CHIP_TIME_CADENCES = ("every_cycles", "every_seconds", "points")


_TAU = ("Write steps (10), clock cycles ('200 cycles') or time ('2 us'); the resolved spec "
        "holds whole steps, one step being one perturbed inference")


class FirmwareSpec(Spec):
    """The training program: MGD mode, time constants, learning rate, normalisation."""

    kind: Literal["firmware"] = F("firmware", unit="-", doc="Marks this file as a firmware spec.")
    name: Name = F("unnamed_firmware", unit="-", doc="Short identifier of the firmware preset.",
                  min_length=1, max_length=200)
    description: str = F("", unit="-", doc="One line on what this firmware does.", max_length=2000)
    algorithm: Literal["mgd", "backprop"] = F(
        "mgd", unit="-",
        doc="mgd: the chip trains itself with multiplexed gradient descent (SPSA and finite "
            "differences are MGD with particular codes and time constants); backprop: the "
            "software baseline, exact backpropagation on the same network, initial weights and "
            "data order, with eta, optimizer and learning_rate_schedule, a mini-batch of "
            "tau_theta / tau_x samples and the number of samples the MGD run would see in the "
            "scenario's budget (no chip time: cycles are not reported).")
    mode: Literal["discrete", "analog"] = F(
        "discrete", unit="-",
        doc="discrete: C~ = C - C0 with a re-measured baseline, accumulate-and-reset integrators "
            "and an update every tau_theta; analog: high-passed cost, leaky integrators and a "
            "small update every step.")
    perturbation: PerturbationSpec = F(default_factory=PerturbationSpec, unit="-",
                                       doc="The perturbation generators.")
    tau_p: Steps = F(
        1, unit="steps",
        doc=f"How long each perturbation value is held. {_TAU}; range 1 to 1e12 steps.")
    tau_x: StepsOrPeriod = F(
        1, unit="steps",
        doc=f"How long each training sample is presented (input bandwidth). {_TAU}; "
            f"'{FULL_PERIOD}' holds it for one period of a tdma/walsh code; range 1 to 1e12 steps.")
    tau_theta: StepsOrPeriod = F(
        1, unit="steps",
        doc=f"discrete: time integrated between weight updates; analog: time constant of the "
            f"leaky integrator. {_TAU}; '{FULL_PERIOD}' is one period of a tdma/walsh code "
            f"(P*tau_p for tdma, finite differences); range 1 to 1e15 steps.")
    tau_hp: FloatSteps = F(
        1.6, unit="steps",
        doc="analog only: time constant of the cost high-pass filter; steps, cycles or time, "
            "need not be whole; range (0, 1e12] steps.")
    eta: float = F(1.0, unit="dimensionless", ge=0.0, allow_inf_nan=False,
                   doc="Learning rate: theta <- theta - eta * G_int.")
    normalisation: Literal["vector_norm", "per_parameter_variance"] = F(
        "vector_norm", unit="-",
        doc="vector_norm: G = C~ theta~ / amplitude^2 as in the reference code (so E[G_int after "
            "T steps] = (T/P) grad C); per_parameter_variance: paper 2's G = (1/tau_theta) sum "
            "C~ theta~ / sigma^2 with sigma^2 = amplitude^2/P (an unbiased gradient at each update).")
    cost_change_clip: float = F(
        math.inf, unit="cost units", gt=0.0,
        doc="C~ is clamped to +-this value before it multiplies the perturbation ('inf' disables).")
    optimizer: OptimizerSpec = F(default_factory=OptimizerSpec, unit="-",
                                 doc="The optimiser applied at each update.")
    learning_rate_schedule: ScheduleSpec = F(
        default_factory=ScheduleSpec, unit="-",
        doc="eta over the run; its clock counts updates (0 at the first).")
    amplitude_schedule: ScheduleSpec = F(
        default_factory=ScheduleSpec, unit="-",
        doc="The perturbation amplitude over the run (base = perturbation.amplitude); its clock "
            "counts perturbation indices (steps / tau_p).")
    evaluation: EvaluationSpec = F(default_factory=EvaluationSpec, unit="-",
                                   doc="When the observer measures test accuracy.")

    @field_validator("tau_p", "tau_x", "tau_theta", "tau_hp")
    @classmethod
    def _tau_range(cls, value, info):
        return check_tau_range(info.field_name, value)

    def resolved_steps(self) -> bool:
        """True when every time constant is a number of steps (no cycles, time or symbol left)."""
        return all(isinstance(getattr(self, f), (int, float)) for f in TIME_CONSTANTS)


TIME_CONSTANTS = ("tau_p", "tau_x", "tau_theta", "tau_hp")


def check_tau_range(name: str, value):
    """Range of a time constant once it is a number of steps (strings are checked when resolved)."""
    if isinstance(value, (int, float)):
        top = 10**15 if name == "tau_theta" else 10**12
        if name == "tau_hp":
            if not 0 < value <= top:
                raise ValueError(f"out of range (got {short(value)} steps; expected 0 < {name} <= {top:g} steps)")
        elif not 1 <= value <= top:
            raise ValueError(f"out of range (got {short(value)} steps; expected 1 <= {name} <= {top:g} steps)")
    return value
