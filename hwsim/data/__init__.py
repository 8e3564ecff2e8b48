"""Data sets: generated (parity, teacher, MNIST-1D), shipped with scikit-learn (digits) and
read from local files (MNIST, Fashion-MNIST, CIFAR-10; see docs/data.md). Nothing downloads."""

from hwsim.data.datasets import Dataset, build_dataset
from hwsim.data.errors import DataError

__all__ = ["Dataset", "DataError", "build_dataset"]
