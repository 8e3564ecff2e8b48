"""hwsim tune: a tiny study is the same serially and on 2 Dask workers, scores what does not
learn instead of crashing, resumes to the same table after an interruption, writes a best
firmware that validates, and reports a bad space file at its line."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from hwsim.cli import main
from hwsim.tune.study import TuneError, plan_tune, run_study, curve_error, thresholds_from
from hwsim.tune.outputs import BEST_FIRMWARE, TRIALS_PARQUET
from helpers import tiny_scenario, write
from sweep_helpers import png_size

TRIALS = 6
SPACE = """\
    kind: tune_space
    name: tiny
    params:
      firmware.eta: {low: 0.03, high: 3.0, log: true}
      firmware.perturbation.amplitude: {low: 0.01, high: 0.3, log: true}
      firmware.tau_theta: {low: 1, high: 16, log: true, integer: true}
      firmware.optimizer.kind: {choices: [sgd, momentum]}
    batch: 3
    startup_trials: 3
    pruning: {warmup_observations: 2, min_trials: 2}
"""
# Wall time and where a trial ran are the only columns allowed to differ between two runs.
VOLATILE = ["wall_seconds", "compile_seconds"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    write(folder, "tiny.yaml", tiny_scenario(eta=0.3, every_steps=250, target=0.35, max_cycles=6000))
    write(folder, "space.yaml", SPACE)
    return folder


def plan(folder, space="space.yaml", **kw):
    return plan_tune(str(folder / "tiny.yaml"), space=str(folder / space), **kw)


def table(out) -> pd.DataFrame:
    return pd.read_parquet(out / TRIALS_PARQUET).drop(columns=VOLATILE, errors="ignore")


@pytest.fixture(scope="module")
def serial_dir(folder):
    """The study run trial by trial in this process (also compiles the kernels)."""
    out = folder / "serial"
    outcome = run_study(plan(folder), out, trials=TRIALS, serial=True)
    assert (outcome.ran, outcome.reused, outcome.interrupted) == (TRIALS, 0, False)
    return out


def test_serial_study_scores_every_trial_and_prunes_by_the_median_rule(folder, serial_dir):
    t = table(serial_dir)
    assert list(t.trial) == list(range(TRIALS)) and list(t.batch) == [0, 0, 0, 1, 1, 1]
    assert set(t.state) <= {"complete", "pruned"} and (t.state == "complete").sum() >= 3
    # Some trials reach the target and some do not: the study has something to rank.
    assert t.reached_target.any() and not t.reached_target.all()
    done = t[t.state == "complete"]
    reached, missed = done[done.reached_target], done[~done.reached_target]
    assert (reached.objective == reached.value_to_target).all()
    p = plan(folder)
    budget = p.base.scenario.max_cycles
    assert (reached.objective <= budget).all() and (missed.objective >= p.space.penalty * budget).all()
    shortfall = ((0.35 - missed.best_test_accuracy) / 0.35).clip(0, 1)
    assert missed.objective.tolist() == pytest.approx((p.space.penalty * budget * (1 + shortfall)).tolist())
    # A pruned trial stopped at its first observation after the warm-up where its best error
    # so far exceeded the median its batch was given, and not before.
    import json

    pruned = t[t.state == "pruned"]
    assert len(pruned), "the tiny study is meant to prune at least one trial"
    for n in pruned.trial:
        rec = json.loads((serial_dir / "trials" / f"{n:05d}" / "trial.json").read_text())
        limits = {int(k): v for k, v in rec["thresholds"].items()}
        best, stop = 1.0, None
        for i, (step, err) in enumerate(rec["curve"]):
            best = min(best, err)
            if i + 1 > 2 and step in limits and best > limits[step]:
                stop = step
                break
        assert stop == rec["pruned_step"]
    # Each batch's thresholds are the medians of the finished trials of earlier batches.
    first = [json.loads((serial_dir / "trials" / f"{n:05d}" / "trial.json").read_text()) for n in range(3)]
    assert all(r["thresholds"] == {} for r in first)


def test_thresholds_are_medians_over_finished_trials_only():
    from hwsim.tune.study import TrialRecord

    def rec(n, state, curve):
        return TrialRecord(n, 0, {}, "h", 0, {}, state=state, curve=curve)

    records = [rec(0, "complete", [(0, 0.9), (10, 0.5)]), rec(1, "complete", [(0, 0.7), (10, 0.3)]),
               rec(2, "complete", [(0, 0.8)]), rec(3, "pruned", [(0, 0.0), (10, 0.0)])]
    assert thresholds_from(records, 2) == {0: 0.8, 10: 0.4}
    assert thresholds_from(records, 3) == {0: 0.8}
    assert curve_error(float("nan")) == 1.0 and curve_error(0.75) == 0.25


@pytest.mark.slow
def test_two_dask_workers_give_the_same_study_as_one_by_one(folder, serial_dir):
    from distributed import Client, LocalCluster

    out = folder / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as lc, Client(lc) as client:
        outcome = run_study(plan(folder), out, trials=TRIALS, client=client)
        assert len(client.scheduler_info()["workers"]) == 2
    assert outcome.ran == TRIALS and outcome.where.startswith("Dask cluster")
    pd.testing.assert_frame_equal(table(out), table(serial_dir))
    assert (out / BEST_FIRMWARE).read_text() == (serial_dir / BEST_FIRMWARE).read_text()


def test_diverging_trials_are_scored_not_fatal(folder, tmp_path, capsys):
    space = SPACE.replace("{low: 0.03, high: 3.0, log: true}", "{low: 1.0e6, high: 1.0e200, log: true}")
    write(folder, "huge_eta.yaml", space)
    out = tmp_path / "huge"
    code = main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "huge_eta.yaml"), "--trials", "3",
                 "--serial", "--out", str(out)])
    assert code == 0, capsys.readouterr()
    t = table(out)
    assert len(t) == 3 and (t.state == "complete").all() and not t.reached_target.any()
    assert (t.status == "diverged").any()
    budget = plan(folder).base.scenario.max_cycles
    assert (t.objective >= 2.0 * budget).all() and t.objective.map(float).apply(pd.notna).all()
    assert "no trial finished" not in capsys.readouterr().out


def test_interrupted_study_resumes_to_the_same_table(folder, serial_dir, tmp_path):
    from hwsim.tune.study import trial_runner

    out = tmp_path / "resumed"
    calls = {"n": 0}

    def ctrl_c_during_the_fifth_trial(spec, seed, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return trial_runner(spec, seed, **kw)

    first = run_study(plan(folder), out, trials=TRIALS, serial=True, runner=ctrl_c_during_the_fifth_trial)
    assert first.interrupted and len(first.records) == 4
    assert not (out / "trials" / "00004" / "trial.json").exists()       # nothing of the killed trial kept
    assert len(table(out)) == 4                                        # the tables hold what finished
    second = run_study(plan(folder), out, trials=TRIALS, serial=True)
    assert (second.reused, second.ran, second.interrupted) == (4, 2, False)
    pd.testing.assert_frame_equal(table(out), table(serial_dir))
    # A longer study starts with the shorter one's trials.
    third = run_study(plan(folder), out, trials=TRIALS + 1, serial=True)
    assert (third.reused, third.ran) == (TRIALS, 1)
    pd.testing.assert_frame_equal(table(out).iloc[:TRIALS], table(serial_dir))


def test_another_study_in_the_folder_is_refused(folder, serial_dir):
    with pytest.raises(TuneError, match="holds another study .*seed"):
        run_study(plan(folder, seed=1), serial_dir, trials=TRIALS, serial=True)


def test_best_firmware_validates_and_holds_the_best_trial(folder, serial_dir, capsys):
    from hwsim.run_plan import load_firmware

    path = serial_dir / BEST_FIRMWARE
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    t = table(serial_dir)
    done = t[t.state == "complete"]
    best = done.loc[done.objective.idxmin()]
    fw = load_firmware(path)
    assert fw.eta == best["firmware.eta"] and fw.tau_theta == best["firmware.tau_theta"]
    assert fw.perturbation.amplitude == best["firmware.perturbation.amplitude"]
    assert fw.optimizer.kind == best["firmware.optimizer.kind"]
    assert f"eta: {fw.eta!r}   # tuned: trial {best.trial}" in path.read_text()
    for name in ("objective", "slices"):
        assert png_size(serial_dir / "plots" / f"{name}.png") == (800, 480)


def test_bad_space_file_exits_2_at_its_line(folder, tmp_path, capsys):
    bad = SPACE.replace("firmware.tau_theta: {low: 1, high: 16", "firmware.tau_thetta: {low: 16, high: 1")
    write(folder, "bad.yaml", bad)
    code = main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "bad.yaml"), "--out",
                 str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.yaml:6:3: firmware.tau_thetta: no such field" in err and "did you mean 'tau_theta'" in err
    assert "bad.yaml:6:3: params.firmware.tau_thetta: low must be below high" in err
    assert not (tmp_path / "x").exists()
    # A bound the firmware refuses is reported at the space's line too.
    write(folder, "neg.yaml", SPACE.replace("{low: 0.01, high: 0.3, log: true}", "{low: -1, high: 0.3}"))
    assert main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "neg.yaml")]) == 2
    assert "neg.yaml:5:" in capsys.readouterr().err


def test_joules_on_a_chip_without_energy_table_exits_2(folder, capsys):
    code = main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "space.yaml"),
                 "--objective", "joules"])
    assert code == 2
    assert "no energy table" in capsys.readouterr().err


def test_a_trial_that_raises_is_scored_the_study_goes_on_and_exits_4(folder, serial_dir, tmp_path,
                                                                    monkeypatch, capsys):
    from hwsim.tune import study

    real = study.trial_runner
    calls = {"n": 0}

    def second_trial_breaks(spec, seed, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("a bug in the simulator")
        return real(spec, seed, **kw)

    monkeypatch.setattr(study, "trial_runner", second_trial_breaks)
    out = tmp_path / "broken"
    code = main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "space.yaml"), "--trials",
                 str(TRIALS), "--serial", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 4 and "1 trial failed with an error" in printed
    t = table(out)
    assert len(t) == TRIALS
    failed = t[t.state == "failed"]
    assert list(failed.trial) == [1] and "ValueError: a bug in the simulator" in failed.error.iloc[0]
    budget = plan(folder).base.scenario.max_cycles
    assert failed.objective.iloc[0] == 2.0 * budget * 2      # no accuracy: shortfall 1
    assert "a bug in the simulator" in (out / "trials" / "00001" / "error.json").read_text()
    # Rerunning retries the failed trial (the bug is gone), and the later batch, which the sampler
    # now draws differently: the same table as a study that never failed.
    monkeypatch.setattr(study, "trial_runner", real)
    assert main(["tune", str(folder / "tiny.yaml"), "--space", str(folder / "space.yaml"), "--trials",
                 str(TRIALS), "--serial", "--out", str(out)]) == 0
    assert "ran 4 trials (serial), 2 done earlier" in capsys.readouterr().out
    pd.testing.assert_frame_equal(table(out), table(serial_dir))


def test_joules_objective_scores_energy_to_target_and_projects_the_budget(folder, tmp_path):
    p = plan(folder, objective="joules", overrides={"chip.energy.mvm": 1e-12, "chip.energy.write": 1e-13})
    out = run_study(p, tmp_path / "joules", trials=3, serial=True)
    t = table(out.directory)
    assert len(t) == 3 and (t.state == "complete").all()
    reached, missed = t[t.reached_target], t[~t.reached_target]
    assert (reached.objective == reached.value_to_target).all() and (reached.objective > 0).all()
    budget = missed.energy_joules / missed.cycles_simulated * p.base.scenario.max_cycles
    shortfall = ((0.35 - missed.best_test_accuracy) / 0.35).clip(0, 1)
    assert missed.objective.tolist() == pytest.approx((2.0 * budget * (1 + shortfall)).tolist())
    assert len(reached) + len(missed) == 3 and (t.energy_joules > 0).all()


def test_a_folder_another_study_is_writing_is_refused(folder, serial_dir):
    from hwsim.sweep.execute import _lock

    with _lock(serial_dir), pytest.raises(TuneError, match="another hwsim tune is writing"):
        run_study(plan(folder), serial_dir, trials=TRIALS, serial=True)


@pytest.mark.slow
def test_a_study_killed_with_sigkill_resumes_to_the_same_table(folder, serial_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    longer = {"max_cycles": 20000}                     # trials long enough to be caught mid-way
    proc = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "tune", str(folder / "tiny.yaml"), "--space",
                             str(folder / "space.yaml"), "--trials", str(TRIALS), "--serial", "--quiet",
                             "--set", "max_cycles=20000", "--out", str(out)],
                            cwd=folder, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = lambda: {p.parent.name: p.stat().st_mtime_ns for p in out.glob("trials/*/trial.json")}  # noqa: E731
    deadline = time.monotonic() + 240
    while len(done()) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with proc.stderr:           # closed here: an open pipe left to the garbage collector warns later
        err = proc.stderr.read().decode()
    assert proc.returncode == -signal.SIGKILL, err
    before = done()
    assert 2 <= len(before) < TRIALS, "the study was not killed mid-way"

    resumed = run_study(plan(folder, overrides=longer), out, trials=TRIALS, serial=True)
    assert (resumed.reused, resumed.ran) == (len(before), TRIALS - len(before))
    assert {k: v for k, v in done().items() if k in before} == before     # not written again
    assert not list(out.rglob("*.tmp"))
    fresh = run_study(plan(folder, overrides=longer), tmp_path / "fresh", trials=TRIALS, serial=True)
    pd.testing.assert_frame_equal(table(out), table(fresh.directory))
