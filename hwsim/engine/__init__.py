"""The engine: builds a run's chip (build), chooses its kernel path (paths), holds and drives it
(simulation: SimPy paces the numba kernel blocks and the observer), observes it (observer),
checkpoints it (checkpoint) and traces it (trace)."""
