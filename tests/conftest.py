"""Fixtures shared by the test folders of every distribution."""

import os
from pathlib import Path

import pytest

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _mnist_candidates():
    configured = os.environ.get("LUNARLEARN_DATA")
    if configured:
        yield Path(configured)
    # The project's machines keep the data folder beside the repository.
    yield Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def mnist_root():
    """A data directory whose mnist/ folder contains the MNIST test split.

    Tests that use it are skipped when no such directory exists.
    """
    for root in _mnist_candidates():
        if all((root / "mnist" / name).is_file() for name in MNIST_TEST_FILES):
            return root
    pytest.skip("MNIST test split not found; set LUNARLEARN_DATA to its data directory")
