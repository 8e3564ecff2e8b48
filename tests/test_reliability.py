"""Reliability (issue 10): checkpoint and resume bit for bit, determinism, divergence, signals,
I/O faults, hostile checkpoints, data files and specs.

The run-level properties are checked byte for byte: summary.json (minus wall_seconds) and
curve.csv of an interrupted-and-resumed run equal those of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_files import MNIST_SCENARIO, idx_bytes
from helpers import tiny_scenario
import hwsim
from hwsim.api import summarise
from hwsim.cli import main
from hwsim.engine import checkpoint as C
from hwsim.engine.simulation import SCRATCH_ARRAYS, Simulation
from hwsim.run_plan import load_scenario

ROOT = Path(__file__).resolve().parents[1]

TINY = tiny_scenario(every_steps=100, target=0.99, max_cycles=100_000_000, max_steps=600)

# Chips x firmware x circuit options: every kind of run state the kernels keep.
CONFIGS = {
    "ideal-discrete": ({}, {}),
    "ideal-analog": ({"firmware": "mgd_analog"}, {}),
    "node-faithful": ({"firmware": "mgd_node_perturbation"}, {}),
    "node-idealised": ({"firmware": "mgd_node_perturbation"},
                       {"firmware.perturbation.node_activity": "idealised"}),
    "node-minibatch": ({"firmware": "mgd_node_perturbation"}, {"firmware.tau_theta": 12}),
    "adam-step-schedules": ({"firmware": "mgd_adam"},
                            {"firmware.learning_rate_schedule.kind": "step",
                             "firmware.learning_rate_schedule.step_size": 37,
                             "firmware.amplitude_schedule.kind": "inverse_time",
                             "firmware.amplitude_schedule.decay": 0.01}),
    "momentum-walsh": ({"firmware": "mgd_momentum"}, {"firmware.perturbation.scheme": "walsh"}),
    "fdma-slow-perturbation": ({}, {"firmware.perturbation.scheme": "fdma", "firmware.tau_p": 3}),
    "cdma-signs-slow-perturbation": ({}, {"firmware.perturbation.scheme": "cdma", "firmware.tau_p": 3}),
    "rram": ({"chip": "rram_crossbar"}, {}),
    "pcm-drift": ({"chip": "pcm_hermes_like"}, {}),
    "ecram-analog": ({"chip": "ecram_training", "firmware": "mgd_analog"}, {}),
    "photonic": ({"chip": "photonic_mzi"}, {}),
    "soen": ({"chip": "soen_superconducting"}, {}),
    "rram-nonblocking-injected": ({"chip": "rram_crossbar"},
                                  {"chip.update.blocking": False, "chip.update.pulse_duration": "40 ns",
                                   "chip.perturbation.injection": "weight_device",
                                   "chip.update.parallelism": "row_serial"}),
    "bus-latency-no-compensation": ({}, {"chip.input.values_per_cycle": 7, "chip.input.double_buffering": True,
                                         "chip.broadcast.latency": 5,
                                         "chip.integrator.delay_compensation": False,
                                         "chip.cost_unit.noise_sigma": 0.01}),
}


def tiny_spec(tmp_path, name="ideal-discrete", extra=None):
    which, sets = CONFIGS[name]
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return load_scenario(path, {**sets, **(extra or {})}, **which)


class Stop(Exception):
    pass


def run_until(sim, step, poll):
    """Run ``sim`` and stop it at its first resumable point at or after ``step``."""
    def boundary(s):
        if s.step >= step:
            raise Stop()
    try:
        sim.run(boundary=(poll, boundary))
    except Stop:
        return True
    return False


def comparable(sim, spec):
    s = summarise(sim, spec)
    s.pop("wall_seconds")
    s.pop("compile_seconds", None)
    return s


def assert_same_run(a, b, spec):
    sa, sb = a.run_state(), b.run_state()
    for name in sa:
        if name != "wall_seconds":
            np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)
    assert comparable(a, spec) == comparable(b, spec)


def write_checkpoint(sim, spec, seed, path):
    """A checkpoint of ``sim`` at ``path``, with the digests ``hwsim run`` records."""
    digests = {"data_sha256": C.data_digest(sim), "constants_sha256": C.constants_digest(sim)}
    C.write_checkpoint(path, sim, spec_hash=spec.spec_hash, seed=seed, budget=sim.budget, digests=digests)


def checkpoint_and_restore(sim, spec, seed, path):
    write_checkpoint(sim, spec, seed, path)
    fresh = Simulation(spec, seed)
    C.restore(path, fresh, spec_hash=spec.spec_hash, seed=seed, budget=fresh.budget)
    return fresh


# --------------------------------------------------------------------------- resume, in process


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_resumed_run_equals_the_uninterrupted_one_bit_for_bit(tmp_path, name):
    """Stopped at three random resumable points, checkpointed, restored into a fresh run each
    time: the same weights, device states, counters, curve and summary as one straight run."""
    spec = tiny_spec(tmp_path, name)
    straight = Simulation(spec, seed=3).run()
    rng = random.Random(name)
    sim = Simulation(spec, seed=3)
    for stop_at in sorted(rng.sample(range(1, straight.step - 70), 3)):
        poll = rng.choice([1, 7, 64])
        assert run_until(sim, stop_at, poll)
        sim = checkpoint_and_restore(sim, spec, 3, tmp_path / "checkpoint.npz")
    sim.run()
    assert_same_run(straight, sim, spec)


def test_nothing_outside_run_state_changes_during_a_run(tmp_path):
    """Every array the run mutates is in Simulation.run_state() or declared scratch: a kernel
    array added later without listing it there fails here (resume would silently differ)."""
    for name in ("ideal-discrete", "node-minibatch", "adam-step-schedules", "rram-nonblocking-injected",
                 "pcm-drift", "ecram-analog", "bus-latency-no-compensation"):
        spec = tiny_spec(tmp_path, name)
        sim = Simulation(spec, seed=1)
        arrays = _arrays(sim)
        before = {key: a.copy() for key, a in arrays.items()}
        sim.run()
        state_ids = {id(v) for v in sim.run_state().values() if isinstance(v, np.ndarray)}
        scratch = {id(sim.member(path)) for path in SCRATCH_ARRAYS}
        for key, a in arrays.items():
            changed = _changed(a, before[key])
            if changed:
                assert id(a) in state_ids or id(a) in scratch, f"{name}: {key} changed but is not run state"


def _changed(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return True
    if a.dtype.names:                 # a record (counters, floats, config): compared bit for bit
        return a.tobytes() != b.tobytes()
    return not np.array_equal(a, b, equal_nan=True)


def _members(obj):
    """(name, value) of an object's attributes, a namedtuple bundle's fields or a dict's entries."""
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return list(zip(obj._fields, obj))
    if isinstance(obj, dict):
        return [(str(k), v) for k, v in obj.items()]
    return list(vars(obj).items())


def _arrays(sim, prefix="sim", seen=None, depth=0):
    """Every array reachable from the run through hwsim objects, the kernel's namedtuple
    bundles (hwsim.kernels.state) and dicts."""
    seen = set() if seen is None else seen
    out = {}
    for attr, value in _members(sim):
        if id(value) in seen:
            continue
        bundle = isinstance(value, dict) or (isinstance(value, tuple) and hasattr(value, "_fields"))
        if isinstance(value, np.ndarray):
            seen.add(id(value))
            out[f"{prefix}.{attr}"] = value
        elif depth < 2 and (bundle or (hasattr(value, "__dict__") and type(value).__module__.startswith("hwsim"))):
            seen.add(id(value))
            out.update(_arrays(value, f"{prefix}.{attr}", seen, depth + 1))
    return out


def test_block_size_one_and_automatic_give_the_same_summary(tmp_path):
    spec = tiny_spec(tmp_path, "rram-nonblocking-injected")
    one = Simulation(spec, seed=2, max_block_steps=1).run()
    auto = Simulation(spec, seed=2).run()
    assert_same_run(one, auto, spec)


def test_checkpoint_reports_its_run(tmp_path):
    spec = tiny_spec(tmp_path)
    sim = Simulation(spec, seed=0)
    assert run_until(sim, 250, 50)
    path = tmp_path / "c.npz"
    write_checkpoint(sim, spec, 0, path)
    header, state = C.read_checkpoint(path)
    assert (header["step"], header["cycle"], header["seed"], header["spec_hash"]) == (250, 250, 0, spec.spec_hash)
    assert header["hwsim_version"] == hwsim.__version__ and header["format_version"] == C.FORMAT_VERSION
    assert set(state) == set(sim.run_state())
    # a plain .npz: numpy reads it without pickles
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["theta"], sim.theta)


# --------------------------------------------------------------------------- divergence


def test_forced_divergence_exits_3_with_the_documented_summary(tmp_path, capsys):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY.replace("cost: cross_entropy", "cost: mse"))
    out = tmp_path / "r"
    code = main(["run", str(scen), "--set", "firmware.eta=1e200", "--out", str(out), "--quiet"])
    assert code == 3
    printed = capsys.readouterr().out
    assert "diverged at cycle" in printed and "firmware.eta" in printed
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "diverged"
    d = s["divergence"]
    assert set(d) == {"step", "cycle", "seconds", "quantity", "non_finite", "hint"}
    assert d["quantity"] in ("weights", "integrators", "optimiser_state", "cost") and d["quantity"] in d["non_finite"]
    assert d["cycle"] == s["cycles_simulated"] and d["step"] == s["steps_simulated"]
    assert "firmware.eta" in d["hint"] and "1e+200" in d["hint"] and "amplitude" in d["hint"]
    curve = (out / "curve.csv").read_text().splitlines()
    assert len(curve) >= 3 and curve[-1].startswith(f"{d['step']},{d['cycle']},")   # kept up to there
    assert not (out / C.CHECKPOINT_FILE).exists()


def test_non_finite_integrators_are_caught_at_the_next_observation_whatever_the_blocks(tmp_path):
    """A NaN integrator (updates far away, so the cost stays finite) is reported as such, at
    the same cycle with blocks of 1, automatic blocks and a checkpoint poll every 7 steps."""
    spec = tiny_spec(tmp_path, extra={"firmware.tau_theta": 10**6, "firmware.tau_x": 4})
    reports = []
    for block, poll in ((1, None), (None, None), (None, 7)):
        sim = Simulation(spec, seed=0, max_block_steps=block)
        sim.advance(130)
        sim.g_int[5] = np.nan
        sim.run(boundary=(poll, lambda s: None) if poll else None)
        reports.append(sim.divergence)
    assert reports[0] == reports[1] == reports[2]
    assert reports[0]["quantity"] == "integrators" and reports[0]["step"] == 200


# --------------------------------------------------------------------------- hostile checkpoints


@pytest.fixture(scope="module")
def good_checkpoint():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tiny_spec(tmp, "adam-step-schedules")
        sim = Simulation(spec, seed=0)
        assert run_until(sim, 333, 1)
        path = tmp / "checkpoint.npz"
        write_checkpoint(sim, spec, 0, path)
        header, state = C.read_checkpoint(path)
        yield path.read_bytes(), state


def _reads_back_or_fails_cleanly(blob: bytes, state: dict):
    """A mangled checkpoint raises CheckpointError naming the file, or reads back exactly the
    original state (a flip in a zip field nothing depends on, such as a file date)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.npz"
        path.write_bytes(blob)
        try:
            _, got = C.read_checkpoint(path)
        except C.CheckpointError as exc:
            assert exc.problems and all(p.file == str(path) and p.message for p in exc.problems)
            assert "\n" not in str(exc)
            return "error"
        assert set(got) == set(state)
        for name in state:
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(state[name]))
        return "same"


def test_truncated_checkpoints_are_clean_errors(good_checkpoint):
    blob, state = good_checkpoint
    for n in sorted({0, 1, 4, 22, 100, len(blob) // 3, len(blob) // 2, len(blob) - 100, len(blob) - 22,
                     len(blob) - 1}):
        assert _reads_back_or_fails_cleanly(blob[:n], state) == "error", n


def test_bit_flipped_checkpoints_are_clean_errors(good_checkpoint):
    """Any flipped bit: a clean error or, in a zip field nothing reads (a date), the same state;
    every flip inside a member (the arrays, the header) is an error."""
    blob, state = good_checkpoint
    import io
    import struct

    inside = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for info in zf.infolist():
            name_len, extra_len = struct.unpack("<HH", blob[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            inside[info.filename] = range(start, start + info.compress_size)
    rng = random.Random(10)
    central = list(range(len(blob) - 600, len(blob)))
    header = rng.sample(inside["header.json"], 200)
    for pos in rng.sample(range(len(blob)), 400) + central + header:
        flipped = bytearray(blob)
        flipped[pos] ^= 1 << rng.randrange(8)
        outcome = _reads_back_or_fails_cleanly(bytes(flipped), state)
        if any(pos in r for r in inside.values()):
            assert outcome == "error", pos


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_checkpoint_reader(good_checkpoint, data):
    blob, state = good_checkpoint
    kind = data.draw(st.sampled_from(["overwrite", "insert", "truncate", "random", "splice"]))
    if kind == "random":
        mangled = data.draw(st.binary(max_size=2000))
    elif kind == "truncate":
        mangled = blob[:data.draw(st.integers(0, len(blob)))]
    elif kind == "splice":   # a zip whose members come from different places: the end moved
        cut = data.draw(st.integers(0, len(blob)))
        mangled = blob[cut:] + blob[:cut]
    else:
        buf = bytearray(blob)
        for _ in range(data.draw(st.integers(1, 4))):
            pos = data.draw(st.integers(0, len(buf) - 1))
            chunk = data.draw(st.binary(min_size=1, max_size=8))
            if kind == "overwrite":
                buf[pos:pos + len(chunk)] = chunk
            else:
                buf[pos:pos] = chunk
        mangled = bytes(buf)
    _reads_back_or_fails_cleanly(mangled, state)


def _rezip(src: Path, dst: Path, change):
    """Copy a checkpoint, letting ``change(name, bytes) -> bytes | None`` edit or drop members
    (a well-formed zip: only the checkpoint's own checks can object)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)


@pytest.mark.parametrize("case, field", [
    ("header-version", "format_version"),
    ("not-ours", "format"),
    ("pickle", "theta"),
    ("edited-data", "g_int"),
    ("dropped-member", "members"),
    ("bad-json", "header.json"),
    ("wrong-shape", "counters"),
])
def test_well_formed_but_wrong_checkpoints_name_the_field(tmp_path, good_checkpoint, case, field):
    blob, _ = good_checkpoint
    src = tmp_path / "good.npz"
    src.write_bytes(blob)
    dst = tmp_path / "checkpoint.npz"
    import hashlib
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    pickled = buf.getvalue()

    def change(name, data):
        if name == "header.json":
            h = json.loads(data)
            if case == "pickle":     # a consistent header: only the refusal of objects is left
                h["members"]["theta"] = {"dtype": "|O", "shape": [1],
                                         "sha256": hashlib.sha256(pickled).hexdigest()}
            if case == "header-version":
                h["format_version"] = 99
            elif case == "not-ours":
                h["format"] = "something-else"
            elif case == "bad-json":
                return data[:-5]
            elif case == "wrong-shape":
                h["members"]["counters"]["shape"] = [3]
            return json.dumps(h).encode()
        if case == "pickle" and name == "theta.npy":
            return pickled
        if case == "edited-data" and name == "g_int.npy":
            return data[:-8] + np.float64(1.5).tobytes()
        if case == "dropped-member" and name == "nacc.npy":
            return None
        return data

    _rezip(src, dst, change)
    with pytest.raises(C.CheckpointError) as err:
        C.read_checkpoint(dst)
    problem = err.value.problems[0]
    assert problem.file == str(dst) and problem.path == field, str(err.value)


# --------------------------------------------------------------------------- resume through the API


def test_api_resume_after_an_interruption_equals_the_straight_run(tmp_path):
    spec = tiny_spec(tmp_path, "rram")
    straight = hwsim.run(spec, seed=1, out=tmp_path / "straight")
    calls = []

    def stop_third(sim, point):
        calls.append(point.step)
        if len(calls) == 3:
            raise hwsim.api.RunInterrupted()

    part = hwsim.run(spec, seed=1, out=tmp_path / "r", progress=stop_third)
    assert part.summary["status"] == "interrupted" and (tmp_path / "r" / C.CHECKPOINT_FILE).is_file()
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "interrupted"
    (tmp_path / "r" / ".checkpoint.npz.k1ll3d.tmp").write_bytes(b"PK\x03\x04 half")   # killed mid-write
    done = hwsim.api.resume(tmp_path / "r")
    assert not list((tmp_path / "r").glob(".*.tmp"))
    assert done.resumed_from["step"] == 200
    assert_same_files(tmp_path / "straight", tmp_path / "r")
    np.testing.assert_array_equal(done.weights, straight.weights)
    assert not (tmp_path / "r" / C.CHECKPOINT_FILE).exists()
    # Resuming a finished run runs nothing and changes nothing.
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    again = hwsim.api.resume(tmp_path / "r")
    assert again.already_finished and again.summary["status"] == straight.summary["status"]
    assert before == {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}


def assert_same_files(a: Path, b: Path):
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for volatile in ("wall_seconds", "compile_seconds"):   # machine time, not results
        sa.pop(volatile), sb.pop(volatile)
    assert sa == sb
    assert (a / "curve.csv").read_bytes() == (b / "curve.csv").read_bytes()
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()


def test_checkpoints_by_cycles_do_not_change_the_run(tmp_path):
    spec = tiny_spec(tmp_path, "bus-latency-no-compensation")
    plain = hwsim.run(spec, seed=0, out=tmp_path / "a", checkpoint_seconds=None)
    often = hwsim.run(spec, seed=0, out=tmp_path / "b", checkpoint_every=200, checkpoint_seconds=None)
    assert plain.checkpoints["written"] == 0 and often.checkpoints["written"] >= 3
    assert_same_files(tmp_path / "a", tmp_path / "b")


def test_resume_refuses_other_specs_seeds_budgets_and_versions(tmp_path, monkeypatch, capsys):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY)
    out = tmp_path / "r"
    spec = load_scenario(scen)

    def stop_at_once(sim, point):
        raise hwsim.api.RunInterrupted()

    hwsim.run(spec, seed=0, out=out, progress=stop_at_once)
    for args, field in ((["--set", "firmware.eta=0.5"], "spec_hash"), (["--seed", "1"], "seed"),
                        (["--max-cycles", "77"], "max_cycles")):
        code = main(["run", str(scen), "--resume", str(out), "--quiet"] + args)
        err = capsys.readouterr().err
        assert code == 2 and f": {field}: " in err and "Traceback" not in err, err
    # a different hwsim version wrote it
    monkeypatch.setattr(hwsim, "__version__", "0.0.1")
    write_checkpoint(Simulation(spec, seed=0), spec, 0, out / C.CHECKPOINT_FILE)
    monkeypatch.undo()
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "hwsim_version" in err and "0.0.1" in err and "Traceback" not in err
    # a damaged one
    (out / C.CHECKPOINT_FILE).write_bytes((out / C.CHECKPOINT_FILE).read_bytes()[:1000])
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(out / C.CHECKPOINT_FILE) in err and "damaged" in err and "Traceback" not in err


def test_fresh_run_refuses_a_directory_holding_an_unfinished_run(tmp_path, capsys):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY)
    out = tmp_path / "r"

    def stop_at_once(sim, point):
        raise hwsim.api.RunInterrupted()

    hwsim.run(load_scenario(scen), seed=0, out=out, progress=stop_at_once)
    assert main(["run", str(scen), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "unfinished" in err
    assert (out / C.CHECKPOINT_FILE).is_file()


def test_one_process_at_a_time_in_a_run_directory(tmp_path):
    spec = tiny_spec(tmp_path)
    out = tmp_path / "r"
    out.mkdir()
    with C.run_dir_lock(out):
        with pytest.raises(C.CheckpointError, match="another hwsim process"):
            hwsim.run(spec, seed=0, out=out)
    hwsim.run(spec, seed=0, out=out)


def test_resume_without_a_checkpoint_runs_from_the_beginning(tmp_path, capsys):
    """Killed before its first checkpoint: manifest.json alone is enough."""
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY)
    assert main(["run", str(scen), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_bytes((tmp_path / "a" / "manifest.json").read_bytes())
    assert main(["run", "--resume", str(tmp_path / "b"), "--quiet"]) == 0
    assert "from the beginning" in capsys.readouterr().err
    assert_same_files(tmp_path / "a", tmp_path / "b")
    assert main(["run", "--resume", str(tmp_path / "nope")]) == 2
    assert main(["run"]) == 2
    assert "SCENARIO" in capsys.readouterr().err


# --------------------------------------------------------------------------- I/O faults


def test_a_full_disk_during_a_checkpoint_is_a_clean_error_and_the_last_checkpoint_survives(
        tmp_path, monkeypatch, capsys):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY)
    out = tmp_path / "r"
    assert main(["run", str(scen), "--out", str(tmp_path / "straight"), "--quiet"]) == 0
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        # manifest.json, then checkpoints: the third checkpoint finds the disk full.
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".checkpoint.npz."):
            calls.append(fd)
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code = main(["run", str(scen), "--out", str(out), "--quiet", "--checkpoint-every", "100"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "No space left on device" in err and str(out / C.CHECKPOINT_FILE) in err and "--resume" in err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "manifest.json"]  # no temp files
    assert C.read_checkpoint(out / C.CHECKPOINT_FILE)[0]["step"] == 200       # the second one
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    assert_same_files(tmp_path / "straight", out)


def test_an_unwritable_output_directory_is_a_clean_error(tmp_path, monkeypatch, capsys):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(TINY)
    (tmp_path / "file").write_text("x")
    assert main(["run", str(scen), "--out", str(tmp_path / "file" / "r"), "--quiet"]) == 2
    assert "not a directory" in capsys.readouterr().err

    import hwsim.results.rundir as rundir

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rundir.tempfile, "mkstemp", denied)   # as a read-only folder answers (not as root)
    assert main(["run", str(scen), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Permission denied" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "summary.json").exists()


# --------------------------------------------------------------------------- hostile specs and data


def test_truncated_and_bit_flipped_specs_load_or_fail_cleanly(tmp_path, capsys):
    text = (ROOT / "scenarios" / "quickstart.yaml").read_bytes()
    rng = random.Random(4)
    cases = [text[:n] for n in range(0, len(text), 97)]
    for pos in rng.sample(range(len(text)), 60):
        flipped = bytearray(text)
        flipped[pos] ^= 1 << rng.randrange(8)
        cases.append(bytes(flipped))
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for i, blob in enumerate(cases):
        path = folder / f"s{i}.yaml"
        path.write_bytes(blob)
        code = main(["validate", str(path)])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err and "internal error" not in err, (blob, err)
        if code == 2:
            assert str(path) in err


def test_truncated_and_bit_flipped_data_files_run_or_fail_cleanly(tmp_path, capsys, monkeypatch):
    """A damaged MNIST file: exit 2 naming it, or (a flipped pixel is still an image) a run."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)),
             "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 12, dtype=np.uint8)),
             "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
             "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, 6, dtype=np.uint8))}
    scen = tmp_path / "m.yaml"
    scen.write_text(textwrap.dedent(MNIST_SCENARIO))
    r = random.Random(1)
    cases = []
    for name, blob in files.items():
        for n in (0, 3, 9, len(blob) // 2, len(blob) - 1):
            cases.append((name, blob[:n]))
        for pos in r.sample(range(min(len(blob), 40)), 6) + [r.randrange(len(blob))]:
            flipped = bytearray(blob)
            flipped[pos] ^= 1 << r.randrange(8)
            cases.append((name, bytes(flipped)))
    for i, (name, blob) in enumerate(cases):
        folder = tmp_path / f"d{i}" / "mnist"
        folder.mkdir(parents=True)
        for other, good in files.items():
            (folder / other).write_bytes(blob if other == name else good)
        code = main(["run", str(scen), "--data-dir", str(folder.parent), "--out", str(tmp_path / f"r{i}"),
                     "--quiet"])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err and "internal error" not in err, (name, err)
        if code == 2:
            assert name in err


# --------------------------------------------------------------------------- processes: kill, SIGTERM

CLI = [sys.executable, "-m", "hwsim.cli"]
KILL_ARGS = ["--quiet", "--max-cycles", "240000", "--checkpoint-every", "20000", "--checkpoint-seconds", "0"]


@pytest.fixture(scope="module")
def straight_quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    proc = subprocess.run(CLI + ["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(out),
                                 "--set", "target_accuracy=0.99"] + KILL_ARGS,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def _wait_for_checkpoints(proc, path: Path, n: int) -> None:
    """Wait until ``path`` has been (re)written ``n`` times, or the process ended."""
    seen, last = 0, None
    while seen < n and proc.poll() is None:
        try:
            ident = (path.stat().st_ino, path.stat().st_mtime_ns)
        except FileNotFoundError:
            ident = None
        if ident is not None and ident != last:
            seen, last = seen + 1, ident
        time.sleep(0.005)


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_equals_the_uninterrupted_run(tmp_path, straight_quickstart):
    out = tmp_path / "run"
    rng = random.Random(2024)
    first = CLI + ["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(out),
                   "--set", "target_accuracy=0.99"] + KILL_ARGS
    again = CLI + ["run", "--resume", str(out)] + KILL_ARGS
    kills = 0
    for attempt in range(8):
        proc = subprocess.Popen(first if attempt == 0 else again, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while attempt == 0 and not (out / "manifest.json").exists() and proc.poll() is None:
            time.sleep(0.005)      # killed before it wrote anything, a run cannot be resumed
        if kills < 4:
            # A random point: after 0-2 more checkpoints, plus up to 0.2 s (mid-block, or
            # mid-write of the next checkpoint).
            _wait_for_checkpoints(proc, out / C.CHECKPOINT_FILE, rng.randrange(3))
            time.sleep(rng.uniform(0.0, 0.2))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        _, err = proc.communicate(timeout=600)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err
    assert kills >= 2 and proc.returncode == 0
    assert_same_files(straight_quickstart, out)
    assert not list(out.glob(".*.tmp")) and not (out / C.CHECKPOINT_FILE).exists()


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_partial_results_then_resume_finishes_the_run(
        tmp_path, straight_quickstart):
    out = tmp_path / "run"
    proc = subprocess.Popen(CLI + ["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(out),
                                   "--set", "target_accuracy=0.99"] + KILL_ARGS,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoints(proc, out / C.CHECKPOINT_FILE, 1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "--resume" in stdout and "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    header, _ = C.read_checkpoint(out / C.CHECKPOINT_FILE)
    assert header["cycle"] == summary["cycles_simulated"]
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    assert_same_files(straight_quickstart, out)


@pytest.mark.slow
def test_sigterm_stops_a_sweep_like_ctrl_c_and_the_same_command_resumes(tmp_path):
    from hwsim.results import load
    from sweep_helpers import N_POINTS, write_sweep

    write_sweep(tmp_path)
    command = CLI + ["sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "s"), "--serial",
                     "--quiet", "--set", "max_cycles=20000"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not list((tmp_path / "s").glob("points/*/summary.json")) and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "run the same command again" in stdout and "Traceback" not in stderr
    table = load(tmp_path / "s")
    assert 1 <= int((table.state == "finished").sum()) < N_POINTS and (table.state != "failed").all()
    assert main(command[3:]) == 0
    assert (load(tmp_path / "s").state == "finished").all()


def test_compressed_or_oversized_members_are_refused_before_they_are_read(tmp_path, good_checkpoint):
    """A zip bomb cannot make the reader inflate or allocate what it claims."""
    blob, _ = good_checkpoint
    src = tmp_path / "good.npz"
    src.write_bytes(blob)
    bomb = tmp_path / "checkpoint.npz"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "g_int.npy":
                data = data + bytes(10**8)        # 100 MB of zeros, a few kB compressed
            zout.writestr(info.filename, data)
    assert bomb.stat().st_size < 10**6
    with pytest.raises(C.CheckpointError, match="not stored as hwsim writes it") as err:
        C.read_checkpoint(bomb)
    assert err.value.problems[0].file == str(bomb)
