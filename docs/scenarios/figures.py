"""Regenerate the figures of docs/scenarios/*.md: each study at the budget its page states.

    python docs/scenarios/figures.py [NAME ...]

Runs serially in this process (a few minutes on 2 cores); writes docs/scenarios/img/NAME.png
and prints the numbers the pages quote. The full studies are the sweeps in sweeps/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hwsim.api import run  # noqa: E402
from hwsim.network.layout import scenario_layout  # noqa: E402
from hwsim.run_plan import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
IMG = Path(__file__).resolve().parent / "img"


def spec(name, **overrides):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides)


def save(fig, name):
    IMG.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(IMG / f"{name}.png", dpi=100)
    plt.close(fig)
    print(f"wrote {IMG / name}.png")


def quickstart():
    res = run(spec("quickstart"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(res.curve["cycle"], res.curve["test_accuracy"], marker="o")
    ax.axhline(0.9, ls="--", c="grey")
    ax.set(xlabel="chip cycles", ylabel="test accuracy", title="quickstart: digits, ideal chip")
    save(fig, "quickstart")
    print("quickstart", res.summary["cycles_to_target"])


def parity():
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for n, h in ((2, 4), (3, 6), (4, 8), (5, 10)):
        c = [run(spec("parity", **{"dataset.n_bits": n, "network.hidden": [h]}), seed=s).summary["cycles_to_target"]
             for s in range(5)]
        c = np.array([np.nan if v is None else v for v in c], dtype=float)
        ax.scatter([n] * len(c), c, c="C0")
        print("parity", n, c.tolist())
    ax.set(yscale="log", xlabel="bits n", ylabel="steps to 100 % (5 seeds)", title="parity")
    save(fig, "parity")


def gradient_angle():
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for scheme in ("tdma", "cdma", "walsh", "fdma", "gaussian"):
        res = run(spec("gradient_angle", **{"firmware.perturbation.scheme": scheme, "max_steps": 4000,
                                            "firmware.evaluation.every_steps": 64}))
        ax.plot(res.curve["step"], res.curve["gradient_angle_deg"], label=scheme)
        print("angle", scheme, res.curve["gradient_angle_deg"].iloc[-1])
    t = np.arange(1, 4001)
    ax.plot(t, np.degrees(np.arccos(np.sqrt(t / (t + 609)))), "k:", label="sqrt(T/(T+P-1))")
    ax.set(xlabel="steps T", ylabel="angle to the true gradient (deg)", title="gradient_angle, P = 610")
    ax.legend()
    save(fig, "gradient_angle")


def scaling():
    widths = (16, 32, 64, 128, 256, 512)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for w in widths:
        c = [run(spec("scaling", **{"network.hidden": [w], "firmware.evaluation.every_steps": 5000}),
                 seed=s).summary["cycles_to_target"] for s in range(2)]
        c = [np.nan if v is None else v for v in c]
        ax.scatter([w] * len(c), c, c="C0")
        print("scaling", w, c, flush=True)
    ax.set(xscale="log", xlabel="hidden width", ylabel="cycles to 90 %", title="scaling on digits")
    save(fig, "scaling")


def perturbation_types():
    """Each scheme on the weights (the quickstart's firmware) and on the nodes (the
    mgd_node_perturbation firmware: its own amplitude and rate, as the sweep does)."""
    schemes = ("tdma", "cdma", "walsh", "fdma", "gaussian")
    firmware = {"weights": "mgd_weight_perturbation", "nodes": "mgd_node_perturbation"}
    out = {}
    for target, fw in firmware.items():
        out[target] = []
        for scheme in schemes:
            s = run(load_scenario(ROOT / "scenarios" / "perturbation_types.yaml",
                                  {"firmware.perturbation.scheme": scheme,
                                   "firmware.evaluation.every_steps": 5000}, firmware=fw)).summary
            out[target].append(np.nan if s["cycles_to_target"] is None else s["cycles_to_target"])
        print("types", target, out[target], flush=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(schemes))
    ax.bar(x - 0.2, out["weights"], 0.4, label="weights")
    ax.bar(x + 0.2, out["nodes"], 0.4, label="nodes")
    ax.set_xticks(x, schemes)
    ax.set(ylabel="cycles to 90 %", title="perturbation_types (missing bar: not reached)")
    ax.legend()
    save(fig, "perturbation_types")


def heatmap(name, xs, ys, xkey, ykey, xlabel, ylabel, value="seconds_to_target", **extra):
    """One run per cell, drawn with hwsim's own figure style (hwsim.results.plots.heatmap:
    SI-prefixed values, a named colour bar, grey 'not reached' cells, chip and firmware named)."""
    import pandas as pd

    from hwsim.results import plots

    z = np.full((len(ys), len(xs)), np.nan)
    rows = []
    for i, yv in enumerate(ys):
        for j, xv in enumerate(xs):
            run_spec = spec(name, **{xkey: xv, ykey: yv, **extra})
            s = run(run_spec).summary
            z[i, j] = np.nan if s[value] is None else s[value]
            rows.append({xkey: xv, ykey: yv, "seed": 0, "state": "finished", "status": s["status"], value: s[value]})
    print(name, z.tolist())
    fig = plots.heatmap(pd.DataFrame(rows), xkey, ykey, value,
                        context=plots.caption(run_spec.chip.name, run_spec.firmware.name, name) + ", seed 0")
    fig.axes[0].set(xlabel=xlabel, ylabel=ylabel)
    IMG.mkdir(exist_ok=True)
    fig.savefig(IMG / f"{name}.png", dpi=plots.DPI)
    print(f"wrote {IMG / name}.png")


def tau_sweep():
    heatmap("tau_sweep", (1, 10, 100), (10, 100, 1000), "firmware.tau_x", "firmware.tau_theta",
            "tau_x (steps)", "tau_theta (steps)", **{"firmware.evaluation.every_steps": 5000})


def noise():
    heatmap("noise", (0.0, 0.001, 0.003, 0.01), (0.0, 0.5), "chip.cost_unit.noise_sigma", "chip.device.write_noise",
            "cost noise sigma", "write noise", value="cycles_to_target",
            **{"firmware.evaluation.every_steps": 5000})


def bandwidth():
    heatmap("bandwidth", (1, 4, 16, 64), (0, 2, 8), "chip.input.values_per_cycle", "chip.broadcast.latency",
            "input values per cycle", "broadcast latency (cycles)", value="cycles_to_target",
            **{"firmware.evaluation.every_steps": 5000})


def cnn_structure():
    """What the CNN scenarios put on the chip: per stage, parameters, nodes and MVMs."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, name in zip(axes, ("fashion_mnist_cnn", "cifar10_cnn")):
        rows = scenario_layout(spec(name).scenario).describe()
        labels = [f"{r['kind']}\n{r['out'][0]}x{r['out'][1]}x{r['out'][2]}" for r in rows]
        x = np.arange(len(rows))
        ax.bar(x - 0.27, [r["params"] for r in rows], 0.27, label="parameters (WP: K)")
        ax.bar(x, [r["nodes"] for r in rows], 0.27, label="nodes (NP: K)")
        ax.bar(x + 0.27, [r["mvms"] for r in rows], 0.27, label="MVMs per inference")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set(yscale="log", title=name)
    axes[0].legend(fontsize=7)
    save(fig, "cnn_structure")


FIGURES = {f.__name__: f for f in (quickstart, parity, gradient_angle, scaling, perturbation_types,
                                   tau_sweep, noise, bandwidth, cnn_structure)}

if __name__ == "__main__":
    for name in sys.argv[1:] or FIGURES:
        FIGURES[name]()
