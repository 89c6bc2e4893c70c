import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.testing import gradcheck
from lunarlearn_layers.layers.normalization import BatchNorm1d, BatchNorm2d, batch_norm

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_batch_norm_gradcheck_training():
    x = random((3, 2, 3, 4)) * 2 + 1
    gamma, beta = random((2,), 1), random((2,), 2)

    def fn(x, gamma, beta):
        return batch_norm(x, None, None, gamma, beta, training=True)

    assert gradcheck(fn, [x, gamma, beta])


def test_batch_norm_gradcheck_training_without_affine():
    x = random((4, 3, 2, 2))
    assert gradcheck(lambda x: batch_norm(x, None, None, training=True), [x])


def test_batch_norm_gradcheck_eval():
    x = random((2, 3, 2, 3))
    mean, var = random((3,), 1), np.abs(random((3,), 2)) + 0.5
    gamma, beta = random((3,), 3), random((3,), 4)

    def fn(x, gamma, beta):
        return batch_norm(x, mean, var, gamma, beta, training=False)

    assert gradcheck(fn, [x, gamma, beta])


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 6, 3, 7), (16, 1, 2, 2)])
def test_batchnorm2d_training_matches_torch(shape):
    layer = BatchNorm2d()
    ref_layer = torch.nn.BatchNorm2d(shape[1])
    x = ll.Tensor(random(shape) * 3 + 2, requires_grad=True)
    layer(x)  # builds weight and bias
    layer.weight.data[...] = random((shape[1],), 5)
    layer.bias.data[...] = random((shape[1],), 6)
    out = layer(x)
    with torch.no_grad():
        ref_layer.weight.copy_(torch.tensor(layer.weight.data))
        ref_layer.bias.copy_(torch.tensor(layer.bias.data))
    xr = torch.tensor(x.data, requires_grad=True)
    ref = ref_layer(xr)

    grad = random(shape, 7)
    out.backward(grad)
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        layer.weight.grad, ref_layer.weight.grad.numpy(), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        layer.bias.grad, ref_layer.bias.grad.numpy(), rtol=1e-4, atol=1e-4
    )


def test_batchnorm2d_running_stats_match_torch():
    layer = BatchNorm2d(momentum=0.2)
    ref_layer = torch.nn.BatchNorm2d(3, momentum=0.2)
    for step in range(5):
        x = random((4, 3, 6, 5), step) * (step + 1) + step
        layer(ll.Tensor(x))
        ref_layer(torch.tensor(x))
    np.testing.assert_allclose(
        layer.running_mean, ref_layer.running_mean.numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        layer.running_var, ref_layer.running_var.numpy(), rtol=1e-5, atol=1e-6
    )
    assert layer.running_mean.dtype == np.float32
    assert layer.running_var.dtype == np.float32

    layer.eval()
    ref_layer.eval()
    x = random((2, 3, 6, 5), 9)
    xt = ll.Tensor(x, requires_grad=True)
    out = layer(xt)
    xr = torch.tensor(x, requires_grad=True)
    ref = ref_layer(xr)
    grad = random((2, 3, 6, 5), 10)
    out.backward(grad)
    ref.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        layer.weight.grad, ref_layer.weight.grad.numpy(), rtol=1e-4, atol=1e-4
    )


def test_batchnorm2d_eval_leaves_running_stats():
    layer = BatchNorm2d()
    layer(ll.Tensor(random((2, 2, 3, 3))))
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    layer.eval()
    layer(ll.Tensor(random((2, 2, 3, 3), 1) + 5))
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)


def test_batch_norm_functional_matches_torch_without_affine():
    x = random((5, 4, 3, 3), 2)
    mean, var = np.zeros(4, np.float32), np.ones(4, np.float32)
    out = batch_norm(ll.Tensor(x), mean, var, training=True, momentum=0.3)
    rm, rv = torch.zeros(4), torch.ones(4)
    ref = TF.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=0.3)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mean, rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, rv.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_batchnorm1d_matches_torch(shape):
    layer = BatchNorm1d()
    ref_layer = torch.nn.BatchNorm1d(shape[1])
    x = random(shape)
    xt = ll.Tensor(x, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    out, ref = layer(xt), ref_layer(xr)
    out.backward(random(shape, 1))
    ref.backward(torch.tensor(random(shape, 1)))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        layer.running_var, ref_layer.running_var.numpy(), rtol=1e-5
    )


def test_batchnorm2d_builds_lazily():
    layer = BatchNorm2d()
    layer(ll.Tensor(random((2, 5, 3, 3))))
    assert layer.num_features == 5
    assert layer.weight.shape == (5,)
    assert [name for name, _ in layer.named_buffers()] == [
        "running_mean",
        "running_var",
    ]
    assert set(layer.state_dict()) == {
        "weight",
        "bias",
        "running_mean",
        "running_var",
    }


def test_batchnorm2d_without_affine_has_no_parameters():
    layer = BatchNorm2d(affine=False)
    layer(ll.Tensor(random((2, 3, 2, 2))))
    assert list(layer.parameters()) == []


def test_batchnorm2d_float32_grads():
    layer = BatchNorm2d()
    x = ll.Tensor(random((2, 3, 4, 4)), requires_grad=True)
    out = layer(x)
    (out * out).sum().backward()
    assert out.dtype == np.float32
    assert x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_batchnorm2d_rejects_one_value_per_channel():
    with pytest.raises(ShapeError, match="more than one value per channel"):
        BatchNorm2d()(ll.Tensor(random((1, 3, 1, 1))))


def test_batchnorm2d_rejects_non_4d_input():
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        BatchNorm2d()(ll.Tensor(random((4, 3))))


@pytest.mark.parametrize(("option", "value"), [("momentum", 1.5), ("eps", 0)])
def test_batchnorm2d_rejects_bad_options(option, value):
    with pytest.raises(ConfigError, match=option):
        BatchNorm2d(**{option: value})


def test_batchnorm2d_registry_config():
    layer = registry.create("layers", {"type": "batchnorm2d", "momentum": 0.05})
    assert layer.get_config() == {"momentum": 0.05, "eps": 1e-5, "affine": True}


def test_batchnorm2d_rejects_channel_change():
    layer = BatchNorm2d()
    layer(ll.Tensor(random((2, 3, 2, 2))))
    with pytest.raises(ShapeError, match="built for 3 channels"):
        layer(ll.Tensor(random((2, 4, 2, 2))))


def test_batch_norm_needs_weight_and_bias_together():
    with pytest.raises(ValueError, match="both weight and bias"):
        batch_norm(ll.Tensor(random((2, 3))), None, None, np.ones(3, np.float32))


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batchnorm2d_inference_matches_torch(affine):
    # Under no_grad the eval forward takes its own two-pass path.
    layer = BatchNorm2d(affine=affine)
    ref_layer = torch.nn.BatchNorm2d(3, affine=affine)
    for step in range(3):
        x = random((4, 3, 5, 5), step) * 2 + 1
        layer(ll.Tensor(x))
        ref_layer(torch.tensor(x))
    if affine:
        layer.weight.data = random((3,), 20)
        layer.bias.data = random((3,), 21)
        ref_layer.weight.data = torch.tensor(layer.weight.data)
        ref_layer.bias.data = torch.tensor(layer.bias.data)
    layer.eval()
    ref_layer.eval()
    x = random((2, 3, 5, 5), 9)
    with ll.no_grad():
        out = layer(ll.Tensor(x))
    with torch.no_grad():
        ref = ref_layer(torch.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5, atol=1e-5)
