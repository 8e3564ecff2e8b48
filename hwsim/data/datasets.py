"""Training and test data as dense float64 arrays, built from the scenario and a seed.

Targets are one-hot for classification (digits, MNIST-1D, MNIST, Fashion-MNIST, CIFAR-10;
parity uses a single 0/1 output) and real vectors for the teacher regression. Generated
splits are seeded; per-epoch shuffling happens on the chip
(hwsim.kernels.input_path.sample_for_step) from the run's order stream. Image data sets say
their image shape (channels, height, width); each row of x is one image flattened C-major
(``image.reshape(C * H * W)`` of a CHW image). Data read from files (hwsim.data.files) raise
DataError when the files are missing or malformed; nothing is ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hwsim.seeds import Stream, stream_rng


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int            # 0 for regression
    image_shape: tuple[int, int, int] | None = None   # (C, H, W) of image data, else None

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
    return Dataset("digits", *_split(x, y, test_fraction, rng), n_classes=10, image_shape=(1, 8, 8))


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


def mnist1d(n_samples: int, test_fraction: float, seed: int) -> Dataset:
    """MNIST-1D from the mnist1d package's generator (standardised signals, not pixels)."""
    from hwsim.data import mnist1d as gen

    x, y, xt, yt = gen.generate(n_samples, test_fraction, seed)
    return Dataset("mnist1d", x, one_hot(y, 10), xt, one_hot(yt, 10), n_classes=10,
                   image_shape=(1, 1, gen.N_INPUTS))


def _pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, ...) -> float64 rows (N, values) in [0, 1] (exactly value / 255)."""
    x = images.reshape(images.shape[0], -1).astype(np.float64)
    x /= 255.0
    return x


def _select(spec, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None,
            train_file: str):
    """Apply validation, n_train and n_test to (images, labels) pairs; DataError if too few."""
    from hwsim.data.errors import DataError

    (x, y), held = train, ""
    if spec.validation == "last_1000_train":
        n = x.shape[0]
        if n <= 1000:
            raise DataError(f"validation last_1000_train holds out the last 1000 training images, but "
                            f"the training set has only {n} (expected more than 1000; or use "
                            f"validation: test)", train_file)
        test, (x, y) = (x[n - 1000:], y[n - 1000:]), (x[:n - 1000], y[:n - 1000])
        held = " after the last 1000 are held out for validation"
    if spec.n_train is not None:
        if spec.n_train > x.shape[0]:
            raise DataError(f"dataset.n_train asks for {spec.n_train} training images but there are only "
                            f"{x.shape[0]}{held} (got n_train={spec.n_train}; expected at most "
                            f"{x.shape[0]})", train_file)
        x, y = x[:spec.n_train], y[:spec.n_train]
    xt, yt = test
    if spec.n_test is not None:
        if spec.n_test > xt.shape[0]:
            raise DataError(f"dataset.n_test asks for {spec.n_test} validation images but there are only "
                            f"{xt.shape[0]} (got n_test={spec.n_test}; expected at most {xt.shape[0]})",
                            train_file if spec.validation == "last_1000_train" else None)
        xt, yt = xt[:spec.n_test], yt[:spec.n_test]
    return x, y, xt, yt


def check_memory(rows: int, n_values: int, n_classes: int, file) -> None:
    """DataError unless ``rows`` examples of ``n_values`` pixels fit the memory budget as
    float64 rows and one-hot targets (beside the uint8 pixels they are converted from)."""
    from hwsim.data.errors import DataError
    from hwsim.spec.limits import memory_problem

    too_much = memory_problem(rows * (n_values * 9 + n_classes * 8), f"the data set ({rows:,} examples)",
                              "set dataset.n_train and dataset.n_test to use fewer")
    if too_much:
        raise DataError(too_much, file)


def idx_images(spec, key: str) -> Dataset:
    """MNIST or Fashion-MNIST (``key`` "mnist" or "fashion_mnist") from local IDX files.

    The headers are read first: only the rows the spec uses are kept (all of the training
    file for ``last_1000_train``), after checking that they fit the memory budget."""
    from hwsim.data import files

    root = files.data_root(spec.data_dir)
    names = files.MNIST_TRAIN + (files.MNIST_TEST if spec.validation == "test" else ())
    paths = files.find_files(key, names, root)
    n_file = files.idx_count(paths[names[0]], "images", (28, 28))
    keep = spec.n_train if spec.validation == "test" else None
    rows = n_file if keep is None else min(keep, n_file)
    if spec.validation == "test":
        n_file_test = files.idx_count(paths[names[2]], "images", (28, 28))
        rows += n_file_test if spec.n_test is None else min(spec.n_test, n_file_test)
    check_memory(rows, 28 * 28, 10, paths[names[0]])
    train = files.read_idx_pair(paths[names[0]], paths[names[1]], (28, 28), keep)
    test = (files.read_idx_pair(paths[names[2]], paths[names[3]], (28, 28), spec.n_test)
            if spec.validation == "test" else None)
    x, y, xt, yt = _select(spec, train, test, str(paths[names[0]]))
    return Dataset(key, _pixels(x), one_hot(y, 10), _pixels(xt), one_hot(yt, 10), n_classes=10,
                   image_shape=(1, 28, 28))


def cifar10(spec) -> Dataset:
    """CIFAR-10 from the local python batches (data_batch_1..5, test_batch)."""
    from hwsim.data import files

    root = files.data_root(spec.data_dir)
    names = files.CIFAR_TRAIN + (files.CIFAR_TEST if spec.validation == "test" else ())
    paths = files.find_files("cifar10", names, root)
    xs, ys, have = [], [], 0
    for name in files.CIFAR_TRAIN:     # all of them for last_1000_train, else only as many as n_train needs
        if spec.validation == "test" and spec.n_train is not None and have >= spec.n_train:
            break
        x, y = files.read_cifar_batch(paths[name])
        xs.append(x)
        ys.append(y)
        have += x.shape[0]
    train = (np.concatenate(xs), np.concatenate(ys))
    test = files.read_cifar_batch(paths["test_batch"]) if spec.validation == "test" else None
    x, y, xt, yt = _select(spec, train, test, str(paths[files.CIFAR_TRAIN[-1]]))
    check_memory(x.shape[0] + xt.shape[0], files.CIFAR_VALUES, 10, paths[files.CIFAR_TRAIN[0]])
    return Dataset("cifar10", _pixels(x), one_hot(y, 10), _pixels(xt), one_hot(yt, 10), n_classes=10,
                   image_shape=(3, 32, 32))


def build_dataset(spec, seed: int) -> Dataset:
    """The scenario's data set; the split depends only on (spec, seed).

    Raises :class:`hwsim.data.errors.DataError` (a SpecError) when a data set's files are
    missing or malformed.
    """
    rng = stream_rng(seed, Stream.DATA)
    if spec.name == "digits":
        return digits(spec.test_fraction, rng)
    if spec.name == "parity":
        return parity(spec.n_bits)
    if spec.name == "teacher":
        return teacher(spec.n_samples, spec.n_inputs, spec.n_outputs, spec.teacher_hidden,
                       spec.noise_sigma, spec.test_fraction, rng)
    if spec.name == "mnist1d":
        from hwsim.data.mnist1d import generator_seed

        gen_seed = spec.generator_seed if spec.generator_seed is not None else generator_seed(seed)
        return mnist1d(spec.n_samples, spec.test_fraction, gen_seed)
    if spec.name in ("mnist", "fashion_mnist"):
        return idx_images(spec, spec.name)
    if spec.name == "cifar10":
        return cifar10(spec)
    raise ValueError(f"unknown data set {spec.name!r}")
