"""lunarlearn.testing.gradcheck must reject wrong backward passes."""

import numpy as np
import pytest

import lunarlearn.functional as F
from lunarlearn import Function
from lunarlearn.testing import gradcheck, numerical_grad


class ScaledProduct(Function):
    """Compute a * sin(b). The subclasses below break one of its derivatives."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * np.sin(b)

    def grad_a(self, grad):
        return grad * np.sin(self.b)

    def grad_b(self, grad):
        return grad * self.a * np.cos(self.b)

    def backward(self, grad):
        return self.grad_a(grad), self.grad_b(grad)


class WrongSecondDerivative(ScaledProduct):
    def grad_b(self, grad):
        return grad * self.a * np.sin(self.b)  # should be cos


class WrongFirstDerivative(ScaledProduct):
    def grad_a(self, grad):
        return 2 * grad * np.sin(self.b)  # off by a factor of two


class WrongShape(ScaledProduct):
    def grad_a(self, grad):
        return grad.sum(axis=0)


class Float32Output(ScaledProduct):
    def forward(self, a, b):
        return super().forward(a, b).astype(np.float32)


A = np.random.default_rng(0).standard_normal((3, 4))
B = np.random.default_rng(1).standard_normal((3, 4))


def test_correct_backward_passes():
    assert gradcheck(ScaledProduct.apply, [A, B])


def test_wrong_derivative_names_second_input():
    with pytest.raises(AssertionError, match=r"^input 1: .*differ by up to"):
        gradcheck(WrongSecondDerivative.apply, [A, B])


def test_wrong_derivative_names_first_input():
    with pytest.raises(AssertionError, match=r"^input 0: .*differ by up to"):
        gradcheck(WrongFirstDerivative.apply, [A, B])


def test_wrong_gradient_shape_raises():
    with pytest.raises(AssertionError, match=r"input 0: gradient shape \(4,\)"):
        gradcheck(WrongShape.apply, [A, B])


def test_float32_output_rejected():
    with pytest.raises(AssertionError, match="float64"):
        gradcheck(Float32Output.apply, [A, B])


def test_missing_gradient_is_caught():
    # A backward that returns None for an input that matters counts as zero.
    class DropsSecond(ScaledProduct):
        def backward(self, grad):
            return self.grad_a(grad), None

    with pytest.raises(AssertionError, match="^input 1"):
        gradcheck(DropsSecond.apply, [A, B])


def test_small_error_caught_by_tolerance():
    class SlightlyOff(ScaledProduct):
        def grad_a(self, grad):
            return grad * np.sin(self.b) * 1.01

    with pytest.raises(AssertionError, match="^input 0"):
        gradcheck(SlightlyOff.apply, [A, B])


@pytest.mark.parametrize(
    "layout",
    [A.T, np.asfortranarray(A), A[:, ::2], np.float32(2.5), [[0.5, -1.0]]],
    ids=["transposed", "fortran", "strided", "numpy-scalar", "nested-list"],
)
def test_gradcheck_accepts_any_input_layout(layout):
    assert gradcheck(lambda x: F.exp(x) * x, [layout])


def test_mismatch_message_gives_position():
    with pytest.raises(AssertionError, match=r"at \(\d+, \d+\) \(analytic"):
        gradcheck(WrongSecondDerivative.apply, [A, B])


def test_gradcheck_leaves_inputs_unchanged():
    a, b = A.copy(), B.copy()
    gradcheck(lambda x, y: F.mul(x, y).exp(), [a, b])
    np.testing.assert_array_equal(a, A)
    np.testing.assert_array_equal(b, B)


def test_numerical_grad_matches_analytic():
    arrays = [A.copy(), B.copy()]
    weights = np.ones((3, 4))
    expected_b = A * np.cos(B)
    np.testing.assert_allclose(
        numerical_grad(ScaledProduct.apply, arrays, 1, weights), expected_b, atol=1e-7
    )
