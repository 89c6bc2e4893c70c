"""Reading a training history into per-metric train and validation series."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lunarlearn.errors import LunarLearnError

__all__ = ["HistoryError", "MetricSeries", "available_names", "read_series"]

VALIDATION_PREFIX = "val_"


class HistoryError(LunarLearnError, ValueError):
    """A training history that cannot be plotted as given."""


@dataclass(frozen=True)
class MetricSeries:
    """The per-epoch values of one metric, for training and for validation.

    ``train`` or ``val`` is None when the history has no such list. Missing
    values (NaN or None in the history) are NaN here.
    """

    name: str
    train: np.ndarray | None
    val: np.ndarray | None

    @property
    def epochs(self) -> int:
        """Number of epochs, the length of whichever series is present."""
        present = self.train if self.train is not None else self.val
        return 0 if present is None else len(present)


def check_history(history: object) -> Mapping[str, Sequence[float]]:
    """Raise unless ``history`` is a non-empty mapping with str keys, else return it.

    :raises TypeError: if ``history`` is not a mapping or a key is not a str.
    :raises HistoryError: if ``history`` is empty.
    """
    if not isinstance(history, Mapping):
        raise TypeError(
            "history must be a mapping of metric name to a list with one value "
            "per epoch, such as json.load() of history.json. Received: "
            f"{type(history).__name__}"
        )
    if not history:
        raise HistoryError("history is empty, so there is nothing to plot")
    for key in history:
        if not isinstance(key, str):
            raise TypeError(
                f"history keys must be metric names (str). Received: key={key!r}"
            )
    return history


def available_names(history: Mapping[str, Sequence[float]]) -> list[str]:
    """List the metric names in ``history`` in first-seen order.

    ``val_<name>`` counts as ``<name>``, so a metric with only validation
    values is listed too.
    """
    names = dict.fromkeys(_metric_name(key) for key in history)
    return list(names)


def read_series(
    history: Mapping[str, Sequence[float]], names: Iterable[str]
) -> list[MetricSeries]:
    """Convert the train and validation lists of each name to float arrays.

    :raises HistoryError: if a name is not in ``history``, a value is not a
        number, or a train list and its validation list differ in length.
    """
    result = []
    for name in names:
        train_key, val_key = name, VALIDATION_PREFIX + name
        if train_key not in history and val_key not in history:
            available = ", ".join(available_names(history))
            raise HistoryError(
                f"metric '{name}' not found in history (looked for keys "
                f"'{train_key}' and '{val_key}'). Available metrics: {available}"
            )
        train = _to_array(history, train_key)
        val = _to_array(history, val_key)
        if train is not None and val is not None and len(train) != len(val):
            raise HistoryError(
                f"'{train_key}' has {len(train)} values but '{val_key}' has "
                f"{len(val)}. A metric and its validation series need one value "
                "per epoch each, so their lengths must match"
            )
        result.append(MetricSeries(name, train, val))
    return result


def _metric_name(key: str) -> str:
    if key.startswith(VALIDATION_PREFIX) and len(key) > len(VALIDATION_PREFIX):
        return key[len(VALIDATION_PREFIX) :]
    return key


def _to_array(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray | None:
    if key not in history:
        return None
    values = history[key]
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise HistoryError(
            f"history['{key}'] must be a list with one number per epoch. "
            f"Received: {type(values).__name__}"
        )
    converted = []
    for epoch, value in enumerate(values, start=1):
        converted.append(_to_float(key, epoch, value))
    return np.asarray(converted, dtype=np.float64)


def _to_float(key: str, epoch: int, value: object) -> float:
    # JSON has no NaN, so a strict writer stores a failed epoch as null.
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise HistoryError(
            f"history['{key}'] value for epoch {epoch} must be a number, NaN or "
            f"None. Received: {value!r}"
        )
    return float(value)
