"""Tiny data files in the real formats (IDX, CIFAR-10 python batches) and a tiny MNIST
scenario, shared by the data, scenario and reliability tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

from hwsim.data import files

MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

MNIST_SCENARIO = """\
    kind: scenario
    name: tiny_mnist
    dataset: {name: mnist, n_train: 12}
    network: {hidden: [4]}
    overrides:
      firmware.evaluation.every_steps: 20
    max_cycles: 40
"""


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, as in the MNIST distribution."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_mnist(folder: Path, n_train=12, n_test=5, gz=False, seed=0, test=True):
    """Random images and labels in the four MNIST files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, array in arrays.items():
        if test or name.startswith("train"):
            write_idx(folder / name, array, gz=gz)
    return arrays


def cifar_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, n)]


def write_cifar(folder: Path, per_batch=4, n_test=3, protocol=2, test=True):
    """The six CIFAR-10 python batches (dicts with b'data' and b'labels'); returns them."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate([*files.CIFAR_TRAIN, "test_batch"]):
        if name == "test_batch" and not test:
            continue
        data, labels = cifar_arrays(n_test if name == "test_batch" else per_batch, seed=i)
        batch = {b"batch_label": f"{name} of 6".encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{j}.png".encode() for j in range(len(labels))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        out[name] = (data, labels)
    return out
