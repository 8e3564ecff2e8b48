"""Small run specs built in code for the core tests (no YAML needed)."""

from __future__ import annotations

from hwsim.spec.loader import RunSpec
from hwsim.spec.models import ChipSpec, FirmwareSpec, ScenarioSpec

SCHEMES = ("tdma", "cdma", "walsh", "fdma", "gaussian")


def make_spec(dataset=None, network=None, chip=None, cost="mse", accuracy="argmax", **firmware) -> RunSpec:
    """A RunSpec from plain dicts; ``firmware`` keys go to FirmwareSpec (perturbation as a dict)."""
    dataset = dataset or {"name": "teacher", "n_samples": 64, "n_inputs": 6, "n_outputs": 3,
                          "teacher_hidden": 5}
    if dataset["name"] == "teacher":
        accuracy = "r2"
    if dataset["name"] == "parity":
        accuracy = "threshold"
    network = network or {"hidden": [5], "activation": "tanh"}
    sc = ScenarioSpec(dataset=dataset, network=network, cost=cost, accuracy=accuracy,
                      stop_at_target=False)
    return RunSpec(scenario=sc, chip=ChipSpec(**(chip or {})), firmware=FirmwareSpec(**firmware))
