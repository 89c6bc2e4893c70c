"""Batch normalization, computed by one fused Function."""

from __future__ import annotations

import numbers

import numpy as np

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.nn import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNormFunction", "batch_norm"]


class BatchNormFunction(Function):
    """Normalize ``x`` (N, C, ...) per channel, then scale and shift it.

    Inputs are ``(x,)`` or ``(x, weight, bias)`` with ``weight`` and ``bias``
    of shape (C,). Keywords: ``running_mean`` and ``running_var`` (arrays of
    shape (C,)), ``training``, ``momentum`` and ``eps``.

    In training mode the batch statistics over every axis but axis 1 normalize
    ``x``, and the running arrays are updated in place:
    ``running = (1 - momentum) * running + momentum * batch``, with the
    unbiased batch variance. In eval mode the running statistics normalize
    ``x`` and nothing is updated.
    """

    def forward(
        self,
        x,
        weight=None,
        bias=None,
        running_mean=None,
        running_var=None,
        training=True,
        momentum=0.1,
        eps=1e-5,
    ):
        xp = backend.get_array_module(x)
        channels = x.shape[1]
        axes = (0, *range(2, x.ndim))
        shape = (1, channels) + (1,) * (x.ndim - 2)
        count = x.size // channels

        if training:
            if count < 2:
                raise ShapeError(
                    "batch norm in training mode needs more than one value per "
                    f"channel. Received: input shape {x.shape}"
                )
            mean = x.mean(axis=axes)
            x_hat = x - mean.reshape(shape)
            var = xp.mean(x_hat * x_hat, axis=axes)
            inv_std = 1 / xp.sqrt(var + eps)
            x_hat *= inv_std.reshape(shape)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            inv_std = 1 / xp.sqrt(running_var + eps)
            inv_std = inv_std.astype(x.dtype, copy=False)
            x_hat = (x - running_mean.astype(x.dtype, copy=False).reshape(shape)) * (
                inv_std.reshape(shape)
            )

        if weight is not None:
            out = x_hat * weight.reshape(shape)
            out += bias.reshape(shape)
        else:
            out = x_hat

        if any(self.needs_input_grad):
            self.training = training
            self.x_hat = x_hat
            self.inv_std = inv_std
            self.weight = weight
            self.axes, self.shape, self.count = axes, shape, count
        return out

    def backward(self, grad_output):
        needs = self.needs_input_grad
        axes, shape = self.axes, self.shape
        x_hat = self.x_hat
        grad_bias = grad_output.sum(axis=axes)
        grad_weight = (grad_output * x_hat).sum(axis=axes)

        grad_x = None
        if needs[0]:
            scale = self.inv_std
            if self.weight is not None:
                scale = scale * self.weight
            if self.training:
                # The batch mean and variance depend on x, so the gradient
                # loses its channel mean and its projection on x_hat.
                grad_x = grad_output - (grad_bias / self.count).reshape(shape)
                grad_x -= x_hat * (grad_weight / self.count).reshape(shape)
                grad_x *= scale.reshape(shape)
            else:
                grad_x = grad_output * scale.reshape(shape)

        if self.weight is None:
            return grad_x
        return (
            grad_x,
            grad_weight if needs[1] else None,
            grad_bias if needs[2] else None,
        )


def batch_norm(
    x,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=True,
    momentum=0.1,
    eps=1e-5,
):
    """Return batch-normalized ``x``, computed by :class:`BatchNormFunction`.

    ``running_mean`` and ``running_var`` are backend arrays, updated in place
    in training mode, or None in training mode to skip the update.
    """
    if not training and (running_mean is None or running_var is None):
        raise ValueError(
            "batch_norm in eval mode needs running_mean and running_var. Pass the "
            "arrays or set training=True"
        )
    if (weight is None) != (bias is None):
        raise ValueError(
            "batch_norm needs both weight and bias or neither. Received: "
            f"weight {'None' if weight is None else 'given'}, "
            f"bias {'None' if bias is None else 'given'}"
        )
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNormFunction.apply(
        *inputs,
        running_mean=running_mean,
        running_var=running_var,
        training=training,
        momentum=momentum,
        eps=eps,
    )


class _BatchNorm(Module):
    """Shared code of the batch-norm layers.

    Subclasses set ``input_ndims`` (the accepted numbers of input axes) and
    ``input_layout`` (the shape shown in error messages).
    """

    input_ndims = ()
    input_layout = ""

    def __init__(self, momentum=0.1, eps=1e-5, affine=True):
        super().__init__()
        valid_momentum = isinstance(momentum, numbers.Real) and 0 <= momentum <= 1
        if isinstance(momentum, bool) or not valid_momentum:
            raise ConfigError(
                f"momentum must be a number in [0, 1]. Received: momentum={momentum!r}"
            )
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or eps <= 0:
            raise ConfigError(f"eps must be a positive number. Received: eps={eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.affine = bool(affine)
        self.num_features = None
        # Created by build() from the first input's shape.
        self.weight = None
        self.bias = None

    def build(self, input_shape):
        if len(input_shape) not in self.input_ndims:
            raise ShapeError(
                f"{type(self).__name__} expects inputs of shape {self.input_layout}. "
                f"Received: input shape {tuple(input_shape)}"
            )
        channels = int(input_shape[1])
        self.num_features = channels
        if self.affine:
            self.weight = Parameter(np.ones(channels, dtype=np.float32))
            self.bias = Parameter(np.zeros(channels, dtype=np.float32))
        else:
            self.weight = None
            self.bias = None
        self.register_buffer("running_mean", np.zeros(channels, dtype=np.float32))
        self.register_buffer("running_var", np.ones(channels, dtype=np.float32))

    def forward(self, x):
        if x.ndim not in self.input_ndims:
            raise ShapeError(
                f"{type(self).__name__} expects inputs of shape {self.input_layout}. "
                f"Received: input shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__} was built for {self.num_features} channels. "
                f"Received: input shape {tuple(x.shape)}"
            )
        return batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def get_config(self):
        return {"momentum": self.momentum, "eps": self.eps, "affine": self.affine}


class BatchNorm2d(_BatchNorm):
    """Batch normalization over the channels of NCHW inputs.

    In training mode each channel is normalized with the mean and (biased)
    variance of the batch over N, H and W, and ``running_mean`` and
    ``running_var`` move towards the batch mean and unbiased variance by
    ``momentum``, as in PyTorch. In eval mode the running statistics are used.

    :param momentum: weight of the newest batch in the running statistics.
    :param eps: added to the variance before the square root.
    :param affine: whether to learn a per-channel scale ``weight`` and shift
        ``bias``.
    """

    input_ndims = (4,)
    input_layout = "(N, C, H, W)"


class BatchNorm1d(_BatchNorm):
    """Batch normalization over the features of (N, C) or (N, C, L) inputs.

    Takes the same arguments as :class:`BatchNorm2d`.
    """

    input_ndims = (2, 3)
    input_layout = "(N, C) or (N, C, L)"
