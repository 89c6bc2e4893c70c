"""Dataset base class, in-memory array datasets, subsets and tail splits."""

from __future__ import annotations

import math
import numbers
import os
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from lunarlearn.errors import ConfigError

from ._errors import DatasetNotFoundError

__all__ = ["ArrayDataset", "Dataset", "Subset", "split_tail"]


def normalize_index(index, length: int) -> tuple[np.ndarray, bool]:
    """Convert a dataset index to a 1-D int64 array of non-negative positions.

    Accepts an int, a slice, or a 1-D integer array or sequence. Negative
    positions count from the end, as in NumPy. Returns the positions and whether
    ``index`` named a single sample (an int) rather than a batch.
    """
    if isinstance(index, (bool, np.bool_)):
        raise TypeError(
            f"Invalid dataset index: a bool is not a position. Received: {index!r}"
        )
    if isinstance(index, numbers.Integral):
        position = int(index)
        if not -length <= position < length:
            raise IndexError(
                f"Dataset index {position} is out of range for a dataset of "
                f"length {length}"
            )
        return np.array([position % length], dtype=np.int64), True
    if isinstance(index, slice):
        return np.arange(length, dtype=np.int64)[index], False

    positions = np.asarray(index)
    if positions.ndim != 1:
        raise ValueError(
            "Invalid dataset index: a batch index must be a 1-D integer array. "
            f"Received: an array of shape {positions.shape}"
        )
    if positions.size == 0:
        return positions.astype(np.int64), False
    if not np.issubdtype(positions.dtype, np.integer):
        raise TypeError(
            "Invalid dataset index: a batch index must have an integer dtype. "
            f"Received: dtype {positions.dtype}"
        )
    lowest = int(positions.min())
    highest = int(positions.max())
    if lowest < -length or highest >= length:
        bad = lowest if lowest < -length else highest
        raise IndexError(
            f"Dataset index {bad} in the batch is out of range for a dataset of "
            f"length {length}"
        )
    positions = positions.astype(np.int64, copy=False)
    if lowest < 0:
        positions = np.where(positions < 0, positions + length, positions)
    return positions, False


class Dataset(ABC):
    """Map-style dataset of ``(x, y)`` samples, fetched one at a time or in batches.

    ``dataset[i]`` with an int returns one sample ``(x, y)``. ``dataset[indices]``
    with a 1-D integer array (or a slice) returns a batch: ``x`` with shape
    ``(len(indices), *sample_shape)`` and ``y`` with ``len(indices)`` rows. ``y``
    is None for a dataset without labels.

    Subclasses implement ``__len__`` and ``get_batch``. ``__getitem__`` checks
    the index and calls ``get_batch`` once per batch, so ``get_batch`` should
    gather with NumPy fancy indexing instead of a loop over samples.
    """

    #: Number of label classes, or None for unlabelled or non-class targets.
    num_classes: int | None = None
    #: Shape of one sample ``x``, without the batch axis; None when unknown.
    sample_shape: tuple[int, ...] | None = None

    @abstractmethod
    def __len__(self) -> int:
        """Return the number of samples."""

    @abstractmethod
    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the samples at ``indices`` as batched arrays ``(x, y)``.

        ``indices`` is a 1-D int64 array of positions that ``__getitem__`` has
        already checked to lie in ``[0, len(self))``.
        """

    def __getitem__(self, index):
        positions, single = normalize_index(index, len(self))
        x, y = self.get_batch(positions)
        if single:
            return x[0], (None if y is None else y[0])
        return x, y

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(len={len(self)}, "
            f"sample_shape={self.sample_shape}, num_classes={self.num_classes})"
        )


def _check_num_classes(num_classes, y: np.ndarray | None) -> int | None:
    """Validate a given class count against the labels, or infer it from them.

    The count is inferred as ``max(y) + 1`` for non-empty 1-D integer labels
    that are all non-negative, and is None otherwise.
    """
    is_class_labels = (
        y is not None
        and y.ndim == 1
        and y.size > 0
        and np.issubdtype(y.dtype, np.integer)
    )
    if num_classes is None:
        if is_class_labels and int(y.min()) >= 0:
            return int(y.max()) + 1
        return None

    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(
            f"Invalid `num_classes`: expected an int. Received: {num_classes!r}"
        )
    if num_classes < 1:
        raise ConfigError(
            f"Invalid `num_classes`: expected an int >= 1. Received: {num_classes}"
        )
    if is_class_labels:
        lowest, highest = int(y.min()), int(y.max())
        if lowest < 0 or highest >= num_classes:
            raise ConfigError(
                f"Labels range from {lowest} to {highest}, outside "
                f"[0, num_classes={num_classes})"
            )
    return int(num_classes)


# An .npz archive is a zip file, which starts with a local file header, or with
# the end-of-directory record when it contains no arrays. An .npy file starts with
# its own magic string.
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
_NPZ_EXPECTED = (
    "ArrayDataset(path=...) expects a NumPy .npz archive with an array 'x' and "
    "optionally an array 'y', as written by np.savez(path, x=x, y=y)"
)


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read arrays ``x`` and optional ``y`` from an .npz archive, without pickle.

    The file's first bytes are checked before NumPy reads it, because
    ``np.load`` treats any file that is neither .npy nor .npz as a pickle.
    """
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a file. {_NPZ_EXPECTED}")
    if not path.is_file():
        raise DatasetNotFoundError(f"Array file not found: {path}. {_NPZ_EXPECTED}")
    with open(path, "rb") as file:
        magic = file.read(len(_NPY_MAGIC))
    if magic == _NPY_MAGIC:
        raise ConfigError(
            f"{path} is an .npy file with a single array, not an .npz archive. "
            "Save x and y together with np.savez(path, x=x, y=y)"
        )
    if magic[:4] not in _ZIP_SIGNATURES:
        raise ConfigError(f"{path} is not a NumPy .npz archive. {_NPZ_EXPECTED}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{path} is not a valid .npz archive: {exc}. {_NPZ_EXPECTED}"
        ) from exc

    with archive:
        if "x" not in archive.files:
            raise ConfigError(
                f"{path} has no array 'x'. Found: {sorted(archive.files)}. "
                f"{_NPZ_EXPECTED}"
            )
        x = _read_npz_array(archive, "x", path)
        y = _read_npz_array(archive, "y", path) if "y" in archive.files else None
    return x, y


def _read_npz_array(archive, key: str, path: Path) -> np.ndarray:
    """Return array ``key`` of an open .npz archive, rejecting object arrays."""
    try:
        value = archive[key]
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
        if _stores_objects(archive, key):
            hint = " or leave 'y' out for data without labels" if key == "y" else ""
            raise ConfigError(
                f"Array '{key}' in {path} has dtype object. ArrayDataset reads "
                "numeric arrays only, because restoring objects runs pickle. "
                f"Save a numeric array{hint}"
            ) from exc
        raise ConfigError(f"Cannot read array '{key}' from {path}: {exc}") from exc
    if not isinstance(value, np.ndarray):
        raise ConfigError(
            f"{path} contains '{key}', but it is not a NumPy array (.npy) member. "
            f"{_NPZ_EXPECTED}"
        )
    return value


def _stores_objects(archive, key: str) -> bool:
    """Return whether the header of .npy member ``key`` declares an object dtype."""
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    try:
        with archive.zip.open(key + ".npy") as member:
            version = np.lib.format.read_magic(member)
            if version not in read_header:
                return False
            _, _, dtype = read_header[version](member)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile):
        return False
    return dtype.hasobject


class ArrayDataset(Dataset):
    """Dataset over in-memory arrays ``x`` and optional labels ``y``.

    Args:
        x: Samples, with the sample axis first. Not needed with ``path``.
        y: Labels or targets with the same length as ``x``, or None.
        path: An .npz archive with array ``x`` and optional array ``y``, as
            written by ``np.savez(path, x=x, y=y)``. Other arrays in it are
            ignored. It is read with ``allow_pickle=False``.
        num_classes: Number of classes. Inferred as ``max(y) + 1`` when None
            and ``y`` contains non-negative integer class labels.

    The arrays keep their dtype, so pass float32 samples to train in float32.
    """

    def __init__(self, x=None, y=None, *, path=None, num_classes=None):
        if path is not None:
            if x is not None or y is not None:
                raise ConfigError(
                    "ArrayDataset takes arrays (x, y) or path=, not both. "
                    f"Received: path={os.fspath(path)!r} and arrays"
                )
            self.path = Path(path).expanduser()
            x, y = _load_npz(self.path)
        elif x is None:
            raise ConfigError(
                "ArrayDataset needs samples: pass arrays x (and y), or path= an "
                ".npz archive with arrays 'x' and 'y'"
            )
        else:
            self.path = None

        x = np.asarray(x)
        if x.ndim == 0:
            raise ConfigError(
                "Invalid `x`: expected an array with the sample axis first. "
                f"Received: a 0-d array {x!r}"
            )
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 0 or len(y) != len(x):
                raise ConfigError(
                    "x and y must have the same number of samples. Received: x "
                    f"with shape {x.shape}, y with shape {y.shape}"
                )

        self.x = x
        self.y = y
        self.sample_shape = x.shape[1:]
        self.num_classes = _check_num_classes(num_classes, y)

    def __len__(self) -> int:
        return len(self.x)

    def get_batch(self, indices):
        y = None if self.y is None else self.y[indices]
        return self.x[indices], y


class Subset(Dataset):
    """View of ``dataset`` restricted to ``indices``, in that order.

    ``indices`` is a 1-D integer array or a slice, and negative positions count
    from the end. Samples are fetched from ``dataset`` on access, not copied.
    """

    def __init__(self, dataset, indices):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "Subset needs a dataset with __len__ and __getitem__. "
                f"Received: {type(dataset).__name__}"
            )
        if isinstance(indices, numbers.Integral):
            raise TypeError(
                "Invalid `indices`: expected a 1-D integer array or a slice. "
                f"Received: the single index {indices!r}"
            )
        self.dataset = dataset
        self.indices, _ = normalize_index(indices, len(dataset))
        self.num_classes = getattr(dataset, "num_classes", None)
        self.sample_shape = getattr(dataset, "sample_shape", None)

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices):
        positions = self.indices[indices]
        if isinstance(self.dataset, Dataset):
            # The positions were checked against the dataset's length when the
            # subset was built, so __getitem__'s checks would be repeated work.
            return self.dataset.get_batch(positions)
        return self.dataset[positions]


def split_tail(dataset, fraction: float) -> tuple[Subset, Subset]:
    """Split ``dataset`` into ``(train, validation)`` with validation at the end.

    The validation part is the last ``ceil(len(dataset) * fraction)`` samples
    and the training part is everything before them, without shuffling, as
    Keras' ``validation_split`` does. A 0.2 split of 10,000 samples gives
    samples 0-7999 for training and 8000-9999 for validation.

    Raises:
        ConfigError: ``fraction`` is not in the open interval (0, 1), or
            either part would be empty.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(
            "Invalid `fraction`: expected a number in (0, 1). "
            f"Received: fraction={fraction!r}"
        )
    if not 0.0 < fraction < 1.0:
        raise ConfigError(
            "Invalid `fraction`: expected a number in (0, 1), exclusive. "
            f"Received: fraction={fraction}"
        )

    length = len(dataset)
    # Rounding first keeps float noise from adding a sample: 100 * 0.07 is
    # 7.000000000000001 in float64, and its ceiling would be 8.
    num_validation = math.ceil(round(length * float(fraction), 6))
    num_train = length - num_validation
    if num_train < 1 or num_validation < 1:
        raise ConfigError(
            f"split_tail(fraction={fraction}) of a dataset of length {length} gives "
            f"{num_train} training and {num_validation} validation samples, but "
            "both parts need at least one sample"
        )
    train = Subset(dataset, np.arange(num_train))
    validation = Subset(dataset, np.arange(num_train, length))
    return train, validation
