"""Event traces: golden files for tiny configurations (as SCALE-Sim's CI diffs cycle traces),
and traces that agree with the run's own cycle counts."""

import json
from pathlib import Path

import pytest

from helpers import make_spec
from hwsim.api import run
from hwsim.cli import main

GOLDEN = Path(__file__).parent / "golden"

CONFIGS = {
    # input-bound, no double buffering; blocking updates with a pipeline drain
    "input_bound": {"inference": {"cycles_per_inference": 3, "initiation_interval": 2},
                    "input": {"values_per_cycle": 16}, "broadcast": {"latency": 1},
                    "update": {"pulse_duration": "2 ns", "overhead_cycles": 1}},
    # double buffering hides most of the load; slow baselines
    "double_buffered": {"inference": {"cycles_per_inference": 2, "baseline_cycles": 2},
                        "input": {"values_per_cycle": 8, "double_buffering": True}},
    # non-blocking updates longer than the update window: background writes and stalls
    "non_blocking": {"update": {"overhead_cycles": 5, "pulse_duration": "1 ns", "blocking": False}},
}


def tiny(chip):
    spec = make_spec(dataset={"name": "parity", "n_bits": 3}, network={"hidden": [2], "activation": "sigmoid"},
                     chip=chip, perturbation={"scheme": "cdma", "amplitude": 0.05},
                     tau_x=2, tau_theta=3, eta=0.1, evaluation={"every_steps": 5})
    return spec.with_overrides({"scenario.max_steps": 12, "scenario.max_cycles": 10**6})


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trace_matches_golden_file(name, tmp_path):
    out = tmp_path / f"{name}.csv"
    res = run(tiny(CONFIGS[name]), seed=0, trace=out)
    text = out.read_text()
    golden = GOLDEN / f"trace_{name}.csv"
    assert text == golden.read_text(), f"trace differs from {golden}; inspect and regenerate if intended"
    # The trace accounts for every cycle of the run: events end to end, nothing overlaps.
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    busy = [r for r in rows if int(r[3]) > 0 and r[0] != "update (background)"]
    ends = 0
    for r in busy:
        assert int(r[2]) == ends
        ends = int(r[2]) + int(r[3])
    assert ends == res.summary["cycles_simulated"]


def test_chrome_trace_is_valid_json_with_lanes(tmp_path):
    out = tmp_path / "t.json"
    run(tiny(CONFIGS["input_bound"]), seed=0, trace=out)
    data = json.loads(out.read_text())
    names = {e["args"]["name"] for e in data["traceEvents"] if e["ph"] == "M"}
    assert names == {"input loader", "inference pipeline", "update controller", "observer"}
    spans = [e for e in data["traceEvents"] if e["ph"] == "X"]
    assert spans and all(e["dur"] > 0 for e in spans)
    # Times in chip microseconds (the format's unit): cycles x the clock period.
    period = data["otherData"]["clock_period_s"]
    assert period == tiny(CONFIGS["input_bound"]).chip.clock_period
    for e in spans:
        assert e["ts"] == pytest.approx(e["args"]["start_cycle"] * period * 1e6)
        assert e["dur"] == pytest.approx(e["args"]["cycles"] * period * 1e6)


def test_cli_refuses_traces_of_long_runs(tmp_path, capsys):
    scen = Path(__file__).resolve().parents[1] / "scenarios/quickstart.yaml"
    assert main(["run", str(scen), "--trace", str(tmp_path / "t.json"), "--out", str(tmp_path / "r")]) == 2
    assert "--trace is for short runs" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_timed_runs_do_not_depend_on_block_size(name):
    spec = tiny(CONFIGS[name]).with_overrides({"scenario.max_steps": 40})
    auto, one, seven = run(spec, seed=1), run(spec, seed=1, max_block_steps=1), run(spec, seed=1, max_block_steps=7)
    for other in (one, seven):
        assert other.curve.equals(auto.curve)
        assert (other.weights == auto.weights).all()
        for key in ("cycles_simulated", "time_breakdown_cycles", "energy_joules", "updates"):
            assert other.summary[key] == auto.summary[key]
