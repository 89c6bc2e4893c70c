import gzip
import logging
import os
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from lunarlearn.errors import ConfigError
from lunarlearn_data import MNIST, ChecksumError, DatasetNotFoundError, data_home

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def shared_data(mnist_root):
    return mnist_root


@pytest.fixture
def mirror(shared_data, tmp_path):
    """A directory that serves the test files like a download mirror."""
    directory = tmp_path / "mirror"
    directory.mkdir()
    for name in TEST_FILES:
        shutil.copyfile(shared_data / "mnist" / name, directory / name)
    return directory


def decompressed(path):
    return gzip.decompress(Path(path).read_bytes())


def test_mnist_test_split(shared_data, monkeypatch):
    monkeypatch.setenv("LUNARLEARN_DATA", str(shared_data))
    dataset = MNIST(split="test", download=False)
    assert dataset.root == shared_data / "mnist"
    assert len(dataset) == 10_000
    assert dataset.num_classes == 10
    assert dataset.sample_shape == (1, 28, 28)

    x, y = dataset[np.arange(10_000)]
    assert x.shape == (10_000, 1, 28, 28)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() == 0.0
    assert x.max() == 1.0
    assert np.bincount(y).tolist() == LABEL_COUNTS
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # Mean and standard deviation of the test-split pixels in [0, 1].
    assert abs(x.mean(dtype=np.float64) - 0.13251) < 1e-4
    assert abs(x.std(dtype=np.float64) - 0.31048) < 1e-4


def test_mnist_flatten_and_raw_pixels(shared_data):
    root = shared_data / "mnist"
    dataset = MNIST(root, split="test", download=False, flatten=True, normalize=False)
    x, label = dataset[0]
    assert x.shape == (784,)
    assert x.dtype == np.float32
    assert label == 7
    assert x.max() == 255.0
    np.testing.assert_array_equal(x, np.round(x))


def test_mnist_decompressed_files(shared_data, tmp_path):
    for name in TEST_FILES:
        data = decompressed(shared_data / "mnist" / name)
        (tmp_path / name.removesuffix(".gz")).write_bytes(data)
    dataset = MNIST(tmp_path, split="test", download=False)
    assert dataset.files == (
        tmp_path / "t10k-images-idx3-ubyte",
        tmp_path / "t10k-labels-idx1-ubyte",
    )
    assert np.bincount(dataset.labels).tolist() == LABEL_COUNTS


def test_mnist_missing_files_message(tmp_path):
    root = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(root, split="test", download=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message
    assert "t10k-labels-idx1-ubyte" in message
    assert str(root) in message
    assert "LUNARLEARN_DATA" in message
    assert "download=False" in message
    assert isinstance(info.value, FileNotFoundError)


def test_mnist_download_from_file_mirror(mirror, tmp_path, caplog):
    root = tmp_path / "downloads" / "mnist"
    unreachable = (tmp_path / "no-such-mirror").as_uri() + "/"
    with caplog.at_level(logging.WARNING, logger="lunarlearn_data"):
        dataset = MNIST(root, split="test", mirrors=[unreachable, mirror.as_uri()])
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    for name, warning in zip(TEST_FILES, warnings, strict=True):
        assert warning.startswith(f"Download of {unreachable}{name} failed: ")
        assert warning.endswith(
            f"The file was downloaded from {mirror.as_uri()}/{name}"
        )
    assert len(dataset) == 10_000
    assert sorted(p.name for p in root.iterdir()) == sorted(TEST_FILES)
    for name in TEST_FILES:
        assert (root / name).read_bytes() == (mirror / name).read_bytes()
    assert np.bincount(dataset.labels).tolist() == LABEL_COUNTS


def test_mnist_download_umask_permissions(mirror, tmp_path):
    root = tmp_path / "mnist"
    previous = os.umask(0o022)
    try:
        MNIST(root, split="test", mirrors=[mirror.as_uri()])
    finally:
        os.umask(previous)
    assert sorted(p.name for p in root.iterdir()) == sorted(TEST_FILES)
    for name in TEST_FILES:
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o644


def test_mnist_downloads_only_missing_file(mirror, tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()
    images = decompressed(mirror / TEST_FILES[0])
    (root / "t10k-images-idx3-ubyte").write_bytes(images)
    MNIST(root, split="test", mirrors=[mirror.as_uri()])
    assert sorted(p.name for p in root.iterdir()) == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte.gz",
    ]


def test_mnist_offline_error(tmp_path, monkeypatch, caplog):
    root = tmp_path / "mnist"
    unreachable = [
        (tmp_path / "offline-mirror").as_uri() + "/",
        (tmp_path / "second-mirror").as_uri() + "/",
    ]
    monkeypatch.setattr(MNIST, "mirrors", tuple(unreachable))
    with (
        caplog.at_level(logging.WARNING, logger="lunarlearn_data"),
        pytest.raises(DatasetNotFoundError) as info,
    ):
        MNIST(root, split="test")
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message
    assert "t10k-labels-idx1-ubyte" in message
    assert f"Place the files (gzip-compressed with a .gz suffix, or not) in {root}" in (
        message
    )
    assert "LUNARLEARN_DATA" in message
    for base in unreachable:
        assert message.count(base + "t10k-images-idx3-ubyte.gz: ") == 1
    assert message.count("Download failed from every mirror") == 1
    assert caplog.records == []
    assert isinstance(info.value.__cause__, OSError)
    assert not root.exists()


def test_mnist_failed_download_removes_new_dirs(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("LUNARLEARN_DATA", str(data))
    unreachable = (tmp_path / "offline-mirror").as_uri() + "/"
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(data / "mnist"))):
        MNIST(split="test", mirrors=[unreachable])
    assert list(tmp_path.iterdir()) == []


def test_mnist_failed_download_keeps_old_dir(tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()
    unreachable = (tmp_path / "offline-mirror").as_uri() + "/"
    with pytest.raises(DatasetNotFoundError):
        MNIST(root, split="test", mirrors=[unreachable])
    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_mnist_partial_download_keeps_file(mirror, tmp_path):
    (mirror / TEST_FILES[1]).unlink()
    root = tmp_path / "new" / "mnist"
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(root, split="test", mirrors=[mirror.as_uri()])
    assert "missing t10k-labels-idx1-ubyte in" in str(info.value)
    assert "t10k-images-idx3-ubyte," not in str(info.value)
    assert [path.name for path in root.iterdir()] == [TEST_FILES[0]]


def test_mnist_download_checksum_mismatch(mirror, tmp_path):
    images = bytearray(decompressed(mirror / TEST_FILES[0]))
    images[1000] ^= 0xFF
    (mirror / TEST_FILES[0]).write_bytes(gzip.compress(bytes(images)))
    root = tmp_path / "mnist"
    with pytest.raises(DatasetNotFoundError, match="sha256 mismatch") as info:
        MNIST(root, split="test", mirrors=[mirror.as_uri()])
    assert "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7" in str(
        info.value
    )
    assert not root.exists()


def test_mnist_local_checksum_mismatch(mirror, tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()
    labels = bytearray(decompressed(mirror / TEST_FILES[1]))
    labels[-1] = (labels[-1] + 1) % 10
    (root / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    shutil.copyfile(mirror / TEST_FILES[0], root / TEST_FILES[0])
    with pytest.raises(ChecksumError) as info:
        MNIST(root, split="test", download=False)
    message = str(info.value)
    assert "sha256 mismatch" in message
    assert str(root / "t10k-labels-idx1-ubyte") in message
    assert "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2" in message
    assert "Delete it" in message
    assert isinstance(info.value, ValueError)


def test_mnist_local_size_mismatch(mirror, tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()
    labels = decompressed(mirror / TEST_FILES[1])
    (root / "t10k-labels-idx1-ubyte").write_bytes(labels[:-10])
    shutil.copyfile(mirror / TEST_FILES[0], root / TEST_FILES[0])
    with pytest.raises(ChecksumError, match="9998 bytes after decompression.*10008"):
        MNIST(root, split="test", download=False)


@pytest.fixture(scope="module")
def train_like_root(tmp_path_factory):
    """Files shaped like the train split: the right sizes and IDX headers."""
    root = tmp_path_factory.mktemp("train")
    images = np.zeros((60_000, 28, 28), dtype=np.uint8)
    images[:, 14, 14] = 255
    header = b"\x00\x00\x08\x03" + np.array([60_000, 28, 28], ">u4").tobytes()
    (root / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(header + images.tobytes(), compresslevel=1)
    )
    labels = (np.arange(60_000) % 10).astype(np.uint8)
    header = b"\x00\x00\x08\x01" + np.array([60_000], ">u4").tobytes()
    (root / "train-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    return root


def test_mnist_train_split_checks(train_like_root):
    dataset = MNIST(train_like_root, download=False, flatten=True)
    assert len(dataset) == 60_000
    x, y = dataset[np.array([0, 59_999])]
    assert x.shape == (2, 784)
    assert x[:, 14 * 28 + 14].tolist() == [1.0, 1.0]
    assert x.sum() == 2.0
    assert y.tolist() == [0, 9]


def test_mnist_train_split_bad_header(train_like_root, tmp_path):
    root = tmp_path / "mnist"
    root.mkdir()
    shutil.copyfile(
        train_like_root / "train-images-idx3-ubyte.gz",
        root / "train-images-idx3-ubyte.gz",
    )
    labels = (train_like_root / "train-labels-idx1-ubyte").read_bytes()
    # Same size, but the header declares 59,999 labels.
    bad = labels[:4] + np.array([59_999], ">u4").tobytes() + labels[8:]
    (root / "train-labels-idx1-ubyte").write_bytes(bad)
    with pytest.raises(ChecksumError, match="IDX header 0x000008010000ea5f"):
        MNIST(root, split="train", download=False)


def test_mnist_rejects_arguments(tmp_path):
    with pytest.raises(ConfigError, match="'validation'.*'train', 'test'"):
        MNIST(tmp_path, split="validation")
    with pytest.raises(TypeError, match="mirrors"):
        MNIST(tmp_path, split="test", mirrors="file:///tmp/")
    with pytest.raises(TypeError, match="download"):
        MNIST(tmp_path, split="test", download="no")
    with pytest.raises(DatasetNotFoundError, match="No download mirrors"):
        MNIST(tmp_path, split="test", mirrors=[])


def test_data_home_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("LUNARLEARN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_home() == tmp_path / "data"
    monkeypatch.setenv("LUNARLEARN_DATA", "")
    assert data_home() == tmp_path / "cache" / "lunarlearn"
    monkeypatch.delenv("LUNARLEARN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".cache" / "lunarlearn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_home() == tmp_path / "home" / ".cache" / "lunarlearn"


def test_mnist_default_root_from_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("LUNARLEARN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    expected = re.escape(str(tmp_path / "cache" / "lunarlearn" / "mnist"))
    with pytest.raises(DatasetNotFoundError, match=expected):
        MNIST(split="test", download=False)
