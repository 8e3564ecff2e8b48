"""Train one scenario on several chips or with several firmware models, with the same step
budget, and tabulate how far each falls short of the baseline (the scenario's own chip and
firmware): ``hwsim compare SCENARIO``. A chip may be paired with its own firmware
(``CHIP+FIRMWARE``), so each chip is compared on the firmware tuned for it. Writes
comparison.csv (one row per variant and seed, with time and energy to the target side by
side), curves.csv (every variant's learning curve, samples seen as the shared axis) and the
figures in plots/ (PNG and SVG: learning curves, final accuracy and time to target per
variant, time and energy breakdown); ``hwsim report`` of the folder adds report.html."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hwsim.api import run
from hwsim.results.rundir import atomic_write, slug
from hwsim.run_plan import RunSpec, load_scenario

COLUMNS = ["variant", "chip", "firmware", "seed", "status", "final_test_accuracy", "best_test_accuracy",
           "shortfall_vs_baseline", "samples_seen", "steps_simulated", "cycles_simulated", "seconds_simulated",
           "cycles_to_target", "seconds_to_target", "energy_joules_to_target", "energy_joules",
           "device_pulses_max", "not_modelled", "warnings", "run_dir"]


def chip_and_firmware(entry: str) -> tuple[str, str | None]:
    """A compare_chips entry: ``CHIP`` (the scenario's firmware) or ``CHIP+FIRMWARE`` (that
    chip on its own firmware); each part a preset name or a path."""
    chip, _, firmware = entry.partition("+")
    return chip, firmware or None


def compare(scenario: str | Path, chips: list[str] | None = None, seeds=(0,), out: str | Path = "runs/compare",
            overrides: dict | None = None, progress=None, firmware: list[str] | None = None) -> pd.DataFrame:
    """One row per (variant, seed); the first variant is the scenario's own chip and firmware,
    the baseline; then each chip with the scenario's firmware (or, written ``CHIP+FIRMWARE``,
    with its own), each firmware on the scenario's chip.

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
    firmware = list(firmware if firmware is not None else base.scenario.compare_firmware)
    label = f"{base.chip.name}+{base.firmware.name}"
    specs: list[tuple[str, RunSpec]] = [(label, base)]
    for entry in chips:
        chip, own_firmware = chip_and_firmware(entry)
        spec = load_scenario(scenario, overrides, chip=chip, firmware=own_firmware)
        specs.append((f"{spec.chip.name}+{spec.firmware.name}", spec))
    for fw in firmware:
        spec = load_scenario(scenario, overrides, firmware=fw)
        specs.append((f"{spec.chip.name}+{spec.firmware.name}", spec))
    out = Path(out)
    rows, curves = [], []
    for name, spec in specs:
        for seed in seeds:
            # compare's folder is its own: each variant's run is rewritten on every comparison.
            res = run(spec, seed, out=out / f"{slug(name)}-s{seed}", overwrite=True)
            if progress is not None:
                progress(name, seed, res.summary)
            # Lists as JSON text, as sweep tables hold them; null joules where not_modelled
            # says the chip has no energy table.
            rows.append({"variant": name, "chip": spec.chip.name, "firmware": spec.firmware.name,
                         "seed": seed, **res.summary, "run_dir": str(res.run_dir),
                         **{k: json.dumps(res.summary[k]) if k in res.summary else None
                            for k in ("not_modelled", "warnings")}})
            curves.append(res.curve.assign(variant=name, seed=seed))
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    baseline = table[table.variant == label].set_index("seed").final_test_accuracy
    table["shortfall_vs_baseline"] = table.seed.map(baseline) - table.final_test_accuracy
    atomic_write(out / "comparison.csv", table.to_csv(index=False).encode())
    curve_table = pd.concat(curves, ignore_index=True)
    front = ["variant", "seed", "samples_seen"]
    curve_table = curve_table[front + [c for c in curve_table.columns if c not in front]]
    atomic_write(out / "curves.csv", curve_table.to_csv(index=False).encode())
    from hwsim.results.report import plot_compare   # (matplotlib loaded only once runs are done)

    plot_compare(out)
    return table
