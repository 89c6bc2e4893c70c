import math
import pickle
import zipfile

import numpy as np
import pytest

from lunarlearn.errors import ConfigError
from lunarlearn_data import (
    ArrayDataset,
    DataLoader,
    Dataset,
    DatasetNotFoundError,
    Subset,
    split_tail,
)


def make_arrays(count=10, classes=3):
    x = np.arange(count * 6, dtype=np.float32).reshape(count, 2, 3)
    y = np.arange(count, dtype=np.int64) % classes
    return x, y


def test_array_dataset_single_sample():
    x, y = make_arrays()
    dataset = ArrayDataset(x, y)
    sample, label = dataset[4]
    np.testing.assert_array_equal(sample, x[4])
    assert label == y[4]
    assert len(dataset) == 10
    assert dataset.sample_shape == (2, 3)
    assert dataset.num_classes == 3


def test_array_dataset_batch_index():
    x, y = make_arrays()
    dataset = ArrayDataset(x, y)
    indices = np.array([7, 0, -1, 3])
    batch_x, batch_y = dataset[indices]
    np.testing.assert_array_equal(batch_x, x[[7, 0, 9, 3]])
    np.testing.assert_array_equal(batch_y, y[[7, 0, 9, 3]])
    assert batch_x.dtype == np.float32
    assert batch_x.shape == (4, 2, 3)


def test_array_dataset_list_and_slice_index():
    x, y = make_arrays()
    dataset = ArrayDataset(x, y)
    np.testing.assert_array_equal(dataset[[1, 2]][0], x[1:3])
    np.testing.assert_array_equal(dataset[2:8:3][0], x[2:8:3])
    np.testing.assert_array_equal(dataset[2:8:3][1], y[2:8:3])


def test_array_dataset_empty_batch():
    x, y = make_arrays()
    batch_x, batch_y = ArrayDataset(x, y)[np.array([], dtype=np.int64)]
    assert batch_x.shape == (0, 2, 3)
    assert batch_y.shape == (0,)


def test_array_dataset_without_labels():
    x, _ = make_arrays()
    dataset = ArrayDataset(x)
    assert dataset[0][1] is None
    assert dataset[np.arange(3)][1] is None
    assert dataset.num_classes is None


def test_array_dataset_length_mismatch():
    x, y = make_arrays()
    with pytest.raises(
        ConfigError, match=r"same number of samples.*\(10, 2, 3\).*\(9,\)"
    ):
        ArrayDataset(x, y[:9])


def test_array_dataset_needs_data():
    with pytest.raises(ConfigError, match="path="):
        ArrayDataset()
    with pytest.raises(ConfigError, match="not both"):
        ArrayDataset(np.zeros(3), path="data.npz")
    with pytest.raises(ConfigError, match="0-d"):
        ArrayDataset(np.float32(1.0))


def test_array_dataset_num_classes():
    x, y = make_arrays()
    assert ArrayDataset(x, y, num_classes=5).num_classes == 5
    with pytest.raises(ConfigError, match=r"0 to 2, outside \[0, num_classes=2\)"):
        ArrayDataset(x, y, num_classes=2)
    with pytest.raises(TypeError, match="num_classes"):
        ArrayDataset(x, y, num_classes=2.5)
    float_targets = np.linspace(0, 1, 10)
    assert ArrayDataset(x, float_targets).num_classes is None


def test_array_dataset_npz_round_trip(tmp_path):
    x, y = make_arrays()
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y)
    dataset = ArrayDataset(path=path)
    np.testing.assert_array_equal(dataset[np.arange(10)][0], x)
    np.testing.assert_array_equal(dataset[np.arange(10)][1], y)
    assert dataset.path == path


def test_array_dataset_npz_without_labels(tmp_path):
    x, _ = make_arrays()
    np.savez(tmp_path / "x.npz", x=x)
    dataset = ArrayDataset(path=tmp_path / "x.npz")
    assert dataset.y is None
    assert dataset.num_classes is None
    assert dataset[0][1] is None
    assert dataset[np.arange(4)][1] is None
    np.testing.assert_array_equal(dataset[np.arange(4)][0], x[:4])


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_unlabelled_yields_none(tmp_path, prefetch):
    x, _ = make_arrays(count=7)
    np.savez(tmp_path / "x.npz", x=x)
    dataset = ArrayDataset(path=tmp_path / "x.npz")
    train, validation = split_tail(dataset, 0.3)
    cases = [(dataset, [3, 3, 1]), (train, [3, 1]), (validation, [3])]
    for data, sizes in cases:
        batches = list(DataLoader(data, 3, prefetch=prefetch))
        assert [len(batch_x) for batch_x, _ in batches] == sizes
        assert [batch_y for _, batch_y in batches] == [None] * len(sizes)


def test_array_dataset_npz_errors(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(DatasetNotFoundError, match="missing.npz"):
        ArrayDataset(path=missing)
    with pytest.raises(FileNotFoundError):
        ArrayDataset(path=missing)

    np.savez(tmp_path / "wrong.npz", images=np.zeros(3))
    with pytest.raises(ConfigError, match=r"no array 'x'.*\['images'\]"):
        ArrayDataset(path=tmp_path / "wrong.npz")

    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ConfigError, match="single array"):
        ArrayDataset(path=tmp_path / "single.npy")

    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "objects.npz", x=objects)
    with pytest.raises(ConfigError, match="Array 'x' .* has dtype object"):
        ArrayDataset(path=tmp_path / "objects.npz")

    np.savez(tmp_path / "none_labels.npz", x=np.zeros(3), y=None)
    with pytest.raises(ConfigError, match="Array 'y' .* leave 'y' out"):
        ArrayDataset(path=tmp_path / "none_labels.npz")

    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ConfigError, match="text.npz"):
        ArrayDataset(path=tmp_path / "text.npz")


def test_array_dataset_text_file_message(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("0.5 1.0 2.0\n1.5 0.0 3.0\n")
    with pytest.raises(ConfigError) as info:
        ArrayDataset(path=path)
    message = str(info.value)
    assert f"{path} is not a NumPy .npz archive" in message
    assert "array 'x' and optionally an array 'y'" in message
    assert "pickle" not in message


def test_array_dataset_directory_message(tmp_path):
    with pytest.raises(ConfigError) as info:
        ArrayDataset(path=tmp_path)
    message = str(info.value)
    assert f"{tmp_path} is a directory" in message
    assert ".npz archive" in message


class _TouchOnLoad:
    """Pickles to a call that creates ``marker`` when it is unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (self.marker.touch, ())


def test_array_dataset_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "data.npz"
    path.write_bytes(pickle.dumps(_TouchOnLoad(marker)))
    with pytest.raises(ConfigError, match="not a NumPy .npz archive") as info:
        ArrayDataset(path=path)
    assert not marker.exists()
    assert "pickle" not in str(info.value)


def test_array_dataset_damaged_archives(tmp_path):
    x, y = make_arrays()
    whole = tmp_path / "whole.npz"
    np.savez(whole, x=x, y=y)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole.read_bytes()[:40])
    with pytest.raises(ConfigError, match=r"truncated\.npz is not a valid \.npz"):
        ArrayDataset(path=truncated)

    not_npy = tmp_path / "raw.npz"
    with zipfile.ZipFile(not_npy, "w") as archive:
        archive.writestr("x.npy", b"raw bytes, not an .npy array")
    with pytest.raises(ConfigError, match="'x', but it is not a NumPy array"):
        ArrayDataset(path=not_npy)


def test_index_errors():
    dataset = ArrayDataset(*make_arrays())
    with pytest.raises(IndexError, match="10 is out of range.*length 10"):
        dataset[10]
    with pytest.raises(IndexError, match="-11"):
        dataset[-11]
    with pytest.raises(IndexError, match="12 in the batch"):
        dataset[np.array([0, 12])]
    with pytest.raises(TypeError, match="integer dtype"):
        dataset[np.array([0.0, 1.0])]
    with pytest.raises(TypeError, match="bool"):
        dataset[True]
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        dataset[np.zeros((2, 2), dtype=np.int64)]


def test_dataset_fetches_batch_in_one_call():
    class Counting(Dataset):
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 100

        def get_batch(self, indices):
            self.calls.append(indices.copy())
            return indices.astype(np.float32)[:, None], None

    dataset = Counting()
    x, y = dataset[np.array([5, -1, 7])]
    assert len(dataset.calls) == 1
    np.testing.assert_array_equal(dataset.calls[0], [5, 99, 7])
    assert dataset.calls[0].dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], [5, 99, 7])
    assert y is None


def test_subset_maps_indices():
    x, y = make_arrays()
    dataset = ArrayDataset(x, y)
    subset = Subset(dataset, np.array([9, 2, -2]))
    assert len(subset) == 3
    assert subset.num_classes == 3
    assert subset.sample_shape == (2, 3)
    np.testing.assert_array_equal(subset[np.arange(3)][0], x[[9, 2, 8]])
    np.testing.assert_array_equal(subset[1][0], x[2])
    assert subset[-1][1] == y[8]
    nested = Subset(subset, [2, 0])
    np.testing.assert_array_equal(nested[np.arange(2)][0], x[[8, 9]])


def test_subset_calls_get_batch_directly():
    class Counting(ArrayDataset):
        getitem_calls = 0

        def __getitem__(self, index):
            self.getitem_calls += 1
            return super().__getitem__(index)

    x, y = make_arrays()
    dataset = Counting(x, y)
    subset = Subset(dataset, np.array([9, 2, -2]))
    batch_x, batch_y = subset[np.array([2, 0])]
    np.testing.assert_array_equal(batch_x, x[[8, 9]])
    np.testing.assert_array_equal(batch_y, y[[8, 9]])
    assert dataset.getitem_calls == 0


def test_subset_of_sequence_pair_dataset():
    # A dataset that is not a Dataset subclass is indexed with [].
    class Pairs:
        def __len__(self):
            return 5

        def __getitem__(self, indices):
            return np.asarray(indices) * 10, np.asarray(indices)

    batch_x, batch_y = Subset(Pairs(), [4, 1])[np.array([1, 0])]
    np.testing.assert_array_equal(batch_x, [10, 40])
    np.testing.assert_array_equal(batch_y, [1, 4])


def test_subset_rejects_bad_indices():
    dataset = ArrayDataset(*make_arrays())
    with pytest.raises(IndexError, match="10"):
        Subset(dataset, np.array([0, 10]))
    with pytest.raises(TypeError, match="single index 3"):
        Subset(dataset, 3)
    with pytest.raises(TypeError, match="__len__"):
        Subset(object(), [0])


def test_split_tail_keras_convention():
    x = np.arange(10_000, dtype=np.float32)[:, None]
    dataset = ArrayDataset(x, np.arange(10_000) % 10)
    train, validation = split_tail(dataset, 0.2)
    assert len(train) == 8_000
    assert len(validation) == 2_000
    np.testing.assert_array_equal(train.indices, np.arange(8_000))
    np.testing.assert_array_equal(validation.indices, np.arange(8_000, 10_000))
    np.testing.assert_array_equal(train[np.arange(8_000)][0], x[:8_000])
    np.testing.assert_array_equal(validation[np.arange(2_000)][0], x[8_000:])
    assert validation.num_classes == 10


def test_split_tail_rounding():
    dataset = ArrayDataset(np.zeros((100, 1)))
    # 100 * 0.07 is 7.000000000000001 in float64.
    assert math.ceil(100 * 0.07) == 8
    assert len(split_tail(dataset, 0.07)[1]) == 7
    assert len(split_tail(dataset, 0.333)[1]) == 34
    small = ArrayDataset(np.zeros((10, 1)))
    assert [len(part) for part in split_tail(small, 0.9)] == [1, 9]


@pytest.mark.parametrize("fraction", [0, 1, 1.0, -0.2, 1.5, float("nan")])
def test_split_tail_rejects_fraction(fraction):
    dataset = ArrayDataset(np.zeros((10, 1)))
    with pytest.raises(ConfigError, match=r"\(0, 1\).*fraction="):
        split_tail(dataset, fraction)


def test_split_tail_rejects_type_and_tiny():
    dataset = ArrayDataset(np.zeros((10, 1)))
    with pytest.raises(TypeError, match="fraction"):
        split_tail(dataset, "0.2")
    with pytest.raises(TypeError, match="fraction"):
        split_tail(dataset, True)
    with pytest.raises(ConfigError, match="0 training and 1 validation"):
        split_tail(ArrayDataset(np.zeros((1, 1))), 0.5)
