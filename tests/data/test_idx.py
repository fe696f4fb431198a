"""MNIST IDX: every type code round-trips, gzip is found by content, bad files say what is wrong."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from hepgan.data.idx import read_idx, read_mnist, write_idx
from tests.data._helpers import raises_data_error

MNIST_MD5 = {  # of the uncompressed files, from shared/data/README.md
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}



@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(0, 100, (5, 4, 3)) if np.dtype(dtype).kind == "f" else rng.integers(-128, 127, (5, 4, 3)))
    array = array.astype(dtype) if dtype != np.uint8 else np.abs(array).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, gzip=compress)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert np.array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress


def test_header_bytes_are_big_endian(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.array([[1, 2, 3], [4, 5, 258]], dtype=np.int16))
    assert path.read_bytes() == (
        b"\x00\x00\x0b\x02" + b"\x00\x00\x00\x02\x00\x00\x00\x03" + b"\x00\x01\x00\x02\x00\x03\x00\x04\x00\x05\x01\x02"
    )
    write_idx(path, np.arange(3, dtype=">f4"))  # big-endian input is fine too
    assert np.array_equal(read_idx(path), [0.0, 1.0, 2.0])


def test_gzip_detected_from_content_not_name(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    compressed = tmp_path / "images-idx3-ubyte"  # gzip without .gz
    raw = tmp_path / "images-idx3-ubyte.gz"  # raw despite .gz
    write_idx(compressed, array, gzip=True)
    write_idx(raw, array)
    assert np.array_equal(read_idx(compressed), array)
    assert np.array_equal(read_idx(raw), array)


def test_truncated_payload_says_expected_and_found(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros((10, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with raises_data_error(path, "truncated", "needs 7840 bytes", "found 7740"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x01")
    with raises_data_error(path, "truncated IDX header", "need 16 bytes"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros(4, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with raises_data_error(path, "trailing bytes", "needs 4 bytes, found 6"):
        read_idx(path)


def test_bad_magic(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x07")
    with raises_data_error(path, "not an IDX file", "0x01 0x02"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\x00\x00\x0a\x01\x00\x00\x00\x01\x07")
    with raises_data_error(path, "unknown IDX type code 0x0a"):
        read_idx(path)


def test_zero_dimensions(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\x00\x00\x08\x00")
    with raises_data_error(path, "0 dimensions"):
        read_idx(path)


def test_too_short(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(b"\x00\x00")
    with raises_data_error(path, "too short", "2 bytes"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "a.idx.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 255, 5000).astype(np.uint8), gzip=True)
    path.write_bytes(path.read_bytes()[: 2000])
    with raises_data_error(path, "corrupt gzip stream"):
        read_idx(path)
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    with raises_data_error(path, "corrupt gzip stream"):
        read_idx(path)


def test_missing_file(tmp_path):
    with raises_data_error(tmp_path / "absent-idx1-ubyte", "no such file"):
        read_idx(tmp_path / "absent-idx1-ubyte")


def test_write_rejects_unsupported_dtype(tmp_path):
    path = tmp_path / "a.idx"
    with raises_data_error(path, "dtype int64 cannot be stored in IDX"):
        write_idx(path, np.zeros(3, dtype=np.int64))
    with raises_data_error(path, "1 to 255 dimensions"):
        write_idx(path, np.uint8(3))
    assert list(tmp_path.iterdir()) == []


def make_mnist(directory, split="train", n_images=6, n_labels=6, compress=True):
    prefix = "train" if split == "train" else "t10k"
    rng = np.random.default_rng(1)
    suffix = ".gz" if compress else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}",
              rng.integers(0, 256, (n_images, 28, 28)).astype(np.uint8), gzip=compress)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}",
              rng.integers(0, 10, n_labels).astype(np.uint8), gzip=compress)


@pytest.mark.parametrize("compress", [False, True])
def test_read_mnist_small(tmp_path, compress):
    make_mnist(tmp_path, "test", compress=compress)
    data = read_mnist(tmp_path, "test")
    assert data.images.shape == (6, 28, 28) and data.labels.shape == (6,)


def test_read_mnist_count_mismatch(tmp_path):
    make_mnist(tmp_path, n_labels=5)
    with raises_data_error(tmp_path, "has 6 images but train-labels-idx1-ubyte.gz has 5 labels"):
        read_mnist(tmp_path)


def test_read_mnist_missing_file(tmp_path):
    make_mnist(tmp_path, "train")
    with raises_data_error(tmp_path, "no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz"):
        read_mnist(tmp_path, "test")


def test_read_mnist_bad_split(tmp_path):
    with raises_data_error(tmp_path, "unknown MNIST split 'validation'"):
        read_mnist(tmp_path, "validation")


# ------------------------------------------------------------------ the real MNIST


@pytest.fixture(scope="module")
def mnist_dir(shared_data):
    directory = shared_data / "mnist"
    if not (directory / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not present in {directory}")
    return directory


def test_real_mnist(mnist_dir):
    train, test = read_mnist(mnist_dir, "train"), read_mnist(mnist_dir, "test")
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.uint8
    for split in (train, test):
        assert np.array_equal(np.unique(split.labels), np.arange(10))
        assert split.images.max() == 255 and split.images.min() == 0
    assert np.bincount(train.labels).min() > 5000  # roughly balanced digits


@pytest.mark.parametrize("name", sorted(MNIST_MD5))
def test_real_mnist_bytes_and_rewrite(mnist_dir, tmp_path, name):
    """The decompressed files match the published MD5, and write_idx reproduces them byte for byte."""
    source = mnist_dir / f"{name}.gz"
    assert hashlib.md5(gzip.decompress(source.read_bytes())).hexdigest() == MNIST_MD5[name]
    out = tmp_path / name
    write_idx(out, read_idx(source))
    assert hashlib.md5(out.read_bytes()).hexdigest() == MNIST_MD5[name]
