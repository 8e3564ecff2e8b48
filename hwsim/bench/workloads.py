"""The standard benchmark workloads B1-B4 (DESIGN section 5).

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

``TINY`` holds the same four workloads on networks of a few dozen parameters: for the smoke
test of the harness, their figures mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_TRAIN = 1024          # DESIGN: a fixed synthetic data set of 1,024 Gaussian samples
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

    @property
    def label(self) -> str:
        return f"{self.key} {self.name}"

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_inputs, *self.hidden, self.n_outputs)

    @property
    def network(self) -> str:
        return "-".join(str(s) for s in self.sizes)

    @property
    def n_params(self) -> int:
        """P: weights and biases (what is updated, whatever is perturbed)."""
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def n_nodes(self) -> int:
        """K: neurons (what node perturbation perturbs)."""
        return sum(self.sizes[1:])

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

TINY = (
    Workload("B1", "small-wp", 8, (6,), 3, False, 20.0),
    Workload("B2", "medium-wp", 12, (8,), 4, False, 15.0),
    Workload("B3", "medium-np", 12, (8,), 4, True, 50.0),
    Workload("B4", "large-wp", 12, (8, 8), 4, False, 15.0),
)


def workloads(tiny: bool = False) -> dict[str, Workload]:
    """The four workloads by key (B1..B4), at full size or tiny."""
    return {w.key: w for w in (TINY if tiny else WORKLOADS)}


def select(keys: str | None, tiny: bool = False) -> list[Workload]:
    """The workloads named in a comma-separated list ("B1,B3"; case-insensitive; the full
    label "B1 small-wp" or the name "small-wp" also work); all of them for None or "".
    ValueError names the unknown ones."""
    table = workloads(tiny)
    if not keys or not keys.strip():
        return list(table.values())
    chosen, unknown = [], []
    for raw in keys.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        match = [w for w in table.values() if item in (w.key.lower(), w.name, w.label.lower())]
        if not match:
            unknown.append(raw.strip())
        elif match[0] not in chosen:
            chosen.append(match[0])
    if unknown:
        raise ValueError(f"unknown workload{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(expected some of {', '.join(table)})")
    return sorted(chosen, key=lambda w: w.key)


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
             tau_x: int = TAU_X, tau_theta: int = TAU_THETA):
    """The workload's validated RunSpec (on its shape-carrier ``teacher`` data set; see the
    module docstring). ``max_steps`` and ``every_steps`` matter only to ``Simulation.run``;
    other time constants than the workload's are for profiling (hwsim.bench.profile)."""
    from hwsim.run_plan import RunSpec
    from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

    n = N_TRAIN + N_TEST
    scenario = ScenarioSpec(
        name=f"bench-{w.key}-{w.name}",
        dataset={"name": "teacher", "n_samples": n, "n_inputs": w.n_inputs, "n_outputs": w.n_outputs,
                 "test_fraction": N_TEST / n},
        network={"hidden": list(w.hidden), "activation": "relu", "output_activation": "linear"},
        cost="mse", accuracy="r2", stop_at_target=False, max_cycles=10**15, max_steps=max_steps)
    firmware = FirmwareSpec(
        mode="discrete", tau_p=TAU_P, tau_x=tau_x, tau_theta=tau_theta, eta=ETA,
        perturbation={"scheme": "cdma", "amplitude": AMPLITUDE,
                      "target": "nodes" if w.nodes else "weights"},
        # No target-crossing replay: the bench times the run's own steps and observations.
        evaluation={"every_steps": every_steps, "refine_crossing": False})
    # The default chip is the ideal one: exact arithmetic, one cycle per step.
    return RunSpec(scenario=scenario, chip=ChipSpec(), firmware=firmware).with_overrides({})


def build_simulation(w: Workload, seed: int = 0, **spec_options):
    """A hwsim Simulation of the workload at step 0, on the synthetic one-hot data set."""
    from hwsim.engine.simulation import Simulation
    from hwsim.kernels.state import Data

    spec = run_spec(w, **spec_options)
    spec = spec.model_copy(update={"scenario": spec.scenario.model_copy(update={"accuracy": "argmax"})})
    sim = Simulation(spec, seed=seed)
    data = synthetic_dataset(w.n_inputs, w.n_outputs)
    old = sim.data
    for a in ("x_train", "y_train", "x_test", "y_test"):
        if getattr(old, a).shape != getattr(data, a).shape:   # the kernel sized its buffers on these
            raise RuntimeError(f"benchmark data set {a} has shape {getattr(data, a).shape}, the "
                               f"simulation was built for {getattr(old, a).shape}")
    cfg = sim.config[0]
    if int(cfg["n_samples"]) != N_TRAIN or cfg["chip"] or int(cfg["cpi"]) != 1:
        raise RuntimeError("benchmark simulation is not the ideal one-cycle chip on 1,024 samples")
    sim.data = data
    sim.kernel_data = Data(data.x_train, data.y_train)
    return sim
