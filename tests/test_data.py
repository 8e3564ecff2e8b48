"""Data sets: MNIST-1D generation, the IDX and CIFAR-10 loaders on tiny files written in the
real formats, the data directory lookup, and clean errors for missing or malformed files."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import random
import struct
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_files import MNIST_NAMES, MNIST_SCENARIO, cifar_arrays, idx_bytes, write_cifar, write_mnist
from hwsim.cli import main
from hwsim.data import DataError, build_dataset
from hwsim.data import files
from hwsim.data.datasets import one_hot
from hwsim.network.layout import scenario_layout
from hwsim.spec.errors import SpecError
from hwsim.spec.models import DATASETS, ScenarioSpec

@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    """Tests must not see a data directory from the environment of whoever runs them."""
    monkeypatch.delenv("HWSIM_DATA", raising=False)


def py2_batch_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled as the CIFAR-10 files are: Python 2 cPickle protocol 2, keys and the
    array's raw data as Python 2 byte strings (opcodes written by hand)."""
    def s(b: bytes) -> bytes:                       # SHORT_BINSTRING / BINSTRING
        return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<I", len(b)) + b)

    def i(v: int) -> bytes:                          # BININT1 / BININT2 / BININT
        return b"K" + bytes([v]) if v < 256 else (b"M" + struct.pack("<H", v) if v < 65536
                                                 else b"J" + struct.pack("<i", v))
    dtype = (b"cnumpy\ndtype\n" + s(b"u1") + b"\x89\x88\x87R"            # dtype('u1', False, True)
             + b"(" + i(3) + s(b"|") + b"NNN" + b"J\xff\xff\xff\xffJ\xff\xff\xff\xff" + i(0) + b"tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + b"(" + i(0) + b"t"
             + s(b"b") + b"\x87R" + b"(" + i(1) + b"(" + i(data.shape[0]) + i(data.shape[1]) + b"t"
             + dtype + b"\x89" + s(data.tobytes()) + b"tb")
    label_list = b"](" + b"".join(i(v) for v in labels) + b"e"
    return (b"\x80\x02}(" + s(b"batch_label") + s(b"training batch 1 of 5") + s(b"labels") + label_list
            + s(b"data") + array + b"u.")


def mnist_spec(**kw):
    return ScenarioSpec(dataset={"name": "mnist", **kw}).dataset


# --------------------------------------------------------------------------- specs


def test_every_dataset_spec_has_shape_and_image_shape():
    for name, cls in DATASETS.items():
        spec = cls()
        n_in, n_out = spec.shape
        assert n_in >= 1 and n_out >= 1
        if spec.image_shape is not None:
            c, h, w = spec.image_shape
            assert c * h * w == n_in, name
    assert DATASETS["mnist"]().image_shape == (1, 28, 28)
    assert DATASETS["fashion_mnist"]().image_shape == (1, 28, 28)
    assert DATASETS["cifar10"]().image_shape == (3, 32, 32)
    assert DATASETS["digits"]().image_shape == (1, 8, 8)
    assert DATASETS["mnist1d"]().image_shape == (1, 1, 40)
    assert DATASETS["parity"]().image_shape is None and DATASETS["teacher"]().image_shape is None


def test_file_datasets_validate_without_their_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                      # ./data does not exist here
    for name in ("mnist", "fashion_mnist", "cifar10"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"kind: scenario\ndataset: {{name: {name}, n_train: 100}}\n"
                        "network: {hidden: [8]}\n")
        assert main(["validate", str(path)]) == 0, capsys.readouterr()
        assert scenario_layout(ScenarioSpec(dataset={"name": name})).sizes[-1] == 10


def test_mnist1d_spec_rejects_uneven_classes_and_empty_splits():
    with pytest.raises(Exception, match="multiple of 10"):
        ScenarioSpec(dataset={"name": "mnist1d", "n_samples": 105})
    with pytest.raises(Exception, match="no training samples"):
        ScenarioSpec(dataset={"name": "mnist1d", "n_samples": 20, "test_fraction": 0.99})


# --------------------------------------------------------------------------- MNIST-1D


def test_mnist1d_shape_classes_and_determinism():
    spec = ScenarioSpec(dataset={"name": "mnist1d", "n_samples": 200}).dataset
    a, b, c = build_dataset(spec, 0), build_dataset(spec, 0), build_dataset(spec, 1)
    assert a.x_train.shape == (160, 40) and a.x_test.shape == (40, 40)
    assert a.y_train.shape == (160, 10) and a.n_classes == 10 and a.image_shape == (1, 1, 40)
    assert a.x_train.dtype == np.float64 and a.y_train.dtype == np.float64
    assert set(a.y_train.sum(axis=1)) == {1.0}                       # one-hot
    counts = np.concatenate([a.y_train, a.y_test]).sum(axis=0)
    assert np.all(counts == 20)                                       # n/10 per class
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    fixed = spec.model_copy(update={"generator_seed": 7})
    assert np.array_equal(build_dataset(fixed, 0).x_train, build_dataset(fixed, 5).x_train)
    a.x_train[:] = 0.0                                                # the in-memory cache is not shared
    assert np.array_equal(build_dataset(spec, 0).x_train, b.x_train)


def test_mnist1d_is_the_packages_generator_and_leaves_global_rngs_alone():
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(456)
    before_np, before_py = np.random.get_state(), random.getstate()
    spec = ScenarioSpec(dataset={"name": "mnist1d", "n_samples": 100, "generator_seed": 42}).dataset
    ours = build_dataset(spec, 3)
    after_np = np.random.get_state()
    assert after_np[0] == before_np[0] and np.array_equal(after_np[1], before_np[1])
    assert after_np[2:] == before_np[2:] and random.getstate() == before_py
    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = 100, 0.8, 42
    ref = make_dataset(args)
    assert np.array_equal(ours.x_train, ref["x"]) and np.array_equal(ours.x_test, ref["x_test"])
    assert np.array_equal(ours.y_train.argmax(axis=1), ref["y"])
    np.random.set_state(before_np)                                    # leave no state behind ourselves
    random.setstate(before_py)


def test_digits_reports_its_image_shape():
    d = build_dataset(ScenarioSpec().dataset, 0)
    assert d.image_shape == (1, 8, 8) and d.n_inputs == 64


# --------------------------------------------------------------------------- MNIST / Fashion-MNIST


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name,folder", [("mnist", "mnist"), ("mnist", "MNIST/raw"),
                                          ("fashion_mnist", "fashion_mnist"),
                                          ("fashion_mnist", "FashionMNIST/raw")])
def test_idx_round_trip(tmp_path, name, folder, gz):
    arrays = write_mnist(tmp_path / folder, gz=gz)
    spec = ScenarioSpec(dataset={"name": name, "data_dir": str(tmp_path)}).dataset
    d = build_dataset(spec, 0)
    assert d.name == name and d.image_shape == (1, 28, 28) and d.n_classes == 10
    assert d.x_train.dtype == np.float64 and d.x_train.shape == (12, 784)
    assert np.array_equal(d.x_train, arrays["train-images-idx3-ubyte"].reshape(12, 784) / 255.0)
    assert np.array_equal(d.x_test, arrays["t10k-images-idx3-ubyte"].reshape(5, 784) / 255.0)
    assert np.array_equal(d.y_train, one_hot(arrays["train-labels-idx1-ubyte"].astype(int), 10))
    assert np.array_equal(d.y_test, one_hot(arrays["t10k-labels-idx1-ubyte"].astype(int), 10))
    img = d.x_train[3].reshape(d.image_shape)                         # rows are CHW images
    assert np.array_equal(img[0] * 255.0, arrays["train-images-idx3-ubyte"][3])
    assert d.x_train.min() >= 0.0 and d.x_train.max() <= 1.0


def test_gzip_is_detected_from_the_content_not_the_name(tmp_path):
    arrays = write_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(path.read_bytes()))               # gzipped without the .gz name
    x = files.read_idx(path, "images", (28, 28))
    assert np.array_equal(x, arrays["train-images-idx3-ubyte"])


def test_n_train_n_test_take_the_first_images(tmp_path):
    arrays = write_mnist(tmp_path / "mnist", n_train=12, n_test=5)
    d = build_dataset(mnist_spec(data_dir=str(tmp_path), n_train=4, n_test=2), 0)
    assert np.array_equal(d.x_train * 255.0, arrays["train-images-idx3-ubyte"][:4].reshape(4, -1))
    assert np.array_equal(d.x_test * 255.0, arrays["t10k-images-idx3-ubyte"][:2].reshape(2, -1))
    with pytest.raises(DataError, match="n_train asks for 13 training images but there are only 12"):
        build_dataset(mnist_spec(data_dir=str(tmp_path), n_train=13), 0)
    with pytest.raises(DataError, match="n_test asks for 6"):
        build_dataset(mnist_spec(data_dir=str(tmp_path), n_test=6), 0)


def test_last_1000_train_holds_out_the_last_1000_and_needs_no_test_files(tmp_path):
    arrays = write_mnist(tmp_path / "mnist", n_train=1003, test=False)
    spec = mnist_spec(data_dir=str(tmp_path), validation="last_1000_train")
    d = build_dataset(spec, 0)
    images = arrays["train-images-idx3-ubyte"].reshape(1003, -1) / 255.0
    assert np.array_equal(d.x_train, images[:3]) and np.array_equal(d.x_test, images[3:])
    assert np.array_equal(d.y_test.argmax(axis=1), arrays["train-labels-idx1-ubyte"][3:])
    d = build_dataset(spec.model_copy(update={"n_train": 2, "n_test": 10}), 0)
    assert np.array_equal(d.x_train, images[:2]) and np.array_equal(d.x_test, images[3:13])
    with pytest.raises(DataError, match="only 3 after the last 1000"):
        build_dataset(spec.model_copy(update={"n_train": 4}), 0)
    write_mnist(tmp_path / "small" / "mnist", n_train=1000, test=False)
    with pytest.raises(DataError, match="has only 1000"):
        build_dataset(mnist_spec(data_dir=str(tmp_path / "small"), validation="last_1000_train"), 0)


# --------------------------------------------------------------------------- lookup and missing files


def test_missing_files_name_the_files_the_folders_and_the_fix(tmp_path):
    with pytest.raises(DataError) as info:
        build_dataset(mnist_spec(data_dir=str(tmp_path / "nowhere")), 0)
    text = str(info.value)
    for name in MNIST_NAMES:
        assert name in text
    assert str(tmp_path / "nowhere" / "mnist") in text and str(tmp_path / "nowhere" / "MNIST" / "raw") in text
    assert "no such folder" in text and ".gz" in text and "never downloads" in text
    assert "HWSIM_DATA" in text and "--data-dir" in text and "docs/data.md" in text
    assert isinstance(info.value, SpecError)


def test_partly_missing_files_say_which(tmp_path):
    write_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"mnist \(missing t10k-labels-idx1-ubyte\)"):
        build_dataset(mnist_spec(data_dir=str(tmp_path)), 0)


def test_cifar_missing_names_the_batches_and_how_to_unpack(tmp_path):
    spec = ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path)}).dataset
    with pytest.raises(DataError) as info:
        build_dataset(spec, 0)
    text = str(info.value)
    for name in [*files.CIFAR_TRAIN, "test_batch"]:
        assert name in text
    assert str(tmp_path / "cifar-10-batches-py") in text and "tar xzf cifar-10-python.tar.gz" in text


def test_mnist_and_fashion_are_not_taken_from_the_data_dir_itself(tmp_path):
    write_mnist(tmp_path)                            # files directly in the data directory: ambiguous
    with pytest.raises(DataError, match="files not found"):
        build_dataset(mnist_spec(data_dir=str(tmp_path)), 0)


def test_lookup_order_field_then_env_then_dot_data(tmp_path, monkeypatch):
    for where, n in (("cwd/data", 3), ("env", 4), ("field", 5)):
        write_mnist(tmp_path / where / "mnist", n_train=n)
    monkeypatch.chdir(tmp_path / "cwd")
    assert build_dataset(mnist_spec(), 0).x_train.shape[0] == 3                   # ./data
    monkeypatch.setenv("HWSIM_DATA", str(tmp_path / "env"))
    assert build_dataset(mnist_spec(), 0).x_train.shape[0] == 4                   # $HWSIM_DATA
    assert build_dataset(mnist_spec(data_dir=str(tmp_path / "field")), 0).x_train.shape[0] == 5
    monkeypatch.setenv("HWSIM_DATA", "")                                          # empty = unset
    assert build_dataset(mnist_spec(), 0).x_train.shape[0] == 3
    monkeypatch.setenv("HWSIM_DATA", str(tmp_path / "env-missing"))
    with pytest.raises(DataError, match=r"from \$HWSIM_DATA"):
        build_dataset(mnist_spec(), 0)


def test_relative_data_dir_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    write_mnist(tmp_path / "here" / "mnist", n_train=6)
    monkeypatch.chdir(tmp_path)
    assert build_dataset(mnist_spec(data_dir="here"), 0).x_train.shape[0] == 6


# --------------------------------------------------------------------------- malformed IDX files


def _valid_images(n=3):
    return np.arange(n * 784, dtype=np.int64).reshape(n, 28, 28).astype(np.uint8)


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b[:2], "shorter than the 4-byte header"),
    (lambda b: b[:10], "ends inside its IDX header"),
    (lambda b: b[:-1], "truncated: the IDX header announces 3 images"),
    (lambda b: b + b"\0", "trailing bytes"),
    (lambda b: b"\x08\x03" + b[2:], "bad magic number"),
    (lambda b: b"<!DOCTYPE html><html>" + b, "looks like a web page"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "unsupported IDX element type 0x0d"),
    (lambda b: b[:3] + b"\x02" + b[4:], "gives 2 dimensions"),
    (lambda b: b[:8] + struct.pack(">I", 27) + b[12:], "wrong images size"),
    (lambda b: gzip.compress(b)[:-12], "truncated or corrupt gzip data"),
    (lambda b: gzip.compress(b)[:10] + b"\xff" * 40, "truncated or corrupt gzip data"),
], ids=["short-header", "short-dims", "short-data", "trailing", "magic", "html", "type", "ndim",
        "dims", "gzip-truncated", "gzip-corrupt"])
def test_malformed_idx_gives_a_clean_error_naming_the_file(tmp_path, mutate, match):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(idx_bytes(_valid_images())))
    with pytest.raises(DataError, match=match) as info:
        files.read_idx(path, "images", (28, 28))
    assert str(path) in str(info.value)


def test_labels_must_be_classes_and_match_the_images(tmp_path):
    write_mnist(tmp_path / "mnist")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.array([1, 2, 10] + [0] * 9)))
    with pytest.raises(DataError, match="label 10 at index 2 is not a class"):
        build_dataset(mnist_spec(data_dir=str(tmp_path)), 0)
    labels.write_bytes(idx_bytes(np.zeros(11)))
    with pytest.raises(DataError, match="12 images in train-images-idx3-ubyte but 11 labels"):
        build_dataset(mnist_spec(data_dir=str(tmp_path)), 0)


def test_unreadable_file_is_a_clean_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.mkdir()                                     # a folder where the file should be
    with pytest.raises(DataError, match="not a regular file: it is a directory"):
        files.read_idx(path, "images", (28, 28))


# --------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_round_trip(tmp_path, protocol):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    d = build_dataset(ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path)}).dataset, 0)
    train = np.concatenate([batches[n][0] for n in files.CIFAR_TRAIN])
    labels = sum((batches[n][1] for n in files.CIFAR_TRAIN), [])
    assert d.image_shape == (3, 32, 32) and d.x_train.shape == (20, 3072) and d.x_test.shape == (3, 3072)
    assert np.array_equal(d.x_train, train / 255.0)
    assert np.array_equal(d.y_train, one_hot(np.array(labels), 10))
    assert np.array_equal(d.x_test, batches["test_batch"][0] / 255.0)
    assert np.array_equal(d.y_test.argmax(axis=1), batches["test_batch"][1])


def test_cifar_rows_are_chw_images(tmp_path):
    # CIFAR stores the red plane (32 rows of 32), then green, then blue: a CHW image.
    planes = np.random.default_rng(1).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    row = np.concatenate([planes[0].ravel(), planes[1].ravel(), planes[2].ravel()])[None, :]
    for name in [*files.CIFAR_TRAIN, "test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": row, b"labels": [7]}, protocol=2))
    d = build_dataset(ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path)}).dataset, 0)
    img = d.x_train[0].reshape(d.image_shape)
    assert np.array_equal(img * 255.0, planes)
    assert img[1, 5, 9] * 255.0 == planes[1, 5, 9]                   # (channel, row, column)


def test_cifar_python2_batches_as_distributed(tmp_path):
    data, labels = cifar_arrays(6, seed=3)
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_batch_pickle(data, labels))
    x, y = files.read_cifar_batch(path)
    assert np.array_equal(x, data) and list(y) == labels


def test_cifar_files_directly_in_the_data_dir(tmp_path):
    write_cifar(tmp_path)
    d = build_dataset(ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path)}).dataset, 0)
    assert d.x_train.shape == (20, 3072)


def test_cifar_n_train_reads_only_the_batches_it_needs(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batches = write_cifar(folder, per_batch=4)
    (folder / "data_batch_3").write_bytes(b"not read")
    spec = ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path), "n_train": 6}).dataset
    d = build_dataset(spec, 0)
    first = np.concatenate([batches["data_batch_1"][0], batches["data_batch_2"][0]])[:6]
    assert np.array_equal(d.x_train, first / 255.0)
    with pytest.raises(DataError, match="data_batch_3"):
        build_dataset(spec.model_copy(update={"n_train": 9}), 0)


def test_cifar_last_1000_train(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batches = write_cifar(folder, per_batch=201, test=False)
    spec = ScenarioSpec(dataset={"name": "cifar10", "data_dir": str(tmp_path),
                                 "validation": "last_1000_train"}).dataset
    d = build_dataset(spec, 0)
    train = np.concatenate([batches[n][0] for n in files.CIFAR_TRAIN]) / 255.0
    assert np.array_equal(d.x_train, train[:5]) and np.array_equal(d.x_test, train[5:])


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("payload", ["top", "nested", "eval", "codecs"])
def test_hostile_pickles_are_refused_and_run_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    path = tmp_path / "data_batch_1"
    if payload == "top":
        blob = pickle.dumps(_Evil(command), protocol=2)
    elif payload == "nested":
        blob = pickle.dumps({b"data": _Evil(command), b"labels": [1]}, protocol=4)
    elif payload == "eval":
        blob = b"cbuiltins\neval\n(V__import__('os').system('" + command.encode() + b"')\ntR."
    else:
        blob = b"c_codecs\nencode\n(Vx\nVrot13\ntR."
    path.write_bytes(blob)
    with pytest.raises(DataError, match="refused") as info:
        files.read_cifar_batch(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("batch,match", [
    ([1, 2, 3], "holds a list"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, "no b'data' or no b'labels'"),
    ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]}, r"shape \(2, 3071\)"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "float32"),
    ({b"data": [[0] * 3072], b"labels": [0]}, "wrong b'data': a list"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 11]}, "label 11 at index 1"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}, "flat list of integers"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": 3}, "wrong b'labels'"),
], ids=["list", "no-labels", "shape", "dtype", "data-list", "count", "class", "label-type", "label-int"])
def test_wrong_cifar_batches_give_clean_errors(tmp_path, batch, match):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps(batch, protocol=4))
    with pytest.raises(DataError, match=match):
        files.read_cifar_batch(path)


def test_truncated_and_gzipped_cifar_batches(tmp_path):
    data, labels = cifar_arrays(2, seed=0)
    blob = pickle.dumps({b"data": data, b"labels": labels}, protocol=2)
    path = tmp_path / "data_batch_1"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="not a CIFAR-10 batch: truncated: a pickled value of 9,223 bytes runs "
                                        "past the end of the file"):
        files.read_cifar_batch(path)
    path.write_bytes(gzip.compress(blob))
    with pytest.raises(DataError, match="gzip-compressed"):
        files.read_cifar_batch(path)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="cannot unpickle"):
        files.read_cifar_batch(path)


# --------------------------------------------------------------------------- fuzz

_IDX = idx_bytes(_valid_images(2))
_IDX_GZ = gzip.compress(_IDX)
_CIFAR = pickle.dumps({b"data": cifar_arrays(2, 0)[0], b"labels": [3, 4]}, protocol=2)
_CIFAR4 = pickle.dumps({b"data": cifar_arrays(2, 0)[0], b"labels": [3, 4]}, protocol=4)


@st.composite
def mangled(draw, valid: bytes):
    """A valid file truncated, with bytes overwritten or inserted, or replaced by random bytes."""
    kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "random"]))
    if kind == "random":
        return draw(st.binary(max_size=600))
    if kind == "truncate":
        return valid[:draw(st.integers(0, len(valid)))]
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if kind == "overwrite":
            data[pos:pos + len(chunk)] = chunk
        else:
            data[pos:pos] = chunk
    return bytes(data)


def _loads_or_clean_error(load, blob: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(blob)
        try:
            load(path)
        except DataError as exc:
            assert str(path) in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mangled(_IDX), mangled(_IDX_GZ)))
def test_fuzz_idx_loads_or_raises_the_clean_error(blob):
    _loads_or_clean_error(lambda p: files.read_idx(p, "images", (28, 28)), blob)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mangled(_CIFAR), mangled(_CIFAR4)))
def test_fuzz_cifar_loads_or_raises_the_clean_error(blob):
    _loads_or_clean_error(files.read_cifar_batch, blob)


# --------------------------------------------------------------------------- command line



def _scenario(tmp_path, text=MNIST_SCENARIO):
    path = tmp_path / "tiny_mnist.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_cli_run_with_missing_mnist_exits_2_with_the_message(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scen = _scenario(tmp_path)
    code = main(["run", str(scen), "--data-dir", str(tmp_path / "nodata"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "train-images-idx3-ubyte" in err and str(tmp_path / "nodata" / "mnist") in err
    assert "Traceback" not in err and "nothing was run" in err
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("HWSIM_DATA", str(tmp_path / "envdata"))          # without --data-dir
    assert main(["run", str(scen), "--out", str(tmp_path / "run")]) == 2
    assert str(tmp_path / "envdata" / "mnist") in capsys.readouterr().err


def test_cli_corrupt_file_exits_2_naming_it(tmp_path, capsys):
    write_mnist(tmp_path / "data" / "mnist")
    bad = tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:100])
    code = main(["run", str(_scenario(tmp_path)), "--data-dir", str(tmp_path / "data"),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "truncated" in err


def test_cli_run_trains_on_local_mnist_files(tmp_path, capsys):
    write_mnist(tmp_path / "data" / "mnist", gz=True)
    out = tmp_path / "run"
    code = main(["run", str(_scenario(tmp_path)), "--data-dir", str(tmp_path / "data"), "--out", str(out),
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resolved"]["scenario"]["dataset"]["data_dir"] == str(tmp_path / "data")
    assert manifest["resolved"]["scenario"]["dataset"]["n_train"] == 12


def test_cli_data_dir_on_a_generated_data_set_only_warns(tmp_path, capsys):
    scen = _scenario(tmp_path, MNIST_SCENARIO.replace("{name: mnist, n_train: 12}", "{name: parity}")
                     .replace("hidden: [4]}", "hidden: [4]}\n    accuracy: threshold"))
    code = main(["run", str(scen), "--data-dir", str(tmp_path), "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    assert "--data-dir has no effect" in capsys.readouterr().err


def test_cli_compare_takes_data_dir(tmp_path, capsys):
    scen = _scenario(tmp_path, MNIST_SCENARIO + "    max_steps: 20\n")
    code = main(["compare", str(scen), "--data-dir", str(tmp_path / "nodata"), "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2 and str(tmp_path / "nodata" / "mnist") in err
