"""Fully connected layer, computed by one fused Function."""

from __future__ import annotations

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ShapeError
from lunarlearn.nn import Module, Parameter
from lunarlearn_layers._utils import check_positive_int
from lunarlearn_layers.activations import activation_name, resolve_activation
from lunarlearn_layers.initializers import (
    dense_fans,
    initializer_config,
    resolve_initializer,
)

__all__ = ["Dense", "DenseFunction", "dense"]

# Activations whose derivative follows from the output alone, so the fused
# backward needs no extra saved array.
FUSED_ACTIVATIONS = ("relu", "sigmoid", "tanh")


class DenseFunction(Function):
    """Fused dense op: ``y = act(x @ weight + bias)`` over the last axis of ``x``.

    Inputs are ``(x, weight)`` or ``(x, weight, bias)``, with ``weight`` of
    shape ``(in_features, units)`` and ``bias`` of shape ``(units,)``. The
    keyword ``activation`` is None or one of ``FUSED_ACTIVATIONS``.
    """

    def forward(self, x, weight, bias=None, activation=None):
        if x.ndim < 1 or weight.ndim != 2 or x.shape[-1] != weight.shape[0]:
            raise ShapeError(
                f"dense: the last axis of the input must match the kernel's first "
                f"axis. Received: input shape {x.shape}, kernel shape {weight.shape}"
            )
        if x.dtype.kind in "biu":
            # Integer data (pixels, counts) is computed in the kernel's dtype.
            x = x.astype(weight.dtype)
        if activation is not None and activation not in FUSED_ACTIVATIONS:
            raise ValueError(
                f"invalid fused activation {activation!r}. Expected None or one of "
                f"{FUSED_ACTIVATIONS}, and call any other activation on the output"
            )
        xp = backend.get_array_module(x)
        batch_shape = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        y = x2 @ weight
        if bias is not None:
            y += bias
        if activation == "relu":
            xp.maximum(y, 0, out=y)
        elif activation == "sigmoid":
            # 0.5 * (1 + tanh(z / 2)) is the logistic function without overflow.
            y *= 0.5
            xp.tanh(y, out=y)
            y += 1
            y *= 0.5
        elif activation == "tanh":
            xp.tanh(y, out=y)

        needs_x, needs_weight = self.needs_input_grad[:2]
        if any(self.needs_input_grad):
            self.activation = activation
            self.has_bias = bias is not None
            self.x_shape = x.shape
            self.x2 = x2 if needs_weight else None
            self.weight = weight if needs_x else None
            self.y = y if activation is not None else None
        return y.reshape(*batch_shape, weight.shape[1])

    def backward(self, grad_output):
        needs = self.needs_input_grad
        g = grad_output.reshape(-1, grad_output.shape[-1])
        if self.activation == "relu":
            g = g * (self.y > 0)
        elif self.activation == "sigmoid":
            g = g * (self.y * (1 - self.y))
        elif self.activation == "tanh":
            g = g * (1 - self.y * self.y)

        grad_x = grad_weight = grad_bias = None
        if needs[0]:
            grad_x = (g @ self.weight.T).reshape(self.x_shape)
        if needs[1]:
            grad_weight = self.x2.T @ g
        if self.has_bias and needs[2]:
            grad_bias = g.sum(axis=0)
        if self.has_bias:
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def dense(x, weight, bias=None, activation=None):
    """Return ``act(x @ weight + bias)`` as one fused op.

    :param activation: None, ``"relu"``, ``"sigmoid"`` or ``"tanh"``.
    """
    if bias is None:
        return DenseFunction.apply(x, weight, activation=activation)
    return DenseFunction.apply(x, weight, bias, activation=activation)


class Dense(Module):
    """Fully connected layer: ``y = activation(x @ weight + bias)``.

    The kernel ``weight`` has shape ``(in_features, units)`` and acts on the
    last axis, so an input of shape ``(..., in_features)`` gives
    ``(..., units)``. ``in_features`` is read from the first input.

    :param units: number of output features.
    :param activation: None, a name from the ``lunarlearn.activations`` group,
        or a callable Tensor -> Tensor. ``relu``, ``sigmoid`` and ``tanh`` run
        inside the fused op.
    :param use_bias: whether to add a learned bias.
    :param kernel_initializer: initializer name, config dict or callable for
        ``weight``. Defaults to ``"xavier_uniform"``.
    :param bias_initializer: the same for ``bias``. Defaults to ``"zeros"``.
    """

    def __init__(
        self,
        units,
        *,
        activation=None,
        use_bias=True,
        kernel_initializer="xavier_uniform",
        bias_initializer="zeros",
    ):
        super().__init__()
        self.units = check_positive_int(units, "units")
        self.activation = resolve_activation(activation)
        self._activation_spec = activation
        fused = activation_name(self.activation)
        self._fused_activation = fused if fused in FUSED_ACTIVATIONS else None
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve_initializer(
            kernel_initializer, "kernel_initializer"
        )
        self.bias_initializer = resolve_initializer(
            bias_initializer, "bias_initializer"
        )
        self._initializer_specs = (kernel_initializer, bias_initializer)
        # Created by build() from the first input's shape.
        self.weight = None
        self.bias = None
        self.in_features = None

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ShapeError(
                f"Dense needs an input with at least one axis. Received: input "
                f"shape {tuple(input_shape)}"
            )
        self.in_features = int(input_shape[-1])
        shape = (self.in_features, self.units)
        fan_in, fan_out = dense_fans(shape)
        self.weight = Parameter(
            self.kernel_initializer(shape, fan_in=fan_in, fan_out=fan_out)
        )
        if self.use_bias:
            self.bias = Parameter(
                self.bias_initializer((self.units,), fan_in=fan_in, fan_out=fan_out)
            )
        else:
            self.bias = None

    def forward(self, x):
        y = dense(x, self.weight, self.bias, activation=self._fused_activation)
        if self.activation is not None and self._fused_activation is None:
            y = self.activation(y)
        return y

    def get_config(self):
        # NOTE: a custom activation callable is returned as the object itself,
        # so such a config cannot be written to JSON.
        activation = self._activation_spec
        if callable(activation):
            activation = activation_name(activation) or activation
        return {
            "units": self.units,
            "activation": activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializer_config(self._initializer_specs[0]),
            "bias_initializer": initializer_config(self._initializer_specs[1]),
        }
