"""The benchmark harness (hwsim bench): it runs and reports every figure; the plain numpy loop
does the same maths as hwsim. No timing assertions: the figures depend on the machine."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from hwsim.bench import report, runner
from hwsim.bench.plain import PlainMGD, layer_slices
from hwsim.bench.plain_chip import PlainChipMGD
from hwsim.bench.plain_cnn import PlainCNN
from hwsim.bench.workloads import N_TEST, N_TRAIN, WORKLOADS, build_simulation, select, workloads
from hwsim.cli import main


def positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_workloads_are_design_section_5():
    by_key = workloads()
    assert [w.network for w in WORKLOADS[:4]] == ["64-32-10", "784-128-10", "784-128-10", "784-512-512-10"]
    assert [by_key[k].n_params for k in ("B1", "B2", "B4")] == [2_410, 101_770, 669_706]
    assert by_key["B3"].nodes and by_key["B3"].n_perturbed == 138
    assert not any(by_key[k].nodes for k in ("B1", "B2", "B4"))


def test_benchmark_simulation_is_the_design_workload():
    w = workloads(tiny=True)["B2"]
    sim = build_simulation(w)
    fw, sc = sim.run_spec.firmware, sim.run_spec.scenario
    assert (fw.mode, fw.tau_p, fw.tau_x, fw.tau_theta, fw.perturbation.scheme) == ("discrete", 1, 10, 100, "cdma")
    assert (sc.cost, sc.accuracy, sc.network.activation, sc.network.output_activation) == ("mse", "argmax", "relu", "linear")
    d = sim.data
    assert d.x_train.shape == (N_TRAIN, w.n_inputs) and d.x_test.shape == (N_TEST, w.n_inputs)
    # one-hot targets, every class present; the data set is fixed (not seeded by the run)
    assert np.array_equal(d.y_train.sum(axis=1), np.ones(N_TRAIN))
    assert set(np.unique(d.y_train.argmax(axis=1))) == set(range(w.n_outputs))
    assert np.array_equal(build_simulation(w, seed=5).data.x_train, d.x_train)
    sim.advance(100)
    assert sim.cycles == 100   # ideal chip: one cycle per step


def test_b5_and_b6_are_issue_18s():
    by_key = workloads()
    for key, chip in (("B5-rram", "rram_crossbar"), ("B5-pcm", "pcm_hermes_like")):
        w = by_key[key]
        assert (w.sizes, w.n_params, w.nodes, w.chip) == (by_key["B2"].sizes, 101_770, False, chip)
        assert (w.ratio_target, w.vs_b2_target) == (20.0, 3.0)
    b6 = by_key["B6"]
    assert b6.n_params == 14_378 and b6.image == (1, 28, 28) and b6.ratio_target == 30.0 and not b6.nodes
    # 26x26x16 positions x 9 + 11x11x32 x 144 + 3x3x32 x 288 + 32 x 10
    assert b6.macs_per_inference == 97_344 + 557_568 + 82_944 + 320
    assert by_key["B2"].macs_per_step() == pytest.approx(101_632 * 1.1 + 101_770)


def test_b5_and_b6_simulations():
    """B5 runs the chip path on its preset; B6 the scenario's CNN and firmware on the ideal chip."""
    for key in ("B5-rram", "B5-pcm"):
        sim = build_simulation(workloads(tiny=True)[key])
        assert sim.run_spec.chip.name == workloads()[key].chip and sim.config[0]["chip"] == 1
        assert sim.path.name == "reference" and sim.config[0]["devices"] == 1
        fw = sim.run_spec.firmware      # B2's firmware
        assert (fw.tau_x, fw.tau_theta, fw.eta, fw.perturbation.amplitude) == (10, 100, 0.01, 0.01)
    sim = build_simulation(workloads(tiny=True)["B6"])
    fw, sc = sim.run_spec.firmware, sim.run_spec.scenario
    assert (fw.tau_p, fw.tau_x, fw.tau_theta, fw.eta, fw.perturbation.scheme) == (1, 1, 100, 0.05, "cdma")
    assert sc.cost == "cross_entropy" and sim.config[0]["chip"] == 0
    assert sim.data.x_train.shape == (N_TRAIN, 784) and 0.0 <= sim.data.x_train.min() < sim.data.x_train.max() < 1.0
    assert [s.kind for s in sim.layout.stages] == ["conv", "maxpool"] * 3 + ["dense"]
    assert sim.layout.stages[3].out_shape == (4, 5, 5)       # floor mode: 11x11 pooled to 5x5


@pytest.mark.parametrize("key,steps", [("B1", 1250), ("B3", N_TRAIN * 10 + 250), ("B4", 1250)])
def test_plain_loop_does_hwsims_maths(key, steps):
    """With hwsim's perturbation and data-order streams, the plain loop's weights follow
    hwsim's through updates and baselines (B3: and an epoch boundary), stopping mid-window."""
    w = workloads(tiny=True)[key]
    sim = build_simulation(w)
    plain = PlainMGD.from_simulation(sim, same_streams=True)
    start = sim.theta.copy()
    assert sim.advance(steps) == steps
    plain.run(steps)
    assert np.abs(sim.theta - start).max() > 1e-3          # training moved the weights
    np.testing.assert_allclose(plain.theta, sim.theta, rtol=0, atol=1e-9 * np.abs(sim.theta).max())
    np.testing.assert_allclose(plain.g, sim.integrated_gradient(), rtol=1e-9, atol=1e-9 * np.abs(plain.g).max())


@pytest.mark.parametrize("key,steps", [("B5-rram", 1250), ("B5-pcm", 1250)])
def test_plain_chip_loop_does_hwsims_maths(key, steps):
    """B5: given hwsim's streams (signs, data order, read noise, rounding and write-noise
    draws), the plain chip loop follows hwsim's devices and integrators through updates that
    send pulses, stopping mid-window. Equal to 1e-9 (bit-equal in practice: the rounding of a
    sum can differ, and a converter could then round the other way, which these steps do not
    meet)."""
    w = workloads(tiny=True)[key]
    sim = build_simulation(w)
    plain = PlainChipMGD.from_simulation(sim, same_streams=True)
    start = sim.theta.copy()
    assert sim.advance(steps) == steps
    plain.run(steps)
    assert np.abs(sim.theta - start).max() > 1e-2              # the devices were written
    assert plain.pulses.sum() > 10 and np.array_equal(plain.pulses, sim.devices_k.pulses)
    np.testing.assert_allclose(plain.theta, sim.theta, rtol=0, atol=1e-9)
    np.testing.assert_allclose(plain.g, sim.integrated_gradient(), rtol=0, atol=1e-9)
    assert plain.updates == steps // 100


def test_plain_chip_loop_drift_is_hwsims():
    """B5-pcm's devices drift (t0 = 20 s, beyond any benchmark block): at 100 s of chip time the
    loop's read weights are hwsim's drift_weights."""
    from hwsim.kernels.devices import drift_weights

    sim = build_simulation(workloads(tiny=True)["B5-pcm"])
    plain = PlainChipMGD.from_simulation(sim)
    dv = sim.devices_k
    assert plain.chip["drift"] and np.array_equal(plain.read_weights(), sim.theta)   # within t0
    plain.cycles = int(100.0 / plain.chip["clock"])
    want = np.empty_like(sim.theta)
    drift_weights(sim.theta, dv.dev, dv.stuck, dv.t_prog, dv.config[0].t0, 100.0, want)
    assert not np.allclose(want, sim.theta)
    np.testing.assert_allclose(plain.read_weights(), want, rtol=1e-14, atol=0)


def test_plain_chip_loop_refuses_what_it_does_not_model():
    with pytest.raises(ValueError, match="ideal chip"):
        PlainChipMGD.from_simulation(build_simulation(workloads(tiny=True)["B2"]))
    with pytest.raises(ValueError, match="node perturbation"):
        PlainChipMGD.from_simulation(build_simulation(replace(workloads(tiny=True)["B3"], chip="rram_crossbar")))


def test_plain_cnn_loop_does_hwsims_maths():
    """B6: given hwsim's streams, the im2col loop follows hwsim's CNN weights and integrators
    through updates (tau_x = 1: a baseline every step), stopping mid-window, to 1e-9 of the
    largest weight (the sums are formed in another order)."""
    w = workloads(tiny=True)["B6"]
    sim = build_simulation(w)
    plain = PlainCNN.from_simulation(sim, same_streams=True)
    start = sim.theta.copy()
    steps = 350
    assert sim.advance(steps) == steps
    plain.run(steps)
    assert np.abs(sim.theta - start).max() > 1e-3
    np.testing.assert_allclose(plain.theta, sim.theta, rtol=0, atol=1e-9 * np.abs(sim.theta).max())
    np.testing.assert_allclose(plain.g, sim.integrated_gradient(), rtol=0, atol=1e-9 * np.abs(plain.g).max())


def test_plain_cnn_forward_is_hwsims():
    """The im2col forward pass gives hwsim's outputs (the kernel's forward) on the full B6."""
    from hwsim.kernels.codes import NO_PERT
    from hwsim.kernels.forward import forward

    w = workloads()["B6"]
    sim = build_simulation(w)
    plain = PlainCNN.from_simulation(sim)
    h = np.zeros((len(sim.layout.sizes), max(sim.layout.sizes)))
    for i in (0, 7):
        forward(sim.net, sim.theta, sim.theta, NO_PERT, sim.data.x_train[i], h)
        got = plain.output(sim.theta, sim.data.x_train[i])
        np.testing.assert_allclose(got, h[-1, :10], rtol=1e-12, atol=1e-12)


def test_plain_loop_default_streams_are_plain_random_signs():
    w = workloads(tiny=True)["B2"]
    plain = PlainMGD.from_simulation(build_simulation(w))
    d = plain.perturbation(0)
    assert d.shape == (w.n_params,)
    assert set(np.unique(d)) == {-plain.a, plain.a}
    assert np.linalg.norm(d) == pytest.approx(0.01)      # |theta~| = amplitude, as hwsim's cdma
    assert layer_slices(w.sizes)[-1][2].stop == w.n_params


def test_select_workloads():
    assert [w.key for w in select("b3, B1 ,small-wp")] == ["B1", "B3"]
    assert [w.key for w in select(None)] == ["B1", "B2", "B3", "B4", "B5-rram", "B5-pcm", "B6"]
    assert [w.key for w in select("B6,b5")] == ["B5-rram", "B5-pcm", "B6"]
    assert [w.key for w in select("b5-pcm, pcm-wp")] == ["B5-pcm"]
    with pytest.raises(ValueError, match="unknown workload B7"):
        select("B1,B7")


def test_memory_bound_is_design_formula():
    mib = 2**20
    probe = {"weights_bytes": 4 * mib, "integrators_bytes": 4 * mib, "data_bytes": 12 * mib,
             "peak_rss": 270 * mib, "rss_after_2n": 200 * mib, "rss_import": 170 * mib,
             "rss_built": 180 * mib, "per_step_bytes": 0.0, "steps": 700}
    m = runner.memory(probe)
    assert m["bound_mib"] == pytest.approx(1.5 * 20 + 250)
    assert m["peak_rss_mib"] == 270 and m["within_bound"] is True
    assert m["above_import_mib"] == pytest.approx(100)
    m = runner.memory({**probe, "rss_after_2n": 281 * mib})     # the last reading beats the peak so far
    assert m["peak_rss_mib"] == 281 and m["within_bound"] is False


def test_whole_windows():
    assert [runner.whole_windows(n) for n in (0, 1, 100, 101, 1e6 + 1)] == [100, 100, 100, 200, 1_000_100]


def test_bench_cli_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "figures" / "bench.json"
    assert main(["bench", "--tiny", "--repeats", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert set(r["workloads"]) == {"B1", "B2", "B3", "B4", "B5-rram", "B5-pcm", "B6"}
    for key, w in r["workloads"].items():
        assert key in printed and f"{w['ratio']:.1f}x" in printed
        for impl in ("hwsim", "plain"):
            assert positive(w[impl]["steps_per_s"]) and positive(w[impl]["param_steps_per_s"])
            assert w[impl]["steps"] % 100 == 0 and len(w[impl]["runs_steps_per_s"]) == 1
        assert w["hwsim"]["param_steps_per_s"] == pytest.approx(w["params"] * w["hwsim"]["steps_per_s"])
        assert w["ratio"] == pytest.approx(w["hwsim"]["steps_per_s"] / w["plain"]["steps_per_s"])
        assert w["hwsim"]["of_fma_peak"] == pytest.approx(w["hwsim"]["param_steps_per_s"] / r["fma_peak"]["fma_per_s"])
        m = w["memory"]
        for f in ("peak_rss_mib", "import_rss_mib", "weights_mib", "integrators_mib", "data_mib", "bound_mib"):
            assert positive(m[f]), f
        assert m["peak_rss_mib"] >= m["import_rss_mib"]
        assert math.isfinite(m["per_step_bytes"]) and isinstance(m["within_bound"], bool)
    assert r["workloads"]["B3"]["perturbed"] == 12 and r["workloads"]["B3"]["perturbation"] == "node"
    e = r["engine_overhead"]
    for f in ("kernel_s", "engine_s", "kernel_in_engine_s", "kernel_s_no_obs", "engine_s_no_obs"):
        assert positive(e[f]), f
    assert positive(e["overhead_pct"]) and positive(e["overhead_pct_no_obs"]) and e["observations"] >= 2
    assert positive(r["cold_start"]["seconds"]) and 0 < r["cold_start"]["startup_s"] < r["cold_start"]["seconds"]
    assert positive(r["b4_vs_b2"]["per_param_throughput_ratio"])
    for key in ("B5-rram", "B5-pcm"):      # hwsim's per-step time over B2's, timed in the same turns
        b5 = r["workloads"][key]
        assert b5["per_step_vs_b2"] == pytest.approx(b5["b2"]["steps_per_s"] / b5["hwsim"]["steps_per_s"])
        assert b5["per_step_us"] == pytest.approx(1e6 / b5["hwsim"]["steps_per_s"])
        assert b5["vs_b2_met"] == (b5["per_step_vs_b2"] <= 3.0) and b5["chip"] in ("rram_crossbar", "pcm_hermes_like")
    b6 = r["workloads"]["B6"]
    assert b6["macs_per_step"] == 2 * b6["macs_per_inference"] + b6["params"]      # tau_x = 1: a baseline every step
    assert b6["macs_per_s"] == pytest.approx(b6["macs_per_step"] * b6["hwsim"]["steps_per_s"])
    assert b6["macs_vs_b2"] == pytest.approx(b6["macs_per_s"] / b6["b2_macs_per_s"])
    assert positive(b6["b2"]["steps_per_s"]) and "multiply-adds" in printed
    mach = r["machine"]
    assert positive(mach["cpu_count"]) and mach["python"] and mach["numpy"] and mach["numba"]
    assert r["mode"] == "tiny" and r["command"] == "hwsim bench --tiny --repeats 1"
    # the report script turns the JSON into the tables of docs/performance.md
    assert report.main([str(out)]) == 0
    md = capsys.readouterr().out
    assert "| B1 small-wp | 8-6-3 |" in md and "engine over its kernel" in md and "first step" in md
    assert "| B5-rram rram-wp | 12-8-4 |" in md and "time per step over B2's" in md
    assert "B6 cnn-wp multiply-adds per second over B2's" in md
    assert "of the FMA peak" in md and "FMA peak of this core" in md


def test_fma_peak_counts_the_multiply_adds_of_a_matrix_product(monkeypatch):
    """The peak is n^3 multiply-adds over the best product's time: with the clock stepping
    by a fixed 1 ms a call, an n = 64 product reads as 64^3 / 1 ms."""
    from hwsim.bench import fma

    ticks = iter(range(10**6))
    monkeypatch.setattr(fma.time, "perf_counter", lambda: next(ticks) * 1e-3)
    r = fma.fma_peak(seconds=0.0, size=64)
    assert r["fma_per_s"] == pytest.approx(64 ** 3 / 1e-3)
    assert "best of 3" in r["method"]


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", "--only", "B9"]) == 2
    assert "--only: unknown workload B9" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert main(["bench", "--steps", "-5"]) == 2
    assert main(["bench", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_report_update_replaces_only_the_marked_tables(tmp_path):
    doc = tmp_path / "perf.md"
    doc.write_text(f"# Perf\nintro\n{report.BEGIN}\nold table\n{report.END}\nafter\n")
    assert report.splice(doc.read_text(), "| new |\n") == f"# Perf\nintro\n{report.BEGIN}\n| new |\n{report.END}\nafter\n"
    with pytest.raises(ValueError, match="expected one line"):
        report.splice("no markers\n", "x")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert report.main([str(bad), "--update", str(doc)]) == 2
    assert "old table" in doc.read_text()


def test_profile_phases_on_a_tiny_workload():
    from hwsim.bench import profile

    for key in ("B2", "B3"):
        w = workloads(tiny=True)[key]
        rows = dict(profile.hwsim_phases(w, seconds=0.001, repeats=1))
        full = [v for name, v in rows.items() if name.startswith("full step, as benchmarked")]
        assert len(full) == 1 and positive(full[0]) and positive(rows["  the same on one core (1 chunk)"])
        assert positive(rows["    reference path: perturbation generator (float values), alone"])
        assert all(math.isfinite(v) for v in rows.values())
        plain = dict(profile.plain_phases(w, seconds=0.001))
        assert positive(plain["full step under cProfile"])
        assert positive(plain["  perturbation (numpy random signs)"])
