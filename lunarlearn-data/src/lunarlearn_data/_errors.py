"""Exceptions raised by lunarlearn_data."""

from lunarlearn.errors import LunarLearnError

__all__ = [
    "ChecksumError",
    "DatasetNotFoundError",
    "IDXFormatError",
    "MissingDependencyError",
]


class DatasetNotFoundError(LunarLearnError, FileNotFoundError):
    """Dataset files are missing and could not be downloaded."""


class ChecksumError(LunarLearnError, ValueError):
    """A dataset file does not match its expected size, header or sha256."""


class IDXFormatError(LunarLearnError, ValueError):
    """A file is not a valid IDX file: bad magic number, truncated, wrong size."""


class MissingDependencyError(LunarLearnError, ImportError):
    """A dataset needs an optional package that is not installed."""
