"""IDX file format (the format of the MNIST files): reader, writer and dataset."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from lunarlearn.errors import ConfigError
from lunarlearn.io import atomic_path

from ._checks import check_bool
from ._dataset import Dataset
from ._errors import DatasetNotFoundError, IDXFormatError

__all__ = ["IDX_DTYPES", "IDXDataset", "read_idx", "write_idx"]

GZIP_MAGIC = b"\x1f\x8b"

#: IDX data-type codes (the third byte of the magic number) and the big-endian
#: dtypes they stand for.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """Return the contents of an IDX file, decompressed when it is gzip data.

    Gzip is detected from the first two bytes, whatever the file suffix.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{path} is a directory, but an IDX file is expected here: a file "
            "such as train-images-idx3-ubyte, raw or gzip-compressed"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetNotFoundError(
            f"IDX file not found: {path}. Expected an IDX file, raw or gzip-compressed"
        ) from None
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise IDXFormatError(
            f"Cannot decompress {path}: the gzip data is damaged or truncated ({exc})"
        ) from exc


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Parse decompressed IDX bytes into a native-byte-order array.

    ``source`` names the file in error messages.
    """
    if len(data) < 4:
        raise IDXFormatError(
            f"IDX file {source} is truncated: it has {len(data)} bytes, fewer than "
            "the 4-byte magic number"
        )
    code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or code not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXFormatError(
            f"{source} is not an IDX file: bad magic number 0x{data[:4].hex()}. "
            f"Expected two zero bytes, a data-type code ({codes}) and the "
            "number of dimensions"
        )
    if ndim == 0:
        raise IDXFormatError(
            f"Invalid IDX file {source}: its magic number declares 0 dimensions"
        )

    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXFormatError(
            f"IDX file {source} is truncated: it has {len(data)} bytes, fewer than "
            f"the {header_size}-byte header for {ndim} dimensions"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = IDX_DTYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    actual = len(data) - header_size
    if actual < expected:
        raise IDXFormatError(
            f"IDX file {source} is truncated: its header declares shape {shape} "
            f"of {dtype.name} ({expected} data bytes), but it has {actual}"
        )
    if actual > expected:
        raise IDXFormatError(
            f"IDX file {source} has {actual - expected} bytes more than its header "
            f"declares: shape {shape} of {dtype.name} is {expected} data bytes, "
            f"but it has {actual}"
        )
    array = np.frombuffer(data, dtype, count, offset=header_size).reshape(shape)
    # The copy is writable and in native byte order.
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, into a NumPy array.

    The data-type code in the magic number picks the dtype: 0x08 uint8,
    0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64. The
    dimensions are big-endian uint32 values after the magic number.

    Raises:
        DatasetNotFoundError: ``path`` does not exist.
        ConfigError: ``path`` is a directory.
        IDXFormatError: bad magic number, truncated file, damaged gzip data, or
            a data size that differs from the one the header declares.
    """
    return parse_idx(read_idx_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array, *, compress: bool | None = None) -> Path:
    """Write ``array`` to ``path`` as an IDX file and return the path.

    Args:
        path: Destination. The file is written to a temporary name in the
            same directory and then renamed, so readers never see half a file.
            It gets the permissions that ``open`` would give it, and a
            missing parent directory is created.
        array: An array of uint8, int8, int16, int32, float32 or float64 with
            1 to 255 dimensions.
        compress: Gzip the file. None gzips when ``path`` ends with ".gz".
    """
    path = Path(path)
    array = np.asarray(array)
    if compress is None:
        compress = path.suffix == ".gz"
    check_bool(compress, "compress")

    code = next(
        (c for c, dt in IDX_DTYPES.items() if dt == array.dtype.newbyteorder(">")),
        None,
    )
    if code is None:
        names = ", ".join(dt.name for dt in IDX_DTYPES.values())
        raise ConfigError(
            f"IDX cannot store dtype {array.dtype}. Accepted dtypes: {names}"
        )
    if not 1 <= array.ndim <= 255:
        raise ConfigError(
            f"IDX stores arrays with 1 to 255 dimensions. Received: {array.ndim}"
        )
    if max(array.shape) > 0xFFFF_FFFF:
        raise ConfigError(f"IDX dimensions are uint32. Received: shape {array.shape}")

    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    data = header + array.astype(IDX_DTYPES[code]).tobytes()
    if compress:
        data = gzip.compress(data, mtime=0)

    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def _as_array(source, role: str) -> tuple[np.ndarray, str]:
    """Return the array from an IDX path or an array, and a name for messages."""
    if isinstance(source, np.ndarray):
        return source, f"the {role} array"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"Invalid `{role}`: expected a path to an IDX file or an array. "
            f"Received: {type(source).__name__}"
        )
    return read_idx(source), str(source)


class IDXDataset(Dataset):
    """Image classification dataset from an IDX image file and an IDX label file.

    Args:
        images: Path to an IDX file of shape (count, height, width), or such
            an array.
        labels: Path to an IDX file of shape (count,) with non-negative
            integer class labels, or such an array.
        normalize: Scale uint8 pixels to float32 in [0, 1] (divide by 255).
            Only uint8 images can be normalized.
        flatten: Give samples of shape (height * width,) instead of
            (1, height, width).

    Samples are float32 whatever the file's dtype: float64 pixels are
    rounded to float32. Labels are int64. ``num_classes`` is ``max(labels) + 1``.
    """

    def __init__(
        self, images, labels, *, normalize: bool = True, flatten: bool = False
    ):
        self.normalize = check_bool(normalize, "normalize")
        self.flatten = check_bool(flatten, "flatten")
        images, images_source = _as_array(images, "images")
        labels, labels_source = _as_array(labels, "labels")

        if images.ndim != 3:
            raise ConfigError(
                "IDX images must have shape (count, height, width). "
                f"Received: shape {images.shape} from {images_source}"
            )
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ConfigError(
                "IDX labels must be a 1-D integer array. Received: shape "
                f"{labels.shape}, dtype {labels.dtype} from {labels_source}"
            )
        if len(images) != len(labels):
            raise ConfigError(
                f"Image and label counts differ: {len(images)} images in "
                f"{images_source}, {len(labels)} labels in {labels_source}"
            )
        if labels.size and int(labels.min()) < 0:
            raise ConfigError(
                f"IDX labels must be non-negative class indices. Received: "
                f"{int(labels.min())} in {labels_source}"
            )
        if normalize and images.dtype != np.uint8:
            raise ConfigError(
                "normalize=True scales uint8 pixels by 1/255, but the images in "
                f"{images_source} have dtype {images.dtype}. Pass normalize=False"
            )

        count, height, width = images.shape
        if flatten:
            self.images = images.reshape(count, height * width)
        else:
            self.images = images.reshape(count, 1, height, width)
        self.labels = labels.astype(np.int64)
        self.sample_shape = self.images.shape[1:]
        self.num_classes = int(labels.max()) + 1 if labels.size else None

    def __len__(self) -> int:
        return len(self.labels)

    def get_batch(self, indices):
        x = self.images[indices].astype(np.float32)
        if self.normalize:
            x /= np.float32(255.0)
        return x, self.labels[indices]
