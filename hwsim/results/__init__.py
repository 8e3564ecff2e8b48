"""Run directories: manifest, curve and summary, written atomically; loading them back."""

from hwsim.results.rundir import load, write_run

__all__ = ["load", "write_run"]
