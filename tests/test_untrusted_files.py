"""Files a user names that are not specs: checkpoints and data files (issue 15).

A FIFO, device, socket or directory is refused before anything is read, saying what it is;
what a file announces (a checkpoint member's shape, an IDX header's count, a pickled array's
shape) is checked against the bytes the file holds, the rows the run uses and the memory
budget before anything is allocated; every damage ends in the reader's own clean error
(CheckpointError, DataError). Hostile files built here show the bounds hold; a hypothesis
fuzz over real small files checks the same under a memory and time bound; the inputs that
once failed are kept in tests/fuzz_corpus/ and replayed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import signal
import socket
import struct
import tempfile
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_files import MNIST_SCENARIO, cifar_arrays, idx_bytes, write_cifar, write_mnist
from test_data import py2_batch_pickle
from test_reliability import run_until, tiny_spec, write_checkpoint
from hwsim.api import run
from hwsim.cli import main
from hwsim.data import DataError, build_dataset
from hwsim.data import files
from hwsim.engine import checkpoint as C
from hwsim.engine.simulation import Simulation
from hwsim.spec.models import ScenarioSpec

CORPUS = Path(__file__).parent / "fuzz_corpus"
MiB = 2**20


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("HWSIM_DATA", raising=False)
    monkeypatch.delenv("HWSIM_MEMORY_LIMIT", raising=False)


# --------------------------------------------------------------------------- bounds


class Hung(BaseException):
    """A reader ran past its deadline (BaseException: no reader may swallow it)."""


class Usage:
    peak = 0


@contextlib.contextmanager
def bounded(seconds: float = 20.0):
    """The block's peak traced memory (numpy's allocations included) in ``usage.peak``; the
    block is interrupted (Hung) when it runs longer than ``seconds``: a blocking read of a
    FIFO or an endless one of /dev/zero fails the test instead of hanging it."""
    def expire(signum, frame):
        raise Hung(f"still running after {seconds} s")

    usage = Usage()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield usage
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        usage.peak = tracemalloc.get_traced_memory()[1] - base
        if not tracing:
            tracemalloc.stop()


def reads_or_fails_cleanly(read, path: Path, limit: int, seconds: float = 20.0) -> str:
    """Call ``read(path)``: it returns, or raises the reader's own error naming ``path``
    (no MemoryError turned into a message); within ``limit`` bytes and ``seconds``."""
    with bounded(seconds) as usage:
        try:
            read(path)
            outcome = "read"
        except (C.CheckpointError, DataError) as exc:
            text = str(exc)
            assert str(path) in text and "MemoryError" not in text, text
            outcome = "error"
    assert usage.peak <= limit, f"{path.name}: peak {usage.peak / MiB:.1f} MiB > {limit / MiB:.1f} MiB"
    return outcome


# --------------------------------------------------------------------------- special files

SPECIAL = ["fifo", "dev-zero", "dev-urandom", "directory", "socket"]
WHAT = {"fifo": "it is a FIFO (named pipe)", "dev-zero": "it is a character device (a symlink to /dev/zero)",
        "dev-urandom": "it is a character device (a symlink to /dev/urandom)",
        "directory": "it is a directory", "socket": "it is a socket"}


@contextlib.contextmanager
def special_file(path: Path, kind: str):
    """``path`` made a special file of ``kind`` (a socket is bound while the block runs)."""
    sock = None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind.startswith("dev-"):
        path.symlink_to(f"/dev/{kind[4:]}")
    elif kind == "directory":
        path.mkdir()
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
    try:
        yield path
    finally:
        if sock is not None:
            sock.close()


READERS = {
    "checkpoint": lambda p: C.read_checkpoint(p),
    "idx": lambda p: files.read_idx(p, "images", (28, 28)),
    "idx-count": lambda p: files.idx_count(p, "labels", ()),
    "cifar": files.read_cifar_batch,
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", SPECIAL)
def test_special_files_are_refused_before_anything_is_read(tmp_path, kind, reader):
    path = tmp_path / "short"          # a socket's path must be short
    with special_file(path, kind), bounded(10) as usage:
        with pytest.raises((C.CheckpointError, DataError)) as err:
            READERS[reader](path)
    assert str(path) in str(err.value) and f"not a regular file: {WHAT[kind]}" in str(err.value)
    assert "no such file" not in str(err.value)
    assert usage.peak < MiB


@pytest.mark.parametrize("kind", SPECIAL)
def test_peek_header_of_a_special_file_is_none_at_once(tmp_path, kind):
    path = tmp_path / "short"
    with special_file(path, kind), bounded(10) as usage:
        assert C.peek_header(path) is None
    assert usage.peak < MiB


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A run directory holding an interrupted run and its checkpoint (the tiny scenario)."""
    folder = tmp_path_factory.mktemp("interrupted")
    scenario = folder / "tiny.yaml"
    scenario.write_text(textwrap.dedent(MNIST_SCENARIO).replace("{name: mnist, n_train: 12}", "{name: digits}"))
    out = folder / "run"
    result = run(scenario, out=out, should_stop=lambda: True)
    assert result.summary["status"] == "interrupted" and (out / C.CHECKPOINT_FILE).is_file()
    return out


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for item in src.iterdir():
        (dst / item.name).write_bytes(item.read_bytes())
    return dst


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_resume_with_a_special_checkpoint_exits_2_saying_what_it_is(tmp_path, capsys, interrupted_run, kind):
    """Was: /dev/zero grew to the machine's whole memory, a FIFO blocked forever, a directory
    was 'no such file'."""
    out = _copy_run(interrupted_run, tmp_path / "run")
    (out / C.CHECKPOINT_FILE).unlink()
    with special_file(out / C.CHECKPOINT_FILE, kind), bounded(120) as usage:
        code = main(["run", "--resume", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"checkpoint.npz: checkpoint: not a regular file: {WHAT[kind]}" in err
    assert "Traceback" not in err and "no such file" not in err
    assert usage.peak < 256 * MiB


def test_a_special_file_among_the_data_files_is_named_with_what_it_is(tmp_path):
    write_mnist(tmp_path / "mnist")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    labels.unlink()
    os.mkfifo(labels)
    spec = ScenarioSpec(dataset={"name": "mnist", "data_dir": str(tmp_path)}).dataset
    with bounded(10):
        with pytest.raises(DataError, match="not a regular file: it is a FIFO") as err:
            build_dataset(spec, 0)
    assert err.value.file == str(labels)


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def small_checkpoint():
    """(bytes of a real checkpoint of a short run, its state, the run's state layout)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tiny_spec(tmp, "adam-step-schedules")
        sim = Simulation(spec, seed=0)
        assert run_until(sim, 120, 1)
        path = tmp / "checkpoint.npz"
        write_checkpoint(sim, spec, 0, path)
        _, state = C.read_checkpoint(path)
        fresh = Simulation(spec, seed=0)
        yield path.read_bytes(), state, {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                                          for k, v in fresh.run_state().items()}


def _with_header(blob: bytes, dst: Path, edit) -> Path:
    """A copy of a checkpoint whose header.json is ``edit(header)`` (a well-formed zip)."""
    src = dst.with_suffix(".src")
    src.write_bytes(blob)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == C.HEADER:
                header = json.loads(data)
                edit(header)
                data = json.dumps(header).encode()
            zout.writestr(info.filename, data)
    return dst


def test_a_header_claiming_huge_arrays_is_refused_without_allocating(tmp_path, small_checkpoint):
    blob, _, expect = small_checkpoint

    def huge(header):
        header["members"]["theta"]["shape"] = [10**6, 10**6]      # 8 TB of float64

    path = _with_header(blob, tmp_path / "checkpoint.npz", huge)
    with bounded() as usage:
        with pytest.raises(C.CheckpointError) as err:
            C.read_checkpoint(path)
    assert err.value.problems[0].path == "theta" and "bytes stored for" in str(err.value)
    with pytest.raises(C.CheckpointError) as err:
        C.read_checkpoint(path, expect=expect)               # checked against the run's layout first
    assert err.value.problems[0].path == "theta" and "but this run's state is <f8[" in str(err.value)
    assert usage.peak < 16 * MiB


def test_members_are_checked_against_the_run_before_they_are_read(tmp_path, small_checkpoint):
    blob, state, expect = small_checkpoint
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(blob)
    header, got = C.read_checkpoint(path, expect=expect)
    assert set(got) == set(state)
    other = dict(expect, theta=np.zeros(expect["theta"].size + 1))       # another network
    with pytest.raises(C.CheckpointError, match="theta: holds <f8.* but this run's state is <f8"):
        C.read_checkpoint(path, expect=other)
    missing = {k: v for k, v in expect.items() if k != "nacc"}
    with pytest.raises(C.CheckpointError, match=r"members: does not fit this run's state \(unknown nacc\)"):
        C.read_checkpoint(path, expect=missing)


def test_members_sharing_their_bytes_are_refused(tmp_path):
    """A zip whose directory lists one stored stretch under many names would be read (and
    allocated) once per name: the members' sizes may not add up to more than the file."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(2**17), allow_pickle=False)      # 1 MiB
    raw = buf.getvalue()
    sha = hashlib.sha256(raw).hexdigest()
    meta = {"dtype": "<f8", "shape": [2**17], "sha256": sha}
    header = {"format": C.FORMAT, "format_version": C.FORMAT_VERSION, "hwsim_version": "0", "spec_hash": "x",
              "seed": 0, "max_cycles": 1, "step": 0, "cycle": 0, "data_sha256": "", "constants_sha256": "",
              "scalars": [], "members": {"theta": meta, "thetb": meta}}
    path = tmp_path / "checkpoint.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("theta.npy", raw)
        zf.writestr(C.HEADER, json.dumps(header))
    blob = bytearray(path.read_bytes())
    # Copy theta's central-directory entry under the name thetb (same offset: the same bytes).
    eocd = blob.rindex(b"PK\x05\x06")
    cd_size, cd_start = struct.unpack("<II", blob[eocd + 12:eocd + 20])
    entry_len = 46 + sum(struct.unpack("<HHH", blob[cd_start + 28:cd_start + 34]))
    entry = bytes(blob[cd_start:cd_start + entry_len]).replace(b"theta.npy", b"thetb.npy")
    blob[cd_start + cd_size:cd_start + cd_size] = entry
    eocd += entry_len
    count = struct.unpack("<H", blob[eocd + 10:eocd + 12])[0] + 1
    blob[eocd + 8:eocd + 16] = struct.pack("<HHI", count, count, cd_size + entry_len)
    path.write_bytes(bytes(blob))
    assert len(zipfile.ZipFile(path).infolist()) == 3
    with bounded() as usage:
        with pytest.raises(C.CheckpointError, match="its members claim 2,097,.* bytes, more than the file's"):
            C.read_checkpoint(path)
    assert usage.peak < MiB


def test_a_checkpoint_larger_than_the_memory_budget_is_refused_before_it_is_read(tmp_path, monkeypatch):
    # A checkpoint whose members (about 2 MB) dwarf what reading its header costs (about
    # 0.1 MB: the zip directory, header.json, the dtypes), so that the bound below tells a
    # refusal before reading from a read.
    spec = tiny_spec(tmp_path, "adam-step-schedules", {"scenario.network.hidden": [512]})
    sim = Simulation(spec, seed=0)
    assert run_until(sim, 40, 1)
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(sim, spec, 0, path)
    blob = path.read_bytes()
    assert len(blob) > 1_000_000
    monkeypatch.setenv("HWSIM_MEMORY_LIMIT", "4 KiB")
    with bounded() as usage:
        with pytest.raises(C.CheckpointError, match="would need about .* HWSIM_MEMORY_LIMIT"):
            C.read_checkpoint(path)
    assert usage.peak < len(blob) // 4


def test_resume_of_a_checkpoint_claiming_huge_arrays_exits_2(tmp_path, capsys, interrupted_run):
    out = _copy_run(interrupted_run, tmp_path / "run")
    checkpoint = out / C.CHECKPOINT_FILE

    def huge(header):
        header["members"]["g_int"]["shape"] = [2**40]

    _with_header(checkpoint.read_bytes(), checkpoint, huge)
    with bounded(120) as usage:
        code = main(["run", "--resume", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "g_int" in err and "Traceback" not in err, err
    assert usage.peak < 256 * MiB


# --------------------------------------------------------------------------- IDX files


def _idx_header(count: int, item_shape=(28, 28)) -> bytes:
    return bytes([0, 0, 8, 1 + len(item_shape)]) + struct.pack(f">{1 + len(item_shape)}I", count, *item_shape)


def _gzip_stream(header: bytes, zeros: int) -> bytes:
    """gzip of ``header`` and ``zeros`` zero bytes, compressed piece by piece (never held)."""
    z = zlib_compressor()
    out = [z.compress(header)]
    block = bytes(MiB)
    for start in range(0, zeros, MiB):
        out.append(z.compress(block[:min(MiB, zeros - start)]))
    out.append(z.flush())
    return b"".join(out)


def zlib_compressor():
    import zlib

    return zlib.compressobj(9, zlib.DEFLATED, 31)        # 31: a gzip header and trailer


def test_a_gzip_bomb_keeps_only_the_rows_the_run_uses(tmp_path):
    """Was: a 1.5 MB gzip IDX file allocated 3.2 GB; the run uses n_train images."""
    count = 200_000                                       # 157 MB of pixels, 150 KB gzipped
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_stream(_idx_header(count), count * 784))
    assert path.stat().st_size < 400_000
    with bounded(60) as usage:
        x = files.read_idx(path, "images", (28, 28), keep=12)
    assert x.shape == (12, 28, 28) and not x.any()
    assert usage.peak < 20 * MiB                          # the whole file is checked, not kept


def test_the_data_set_is_sized_from_the_headers_before_it_is_read(tmp_path, monkeypatch):
    write_mnist(tmp_path / "mnist", n_train=2000, n_test=5)
    monkeypatch.setenv("HWSIM_MEMORY_LIMIT", "1 MiB")
    spec = ScenarioSpec(dataset={"name": "mnist", "data_dir": str(tmp_path)}).dataset
    with bounded() as usage:
        with pytest.raises(DataError, match=r"the data set \(2,005 examples\) would need about 13.6 MiB") as err:
            build_dataset(spec, 0)
    assert "train-images-idx3-ubyte" in str(err.value) and "dataset.n_train" in str(err.value)
    assert usage.peak < 2000 * 784                        # nothing was read
    d = build_dataset(spec.model_copy(update={"n_train": 50}), 0)       # fits: 55 rows
    assert d.x_train.shape == (50, 784)


def test_an_idx_header_announcing_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_header(2**22) + bytes(100))   # announces 3.3 GB
    with bounded() as usage:
        with pytest.raises(DataError, match="truncated: the IDX header announces 4194304 images"):
            files.read_idx(path, "images", (28, 28))
    assert usage.peak < MiB


@pytest.mark.parametrize("which", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_an_idx_file_announcing_no_items_exits_2_naming_it(tmp_path, capsys, which):
    """Was: exit 1 (internal error)."""
    write_mnist(tmp_path / "data" / "mnist")
    bad = tmp_path / "data" / "mnist" / which
    what = "images" if "images" in which else "labels"
    bad.write_bytes(_idx_header(0, (28, 28) if what == "images" else ()))
    with pytest.raises(DataError, match=f"announces 0 {what}"):
        files.read_idx(bad, what, (28, 28) if what == "images" else ())
    scenario = tmp_path / "mnist.yaml"
    scenario.write_text(textwrap.dedent(MNIST_SCENARIO))
    code = main(["run", str(scenario), "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and f"{bad}: the IDX header announces 0 {what}" in err and "Traceback" not in err


# --------------------------------------------------------------------------- CIFAR-10 pickles


def _g(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _i(v: int) -> bytes:
    return b"J" + struct.pack("<i", v)


def _s(b: bytes) -> bytes:
    return b"U" + bytes([len(b)]) + b


def _batch(data: bytes) -> bytes:
    return b"\x80\x02}(" + _s(b"data") + data + _s(b"labels") + b"]" + b"u."


_MA = "numpy.core.multiarray"
_EMPTY = _g(_MA, "_reconstruct") + b"(" + _g("numpy", "ndarray") + b"(K\x00t" + _s(b"b") + b"tR"
_BIG_SUBARRAY = _g("numpy", "dtype") + b"((" + _s(b"u1") + b"(" + _i(40000) + _i(40000) + b"tttR"

# What an attacker reaches through the globals a batch may name (numpy's array constructors,
# dtype, scalar, _codecs.encode): each of these allocated gigabytes (or crashed numpy) before.
HOSTILE_PICKLES = {
    "ndarray-call-3GB": _batch(_g("numpy", "ndarray") + b"((" + _i(60000) + _i(60000) + b"t" + _s(b"u1") + b"tR"),
    "reconstruct-setstate-3GB": _batch(_EMPTY + b"(K\x01(" + _i(60000) + _i(60000) + b"t" + _g("numpy", "dtype")
                                       + b"(" + _s(b"u1") + b"\x89\x88tR" + b"\x89C\x00tb"),
    "object-array-setstate": _batch(_EMPTY + b"(K\x01(" + _i(10**8) + b"t" + _g("numpy", "dtype") + b"("
                                    + _s(b"O8") + b"\x89\x88tR" + b"\x89]tb"),
    "subarray-dtype-scalar": _batch(_g(_MA, "scalar") + b"(" + _BIG_SUBARRAY + b"C\x00tR"),
    "subarray-dtype-ndarray": _batch(_g("numpy", "ndarray") + b"((K\x01t" + _BIG_SUBARRAY + b"tR"),
    "frombuffer-objects": _batch(_g("numpy.core.numeric", "_frombuffer") + b"(C\x08" + bytes(8)
                                 + _g("numpy", "dtype") + b"(" + _s(b"O8") + b"\x89\x88tR" + b"(K\x01t" + _s(b"C")
                                 + b"tR"),
    # the C unpickler itself: it reserves a declared length before reading it, and grows its
    # memo to twice an index it is given
    "bytes-claiming-4GB": b"\x80\x04\x8e" + struct.pack("<Q", 2**32) + bytes(16) + b".",
    "memo-index-2G": b"\x80\x02]r" + struct.pack("<I", 2**31) + b".",
    "memo-index-text": b"(lp99999999999999\n.",
}


def _encode_repeat(n: int) -> bytes:
    """One 1 MiB string decoded n times (3 GB from a 1 MB file for n=3000, before)."""
    text = b"X" + struct.pack("<I", MiB) + b"x" * MiB + b"q\x00"
    call = _g("_codecs", "encode") + b"(h\x00X\x06\x00\x00\x00latin1tR"
    return b"\x80\x02}(" + _s(b"data") + text + b"](" + call * n + b"e" + _s(b"labels") + b"]u."


@pytest.mark.parametrize("name", sorted(HOSTILE_PICKLES))
def test_hostile_numpy_pickles_are_refused_before_they_allocate(tmp_path, name):
    path = tmp_path / "data_batch_1"
    path.write_bytes(HOSTILE_PICKLES[name])
    with bounded() as usage:
        with pytest.raises(DataError, match="not a CIFAR-10 batch: (refused|cannot unpickle|truncated)") as err:
            files.read_cifar_batch(path)
    assert str(path) in str(err.value) and "MemoryError" not in str(err.value)
    assert usage.peak < MiB


def test_strings_decoded_again_and_again_are_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(_encode_repeat(3000))
    with bounded() as usage:
        with pytest.raises(DataError, match="refused a decoded string of 1.0 MiB: more than the file's own data"):
            files.read_cifar_batch(path)
    assert usage.peak < 8 * MiB


def test_a_pickle_of_many_tiny_containers_is_refused(tmp_path, monkeypatch):
    """Each opcode can build a 216-byte set from one byte (460 MB from 2 MB before). The
    corpus holds one beyond the real limit (data/cifar-600000-empty-sets); here a lower limit
    keeps the test quick."""
    monkeypatch.setattr(files, "MAX_PICKLE_OPS", 50_000)
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x04](" + b"\x8f" * 60_000 + b"e.")      # 13 MB of sets if loaded
    with bounded() as usage:
        with pytest.raises(DataError, match="more than 50,000 pickle opcodes"):
            files.read_cifar_batch(path)
    assert usage.peak < 2 * MiB


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_opcode_walk_agrees_with_pickletools(protocol):
    import pickletools

    data, labels = cifar_arrays(3, 0)
    blob = pickle.dumps({b"data": data, b"labels": labels, "text": "é\n", "f": [1.5, 2**80, None, True],
                         "s": {1, 2}, "b": bytearray(b"x")}, protocol=protocol)
    ops = sum(1 for _ in pickletools.genops(blob))
    limit = files.MAX_PICKLE_OPS
    try:
        files.MAX_PICKLE_OPS = ops
        files._check_opcodes(blob)                        # exactly at the limit: accepted
        files.MAX_PICKLE_OPS = ops - 1
        with pytest.raises(files.RefusedPickle):
            files._check_opcodes(blob)
    finally:
        files.MAX_PICKLE_OPS = limit


def test_a_real_sized_batch_still_loads(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (10_000, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, 10_000)]
    path = tmp_path / "data_batch_1"
    for protocol in (2, 4):
        path.write_bytes(pickle.dumps({b"data": data, b"labels": labels,
                                       b"filenames": [f"img_{j}.png".encode() for j in range(10_000)]},
                                      protocol=protocol))
        x, y = files.read_cifar_batch(path)
        assert np.array_equal(x, data) and list(y) == labels and type(x) is np.ndarray
    path.write_bytes(py2_batch_pickle(data, labels))
    x, _ = files.read_cifar_batch(path)
    assert np.array_equal(x, data)


def test_a_batch_of_no_images_is_a_clean_error(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match="holds 0 images"):
        files.read_cifar_batch(path)


def test_the_whole_cifar_data_set_is_checked_against_the_budget_before_conversion(tmp_path, monkeypatch):
    write_cifar(tmp_path / "cifar-10-batches-py", per_batch=4)
    monkeypatch.setenv("HWSIM_MEMORY_LIMIT", "100 KiB")
    spec = ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path)}).dataset
    with bounded() as usage:
        with pytest.raises(DataError, match=r"the data set \(23 examples\) would need about 622.8 KiB"):
            build_dataset(spec, 0)
    assert usage.peak < 23 * 3072 * 8                    # no float64 copy was made


def test_an_oversized_batch_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_BATCH_BYTES", 1000)
    path = tmp_path / "data_batch_1"
    path.write_bytes(bytes(5000))
    with pytest.raises(DataError, match=r"too large \(4.9 KiB; expected at most 1000 B\)"):
        files.read_cifar_batch(path)


# --------------------------------------------------------------------------- fuzz


@st.composite
def mangled(draw, valid: bytes):
    """A valid file truncated, with bits flipped, bytes overwritten or inserted, or random."""
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "random"]))
    if kind == "random":
        return draw(st.binary(max_size=800))
    if kind == "truncate":
        return valid[:draw(st.integers(0, len(valid)))]
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
            continue
        chunk = draw(st.binary(min_size=1, max_size=8))
        if kind == "overwrite":
            data[pos:pos + len(chunk)] = chunk
        else:
            data[pos:pos] = chunk
    return bytes(data)


def _fuzz_read(read, blob: bytes, name: str, limit: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(blob)
        return reads_or_fails_cleanly(read, path, limit)


# HWSIM_FUZZ_EXAMPLES=2000 looks harder for new cases (as in tests/test_fuzz_cli.py).
_FUZZ = settings(max_examples=int(os.environ.get("HWSIM_FUZZ_EXAMPLES", "150")), deadline=None,
                 derandomize="HWSIM_FUZZ_EXAMPLES" not in os.environ,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                        HealthCheck.data_too_large])


@_FUZZ
@given(data=st.data())
def test_fuzz_checkpoints_read_or_fail_cleanly_within_bounds(small_checkpoint, data):
    blob, state, expect = small_checkpoint
    mangled_blob = data.draw(mangled(blob))
    layout = data.draw(st.sampled_from([None, expect]))
    limit = 16 * MiB + 4 * len(mangled_blob)
    _fuzz_read(lambda p: C.peek_header(p), mangled_blob, "checkpoint.npz", limit)
    if _fuzz_read(lambda p: C.read_checkpoint(p, expect=layout), mangled_blob, "checkpoint.npz", limit) == "read":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "checkpoint.npz"
            path.write_bytes(mangled_blob)
            _, got = C.read_checkpoint(path)
        for name in state:                  # a change nothing reads (a zip date): the same state
            np.testing.assert_array_equal(np.asarray(got[name]), np.asarray(state[name]))


_IMAGES = idx_bytes(np.random.default_rng(0).integers(0, 256, (3, 28, 28)))
_LABELS = idx_bytes(np.array([1, 2, 3]))
_CIFAR = [pickle.dumps({b"data": cifar_arrays(2, 0)[0], b"labels": [3, 4], b"filenames": [b"a", b"b"]},
                       protocol=p) for p in (2, 4, 5)] + [py2_batch_pickle(*cifar_arrays(2, 1))]

DATA_READERS = {
    "idx-images": lambda p: files.read_idx(p, "images", (28, 28), keep=2),
    "idx-labels": lambda p: files.check_labels(files.read_idx(p, "labels", ()), 10, p),
    "cifar": files.read_cifar_batch,
}


@_FUZZ
@given(data=st.data())
def test_fuzz_data_files_read_or_fail_cleanly_within_bounds(data):
    reader = data.draw(st.sampled_from(sorted(DATA_READERS)))
    valid = {"idx-images": [_IMAGES, gzip.compress(_IMAGES)], "idx-labels": [_LABELS, gzip.compress(_LABELS)],
             "cifar": _CIFAR}[reader]
    blob = data.draw(mangled(data.draw(st.sampled_from(valid))))
    _fuzz_read(DATA_READERS[reader], blob, "f", 16 * MiB + 40 * len(blob))


_GLOBALS = [(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")] + [
    ("numpy.core.numeric", "_frombuffer"), ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("__builtin__", "bytes"), ("builtins", "bytearray")]
_OPCODES = [b"(", b"t", b"\x85", b"\x86", b"\x87", b")", b"]", b"a", b"e", b"}", b"s", b"u", b"R", b"b",
            b"\x94", b"N", b"\x88", b"\x89", b"0", b"2", b"\x81", b"o", b"\x8f", b"\x90"]


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


@st.composite
def pickle_values(draw, depth=0):
    """A value as a pickle: a number (up to 2**64), a short string or bytes (dtype names among
    them), a memo get, a tuple of values, or (at depth 0..1) a call of an allowed global."""
    kinds = ["int", "bigint", "text", "bytes", "get", "tuple", "none"] + (["call", "call"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return b"J" + struct.pack("<i", draw(st.integers(-2**31, 2**31 - 1)))
    if kind == "bigint":
        v = draw(st.integers(-2**64, 2**64))
        raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw
    if kind == "text":
        text = draw(st.sampled_from(["u1", "b", "O", "O8", "<f8", "V1000000", "latin1", "C", "F", "|", "data",
                                     "labels", "(2,)u1", "S99999999"]) | st.text(max_size=8)).encode()
        return b"\x8c" + bytes([len(text)]) + text
    if kind == "bytes":
        data = draw(st.binary(max_size=16))
        return b"C" + bytes([len(data)]) + data
    if kind == "get":
        return b"h" + bytes([draw(st.integers(0, 8))])
    if kind == "none":
        return draw(st.sampled_from([b"N", b"\x88", b"\x89", b")", b"]", b"}"]))
    items = draw(st.lists(pickle_values(depth + 1), max_size=4))
    if kind == "tuple":
        return b"(" + b"".join(items) + b"t\x94"
    return _global(*draw(st.sampled_from(_GLOBALS))) + b"(" + b"".join(items) + b"tR\x94"


@st.composite
def pickle_pieces(draw):
    """A value, a BUILD with a state tuple, or a structural opcode."""
    kind = draw(st.sampled_from(["value", "value", "build", "op"]))
    if kind == "value":
        return draw(pickle_values())
    if kind == "build":
        return b"(" + b"".join(draw(st.lists(pickle_values(1), max_size=6))) + b"tb"
    return draw(st.sampled_from(_OPCODES))


@pytest.mark.filterwarnings("error")        # numpy's warnings about odd arguments do not reach the user
@_FUZZ
@given(st.lists(pickle_pieces(), max_size=30))
def test_fuzz_pickles_of_the_allowed_globals_load_or_fail_cleanly_within_bounds(pieces):
    blob = b"\x80\x04" + b"".join(pieces) + b"."
    _fuzz_read(files.read_cifar_batch, blob, "data_batch_1", 16 * MiB + 40 * len(blob))


def _corpus():
    return sorted(p for folder in ("checkpoint", "data") for p in (CORPUS / folder).glob("*")
                  if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fuzz_corpus_of_past_failures(path):
    """Every input that once failed: the reader named by its folder (checkpoint/) or by the
    start of its name (data/idx-images-*, data/idx-labels-*, data/cifar-*)."""
    if path.parent.name == "checkpoint":
        assert C.peek_header(path) is None or isinstance(C.peek_header(path), dict)
        read = C.read_checkpoint
    else:
        read = DATA_READERS[next(k for k in DATA_READERS if path.name.startswith(k + "-"))]
    reads_or_fails_cleanly(read, path, 16 * MiB + 40 * path.stat().st_size)


_REPLAY_UNDER_RLIMIT = """
import resource, sys
from pathlib import Path
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from hwsim.data import DataError, files
from hwsim.engine import checkpoint as C
for name in sys.argv[2:]:
    path = Path(name)
    try:
        if path.parent.name == "checkpoint":
            C.peek_header(path)
            C.read_checkpoint(path)
        elif path.name.startswith("cifar-"):
            files.read_cifar_batch(path)
        else:
            files.read_idx(path, "labels" if "labels" in path.name else "images",
                           () if "labels" in path.name else (28, 28), keep=2)
        print("read", path.name)
    except (C.CheckpointError, DataError) as exc:
        assert "MemoryError" not in str(exc), str(exc)
        print("error", path.name)
"""


@pytest.mark.slow
def test_the_corpus_replays_under_an_address_space_limit(tmp_path):
    """The same files in a process that may map at most 1 GiB (numpy and hwsim's readers need
    about 0.3): an allocation tracemalloc would not see fails there, and the reader must not
    have attempted it (no MemoryError turned into a message)."""
    import subprocess
    import sys

    corpus = [str(p) for p in _corpus()]
    proc = subprocess.run([sys.executable, "-c", _REPLAY_UNDER_RLIMIT, str(2**30), *corpus],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proc.stdout.splitlines()) == len(corpus)


def test_the_fuzz_corpus_is_there():
    names = {p.parent.name for p in _corpus()}
    assert {"checkpoint", "data"} <= names, names
