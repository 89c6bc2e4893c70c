"""Activation layers: modules without parameters that wrap lunarlearn.functional."""

from __future__ import annotations

import numbers

import lunarlearn.functional as F
from lunarlearn.errors import ConfigError
from lunarlearn.nn import Module

__all__ = ["GELU", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh"]


class ReLU(Module):
    """Apply ``max(x, 0)`` element-wise."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """Apply the logistic function ``1 / (1 + exp(-x))`` element-wise."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """Apply the hyperbolic tangent element-wise."""

    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    """Apply ``x`` where ``x > 0`` and ``negative_slope * x`` elsewhere.

    :param negative_slope: slope for negative inputs. Defaults to 0.01.
    """

    def __init__(self, negative_slope=0.01):
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(
            negative_slope, numbers.Real
        ):
            raise ConfigError(
                "negative_slope must be a number. Received: "
                f"negative_slope={negative_slope!r}"
            )
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, negative_slope=self.negative_slope)

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class GELU(Module):
    """Apply the Gaussian error linear unit ``x * Phi(x)`` element-wise.

    :param approximate: ``"none"`` (default) for the erf form, ``"tanh"`` for
        the tanh approximation.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ConfigError(
                "approximate must be 'none' or 'tanh'. Received: "
                f"approximate={approximate!r}"
            )
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def get_config(self):
        return {"approximate": self.approximate}


class Softmax(Module):
    """Normalize ``exp(x)`` to sum to 1 along ``axis``.

    For classification, feed the logits to the ``cross_entropy`` loss instead,
    which computes the softmax itself in a numerically stable way.

    :param axis: the axis to normalize. Defaults to -1.
    """

    def __init__(self, axis=-1):
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ConfigError(f"axis must be an int. Received: axis={axis!r}")
        self.axis = int(axis)

    def forward(self, x):
        return F.softmax(x, axis=self.axis)

    def get_config(self):
        return {"axis": self.axis}
