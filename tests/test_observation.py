"""Observation in chip time and the target crossing located between observations
(hwsim.engine.observer): the located crossing is the one a run observed after every step
finds, the refinement leaves the run as it was, and blocks, chunks, pickling, checkpoints
and resume do not change it."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import hwsim
from helpers import make_spec, write
from hwsim.api import summarise
from hwsim.engine import checkpoint as C
from hwsim.engine import observer
from hwsim.engine.simulation import Simulation
from hwsim.engine.trace import Trace
from hwsim.run_plan import load_scenario
from hwsim.spec.errors import SpecError

# A chip whose steps take 3, 5 or 14 cycles (baseline measurements, blocking updates), so chip
# time and steps differ; the teacher task's accuracy (R^2) rises without dipping back below
# 0.6 for hundreds of steps after it first reaches it (at step 1072, cycle 7236). An energy
# table, so that the joules to target are measured (without one they are null).
CHIP = {"inference": {"cycles_per_inference": 3, "baseline_cycles": 2}, "update": {"overhead_cycles": 11},
        "energy": {"mvm": "1 pJ"}}
TARGET = 0.6
STEPS = 2000
CADENCES = [{"every_steps": 100}, {"every_steps": 500}, {"every_cycles": 1000},
            {"every_seconds": "2 us"}, {"points": 4}]


def spec_with(evaluation=None, **scenario):
    spec = make_spec(chip=CHIP, eta=0.1, tau_x=2, tau_theta=4, evaluation=evaluation or {"every_steps": 1})
    return spec.with_overrides({"scenario.max_cycles": 10**9, "scenario.max_steps": STEPS,
                                "scenario.target_accuracy": TARGET, "scenario.stop_at_target": True,
                                **{f"scenario.{k}": v for k, v in scenario.items()}})


@pytest.fixture(scope="module")
def every_step():
    """The reference: a run observed after every step, to its first observation at the target."""
    res = hwsim.run(spec_with(), seed=0)
    assert res.summary["status"] == "reached_target"
    return res


def comparable(summary: dict) -> dict:
    out = dict(summary)
    out.pop("wall_seconds")
    out.pop("compile_seconds", None)
    return out


@pytest.mark.parametrize("evaluation", CADENCES, ids=lambda e: "-".join(map(str, next(iter(e.items())))))
def test_the_located_crossing_equals_a_run_observed_every_step(every_step, evaluation):
    curve = every_step.curve
    crossing = curve.iloc[-1]
    assert crossing.test_accuracy >= TARGET > curve.test_accuracy.iloc[-2]
    s = hwsim.run(spec_with(evaluation), seed=0).summary
    assert s["status"] == "reached_target"
    assert s["target_crossing"]["located_by"] == "refinement"
    assert s["target_crossing"]["observed_step"] > crossing.step      # found between observations
    assert s["steps_to_target"] == crossing.step == every_step.summary["steps_to_target"]
    assert s["cycles_to_target"] == crossing.cycle
    assert s["samples_to_target"] == crossing.samples_seen
    assert s["seconds_to_target"] == pytest.approx(crossing.cycle * 1e-9, rel=1e-12)
    assert s["energy_joules_to_target"] == crossing.energy_joules
    assert s["target_crossing"]["test_accuracy"] == crossing.test_accuracy
    # The crossing step's own cycles: the chip's resolution, under 1 % of the time to target.
    resolution = int(crossing.cycle - curve.cycle.iloc[-2])
    assert s["cycles_to_target_resolution"] == resolution <= 0.01 * s["cycles_to_target"]
    assert every_step.summary["cycles_to_target_resolution"] == resolution


@pytest.mark.parametrize("evaluation", CADENCES[:3], ids=lambda e: "-".join(map(str, next(iter(e.items())))))
def test_where_accuracy_dips_back_the_located_step_is_still_a_crossing_of_the_every_step_run(evaluation):
    """At eta 0.3 accuracy first reaches 0.55 at step 676 and falls back below it: observed
    every 100 steps or every 1,000 cycles the run misses that excursion and locates a later
    crossing (steps 724 and 796), still a step at which the run observed every step goes
    from below the target to at or above it, between the observation before and the
    observation at the target."""
    def spec(ev, **scenario):
        return make_spec(chip=CHIP, eta=0.3, tau_x=2, tau_theta=4, evaluation=ev).with_overrides({
            "scenario.max_cycles": 10**9, "scenario.target_accuracy": 0.55, **scenario})
    ref = hwsim.run(spec({"every_steps": 1}, **{"scenario.max_steps": 1200}), seed=0).curve
    acc = ref.test_accuracy.to_numpy()
    res = hwsim.run(spec(evaluation, **{"scenario.stop_at_target": True, "scenario.max_steps": 1200}), seed=0)
    s, observed = res.summary, res.curve
    step = s["steps_to_target"]
    assert acc[step] >= 0.55 > acc[step - 1] and step >= np.argmax(acc >= 0.55) == 676
    assert s["cycles_to_target"] == ref.cycle.iloc[step]
    assert s["cycles_to_target_resolution"] == ref.cycle.iloc[step] - ref.cycle.iloc[step - 1]
    assert observed.step.iloc[-2] < step <= observed.step.iloc[-1] == s["target_crossing"]["observed_step"]


def test_chip_time_observations_fall_after_the_first_step_ending_at_each_multiple(every_step):
    res = hwsim.run(spec_with({"every_cycles": 1000}, stop_at_target=False), seed=0)
    ends = every_step.curve.cycle.to_numpy()            # every step's end, to the crossing
    observed = res.curve.cycle.to_numpy()[1:]
    assert res.summary["observation_cadence"] == "every 1000 cycles"
    assert res.summary["observation_interval_steps"] is None
    assert res.summary["observation_interval_cycles"] == 1000
    inside = observed[observed <= ends[-1]]
    assert len(inside) == ends[-1] // 1000
    for k, cycle in enumerate(inside, start=1):
        first = ends[np.argmax(ends >= 1000 * k)]
        assert cycle == first
    # Points over the run: max_steps x 3 cycles / 4 = an observation every 1500 cycles.
    four = hwsim.run(spec_with({"points": 4}, stop_at_target=False), seed=0).summary
    assert four["observation_interval_cycles"] == 1500 and four["observations"] >= 5


def test_the_refinement_leaves_the_run_as_it_was():
    """Curve, weights and every figure but the located crossing equal the unrefined run's."""
    both = {}
    for refine in (True, False):
        spec = spec_with({"every_steps": 500, "refine_crossing": refine}, stop_at_target=False)
        both[refine] = hwsim.run(spec, seed=0)
    on, off = both[True], both[False]
    assert on.curve.equals(off.curve)
    np.testing.assert_array_equal(on.weights, off.weights)
    assert off.summary["target_crossing"]["located_by"] == "observation"
    first = off.curve[off.curve.test_accuracy >= TARGET].iloc[0]
    assert off.summary["cycles_to_target"] == first.cycle
    before = off.curve[off.curve.step < first.step].iloc[-1]
    assert off.summary["cycles_to_target_resolution"] == first.cycle - before.cycle
    assert on.summary["cycles_to_target"] < off.summary["cycles_to_target"]
    crossing_keys = {"cycles_to_target", "seconds_to_target", "steps_to_target", "samples_to_target",
                     "energy_joules_to_target", "cycles_to_target_resolution", "target_crossing",
                     "wall_seconds", "compile_seconds", "spec_hash"}
    assert {k: v for k, v in on.summary.items() if k not in crossing_keys} == \
        {k: v for k, v in off.summary.items() if k not in crossing_keys}


def test_no_target_no_crossing_and_a_target_met_at_the_start_is_exact():
    never = hwsim.run(spec_with({"every_steps": 500}, target_accuracy=0.99, max_steps=600), seed=0).summary
    assert never["cycles_to_target"] is None and never["cycles_to_target_resolution"] is None
    digits = make_spec(dataset={"name": "digits"}, network={"hidden": [8], "activation": "relu"},
                       cost="cross_entropy", evaluation={"every_steps": 50})
    at_once = hwsim.run(digits.with_overrides({"scenario.target_accuracy": 0.01, "scenario.max_cycles": 200}),
                        seed=0).summary
    assert at_once["cycles_to_target"] == 0 and at_once["cycles_to_target_resolution"] == 0


def test_blocks_chunks_pickling_and_checkpoints_do_not_move_the_crossing(tmp_path):
    spec = spec_with({"every_steps": 500})
    straight = Simulation(spec, seed=0).run()
    expected = comparable(summarise(straight, spec))
    assert expected["target_crossing"]["located_by"] == "refinement"

    small_blocks = Simulation(spec, seed=0, max_block_steps=7).run()
    assert comparable(summarise(small_blocks, spec)) == expected
    chunked = Simulation(spec, seed=0)
    chunked._chunks = 3
    assert comparable(summarise(chunked.run(), spec)) == expected

    # Stopped between the last observation below the target and the one at it (the replay
    # starts from state kept before the stop): pickled, or checkpointed and restored.
    def stopped_at(step):
        sim = Simulation(spec, seed=0)

        class Stop(Exception):
            pass

        def boundary(s):
            if s.step >= step:
                raise Stop()
        with pytest.raises(Stop):
            sim.run(boundary=(13, boundary))
        assert not sim.crossing.found
        return sim

    observed = expected["target_crossing"]["observed_step"]
    resumed = pickle.loads(pickle.dumps(stopped_at(observed - 200))).run()
    assert comparable(summarise(resumed, spec)) == expected

    sim = stopped_at(observed - 100)
    path = tmp_path / C.CHECKPOINT_FILE
    digests = {"data_sha256": C.data_digest(sim), "constants_sha256": C.constants_digest(sim)}
    C.write_checkpoint(path, sim, spec_hash=spec.spec_hash, seed=0, budget=sim.budget, digests=digests)
    fresh = Simulation(spec, seed=0)
    C.restore(path, fresh, spec_hash=spec.spec_hash, seed=0, budget=fresh.budget)
    assert comparable(summarise(fresh.run(), spec)) == expected


def test_a_run_interrupted_before_the_crossing_resumes_to_the_same_summary(tmp_path):
    spec = spec_with({"every_steps": 500})
    straight = hwsim.run(spec, seed=0, out=tmp_path / "straight")
    observed = straight.summary["target_crossing"]["observed_step"]

    def stop_before_the_target(sim, point):
        if point.step == observed - 500:
            raise hwsim.api.RunInterrupted()

    part = hwsim.run(spec, seed=0, out=tmp_path / "r", progress=stop_before_the_target)
    assert part.summary["status"] == "interrupted" and part.summary["cycles_to_target"] is None
    done = hwsim.api.resume(tmp_path / "r")
    assert comparable(done.summary) == comparable(straight.summary)
    for run_dir in ("straight", "r"):
        written = json.loads((tmp_path / run_dir / "summary.json").read_text())
        assert written["cycles_to_target"] == straight.summary["cycles_to_target"]
    assert (tmp_path / "straight" / "curve.csv").read_bytes() == (tmp_path / "r" / "curve.csv").read_bytes()


def test_the_trace_shows_the_crossing_step_and_no_replayed_steps():
    spec = spec_with({"every_steps": 500}, max_steps=1200, stop_at_target=False)
    sim = Simulation(spec, seed=0)
    sim.trace = Trace()
    sim.run()
    s = summarise(sim, spec)
    crossed = [e for e in sim.trace.events if e[0] == "target crossed"]
    assert crossed == [("target crossed", "observer", s["cycles_to_target"] - s["cycles_to_target_resolution"],
                        s["cycles_to_target_resolution"], s["steps_to_target"])]
    inferences = [e for e in sim.trace.events if e[0] == "infer"]
    assert [e[4] for e in inferences] == list(range(1200))    # each step once: the replay is not traced


def test_cadence_from_seconds_and_points_in_cycles():
    ev = make_spec(evaluation={"every_seconds": "10 us"}).firmware.evaluation
    assert observer.cadence_for(ev, 1e-9, 10**6, None, 3).cycles == 10_000
    ev = make_spec(evaluation={"every_seconds": "2.5 ns"}).firmware.evaluation
    assert observer.cadence_for(ev, 1e-9, 10**6, None, 3).cycles == 3        # rounded up
    ev = make_spec(evaluation={"points": 7}).firmware.evaluation
    assert observer.cadence_for(ev, 1e-9, 700, None, 3).cycles == 100
    assert observer.cadence_for(ev, 1e-9, 10**9, 70, 3).cycles == 30          # max_steps ends it first
    plain = observer.cadence_for(make_spec().firmware.evaluation, 1e-9, 10**6, None, 3)
    assert plain.cycles is None and plain.text == "every 1000 steps"


def test_two_chip_time_cadences_are_a_spec_error_naming_the_line(tmp_path):
    write(tmp_path, "fw.yaml", """\
        kind: firmware
        name: fw
        evaluation:
          every_cycles: 5000
          points: 200
        """)
    scenario = write(tmp_path, "two.yaml", "kind: scenario\nname: two\nfirmware: fw.yaml\n")
    with pytest.raises(SpecError) as err:
        load_scenario(scenario)
    text = str(err.value)
    assert "fw.yaml:3:1: firmware.evaluation:" in text, text   # the evaluation block
    assert "more than one chip-time cadence (got every_cycles and points" in text
    write(tmp_path, "fw.yaml", "kind: firmware\nname: fw\nevaluation: {points: 0}\n")
    with pytest.raises(SpecError, match=r"fw.yaml:3.*evaluation.points"):
        load_scenario(scenario)
