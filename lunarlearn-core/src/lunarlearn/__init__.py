"""LunarLearn: a plugin-architecture deep-learning framework on NumPy and CuPy.

The core contains the Tensor and its autograd, the Module API, the plugin
registry and the Trainer. Layers, optimizers, datasets and plots come from
plugin distributions that register by entry point and load on first use.
"""

from importlib import metadata

from lunarlearn import functional
from lunarlearn.autograd import Function, enable_grad, is_grad_enabled, no_grad
from lunarlearn.backend import manual_seed
from lunarlearn.errors import ConfigError, LunarLearnError, PluginError
from lunarlearn.nn import Module, ModuleDict, ModuleList, Parameter, Sequential
from lunarlearn.tensor import Tensor

try:
    __version__ = metadata.version("lunarlearn-core")
except metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ConfigError",
    "Function",
    "LunarLearnError",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "PluginError",
    "Sequential",
    "Tensor",
    "enable_grad",
    "functional",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
]
