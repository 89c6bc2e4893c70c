import gzip
import os
import re
import stat
import struct

import numpy as np
import pytest

from lunarlearn.errors import ConfigError
from lunarlearn_data import (
    IDX_DTYPES,
    DatasetNotFoundError,
    IDXDataset,
    IDXFormatError,
    read_idx,
    write_idx,
)

# Data-type code, struct format letter and NumPy dtype, written out by hand
# from the IDX format description to check the reader and writer against.
CODES = [
    (0x08, "B", np.uint8),
    (0x09, "b", np.int8),
    (0x0B, "h", np.int16),
    (0x0C, "i", np.int32),
    (0x0D, "f", np.float32),
    (0x0E, "d", np.float64),
]


def sample_array(dtype, shape=(3, 4, 5)):
    count = int(np.prod(shape))
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is None:
        values = np.linspace(-1e3, 1e3, count) / 7
    else:
        values = np.linspace(info.min, info.max, count).round()
    return values.astype(dtype).reshape(shape)


def handmade_idx(code, letter, array):
    """IDX bytes built with struct, independent of write_idx."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    body = struct.pack(f">{array.size}{letter}", *array.ravel().tolist())
    return header + body


def test_idx_dtype_table():
    assert {code: dtype.name for code, dtype in IDX_DTYPES.items()} == {
        code: np.dtype(dtype).name for code, _, dtype in CODES
    }


@pytest.mark.parametrize("code,letter,dtype", CODES)
def test_read_idx_handmade_raw_and_gzip(tmp_path, code, letter, dtype):
    array = sample_array(dtype)
    data = handmade_idx(code, letter, array)
    (tmp_path / "raw-idx").write_bytes(data)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(data))
    for name in ("raw-idx", "packed.gz"):
        result = read_idx(tmp_path / name)
        assert result.dtype == dtype
        assert result.dtype.isnative
        assert result.shape == (3, 4, 5)
        np.testing.assert_array_equal(result, array)
        result[0, 0, 0] = 0  # writable


@pytest.mark.parametrize("code,letter,dtype", CODES)
@pytest.mark.parametrize("compress", [False, True])
def test_write_idx_round_trip(tmp_path, code, letter, dtype, compress):
    array = sample_array(dtype, shape=(7, 2))
    path = write_idx(tmp_path / "out", array, compress=compress)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") is compress
    if compress:
        raw = gzip.decompress(raw)
    assert raw == handmade_idx(code, letter, array)
    np.testing.assert_array_equal(read_idx(path), array)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=oct)
def test_write_idx_umask_permissions(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = write_idx(tmp_path / "new" / "out.gz", np.arange(3, dtype=np.uint8))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["out.gz"]


def test_write_idx_big_endian_input(tmp_path):
    array = np.arange(6, dtype=">i4").reshape(2, 3)
    write_idx(tmp_path / "a", array)
    result = read_idx(tmp_path / "a")
    assert result.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(result, np.arange(6).reshape(2, 3))


def test_write_idx_gzip_from_suffix(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(4, dtype=np.uint8))
    write_idx(tmp_path / "b", np.arange(4, dtype=np.uint8))
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b").read_bytes()[:4] == b"\x00\x00\x08\x01"


def test_gzip_detected_by_content(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "compressed-no-suffix", array, compress=True)
    write_idx(tmp_path / "plain.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed-no-suffix"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), array)


def test_write_idx_rejects(tmp_path):
    with pytest.raises(ConfigError, match="int64.*uint8"):
        write_idx(tmp_path / "a", np.arange(3, dtype=np.int64))
    with pytest.raises(ConfigError, match="bool"):
        write_idx(tmp_path / "a", np.ones(3, dtype=bool))
    with pytest.raises(ConfigError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "a", np.uint8(3))
    assert list(tmp_path.iterdir()) == []


def test_read_idx_truncated_data(tmp_path):
    data = handmade_idx(0x08, "B", np.zeros((4, 5), np.uint8))
    path = tmp_path / "short-idx"
    path.write_bytes(data[:-3])
    with pytest.raises(
        IDXFormatError, match=r"short-idx is truncated.*\(4, 5\).*20.*17"
    ):
        read_idx(path)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "header-idx"
    path.write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02")
    with pytest.raises(IDXFormatError, match="header-idx is truncated.*16-byte header"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IDXFormatError, match="2 bytes, fewer than the 4-byte magic"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    data = gzip.compress(handmade_idx(0x08, "B", np.arange(200, dtype=np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXFormatError, match="Cannot decompress .*cut.gz"):
        read_idx(path)


@pytest.mark.parametrize(
    "magic",
    [b"\x01\x00\x08\x01", b"\x00\x00\x0a\x01", b"\x00\x00\x07\x01", b"PK\x03\x04"],
)
def test_read_idx_bad_magic(tmp_path, magic):
    path = tmp_path / "bad-idx"
    path.write_bytes(magic + b"\x00\x00\x00\x01" + b"\x00")
    with pytest.raises(
        IDXFormatError, match=f"bad-idx is not an IDX file.*0x{magic.hex()}"
    ):
        read_idx(path)


def test_read_idx_zero_dimensions(tmp_path):
    path = tmp_path / "scalar-idx"
    path.write_bytes(b"\x00\x00\x08\x00\x05")
    with pytest.raises(IDXFormatError, match="0 dimensions"):
        read_idx(path)


def test_read_idx_extra_bytes(tmp_path):
    path = tmp_path / "long-idx"
    path.write_bytes(handmade_idx(0x0C, "i", np.arange(3, dtype=np.int32)) + b"\x00")
    with pytest.raises(
        IDXFormatError, match="long-idx has 1 bytes more.*12 data bytes"
    ):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


def test_read_idx_directory(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_idx(tmp_path)
    message = str(info.value)
    assert f"{tmp_path} is a directory" in message
    assert "IDX file" in message
    assert "raw or gzip-compressed" in message


def make_idx_pair(tmp_path, count=6, height=3, width=4):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, height, width), dtype=np.uint8)
    images[0, 0, 0] = 255
    images[0, 0, 1] = 0
    labels = np.array([3, 1, 4, 1, 5, 9][:count], dtype=np.uint8)
    images_path = write_idx(tmp_path / "images-idx3-ubyte.gz", images)
    labels_path = write_idx(tmp_path / "labels-idx1-ubyte", labels)
    return images, labels, images_path, labels_path


def test_idx_dataset_channel_first(tmp_path):
    images, labels, images_path, labels_path = make_idx_pair(tmp_path)
    dataset = IDXDataset(images_path, labels_path)
    x, y = dataset[np.arange(6)]
    assert x.shape == (6, 1, 3, 4)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
    assert x[0, 0, 0, 0] == 1.0
    assert x[0, 0, 0, 1] == 0.0
    np.testing.assert_array_equal(y, labels)
    assert dataset.sample_shape == (1, 3, 4)
    assert dataset.num_classes == 10
    assert len(dataset) == 6


def test_idx_dataset_flatten_raw(tmp_path):
    images, _, images_path, labels_path = make_idx_pair(tmp_path)
    dataset = IDXDataset(images_path, labels_path, flatten=True, normalize=False)
    x, _ = dataset[np.array([2, 0])]
    assert x.shape == (2, 12)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, images[[2, 0]].reshape(2, 12))
    assert dataset.sample_shape == (12,)


def test_idx_dataset_from_arrays():
    images = np.zeros((2, 5, 5), dtype=np.float64)
    dataset = IDXDataset(images, np.array([0, 1]), normalize=False)
    assert dataset[0][0].dtype == np.float32
    with pytest.raises(ConfigError, match="normalize=False"):
        IDXDataset(images, np.array([0, 1]))


def test_idx_dataset_errors(tmp_path):
    _, labels, images_path, labels_path = make_idx_pair(tmp_path)
    short_labels = write_idx(tmp_path / "short-labels", labels[:5])
    with pytest.raises(
        ConfigError, match="6 images in .*images-idx3.*5 labels in .*short-labels"
    ):
        IDXDataset(images_path, short_labels)
    with pytest.raises(ConfigError, match=r"\(count, height, width\).*\(6,\)"):
        IDXDataset(labels_path, labels_path)
    with pytest.raises(ConfigError, match="1-D integer"):
        IDXDataset(images_path, np.zeros(6, dtype=np.float32))
    with pytest.raises(ConfigError, match="non-negative.*-1"):
        IDXDataset(np.zeros((1, 2, 2), np.uint8), np.array([-1]))
    with pytest.raises(TypeError, match="normalize"):
        IDXDataset(images_path, labels_path, normalize=1)
    with pytest.raises(TypeError, match="images"):
        IDXDataset(12, labels_path)
    directory_error = re.escape(f"{tmp_path} is a directory") + ".*IDX file"
    with pytest.raises(ConfigError, match=directory_error):
        IDXDataset(tmp_path, labels_path)
    with pytest.raises(ConfigError, match=directory_error):
        IDXDataset(images_path, str(tmp_path))
