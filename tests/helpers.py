"""Small run specs built in code for the core tests (no YAML needed)."""

from __future__ import annotations

import contextlib
import signal
import textwrap
from pathlib import Path

from hwsim.run_plan import RunSpec
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


def tiny_scenario(eta=0.3, every_steps=500, cost="cross_entropy", target=0.95, max_cycles=3000,
                  max_steps=None) -> str:
    """YAML of a tiny scenario: 8x8 digits on a 64-8-10 network, tau_x = tau_theta = 4 (a run
    takes a fraction of a second); written by ``write``."""
    text = f"""\
        kind: scenario
        name: tiny
        chip: ideal_digital
        firmware: mgd_discrete
        overrides:
          firmware.tau_x: 4
          firmware.tau_theta: 4
          firmware.eta: {eta}
          firmware.evaluation.every_steps: {every_steps}
        dataset: {{name: digits}}
        network: {{hidden: [8], activation: relu}}
        cost: {cost}
        target_accuracy: {target}
        max_cycles: {max_cycles}
        """
    text = textwrap.dedent(text)
    return text if max_steps is None else text + f"max_steps: {max_steps}\n"


def write(folder, name: str, text: str) -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


@contextlib.contextmanager
def default_sigint():
    """Ctrl-C with Python's default handler for the block, and so the default action in the
    processes it starts: a shell starts background jobs with SIGINT ignored, and tests of
    Ctrl-C must not inherit that."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
