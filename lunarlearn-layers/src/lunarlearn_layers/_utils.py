"""Argument checks and small array helpers shared by the layers and losses."""

from __future__ import annotations

import numbers

from lunarlearn.errors import ConfigError
from lunarlearn.tensor import Tensor

__all__ = ["check_positive_int", "to_pair", "unwrap"]


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


def unwrap(value):
    """Return the backend array of a Tensor, or ``value`` itself otherwise."""
    if isinstance(value, Tensor):
        return value.data
    return value
