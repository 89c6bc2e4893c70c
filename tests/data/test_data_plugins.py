import importlib
import importlib.metadata
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import lunarlearn_data
from lunarlearn_data import MNIST, ArrayDataset, Dataset, Digits, IDXDataset

PYPROJECT = Path(__file__).resolve().parents[2] / "lunarlearn-data" / "pyproject.toml"
EXPECTED = {"array": ArrayDataset, "idx": IDXDataset, "mnist": MNIST, "digits": Digits}


def load(value):
    module_name, _, attribute = value.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def test_pyproject_dataset_entry_points():
    config = tomllib.loads(PYPROJECT.read_text())
    entry_points = config["project"]["entry-points"]["lunarlearn.datasets"]
    assert {name: load(value) for name, value in entry_points.items()} == EXPECTED
    assert config["project"]["optional-dependencies"]["digits"] == ["scikit-learn>=1.0"]


def test_installed_dataset_entry_points():
    try:
        importlib.metadata.distribution("lunarlearn-data")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("lunarlearn-data is not installed")
    found = importlib.metadata.entry_points(group="lunarlearn.datasets")
    loaded = {ep.name: ep.load() for ep in found if ep.dist.name == "lunarlearn-data"}
    assert loaded == EXPECTED


def test_public_names_exported():
    for name in lunarlearn_data.__all__:
        assert hasattr(lunarlearn_data, name)
    for cls in EXPECTED.values():
        assert issubclass(cls, Dataset)
