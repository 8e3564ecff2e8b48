"""The chip's energy table applied to what a run did: joules per component.

The table (``chip.energy``: joules per MVM, ADC and DAC conversion, perturbation value,
broadcast, integrator step and device write) is multiplied by the action counts of the run:
inferences (steps plus baseline measurements) times the MVMs and conversions of one
inference on the tiles of hwsim.chip.timing, perturbation values drawn, steps broadcast and
integrated, device pulses and writes. Energy is not simulated step by step: every count is
a counter of the kernel, so the figure is exact for the events the kernel counts.
"""

from __future__ import annotations

import math

from hwsim.chip.timing import arrays


def energy_breakdown(chip, layout, counts, pulses_total: int,
                     n_perturbed: int | None = None) -> dict[str, float]:
    """Joules per component from the run's action counters and the chip's energy table.

    ``n_perturbed`` is the number of perturbation generators: one per weight and bias (P,
    weight perturbation, the default), or one per neuron (K) under node perturbation; each
    new perturbation costs each of them one value. The integrators are one per weight and
    bias either way. ``counts`` are the run's named counters
    (hwsim.engine.simulation.Simulation.counts)."""
    arr, e = chip.array, chip.energy
    stages = arrays(layout)
    row_tiles = [math.ceil(f / arr.rows) for f, _, _ in stages]
    col_tiles = [math.ceil(c / arr.cols) for _, c, _ in stages]
    inferences = counts["step"] + counts["baselines"]
    steps = counts["step"]
    p = layout.n_params
    # Per inference: every position of a stage is one MVM on each of its tiles.
    mvms = inferences * sum(pos * r * c for (_, _, pos), r, c in zip(stages, row_tiles, col_tiles))
    adcs = inferences * sum(pos * ch * r for (_, ch, pos), r in zip(stages, row_tiles))
    dacs = inferences * sum(pos * f * c for (f, _, pos), c in zip(stages, col_tiles))
    return {
        "mvm": mvms * e.mvm,
        "adc": adcs * e.adc,
        "dac": dacs * e.dac,
        "perturbation": counts["pert_updates"] * (p if n_perturbed is None else n_perturbed)
        * e.perturbation,
        "broadcast": steps * e.broadcast,
        "integrators": steps * p * e.integrator,
        "writes": (pulses_total + counts["writes"]) * e.write,
    }
