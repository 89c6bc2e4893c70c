"""Differentiable operations on Tensors.

Each operation is a :class:`~lunarlearn.autograd.Function` with a forward and
a hand-written backward on backend arrays, wrapped by a plain function. Binary
operations broadcast like NumPy, and their gradients are summed back to each
input's shape. Python scalars combine with float32 tensors without promoting
them; float64 array constants are cast to the tensor's dtype.
"""

import builtins
import math

import numpy as np

from lunarlearn import backend
from lunarlearn.autograd import Function, unbroadcast
from lunarlearn.errors import ShapeError
from lunarlearn.tensor import Tensor

_PYTHON_SCALARS = (bool, int, float)


def _constant(value, like):
    """Prepare a non-Tensor operand so that it does not change ``like``'s dtype."""
    # np.float64 subclasses Python's float but, unlike it, takes part in type
    # promotion, so NumPy scalars are cast like arrays.
    if isinstance(value, _PYTHON_SCALARS) and not isinstance(value, np.generic):
        return value
    xp = backend.get_array_module(like)
    array = xp.asarray(value)
    # Integer constants count too: NumPy promotes int64 with float32 to float64.
    if (
        array.dtype.kind in "iuf"
        and like.dtype.kind == "f"
        and array.dtype != like.dtype
    ):
        array = array.astype(like.dtype)
    return array


def _as_float_of(tensor, other):
    """Cast an integer or boolean ``tensor`` to ``other``'s float dtype.

    NumPy would promote int64 with float32 to float64; this keeps the float
    dtype, as PyTorch's type promotion does. Integer tensors never require
    gradients, so the cast needs no graph node.
    """
    if tensor.dtype.kind in "biu" and other.dtype.kind == "f":
        return Tensor._make(tensor.data.astype(other.dtype), False, None)
    return tensor


def _operands(a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _as_float_of(a, b), _as_float_of(b, a)
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = _constant(b, a.data)
    elif isinstance(b, Tensor):
        a = _constant(a, b.data)
    else:
        a = Tensor(a)
        b = _constant(b, a.data)
    return a, b


def _shape(value):
    return getattr(value, "shape", ())


def _normalize_axis(axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _expand_reduced(grad, input_shape, axis, keepdims):
    """Reshape a reduction's gradient so that it broadcasts over the input."""
    if axis is None or keepdims:
        return grad if keepdims else grad.reshape((1,) * len(input_shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    ndim = len(input_shape)
    axes = sorted(a % ndim for a in axes)
    shape = list(grad.shape)
    for a in axes:
        shape.insert(a, 1)
    return grad.reshape(shape)


def _reduced_count(input_shape, axis):
    if axis is None:
        return math.prod(input_shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(input_shape[a] for a in axes)


# Arithmetic ---------------------------------------------------------------


class Add(Function):
    def forward(self, a, b):
        self.shapes = _shape(a), _shape(b)
        return a + b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(grad, shape_b) if need_b else None,
        )


class Sub(Function):
    def forward(self, a, b):
        self.shapes = _shape(a), _shape(b)
        return a - b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(-grad, shape_b) if need_b else None,
        )


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        return (
            unbroadcast(grad * self.b, _shape(self.a)) if need_a else None,
            unbroadcast(grad * self.a, _shape(self.b)) if need_b else None,
        )


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        scaled = grad / self.b
        if need_a:
            grad_a = unbroadcast(scaled, _shape(self.a))
        if need_b:
            grad_b = unbroadcast(-scaled * self.a / self.b, _shape(self.b))
        return grad_a, grad_b


class Pow(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(grad * self.b * self.a ** (self.b - 1), _shape(self.a))
        if need_b:
            xp = backend.get_array_module(self.out)
            # A Python scalar base would make log() return a float64 scalar.
            base = xp.asarray(self.a, dtype=self.out.dtype)
            # d(a**b)/db = a**b * log(a), taken as 0 where a == 0 (as PyTorch does).
            log_a = xp.log(xp.where(base != 0, base, 1))
            grad_b = unbroadcast(grad * self.out * log_a, _shape(self.b))
        return grad_a, grad_b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class MatMul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        a, b = self.a, self.b
        # Treat vectors as matrices, as matmul does, then undo it at the end.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # Restore b's axis first: for vector @ vector the gradient is 0-d.
        g2 = grad
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(g2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(
                a.shape
            )
        if need_b:
            grad_b = unbroadcast(xp.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(
                b.shape
            )
        return grad_a, grad_b


def _elementwise(function, name, a, b):
    """Apply a broadcasting binary ``function``, naming both shapes on a mismatch."""
    a, b = _operands(a, b)
    try:
        return function.apply(a, b)
    except ValueError:
        if _broadcastable(_shape(a), _shape(b)):
            raise
        raise ShapeError(
            f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together"
        ) from None


def _broadcastable(shape_a, shape_b):
    return builtins.all(
        x == y or x == 1 or y == 1
        for x, y in zip(shape_a[::-1], shape_b[::-1], strict=False)
    )


def add(a, b):
    """Return ``a + b`` with broadcasting."""
    return _elementwise(Add, "add", a, b)


def sub(a, b):
    """Return ``a - b`` with broadcasting."""
    return _elementwise(Sub, "sub", a, b)


def mul(a, b):
    """Return ``a * b`` with broadcasting."""
    return _elementwise(Mul, "mul", a, b)


def div(a, b):
    """Return ``a / b`` with broadcasting."""
    return _elementwise(Div, "div", a, b)


def pow(a, b):  # noqa: A001 - mirrors the operator
    """Return ``a ** b`` with broadcasting."""
    return _elementwise(Pow, "pow", a, b)


def neg(a):
    """Return ``-a``."""
    return Neg.apply(a)


def matmul(a, b):
    """Return the matrix product ``a @ b`` (batched and broadcast like NumPy)."""
    a, b = _operands(a, b)
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ShapeError(
            f"matmul: shapes {_shape(a)} and {_shape(b)} do not align; the last "
            "axis of the first must equal the second-to-last axis of the second "
            "(or its only axis)"
        ) from None


# Reductions ----------------------------------------------------------------


class Sum(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        return xp.broadcast_to(grad, self.shape).copy()


class Mean(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        return a.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        count = _reduced_count(self.shape, self.axis)
        return xp.broadcast_to(grad / grad.dtype.type(count), self.shape).copy()


class _Extreme(Function):
    """Max or min; the gradient is shared equally between tied extremes."""

    reduce = None

    def forward(self, a, axis=None, keepdims=False):
        self.a, self.axis, self.keepdims = a, axis, keepdims
        self.out = getattr(a, self.reduce)(axis=axis, keepdims=True)
        return self.out if keepdims else self.out.reshape(self._reduced_shape())

    def _reduced_shape(self):
        if self.axis is None:
            return ()
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        axes = {a % self.a.ndim for a in axes}
        return tuple(s for i, s in enumerate(self.a.shape) if i not in axes)

    def backward(self, grad):
        grad = _expand_reduced(grad, self.a.shape, self.axis, self.keepdims)
        mask = (self.a == self.out).astype(grad.dtype)
        count = mask.sum(axis=self.axis, keepdims=True)
        return mask * (grad / count)


class Max(_Extreme):
    reduce = "max"


class Min(_Extreme):
    reduce = "min"


class Var(Function):
    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.shape, self.axis, self.keepdims = a.shape, axis, keepdims
        self.centered = a - a.mean(axis=axis, keepdims=True)
        self.divisor = _reduced_count(a.shape, axis) - ddof
        if self.divisor <= 0:
            raise ValueError(
                f"var needs more than ddof={ddof} elements along axis {axis}, "
                f"got shape {a.shape}"
            )
        squares = self.centered * self.centered
        return squares.sum(axis=axis, keepdims=keepdims) / a.dtype.type(self.divisor)

    def backward(self, grad):
        grad = _expand_reduced(grad, self.shape, self.axis, self.keepdims)
        scale = grad.dtype.type(2.0 / self.divisor)
        return (grad * scale) * self.centered


def sum(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy.sum
    """Sum over ``axis`` (all axes when None)."""
    return Sum.apply(x, axis=_normalize_axis(axis), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Average over ``axis`` (all axes when None)."""
    return Mean.apply(x, axis=_normalize_axis(axis), keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy.max
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return Max.apply(x, axis=_normalize_axis(axis), keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - mirrors numpy.min
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return Min.apply(x, axis=_normalize_axis(axis), keepdims=keepdims)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis``, dividing by ``n - ddof`` (the biased one by default)."""
    return Var.apply(x, axis=_normalize_axis(axis), keepdims=keepdims, ddof=ddof)


# Element-wise functions ------------------------------------------------------


class Exp(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).exp(a)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return backend.get_array_module(a).log(a)

    def backward(self, grad):
        return grad / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return backend.get_array_module(a).abs(a)

    def backward(self, grad):
        return grad * backend.get_array_module(grad).sign(self.a)


class Clip(Function):
    def forward(self, a, low=None, high=None):
        xp = backend.get_array_module(a)
        self.inside = xp.ones(a.shape, dtype=bool)
        if low is not None:
            self.inside &= a >= low
        if high is not None:
            self.inside &= a <= high
        return xp.clip(a, low, high)

    def backward(self, grad):
        return grad * self.inside


class Tanh(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).tanh(a)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, a):
        # 0.5 * (1 + tanh(a / 2)) equals 1 / (1 + exp(-a)), and tanh cannot overflow.
        xp = backend.get_array_module(a)
        self.out = xp.tanh(a * 0.5)
        self.out += 1
        self.out *= 0.5
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class ReLU(Function):
    def forward(self, a):
        out = backend.get_array_module(a).maximum(a, 0)
        if self.needs_input_grad[0]:
            self.positive = out > 0
        return out

    def backward(self, grad):
        return grad * self.positive


class LeakyReLU(Function):
    def forward(self, a, negative_slope=0.01):
        xp = backend.get_array_module(a)
        self.slope = xp.where(a > 0, a.dtype.type(1), a.dtype.type(negative_slope))
        return a * self.slope

    def backward(self, grad):
        return grad * self.slope


def _erf(x):
    """Error function by Abramowitz and Stegun formula 7.1.26.

    NOTE: its absolute error is below 1.5e-7, which is float32 resolution but
    not float64's; NumPy has no erf of its own.
    """
    xp = backend.get_array_module(x)
    sign = xp.sign(x)
    a = xp.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (
        0.254829592
        + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1 - poly * xp.exp(-a * a))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class GELU(Function):
    def forward(self, a, approximate="none"):
        xp = backend.get_array_module(a)
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.inner = xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a**3))
            return 0.5 * a * (1 + self.inner)
        if approximate == "none":
            self.cdf = 0.5 * (1 + _erf(a * _INV_SQRT_2))
            return a * self.cdf
        raise ValueError(
            f"invalid approximate: {approximate!r} (expected 'none' or 'tanh')"
        )

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        a = self.a
        if self.approximate == "tanh":
            inner = self.inner
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            local = 0.5 * (1 + inner) + 0.5 * a * (1 - inner * inner) * d_inner
        else:
            local = self.cdf + a * (_INV_SQRT_2PI * xp.exp(-0.5 * a * a))
        return grad * local.astype(grad.dtype, copy=False)


class Softmax(Function):
    def forward(self, a, axis=-1):
        xp = backend.get_array_module(a)
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        self.out = xp.exp(shifted)
        self.out /= self.out.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, grad):
        dot = (grad * self.out).sum(axis=self.axis, keepdims=True)
        return self.out * (grad - dot)


class LogSoftmax(Function):
    def forward(self, a, axis=-1):
        xp = backend.get_array_module(a)
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        self.out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):  # noqa: A001 - mirrors numpy.abs
    return Abs.apply(x)


def clip(x, min=None, max=None):  # noqa: A002 - mirrors numpy.clip
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip needs min, max or both; got neither")
    data = x.data if isinstance(x, Tensor) else x
    low = None if min is None else _constant(min, data)
    high = None if max is None else _constant(max, data)
    return Clip.apply(x, low=low, high=high)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def gelu(x, approximate="none"):
    """Gaussian error linear unit, exact (erf) or with the tanh approximation."""
    return GELU.apply(x, approximate=approximate)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


# Shape and indexing ------------------------------------------------------------


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, a, axes=None):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, grad):
        if self.axes is None:
            return grad.transpose()
        # Negative axes count from the end; argsort needs them as positions.
        return grad.transpose(np.argsort([axis % grad.ndim for axis in self.axes]))


def _is_basic_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.all(
        isinstance(part, int | slice | type(None) | type(Ellipsis)) for part in parts
    )


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        full = xp.zeros(self.shape, dtype=self.dtype)
        if _is_basic_index(self.index):
            full[self.index] = grad
        else:
            backend.scatter_add(full, self.index, grad)
        return full


class Concat(Function):
    def forward(self, *arrays, axis=0):
        xp = backend.get_array_module(*arrays)
        self.axis = axis
        self.sizes = [array.shape[axis] for array in arrays]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        bounds = np.cumsum(self.sizes)[:-1]
        parts = xp.split(grad, bounds, axis=self.axis)
        return tuple(
            part if need else None
            for part, need in zip(parts, self.needs_input_grad, strict=True)
        )


class Stack(Function):
    def forward(self, *arrays, axis=0):
        xp = backend.get_array_module(*arrays)
        self.axis = axis
        return xp.stack(arrays, axis=axis)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return tuple(
            xp.take(grad, i, axis=self.axis) if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


class Pad(Function):
    def forward(self, a, pad_width, value=0.0):
        xp = backend.get_array_module(a)
        self.crop = tuple(
            slice(before, size + before)
            for (before, _), size in zip(pad_width, a.shape, strict=True)
        )
        return xp.pad(a, pad_width, mode="constant", constant_values=value)

    def backward(self, grad):
        return grad[self.crop]


class Where(Function):
    def forward(self, condition, a, b):
        xp = backend.get_array_module(a, b)
        self.condition = condition
        self.shapes = _shape(a), _shape(b)
        return xp.where(condition, a, b)

    def backward(self, grad):
        _, need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(grad * self.condition, shape_a)
        if need_b:
            grad_b = unbroadcast(grad * ~self.condition, shape_b)
        return None, grad_a, grad_b


class _Pairwise(Function):
    """Element-wise maximum or minimum; ties split the gradient in halves."""

    def forward(self, a, b):
        xp = backend.get_array_module(a, b)
        self.shapes = _shape(a), _shape(b)
        self.first = self.pick(a, b).astype(a.dtype if hasattr(a, "dtype") else b.dtype)
        self.first += (a == b) * self.first.dtype.type(0.5) - (a == b) * self.first
        return xp.where(self.pick(a, b), a, b)

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(grad * self.first, shape_a)
        if need_b:
            grad_b = unbroadcast(grad * (1 - self.first), shape_b)
        return grad_a, grad_b


class Maximum(_Pairwise):
    @staticmethod
    def pick(a, b):
        return a > b


class Minimum(_Pairwise):
    @staticmethod
    def pick(a, b):
        return a < b


class Cast(Function):
    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.dtype)


class ToDevice(Function):
    def forward(self, a, device):
        self.device = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, grad):
        return backend.to_device(grad, self.device)


def reshape(x, shape):
    return Reshape.apply(x, shape=tuple(shape) if isinstance(shape, list) else shape)


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None)."""
    return Transpose.apply(x, axes=tuple(axes) if axes is not None else None)


def permute(x, axes):
    return transpose(x, axes)


def flatten(x, start_axis=1):
    """Merge the axes from ``start_axis`` on into one (negative counts from the end)."""
    shape = x.shape
    if not -len(shape) <= start_axis < builtins.max(len(shape), 1):
        raise ValueError(
            f"invalid start_axis {start_axis} for a tensor of shape {tuple(shape)}; "
            f"expected -{len(shape)} <= start_axis < {len(shape)}"
        )
    start = start_axis % len(shape) if shape else 0
    return reshape(x, (*shape[:start], -1))


def _index_arrays(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(part.data if isinstance(part, Tensor) else part for part in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x, index):
    """Index like NumPy (basic and advanced); repeated indices add gradients."""
    return GetItem.apply(x, index=_index_arrays(index))


def _joinable(tensors, name):
    """Return ``tensors`` with arrays cast like the first Tensor among them."""
    if not tensors:
        raise ValueError(f"{name} needs at least one tensor")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    if like is None:
        return [Tensor(t) for t in tensors]
    return [t if isinstance(t, Tensor) else _constant(t, like.data) for t in tensors]


def concat(tensors, axis=0):
    """Join tensors along an existing axis."""
    return Concat.apply(*_joinable(tensors, "concat"), axis=axis)


def stack(tensors, axis=0):
    """Join tensors along a new axis."""
    return Stack.apply(*_joinable(tensors, "stack"), axis=axis)


def _pad_pairs(pad_width, ndim):
    if isinstance(pad_width, int):
        return ((pad_width, pad_width),) * ndim
    pairs = tuple(pad_width)
    if len(pairs) == 2 and builtins.all(isinstance(p, int) for p in pairs):
        return (tuple(pairs),) * ndim
    if len(pairs) != ndim:
        raise ValueError(
            f"pad_width needs one (before, after) pair per axis ({ndim}), "
            f"got {pad_width!r}"
        )
    return tuple((int(before), int(after)) for before, after in pairs)


def pad(x, pad_width, value=0.0):
    """Pad with a constant; ``pad_width`` is as in :func:`numpy.pad`."""
    pairs = _pad_pairs(pad_width, x.ndim)
    if builtins.any(before < 0 or after < 0 for before, after in pairs):
        raise ValueError(f"pad_width must not be negative, got {pad_width!r}")
    return Pad.apply(x, pad_width=pairs, value=value)


def where(condition, x, y):
    """Pick ``x`` where ``condition`` is true and ``y`` elsewhere."""
    if isinstance(condition, Tensor):
        condition = condition.data
    elif not hasattr(condition, "astype"):  # a list or a Python bool
        condition = np.asarray(condition)
    x, y = _operands(x, y)
    return Where.apply(condition.astype(bool), x, y)


def maximum(a, b):
    return _elementwise(Maximum, "maximum", a, b)


def minimum(a, b):
    return _elementwise(Minimum, "minimum", a, b)


def cast(x, dtype):
    return Cast.apply(x, dtype=np.dtype(dtype))


def to_device(x, device):
    return ToDevice.apply(x, device=device)
