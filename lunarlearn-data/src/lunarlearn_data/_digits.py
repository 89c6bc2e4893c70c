"""scikit-learn's bundled 8x8 handwritten digits."""

import numpy as np

from ._checks import check_bool
from ._dataset import ArrayDataset
from ._errors import MissingDependencyError

__all__ = ["Digits"]


class Digits(ArrayDataset):
    """The 1,797 8x8 handwritten digits bundled with scikit-learn.

    The data ships inside scikit-learn, so it needs no download. Pixels are
    integers from 0 to 16, and labels are the digits 0 to 9.

    Args:
        flatten: Give samples of shape (64,) instead of (1, 8, 8).
        normalize: Scale pixels to [0, 1] by dividing by 16.

    Samples are float32 and labels int64.

    Raises:
        MissingDependencyError: scikit-learn is not installed. It is an
            ImportError and a LunarLearnError.
    """

    def __init__(self, *, flatten: bool = True, normalize: bool = True):
        check_bool(flatten, "flatten")
        check_bool(normalize, "normalize")
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise MissingDependencyError(
                "The Digits dataset needs scikit-learn, which is not installed. "
                "Install it with: pip install 'lunarlearn-data[digits]'",
                name="sklearn",
            ) from exc

        bunch = load_digits()
        images = bunch.images.astype(np.float32)
        if normalize:
            images /= np.float32(16.0)
        count = len(images)
        x = images.reshape(count, 64) if flatten else images.reshape(count, 1, 8, 8)
        super().__init__(x, bunch.target.astype(np.int64), num_classes=10)
        self.flatten = flatten
        self.normalize = normalize
