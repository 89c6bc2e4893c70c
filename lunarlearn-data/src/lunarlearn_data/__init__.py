"""Datasets, a batching DataLoader and readers for dataset file formats.

Every dataset maps an int index to one sample ``(x, y)`` and a 1-D integer
array of indices to a batch of arrays. Files live under ``data_home()``:
``$LUNARLEARN_DATA``, else the user cache directory.

Each name is imported on first access, so resolving one dataset by name
imports only the module that defines it.
"""

import importlib

_EXPORTS = {
    "ArrayDataset": "_dataset",
    "Dataset": "_dataset",
    "Subset": "_dataset",
    "split_tail": "_dataset",
    "Digits": "_digits",
    "ChecksumError": "_errors",
    "DatasetNotFoundError": "_errors",
    "IDXFormatError": "_errors",
    "MissingDependencyError": "_errors",
    "IDX_DTYPES": "_idx",
    "IDXDataset": "_idx",
    "read_idx": "_idx",
    "write_idx": "_idx",
    "DataLoader": "_loader",
    "MNIST": "_mnist",
    "data_home": "_paths",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
