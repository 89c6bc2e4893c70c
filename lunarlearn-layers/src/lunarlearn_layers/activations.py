"""Activation functions for the ``activation=`` argument of layers.

Each function maps a Tensor to a Tensor of the same shape and is registered in
the ``lunarlearn.activations`` entry-point group under its own name. A layer
that takes ``activation="relu"`` looks the name up there, so a plugin can add
activations. :class:`~lunarlearn_layers.layers.dense.Dense` fuses ``relu``,
``sigmoid`` and ``tanh`` into its own Function and calls any other activation
after it.
"""

from __future__ import annotations

import lunarlearn.functional as F

__all__ = [
    "activation_name",
    "gelu",
    "leaky_relu",
    "relu",
    "resolve_activation",
    "sigmoid",
    "softmax",
    "tanh",
]


def relu(x):
    """Return ``max(x, 0)``."""
    return F.relu(x)


def sigmoid(x):
    """Return ``1 / (1 + exp(-x))``."""
    return F.sigmoid(x)


def tanh(x):
    """Return the hyperbolic tangent of ``x``."""
    return F.tanh(x)


def leaky_relu(x, negative_slope=0.01):
    """Return ``x`` where ``x > 0`` and ``negative_slope * x`` elsewhere."""
    return F.leaky_relu(x, negative_slope=negative_slope)


def gelu(x, approximate="none"):
    """Return ``x * Phi(x)``, Phi being the standard normal CDF.

    :param approximate: ``"none"`` for the erf form, ``"tanh"`` for the tanh
        approximation.
    """
    return F.gelu(x, approximate=approximate)


def softmax(x, axis=-1):
    """Return ``exp(x)`` normalised to sum to 1 along ``axis``."""
    return F.softmax(x, axis=axis)


_BUILTIN = {
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "leaky_relu": leaky_relu,
    "gelu": gelu,
    "softmax": softmax,
}


def resolve_activation(spec):
    """Return the activation function for a layer's ``activation`` argument.

    :param spec: None (no activation), a name registered in the
        ``lunarlearn.activations`` group, or a callable Tensor -> Tensor.
    """
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str):
        from lunarlearn import registry

        return registry.get("activations", spec)
    raise TypeError(
        "activation must be None, an activation name or a callable. "
        f"Received: activation={spec!r}"
    )


def activation_name(function):
    """Return the registered name of a built-in activation function, else None."""
    for name, builtin in _BUILTIN.items():
        if function is builtin:
            return name
    return None
