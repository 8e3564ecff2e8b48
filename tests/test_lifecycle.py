"""A run's life cycle from the command line to the files it leaves: statuses and exit codes of
interrupted runs, the run directory's files when a write fails, where a run may write, and
the options' ranges."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hwsim
from helpers import default_sigint, tiny_scenario
from hwsim.cli import main
from hwsim.engine.checkpoint import CHECKPOINT_FILE
from hwsim.results.progress import RunProgress

ROOT = Path(__file__).resolve().parents[1]

# Crosses its 0.2 target at step 700 and trains on to its budget (stop_at_target false).
TRAINS_ON = tiny_scenario(every_steps=100, target=0.2, max_cycles=2000) + "stop_at_target: false\n"
STOP_AT_OBSERVATION = 10          # step 900: after the target was crossed


def scenario(tmp_path, text=TRAINS_ON, name="tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def same_results(a: Path, b: Path) -> None:
    sa, sb = summary_of(a), summary_of(b)
    for volatile in ("wall_seconds", "compile_seconds"):   # machine time, not results
        sa.pop(volatile), sb.pop(volatile)
    assert sa == sb
    assert (a / "curve.csv").read_bytes() == (b / "curve.csv").read_bytes()


# --------------------------------------------------------------------------- interrupted runs


def test_ctrl_c_after_the_target_was_crossed_is_interrupted_exit_130_and_resumes(tmp_path, monkeypatch,
                                                                                capsys):
    scen = scenario(tmp_path)
    straight = tmp_path / "straight"
    assert main(["run", str(scen), "--out", str(straight), "--quiet"]) == 0
    full = summary_of(straight)
    capsys.readouterr()
    assert full["status"] == "reached_target" and full["steps_to_target"] < 100 * STOP_AT_OBSERVATION

    seen = []
    observe = RunProgress.__call__

    def ctrl_c_at_the_tenth_observation(self, sim, point):
        seen.append(point.step)
        if len(seen) == STOP_AT_OBSERVATION:
            os.kill(os.getpid(), signal.SIGINT)       # as the terminal sends it
        observe(self, sim, point)

    monkeypatch.setattr(RunProgress, "__call__", ctrl_c_at_the_tenth_observation)
    out = tmp_path / "r"
    with default_sigint():
        code = main(["run", str(scen), "--out", str(out), "--quiet"])
    monkeypatch.undo()
    printed = capsys.readouterr().out
    assert code == 130 and "interrupted after" in printed and "reached" not in printed, printed
    part = summary_of(out)
    assert part["status"] == "interrupted"
    # It still says when it crossed the target.
    assert part["steps_to_target"] == full["steps_to_target"]
    assert part["cycles_to_target"] == full["cycles_to_target"]
    assert (out / CHECKPOINT_FILE).is_file()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    same_results(straight, out)
    assert not (out / CHECKPOINT_FILE).exists()


def test_api_interrupted_after_the_target_says_interrupted(tmp_path):
    def stop(sim, point):
        if point.step >= 100 * STOP_AT_OBSERVATION:
            raise hwsim.api.RunInterrupted()

    res = hwsim.run(scenario(tmp_path), 0, out=tmp_path / "r", progress=stop)
    assert res.summary["status"] == "interrupted" and res.summary["steps_to_target"] is not None
    done = hwsim.api.resume(tmp_path / "r")
    assert done.summary["status"] == "reached_target"


def test_ctrl_c_in_python_leaves_a_resumable_folder_interrupted(tmp_path):
    """A notebook's interrupt (SIGINT in the main thread, Python's own handling) stops a run
    started from Python at its next resumable point: status interrupted, its curve and summary
    so far written, a checkpoint kept, then KeyboardInterrupt; resumed, it ends as the run
    that was never stopped; and Python's Ctrl-C handling is back afterwards."""
    with default_sigint():
        def interrupt(sim, point):
            if point.step == 100 * STOP_AT_OBSERVATION:
                os.kill(os.getpid(), signal.SIGINT)

        with pytest.raises(KeyboardInterrupt, match="hwsim.resume"):
            hwsim.run(scenario(tmp_path), 0, out=tmp_path / "r", progress=interrupt)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert summary_of(tmp_path / "r")["status"] == "interrupted"
    assert (tmp_path / "r" / CHECKPOINT_FILE).is_file()
    curve = (tmp_path / "r" / "curve.csv").read_text().strip().splitlines()
    assert curve[-1].startswith(f"{100 * STOP_AT_OBSERVATION},")
    hwsim.api.resume(tmp_path / "r")
    hwsim.run(scenario(tmp_path), 0, out=tmp_path / "whole")
    same_results(tmp_path / "r", tmp_path / "whole")


def test_a_keyboard_interrupt_between_resumable_points_still_writes_the_curve_and_summary(tmp_path):
    """KeyboardInterrupt raised inside the run (a second Ctrl-C, or one under a caller's own
    handler) goes on to the caller after the curve and summary so far are written with status
    interrupted; the run resumes (here from its beginning: no checkpoint was due) to the same
    files as a run never stopped."""
    def raw(sim, point):
        if point.step == 100 * STOP_AT_OBSERVATION:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hwsim.run(scenario(tmp_path), 0, out=tmp_path / "r", progress=raw)
    assert summary_of(tmp_path / "r")["status"] == "interrupted"
    assert (tmp_path / "r" / "curve.csv").read_text().strip().splitlines()[-1].startswith(
        f"{100 * STOP_AT_OBSERVATION},")
    hwsim.api.resume(tmp_path / "r")
    hwsim.run(scenario(tmp_path), 0, out=tmp_path / "whole")
    same_results(tmp_path / "r", tmp_path / "whole")


def test_progress_true_changes_no_result(tmp_path):
    """progress=True (the bar a notebook shows) is display only: the same files as without."""
    with default_sigint():
        hwsim.run(scenario(tmp_path), 0, out=tmp_path / "bar", progress=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    plain = hwsim.run(scenario(tmp_path), 0, out=tmp_path / "plain")
    same_results(tmp_path / "bar", tmp_path / "plain")
    # A result prints as one line and plots itself (PNG and SVG).
    assert "\n" not in repr(plain) and repr(plain).startswith(f"RunResult(status={plain.summary['status']!r}")
    fig = plain.plot(path=tmp_path / "curve.png")
    assert (tmp_path / "curve.png").is_file() and (tmp_path / "curve.svg").is_file()
    assert fig.axes[0].get_lines()


# --------------------------------------------------------------------------- option ranges

BEYOND_INT64 = "100000000000000000000"


@pytest.mark.parametrize("argv, flag", [
    (["run", "S", "--max-cycles", BEYOND_INT64], "--max-cycles"),
    (["run", "S", "--max-cycles", "0"], "--max-cycles"),
    (["run", "S", "--seed", "-1"], "--seed"),
    (["run", "S", "--seed", str(2**63)], "--seed"),
    (["run", "S", "--checkpoint-every", BEYOND_INT64], "--checkpoint-every"),
    (["run", "S", "--checkpoint-seconds", "inf"], "--checkpoint-seconds"),
    (["run", "S", "--checkpoint-seconds", "-1"], "--checkpoint-seconds"),
    (["run", "--resume", "D", "--max-cycles", BEYOND_INT64], "--max-cycles"),
    (["compare", "S", "--seeds", f"0,{BEYOND_INT64}"], "--seeds"),
    (["compare", "S", "--seeds", "-3"], "--seeds"),
    (["sweep", "S", "--workers", "0"], "--workers"),
    (["sweep", "S", "--workers", BEYOND_INT64], "--workers"),
    (["bench", "--steps", BEYOND_INT64], "--steps"),
    (["bench", "--repeats", "0"], "--repeats"),
])
def test_numeric_options_outside_their_fields_range_exit_2_naming_the_option(tmp_path, capsys, argv, flag):
    scen = scenario(tmp_path)
    argv = [str(scen) if a == "S" else str(tmp_path / "nothing") if a == "D" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"hwsim: {flag} is out of range (got " in err and "expected >=" in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_the_largest_seed_and_budget_the_spec_allows_are_accepted(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["run", str(scenario(tmp_path)), "--seed", str(2**63 - 1), "--max-cycles", str(10**15),
                 "--set", "max_steps=200", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert summary_of(out)["seed"] == 2**63 - 1


# --------------------------------------------------------------------------- damaged manifests


def _set(key, value):
    def change(man):
        man[key] = value
        return man
    return change


def _drop(key):
    def change(man):
        del man[key]
        return man
    return change


@pytest.mark.parametrize("change, field", [
    (_set("seed", -1), "seed"),
    (_set("seed", 2**64), "seed"),
    (_set("seed", "1"), "seed"),
    (_set("seed", True), "seed"),
    (_set("max_cycles", 0), "max_cycles"),
    (_set("max_cycles", 10**20), "max_cycles"),
    (_set("max_cycles", 1.5), "max_cycles"),
    (_set("spec_hash", 5), "spec_hash"),
    (_set("spec_hash", "0" * 64), "spec_hash"),
    (_drop("hwsim_version"), "hwsim_version"),
    (_set("resolved", []), "resolved"),
    (lambda man: [man], "manifest.json"),
    (lambda man: {**man, "resolved": {**man["resolved"], "scenario": {**man["resolved"]["scenario"],
                                                                      "max_cycles": -5}}}, "max_cycles"),
])
def test_a_damaged_manifest_on_resume_is_exit_2_naming_the_file_and_field(tmp_path, capsys, change, field):
    out = tmp_path / "r"
    hwsim.run(scenario(tmp_path), 0, out=out, progress=_stop_at_once)
    path = out / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}" in err and f": {field}" in err and "Traceback" not in err, err
    assert "internal error" not in err


@pytest.mark.parametrize("what", ["garbage", "dev_zero", "fifo", "huge"])
def test_a_manifest_that_is_not_a_small_regular_file_is_refused_without_reading_it(tmp_path, capsys, what):
    out = tmp_path / "r"
    hwsim.run(scenario(tmp_path), 0, out=out, progress=_stop_at_once)
    path = out / "manifest.json"
    path.unlink()
    if what == "garbage":
        path.write_bytes(b"\xff\x00{{{")
    elif what == "dev_zero":
        path.symlink_to("/dev/zero")
    elif what == "fifo":
        os.mkfifo(path)
    else:
        with open(path, "wb") as f:
            f.truncate(hwsim.api.MAX_MANIFEST_BYTES + 1)
    start = time.monotonic()
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    assert time.monotonic() - start < 60                # a FIFO would block forever
    err = capsys.readouterr().err
    assert f"{path}: manifest.json: " in err and "Traceback" not in err, err


def _stop_at_once(sim, point):
    raise hwsim.api.RunInterrupted()


# --------------------------------------------------------------------------- lost or misplaced data

SHORT = ["--set", "max_steps=200", "--quiet"]


def _failing_writes(monkeypatch, fails):
    """Make hwsim.results.rundir's atomic writer fail with ENOSPC (a full disk) for the files
    ``fails(path)`` picks, as the real writer reports it."""
    from hwsim.results import rundir

    real = rundir.atomic_write

    def atomic_write(path, data):
        if fails(Path(path)):
            raise rundir.OutputError(errno.ENOSPC, f"cannot write {path}: No space left on device; free "
                                                   "some space or choose another output folder", str(path))
        real(path, data)

    monkeypatch.setattr(rundir, "atomic_write", atomic_write)


def test_a_run_on_a_full_disk_does_not_rewrite_its_unchanged_manifest(tmp_path, monkeypatch, capsys):
    """Once the run has started, manifest.json cannot be written any more (the disk filled up):
    the run's results are written all the same, since the manifest is already there."""
    started = []
    _failing_writes(monkeypatch, lambda p: p.name == "manifest.json" and started)
    monkeypatch.setattr(RunProgress, "__call__", lambda self, sim, point: started.append(point.step))
    out = tmp_path / "r"
    code = main(["run", str(scenario(tmp_path)), "--out", str(out), "--checkpoint-seconds", "0", *SHORT])
    assert code == 0, capsys.readouterr().err
    assert started and summary_of(out)["steps_simulated"] == 200
    assert len((out / "curve.csv").read_text().splitlines()) >= 3


def test_a_result_file_that_cannot_be_written_loses_none_of_the_others(tmp_path, monkeypatch, capsys):
    _failing_writes(monkeypatch, lambda p: p.name == "curve.csv")
    out = tmp_path / "r"
    code = main(["run", str(scenario(tmp_path)), "--out", str(out), "--checkpoint-seconds", "0", *SHORT])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"cannot write {out / 'curve.csv'}: No space left on device" in err, err
    assert "other results (manifest.json, summary.json) are in place" in err, err
    assert summary_of(out)["steps_simulated"] == 200 and not (out / "curve.csv").exists()
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["../../x", "/etc/x", "..", ".", "", "a/b\\c d", "nul\x00x", "é" * 10,
                                  "x" * 5000, ".hidden", "-rf"])
def test_the_default_run_and_sweep_folders_stay_inside_runs_whatever_the_name(name):
    import re
    from types import SimpleNamespace

    from hwsim.api import default_run_dir
    from hwsim.sweep.execute import default_sweep_dir

    spec = SimpleNamespace(scenario=SimpleNamespace(name=name), spec_hash="0123456789abcdef")
    for path in (default_run_dir(spec, 3), default_sweep_dir(SimpleNamespace(name=name))):
        assert path.parent == Path("runs") and len(path.parts) == 2
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", path.name) and len(path.name) < 120, path
        assert (Path("/base") / path).resolve().parent == Path("/base/runs")


def test_a_new_run_into_a_finished_or_other_runs_folder_is_refused_unless_overwrite(tmp_path, capsys):
    scen = scenario(tmp_path)
    out = tmp_path / "r"
    assert main(["run", str(scen), "--out", str(out), *SHORT]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # the same run again, another seed, other specs: refused, nothing touched
    for extra in ([], ["--seed", "5"], ["--set", "firmware.eta=0.5"]):
        assert main(["run", str(scen), "--out", str(out), *SHORT, *extra]) == 2
        err = capsys.readouterr().err
        assert f"{out / 'summary.json'}: --out: this directory holds a finished run" in err, err
        assert "--overwrite" in err and "Traceback" not in err
        assert before == {p.name: p.read_bytes() for p in out.iterdir()}
    # a run killed before it wrote anything but its manifest: only the same run may start again
    (out / "summary.json").unlink()
    (out / "curve.csv").unlink()
    assert main(["run", str(scen), "--out", str(out), *SHORT, "--set", "firmware.eta=0.5"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'manifest.json'}: --out: this directory holds another run" in err, err
    assert main(["run", str(scen), "--out", str(out), *SHORT]) == 0
    # --overwrite replaces it
    assert main(["run", str(scen), "--out", str(out), *SHORT, "--seed", "5", "--overwrite"]) == 0
    assert summary_of(out)["seed"] == 5
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_the_python_api_refuses_a_finished_runs_folder_unless_overwrite(tmp_path):
    from hwsim.engine.checkpoint import CheckpointError

    scen = scenario(tmp_path, TRAINS_ON.replace("max_cycles: 2000", "max_cycles: 400"))
    first = hwsim.run(scen, 0, out=tmp_path / "r")
    with pytest.raises(CheckpointError) as exc:
        hwsim.run(scen, 1, out=tmp_path / "r")
    assert "finished run" in str(exc.value) and "overwrite=True" in str(exc.value)
    assert summary_of(tmp_path / "r")["seed"] == first.summary["seed"] == 0
    again = hwsim.run(scen, 1, out=tmp_path / "r", overwrite=True)
    assert summary_of(tmp_path / "r")["seed"] == again.summary["seed"] == 1
    # the backprop baseline claims its folder the same way
    backprop = scenario(tmp_path, TRAINS_ON.replace("firmware: mgd_discrete", "firmware: backprop_sgd")
                        .replace("max_cycles: 2000", "max_cycles: 400"), "bp.yaml")
    with pytest.raises(CheckpointError):
        hwsim.run(backprop, 1, out=tmp_path / "r")
    assert summary_of(tmp_path / "r")["seed"] == 1 and "algorithm" not in summary_of(tmp_path / "r")
    hwsim.run(backprop, 1, out=tmp_path / "r", overwrite=True)
    assert summary_of(tmp_path / "r")["algorithm"] == "backprop"


def _numpy_loaded(pid: int) -> bool:
    """Whether the process has mapped numpy's core library: hwsim.cli imports numpy only
    inside main(), so main() is running from then on."""
    try:
        return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.3])
def test_ctrl_c_in_the_first_moments_of_hwsim_run_is_one_line_and_exit_130(tmp_path, delay):
    scen = scenario(tmp_path)
    with default_sigint():
        proc = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "run", str(scen), "--out",
                                 str(tmp_path / "r"), "--quiet"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not _numpy_loaded(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "Traceback" not in err and all(line.startswith("hwsim:") for line in err.splitlines()), err
    assert 1 <= len(err.splitlines()) <= 2, err


def test_a_checkpoint_of_another_seed_beside_the_manifest_is_not_blamed_on_a_seed_option(tmp_path, capsys):
    scen = scenario(tmp_path)
    for seed, name in ((0, "a"), (1, "b")):
        hwsim.run(scen, seed, out=tmp_path / name, progress=_stop_at_once)
    (tmp_path / "a" / CHECKPOINT_FILE).write_bytes((tmp_path / "b" / CHECKPOINT_FILE).read_bytes())
    assert main(["run", "--resume", str(tmp_path / "a"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'a' / CHECKPOINT_FILE}: seed: belongs to a run with seed 1, but manifest.json" in err, err
    assert "--seed" not in err and "Traceback" not in err
    # Given the run's own seed, the message is the same: the files disagree, not the option.
    assert main(["run", "--resume", str(tmp_path / "a"), "--seed", "0", "--quiet"]) == 2
    assert "manifest.json beside it" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, field", [({"seed": -1}, "seed"), ({"seed": 2**64}, "seed"),
                                           ({"max_cycles": 10**20}, "max_cycles"), ({"max_cycles": 0}, "max_cycles")])
def test_the_python_api_checks_seed_and_budget_against_their_spec_fields(tmp_path, kwargs, field):
    from hwsim.spec.errors import SpecError

    with pytest.raises(SpecError) as exc:
        hwsim.run(scenario(tmp_path), out=tmp_path / "r", **kwargs)
    assert f"{field} is out of range" in str(exc.value) and not (tmp_path / "r").exists()


def test_resuming_a_backprop_run_with_a_damaged_summary_runs_it_again_in_its_folder(tmp_path, capsys):
    backprop = scenario(tmp_path, TRAINS_ON.replace("firmware: mgd_discrete", "firmware: backprop_sgd")
                        .replace("max_cycles: 2000", "max_cycles: 400"), "bp.yaml")
    out = tmp_path / "r"
    first = hwsim.run(backprop, 0, out=out)
    (out / "summary.json").write_text("{half")
    assert main(["run", "--resume", str(out), "--quiet"]) == 0, capsys.readouterr().err
    again = summary_of(out)
    assert again["algorithm"] == "backprop" and again["final_test_accuracy"] == first.summary["final_test_accuracy"]
