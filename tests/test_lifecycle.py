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
    sa.pop("wall_seconds"), sb.pop("wall_seconds")
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
