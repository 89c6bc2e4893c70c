"""Layers, initializers, activations, losses and metrics for LunarLearn.

Every component is registered by entry point in the ``lunarlearn.layers``,
``lunarlearn.initializers``, ``lunarlearn.activations``, ``lunarlearn.losses``
and ``lunarlearn.metrics`` groups, so ``lunarlearn.registry.get("layers",
"conv2d")`` finds it by name. The classes in ``__all__`` can also be imported
from this package. Each is imported on first access, so resolving one
component by name imports only the module that defines it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Dense": "layers.dense",
    "Conv2d": "layers.conv",
    "MaxPool2d": "layers.pooling",
    "BatchNorm1d": "layers.normalization",
    "BatchNorm2d": "layers.normalization",
    "Dropout": "layers.dropout",
    "Flatten": "layers.reshape",
    "ReLU": "layers.activation",
    "Sigmoid": "layers.activation",
    "Tanh": "layers.activation",
    "LeakyReLU": "layers.activation",
    "GELU": "layers.activation",
    "Softmax": "layers.activation",
    "Initializer": "initializers",
    "HeNormal": "initializers",
    "HeUniform": "initializers",
    "XavierNormal": "initializers",
    "XavierUniform": "initializers",
    "Zeros": "initializers",
    "Ones": "initializers",
    "CrossEntropy": "losses",
    "MSELoss": "losses",
    "Accuracy": "metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])
