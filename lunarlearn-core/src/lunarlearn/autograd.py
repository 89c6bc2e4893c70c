"""Define-by-run automatic differentiation.

Every differentiable operation is a :class:`Function` subclass with a
``forward`` and a ``backward`` on raw backend arrays. Calling
``SomeFunction.apply(*inputs)`` runs ``forward`` and, when grad mode is on and
some input requires a gradient, records the function as the creator of the
output Tensor. :func:`backward` walks the recorded graph once in topological
order, so each node's ``backward`` runs a single time with the sum of all the
gradients that flow into its output.
"""

import functools
import threading

_grad_mode = threading.local()


def is_grad_enabled():
    """Return whether operations are recorded for differentiation in this thread."""
    return getattr(_grad_mode, "enabled", True)


class _GradMode:
    """Context manager and decorator that sets grad mode for its block.

    Use it as ``with no_grad():``, ``@no_grad()`` or ``@no_grad``. One
    instance may be entered again while it is active.
    """

    enabled = True

    def __new__(cls, function=None):
        instance = super().__new__(cls)
        instance._previous = []
        if function is None:
            return instance
        return instance(function)

    def __enter__(self):
        self._previous.append(is_grad_enabled())
        _grad_mode.enabled = self.enabled

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self._previous.pop()
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return function(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named like a function, as in PyTorch
    """Run a block (or decorate a function) without recording operations."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record operations inside a block even where an outer block disabled it."""

    enabled = True


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched to ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(
        axis
        for axis, (size, grad_size) in enumerate(zip(shape, grad.shape, strict=True))
        if size == 1 and grad_size != 1
    )
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """A differentiable operation on backend arrays.

    Subclasses implement :meth:`forward` and :meth:`backward` and store on
    ``self`` whatever ``backward`` needs. ``needs_input_grad`` is set before
    ``forward`` runs, so a function can skip work for inputs without gradient.
    """

    #: Positional inputs that take part in the graph (None for the others).
    inputs = None
    #: One flag per positional input: whether its gradient is needed.
    needs_input_grad = ()
    _hooks = ()
    _retained_output = None

    def forward(self, *arrays, **kwargs):
        """Compute the output array from the input arrays."""
        raise NotImplementedError

    def backward(self, grad_output):
        """Return the gradient of each positional input (None where not needed).

        Each gradient has its input's shape and dtype. A single input may
        return a bare array instead of a one-element tuple.
        """
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the function on Tensors or arrays and return the output Tensor.

        Inputs that are not Tensors are constants. The output is part of the
        graph when grad mode is on and at least one input requires a gradient.
        """
        tensor_class = _tensor.Tensor
        arrays = []
        needs = []
        for value in inputs:
            if isinstance(value, tensor_class):
                arrays.append(value.data)
                needs.append(value.requires_grad)
            else:
                arrays.append(value)
                needs.append(False)

        function = cls()
        record = any(needs) and is_grad_enabled()
        if record:
            function.needs_input_grad = tuple(needs)
        else:
            function.needs_input_grad = (False,) * len(needs)
        output = function.forward(*arrays, **kwargs)
        if not record:
            return tensor_class._make(output, False, None)

        function.inputs = tuple(
            value if need else None for value, need in zip(inputs, needs, strict=True)
        )
        return tensor_class._make(output, True, function)

    def release(self):
        """Drop the inputs and saved arrays once the graph is no longer needed."""
        self.__dict__.clear()
        self.inputs = None


def _topological_order(root):
    """Return the functions reachable from ``root``, each after all its consumers."""
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        function, expanded = stack.pop()
        if expanded:
            order.append(function)
            continue
        if function in visited:
            continue
        visited.add(function)
        stack.append((function, True))
        for tensor in function.inputs or ():
            if tensor is not None and tensor._creator is not None:
                if tensor._creator not in visited:
                    stack.append((tensor._creator, False))
    order.reverse()
    return order


def _accumulate_leaf(tensor, grad):
    for hook in tensor._hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    # Accumulate out of place: gradients may be shared between tensors.
    tensor.grad = grad if tensor.grad is None else tensor.grad + grad


def backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (the gradient of ``root``) back to every leaf."""
    if root._creator is None:
        _accumulate_leaf(root, grad)
        return

    pending = {root._creator: grad}
    # A leaf used by several functions gets the sum of their gradients before
    # its hooks run, so a hook receives the leaf's whole gradient once per pass.
    leaf_grads = {}
    for function in _topological_order(root._creator):
        grad = pending.pop(function, None)
        if grad is None:
            continue
        if function.inputs is None:
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed; "
                "pass retain_graph=True to the first backward() to keep them"
            )
        for hook in function._hooks:
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
        if function._retained_output is not None:
            output = function._retained_output()
            if output is not None:
                output.grad = grad if output.grad is None else output.grad + grad

        input_grads = function.backward(grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for tensor, input_grad in zip(function.inputs, input_grads, strict=False):
            if tensor is None or input_grad is None:
                continue
            creator = tensor._creator
            if creator is None:
                if id(tensor) in leaf_grads:
                    input_grad = leaf_grads[id(tensor)][1] + input_grad
                leaf_grads[id(tensor)] = (tensor, input_grad)
            elif creator in pending:
                pending[creator] = pending[creator] + input_grad
            else:
                pending[creator] = input_grad
        if not retain_graph:
            function.release()
    for tensor, leaf_grad in leaf_grads.values():
        _accumulate_leaf(tensor, leaf_grad)


# Imported last because tensor.py builds on the names above.
from lunarlearn import tensor as _tensor  # noqa: E402
