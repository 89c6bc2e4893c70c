"""Argument checks shared by the datasets and the DataLoader."""

import numbers

from lunarlearn.errors import ConfigError


def check_int(value, name: str, *, minimum: int) -> int:
    """Return ``value`` as an int, rejecting bools, non-integers and values below
    ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Invalid `{name}`: expected an int >= {minimum}. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if value < minimum:
        raise ConfigError(
            f"Invalid `{name}`: expected an int >= {minimum}. Received: {name}={value}"
        )
    return int(value)


def check_bool(value, name: str) -> bool:
    """Return ``value`` if it is True or False, else raise TypeError."""
    if not isinstance(value, bool):
        raise TypeError(
            f"Invalid `{name}`: expected True or False. Received: {name}={value!r}"
        )
    return value
