"""Train one scenario on several chips with the same step budget and tabulate how far each
falls short of the baseline chip (the scenario's own): ``hwsim compare SCENARIO``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwsim.api import run
from hwsim.results.rundir import atomic_write
from hwsim.spec import RunSpec, load_scenario

COLUMNS = ["chip", "seed", "status", "final_test_accuracy", "best_test_accuracy",
           "shortfall_vs_baseline", "steps_simulated", "cycles_simulated", "seconds_simulated",
           "cycles_to_target", "seconds_to_target", "device_pulses_max", "run_dir"]


def compare(scenario: str | Path, chips: list[str] | None = None, seeds=(0,), out: str | Path = "runs/compare",
            overrides: dict | None = None, progress=None) -> pd.DataFrame:
    """One row per (chip, seed); the first chip is the scenario's own, the baseline.

    Every chip runs the same number of steps (the scenario's ``max_steps``, which is required)
    so accuracies compare like for like; cycles and seconds differ with each chip's timing.
    """
    base = load_scenario(scenario, overrides)
    if base.scenario.max_steps is None:
        from hwsim.spec.errors import Problem, SpecError

        raise SpecError([Problem(str(scenario), None, None, "max_steps",
                                 "hwsim compare needs a step budget so that every chip runs the same "
                                 "number of steps; set max_steps (or --set max_steps=N)")])
    chips = list(chips if chips is not None else base.scenario.compare_chips)
    specs: list[tuple[str, RunSpec]] = [(base.chip.name, base)]
    for chip in chips:
        specs.append((chip, load_scenario(scenario, overrides, chip=chip)))
    out = Path(out)
    rows = []
    for name, spec in specs:
        for seed in seeds:
            res = run(spec, seed, out=out / f"{Path(name).stem}-s{seed}")
            if progress is not None:
                progress(name, seed, res.summary)
            rows.append({"chip": spec.chip.name, "seed": seed, **res.summary, "run_dir": str(res.run_dir)})
    table = pd.DataFrame(rows)
    baseline = table[table.chip == base.chip.name].set_index("seed").final_test_accuracy
    table["shortfall_vs_baseline"] = table.seed.map(baseline) - table.final_test_accuracy
    table = table[COLUMNS]
    atomic_write(out / "comparison.csv", table.to_csv(index=False).encode())
    return table
