"""Argument checks and small array helpers shared by the layers and losses."""

from __future__ import annotations

import numbers

from lunarlearn import backend
from lunarlearn.errors import ConfigError
from lunarlearn.tensor import Tensor

__all__ = ["check_positive_int", "pad2d", "padding_pair", "to_pair", "unwrap"]


def check_positive_int(value, name):
    """Return ``value`` as an int, raising ConfigError unless it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            f"{name} must be a positive integer. Received: {name}={value!r}"
        )
    if value < 1:
        raise ConfigError(
            f"{name} must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def to_pair(value, name):
    """Return ``value`` as a (height, width) pair of positive ints.

    :param value: an int used for both axes, or a pair of ints.
    :param name: the argument name shown in the error message.
    """
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ConfigError(
                f"{name} must be an int or a pair of ints. Received: {name}={value!r}"
            )
        return (check_positive_int(value[0], name), check_positive_int(value[1], name))
    size = check_positive_int(value, name)
    return (size, size)


def padding_pair(padding):
    """Return ``padding`` (an int or a pair of ints) as a pair of ints >= 0.

    Returns None when ``padding`` is not such a value, so each caller can raise
    its own error.
    """
    values = padding if isinstance(padding, list | tuple) else (padding, padding)
    if len(values) != 2:
        return None
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return None
        if value < 0:
            return None
    return (int(values[0]), int(values[1]))


def pad2d(x, padding, value):
    """Return ``x`` (N, C, H, W) padded on its last two axes with ``value``.

    ``padding`` is ``(top, bottom, left, right)``. With no padding the result
    is ``x`` itself, not a copy.
    """
    top, bottom, left, right = padding
    if not any(padding):
        return x
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    shape = (n, c, h + top + bottom, w + left + right)
    if value == 0:
        # zeros() gets pre-zeroed pages from the OS instead of writing them.
        padded = xp.zeros(shape, dtype=x.dtype)
    else:
        padded = xp.full(shape, value, dtype=x.dtype)
    padded[:, :, top : top + h, left : left + w] = x
    return padded


def unwrap(value):
    """Return the backend array of a Tensor, or ``value`` itself otherwise."""
    if isinstance(value, Tensor):
        return value.data
    return value
