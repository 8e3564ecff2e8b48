"""Training and test data as dense float64 arrays, built from the scenario and a seed.

Targets are one-hot for classification (digits, parity uses a single 0/1 output) and real
vectors for the teacher regression. Splits are seeded; per-epoch shuffling happens on the
chip (hwsim.kernels.mgd_block.sample_for_step) from the run's order stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int            # 0 for regression

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.y_train.shape[1]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.x_train, self.y_train, self.x_test, self.y_test))


def _split(x, y, test_fraction, rng):
    n = x.shape[0]
    idx = rng.permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    test, train = idx[:n_test], idx[n_test:]
    return (np.ascontiguousarray(x[train]), np.ascontiguousarray(y[train]),
            np.ascontiguousarray(x[test]), np.ascontiguousarray(y[test]))


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], n_classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def digits(test_fraction: float, rng: np.random.Generator) -> Dataset:
    """scikit-learn's 8x8 digits (shipped with the package, no download), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float64) / 16.0
    y = one_hot(d.target.astype(np.int64), 10)
    return Dataset("digits", *_split(x, y, test_fraction, rng), n_classes=10)


def parity(n_bits: int) -> Dataset:
    """All 2^n binary inputs, target = sum mod 2; the test set is the training set (as in the papers)."""
    codes = np.arange(2 ** n_bits)
    x = ((codes[:, None] >> np.arange(n_bits)[None, :]) & 1).astype(np.float64)
    y = (x.sum(axis=1) % 2).reshape(-1, 1)
    return Dataset(f"parity{n_bits}", x, y, x.copy(), y.copy(), n_classes=2)


def teacher(n_samples, n_inputs, n_outputs, teacher_hidden, noise_sigma, test_fraction,
            rng: np.random.Generator) -> Dataset:
    """Targets from a fixed random one-hidden-layer tanh network (teacher-student regression)."""
    x = rng.normal(size=(n_samples, n_inputs))
    w1 = rng.normal(size=(teacher_hidden, n_inputs)) / np.sqrt(n_inputs)
    w2 = rng.normal(size=(n_outputs, teacher_hidden)) / np.sqrt(teacher_hidden)
    y = np.tanh(x @ w1.T) @ w2.T
    if noise_sigma > 0:
        y = y + noise_sigma * rng.normal(size=y.shape)
    return Dataset("teacher", *_split(x, y, test_fraction, rng), n_classes=0)


def build_dataset(spec, seed: int) -> Dataset:
    """The scenario's data set; the split depends only on (spec, seed)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    if spec.name == "digits":
        return digits(spec.test_fraction, rng)
    if spec.name == "parity":
        return parity(spec.n_bits)
    if spec.name == "teacher":
        return teacher(spec.n_samples, spec.n_inputs, spec.n_outputs, spec.teacher_hidden,
                       spec.noise_sigma, spec.test_fraction, rng)
    raise ValueError(f"unknown data set {spec.name!r}")
