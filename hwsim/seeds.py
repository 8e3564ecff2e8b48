"""The run's seed tree: every random stream of a run, drawn from the run's seed by key.

A run has one integer seed. Each consumer of randomness takes its own child of it,
``numpy.random.SeedSequence(seed, spawn_key=(key,))``, so adding or reordering consumers never
changes another's numbers. This enumeration is the only place the keys are written; the
table in docs/reliability.md ("Determinism: what the seed controls") describes the same tree.
The keys are part of the results' identity: changing one changes every run that uses it.
"""

from __future__ import annotations

import enum

import numpy as np


class Stream(enum.IntEnum):
    """Spawn keys of the run's seed tree, one per consumer."""

    DATA = 1                 # data set generation and split (hwsim.data)
    INIT = 2                 # initial weights (hwsim.network.layout.NetworkLayout.init)
    COST_NOISE = 3           # cost-unit noise, counter-based (kernels, per step)
    ORDER = 4                # presentation order of the training samples, per epoch
    CODE_TABLES = 7          # perturbation code tables: Walsh rows, fdma frequencies
    PERTURBATION = 8         # perturbation signs and values, counter-based (per index k)
    NEURONS = 11             # neuron gain and offset variation (hwsim.chip.periphery)
    GENERATOR_GAIN = 12      # perturbation generator mismatch (hwsim.chip.perturbation)
    DEVICE_DW = 40           # device-to-device variation of the step size
    DEVICE_ASYMMETRY = 41    # ... of the up/down asymmetry
    DEVICE_W_MAX = 42        # ... of the upper bound
    DEVICE_W_MIN = 43        # ... of the lower bound
    DEVICE_DRIFT_NU = 44     # ... of the drift exponent
    DEVICE_STUCK = 45        # which devices are stuck
    DEVICE_STUCK_VALUE = 46  # where the stuck devices sit
    DEVICE_KERNEL = 47       # the device kernels' counter-based streams (rounding, c2c, ...)


def stream_sequence(seed: int, stream: Stream) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(seed), spawn_key=(int(stream),))


def stream_rng(seed: int, stream: Stream) -> np.random.Generator:
    """A numpy Generator for drawing a consumer's values once (at build time)."""
    return np.random.default_rng(stream_sequence(seed, stream))


def stream_keys(seed: int, stream: Stream, count: int = 1) -> np.ndarray:
    """``count`` 64-bit keys of the counter-based streams (hwsim.kernels.rng) under ``stream``."""
    return stream_sequence(seed, stream).generate_state(count, np.uint64)


def stream_key(seed: int, stream: Stream) -> np.uint64:
    return stream_keys(seed, stream)[0]
