"""hwsim: a cycle-level emulator of neuromorphic chips that learn on-chip with multiplexed
gradient descent (MGD).

The names below load on first use (PEP 562), so that a process that only needs the engine
(a Dask worker, a benchmark child) does not pay for pandas and the rest at start-up.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_EXPORTS = {"GradientProbe": "hwsim.api", "RunResult": "hwsim.api", "probe_gradient": "hwsim.api",
            "resume": "hwsim.api", "run": "hwsim.api", "RunSpec": "hwsim.run_plan", "SpecError": "hwsim.spec",
            "load_scenario": "hwsim.run_plan", "ResolvedRun": "hwsim.run_plan", "resolve": "hwsim.run_plan"}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"hwsim.{name}") is not None:   # a subpackage: hwsim.results
        return importlib.import_module(f"hwsim.{name}")
    raise AttributeError(f"module 'hwsim' has no attribute {name!r}")


def __dir__():
    return __all__
