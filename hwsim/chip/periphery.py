"""The array periphery and neurons: DACs, row tiles with per-tile ADCs, per-neuron variation.

``Periphery`` holds the configuration the fast path (hwsim.kernels.forward.forward_chip)
reads, and computes the same forward pass over a batch with numpy for the observer.
"""

from __future__ import annotations

import numpy as np

from hwsim.kernels import forward as FK
from hwsim.network import batch
from hwsim.network.layout import NetworkLayout
from hwsim.seeds import Stream, stream_rng


def converter_step(bits: int | None, full_range: float) -> float:
    """LSB of a signed converter over [-range, range] with 2^bits levels."""
    return 2.0 * full_range / (2 ** bits - 1) if bits else 0.0


class Periphery:
    """Converters, tiles and neuron variation of one chip for one network layout."""

    def __init__(self, chip, layout: NetworkLayout, seed: int, read_sigma_add: float = 0.0,
                 read_sigma_prop: float = 0.0):
        arr, neurons = chip.array, chip.neurons
        self.layout = layout
        self.pcfg_i = np.zeros(FK.N_PCFG_I, dtype=np.int64)
        self.pcfg_f = np.zeros(FK.N_PCFG_F, dtype=np.float64)
        self.pcfg_i[FK.P_ROWS] = min(arr.rows, 2**31 - 1)
        self.pcfg_i[FK.P_DAC_ON] = int(arr.dac_bits is not None)
        self.pcfg_i[FK.P_ADC_ON] = int(arr.adc_bits is not None)
        self.pcfg_i[FK.P_NEURON_VAR] = int(neurons.activation_variation > 0)
        self.pcfg_f[FK.P_DAC_STEP] = converter_step(arr.dac_bits, arr.dac_range)
        self.pcfg_f[FK.P_DAC_RANGE] = arr.dac_range
        self.pcfg_f[FK.P_ADC_STEP] = converter_step(arr.adc_bits, arr.adc_range)
        self.pcfg_f[FK.P_ADC_RANGE] = arr.adc_range
        # Read noise of the devices, applied per tile partial sum by forward_chip.
        self.pcfg_i[FK.P_READ_NOISE] = int(read_sigma_add > 0 or read_sigma_prop > 0)
        self.pcfg_f[FK.P_READ_ADD] = read_sigma_add
        self.pcfg_f[FK.P_READ_PROP] = read_sigma_prop
        n = layout.n_neurons
        self.n_off = layout.n_off
        # Neuron variation as in the MGD reference's noisy MLP: L, k ~ 1 + N(0, s); x0, y0 ~ N(0, s).
        rng = stream_rng(seed, Stream.NEURONS)
        s = neurons.activation_variation
        self.neuron_par = np.zeros((4, n))
        self.neuron_par[FK.NP_GAIN] = 1.0 + s * rng.standard_normal(n)
        self.neuron_par[FK.NP_SLOPE] = 1.0 + s * rng.standard_normal(n)
        self.neuron_par[FK.NP_X0] = s * rng.standard_normal(n)
        self.neuron_par[FK.NP_Y0] = s * rng.standard_normal(n)

    @property
    def is_ideal(self) -> bool:
        rows_split = any(s.fan_in > self.pcfg_i[FK.P_ROWS] for s in self.layout.stages if s.has_params)
        return not (self.pcfg_i[FK.P_DAC_ON] or self.pcfg_i[FK.P_ADC_ON] or
                    self.pcfg_i[FK.P_NEURON_VAR] or self.pcfg_i[FK.P_READ_NOISE] or rows_split)

    def forward_batch(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Outputs for a batch, computed as forward_chip computes each sample, on weights that
        were already read (the observer reads the devices once, with their noise, and passes
        the result here; forward_chip instead adds the read noise per partial sum)."""
        return batch.in_chunks(lambda xs: self._forward(theta, xs), self.layout, x)

    def _forward(self, theta, x):
        lay = self.layout
        rows = int(self.pcfg_i[FK.P_ROWS])
        dac_step, dac_range, adc_step, adc_range = self.pcfg_f[:4]
        h = np.asarray(x, dtype=np.float64)
        for l, stage in enumerate(lay.stages):
            if not stage.has_params:
                h = batch.forward_stage(lay, l, theta, h)
                continue
            w, b = lay.weights(theta, l)
            if self.pcfg_i[FK.P_DAC_ON]:
                h = np.floor(np.clip(h, -dac_range, dac_range) / dac_step + 0.5) * dac_step
            z = np.zeros((h.shape[0], stage.n_out))
            for start in range(0, stage.fan_in, rows):
                part = batch.weighted_sum(lay, l, w, h, slice(start, start + rows))
                if self.pcfg_i[FK.P_ADC_ON]:
                    part = np.floor(np.clip(part, -adc_range, adc_range) / adc_step + 0.5) * adc_step
                z += part
            z += batch.output_bias(lay, l, b)
            if self.pcfg_i[FK.P_NEURON_VAR]:
                sl = slice(self.n_off[l], self.n_off[l] + stage.n_out)
                gain, slope, x0, y0 = (self.neuron_par[r, sl] for r in range(4))
                h = gain * batch.activate(slope * (z - x0), stage.activation) + y0
            else:
                h = batch.activate(z, stage.activation)
        return h
