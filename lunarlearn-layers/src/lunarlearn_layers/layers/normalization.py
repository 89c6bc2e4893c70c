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
        shape = (1, channels) + (1,) * (x.ndim - 2)
        count = x.size // channels

        if training:
            if count < 2:
                raise ShapeError(
                    "batch norm in training mode needs more than one value per "
                    f"channel. Received: input shape {x.shape}"
                )
            mean = _channel_sum(x) / x.dtype.type(count)
            centered = x - mean.reshape(shape)
            var = _channel_dot(centered, centered) / x.dtype.type(count)
            inv_std = 1 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            inv_std = (1 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False)
            mean = running_mean.astype(x.dtype, copy=False)
            if not any(self.needs_input_grad):
                # Inference: one multiply and one add, (x - mean) * scale + bias.
                scale = inv_std if weight is None else inv_std * weight
                shift = -mean * scale if bias is None else bias - mean * scale
                out = x * scale.reshape(shape)
                out += shift.reshape(shape)
                return out
            centered = x - mean.reshape(shape)

        # x_hat = centered * inv_std is never stored: folding inv_std into the
        # weight saves one pass over the activations here and in backward.
        scale = inv_std if weight is None else inv_std * weight
        out = centered * scale.reshape(shape)
        if bias is not None:
            out += bias.reshape(shape)

        if any(self.needs_input_grad):
            self.training = training
            self.centered = centered
            self.inv_std = inv_std
            self.scale = scale
            self.has_weight = weight is not None
            self.shape, self.count = shape, count
        return out

    def backward(self, grad_output):
        needs = self.needs_input_grad
        shape, inv_std, scale = self.shape, self.inv_std, self.scale
        grad_bias = _channel_sum(grad_output)
        # The gradient of the weight is sum(g * x_hat), with x_hat = centered * inv_std.
        grad_weight = _channel_dot(grad_output, self.centered) * inv_std

        grad_x = None
        if needs[0]:
            if self.training:
                # The batch mean and variance depend on x, so the gradient
                # loses its channel mean and its projection on x_hat:
                # scale * (g - mean(g) - x_hat * mean(g * x_hat)).
                count = grad_output.dtype.type(self.count)
                projection = -scale * inv_std * grad_weight / count
                grad_x = self.centered * projection.reshape(shape)
                grad_x += grad_output * scale.reshape(shape)
                grad_x -= (scale * grad_bias / count).reshape(shape)
            else:
                grad_x = grad_output * scale.reshape(shape)

        if not self.has_weight:
            return grad_x
        return (
            grad_x,
            grad_weight if needs[1] else None,
            grad_bias if needs[2] else None,
        )


def _channel_sum(x):
    """Sum (N, C, ...) over every axis but the channel axis 1."""
    n, c = x.shape[:2]
    # Reducing the contiguous trailing axis first is the fast order for NumPy.
    return x.reshape(n, c, -1).sum(axis=2).sum(axis=0)


def _channel_dot(a, b):
    """Per-channel sum of a * b over every axis but axis 1, without a temporary."""
    n, c = a.shape[:2]
    xp = backend.get_array_module(a)
    return xp.einsum("ncl,ncl->c", a.reshape(n, c, -1), b.reshape(n, c, -1))


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
