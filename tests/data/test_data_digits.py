import sys

import numpy as np
import pytest

from lunarlearn.errors import LunarLearnError
from lunarlearn_data import DataLoader, Digits, MissingDependencyError

sklearn_datasets = pytest.importorskip("sklearn.datasets")


def test_digits_flat_normalized():
    dataset = Digits()
    reference = sklearn_datasets.load_digits()
    x, y = dataset[np.arange(len(dataset))]
    assert len(dataset) == 1797
    assert x.shape == (1797, 64)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert dataset.sample_shape == (64,)
    assert dataset.num_classes == 10
    assert x.min() == 0.0
    assert x.max() == 1.0
    np.testing.assert_array_equal(x * 16, reference.data)
    np.testing.assert_array_equal(y, reference.target)
    counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.bincount(y).tolist() == counts


def test_digits_images_raw():
    dataset = Digits(flatten=False, normalize=False)
    reference = sklearn_datasets.load_digits()
    x, y = dataset[np.array([0, 1796])]
    assert x.shape == (2, 1, 8, 8)
    assert x.dtype == np.float32
    assert x.max() == 16.0
    np.testing.assert_array_equal(x[:, 0], reference.images[[0, 1796]])
    assert y.tolist() == [reference.target[0], reference.target[1796]]
    assert dataset.sample_shape == (1, 8, 8)


def test_digits_batches_stay_float32():
    batches = list(DataLoader(Digits(), 500, shuffle=True, seed=0))
    assert [len(y) for _, y in batches] == [500, 500, 500, 297]
    assert all(x.dtype == np.float32 for x, _ in batches)


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError) as info:
        Digits()
    assert isinstance(info.value, MissingDependencyError)
    assert isinstance(info.value, LunarLearnError)
    assert info.value.name == "sklearn"
    assert "pip install 'lunarlearn-data[digits]'" in str(info.value)


def test_digits_rejects_arguments():
    with pytest.raises(TypeError, match="flatten"):
        Digits(flatten="yes")
