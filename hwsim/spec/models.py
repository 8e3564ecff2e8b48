"""Typed specs for the three kinds of YAML: chip (the hardware), firmware (the training
program the chip runs) and scenario (the workload). Every field carries a default, its unit
(in the description or as ``x-unit`` in the JSON Schema), an allowed range and one sentence
of physics; ``hwsim schema`` prints exactly this text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from hwsim.spec.limits import short
from hwsim.spec.units import FULL_PERIOD, Fraction, Joules, Seconds, Siemens, time_constant


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


# --------------------------------------------------------------------------- chip


class InferenceTiming(Spec):
    """Timing of the inference datapath."""

    cycles_per_inference: int = F(
        1, unit="cycles", ge=1, le=10**9,
        doc="Clock cycles for one full-network inference (perturbed or not), from input present "
            "to cost available; one firmware step takes this long.")
    baseline_cycles: int = F(
        0, unit="cycles", ge=0, le=10**9,
        doc="Extra cycles to measure the unperturbed baseline cost C0 in discrete mode; 0 means "
            "a twin inference path measures it in parallel at no time cost.")
    initiation_interval: int | None = F(
        None, unit="cycles", ge=1, le=10**9,
        doc="Cycles between the starts of two inferences when the layers are pipelined; null = "
            "no pipelining (one inference at a time: cycles_per_inference). One step takes this long.")

    @model_validator(mode="after")
    def _interval(self):
        if self.initiation_interval is not None and self.initiation_interval > self.cycles_per_inference:
            raise ValueError(f"initiation_interval ({self.initiation_interval}) cannot exceed "
                             f"cycles_per_inference ({self.cycles_per_inference})")
        return self

    @property
    def step_cycles(self) -> int:
        """Cycles one step (one perturbed inference) occupies the chip."""
        return self.initiation_interval or self.cycles_per_inference


class InputPath(Spec):
    """How training samples reach the chip."""

    values_per_cycle: float | None = F(
        None, unit="values/cycle", gt=0.0, le=1e9,
        doc="Input bandwidth in values per cycle; null = unlimited (unless bits_per_cycle is set).")
    bits_per_cycle: float | None = F(
        None, unit="bits/cycle", gt=0.0, le=1e12,
        doc="Input bandwidth in bits per cycle (with value_bits per value); null = unlimited "
            "(unless values_per_cycle is set).")
    value_bits: int = F(8, unit="bits", ge=1, le=64, doc="Bits per input value on the input bus.")
    double_buffering: bool = F(
        False, unit="-",
        doc="Load the next sample while the current one is presented (a wait only when loading "
            "takes longer than presenting); false = the chip waits for every load.")

    @model_validator(mode="after")
    def _one_bandwidth(self):
        if self.values_per_cycle is not None and self.bits_per_cycle is not None:
            raise ValueError("give the input bandwidth once: values_per_cycle or bits_per_cycle")
        return self

    def load_cycles(self, n_values: int) -> int:
        """Cycles to bring one sample of ``n_values`` values onto the chip."""
        if self.values_per_cycle is not None:
            return math.ceil(n_values / self.values_per_cycle)
        if self.bits_per_cycle is not None:
            return math.ceil(n_values * self.value_bits / self.bits_per_cycle)
        return 0


class EnergyTable(Spec):
    """Energy per action (each preset value cites its source or says estimate)."""

    mvm: Joules = F(0.0, unit="J", ge=0.0, le=1.0, doc="One tile MVM (analog compute of one tile).")
    adc: Joules = F(0.0, unit="J", ge=0.0, le=1.0, doc="One ADC conversion (one tile partial sum).")
    dac: Joules = F(0.0, unit="J", ge=0.0, le=1.0, doc="One DAC conversion (one input value of a tile).")
    perturbation: Joules = F(0.0, unit="J", ge=0.0, le=1.0,
                             doc="One generator producing a new perturbation value.")
    broadcast: Joules = F(0.0, unit="J", ge=0.0, le=1.0, doc="One broadcast of the cost change C~.")
    integrator: Joules = F(0.0, unit="J", ge=0.0, le=1.0,
                           doc="One integrator operation (multiply-accumulate of C~ theta~).")
    write: Joules = F(0.0, unit="J", ge=0.0, le=1.0,
                      doc="One write pulse (or one write of a weight on a device without pulses).")


class CostUnit(Spec):
    """The circuit that measures the scalar cost."""

    noise_sigma: float = F(
        0.0, unit="cost units", ge=0.0, le=1e6,
        doc="Standard deviation of additive Gaussian noise on every cost measurement (analog "
            "read-out and ADC quantisation noise of the cost circuit).")
    baseline_noisy: bool = F(
        True, unit="-",
        doc="Whether the baseline C0 is measured through the same noisy cost path as the "
            "perturbed cost (true on a real chip; the MGD reference code assumes false).")
    adc_bits: int | None = F(None, unit="bits", ge=1, le=64,
                             doc="Resolution of the cost ADC over [0, adc_range]; null = ideal.")
    adc_range: float = F(1.0, unit="cost units", ge=MIN_RANGE, le=1e9,
                         doc="Full scale of the cost ADC: costs are clipped to [0, adc_range].")


class DeviceVariation(Spec):
    """Device-to-device variation, drawn once per device when the chip is built."""

    dw_min: float = F(0.0, unit="fraction", ge=0.0, le=10.0,
                      doc="Relative spread of the pulse step across devices: dw_i = dw_min "
                          "max(1 + sigma xi, 0) (aihwkit dw_min_dtod).")
    bounds: float = F(0.0, unit="fraction", ge=0.0, le=10.0,
                      doc="Relative spread of each bound across devices (aihwkit w_min_dtod/w_max_dtod).")
    asymmetry: float = F(0.0, unit="dimensionless", ge=0.0, le=2.0,
                         doc="Absolute spread of the up/down asymmetry across devices (aihwkit up_down_dtod).")


class ReadNoise(Spec):
    """Noise on the weights every MVM reads (drawn anew for each inference)."""

    additive: float = F(0.0, unit="weight units", ge=0.0, le=1e6,
                        doc="Standard deviation of additive read noise per device and MVM.")
    proportional: float = F(0.0, unit="fraction", ge=0.0, le=10.0,
                            doc="Conductance-proportional read noise: standard deviation relative to |w|.")


class DriftSpec(Spec):
    """Conductance drift G(t) = G(t0) (t/t0)^-nu after each write (PCM)."""

    nu_mean: float = F(0.0, unit="dimensionless", ge=0.0, le=1.0,
                       doc="Mean drift exponent nu (PCM: about 0.05); 0 disables drift.")
    nu_sigma: float = F(0.0, unit="dimensionless", ge=0.0, le=1.0,
                        doc="Device-to-device spread of nu (absolute), drawn once per device.")
    t0: Seconds = F(20.0, unit="s", gt=0.0, le=1e9,
                    doc="Drift reference time: no drift during the first t0 after a write.")


class StuckDevices(Spec):
    """Devices that ignore every write (fabrication or wear-out defects)."""

    fraction: Fraction = F(0.0, unit="fraction", ge=0.0, le=1.0,
                           doc="Probability that a device is stuck ('1 %' or 0.01).")
    at: Literal["min", "max", "bounds", "uniform", "value"] = F(
        "bounds", unit="-", doc="Where stuck devices sit: at w_min, at w_max, at either bound "
                                "(50/50), uniform between the bounds, or at `value`.")
    value: float = F(0.0, unit="weight units", ge=-1e6, le=1e6, doc="The stuck value for at: value.")


class ConductanceSpec(Spec):
    """The device in conductance units; with array.gain it sets the weight-unit figures."""

    g_min: Siemens = F(0.0, unit="S", ge=0.0, le=1.0, doc="Lowest conductance of one device.")
    g_max: Siemens = F(25e-6, unit="S", gt=0.0, le=1.0,
                       doc="Highest conductance of one device (default: a typical ReRAM 25 uS).")
    dg_min: Siemens = F(0.5e-6, unit="S", gt=0.0, le=1.0,
                        doc="Conductance change of one programming pulse (default: 0.5 uS, ~50 levels).")
    read_noise: Siemens = F(0.0, unit="S", ge=0.0, le=1.0,
                            doc="Standard deviation of additive read noise of one device.")
    programming_error: Siemens = F(0.0, unit="S", ge=0.0, le=1.0,
                                   doc="Standard deviation of program-and-verify error of one device.")

    @model_validator(mode="after")
    def _range(self):
        if not self.g_min < self.g_max:
            raise ValueError(f"g_min must be below g_max (got g_min={self.g_min}, g_max={self.g_max})")
        return self


class DeviceSpec(Spec):
    """The synapse device that stores each weight (one effective device per weight)."""

    law: Literal["ideal", "quantised", "constant_step", "linear_step", "soft_bounds", "exp_step",
                 "pow_step"] = F(
        "ideal", unit="-",
        doc="How a write changes the stored weight: ideal (exactly), quantised (levels), or a "
            "pulsed law (constant_step, linear_step, soft_bounds, exp_step, pow_step); equations "
            "in hwsim.kernels.devices.")
    dw_min: float = F(0.001, unit="weight units", gt=0.0, le=1e6,
                      doc="Step of one programming pulse at w = 0 (pulsed laws); also the step "
                          "the update controller assumes when it counts pulses.")
    w_min: float = F(-1e6, unit="weight units", ge=-1e12, le=1e12,
                     doc="Lower bound of the stored weight (weight = gain x conductance difference).")
    w_max: float = F(1e6, unit="weight units", ge=-1e12, le=1e12,
                     doc="Upper bound of the stored weight.")
    asymmetry: float = F(0.0, unit="dimensionless", gt=-1.0, lt=1.0,
                         doc="Up/down step mismatch a: dw_up = dw_min (1 + a), dw_down = dw_min (1 - a).")
    gamma_up: float = F(1.0, unit="dimensionless", ge=0.0, le=100.0,
                        doc="Shape of the step law when potentiating (linear_step slope, exp_step "
                            "exponent, pow_step power).")
    gamma_down: float | None = F(None, unit="dimensionless", ge=0.0, le=100.0,
                                 doc="Shape of the step law when depressing; null = gamma_up.")
    levels: int = F(256, unit="levels", ge=2, le=2**31,
                    doc="Number of evenly spaced levels between the bounds (quantised law).")
    write_noise: float = F(0.0, unit="fraction", ge=0.0, le=10.0,
                           doc="Cycle-to-cycle write noise: each pulse moves by step (1 + sigma xi).")
    variation: DeviceVariation = F(default_factory=DeviceVariation, unit="-",
                                   doc="Device-to-device variation, drawn once per device.")
    programming_error: float = F(0.0, unit="weight units", ge=0.0, le=1e6,
                                 doc="Standard deviation of program-and-verify error when the "
                                     "initial weights are written.")
    read_noise: ReadNoise = F(default_factory=ReadNoise, unit="-",
                              doc="Noise on the weights every MVM reads.")
    drift: DriftSpec = F(default_factory=DriftSpec, unit="-", doc="Conductance drift after writes.")
    stuck: StuckDevices = F(default_factory=StuckDevices, unit="-", doc="Stuck-at devices.")
    conductance: ConductanceSpec | None = F(
        None, unit="-",
        doc="The device in siemens; with array.gain it replaces dw_min, w_min, w_max, "
            "read_noise.additive and programming_error (null = those are given in weight units).")
    endurance: float = F(math.inf, unit="pulses", gt=0.0,
                         doc="Pulses a device survives; the run reports the largest share of it "
                             "used ('inf' = no wear-out).")

    @model_validator(mode="after")
    def _device_bounds(self):
        if not self.w_min < self.w_max:
            raise ValueError(f"w_min must be below w_max (got w_min={self.w_min}, w_max={self.w_max})")
        if self.law in ("linear_step", "soft_bounds", "exp_step", "pow_step") and not self.w_min < 0 < self.w_max:
            raise ValueError(f"the {self.law} law needs w_min < 0 < w_max "
                             f"(got w_min={self.w_min}, w_max={self.w_max})")
        return self


class UpdateController(Spec):
    """Turns the integrated gradient into device pulses at each update."""

    rounding: Literal["stochastic", "deterministic"] = F(
        "stochastic", unit="-",
        doc="Rounding of the pulse count |eta G| / dw_min: stochastic (unbiased) or to nearest.")
    max_pulses: int = F(31, unit="pulses", ge=1, le=10**6,
                        doc="Most pulses one update sends to one device (aihwkit desired_bl: 31).")
    parallelism: Literal["parallel", "row_serial", "serial"] = F(
        "parallel", unit="-",
        doc="How an update reaches the devices: all at once (latency = most pulses of any device), "
            "one crossbar row (input line) at a time, or one device at a time.")
    pulse_duration: Seconds = F(0.0, unit="s", ge=0.0, le=1.0,
                                doc="Duration of one programming pulse (rounded up to whole cycles).")
    overhead_cycles: int = F(0, unit="cycles", ge=0, le=10**12,
                             doc="Fixed cycles of every update phase (controller set-up).")
    blocking: bool = F(
        True, unit="-",
        doc="true: training stalls while the update is written; false: inference carries on "
            "with the old weights until the new ones are in place.")


class ArraySpec(Spec):
    """The crossbar tiles and their converters."""

    rows: int = F(2**20, unit="devices", ge=1, le=2**31,
                  doc="Rows (inputs) per tile: a layer with more inputs splits across tiles whose "
                      "partial sums are digitised separately and added.")
    cols: int = F(2**20, unit="devices", ge=1, le=2**31,
                  doc="Columns (outputs) per tile.")
    mapping: Literal["differential", "reference"] = F(
        "reference", unit="-",
        doc="A weight is the difference of a device pair (differential: w = gain (G+ - G-), "
            "weights in +-gain (g_max - g_min), two reads so read noise variance doubles) or one "
            "device against a reference at mid-range (reference: w = gain (G - G_ref), weights in "
            "+-gain (g_max - g_min)/2).")
    gain: float | None = F(
        None, unit="weight units per S", gt=0.0, le=1e12,
        doc="Weight units per siemens of conductance difference; set it with device.conductance "
            "to describe the device in siemens (null = the device is given in weight units).")
    dac_bits: int | None = F(None, unit="bits", ge=1, le=32,
                             doc="Resolution of the input DACs; null = ideal.")
    dac_range: float = F(1.0, unit="activation units", ge=MIN_RANGE, le=1e6,
                         doc="Inputs are clipped to [-dac_range, dac_range] before conversion.")
    adc_bits: int | None = F(None, unit="bits", ge=1, le=32,
                             doc="Resolution of the MVM output ADCs (per tile partial sum); null = ideal.")
    adc_range: float = F(10.0, unit="pre-activation units", ge=MIN_RANGE, le=1e9,
                         doc="Partial sums are clipped to [-adc_range, adc_range] before conversion.")
    tile_latency: int | None = F(
        None, unit="cycles", ge=1, le=10**9,
        doc="Cycles of one tile MVM (with its ADCs). When set, the inference latency and "
            "initiation interval are derived from the network and the tiles (pipelined layers, "
            "or time-shared tiles when there are too few); null = take inference.cycles_per_inference.")
    tiles: int | None = F(
        None, unit="tiles", ge=1, le=10**9,
        doc="Physical tiles on the chip; when the network needs more, tiles are time-shared "
            "(layers run one after another, no pipelining); null = as many as the network needs.")


class NeuronSpec(Spec):
    """The neuron circuits."""

    activation_variation: float = F(
        0.0, unit="fraction", ge=0.0, le=10.0,
        doc="Per-neuron spread of the activation's gain, input offset and output offset "
            "(as the MGD reference's noisy MLP), drawn once per neuron.")


class PerturbationCircuit(Spec):
    """Where and how the perturbation generators inject theta~."""

    injection: Literal["auxiliary", "weight_device"] = F(
        "auxiliary", unit="-",
        doc="auxiliary: a separate small element adds theta~ exactly; weight_device: theta~ is "
            "written into the weight device, so it is rounded to whole device steps (and an "
            "amplitude below one step is lost).")
    mismatch: float = F(0.0, unit="fraction", ge=0.0, le=10.0,
                        doc="Per-generator amplitude error: each generator's gain is 1 + sigma xi, "
                            "drawn once.")
    amplitude_bits: int | None = F(None, unit="bits", ge=1, le=32,
                                   doc="Resolution of each generator's output (signed, over its "
                                       "largest value); null = ideal.")


class Broadcast(Spec):
    """The network that broadcasts the scalar C~ to every integrator."""

    latency: int = F(0, unit="cycles", ge=0, le=10**9,
                     doc="Cycles from the cost being measured to C~ reaching the integrators.")
    bits: int | None = F(None, unit="bits", ge=1, le=64,
                         doc="Resolution of the broadcast scalar (signed, over +-range); null = ideal.")
    range: float = F(1.0, unit="cost units", ge=MIN_RANGE, le=1e9,
                     doc="C~ is clipped to +-range when it is digitised (only with bits).")
    noise_sigma: float = F(0.0, unit="cost units", ge=0.0, le=1e6,
                           doc="Additive Gaussian noise on the broadcast scalar each step.")


class IntegratorSpec(Spec):
    """The local integrators G_int, one per parameter."""

    delay_compensation: bool = F(
        True, unit="-",
        doc="Delay each perturbation to meet the cost it produced (true), or multiply the arriving "
            "C~ by the perturbation of the moment (false: a mis-correlation when the pipeline and "
            "broadcast latency exceed one step).")
    bits: int | None = F(None, unit="bits", ge=1, le=64,
                         doc="Resolution of each integrator (signed, over +-saturation); null = ideal.")
    saturation: float = F(math.inf, unit="gradient units", ge=MIN_RANGE,
                          doc="|G_int| is clipped here ('inf' = never saturates).")
    leak_tau: Seconds = F(math.inf, unit="s", gt=0.0,
                          doc="Time constant of an analog integrator's leak: G_int decays by "
                              "exp(-dt/leak_tau) over each step of duration dt ('inf' = no leak).")

    @model_validator(mode="after")
    def _quantised_needs_range(self):
        if self.bits is not None and not math.isfinite(self.saturation):
            raise ValueError("a quantised integrator (bits) needs a finite saturation to set its range")
        return self


class ChipSpec(Spec):
    """The hardware: clock, inference timing, cost unit, devices, arrays and MGD circuits."""

    kind: Literal["chip"] = F("chip", unit="-", doc="Marks this file as a chip spec.")
    name: Name = F("unnamed_chip", unit="-", doc="Short identifier of the chip preset.",
                  min_length=1, max_length=200)
    description: str = F("", unit="-", doc="One line on what this chip models.", max_length=2000)
    clock_period: Seconds = F(
        1e-9, unit="s", ge=1e-15, le=1.0,
        doc="Period of the chip clock, which turns cycles into seconds; write '1 ns' (a "
            "frequency such as '1 GHz' is rejected: give its inverse); 1 fs to 1 s.")
    inference: InferenceTiming = F(default_factory=InferenceTiming, unit="-",
                                   doc="Timing of the inference datapath.")
    cost_unit: CostUnit = F(default_factory=CostUnit, unit="-",
                            doc="The circuit that measures the scalar cost.")
    device: DeviceSpec = F(default_factory=DeviceSpec, unit="-",
                           doc="The synapse device that stores each weight.")
    update: UpdateController = F(default_factory=UpdateController, unit="-",
                                 doc="The update controller that turns G_int into pulses.")
    array: ArraySpec = F(default_factory=ArraySpec, unit="-", doc="Crossbar tiles and converters.")
    neurons: NeuronSpec = F(default_factory=NeuronSpec, unit="-", doc="The neuron circuits.")
    perturbation: PerturbationCircuit = F(default_factory=PerturbationCircuit, unit="-",
                                          doc="The perturbation generators' circuit.")
    broadcast: Broadcast = F(default_factory=Broadcast, unit="-", doc="The cost broadcast network.")
    integrator: IntegratorSpec = F(default_factory=IntegratorSpec, unit="-",
                                   doc="The local integrators.")
    input: InputPath = F(default_factory=InputPath, unit="-", doc="The input path (bandwidth).")
    energy: EnergyTable = F(default_factory=EnergyTable, unit="-", doc="Energy per action.")


# --------------------------------------------------------------------------- firmware

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

    def kernel_params(self) -> tuple[int, float, float, float]:
        """(kind code, total, p1, p2) for hwsim.kernels.optim.schedule_value."""
        from hwsim.kernels.optim import SCHEDULES

        p1, p2 = {"step": (self.step_size, self.gamma), "cosine": (self.min_fraction, 0.0),
                  "inverse_time": (self.decay, 0.0)}.get(self.kind, (0.0, 0.0))
        return SCHEDULES[self.kind], float(self.horizon or 0.0), float(p1), float(p2)


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


# --------------------------------------------------------------------------- scenario


class DigitsData(Spec):
    """scikit-learn's 8x8 handwritten digits: 64 inputs, 10 classes."""

    name: Literal["digits"] = F(
        "digits", unit="-", doc="scikit-learn's 8x8 handwritten digits (1,797 images, 64 inputs, 10 classes).")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of samples held out for testing (seeded split); 0.2 or '20 %'.")

    @property
    def shape(self) -> tuple[int, int]:
        return 64, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return 1, 8, 8


class ParityData(Spec):
    """All 2^n binary vectors labelled with their parity: n inputs, one output."""

    name: Literal["parity"] = F("parity", unit="-", doc="All 2^n binary vectors labelled with their parity.")
    n_bits: int = F(2, unit="bits", ge=1, le=16, doc="Number of input bits n (n = 2 is XOR).")

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_bits, 1

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return None


class TeacherData(Spec):
    """Synthetic teacher-student regression."""

    name: Literal["teacher"] = F("teacher", unit="-", doc="Synthetic teacher-student regression: "
                                                          "targets from a fixed random tanh network.")
    n_samples: int = F(1024, unit="samples", ge=2, le=10**7, doc="Number of samples generated.")
    n_inputs: int = F(8, unit="inputs", ge=1, le=10**5, doc="Input dimension.")
    n_outputs: int = F(2, unit="outputs", ge=1, le=10**4, doc="Output dimension.")
    teacher_hidden: int = F(16, unit="neurons", ge=1, le=10**4, doc="Hidden width of the teacher.")
    noise_sigma: float = F(0.0, unit="target units", ge=0.0, le=1e6,
                           doc="Standard deviation of Gaussian noise added to the targets.")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of samples held out for testing (seeded split); 0.2 or '20 %'.")

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_inputs, self.n_outputs

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return None


class Mnist1dData(Spec):
    """MNIST-1D, generated locally by the mnist1d package: 40 inputs, 10 classes."""

    name: Literal["mnist1d"] = F(
        "mnist1d", unit="-",
        doc="MNIST-1D (Greydanus 2020): ten 1-D digit templates padded, scaled, translated, sheared "
            "and noised into signals of 40 values; generated locally by the mnist1d package, never "
            "downloaded.")
    n_samples: int = F(5000, unit="samples", ge=20, le=10**6,
                       doc="Samples generated, n/10 per class (mnist1d's num_samples; a multiple of "
                           "10; the default 5000 gives 4000 training and 1000 test samples).")
    test_fraction: Fraction = F(0.2, unit="fraction", gt=0.0, lt=1.0,
                                doc="Share of the samples held out for testing (mnist1d's 1 - "
                                    "train_split); 0.2 or '20 %'.")
    generator_seed: int | None = F(
        None, unit="-", ge=0, le=2**32 - 1,
        doc="Seed of the generator; null derives it from the run seed (each run seed draws its "
            "own data set); 42 is mnist1d's default, its reference data set.")

    @model_validator(mode="after")
    def _split(self):
        if self.n_samples % 10:
            raise ValueError(f"n_samples must be a multiple of 10, the same number per class (got "
                             f"{self.n_samples}; expected {self.n_samples - self.n_samples % 10} or "
                             f"{self.n_samples - self.n_samples % 10 + 10})")
        n_train = int(self.n_samples * (1.0 - self.test_fraction))
        if not 1 <= n_train < self.n_samples:
            raise ValueError(f"test_fraction leaves no {'training' if n_train < 1 else 'test'} samples "
                             f"(got test_fraction={self.test_fraction} of n_samples={self.n_samples}; "
                             "expected at least one of each)")
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return 40, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return 1, 1, 40


class _ImageFilesData(Spec):
    """Fields shared by the data sets read from local files (docs/data.md); each names its
    image shape (C, H, W), and all have ten classes."""

    IMAGE: ClassVar[tuple[int, int, int]]

    name: str = F(..., unit="-", doc="The data set.")
    data_dir: str | None = F(
        None, unit="-", min_length=1, max_length=4096,
        doc="Folder that holds the data sets' folders (mnist/, fashion_mnist/, "
            "cifar-10-batches-py/; docs/data.md); null = $HWSIM_DATA, else ./data. hwsim run and "
            "compare --data-dir set it. Relative to the working directory. Nothing is downloaded.")
    n_train: int | None = F(
        None, unit="samples", ge=1, le=10**7,
        doc="Train on only the first n training images (quick runs); null = all of them.")
    n_test: int | None = F(
        None, unit="samples", ge=1, le=10**7,
        doc="Measure test accuracy on only the first n images of the validation set; null = all.")
    validation: Literal["test", "last_1000_train"] = F(
        "test", unit="-",
        doc="What test accuracy is measured on: test (the official test set) or last_1000_train "
            "(the last 1000 training images, left out of training, as in the MGD paper).")

    @property
    def shape(self) -> tuple[int, int]:
        c, h, w = self.IMAGE
        return c * h * w, 10

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        return self.IMAGE


class MnistData(_ImageFilesData):
    """MNIST handwritten digits from local IDX files: 784 inputs, 10 classes."""

    name: Literal["mnist"] = F(
        "mnist", unit="-",
        doc="MNIST handwritten digits, 28x28 grey pixels scaled to [0, 1], 60,000 training and "
            "10,000 test images, read from local IDX files in <data_dir>/mnist/.")

    IMAGE = (1, 28, 28)


class FashionMnistData(_ImageFilesData):
    """Fashion-MNIST clothing images from local IDX files: 784 inputs, 10 classes."""

    name: Literal["fashion_mnist"] = F(
        "fashion_mnist", unit="-",
        doc="Fashion-MNIST (Zalando) clothing images, 28x28 grey pixels scaled to [0, 1], 60,000 "
            "training and 10,000 test images, read from local IDX files in <data_dir>/fashion_mnist/.")

    IMAGE = (1, 28, 28)


class Cifar10Data(_ImageFilesData):
    """CIFAR-10 colour images from the local python batches: 3072 inputs, 10 classes."""

    name: Literal["cifar10"] = F(
        "cifar10", unit="-",
        doc="CIFAR-10, 32x32 colour images (3 channels, inputs in channel-major order), values "
            "scaled to [0, 1], 50,000 training and 10,000 test images, read from the python "
            "batches in <data_dir>/cifar-10-batches-py/.")

    IMAGE = (3, 32, 32)


DatasetSpec = Annotated[Union[DigitsData, ParityData, TeacherData, Mnist1dData, MnistData,
                              FashionMnistData, Cifar10Data], Field(discriminator="name")]
DATASETS = {"digits": DigitsData, "parity": ParityData, "teacher": TeacherData, "mnist1d": Mnist1dData,
            "mnist": MnistData, "fashion_mnist": FashionMnistData, "cifar10": Cifar10Data}


class InitSpec(Spec):
    """Initial weights."""

    distribution: Literal["uniform", "normal", "glorot_uniform"] = F(
        "glorot_uniform", unit="-", doc="Distribution of the initial weights and biases.")
    low: float = F(-0.5, unit="weight units", ge=-1e6, le=1e6, doc="uniform only: lower bound.")
    high: float = F(0.5, unit="weight units", ge=-1e6, le=1e6, doc="uniform only: upper bound.")
    std: float = F(0.1, unit="weight units", gt=0.0, le=1e6, doc="normal only: standard deviation.")
    bias_low: float | None = F(
        None, unit="weight units", ge=-1e6, le=1e6,
        doc="uniform only: lower bound for the biases; null uses `low`. (The MGD reference code "
            "subtracts its biases, so its U[0, 1] biases are U[-1, 0] here.)")
    bias_high: float | None = F(None, unit="weight units", ge=-1e6, le=1e6,
                                doc="uniform only: upper bound for the biases; null uses `high`.")

    @model_validator(mode="after")
    def _bounds(self):
        if self.distribution == "uniform" and not self.low < self.high:
            raise ValueError(f"empty range (got low={self.low}, high={self.high}; expected low < high)")
        lo = self.low if self.bias_low is None else self.bias_low
        hi = self.high if self.bias_high is None else self.bias_high
        if self.distribution == "uniform" and not lo < hi:
            raise ValueError(f"empty bias range (got bias_low={lo}, bias_high={hi}; expected bias_low < bias_high)")
        return self


ActivationName = Literal["sigmoid", "tanh", "relu", "linear"]


class DenseLayer(Spec):
    """A fully connected layer: one MVM of an n_out x n_in array per inference."""

    type: Literal["dense"] = F("dense", unit="-", doc="A fully connected layer.")
    units: int | None = F(None, unit="neurons", ge=1, le=100_000,
                          doc="Outputs; null only for the last layer, which takes the data set's outputs.")
    activation: ActivationName | None = F(
        None, unit="-", doc="Activation; null uses network.activation (network.output_activation "
                            "for the last layer).")


class ConvLayer(Spec):
    """A k x k convolution, stride 1, no padding: its kernel is one C_out x (C_in k k) array,
    applied as one MVM per output position."""

    type: Literal["conv"] = F("conv", unit="-", doc="A 2-D convolution (stride 1, no padding).")
    channels: int = F(..., unit="channels", ge=1, le=4096, doc="Output channels C_out.")
    kernel: int = F(3, unit="pixels", ge=1, le=15, doc="Kernel size k (k x k).")
    activation: ActivationName | None = F(None, unit="-",
                                          doc="Activation; null uses network.activation.")


class MaxPoolLayer(Spec):
    """Maximum over non-overlapping size x size windows (floor mode), in the digital periphery."""

    type: Literal["maxpool"] = F("maxpool", unit="-", doc="Max-pooling (stride = window).")
    size: int = F(2, unit="pixels", ge=1, le=16, doc="Window size (size x size).")


class FlattenLayer(Spec):
    """Marks where an image becomes a vector (activities are flat on the chip: no operation)."""

    type: Literal["flatten"] = F("flatten", unit="-", doc="Image to vector (no operation).")


LayerSpec = Annotated[Union[DenseLayer, ConvLayer, MaxPoolLayer, FlattenLayer], Field(discriminator="type")]


class NetworkSpec(Spec):
    """The network on the chip."""

    hidden: list[Annotated[int, Field(ge=1, le=100_000)]] = F(
        default_factory=lambda: [32], unit="neurons", max_length=64,
        doc="Widths of the hidden layers (an empty list is a single-layer network).")
    inputs: int | None = F(
        None, unit="neurons", ge=1, le=10**5,
        doc="Width of the input layer; null takes it from the data set, a number is checked "
            "against the data set.")
    outputs: int | None = F(
        None, unit="neurons", ge=1, le=10**4,
        doc="Width of the output layer; null takes it from the data set (classes or targets), a "
            "number is checked against it.")
    activation: Literal["sigmoid", "tanh", "relu"] = F(
        "sigmoid", unit="-", doc="Activation of every hidden neuron.")
    output_activation: Literal["linear", "sigmoid"] = F(
        "linear", unit="-", doc="Activation of the output neurons (cross_entropy applies softmax itself).")
    init: InitSpec = F(default_factory=InitSpec, unit="-", doc="Initial weights.")
    layers: list[LayerSpec] | None = F(
        None, unit="-", max_length=64,
        doc="An explicit stack of layers after the input (conv, maxpool, flatten, dense), ending "
            "with a dense output layer; replaces `hidden`. Conv layers need an image data set.")

    @model_validator(mode="after")
    def _stack(self):
        if self.layers is None:
            return self
        if not self.layers or self.layers[-1].type != "dense":
            raise ValueError("`layers` must end with a dense output layer (type: dense)")
        if self.layers[0].type not in ("dense", "conv"):
            raise ValueError("`layers` must start with a dense or conv layer (the first layer "
                             "holds weights)")
        for i, layer in enumerate(self.layers[:-1]):
            if layer.type == "dense" and layer.units is None:
                raise ValueError(f"layers[{i}]: a hidden dense layer needs `units`")
        return self


class ObservationSpec(Spec):
    """How the observer measures the chip (it consumes no chip time)."""

    read_noise: bool = F(
        True, unit="-",
        doc="Measure test accuracy with the devices' read noise (one read of the array per "
            "observation); false reads the drifted weights without noise.")
    ideal_accuracy: bool = F(
        False, unit="-",
        doc="Also record the accuracy of the stored weights on an ideal datapath (exact "
            "converters, no read noise, drift or neuron variation), for comparison.")


class ScenarioSpec(Spec):
    """The workload: data set, network, cost, target, budget, and which chip and firmware."""

    kind: Literal["scenario"] = F("scenario", unit="-", doc="Marks this file as a scenario spec.")
    name: Name = F("unnamed_scenario", unit="-", doc="Short identifier of the scenario.",
                  min_length=1, max_length=200)
    description: str = F("", unit="-", doc="The question this scenario asks.", max_length=2000)
    chip: str = F("ideal_digital", unit="-", min_length=1,
                  doc="Chip preset name (in chips/) or path to a chip YAML.")
    firmware: str = F("mgd_discrete", unit="-", min_length=1,
                      doc="Firmware preset name (in firmware_models/) or path to a firmware YAML.")
    overrides: dict[str, Any] = F(
        default_factory=dict, unit="-",
        doc="Dotted paths set on the resolved specs, e.g. {'firmware.eta': 0.5}; applied before "
            "validation (the resolved chip and firmware already contain them).")
    dataset: DatasetSpec = F(default_factory=DigitsData, unit="-", doc="The training and test data.")
    network: NetworkSpec = F(default_factory=NetworkSpec, unit="-", doc="The network on the chip.")
    cost: Literal["mse", "cross_entropy"] = F(
        "mse", unit="-",
        doc="mse: mean over outputs of (y - target)^2 on one-hot targets; cross_entropy: softmax "
            "cross-entropy.")
    accuracy: Literal["argmax", "threshold", "r2"] = F(
        "argmax", unit="-",
        doc="argmax: predicted class = largest output; threshold: outputs and targets compared "
            "at 0.5 (parity); r2: coefficient of determination on the test set, floored at 0 "
            "(regression, the teacher data set).")
    target_accuracy: Fraction = F(0.9, unit="fraction", gt=0.0, le=1.0,
                                  doc="Test accuracy that counts as trained; 0.9 or '90 %'.")
    max_cycles: int = F(1_000_000, unit="cycles", ge=1, le=10**15,
                        doc="Cycle budget: the run stops here if the target is not reached.")
    max_steps: int | None = F(
        None, unit="steps", ge=1, le=10**15,
        doc="Step budget: the run also stops after this many steps (null = only the cycle "
            "budget); hwsim compare gives every chip the same number of steps this way.")
    compare_firmware: list[str] = F(
        default_factory=list, unit="-", max_length=100,
        doc="Firmware models (names or paths) that hwsim compare trains this scenario with, on "
            "the scenario's own chip, beside its own firmware (the baseline).")
    compare_chips: list[str] = F(
        default_factory=list, unit="-", max_length=100,
        doc="Chips (names or paths) that hwsim compare trains this scenario on, beside the "
            "scenario's own chip, which is the baseline of the comparison; CHIP+FIRMWARE runs "
            "that chip on its own firmware (e.g. pcm_hermes_like+mgd_pcm).")
    stop_at_target: bool = F(True, unit="-", doc="Stop the run at the first evaluation that reaches "
                                                 "the target (else run the whole budget).")
    observation: ObservationSpec = F(default_factory=lambda: ObservationSpec(), unit="-",
                                     doc="How the observer measures test accuracy on the chip.")
    seed: int = F(0, unit="-", ge=0, le=2**63 - 1, doc="Root of the run's seed tree.")

    def layout(self):
        """The network's hwsim.network.layout.NetworkLayout on this data set (ValueError when
        the layers do not fit the data)."""
        from hwsim.network.layout import layout_from_spec

        n_in, n_out = self.dataset.shape
        return layout_from_spec(self.network, n_in, n_out, getattr(self.dataset, "image_shape", None))

    def n_params(self) -> int:
        """P: weights and biases of the network."""
        return self.layout().n_params

    def n_neurons(self) -> int:
        """K for node perturbation: the outputs of every dense and conv layer."""
        return self.layout().n_neurons


KINDS = {"chip": ChipSpec, "firmware": FirmwareSpec, "scenario": ScenarioSpec}
