import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.testing import gradcheck
from lunarlearn_layers.losses import CrossEntropy, MSELoss, cross_entropy, mse_loss

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def labels(n, classes, seed=0):
    return np.random.default_rng(seed).integers(0, classes, size=n)


def one_hot(indices, classes):
    return np.eye(classes, dtype=np.float32)[indices]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_gradcheck_int_targets(reduction, smoothing):
    target = labels(5, 4)
    assert gradcheck(
        lambda z: cross_entropy(z, target, smoothing, reduction), [random((5, 4))]
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_gradcheck_one_hot_targets(smoothing):
    target = one_hot(labels(6, 3), 3)
    assert gradcheck(lambda z: cross_entropy(z, target, smoothing), [random((6, 3))])


def test_cross_entropy_gradcheck_probability_targets():
    target = np.random.default_rng(1).dirichlet(np.ones(5), size=4)
    assert gradcheck(
        lambda z: cross_entropy(z, target, reduction="sum"), [random((4, 5))]
    )


def check_against_torch(logits, target, torch_target, **options):
    zt = ll.Tensor(logits, requires_grad=True)
    loss = cross_entropy(zt, target, **options)
    zr = torch.tensor(logits, requires_grad=True)
    ref = TF.cross_entropy(zr, torch_target, **options)
    grad = random(tuple(ref.shape), 9) if ref.ndim else np.float32(1.5)
    loss.backward(np.asarray(grad, dtype=np.float32))
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zt.grad, zr.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert loss.dtype == np.float32
    assert zt.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(8, 10), (3, 2), (1, 7)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_int_targets_match_torch(shape, reduction, label_smoothing):
    logits = random(shape) * 3
    target = labels(shape[0], shape[1], 1)
    check_against_torch(
        logits,
        target,
        torch.tensor(target),
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets_match_torch(reduction, label_smoothing):
    logits = random((6, 5)) * 2
    target = np.random.default_rng(2).dirichlet(np.ones(5), size=6).astype(np.float32)
    check_against_torch(
        logits,
        target,
        torch.tensor(target),
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def test_cross_entropy_one_hot_equals_int_targets():
    logits = ll.Tensor(random((7, 4)))
    target = labels(7, 4, 3)
    by_index = cross_entropy(logits, target)
    by_one_hot = cross_entropy(logits, one_hot(target, 4))
    np.testing.assert_allclose(by_index.data, by_one_hot.data, rtol=1e-6)


def test_cross_entropy_is_stable_for_large_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-5e3, 5e3, 0.0]], dtype=np.float32)
    zt = ll.Tensor(logits, requires_grad=True)
    loss = cross_entropy(zt, np.array([0, 0]))
    loss.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), 5e3, rtol=1e-6)
    assert np.all(np.isfinite(zt.grad))
    np.testing.assert_allclose(zt.grad, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-6)


def test_cross_entropy_accepts_tensor_and_float_labels():
    logits = ll.Tensor(random((3, 4)))
    target = np.array([0, 3, 1])
    expected = cross_entropy(logits, target).item()
    assert cross_entropy(logits, ll.Tensor(target)).item() == expected
    assert cross_entropy(logits, target.astype(np.float32)).item() == expected


@pytest.mark.parametrize("bad", [4, -1, 10])
def test_cross_entropy_rejects_label_out_of_range(bad):
    target = np.array([0, bad, 1])
    with pytest.raises(ValueError, match=rf"label {bad} .*\[0, 3\] for 4 classes"):
        cross_entropy(ll.Tensor(random((3, 4))), target)


def test_cross_entropy_rejects_fractional_label():
    with pytest.raises(ValueError, match="label 1.5"):
        cross_entropy(ll.Tensor(random((2, 4))), np.array([0.0, 1.5]))


def test_cross_entropy_rejects_bad_shapes():
    with pytest.raises(ShapeError, match=r"logits shape \(3, 4\), target shape \(2,\)"):
        cross_entropy(ll.Tensor(random((3, 4))), np.array([0, 1]))
    with pytest.raises(ShapeError, match=r"target shape \(3, 5\)"):
        cross_entropy(ll.Tensor(random((3, 4))), np.zeros((3, 5)))
    with pytest.raises(ShapeError, match=r"logits shape \(3, 4, 2\)"):
        cross_entropy(ll.Tensor(random((3, 4, 2))), np.array([0, 1, 2]))


def test_cross_entropy_class_options():
    with pytest.raises(ConfigError, match="reduction='avg'"):
        CrossEntropy(reduction="avg")
    with pytest.raises(ConfigError, match="label_smoothing=1.5"):
        CrossEntropy(label_smoothing=1.5)
    loss = registry.create("losses", {"type": "cross_entropy", "reduction": "sum"})
    assert loss.get_config() == {"label_smoothing": 0.0, "reduction": "sum"}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch(reduction):
    output, target = random((4, 3)), random((4, 3), 1)
    ot = ll.Tensor(output, requires_grad=True)
    loss = MSELoss(reduction)(ot, target)
    orr = torch.tensor(output, requires_grad=True)
    ref = TF.mse_loss(orr, torch.tensor(target), reduction=reduction)
    grad = random(tuple(ref.shape), 2)
    loss.backward(grad)
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ot.grad, orr.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert loss.dtype == np.float32


def test_mse_gradcheck():
    target = random((3, 2), 1)
    assert gradcheck(lambda y: mse_loss(y, target), [random((3, 2))])


def test_mse_keeps_float32_for_float64_target():
    loss = mse_loss(ll.Tensor(random((2, 2))), np.zeros((2, 2), dtype=np.float64))
    assert loss.dtype == np.float32


def test_mse_rejects_shape_mismatch():
    with pytest.raises(ShapeError, match=r"output shape \(4, 1\), target shape \(4,\)"):
        mse_loss(ll.Tensor(random((4, 1))), np.zeros(4))


def test_losses_found_by_name():
    assert registry.get("losses", "cross_entropy") is CrossEntropy
    assert registry.get("losses", "mse") is MSELoss


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_unnormalised_targets_match_torch(reduction, label_smoothing):
    # Rows summing to 1, 0 (all zero), 2 (multi-hot) and 0.5.
    target = np.array(
        [
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [1.0, 0.0, 1.0, 0.0],
            [0.25, 0.0, 0.0, 0.25],
        ],
        dtype=np.float32,
    )
    logits = random((4, 4), 5) * 2
    check_against_torch(
        logits,
        target,
        torch.tensor(target),
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def test_cross_entropy_all_zero_target_has_zero_grad():
    zt = ll.Tensor(random((2, 3)), requires_grad=True)
    cross_entropy(zt, np.zeros((2, 3), dtype=np.float32), reduction="sum").backward()
    np.testing.assert_array_equal(zt.grad, np.zeros((2, 3), dtype=np.float32))


def test_cross_entropy_gradcheck_multi_hot_targets():
    target = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=np.float32)
    assert gradcheck(
        lambda z: cross_entropy(z, target, reduction="sum"), [random((3, 3))]
    )


@pytest.mark.parametrize("reduction", ["avg", "MEAN", None])
def test_loss_functions_reject_bad_reduction(reduction):
    logits = ll.Tensor(random((3, 4)))
    with pytest.raises(ConfigError, match=rf"reduction={reduction!r}"):
        cross_entropy(logits, np.array([0, 1, 2]), reduction=reduction)
    with pytest.raises(ConfigError, match=rf"reduction={reduction!r}"):
        mse_loss(logits, np.zeros((3, 4)), reduction=reduction)


@pytest.mark.parametrize("smoothing", [5.0, -0.1, True, "0.1"])
def test_cross_entropy_function_rejects_bad_label_smoothing(smoothing):
    with pytest.raises(ConfigError, match=rf"label_smoothing={smoothing!r}"):
        cross_entropy(ll.Tensor(random((3, 4))), np.array([0, 1, 2]), smoothing)


def test_losses_accept_raw_array_outputs():
    logits = random((3, 4))
    target = np.array([2, 0, 1])
    by_array = cross_entropy(logits, target)
    by_tensor = cross_entropy(ll.Tensor(logits), target)
    assert isinstance(by_array, ll.Tensor)
    assert by_array.item() == by_tensor.item()
    expected = mse_loss(ll.Tensor(logits), np.ones((3, 4))).item()
    assert mse_loss(logits, np.ones((3, 4))).item() == expected
