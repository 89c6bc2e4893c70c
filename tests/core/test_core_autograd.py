"""The autograd engine: accumulation, graph lifetime, grad mode, hooks, dtypes."""

import threading

import numpy as np
import pytest
import torch

import lunarlearn.functional as F
from lunarlearn import Function, Tensor, enable_grad, is_grad_enabled, no_grad


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)


# Accumulation and graph lifetime -----------------------------------------------


def test_gradients_accumulate_across_backward_calls():
    x = leaf(X)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * X)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * X + 3)


def test_zero_grad_resets_accumulation():
    x = leaf(X)
    (x * 2.0).sum().backward()
    x.zero_grad()
    assert x.grad is None
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 5.0))


def test_second_backward_without_retain_graph_raises():
    x = leaf(X)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(X)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    np.testing.assert_allclose(first, np.exp(X) * (1 + X), rtol=1e-6)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)


def test_diamond_graph_sums_both_paths():
    x = leaf(X)
    a = x * 2.0
    b = x.exp()
    (a * b + x * x).sum().backward()

    reference = torch.tensor(X, requires_grad=True)
    (reference * 2.0 * reference.exp() + reference * reference).sum().backward()
    np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-6)


class CountingSquare(Function):
    """x ** 2 that counts its backward calls."""

    calls = 0

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        CountingSquare.calls += 1
        return 2 * self.x * grad


def test_shared_intermediate_backward_runs_once():
    CountingSquare.calls = 0
    x = leaf(X)
    h = CountingSquare.apply(x)
    # h feeds three consumers, so its backward must run once with their sum.
    (h * 2.0 + h.sigmoid() + h).sum().backward()
    assert CountingSquare.calls == 1

    reference = torch.tensor(X, requires_grad=True)
    h_ref = reference * reference
    (h_ref * 2.0 + h_ref.sigmoid() + h_ref).sum().backward()
    np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=1e-5)


def test_backward_through_long_chain():
    # Deep graphs are walked without recursion limits.
    x = leaf([1.0])
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])


# Grad mode ----------------------------------------------------------------------


def test_no_grad_context_records_nothing():
    x = leaf(X)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert is_grad_enabled()
    assert not y.requires_grad
    assert y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_restored_after_exception():
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError
    assert is_grad_enabled()


def test_no_grad_decorator_records_nothing():
    @no_grad()
    def double(t):
        assert not is_grad_enabled()
        return t * 2.0

    x = leaf(X)
    y = double(x)
    assert not y.requires_grad
    assert y.is_leaf
    assert is_grad_enabled()
    assert double.__name__ == "double"


def test_enable_grad_inside_no_grad():
    x = leaf(X)
    with no_grad():
        with enable_grad():
            y = (x * 3.0).sum()
        z = x * 3.0
    assert y.requires_grad
    assert not z.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 3.0))


def test_grad_mode_is_per_thread():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_constants_only_record_nothing():
    x = Tensor(X)
    y = x * 2.0 + 1.0
    assert not y.requires_grad
    assert y.is_leaf


# Detach and backward arguments ------------------------------------------------


def test_detach_cuts_graph_and_shares_data():
    x = leaf(X)
    h = x * 2.0
    d = h.detach()
    assert not d.requires_grad
    assert d.is_leaf
    assert np.shares_memory(d.data, h.data)
    y = (h * d).sum()
    y.backward()
    # d is a constant: dy/dx = 2 * d = 4x, not 8x.
    np.testing.assert_allclose(x.grad, 4 * X)


def test_backward_on_non_scalar_needs_grad():
    x = leaf(X)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"single-element.*\(2, 3\)"):
        y.backward()


def test_backward_with_explicit_grad():
    x = leaf(X)
    y = x * 2.0
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    y.backward(weights)
    np.testing.assert_allclose(x.grad, 2 * weights)


def test_backward_with_wrong_grad_shape_raises():
    x = leaf(X)
    y = x * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3, dtype=np.float32))


def test_backward_on_single_element_non_scalar():
    x = leaf([2.0])
    y = x * x
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0])


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(TypeError, match="int64"):
        Tensor(np.arange(3), requires_grad=True)


# Hooks and retain_grad --------------------------------------------------------


def test_leaf_hook_replaces_gradient_and_removes():
    x = leaf(X)
    handle = x.register_hook(lambda grad: grad * 10.0)
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 20.0))

    handle.remove()
    x.zero_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 2.0))


def test_hook_returning_none_only_observes():
    x = leaf(X)
    seen = []
    x.register_hook(lambda grad: seen.append(grad.copy()))
    (x * 3.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], np.full_like(X, 3.0))
    np.testing.assert_allclose(x.grad, np.full_like(X, 3.0))


def test_non_leaf_hook_replaces_gradient_upstream():
    x = leaf(X)
    h = x * 3.0
    seen = []

    def replace(grad):
        seen.append(grad.copy())
        return np.ones_like(grad)

    handle = h.register_hook(replace)
    (h * h).sum().backward()
    # The hook saw dy/dh = 2h and replaced it with ones, so dy/dx = 3.
    np.testing.assert_allclose(seen[0], 2 * 3 * X, rtol=1e-6)
    np.testing.assert_allclose(x.grad, np.full_like(X, 3.0))

    handle.remove()
    x.zero_grad()
    h = x * 3.0
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad, 18 * X, rtol=1e-6)


def test_removed_non_leaf_hook_no_longer_runs():
    x = leaf(X)
    h = x * 3.0
    handle = h.register_hook(lambda grad: grad * 0.0)
    handle.remove()
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad, 18 * X, rtol=1e-6)


def test_leaf_hook_sees_summed_gradient_once():
    # x feeds two products. As in PyTorch, its hook runs once with 2 + 3.
    x = leaf(X)
    seen = []
    x.register_hook(lambda grad: seen.append(grad.copy()))
    (x * 2.0 + x * 3.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], np.full_like(X, 5.0))


def test_leaf_hook_clipping_applies_to_total_gradient():
    x = leaf(X)
    x.register_hook(lambda grad: np.minimum(grad, 4.0))
    (x * 3.0 + x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 4.0))

    reference = torch.tensor(X, requires_grad=True)
    reference.register_hook(lambda grad: torch.clamp(grad, max=4.0))
    (reference * 3.0 + reference * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, reference.grad.numpy())


def test_hooks_chain_in_registration_order():
    x = leaf(X)
    x.register_hook(lambda grad: grad + 1.0)
    x.register_hook(lambda grad: grad * 2.0)
    x.sum().backward()
    np.testing.assert_allclose(x.grad, np.full_like(X, 4.0))


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(X).register_hook(lambda grad: grad)


def test_retain_grad_keeps_intermediate_gradient():
    x = leaf(X)
    h = x * 3.0
    h.retain_grad()
    other = x * 2.0
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * 3 * X, rtol=1e-6)
    assert other.grad is None
    np.testing.assert_allclose(x.grad, 18 * X + 2, rtol=1e-6)


# Dtypes -----------------------------------------------------------------------

BINARY_OPS = {
    "add": F.add,
    "sub": F.sub,
    "mul": F.mul,
    "div": F.div,
    "pow": F.pow,
    "maximum": F.maximum,
    "minimum": F.minimum,
}

CONSTANTS = {
    "int": 2,
    "float": 1.5,
    "np.float64": np.float64(1.5),
    "np.int64": np.int64(2),
    "np.float64-array": np.full((3,), 1.5, dtype=np.float64),
    "np.float32-array": np.full((2, 3), 1.5, dtype=np.float32),
    "np.int64-array": np.full((2, 1), 2, dtype=np.int64),
}


def positive_leaf():
    return leaf(np.abs(X) + 0.5)


@pytest.mark.parametrize("constant", CONSTANTS.values(), ids=CONSTANTS.keys())
@pytest.mark.parametrize("op", BINARY_OPS.values(), ids=BINARY_OPS.keys())
@pytest.mark.parametrize("side", ["tensor-first", "constant-first"])
def test_binary_op_keeps_float32(op, constant, side):
    x = positive_leaf()
    y = op(x, constant) if side == "tensor-first" else op(constant, x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}


@pytest.mark.parametrize("constant", CONSTANTS.values(), ids=CONSTANTS.keys())
@pytest.mark.parametrize("operator", OPERATORS.values(), ids=OPERATORS.keys())
def test_operators_keep_float32(operator, constant):
    for first_is_tensor in (True, False):
        x = positive_leaf()
        y = operator(x, constant) if first_is_tensor else operator(constant, x)
        assert isinstance(y, Tensor)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_float32_by_float32_tensor_grads():
    # Both operands trainable: each gradient keeps its own dtype and shape.
    x = positive_leaf()
    b = leaf(np.full((3,), 0.5))
    for op in BINARY_OPS.values():
        x.zero_grad()
        b.zero_grad()
        op(x, b).sum().backward()
        assert x.grad.dtype == np.float32
        assert b.grad.dtype == np.float32
        assert b.grad.shape == (3,)


MATMUL_CONSTANTS = {
    # id: (constant on the right of x (2, 3), constant on the left)
    "matrix": (np.full((3, 4), 0.5), np.full((4, 2), 0.5)),
    "vector": (np.full((3,), 0.5), np.full((2,), 0.5)),
    "strided-view": (np.ones((3, 6))[:, ::2], np.ones((4, 4))[:, ::2]),
    "int64": (np.ones((3, 4), dtype=np.int64), np.ones((4, 2), dtype=np.int64)),
}


@pytest.mark.parametrize(
    "right, left", MATMUL_CONSTANTS.values(), ids=MATMUL_CONSTANTS.keys()
)
def test_matmul_with_constant_keeps_float32(right, left):
    for product in (lambda x: F.matmul(x, right), lambda x: left @ x):
        x = positive_leaf()
        y = product(x)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_where_and_clip_with_float64_constants_keep_float32():
    x = positive_leaf()
    condition = X > 0
    for y in (
        F.where(condition, x, np.float64(0.5)),
        F.where(condition, np.full((2, 3), 0.5), x),
        F.clip(x, np.float64(0.6), np.float64(1.5)),
    ):
        assert y.dtype == np.float32
        x.zero_grad()
        y.sum().backward()
        assert x.grad.dtype == np.float32


def test_tensor_constructor_dtypes():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.ones(3)).dtype == np.float32
    assert Tensor(np.float64(2.0)).dtype == np.float32
    assert Tensor(np.ones(3), dtype=np.float64).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.int64
    assert Tensor(np.ones(3, dtype=np.float16)).dtype == np.float16


def test_tensor_truth_value_uses_data():
    assert not Tensor([0.0])
    assert Tensor([2.0])
    assert not (Tensor(1.0) > 2.0)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_comparisons_return_tensors_without_grad():
    x = leaf(X)
    mask = x > 0.3
    assert isinstance(mask, Tensor)
    assert mask.dtype == np.bool_
    assert not mask.requires_grad
    np.testing.assert_array_equal(mask.data, X > 0.3)
