"""Data sets read from local files: MNIST and Fashion-MNIST (IDX) and CIFAR-10 (python batches).

Nothing here downloads anything. The files are looked up under one data directory:

1. the data set spec's ``data_dir`` (``hwsim run/compare --data-dir`` sets it as an override),
2. else the environment variable ``HWSIM_DATA``,
3. else ``./data`` (relative paths are relative to the working directory).

Inside it, each data set has its own folder (the first one that holds every needed file is
used; torchvision's folders are accepted too)::

    <data_dir>/mnist/          train-images-idx3-ubyte  train-labels-idx1-ubyte
                               t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte
    <data_dir>/MNIST/raw/      (the same files, torchvision's layout)
    <data_dir>/fashion_mnist/  (the same four names, Fashion-MNIST's files)
    <data_dir>/FashionMNIST/raw/
    <data_dir>/cifar-10-batches-py/  data_batch_1 ... data_batch_5  test_batch
    <data_dir>/                      (CIFAR-10 only: the batches directly in the data directory)

IDX files may be gzipped (the name with ``.gz`` appended; the content decides, not the
name). MNIST and Fashion-MNIST share their file names, so their files are never taken from
the data directory itself, only from their own folders. Every problem raises
:class:`~hwsim.data.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.data.errors import DataError

DATA_ENV = "HWSIM_DATA"
DEFAULT_DATA_DIR = "data"
HOW_TO_CHOOSE = ("set dataset.data_dir in the scenario, pass --data-dir to hwsim run or hwsim compare, "
                 f"or set {DATA_ENV}")


@dataclass(frozen=True)
class DataRoot:
    """The data directory a run looks in, and what chose it."""

    path: Path        # absolute
    origin: str       # "dataset.data_dir", "$HWSIM_DATA" or "the default ./data"

    def describe(self) -> str:
        return f"{self.path} (from {self.origin})"


def data_root(data_dir: str | None) -> DataRoot:
    """The data directory: ``data_dir`` (the spec field) > $HWSIM_DATA > ./data."""
    if data_dir:
        return DataRoot(Path(os.path.abspath(os.path.expanduser(data_dir))), "dataset.data_dir or --data-dir")
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return DataRoot(Path(os.path.abspath(os.path.expanduser(env))), f"${DATA_ENV}")
    return DataRoot(Path(os.path.abspath(DEFAULT_DATA_DIR)), f"the default ./{DEFAULT_DATA_DIR}")


@dataclass(frozen=True)
class FileSet:
    """Where one data set's files live and where to get them."""

    title: str
    folders: tuple[str, ...]       # relative to the data directory; "" is the directory itself
    source: str                    # how to obtain the files (one sentence)
    gz_ok: bool                    # whether NAME.gz is accepted for NAME


MNIST_TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
MNIST_TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = ("test_batch",)

FILESETS = {
    "mnist": FileSet(
        "MNIST", ("mnist", "MNIST/raw"),
        "download the four .gz files from https://ossci-datasets.s3.amazonaws.com/mnist/ (a mirror "
        "of http://yann.lecun.com/exdb/mnist/) and put them, gzipped or not, in {folder}", True),
    "fashion_mnist": FileSet(
        "Fashion-MNIST", ("fashion_mnist", "FashionMNIST/raw"),
        "download the four .gz files from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ "
        "(see https://github.com/zalandoresearch/fashion-mnist) and put them, gzipped or not, in {folder}",
        True),
    "cifar10": FileSet(
        "CIFAR-10", ("cifar-10-batches-py", ""),
        "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and unpack "
        "it in the data directory (tar xzf cifar-10-python.tar.gz -C {root}), which creates {folder}",
        False),
}


def find_files(key: str, names: tuple[str, ...], root: DataRoot) -> dict[str, Path]:
    """The path of every file in ``names``, all from the first folder of the data set that
    holds them all; else DataError listing the file names and every folder searched."""
    fs = FILESETS[key]
    report = []
    for rel in fs.folders:
        folder = root.path / rel if rel else root.path
        if not folder.is_dir():
            report.append(f"{folder} (no such folder)")
            continue
        found, missing = {}, []
        for name in names:
            for candidate in (name, name + ".gz") if fs.gz_ok else (name,):
                if (folder / candidate).is_file():
                    found[name] = folder / candidate
                    break
            else:
                missing.append(name)
        if not missing:
            return found
        report.append(f"{folder} (missing {', '.join(missing)})" if found else f"{folder} (none of them)")
    own = root.path / fs.folders[0]
    gz = " (each as is or gzipped, with .gz appended)" if fs.gz_ok else ""
    raise DataError(
        f"{fs.title} files not found; hwsim never downloads data.\n"
        f"  expected: {', '.join(names)}{gz}\n"
        f"  searched: {'; '.join(report)}\n"
        f"  data directory: {root.describe()}; to use another, {HOW_TO_CHOOSE}\n"
        f"  to fix: {fs.source.format(folder=str(own) + os.sep, root=root.path)} (see docs/data.md)")


# --------------------------------------------------------------------------- IDX

_IDX_UBYTE = 0x08
_CHUNK = 1 << 24
MAX_IDX_VALUES = 1 << 34        # far above any real file; guards against absurd headers


def _read_up_to(f, n: int) -> bytes:
    """Up to n bytes (fewer only at the end of the data); memory grows with what is read."""
    if n <= _CHUNK:
        return f.read(n)
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_idx(path: str | Path, what: str, item_shape: tuple[int, ...]) -> np.ndarray:
    """An IDX file of unsigned bytes with dimensions (N, *item_shape), as a uint8 array.

    ``what`` names the content for messages ("images", "labels"). Gzip is detected from the
    content. Raises DataError for a bad magic number, element type or dimensions, a truncated
    file (fewer values than the header announces), trailing bytes, or a corrupt gzip stream.
    """
    path = Path(path)
    ndim = 1 + len(item_shape)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            f = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            header = f.read(4)
            if len(header) < 4:
                raise DataError(f"truncated: {len(header)} bytes{' after decompression' if compressed else ''}, "
                                "shorter than the 4-byte header of an IDX file", path)
            if header[0] != 0 or header[1] != 0:
                hint = (" (it looks like a web page: the download failed)" if header[:1] == b"<" else "")
                raise DataError(f"not an IDX file: bad magic number 0x{header.hex()} (expected "
                                f"0x0000{_IDX_UBYTE:02x}{ndim:02x} for {what}){hint}", path)
            if header[2] != _IDX_UBYTE:
                raise DataError(f"unsupported IDX element type 0x{header[2]:02x} (expected 0x08, "
                                f"unsigned bytes, as in the MNIST files)", path)
            if header[3] != ndim:
                raise DataError(f"the IDX header gives {header[3]} dimensions (expected {ndim} for {what})",
                                path)
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DataError(f"truncated: the file ends inside its IDX header ({4 + len(dims_raw)} "
                                f"bytes; expected {4 + 4 * ndim})", path)
            dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
            if dims[1:] != tuple(item_shape):
                shown = "x".join(str(d) for d in dims[1:]) or "scalars"
                raise DataError(f"wrong {what} size: the IDX header gives {dims[0]} of {shown} "
                                f"(expected {'x'.join(str(d) for d in item_shape) or 'scalars'})", path)
            count = math.prod(dims)
            if count > MAX_IDX_VALUES:
                raise DataError(f"implausible IDX header: {dims[0]} {what} ({count} values)", path)
            body = _read_up_to(f, count)
            if len(body) < count:
                raise DataError(f"truncated: the IDX header announces {dims[0]} {what} ({count} bytes of "
                                f"data) but the {'decompressed ' if compressed else ''}file holds only "
                                f"{len(body)}", path)
            if f.read(1):
                raise DataError(f"wrong size: data continues after the {dims[0]} {what} the IDX header "
                                f"announces (trailing bytes)", path)
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        kind = "truncated or corrupt gzip data" if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) \
            else "cannot read the file"
        raise DataError(f"{kind}: {exc}", path) from None
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def check_labels(labels: np.ndarray, n_classes: int, path) -> np.ndarray:
    """Labels as int64, every one a class in 0..n_classes-1."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = int(np.flatnonzero((labels < 0) | (labels >= n_classes))[0])
        raise DataError(f"label {labels[bad]} at index {bad} is not a class (expected 0 to {n_classes - 1})",
                        path)
    return labels.astype(np.int64)


def read_idx_pair(images: Path, labels: Path, item_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, H, W), int64 labels (N,)) from an IDX image file and its label file."""
    x = read_idx(images, "images", item_shape)
    y = check_labels(read_idx(labels, "labels", ()), 10, labels)
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{x.shape[0]} images in {images.name} but {y.shape[0]} labels in {labels.name} "
                        f"(expected one label per image)", labels)
    return x, y


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_VALUES = 3 * 32 * 32
MAX_BATCH_BYTES = 256 << 20       # a real batch is 31 MB


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something a data batch never contains (and it was not loaded)."""


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle(f"refused _codecs.encode(..., {encoding!r}): only latin1 text is expected")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], object]:
    """The globals a pickled batch may name (numpy 1 and 2 module names), mapped to this numpy's."""
    reconstruct = np.zeros(1).__reduce__()[0]        # numpy's _reconstruct (protocols 0 to 4)
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]     # numpy's _frombuffer (protocol 5)
    scalar = np.uint8(0).__reduce__()[0]             # numpy's scalar
    out = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
           ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        out[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        out[(f"{core}.multiarray", "scalar")] = scalar
        out[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return out


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: any other global (a function or class a
    hostile pickle would call) is refused before it is looked up, so nothing runs."""

    _ALLOWED = _allowed_globals()

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"refused to load {module}.{name}: a CIFAR-10 batch holds only "
                                         "numpy arrays, lists, bytes and numbers") from None

    def persistent_load(self, pid):
        raise RefusedPickle("refused a persistent id: a CIFAR-10 batch has none")


def safe_unpickle(data: bytes):
    """The object in ``data``, unpickled with :class:`SafeUnpickler` (Python 2 strings as bytes)."""
    return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 3072) in CIFAR's stored order, int64 labels (N,)) from one batch file.

    The stored order is already channel-major: 1024 red values (32 rows of 32), then green,
    then blue, so each row is a CHW image flattened C-major.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BATCH_BYTES:
            raise DataError(f"too large for a CIFAR-10 batch ({size:,} bytes; a batch is about 31 MB)", path)
        blob = path.read_bytes()
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if blob[:2] == b"\x1f\x8b":
        raise DataError("gzip-compressed: expected an unpacked python batch; unpack "
                        "cifar-10-python.tar.gz with tar xzf", path)
    try:
        batch = safe_unpickle(blob)
    except RefusedPickle as exc:
        raise DataError(f"not a CIFAR-10 batch: {exc}", path) from None
    except Exception as exc:  # noqa: BLE001 - any failure of a malformed pickle is a bad file
        raise DataError(f"not a CIFAR-10 batch: cannot unpickle it ({type(exc).__name__}: {exc})",
                        path) from None
    if not isinstance(batch, dict):
        raise DataError(f"not a CIFAR-10 batch: it holds a {type(batch).__name__} (expected a dict "
                        "with b'data' and b'labels')", path)
    fields = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in batch.items()}
    if "data" not in fields or "labels" not in fields:
        raise DataError("not a CIFAR-10 batch: no b'data' or no b'labels' entry (got keys "
                        f"{sorted(map(str, fields))[:6]})", path)
    data, labels = fields["data"], fields["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != CIFAR_VALUES:
        got = (f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
               else f"a {type(data).__name__}")
        raise DataError(f"wrong b'data': {got} (expected a uint8 array of shape (N, {CIFAR_VALUES}))", path)
    if not isinstance(labels, (list, tuple, np.ndarray)):
        raise DataError(f"wrong b'labels': a {type(labels).__name__} (expected a list of class numbers)",
                        path)
    try:
        lab = np.asarray(labels)
    except Exception:  # noqa: BLE001 - ragged or odd content
        lab = np.asarray([None])
    if lab.ndim != 1 or lab.dtype.kind not in "iu":
        raise DataError(f"wrong b'labels': expected a flat list of integers (got {lab.dtype} values of "
                        f"shape {lab.shape})", path)
    if lab.shape[0] != data.shape[0]:
        raise DataError(f"{data.shape[0]} images but {lab.shape[0]} labels (expected one label per image)",
                        path)
    return data, check_labels(lab, 10, path)
