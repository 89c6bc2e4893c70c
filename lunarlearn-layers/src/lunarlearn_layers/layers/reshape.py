"""Flatten layer."""

from __future__ import annotations

import numbers

import lunarlearn.functional as F
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.nn import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Merge the axes from ``start_axis`` on into one.

    With the default ``start_axis=1`` an input of shape (N, C, H, W) becomes
    (N, C * H * W). The reshape copies nothing when the input is contiguous.

    :param start_axis: first axis to merge. Negative values count from the end.
    """

    def __init__(self, start_axis=1):
        super().__init__()
        if isinstance(start_axis, bool) or not isinstance(start_axis, numbers.Integral):
            raise ConfigError(
                f"start_axis must be an int. Received: start_axis={start_axis!r}"
            )
        self.start_axis = int(start_axis)

    def forward(self, x):
        if not -x.ndim <= self.start_axis < x.ndim:
            raise ShapeError(
                f"Flatten(start_axis={self.start_axis}) is out of range for an input "
                f"with {x.ndim} axes. Received: input shape {tuple(x.shape)}"
            )
        return F.flatten(x, start_axis=self.start_axis)

    def get_config(self):
        return {"start_axis": self.start_axis}
