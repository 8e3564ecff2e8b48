"""Data sets: generated (parity, teacher) and shipped with scikit-learn (digits)."""

from hwsim.data.datasets import Dataset, build_dataset

__all__ = ["Dataset", "build_dataset"]
