"""The perturbation generators of the chip: one per perturbed parameter, all driven by
(seed, perturbation index k). The per-run tables (tdma order, walsh rows, fdma frequencies
and phases) are drawn once from the seed; values are regenerated, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.kernels.codes import CDMA, FDMA, GAUSSIAN, SCHEMES, TDMA, WALSH
from hwsim.kernels.perturb import fill_perturbation
from hwsim.seeds import Stream, stream_key, stream_rng


def walsh_order(p: int) -> int:
    """N_H: the smallest power of two > P, so rows 1..N_H-1 (never the constant row 0) suffice."""
    n = 1
    while n < p + 1:
        n *= 2
    return n


@dataclass
class PerturbationGenerator:
    """theta~(k) for P parameters under one scheme; ``vector(k)`` regenerates any index."""

    scheme: str
    n_params: int
    amplitude: float
    seed: int
    sparsity: float = 1.0
    fdma_band: tuple[float, float] = (0.1, 0.4)

    def __post_init__(self):
        p = self.n_params
        self.code = SCHEMES[self.scheme]
        rng = stream_rng(self.seed, Stream.CODE_TABLES)
        self.period = 1
        self.table_i = np.zeros(1, dtype=np.int64)
        self.table_f = np.zeros(1, dtype=np.float64)
        self.table_g = np.zeros(1, dtype=np.float64)
        if self.code == TDMA:
            self.table_i = rng.permutation(p).astype(np.int64)
            self.entry_amp = self.amplitude
            self.period = p
        elif self.code == CDMA:
            self.entry_amp = self.amplitude * np.sqrt(self.sparsity / p)
        elif self.code == WALSH:
            self.period = walsh_order(p)
            self.table_i = (1 + rng.permutation(self.period - 1)[:p]).astype(np.int64)
            self.entry_amp = self.amplitude / np.sqrt(p)
        elif self.code == FDMA:
            lo, hi = self.fdma_band
            grid = np.linspace(lo, hi, p) if p > 1 else np.array([0.5 * (lo + hi)])
            self.table_f = grid[rng.permutation(p)].astype(np.float64)
            self.table_g = rng.uniform(0.0, 2.0 * np.pi, size=p)
            self.entry_amp = self.amplitude * np.sqrt(2.0 / p)
            self.period = 0
        elif self.code == GAUSSIAN:
            self.entry_amp = self.amplitude / np.sqrt(p)
        # The counter-based hash key of the cdma/gaussian streams.
        self.stream = int(stream_key(self.seed, Stream.PERTURBATION))

    @property
    def exact_after(self) -> int | None:
        """Perturbation indices after which the estimate is exact in the linear regime."""
        if self.code in (TDMA, WALSH):
            return self.period
        return None

    @property
    def frequency_spacing(self) -> float:
        lo, hi = self.fdma_band
        return (hi - lo) / max(self.n_params - 1, 1)

    def kernel_args(self):
        return (self.code, np.uint64(self.stream), float(self.entry_amp), float(self.sparsity), int(self.period),
                self.table_i, self.table_f, self.table_g)

    def vector(self, k: int, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(self.n_params) if out is None else out
        code, stream, amp, sp, period, ti, tf, tg = self.kernel_args()
        fill_perturbation(code, k, stream, amp, sp, period, ti, tf, tg, out)
        return out


def generator_gains(chip, n_generators: int, seed: int) -> np.ndarray:
    """Per-generator amplitude gain 1 + sigma xi, drawn once (generator mismatch)."""
    sigma = chip.perturbation.mismatch
    rng = stream_rng(seed, Stream.GENERATOR_GAIN)
    return 1.0 + sigma * rng.standard_normal(n_generators) if sigma > 0 else np.ones(n_generators)


def generator_config(chip, generator: PerturbationGenerator, gains: np.ndarray) -> dict:
    """The generators' configuration (hwsim.kernels.perturb.emit runs them): the scheme's
    code, its per-entry amplitude and tables' period, and the perturbation circuit
    (mismatch, output resolution, injection into the weight devices)."""
    pc = chip.perturbation
    # Largest value a generator emits: its entry amplitude times the largest gain.
    peak = generator.entry_amp * float(np.max(np.abs(gains)))
    if generator.scheme == "gaussian":
        peak *= 4.0  # +-4 sigma full scale
    bits = pc.amplitude_bits
    return {"scheme": generator.code, "period": generator.period, "entry_amp": generator.entry_amp,
            "sparsity": generator.sparsity, "perturb_seed": generator.stream,
            "gen_mismatch": int(pc.mismatch > 0), "gen_bits": int(bits is not None),
            "gen_step": peak / (2 ** (bits - 1) - 1) if bits and bits > 1 else peak, "gen_limit": peak,
            "inject_device": int(pc.injection == "weight_device"),
            # a device step: the unit of a perturbation written into the weight devices
            "dw_ctrl": chip.device.dw_min}


def generators_ideal(chip) -> bool:
    pc = chip.perturbation
    return pc.injection != "weight_device" and not pc.mismatch > 0 and pc.amplitude_bits is None
