"""The MNIST handwritten digits, read from IDX files with checksum checks."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lunarlearn.errors import ConfigError
from lunarlearn.io import atomic_path

from ._checks import check_bool
from ._errors import ChecksumError, DatasetNotFoundError, IDXFormatError
from ._idx import GZIP_MAGIC, IDXDataset, parse_idx, read_idx_bytes
from ._paths import data_home

__all__ = ["MNIST"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MNISTFile:
    """Expected contents of one MNIST file, after decompression."""

    name: str
    size: int
    header: bytes
    sha256: str | None


def _idx_header(code: int, *shape: int) -> bytes:
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


# NOTE: the sha256 of the decompressed training files is not recorded here, so
# the train split is checked only by decompressed size and IDX header.
MNIST_FILES: dict[str, tuple[MNISTFile, MNISTFile]] = {
    "train": (
        MNISTFile(
            "train-images-idx3-ubyte",
            16 + 60_000 * 28 * 28,
            _idx_header(0x08, 60_000, 28, 28),
            None,
        ),
        MNISTFile(
            "train-labels-idx1-ubyte",
            8 + 60_000,
            _idx_header(0x08, 60_000),
            None,
        ),
    ),
    "test": (
        MNISTFile(
            "t10k-images-idx3-ubyte",
            16 + 10_000 * 28 * 28,
            _idx_header(0x08, 10_000, 28, 28),
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        MNISTFile(
            "t10k-labels-idx1-ubyte",
            8 + 10_000,
            _idx_header(0x08, 10_000),
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
}


def verify_mnist_bytes(data: bytes, spec: MNISTFile, source: str) -> None:
    """Check decompressed bytes against the expected size, header and sha256.

    The checksum covers the decompressed bytes because mirrors compress the
    same IDX data with different gzip headers.
    """
    if len(data) != spec.size:
        raise ChecksumError(
            f"{source} has {len(data)} bytes after decompression, but the MNIST "
            f"file {spec.name} has {spec.size}"
        )
    if data[: len(spec.header)] != spec.header:
        raise ChecksumError(
            f"{source} starts with IDX header 0x{data[: len(spec.header)].hex()}, "
            f"but the MNIST file {spec.name} starts with 0x{spec.header.hex()}"
        )
    if spec.sha256 is None:
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ChecksumError(
            f"sha256 mismatch for {source}: the decompressed data hashes to "
            f"{digest}, but the MNIST file {spec.name} hashes to {spec.sha256}"
        )


class MNIST(IDXDataset):
    """The MNIST handwritten digits: 28x28 grey images of the digits 0 to 9.

    The train split has 60,000 images and the test split 10,000. The dataset
    reads the original IDX files, gzip-compressed or not, from ``root``:
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each with or
    without a ``.gz`` suffix. Each file is checked after decompression against
    its size, its IDX header and, where recorded, its sha256.

    Args:
        root: Directory of the files. Defaults to ``data_home() / "mnist"``,
            that is ``$LUNARLEARN_DATA/mnist`` or the user cache directory.
        split: "train" or "test".
        download: Download missing files from ``mirrors`` into ``root``.
        flatten: Give samples of shape (784,) instead of (1, 28, 28).
        normalize: Scale pixels to float32 in [0, 1] instead of 0 to 255.
        mirrors: Base URLs to try in order, overriding the class attribute.

    Raises:
        DatasetNotFoundError: files are missing and downloading is off or
            failed on every mirror.
        ChecksumError: a local file differs from the official one.
    """

    #: Base URLs, tried in order. Each serves the four files with a ".gz" suffix.
    # NOTE: no test downloads from these URLs, so whether each still serves
    # the files is unverified.
    mirrors: tuple[str, ...] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    #: Seconds to wait for a mirror to connect or send data.
    timeout: float = 30.0

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        split: str = "train",
        download: bool = True,
        flatten: bool = False,
        normalize: bool = True,
        mirrors: list[str] | tuple[str, ...] | None = None,
    ):
        check_bool(download, "download")
        check_bool(flatten, "flatten")
        check_bool(normalize, "normalize")
        if not isinstance(split, str) or split not in MNIST_FILES:
            raise ConfigError(
                f"Invalid MNIST split: {split!r}. Accepted: 'train', 'test'"
            )
        if mirrors is not None:
            if isinstance(mirrors, str) or not all(
                isinstance(url, str) for url in mirrors
            ):
                raise TypeError(
                    "Invalid `mirrors`: expected a list of base URL strings. "
                    f"Received: {mirrors!r}"
                )
            self.mirrors = tuple(mirrors)
        self.split = split
        self.root = (
            Path(root).expanduser() if root is not None else data_home() / "mnist"
        )

        specs = MNIST_FILES[split]
        missing = [spec for spec in specs if self._find(spec) is None]
        if missing and not download:
            raise DatasetNotFoundError(
                self._missing_message(missing, "Downloading is off (download=False).")
            )
        if missing:
            self._download(missing)

        self.files = tuple(self._find(spec) for spec in specs)
        images = self._read_verified(self.files[0], specs[0])
        labels = self._read_verified(self.files[1], specs[1])
        super().__init__(images, labels, normalize=normalize, flatten=flatten)
        self.num_classes = 10

    def __repr__(self) -> str:
        return f"MNIST(root={str(self.root)!r}, split={self.split!r}, len={len(self)})"

    def _find(self, spec: MNISTFile) -> Path | None:
        """Return the path of ``spec`` in ``root``, decompressed name first."""
        for name in (spec.name, spec.name + ".gz"):
            path = self.root / name
            if path.is_file():
                return path
        return None

    def _read_verified(self, path: Path, spec: MNISTFile):
        data = read_idx_bytes(path)
        try:
            verify_mnist_bytes(data, spec, str(path))
        except ChecksumError as exc:
            raise ChecksumError(
                f"{exc}. The file is damaged or is not the official MNIST file. "
                "Delete it and load again with download=True, or replace it"
            ) from None
        return parse_idx(data, str(path))

    def _missing_message(
        self, missing: list[MNISTFile], reason: str, errors: tuple[str, ...] = ()
    ) -> str:
        """Build the error for files that are missing, with ``errors`` as lines."""
        names = ", ".join(spec.name for spec in missing)
        details = "".join(f"\n  {line}" for line in errors)
        separator = "\n" if errors else " "
        return (
            f"MNIST {self.split} split: missing {names} in {self.root}. "
            f"{reason}{details}{separator}"
            f"Place the files (gzip-compressed with a .gz suffix, or not) in "
            f"{self.root}, pass root= to the directory that holds them, or set "
            "LUNARLEARN_DATA to a directory whose mnist/ subdirectory holds them."
        )

    def _download(self, missing: list[MNISTFile]) -> None:
        """Fetch each missing file from the first mirror that serves it intact.

        When a download fails, the directories that this call created are
        removed again if nothing was saved in them.
        """
        if not self.mirrors:
            raise DatasetNotFoundError(
                self._missing_message(missing, "No download mirrors are configured.")
            )
        created = _missing_directories(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            for position, spec in enumerate(missing):
                self._download_file(spec, missing[position:])
        except BaseException:
            _remove_empty_directories(created)
            raise

    def _download_file(self, spec: MNISTFile, remaining: list[MNISTFile]) -> None:
        """Fetch ``spec`` from the first mirror that serves it intact.

        A mirror's error is logged as a warning when a later mirror serves the
        file. When every mirror fails, the raised error lists each mirror's
        error instead, so each failure is reported once.
        """
        failures: list[tuple[str, Exception]] = []
        for base in self.mirrors:
            url = base.rstrip("/") + "/" + spec.name + ".gz"
            try:
                self._fetch(url, spec)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                failures.append((url, exc))
                continue
            for failed_url, error in failures:
                logger.warning(
                    "Download of %s failed: %s. The file was downloaded from %s",
                    failed_url,
                    error,
                    url,
                )
            return
        raise DatasetNotFoundError(
            self._missing_message(
                remaining,
                "Download failed from every mirror:",
                tuple(f"{url}: {error}" for url, error in failures),
            )
        ) from failures[-1][1]

    def _fetch(self, url: str, spec: MNISTFile) -> Path:
        """Download ``url`` to a temporary file, verify it, then move it in place.

        A file that fails verification is deleted.
        """
        logger.info("Downloading %s to %s", url, self.root)
        with urllib.request.urlopen(url, timeout=self.timeout) as response:
            # The first bytes show whether the mirror sent gzip data, which
            # decides the file name.
            head = response.read(len(GZIP_MAGIC))
            compressed = head == GZIP_MAGIC
            target = self.root / (spec.name + (".gz" if compressed else ""))
            with atomic_path(target) as temporary:
                with open(temporary, "wb") as file:
                    file.write(head)
                    shutil.copyfileobj(response, file)
                try:
                    data = read_idx_bytes(temporary)
                except IDXFormatError as exc:
                    raise ChecksumError(f"{url}: {exc}") from None
                verify_mnist_bytes(data, spec, url)
        return target


def _missing_directories(path: Path) -> list[Path]:
    """Return ``path`` and those of its parents that do not exist, deepest first."""
    missing = []
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty_directories(directories: list[Path]) -> None:
    """Remove each directory, deepest first, and stop at the first non-empty one."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return
