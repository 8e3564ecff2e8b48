"""The standard benchmark workloads B1-B4 (docs/performance.md).

Ideal chip (one cycle per step), ReLU hidden layers and a linear output, MSE on one-hot
targets, a fixed synthetic data set of 1,024 Gaussian training samples, discrete mode,
tau_p = 1, tau_x = 10, tau_theta = 100, random-code (cdma) perturbation of amplitude 0.01,
eta = 0.01, plain SGD, vector_norm normalisation.

The data set: inputs drawn i.i.d. N(0, 1) and labelled by the largest output of a fixed random
linear map (a learnable 10-class problem), targets one-hot; 1,024 training samples and 256
test samples (the test samples are only used by the observer, in the engine-overhead figure).
It is built here, from a fixed seed, not by hwsim.data: hwsim's only synthetic data set,
``teacher``, is a regression. ``build_simulation`` therefore builds the Simulation on a
``teacher`` spec of exactly the same shapes (so the spec validates as usual, r2 accuracy
included) and then replaces its data and its accuracy kind with this data set and argmax.
Throughput does not depend on the values of the data, only on its shapes.

``TINY`` holds the same workloads on networks of a few dozen parameters: for the smoke
test of the harness, their figures mean nothing.

B5 and B6 (issue 18) are built the same way:

* B5 (keys ``B5-rram``, ``B5-pcm``; ``B5`` selects both): B2's network, data and firmware on
  the ``rram_crossbar`` and ``pcm_hermes_like`` chip presets (chips/*.yaml), so the chip path
  runs (devices, DACs and ADCs, read noise, the broadcast's and the integrators' precision).
  The presets' own tuned firmwares (firmware_models/mgd_rram.yaml, mgd_pcm.yaml) are not used:
  their momentum and tau_theta = 1,484 would change the step's mix of phases as well as the
  chip, and B5's second figure is its per-step time against B2's, the same firmware on the
  ideal chip; with B2's firmware the chip is the only difference.
* B6: the network of scenarios/fashion_mnist_cnn.yaml (Conv3x3(16)-Pool-Conv3x3(32)-Pool-
  Conv3x3(32)-Pool-Dense(10), 14,378 parameters) with that scenario's firmware (cdma, amplitude
  0.01, tau_p = tau_x = 1, tau_theta = 100, eta = 0.05, cross entropy) on the ideal chip, on a
  fixed synthetic set of 1,024 + 256 28x28 images (pixels U[0, 1), labels from a random linear
  map): no Fashion-MNIST files. The scenario's data set is read from files, so the Simulation
  is built with this data set in place of the scenario's (``Simulation(..., dataset=...)``;
  the spec still validates the network against the 28x28 image shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_TRAIN = 1024          # the workloads' fixed synthetic data set: 1,024 Gaussian samples
N_TEST = 256            # held out for the observer (engine-overhead figure only)
DATA_SEED = 20240905    # the data set is fixed: it does not follow the run seed
TAU_P, TAU_X, TAU_THETA = 1, 10, 100
AMPLITUDE, ETA = 0.01, 0.01
WINDOW = TAU_THETA      # steps of one update window (a multiple of tau_x): timed blocks are whole windows


@dataclass(frozen=True)
class Workload:
    """One benchmark workload: a network and what is perturbed."""

    key: str                     # "B1"
    name: str                    # "small-wp"
    n_inputs: int
    hidden: tuple[int, ...]
    n_outputs: int
    nodes: bool                  # node perturbation (else weight perturbation)
    ratio_target: float          # issue 9: hwsim steps/s over the plain loop's
    chip: str | None = None      # B5: a chip preset (chips/NAME.yaml); None: the ideal chip
    layers: tuple | None = None  # B6: the CNN's layers (scenario network.layers entries)
    image: tuple[int, int, int] | None = None   # B6: (C, H, W) of the input images
    vs_b2_target: float | None = None           # B5: hwsim's per-step time over B2's, at most

    @property
    def cnn(self) -> bool:
        return self.layers is not None

    @property
    def label(self) -> str:
        return f"{self.key} {self.name}"

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_outputs) if not self.cnn else self.layout().sizes

    def layout(self):
        """hwsim's NetworkLayout of the workload (hwsim.network.layout)."""
        from hwsim.network.layout import dense_layout, layout_from_spec
        from hwsim.spec.scenario import NetworkSpec

        if not self.cnn:
            return dense_layout(self.sizes, ["relu"] * len(self.hidden) + ["linear"])
        network = NetworkSpec.model_validate(
            {"activation": "relu", "output_activation": "linear", "layers": [dict(x) for x in self.layers]})
        return layout_from_spec(network, self.n_inputs, self.n_outputs, self.image)

    @property
    def network(self) -> str:
        if not self.cnn:
            return "-".join(str(s) for s in self.sizes)
        names = {"conv": lambda x: f"Conv{x['kernel']}x{x['kernel']}({x['channels']})", "maxpool": lambda x: "Pool",
                 "dense": lambda x: f"Dense({self.n_outputs})"}
        c, h, w = self.image
        return f"{h}x{w}-" + "-".join(names[x["type"]](x) for x in map(dict, self.layers) if x["type"] in names)

    @property
    def n_params(self) -> int:
        """P: weights and biases (what is updated, whatever is perturbed)."""
        if self.cnn:
            return self.layout().n_params
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def n_nodes(self) -> int:
        """K: neurons (what node perturbation perturbs)."""
        if self.cnn:
            return self.layout().n_neurons
        return sum(self.sizes[1:])

    @property
    def macs_per_inference(self) -> int:
        """Multiply-adds of one inference: every weight once per MVM (a conv kernel once per
        output position); pooling and activations are not multiply-adds."""
        return sum(s.positions * s.n_weights for s in self.layout().stages if s.has_params)

    def macs_per_step(self, tau_x: int = TAU_X) -> float:
        """Multiply-adds of an average step: the perturbed inference, the baseline inference
        every tau_x steps (a new sample; tau_theta is a multiple of tau_x) and the
        integration, one multiply-add per parameter."""
        return self.macs_per_inference * (1.0 + 1.0 / tau_x) + self.n_params

    @property
    def n_perturbed(self) -> int:
        return self.n_nodes if self.nodes else self.n_params

    @property
    def perturbation(self) -> str:
        return "node" if self.nodes else "weight"


WORKLOADS = (
    Workload("B1", "small-wp", 64, (32,), 10, False, 20.0),
    Workload("B2", "medium-wp", 784, (128,), 10, False, 15.0),
    Workload("B3", "medium-np", 784, (128,), 10, True, 50.0),
    Workload("B4", "large-wp", 784, (512, 512), 10, False, 15.0),
)


def _cnn_layers(c1: int, c2: int, c3: int) -> tuple:
    """scenarios/fashion_mnist_cnn.yaml's layers with these channel counts (hashable)."""
    layers = ({"type": "conv", "channels": c1, "kernel": 3}, {"type": "maxpool", "size": 2},
              {"type": "conv", "channels": c2, "kernel": 3}, {"type": "maxpool", "size": 2},
              {"type": "conv", "channels": c3, "kernel": 3}, {"type": "maxpool", "size": 2},
              {"type": "flatten"}, {"type": "dense"})
    return tuple(tuple(x.items()) for x in layers)


CNN_SCENARIO = "fashion_mnist_cnn"
IMAGE = (1, 28, 28)
B6_TAU_X = 1           # the scenario's: a new image every step, so a baseline every step

# Issue 18: B5 floor 20x and within 3x of B2's per-step time; B6 floor 30x.
CHIP_AND_CNN = (
    Workload("B5-rram", "rram-wp", 784, (128,), 10, False, 20.0, chip="rram_crossbar", vs_b2_target=3.0),
    Workload("B5-pcm", "pcm-wp", 784, (128,), 10, False, 20.0, chip="pcm_hermes_like", vs_b2_target=3.0),
    Workload("B6", "cnn-wp", 784, (), 10, False, 30.0, layers=_cnn_layers(16, 32, 32), image=IMAGE),
)
WORKLOADS = WORKLOADS + CHIP_AND_CNN

TINY = (
    Workload("B1", "small-wp", 8, (6,), 3, False, 20.0),
    Workload("B2", "medium-wp", 12, (8,), 4, False, 15.0),
    Workload("B3", "medium-np", 12, (8,), 4, True, 50.0),
    Workload("B4", "large-wp", 12, (8, 8), 4, False, 15.0),
    Workload("B5-rram", "rram-wp", 12, (8,), 4, False, 20.0, chip="rram_crossbar", vs_b2_target=3.0),
    Workload("B5-pcm", "pcm-wp", 12, (8,), 4, False, 20.0, chip="pcm_hermes_like", vs_b2_target=3.0),
    # the scenario's stack with 4 channels a stage: still 28x28 images (the spec checks the
    # layers against the image), 386 parameters
    Workload("B6", "cnn-wp", 784, (), 10, False, 30.0, layers=_cnn_layers(4, 4, 4), image=IMAGE),
)


def workloads(tiny: bool = False) -> dict[str, Workload]:
    """The workloads by key (B1..B4, B5-rram, B5-pcm, B6), at full size or tiny."""
    return {w.key: w for w in (TINY if tiny else WORKLOADS)}


def select(keys: str | None, tiny: bool = False) -> list[Workload]:
    """The workloads named in a comma-separated list ("B1,B3"; case-insensitive; the full
    label "B1 small-wp" or the name "small-wp" also work, and "B5" names both B5-rram and
    B5-pcm); all of them for None or "". ValueError names the unknown ones."""
    table = workloads(tiny)
    if not keys or not keys.strip():
        return list(table.values())
    chosen, unknown = [], []
    for raw in keys.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        match = [w for w in table.values() if item in (w.key.lower(), w.name, w.label.lower())]
        match = match[:1] or [w for w in table.values() if w.key.lower().split("-")[0] == item]
        if not match:
            unknown.append(raw.strip())
        chosen += [w for w in match if w not in chosen]
    if unknown:
        raise ValueError(f"unknown workload{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(expected some of {', '.join(table)})")
    order = list(table)
    return sorted(chosen, key=lambda w: order.index(w.key))


def synthetic_images(image: tuple[int, int, int], n_outputs: int):
    """B6's fixed data set: N_TRAIN + N_TEST images of pixels U[0, 1), one-hot labels from a
    random linear map of the centred pixels (a hwsim.data.datasets.Dataset with its image
    shape)."""
    from hwsim.data.datasets import Dataset, one_hot

    rng = np.random.default_rng(DATA_SEED + 6)
    n, n_inputs = N_TRAIN + N_TEST, int(np.prod(image))
    x = rng.random((n, n_inputs))
    w = rng.normal(size=(n_inputs, n_outputs)) / np.sqrt(n_inputs)
    y = one_hot(np.argmax((x - 0.5) @ w, axis=1), n_outputs)
    return Dataset("bench_images", np.ascontiguousarray(x[:N_TRAIN]), np.ascontiguousarray(y[:N_TRAIN]),
                   np.ascontiguousarray(x[N_TRAIN:]), np.ascontiguousarray(y[N_TRAIN:]),
                   n_classes=n_outputs, image_shape=tuple(image))


def synthetic_dataset(n_inputs: int, n_outputs: int):
    """The fixed data set: N_TRAIN + N_TEST Gaussian inputs, one-hot labels from a random
    linear map (a hwsim.data.datasets.Dataset)."""
    from hwsim.data.datasets import Dataset, one_hot

    rng = np.random.default_rng(DATA_SEED)
    n = N_TRAIN + N_TEST
    x = rng.normal(size=(n, n_inputs))
    w = rng.normal(size=(n_inputs, n_outputs)) / np.sqrt(n_inputs)
    y = one_hot(np.argmax(x @ w, axis=1), n_outputs)
    return Dataset("bench_gaussian", np.ascontiguousarray(x[:N_TRAIN]), np.ascontiguousarray(y[:N_TRAIN]),
                   np.ascontiguousarray(x[N_TRAIN:]), np.ascontiguousarray(y[N_TRAIN:]),
                   n_classes=n_outputs)


def run_spec(w: Workload, *, max_steps: int | None = None, every_steps: int = 1000,
             tau_x: int | None = None, tau_theta: int = TAU_THETA):
    """The workload's validated RunSpec (on its shape-carrier ``teacher`` data set, B6 on its
    scenario's; see the module docstring). ``max_steps`` and ``every_steps`` matter only to
    ``Simulation.run``; other time constants than the workload's are for profiling
    (hwsim.bench.profile)."""
    from hwsim.run_plan import RunSpec
    from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

    if w.cnn:
        return _cnn_run_spec(w, max_steps, every_steps, B6_TAU_X if tau_x is None else tau_x, tau_theta)
    n = N_TRAIN + N_TEST
    scenario = ScenarioSpec(
        name=f"bench-{w.key}-{w.name}",
        dataset={"name": "teacher", "n_samples": n, "n_inputs": w.n_inputs, "n_outputs": w.n_outputs,
                 "test_fraction": N_TEST / n},
        network={"hidden": list(w.hidden), "activation": "relu", "output_activation": "linear"},
        cost="mse", accuracy="r2", stop_at_target=False, max_cycles=10**15, max_steps=max_steps)
    firmware = FirmwareSpec(
        mode="discrete", tau_p=TAU_P, tau_x=TAU_X if tau_x is None else tau_x, tau_theta=tau_theta, eta=ETA,
        perturbation={"scheme": "cdma", "amplitude": AMPLITUDE,
                      "target": "nodes" if w.nodes else "weights"},
        # No target-crossing replay: the bench times the run's own steps and observations.
        evaluation={"every_steps": every_steps, "refine_crossing": False})
    # The default chip is the ideal one: exact arithmetic, one cycle per step (B5: a preset).
    return RunSpec(scenario=scenario, chip=ChipSpec() if w.chip is None else preset_chip(w.chip),
                   firmware=firmware).with_overrides({})


def preset_chip(name: str):
    """The ChipSpec of chips/NAME.yaml."""
    from hwsim.run_plan import load_chip
    from hwsim.spec.loader import find_spec_file

    path = find_spec_file(name, "chip", None)
    if path is None:
        raise ValueError(f"no chip preset {name!r} (chips/{name}.yaml)")
    return load_chip(path)


def _cnn_run_spec(w: Workload, max_steps, every_steps, tau_x, tau_theta):
    """B6: scenarios/fashion_mnist_cnn.yaml's network and firmware on the ideal chip."""
    from hwsim.run_plan import RunSpec, load_scenario
    from hwsim.spec.loader import find_spec_file
    from hwsim.spec.models import ChipSpec

    overrides = {"network.layers": [dict(x) for x in w.layers], "scenario.max_cycles": 10**15,
                 "scenario.stop_at_target": False, "firmware.tau_x": tau_x, "firmware.tau_theta": tau_theta,
                 "firmware.evaluation.every_steps": every_steps, "firmware.evaluation.refine_crossing": False}
    if max_steps is not None:
        overrides["scenario.max_steps"] = max_steps
    spec = load_scenario(find_spec_file(CNN_SCENARIO, "scenario", None), overrides)
    return RunSpec(scenario=spec.scenario, chip=ChipSpec(), firmware=spec.firmware).with_overrides({})


def build_simulation(w: Workload, seed: int = 0, **spec_options):
    """A hwsim Simulation of the workload at step 0, on the synthetic one-hot data set."""
    from hwsim.engine.simulation import Simulation

    spec = run_spec(w, **spec_options)
    if w.cnn:
        return _cnn_simulation(w, spec, seed)
    spec = spec.model_copy(update={"scenario": spec.scenario.model_copy(update={"accuracy": "argmax"})})
    sim = Simulation(spec, seed=seed, dataset=synthetic_dataset(w.n_inputs, w.n_outputs))
    cfg = sim.config[0]
    on_chip = w.chip is not None
    if int(cfg["n_samples"]) != N_TRAIN or bool(cfg["chip"]) != on_chip or (int(cfg["cpi"]) != 1) != on_chip:
        raise RuntimeError("benchmark simulation is not on " + (f"the {w.chip} chip" if on_chip else
                           "the ideal one-cycle chip") + " with 1,024 samples")
    return sim


def _cnn_simulation(w: Workload, spec, seed: int):
    """B6's Simulation: built with the synthetic images in place of the scenario's files."""
    from hwsim.engine.simulation import Simulation

    data = synthetic_images(w.image, w.n_outputs)
    sim = Simulation(spec, seed=seed, dataset=data)
    cfg = sim.config[0]
    if (sim.data is not data or int(cfg["n_samples"]) != N_TRAIN or cfg["chip"] or int(cfg["cpi"]) != 1
            or sim.layout.n_params != w.n_params):
        raise RuntimeError("benchmark simulation is not the CNN on the ideal one-cycle chip with 1,024 images")
    return sim
