"""Numerical gradient checks for Functions, layers and losses."""

import numpy as np

from lunarlearn.tensor import Tensor


def numerical_grad(fn, arrays, index, grad_output, eps=1e-6):
    """Estimate the gradient of sum(fn(*arrays) * grad_output) by central differences.

    The gradient is taken with respect to ``arrays[index]``.
    """
    # Perturb a C-ordered copy: reshape(-1) of any other layout returns a copy,
    # and writing to that copy would leave the input unchanged.
    arrays = list(arrays)
    target = arrays[index] = np.array(arrays[index], dtype=np.float64, order="C")
    grad = np.zeros_like(target)
    flat = target.reshape(-1)
    flat_grad = grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = float(np.sum(_forward_array(fn, arrays) * grad_output))
        flat[i] = saved - eps
        minus = float(np.sum(_forward_array(fn, arrays) * grad_output))
        flat[i] = saved
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def _forward_array(fn, arrays):
    out = fn(*[Tensor(a, dtype=np.float64) for a in arrays])
    return out.data


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare ``fn``'s analytic gradients with central differences in float64.

    ``fn`` takes Tensors and returns a Tensor; ``inputs`` are arrays (cast to
    float64 copies). The output is contracted with a random weight, so every
    output element contributes. Returns True, or raises AssertionError naming
    the input, the largest difference and where it is.
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]
    tensors = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in arrays]
    out = fn(*tensors)
    if out.dtype != np.float64:
        raise AssertionError(f"gradcheck needs a float64 output, got {out.dtype}")
    grad_output = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(grad_output)

    for index, tensor in enumerate(tensors):
        expected = numerical_grad(fn, arrays, index, grad_output, eps=eps)
        actual = tensor.grad if tensor.grad is not None else np.zeros_like(expected)
        if actual.shape != expected.shape:
            raise AssertionError(
                f"input {index}: gradient shape {actual.shape}, "
                f"expected {expected.shape}"
            )
        if actual.dtype != np.float64:
            raise AssertionError(
                f"input {index}: gradient dtype {actual.dtype}, expected float64"
            )
        if not np.allclose(actual, expected, atol=atol, rtol=rtol):
            error = np.abs(actual - expected)
            where = tuple(
                int(i) for i in np.unravel_index(np.argmax(error), error.shape)
            )
            raise AssertionError(
                f"input {index}: analytic and numerical gradients differ by up to "
                f"{error.max():.3g} at {where} (analytic {actual[where]:.6g}, "
                f"numerical {expected[where]:.6g})"
            )
    return True
