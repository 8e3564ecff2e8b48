"""MNIST-1D (Greydanus 2020), generated locally with the ``mnist1d`` package's own generator.

Only ``mnist1d.data.make_dataset`` is called, with the package's default arguments and
templates except for the number of samples, the train/test split and the seed; its
``get_dataset`` (which downloads) is never used. ``make_dataset`` seeds numpy's and Python's
global random generators: both states are saved and restored around it, under a lock, so
building this data set leaves no global state behind. Results are kept in memory (a few
entries) because generating 5000 samples takes a few seconds; nothing is cached on disk.
"""

from __future__ import annotations

import functools
import random
import threading

import numpy as np

from hwsim.data.errors import DataError
from hwsim.seeds import Stream, stream_sequence

N_INPUTS = 40          # mnist1d's final_seq_length
N_CLASSES = 10
_LOCK = threading.Lock()


def generator_seed(run_seed: int) -> int:
    """The mnist1d seed (numpy's legacy seeding takes 0 .. 2^32-1) derived from a run seed."""
    return int(stream_sequence(run_seed, Stream.DATA).generate_state(1)[0])


@functools.lru_cache(maxsize=4)
def _generate(n_samples: int, train_split: float, seed: int) -> tuple[np.ndarray, ...]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DataError(f"the mnist1d data set needs the mnist1d package ({exc}); install it with "
                        "pip install mnist1d") from None
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = n_samples, train_split, seed
    with _LOCK:
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            data = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
    out = tuple(np.ascontiguousarray(data[k]) for k in ("x", "y", "x_test", "y_test"))
    for a in out:
        a.flags.writeable = False
    return out


def generate(n_samples: int, test_fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """(x_train, labels_train, x_test, labels_test): float64 signals (n, 40), int64 labels.

    mnist1d draws n_samples // 10 samples per class, shuffles them, standardises all signals
    together (mean 0, standard deviation 1) and keeps the first int(n (1 - test_fraction))
    for training. Deterministic in (n_samples, test_fraction, seed).
    """
    x, y, xt, yt = _generate(int(n_samples), 1.0 - float(test_fraction), int(seed))
    return (x.astype(np.float64), y.astype(np.int64), xt.astype(np.float64), yt.astype(np.int64))
