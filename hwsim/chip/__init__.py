"""The hardware: perturbation generators, cost unit, integrators, timing."""
