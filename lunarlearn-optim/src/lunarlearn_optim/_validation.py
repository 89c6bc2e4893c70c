"""Checks for optimizer hyper-parameters.

Each check returns the value as a plain Python type, so a NumPy float64
scalar given as a hyper-parameter cannot promote float32 updates to float64.
A bad value raises ``ConfigError`` (a ``ValueError``) and a value of the wrong
type raises ``TypeError``; both messages name the option and the value.
"""

import math
import numbers

import numpy as np

from lunarlearn.errors import ConfigError, ShapeError


def check_real(name, value, where=""):
    """Return ``value`` as a finite Python float, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"invalid {name}{where}: {value!r} (expected a real number)")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"invalid {name}{where}: {value} (expected a finite number)")
    return value


def check_non_negative(name, value, where=""):
    """Return ``value`` as a float after checking ``value >= 0``."""
    value = check_real(name, value, where)
    if value < 0:
        raise ConfigError(f"invalid {name}{where}: {value} (expected {name} >= 0)")
    return value


def check_unit_interval(name, value, where=""):
    """Return ``value`` as a float after checking ``0 <= value < 1``."""
    value = check_real(name, value, where)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"invalid {name}{where}: {value} (expected 0 <= {name} < 1)")
    return value


def check_closed_unit_interval(name, value, where=""):
    """Return ``value`` as a float after checking ``0 <= value <= 1``."""
    value = check_real(name, value, where)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"invalid {name}{where}: {value} (expected 0 <= {name} <= 1)")
    return value


def check_betas(value, where=""):
    """Return ``betas`` as a tuple of two floats, each in ``[0, 1)``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"invalid betas{where}: {value!r} (expected a pair (beta1, beta2))"
        )
    if len(value) != 2:
        raise ConfigError(
            f"invalid betas{where}: {value!r} "
            f"(expected a pair (beta1, beta2), received {len(value)} values)"
        )
    beta1 = check_unit_interval("betas[0]", value[0], where)
    beta2 = check_unit_interval("betas[1]", value[1], where)
    return (beta1, beta2)


def check_bool(name, value, where=""):
    """Return ``value`` as a Python bool, or raise unless it is a boolean."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"invalid {name}{where}: {value!r} (expected True or False)")
    return bool(value)


def check_gradient(param, grad):
    """Raise ``ShapeError`` unless ``grad`` has the shape of ``param.data``.

    NumPy would broadcast a smaller gradient into the in-place update without
    an error, so the shapes are compared before any state changes.
    """
    if grad.shape != param.data.shape:
        raise ShapeError(
            f"gradient shape {tuple(grad.shape)} does not match parameter shape "
            f"{tuple(param.data.shape)}"
        )
