"""Inverted dropout."""

from __future__ import annotations

import numbers

import numpy as np

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ConfigError
from lunarlearn.nn import Module
from lunarlearn_layers._utils import unwrap

__all__ = ["Dropout", "DropoutFunction", "dropout"]


class DropoutFunction(Function):
    """Multiply ``x`` by a fixed mask (keyword ``mask``, same shape as ``x``)."""

    def forward(self, x, mask=None):
        if self.needs_input_grad[0]:
            self.mask = mask
        return x * mask

    def backward(self, grad_output):
        return grad_output * self.mask


def _check_rate(rate):
    valid = isinstance(rate, numbers.Real) and 0 <= rate < 1
    if isinstance(rate, bool) or not valid:
        raise ConfigError(f"rate must be a number in [0, 1). Received: rate={rate!r}")
    return float(rate)


def dropout(x, rate, training=True):
    """Zero each element of ``x`` with probability ``rate``, scaling the rest.

    The kept elements are divided by ``1 - rate``, so the expected value of
    each element is unchanged and eval mode needs no rescaling. The mask is
    drawn from :func:`lunarlearn.backend.rng`, has the input's float dtype
    (float32 for other inputs) and is moved to the input's device.

    :param rate: probability of zeroing an element, in [0, 1).
    """
    rate = _check_rate(rate)
    if not training or rate == 0:
        return x
    xp = backend.get_array_module(unwrap(x))
    dtype = np.dtype(x.dtype) if np.dtype(x.dtype).kind == "f" else np.dtype(np.float32)
    keep = 1.0 - rate
    draws = backend.rng().random(x.shape, dtype=np.float32)
    # One pass turns the boolean keep mask into the scaled float mask.
    mask = np.multiply(draws < keep, dtype.type(1.0 / keep), dtype=dtype)
    if xp is not np:
        mask = xp.asarray(mask)
    return DropoutFunction.apply(x, mask=mask)


class Dropout(Module):
    """Inverted dropout, active only in training mode.

    During training each element is zeroed with probability ``rate`` and the
    others are divided by ``1 - rate``. In eval mode the input passes through
    unchanged.

    :param rate: probability of zeroing an element, in [0, 1).
    """

    def __init__(self, rate=0.5):
        super().__init__()
        self.rate = _check_rate(rate)

    def forward(self, x):
        return dropout(x, self.rate, training=self.training)

    def get_config(self):
        return {"rate": self.rate}
