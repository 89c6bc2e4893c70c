"""Optimizers for LunarLearn: SGD, Adam and AdamW.

Each optimizer subclasses ``lunarlearn.optim.Optimizer`` and is registered in
the ``lunarlearn.optimizers`` entry-point group (``sgd``, ``adam``,
``adamw``), so ``lunarlearn.registry.get("optimizers", "adamw")`` finds it.
Attribute access imports the defining module on first use, so resolving one
name through the registry does not import the others.
"""

import importlib

__all__ = ["SGD", "Adam", "AdamW"]

_MODULES = {
    "SGD": ".optimizers.sgd",
    "Adam": ".optimizers.adam",
    "AdamW": ".optimizers.adam",
}


def __getattr__(name):
    module_name = _MODULES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
