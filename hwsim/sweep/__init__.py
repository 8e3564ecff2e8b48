"""Design-space sweeps: a sweep file (``kind: sweep``) -> points -> runs on Dask -> a table.

``plan_sweep(path)`` reads and validates the file and resolves every point;
``run_sweep(plan, out)`` runs the points not yet finished in ``out`` and writes the tables.
"""

from hwsim.sweep.execute import SweepError, SweepOutcome, default_sweep_dir, run_point, run_sweep
from hwsim.sweep.plan import Point, SweepPlan, plan_sweep, point_key

__all__ = ["Point", "SweepError", "SweepOutcome", "SweepPlan", "default_sweep_dir", "plan_sweep",
           "point_key", "run_point", "run_sweep"]
