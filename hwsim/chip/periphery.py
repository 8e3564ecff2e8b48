"""The array periphery and neurons: DACs, row tiles with per-tile ADCs, per-neuron variation.

``Periphery`` holds the configuration the fast path (hwsim.kernels.forward.forward_chip)
reads, one PERIPHERY_CONFIG record derived from the chip spec by ``periphery_config``, and
computes the same forward pass over a batch with numpy for the observer.
"""

from __future__ import annotations

import numpy as np

from hwsim.kernels import forward as FK
from hwsim.kernels.state import record
from hwsim.network import batch
from hwsim.network.layout import NetworkLayout
from hwsim.seeds import Stream, stream_rng


def converter_step(bits: int | None, full_range: float) -> float:
    """LSB of a signed converter over [-range, range] with 2^bits levels."""
    return 2.0 * full_range / (2 ** bits - 1) if bits else 0.0


def periphery_config(chip, read_sigma_add: float = 0.0, read_sigma_prop: float = 0.0) -> np.recarray:
    """forward_chip's PERIPHERY_CONFIG record: the array's tiles and converters, the neuron
    variation switch, and the devices' read noise (weight units, applied per tile partial sum)."""
    arr, neurons = chip.array, chip.neurons
    config = record(FK.PERIPHERY_CONFIG)
    c = config[0]
    c["rows"] = min(arr.rows, 2**31 - 1)
    c["dac_on"] = int(arr.dac_bits is not None)
    c["adc_on"] = int(arr.adc_bits is not None)
    c["neuron_var"] = int(neurons.activation_variation > 0)
    c["read_noise"] = int(read_sigma_add > 0 or read_sigma_prop > 0)
    c["dac_step"] = converter_step(arr.dac_bits, arr.dac_range)
    c["dac_range"] = arr.dac_range
    c["adc_step"] = converter_step(arr.adc_bits, arr.adc_range)
    c["adc_range"] = arr.adc_range
    c["read_add"] = read_sigma_add
    c["read_prop"] = read_sigma_prop
    return config


class Periphery:
    """Converters, tiles and neuron variation of one chip for one network layout."""

    def __init__(self, chip, layout: NetworkLayout, seed: int, read_sigma_add: float = 0.0,
                 read_sigma_prop: float = 0.0):
        neurons = chip.neurons
        self.layout = layout
        self.config = periphery_config(chip, read_sigma_add, read_sigma_prop)
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
        c = self.config[0]
        rows_split = any(s.fan_in > c.rows for s in self.layout.stages if s.has_params)
        return not (c.dac_on or c.adc_on or c.neuron_var or c.read_noise or rows_split)

    def forward_batch(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Outputs for a batch, computed as forward_chip computes each sample, on weights that
        were already read (the observer reads the devices once, with their noise, and passes
        the result here; forward_chip instead adds the read noise per partial sum)."""
        return batch.in_chunks(lambda xs: self._forward(theta, xs), self.layout, x)

    def _forward(self, theta, x):
        lay = self.layout
        c = self.config[0]
        rows = int(c.rows)
        dac_step, dac_range, adc_step, adc_range = c.dac_step, c.dac_range, c.adc_step, c.adc_range
        h = np.asarray(x, dtype=np.float64)
        for l, stage in enumerate(lay.stages):
            if not stage.has_params:
                h = batch.forward_stage(lay, l, theta, h)
                continue
            w, b = lay.weights(theta, l)
            if c.dac_on:
                h = np.floor(np.clip(h, -dac_range, dac_range) / dac_step + 0.5) * dac_step
            z = np.zeros((h.shape[0], stage.n_out))
            for start in range(0, stage.fan_in, rows):
                part = batch.weighted_sum(lay, l, w, h, slice(start, start + rows))
                if c.adc_on:
                    part = np.floor(np.clip(part, -adc_range, adc_range) / adc_step + 0.5) * adc_step
                z += part
            z += batch.output_bias(lay, l, b)
            if c.neuron_var:
                sl = slice(self.n_off[l], self.n_off[l] + stage.n_out)
                gain, slope, x0, y0 = (self.neuron_par[r, sl] for r in range(4))
                h = gain * batch.activate(slope * (z - x0), stage.activation) + y0
            else:
                h = batch.activate(z, stage.activation)
        return h
