"""What a study leaves in its folder: trials.csv and trials.parquet (one row per trial), the best
firmware as a preset YAML that ``hwsim validate`` accepts (each tuned value commented with the
trial that produced it), and plots/objective.png and plots/slices.png in the house style of
hwsim.results.plots. Every file is written atomically."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hwsim.results import plots
from hwsim.results.rundir import atomic_write

TRIALS_CSV = "trials.csv"
TRIALS_PARQUET = "trials.parquet"
BEST_FIRMWARE = "best_firmware.yaml"
PLOTS_DIR = "plots"
FIRST_COLUMNS = ["trial", "batch", "state", "status", "objective", "reached_target", "value_to_target",
                 "best_test_accuracy", "final_test_accuracy", "pruned_step", "seed", "steps_simulated",
                 "cycles_simulated", "energy_joules", "wall_seconds", "spec_hash", "error"]


def trials_table(plan, records) -> pd.DataFrame:
    """One row per trial, in trial order: its parameters (one column per knob, named by its
    dotted path), score (``objective``), state and the run's figures."""
    rows = []
    for r in sorted(records, key=lambda r: r.number):
        row = {"trial": r.number, "batch": r.batch, "state": r.state, "status": r.status,
               "objective": r.score, "reached_target": r.reached, "value_to_target": r.value_to_target,
               "best_test_accuracy": r.best_test_accuracy, "final_test_accuracy": r.final_test_accuracy,
               "pruned_step": r.pruned_step, "seed": r.seed, "steps_simulated": r.steps_simulated,
               "cycles_simulated": r.cycles_simulated, "energy_joules": r.energy_joules,
               "wall_seconds": r.wall_seconds, "spec_hash": r.spec_hash, "error": r.error}
        row.update({path: r.params.get(path) for path in plan.space.params})
        rows.append(row)
    table = pd.DataFrame(rows, columns=FIRST_COLUMNS + list(plan.space.params))
    for col in ("objective", "value_to_target", "best_test_accuracy", "final_test_accuracy", "energy_joules",
                "wall_seconds"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    for col in ("pruned_step", "steps_simulated", "cycles_simulated"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("Int64")
    for path, knob in plan.space.params.items():
        if knob.choices is not None and not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                                                for c in knob.choices):
            table[path] = table[path].astype("string")   # one type per column (parquet)
    return table


def write_all(out: Path, plan, records) -> pd.DataFrame:
    """The tables, the best firmware (when a trial finished) and the plots."""
    from hwsim.tune.study import best_record

    table = trials_table(plan, records)
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write(out / TRIALS_PARQUET, buf.getvalue())
    atomic_write(out / TRIALS_CSV, table.to_csv(index=False).encode())
    best = best_record(records)
    if best is not None:
        atomic_write(out / BEST_FIRMWARE, best_firmware_yaml(plan, best).encode())
    else:
        (out / BEST_FIRMWARE).unlink(missing_ok=True)
    if len(table):
        plots.save(objective_figure(plan, table), out / PLOTS_DIR / "objective.png")
        plots.save(slices_figure(plan, table), out / PLOTS_DIR / "slices.png")
    return table


# --------------------------------------------------------------------------- the best firmware


def best_firmware_yaml(plan, best) -> str:
    """The best trial's firmware, fully resolved, as a preset file: the base firmware with the
    tuned values (time constants in steps on this chip), each commented with its trial."""
    from hwsim.tune.study import OBJECTIVE_UNITS

    spec = plan.base.with_overrides(best.params)
    fw = spec.firmware
    data = fw.model_dump(mode="python")
    data["name"] = f"{fw.name}_tuned_{plan.base.scenario.name}"
    data["description"] = (f"{fw.name} tuned by hwsim tune for {plan.base.scenario.name} on "
                           f"{plan.base.chip.name} (objective: {plan.objective} to target)")[:2000]
    outcome = (f"{plan.objective} to target {best.score:.6g} {OBJECTIVE_UNITS[plan.objective]}" if best.reached
               else f"did not reach the target (score {best.score:.6g}; best accuracy "
                    f"{best.best_test_accuracy})")
    comments = {path.removeprefix("firmware."): f"tuned: trial {best.number}"
                for path in best.params if path.startswith("firmware.")}
    others = {p: v for p, v in best.params.items() if not p.startswith("firmware.")}
    head = [f"# Tuned by: hwsim tune {plan.scenario} --objective {plan.objective} --seed {plan.seed}"
            f"{' --chip ' + plan.chip if plan.chip else ''}{' --firmware ' + plan.firmware if plan.firmware else ''}"
            f" --space {plan.space_path}",
            f"# Scenario {plan.base.scenario.name} on chip {plan.base.chip.name}; best of the trials: "
            f"trial {best.number}, {outcome}.",
            "# Time constants are whole steps on that chip; the other values are as the base firmware "
            f"{fw.name} resolves them."]
    if others:
        head.append("# The best trial also set (not firmware, so not in this file): "
                    + ", ".join(f"{p}={v!r}" for p, v in others.items()))
    return "\n".join(head + _yaml_lines(data, comments)) + "\n"


def _scalar(value) -> str:
    """One YAML value in flow style ('0.3', 'sgd', '.inf', '[0.1, 0.4]')."""
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump([value], default_flow_style=True, width=10**9).strip()
    return text[1:-1]


def _yaml_lines(data: dict, comments: dict, prefix: str = "", indent: int = 0) -> list[str]:
    lines = []
    pad = "  " * indent
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key}:")
            lines += _yaml_lines(value, comments, dotted + ".", indent + 1)
            continue
        line = f"{pad}{key}: {_scalar(value)}"
        if dotted in comments:
            line += f"   # {comments[dotted]}"
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- plots


def objective_figure(plan, table: pd.DataFrame):
    """The score of every trial in order, the best so far as a step line; failures (above the
    penalty line) and pruned trials marked apart."""
    from hwsim.tune.study import OBJECTIVE_UNITS

    fig = plots.new_figure()
    ax = fig.axes[0]
    unit = OBJECTIVE_UNITS[plan.objective]
    scored = table[table.state != "pruned"]
    finite = scored[np.isfinite(scored.objective)]
    for reached, style in ((True, dict(marker="o", color="tab:blue", label="reached the target")),
                           (False, dict(marker="x", color="tab:red", label="did not (penalty score)"))):
        part = finite[finite.reached_target == reached]
        if len(part):
            ax.scatter(part.trial, part.objective, **style)
    pruned = table[table.state == "pruned"]
    if len(finite):
        best = finite.set_index("trial").objective.reindex(table.trial).cummin().ffill()
        ax.step(best.index, best.values, where="post", color="k", lw=1.5, label="best so far")
        if len(pruned):
            low = float(finite.objective.min())
            ax.scatter(pruned.trial, [low] * len(pruned), marker="|", s=200, color="0.5",
                       label=f"pruned ({len(pruned)})")
        if plots._log_scale_fits(finite.objective.tolist()):
            ax.set_yscale("log")
        ax.legend(loc="best", fontsize=8)
    else:
        plots._note(ax, "no trial has a score yet")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{plan.objective} to target ({unit})")
    ax.set_title(f"hwsim tune {plan.base.scenario.name} on {plan.base.chip.name}: {plan.objective} to "
                 f"{plan.base.scenario.target_accuracy:g} test accuracy", fontsize=10)
    return fig


def slices_figure(plan, table: pd.DataFrame):
    """The score against each knob's value (log axis for log ranges), one panel per knob."""
    params = list(plan.space.params.items())
    fig = plots.new_figure(ncols=len(params), sharey=True)
    scored = table[(table.state != "pruned") & np.isfinite(table.objective)]
    for ax, (path, knob) in zip(fig.axes, params):
        if not len(scored):
            plots._note(ax, "no scores")
            continue
        x = scored[path]
        if knob.choices is not None:
            labels = [str(c) for c in knob.choices]
            x = [labels.index(str(v)) if str(v) in labels else math.nan for v in x]
            ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        elif knob.log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())   # minor labels overlap in narrow panels
        colours = ["tab:blue" if r else "tab:red" for r in scored.reached_target]
        ax.scatter(x, scored.objective, c=colours, s=18)
        ax.set_xlabel(path.removeprefix("firmware."), fontsize=8)
        ax.tick_params(labelsize=7)
    if len(scored) and plots._log_scale_fits(scored.objective.tolist()):
        fig.axes[0].set_yscale("log")
    fig.axes[0].set_ylabel(f"{plan.objective} to target (score)")
    fig.suptitle("score against each knob (blue: reached the target; red: penalty score)", fontsize=10)
    return fig
