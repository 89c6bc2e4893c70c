"""Weight initializers.

An initializer is a callable ``init(shape, *, fan_in, fan_out, dtype=float32)``
that returns a new NumPy array of that shape. The layer computes the fans, so
one initializer serves every weight layout: :func:`dense_fans` gives them for a
dense kernel of shape ``(in_features, units)`` and :func:`conv_fans` for a
convolution kernel of shape ``(filters, in_channels, kh, kw)``. Random
initializers draw from :func:`lunarlearn.backend.rng`, so
:func:`lunarlearn.manual_seed` makes them reproducible.

The classes are registered in the ``lunarlearn.initializers`` entry-point
group (``he_normal``, ``he_uniform``, ``xavier_normal``, ``xavier_uniform``,
``zeros``, ``ones``), and layers accept those names wherever they take an
initializer.
"""

from __future__ import annotations

import math

import numpy as np

from lunarlearn import backend
from lunarlearn.errors import ConfigError

__all__ = [
    "HeNormal",
    "HeUniform",
    "Initializer",
    "Ones",
    "XavierNormal",
    "XavierUniform",
    "Zeros",
    "conv_fans",
    "dense_fans",
    "resolve_initializer",
]


def dense_fans(shape):
    """Return ``(fan_in, fan_out)`` of a dense kernel of shape (in, units)."""
    return int(shape[0]), int(shape[1])


def conv_fans(shape):
    """Return ``(fan_in, fan_out)`` of a kernel of shape (out, in, *kernel_size).

    Each fan is the channel count times the number of kernel positions, so a
    3x3 kernel from 16 to 32 channels has fan_in 144 and fan_out 288.
    """
    receptive_field = math.prod(shape[2:])
    return int(shape[1]) * receptive_field, int(shape[0]) * receptive_field


class Initializer:
    """Base class of the initializers. Subclasses implement :meth:`__call__`."""

    #: Registered name, used by :meth:`get_config`.
    name = ""

    def __call__(self, shape, *, fan_in, fan_out, dtype=np.float32):
        """Return a new array of ``shape`` and ``dtype``.

        :param shape: shape of the weight to create.
        :param fan_in: number of inputs that feed one output unit.
        :param fan_out: number of outputs that one input unit feeds.
        :param dtype: floating-point dtype of the result.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override __call__(shape, *, fan_in, fan_out)"
        )

    def get_config(self):
        """Return a spec that :func:`lunarlearn.registry.create` accepts."""
        return {"type": self.name}

    def __repr__(self):
        options = {k: v for k, v in self.get_config().items() if k != "type"}
        arguments = ", ".join(f"{k}={v!r}" for k, v in options.items())
        return f"{type(self).__name__}({arguments})"


class Zeros(Initializer):
    """Fill the weight with 0."""

    name = "zeros"

    def __call__(self, shape, *, fan_in=None, fan_out=None, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """Fill the weight with 1."""

    name = "ones"

    def __call__(self, shape, *, fan_in=None, fan_out=None, dtype=np.float32):
        return np.ones(shape, dtype=dtype)


class _VarianceScaling(Initializer):
    """Draw weights with variance ``scale / fan`` from a normal or uniform distribution.

    The uniform distribution on ``[-b, b]`` has variance ``b**2 / 3``, so its
    bound is ``sqrt(3 * scale / fan)``.
    """

    distribution = "normal"

    def _fan(self, fan_in, fan_out):
        raise NotImplementedError

    def _scale(self):
        raise NotImplementedError

    def __call__(self, shape, *, fan_in, fan_out, dtype=np.float32):
        fan = self._fan(_check_fan(fan_in, "fan_in"), _check_fan(fan_out, "fan_out"))
        variance = self._scale() / fan
        generator = backend.rng()
        if self.distribution == "normal":
            values = generator.normal(0.0, math.sqrt(variance), size=shape)
        else:
            bound = math.sqrt(3.0 * variance)
            values = generator.uniform(-bound, bound, size=shape)
        return values.astype(dtype)


class _HeBase(_VarianceScaling):
    def __init__(self, mode="fan_in", negative_slope=0.0):
        if mode not in ("fan_in", "fan_out"):
            raise ConfigError(
                f"invalid mode for {self.name}. Received: mode={mode!r}. "
                "expected 'fan_in' or 'fan_out'"
            )
        self.mode = mode
        self.negative_slope = float(negative_slope)

    def _fan(self, fan_in, fan_out):
        return fan_in if self.mode == "fan_in" else fan_out

    def _scale(self):
        # A ReLU halves the second moment of its input, and a leaky ReLU keeps
        # (1 + negative_slope**2) / 2 of it.
        return 2.0 / (1.0 + self.negative_slope**2)

    def get_config(self):
        return {
            "type": self.name,
            "mode": self.mode,
            "negative_slope": self.negative_slope,
        }


class HeNormal(_HeBase):
    """He (Kaiming) normal: ``N(0, 2 / fan_in)``, for layers followed by ReLU.

    :param mode: ``"fan_in"`` (default) keeps the forward variance constant,
        ``"fan_out"`` the backward one.
    :param negative_slope: slope of a following leaky ReLU; the variance becomes
        ``2 / ((1 + negative_slope**2) * fan)``.

    The distribution is a plain normal, not a truncated one, as in PyTorch's
    ``kaiming_normal_``.
    """

    name = "he_normal"
    distribution = "normal"


class HeUniform(_HeBase):
    """He (Kaiming) uniform: ``U(-b, b)`` with ``b = sqrt(6 / fan_in)``.

    Takes the same options as :class:`HeNormal`.
    """

    name = "he_uniform"
    distribution = "uniform"


class _XavierBase(_VarianceScaling):
    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def _fan(self, fan_in, fan_out):
        return (fan_in + fan_out) / 2.0

    def _scale(self):
        return self.gain**2

    def get_config(self):
        return {"type": self.name, "gain": self.gain}


class XavierNormal(_XavierBase):
    """Xavier (Glorot) normal: ``N(0, gain**2 * 2 / (fan_in + fan_out))``."""

    name = "xavier_normal"
    distribution = "normal"


class XavierUniform(_XavierBase):
    """Xavier (Glorot) uniform: ``U(-b, b)``.

    The bound is ``b = gain * sqrt(6 / (fan_in + fan_out))``.
    """

    name = "xavier_uniform"
    distribution = "uniform"


def _check_fan(fan, name):
    if fan is None or fan < 1:
        raise ConfigError(
            f"{name} must be a positive integer. Received: {name}={fan!r}"
        )
    return fan


def resolve_initializer(spec, argument):
    """Return an initializer callable for a layer argument.

    :param spec: a registered name, a ``{"type": name, ...}`` dict, an
        Initializer subclass, or any callable with the initializer signature.
    :param argument: the layer argument name shown in the error message.
    """
    if isinstance(spec, type) and issubclass(spec, Initializer):
        return spec()
    if isinstance(spec, str | dict):
        from lunarlearn import registry

        return registry.create("initializers", spec)
    if callable(spec):
        return spec
    raise TypeError(
        f"{argument} must be an initializer name, a config dict or a callable. "
        f"Received: {argument}={spec!r}"
    )


def initializer_config(spec):
    """Return the plain-value form of an initializer argument for get_config."""
    if isinstance(spec, Initializer):
        config = spec.get_config()
        return config["type"] if len(config) == 1 else config
    if isinstance(spec, type) and issubclass(spec, Initializer):
        return spec.name
    return spec
