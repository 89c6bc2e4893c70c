"""The Tensor: a backend array with the autograd graph around it."""

import weakref

import numpy as np

from lunarlearn import autograd, backend


def _to_array(data, dtype):
    """Convert ``data`` to a backend array, with float32 as the default float."""
    xp = backend.get_array_module(data)
    if dtype is not None:
        return xp.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray | np.generic) or xp is not np:
        array = xp.asarray(data)
        if array.dtype == np.float64:
            # A float64 array from user code is data, not a request for
            # double precision: pass dtype="float64" explicitly for that.
            array = array.astype(backend.DEFAULT_DTYPE)
        return array
    array = np.asarray(data)
    if array.dtype.kind == "f" or array.dtype == object:
        array = array.astype(backend.DEFAULT_DTYPE)
    return array


def _check_numeric(array):
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor data must be numeric (bool, integer, float or complex), got "
            f"dtype {array.dtype}"
        )
    return array


class Tensor:
    """An n-dimensional array that records operations for differentiation.

    ``data`` is a NumPy or CuPy array. ``grad`` is an array of the same shape
    (not a Tensor), or None before the first backward pass. Treat it as
    read-only, because one gradient array may be shared by several tensors.
    """

    __slots__ = ("data", "grad", "requires_grad", "_creator", "_hooks", "__weakref__")
    # Makes NumPy defer to Tensor's reflected operators (array + tensor).
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _check_numeric(_to_array(data, dtype))
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._creator = None
        self._hooks = ()

    @classmethod
    def _make(cls, data, requires_grad, creator):
        """Wrap an array produced by an operation, without conversion."""
        tensor = object.__new__(cls)
        tensor.data = data
        tensor.grad = None
        tensor.requires_grad = requires_grad
        tensor._creator = creator
        tensor._hooks = ()
        return tensor

    # Properties -----------------------------------------------------------

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self._creator is None

    @property
    def T(self):  # noqa: N802 - the usual name for the transpose
        return F.transpose(self)

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        # Without this, truth testing falls back to __len__, so a one-element
        # tensor holding False or 0.0 would be true.
        return bool(self.data)

    def __repr__(self):
        body = np.array2string(np.asarray(backend.to_device(self.data, "cpu")))
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # Autograd -------------------------------------------------------------

    def backward(self, grad=None, retain_graph=False):
        """Compute the gradient of this tensor with respect to every leaf.

        ``grad`` defaults to ones for a single-element tensor and is required
        otherwise. Gradients add up in each leaf's ``grad`` across calls. The
        graph is freed afterwards unless ``retain_graph`` is true.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad; make "
                "an input require grad or compute outside no_grad()"
            )
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a single-element tensor, "
                    f"got shape {self.shape}; pass grad= with that shape"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            grad = xp.asarray(grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"grad has shape {grad.shape} but the tensor has shape {self.shape}"
                )
        autograd.backward(self, grad, retain_graph=retain_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        A hook may return a replacement gradient. Returns a handle whose
        ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that does not require grad"
            )
        owner = self if self._creator is None else self._creator
        owner._hooks = (*owner._hooks, hook)
        return _HookHandle(owner, hook)

    def retain_grad(self):
        """Keep the gradient of this intermediate tensor in ``grad``."""
        if self._creator is not None:
            self._creator._retained_output = weakref.ref(self)

    def detach(self):
        """Return a tensor sharing this data but cut from the graph."""
        return Tensor._make(self.data, False, None)

    def zero_grad(self):
        self.grad = None

    # Conversion -----------------------------------------------------------

    def numpy(self):
        """Return the data as a NumPy array (copied from the GPU if needed)."""
        return backend.to_device(self.data, "cpu")

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device):
        """Return this tensor on ``device`` ("cpu" or "cuda"), keeping the graph."""
        if backend.device_of(self.data) == device:
            return self
        return F.to_device(self, device)

    def astype(self, dtype):
        """Return this tensor cast to ``dtype``; gradients are cast back."""
        return F.cast(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    # Operators ------------------------------------------------------------

    def __add__(self, other):
        return F.add(self, other)

    def __radd__(self, other):
        return F.add(other, self)

    def __sub__(self, other):
        return F.sub(self, other)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __mul__(self, other):
        return F.mul(self, other)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __truediv__(self, other):
        return F.div(self, other)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __pow__(self, other):
        return F.pow(self, other)

    def __rpow__(self, other):
        return F.pow(other, self)

    def __neg__(self):
        return F.neg(self)

    def __matmul__(self, other):
        return F.matmul(self, other)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __getitem__(self, index):
        return F.getitem(self, index)

    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(op(self.data, other), False, None)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    __hash__ = object.__hash__

    # Methods that mirror lunarlearn.functional ------------------------------

    def sum(self, axis=None, keepdims=False):
        return F.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return F.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return F.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return F.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return F.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def clip(self, min=None, max=None):  # noqa: A002 - mirrors numpy.clip
        return F.clip(self, min, max)

    def tanh(self):
        return F.tanh(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def relu(self):
        return F.relu(self)

    def softmax(self, axis=-1):
        return F.softmax(self, axis=axis)

    def log_softmax(self, axis=-1):
        return F.log_softmax(self, axis=axis)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return F.reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return F.transpose(self, axes or None)

    def permute(self, *axes):
        return self.transpose(*axes)

    def flatten(self, start_axis=1):
        return F.flatten(self, start_axis=start_axis)


class _HookHandle:
    """Handle returned by :meth:`Tensor.register_hook`."""

    def __init__(self, owner, hook):
        self._owner = owner
        self._hook = hook

    def remove(self):
        self._owner._hooks = tuple(h for h in self._owner._hooks if h is not self._hook)


# Imported last: functional builds its operations on Tensor.
from lunarlearn import functional as F  # noqa: E402
