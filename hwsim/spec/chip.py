"""The chip spec (``kind: chip``): the hardware, from clock and inference timing to devices,
arrays, perturbation circuit, broadcast network and integrators.

One of the three kind modules split out of ``hwsim.spec.models`` (which re-exports every model:
import from there). Pure schema: no import of the simulator (chip, network, kernels).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import model_validator

from hwsim.spec.base import F, MIN_RANGE, Name, Spec
from hwsim.spec.units import Fraction, Joules, Seconds, Siemens


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
        if self.law == "exp_step":
            # The step's normalisation 1 - exp(-gamma) vanishes at 0 (gamma -> 0 is soft_bounds).
            for name in ("gamma_up", "gamma_down"):
                g = getattr(self, name)
                if g is not None and not g > 0:
                    raise ValueError(f"the exp_step law needs {name} > 0 (got {g}); "
                                     f"gamma -> 0 is the soft_bounds law")
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
