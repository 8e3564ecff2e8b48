"""What a run's state is (hwsim.engine.simulation.STATE_MEMBERS, one declaration): pickling
and checkpoints keep exactly the run state, so a run continued from either equals the
uninterrupted one bit for bit, mid-window and with perturbation pulses written into devices."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from helpers import tiny_scenario
from hwsim.engine import checkpoint as C
from hwsim.engine.simulation import CONSTANT, RUN, RUN_MEMBERS, SCRATCH, SCRATCH_ARRAYS, STATE_MEMBERS, Simulation
from hwsim.run_plan import load_scenario

STEPS = 300
SPLIT = 101        # neither a multiple of tau_theta (8) nor of tau_p (3): mid-window, mid-hold

# A device chip that writes theta~ into the weight devices (each perturbation costs pulses),
# holds each perturbation 3 steps, and multiplies C~ by a later perturbation (no delay
# compensation: the second generator copy, pert2, is in play).
DEVICE_INJECTED = {
    "chip.perturbation.injection": "weight_device",
    "firmware.perturbation.amplitude": 2.0,        # above one device step per weight (0.0625)
    "firmware.tau_p": 3,
    "firmware.tau_theta": 8,
    "chip.broadcast.latency": 5,
    "chip.integrator.delay_compensation": False,
    "chip.energy.perturbation": "1 fJ",
    "chip.energy.write": "10 fJ",
    "chip.energy.mvm": "1 pJ",
}


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_scenario(max_cycles=10**9, max_steps=STEPS + 100))
    return load_scenario(path, DEVICE_INJECTED, chip="rram_crossbar")


def assert_same_state(a: Simulation, b: Simulation):
    sa, sb = a.run_state(), b.run_state()
    assert set(sa) == set(sb)
    for name in sa:
        if name != "wall_seconds":
            np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)
    assert a.energy() == b.energy()


def test_the_spec_puts_perturbation_pulses_and_a_delay_in_play(spec):
    sim = Simulation(spec, seed=1)
    assert sim.config[0]["inject_device"] == 1 and sim.config[0]["delay_steps"] > 0
    sim.advance(SPLIT)
    assert sim.devices.pulses.sum() > 0 and sim.state.pert2_k[0] >= 0
    assert sim.step % 8 != 0 and sim.step % 3 != 0


def test_pickled_mid_window_run_continues_bit_for_bit(spec):
    straight = Simulation(spec, seed=1)
    straight.advance(STEPS)
    sim = Simulation(spec, seed=1)
    sim.advance(SPLIT)
    sim = pickle.loads(pickle.dumps(sim))
    sim.advance(STEPS - SPLIT)
    assert sim.energy()["perturbation"] > 0 and sim.energy()["writes"] > 0
    assert_same_state(straight, sim)


def test_checkpointed_mid_window_run_continues_bit_for_bit(spec, tmp_path):
    straight = Simulation(spec, seed=1)
    straight.advance(STEPS)
    sim = Simulation(spec, seed=1)
    sim.advance(SPLIT)
    path = tmp_path / "checkpoint.npz"
    digests = {"data_sha256": C.data_digest(sim), "constants_sha256": C.constants_digest(sim)}
    C.write_checkpoint(path, sim, spec_hash=spec.spec_hash, seed=1, budget=sim.budget, digests=digests)
    fresh = Simulation(spec, seed=1)
    C.restore(path, fresh, spec_hash=spec.spec_hash, seed=1, budget=fresh.budget)
    fresh.advance(STEPS - SPLIT)
    assert_same_state(straight, fresh)


def test_pickling_keeps_the_run_state_and_rebuilds_the_scratch(spec):
    sim = Simulation(spec, seed=1)
    sim.advance(SPLIT)
    state = sim.__getstate__()
    for _, path, kind in STATE_MEMBERS:
        top = path.split(".")[0]
        if kind == SCRATCH:
            assert top not in state, path
        else:
            assert top in state, path
    copy = pickle.loads(pickle.dumps(sim))
    for name, path in RUN_MEMBERS:
        np.testing.assert_array_equal(copy.member(path), sim.member(path), err_msg=name)
    assert set(copy.run_state()) == {n for n, _ in RUN_MEMBERS} | {"curve_int", "curve_float", "wall_seconds"}


def _members(obj):
    """(name, value) of an object's attributes, a namedtuple bundle's fields or a dict's entries."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return list(zip(obj._fields, obj))
    if isinstance(obj, dict):
        return [(str(k), v) for k, v in obj.items()]
    return list(vars(obj).items())


def _descend(value) -> bool:
    """Look inside hwsim objects, the kernel's namedtuple bundles (hwsim.kernels.state) and dicts."""
    if isinstance(value, dict) or (isinstance(value, tuple) and hasattr(value, "_fields")):
        return True
    return hasattr(value, "__dict__") and type(value).__module__.startswith("hwsim")


def _reachable_arrays(obj, prefix="", seen=None, depth=0):
    """Every numpy array reachable through attributes of hwsim objects, the fields of the
    kernel's bundles and dict entries, by attribute path."""
    seen = set() if seen is None else seen
    out = {}
    for attr, value in _members(obj):
        if id(value) in seen:
            continue
        path = f"{prefix}{attr}"
        if isinstance(value, np.ndarray):
            seen.add(id(value))
            out[path] = value
        elif depth < 3 and _descend(value):
            seen.add(id(value))
            out.update(_reachable_arrays(value, f"{path}.", seen, depth + 1))
    return out


def test_every_array_of_a_run_is_declared_and_constants_do_not_change(spec):
    """A kernel array added without declaring it fails here; so does a 'constant' that a run
    changes (it would be lost by a checkpoint)."""
    sim = Simulation(spec, seed=1)
    declared = {path: kind for _, path, kind in STATE_MEMBERS}
    names = [n for n, _, _ in STATE_MEMBERS]
    assert len(set(names)) == len(names) and len(declared) == len(STATE_MEMBERS)
    # __getstate__ drops whole top-level attributes: one holding scratch holds nothing else
    scratch_tops = {path.split(".")[0] for path in SCRATCH_ARRAYS}
    assert all(path.split(".")[0] not in scratch_tops for path, kind in declared.items() if kind != SCRATCH)
    by_id = {id(sim.member(path)): path for path in declared}
    # An array held under two names (sim.gen_gain is gens.gain) is covered by the member that
    # holds it, a bundle or object declared whole included.
    for path in declared:
        member = sim.member(path)
        if _descend(member):
            for array in _reachable_arrays(member).values():
                by_id.setdefault(id(array), path)
    arrays = _reachable_arrays(sim)
    for path, array in arrays.items():
        covered = id(array) in by_id or any(path.startswith(f"{d}.") for d in declared)
        assert covered, f"{path} is in no STATE_MEMBERS entry"
    before = {path: a.copy() for path, a in arrays.items()}
    sim.advance(STEPS)
    for path, array in _reachable_arrays(sim).items():
        owner = by_id.get(id(array)) or next(d for d in declared if path.startswith(f"{d}."))
        if declared[owner] == CONSTANT:
            np.testing.assert_array_equal(array, before[path], err_msg=f"constant {path} changed")
    assert {kind for kind in declared.values()} == {RUN, SCRATCH, CONSTANT}
