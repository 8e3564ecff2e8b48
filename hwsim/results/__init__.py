"""Results: run directories (manifest, curve, summary; atomic writes), tables of runs and
sweeps, loading them back, plots and reports."""

from hwsim.results.rundir import write_run
from hwsim.results.tables import load, load_curves

__all__ = ["load", "load_curves", "write_run"]
