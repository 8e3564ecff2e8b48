"""hwsim: a cycle-level emulator of neuromorphic chips that learn on-chip with multiplexed
gradient descent (MGD)."""

__version__ = "0.1.0"

from hwsim.api import GradientProbe, RunResult, probe_gradient, resume, run  # noqa: E402
from hwsim.spec import RunSpec, SpecError, load_scenario  # noqa: E402

__all__ = ["GradientProbe", "RunResult", "RunSpec", "SpecError", "__version__", "load_scenario",
           "probe_gradient", "resume", "run"]
