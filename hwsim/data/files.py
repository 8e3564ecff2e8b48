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

import contextlib
import gzip
import io
import math
import operator
import os
import pickle
import pickletools
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.data.errors import DataError
from hwsim.spec.limits import NotARegularFile, format_bytes, memory_budget, memory_problem, open_regular

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
                if (folder / candidate).exists():     # the reader refuses a FIFO, device...
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
_CHUNK = 1 << 20                # read(n) reserves n bytes: read in chunks, growing with what is there
MAX_IDX_VALUES = 1 << 34        # far above any real file; guards against absurd headers


def _open_data(path: Path, what: str, max_bytes: int | None = None):
    """``path`` opened for reading when it is a regular file (of at most ``max_bytes``), else
    DataError saying what it is; a FIFO or /dev/zero is never read."""
    try:
        return open_regular(path, max_bytes)
    except NotARegularFile as exc:
        raise DataError(f"{exc}; this should be {what}", path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", path) from None


def _read_up_to(f, n: int) -> bytes | bytearray:
    """Up to n bytes (fewer only at the end of the data); memory grows with what is read
    (and is not copied again at the end)."""
    if n <= _CHUNK:
        return f.read(n)
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _skip(f, n: int) -> int:
    """Read and drop up to n bytes in bounded chunks; the number of bytes there were."""
    done = 0
    while done < n:
        chunk = f.read(min(_CHUNK, n - done))
        if not chunk:
            break
        done += len(chunk)
    return done


@contextlib.contextmanager
def _idx(path: Path, what: str, item_shape: tuple[int, ...]):
    """(stream positioned at the data, dims) of a checked IDX header; DataError for anything
    wrong, read errors inside the ``with`` block included. An uncompressed file's size is
    checked against the header before any data is read."""
    ndim = 1 + len(item_shape)
    try:
        with _open_data(path, f"the IDX file of the {what}") as raw:
            size = os.fstat(raw.fileno()).st_size
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
            if dims[0] == 0:
                raise DataError(f"the IDX header announces 0 {what} (expected at least 1): the file is "
                                "empty or damaged; download it again", path)
            count = math.prod(dims)
            if count > MAX_IDX_VALUES:
                raise DataError(f"implausible IDX header: {dims[0]} {what} ({count} values)", path)
            present = size - 4 - 4 * ndim
            if not compressed and present < count:
                raise _truncated(path, dims, what, compressed, present)
            if not compressed and present > count:
                raise _trailing(path, dims, what)
            yield f, dims, compressed
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        kind = "truncated or corrupt gzip data" if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) \
            else "cannot read the file"
        raise DataError(f"{kind}: {exc}", path) from None


def _truncated(path, dims, what, compressed, present) -> DataError:
    return DataError(f"truncated: the IDX header announces {dims[0]} {what} ({math.prod(dims)} bytes of "
                     f"data) but the {'decompressed ' if compressed else ''}file holds only {present}", path)


def _trailing(path, dims, what) -> DataError:
    return DataError(f"wrong size: data continues after the {dims[0]} {what} the IDX header announces "
                     "(trailing bytes)", path)


def idx_count(path: str | Path, what: str, item_shape: tuple[int, ...]) -> int:
    """The number of items an IDX file's header announces (the header checked, not the data:
    for sizing a data set before it is read)."""
    with _idx(Path(path), what, item_shape) as (_, dims, _compressed):
        return dims[0]


def read_idx(path: str | Path, what: str, item_shape: tuple[int, ...], keep: int | None = None) -> np.ndarray:
    """An IDX file of unsigned bytes with dimensions (N, *item_shape), as a uint8 array; only
    its first ``keep`` items when given (the rest is read to check the file, not kept).

    ``what`` names the content for messages ("images", "labels"). Gzip is detected from the
    content and decompressed in bounded chunks: memory grows with the items kept and present,
    never with what a header claims, and the kept bytes are checked against the memory
    budget first. Raises DataError for a bad magic number, element type or dimensions, a
    header announcing no items, a truncated file (fewer values than the header announces),
    trailing bytes, a corrupt gzip stream, or a file that is not a regular file.
    """
    path = Path(path)
    with _idx(path, what, item_shape) as (f, dims, compressed):
        count, item = math.prod(dims), math.prod(dims[1:])
        rows = dims[0] if keep is None else min(int(keep), dims[0])
        too_much = memory_problem(rows * item, f"reading {rows:,} {what} from {path.name}",
                                  "set dataset.n_train and dataset.n_test to use fewer")
        if too_much:
            raise DataError(too_much, path)
        body = _read_up_to(f, rows * item)
        present = len(body) + _skip(f, count - rows * item)
        if present < count:
            raise _truncated(path, dims, what, compressed, present)
        if f.read(1):
            raise _trailing(path, dims, what)
    return np.frombuffer(body, dtype=np.uint8).reshape((rows, *dims[1:]))


def check_labels(labels: np.ndarray, n_classes: int, path) -> np.ndarray:
    """Labels as int64, every one a class in 0..n_classes-1."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = int(np.flatnonzero((labels < 0) | (labels >= n_classes))[0])
        raise DataError(f"label {labels[bad]} at index {bad} is not a class (expected 0 to {n_classes - 1})",
                        path)
    return labels.astype(np.int64)


def read_idx_pair(images: Path, labels: Path, item_shape: tuple[int, int],
                  keep: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, H, W), int64 labels (N,)) from an IDX image file and its label file;
    the first ``keep`` of each when given."""
    n_images, n_labels = idx_count(images, "images", item_shape), idx_count(labels, "labels", ())
    if n_images != n_labels:
        raise DataError(f"{n_images} images in {images.name} but {n_labels} labels in {labels.name} "
                        f"(expected one label per image)", labels)
    x = read_idx(images, "images", item_shape, keep)
    y = check_labels(read_idx(labels, "labels", (), keep), 10, labels)
    return x, y


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_VALUES = 3 * 32 * 32
MAX_BATCH_BYTES = 64 << 20        # a real batch is 31 MB (46 MB pickled again by Python 3, protocol 2)
MAX_PICKLE_OPS = 500_000          # a real batch has about 90,000 opcodes (30,000 from protocol 4)
# Bytes the numpy constructors may materialise from one file: its array data, once decoded
# from a latin1 string (protocol 2 from Python 3) and once as the array, plus small change.
_MATERIALISED_PER_FILE_BYTE = 2
_MATERIALISED_SLACK = 1 << 20


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something a data batch never contains, or would make the loader build
    more than the file could hold (and it was not loaded)."""


class _Allowance:
    """Bytes the allowed numpy constructors may still create while one file is unpickled: a
    bound proportional to the file's size (its data cannot decode to more) and within the
    memory budget. Every array, scalar and decoded string is charged before it is made."""

    def __init__(self, file_bytes: int):
        self.left = _MATERIALISED_PER_FILE_BYTE * file_bytes + _MATERIALISED_SLACK
        self.used = 0
        self.budget = memory_budget()        # once: it reads /proc/meminfo

    def charge(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise RefusedPickle(f"refused {what} of {format_bytes(nbytes)}: more than the file's own "
                                f"data could fill (a hostile or damaged pickle)")
        if self.used + nbytes > self.budget:
            raise RefusedPickle(memory_problem(self.used + nbytes, "unpickling this batch", "check the file")
                                or f"refused {what}: the memory budget is used up")
        self.left -= nbytes
        self.used += nbytes

    def array(self, shape, dtype, what: str) -> tuple[tuple[int, ...], np.dtype]:
        """Charge an array of ``shape`` and ``dtype`` (checked to be plain numbers)."""
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise RefusedPickle(f"refused {what} of Python objects: a CIFAR-10 batch holds numbers only")
        shape = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else \
            tuple(operator.index(n) for n in shape)
        if any(n < 0 for n in shape):
            raise RefusedPickle(f"refused {what} of negative shape {shape}")
        self.charge(math.prod(shape) * dtype.itemsize, what)
        return shape, dtype


class _PickledArray(np.ndarray):
    """An array being unpickled: its ``__setstate__`` (the BUILD opcode) charges the shape it
    is given before numpy allocates it. Returned as a plain ndarray (``np.asarray``)."""

    _allowance: _Allowance | None = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise RefusedPickle("refused an array state that numpy never writes")
        shape, dtype = state[-4], state[-3]
        allowance = type(self)._allowance
        if allowance is None:
            raise RefusedPickle("refused an array outside a batch being read")
        allowance.array(shape, dtype, "an array")
        super().__setstate__(state)


def _latin1_encode(allowance: _Allowance, text, encoding="latin1"):
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle(f"refused _codecs.encode(..., {encoding!r:.40}): only latin1 text is expected")
    allowance.charge(len(text), "a decoded string")
    return text.encode("latin1")


def _bounded_globals(allowance: _Allowance, array_type: type) -> dict[tuple[str, str], object]:
    """The globals a pickled batch may name (numpy 1 and 2 module names), each a wrapper of
    this numpy's that charges ``allowance`` before allocating."""
    reconstruct = np.zeros(1).__reduce__()[0]        # numpy's _reconstruct (protocols 0 to 4)
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]     # numpy's _frombuffer (protocol 5)
    scalar = np.uint8(0).__reduce__()[0]             # numpy's scalar

    def new_array(shape, dtype=float, *args, **kwargs):
        shape, dtype = allowance.array(shape, dtype, "an array")
        return np.ndarray(shape, dtype, *args, **kwargs)

    def reconstruct_array(subtype, shape, dtype):
        if subtype is not new_array:
            raise RefusedPickle("refused an array of a class other than numpy.ndarray")
        allowance.array(shape, np.dtype(dtype) if not isinstance(dtype, bytes) else np.dtype(dtype.decode()),
                        "an array")
        return reconstruct(array_type, shape, dtype)

    def from_buffer(buf, dtype, shape, order):
        allowance.array(shape, dtype, "an array")
        return frombuffer(buf, dtype, shape, order)

    def new_scalar(dtype, *args):
        allowance.array((), dtype, "a number")
        return scalar(dtype, *args)

    def new_dtype(name, align=False, copy=False):     # numpy pickles a dtype as dtype('u1', False, True)
        if isinstance(name, bytes):                     # a Python 2 str
            name = name.decode("latin1")
        if not isinstance(name, str) or align not in (0, 1) or copy not in (0, 1):
            raise RefusedPickle("refused a dtype that numpy never pickles (expected dtype(name, False, True))")
        return np.dtype(name, bool(align), bool(copy))

    def empty_bytes(*args):          # protocol 2 from Python 3 writes b"" as bytes()
        if args:
            raise RefusedPickle("refused bytes(...) with arguments: only bytes() is expected")
        return b""

    out = {("numpy", "ndarray"): new_array, ("numpy", "dtype"): new_dtype,
           ("_codecs", "encode"): lambda *a: _latin1_encode(allowance, *a),
           ("__builtin__", "bytes"): empty_bytes, ("builtins", "bytes"): empty_bytes}
    for core in ("numpy.core", "numpy._core"):
        out[(f"{core}.multiarray", "_reconstruct")] = reconstruct_array
        out[(f"{core}.multiarray", "scalar")] = new_scalar
        out[(f"{core}.numeric", "_frombuffer")] = from_buffer
    return out


class SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays of numbers only: any other global (a function
    or class a hostile pickle would call) is refused before it is looked up, so nothing
    runs; and every numpy constructor is charged against an allowance proportional to the
    file's size before it allocates, so a small file cannot make it allocate gigabytes."""

    def __init__(self, file, *, file_bytes: int, **kwargs):
        super().__init__(file, **kwargs)
        allowance = _Allowance(file_bytes)
        # One array class per load: the BUILD opcode reaches its allowance through the class.
        array_type = type("_PickledArray", (_PickledArray,), {"_allowance": allowance})
        self._allowed = _bounded_globals(allowance, array_type)

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise RefusedPickle(f"refused to load {str(module):.60}.{str(name):.60}: a CIFAR-10 batch "
                                "holds only numpy arrays, lists, bytes and numbers") from None

    def persistent_load(self, pid):
        raise RefusedPickle("refused a persistent id: a CIFAR-10 batch has none")


_FIXED, _LINES, _COUNTED, _COUNTED_SIGNED = range(4)


def _opcode_arguments() -> tuple:
    """For each byte, how the argument of the pickle opcode it is is laid out: (_FIXED, n
    bytes), (_LINES, n lines) or (_COUNTED[_SIGNED], bytes of the length prefix); None for a
    byte that is no opcode. From pickletools' table, so it follows the unpickler's grammar."""
    table = [None] * 256
    prefix = {pickletools.TAKEN_FROM_ARGUMENT1: 1, pickletools.TAKEN_FROM_ARGUMENT4: 4,
              pickletools.TAKEN_FROM_ARGUMENT4U: 4, pickletools.TAKEN_FROM_ARGUMENT8U: 8}
    for op in pickletools.opcodes:
        arg = op.arg
        if arg is None or arg.n >= 0:
            spec = (_FIXED, 0 if arg is None else arg.n)
        elif arg.n == pickletools.UP_TO_NEWLINE:
            spec = (_LINES, 2 if arg.name.endswith("_pair") else 1)
        else:
            spec = (_COUNTED_SIGNED if arg.n == pickletools.TAKEN_FROM_ARGUMENT4 else _COUNTED, prefix[arg.n])
        table[ord(op.code)] = spec
    return tuple(table)


_OPCODE_ARGUMENTS = _opcode_arguments()
_STOP = ord(pickle.STOP)


_PUT = ord(pickle.PUT)
_MEMO_PUTS = {_PUT, ord(pickle.BINPUT), ord(pickle.LONG_BINPUT)}
_FRAME = ord(pickle.FRAME)


def _check_opcodes(data: bytes) -> None:
    """RefusedPickle for what the C unpickler would allocate from a few bytes, before it runs:

    * more than MAX_PICKLE_OPS opcodes: each can build an object of a few hundred bytes from
      one byte (an empty set is 216), which the numpy allowance does not see;
    * a memo index beyond that: the unpickler grows its memo table to twice the index
      (``LONG_BINPUT 2**31`` reserves 32 GB);
    * a length (of bytes, a string, a frame) beyond the end of the file: the unpickler
      reserves it before it reads.

    A walk over the opcodes' lengths (no objects built: ~0.3 s for a million); what it cannot
    parse, the unpickler refuses."""
    pos, n, end = 0, 0, len(data)
    while pos < end:
        op = data[pos]
        n += 1
        if n > MAX_PICKLE_OPS:
            raise RefusedPickle(f"refused: more than {MAX_PICKLE_OPS:,} pickle opcodes (a CIFAR-10 batch "
                                "has about 90,000)")
        spec = _OPCODE_ARGUMENTS[op]
        if spec is None or op == _STOP:
            return
        kind, size = spec
        start = pos = pos + 1
        if kind == _FIXED:
            pos += size
            if op == _FRAME and int.from_bytes(data[start:pos], "little") > end - pos:
                raise RefusedPickle("truncated: a pickle frame runs past the end of the file")
        elif kind == _LINES:
            for _ in range(size):
                pos = data.find(b"\n", pos) + 1
                if pos == 0:
                    return
        else:
            length = int.from_bytes(data[pos:pos + size], "little", signed=kind == _COUNTED_SIGNED)
            pos += size + max(length, 0)
            if pos > end:
                raise RefusedPickle(f"truncated: a pickled value of {length:,} bytes runs past the end of the file")
        if op in _MEMO_PUTS:
            arg = data[start:pos]
            if op != _PUT:
                index = int.from_bytes(arg, "little")
            else:                # protocol 0: the index as text (what is not a number, the unpickler refuses)
                index = int(arg[:20]) if arg[:-1].isdigit() else 0
            if index > MAX_PICKLE_OPS:
                raise RefusedPickle(f"refused: memo index {index:,} (a pickle of at most {MAX_PICKLE_OPS:,} "
                                    "opcodes never needs one beyond that)")


def safe_unpickle(data: bytes):
    """The object in ``data``, unpickled with :class:`SafeUnpickler` (Python 2 strings as
    bytes), arrays as plain ndarrays."""
    _check_opcodes(data)
    return SafeUnpickler(io.BytesIO(data), file_bytes=len(data), encoding="bytes").load()


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 3072) in CIFAR's stored order, int64 labels (N,)) from one batch file.

    The stored order is already channel-major: 1024 red values (32 rows of 32), then green,
    then blue, so each row is a CHW image flattened C-major. The file must be a regular file
    of at most MAX_BATCH_BYTES; unpickling is bounded (:class:`SafeUnpickler`).
    """
    path = Path(path)
    expected = "a CIFAR-10 python batch (a file of about 31 MB)"
    try:
        with _open_data(path, expected, MAX_BATCH_BYTES) as f:
            blob = f.read(os.fstat(f.fileno()).st_size + 1)    # read(n) reserves n bytes
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", path) from None
    if len(blob) > MAX_BATCH_BYTES:       # it grew since it was opened
        raise DataError(f"too large (more than {format_bytes(MAX_BATCH_BYTES)}); this should be {expected}",
                        path)
    if blob[:2] == b"\x1f\x8b":
        raise DataError("gzip-compressed: expected an unpacked python batch; unpack "
                        "cifar-10-python.tar.gz with tar xzf", path)
    try:
        batch = safe_unpickle(blob)
    except RefusedPickle as exc:
        raise DataError(f"not a CIFAR-10 batch: {exc}", path) from None
    except Exception as exc:  # noqa: BLE001 - any failure of a malformed pickle is a bad file
        raise DataError(f"not a CIFAR-10 batch: cannot unpickle it ({type(exc).__name__}: "
                        f"{str(exc)[:200]})", path) from None
    del blob
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
    data = np.asarray(data)
    if data.shape[0] == 0:
        raise DataError("the batch holds 0 images (expected at least 1): the file is damaged; unpack "
                        "cifar-10-python.tar.gz again", path)
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
