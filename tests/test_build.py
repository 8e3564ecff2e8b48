"""The engine's builder (hwsim.engine.build): the resolved run's layout and timing are used,
not rebuilt; the path chosen is recorded on the run's plan; a run built from a RunSpec and one
built from its ResolvedRun are the same run."""

import numpy as np

from helpers import make_spec
from hwsim.engine.simulation import Simulation
from hwsim.run_plan import resolve


def test_the_resolved_layout_and_timing_are_the_runs():
    plan = resolve(make_spec(perturbation={"scheme": "cdma"}))
    sim = Simulation(plan, seed=1)
    assert sim.layout is plan.layout and sim.timing is plan.timing
    assert sim.plan.path == sim.path.name == "sign" and plan.path is None    # plan itself unchanged


def test_a_spec_and_its_resolved_run_give_the_same_run():
    spec = make_spec(perturbation={"scheme": "walsh", "target": "nodes"})
    a, b = Simulation(spec, seed=2), Simulation(resolve(spec), seed=2)
    a.advance(200)
    b.advance(200)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.counts() == b.counts() and a.run_spec == b.run_spec
