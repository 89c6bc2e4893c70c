import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.testing import gradcheck
from lunarlearn_layers.layers.conv import Conv2d, conv2d

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def tf_same_padding(size, kernel, stride):
    """Padding (before, after) that TensorFlow uses for 'same', from its docs."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding"),
    [
        ((2, 2, 5, 5), (3, 2, 3, 3), 1, "valid"),
        ((2, 2, 6, 7), (3, 2, 3, 3), 2, "same"),
        ((1, 3, 5, 6), (2, 3, 2, 3), (2, 1), 1),
        ((2, 1, 6, 5), (2, 1, 3, 2), 1, (2, 0)),
        ((1, 2, 7, 7), (2, 2, 4, 4), 3, "same"),
    ],
)
def test_conv2d_gradcheck(x_shape, w_shape, stride, padding):
    x, w, b = random(x_shape), random(w_shape, 1), random((w_shape[0],), 2)

    def fn(x, w, b):
        return conv2d(x, w, b, stride=stride, padding=padding)

    assert gradcheck(fn, [x, w, b])


def test_conv2d_gradcheck_without_bias():
    x, w = random((2, 2, 5, 4)), random((2, 2, 3, 3), 1)
    assert gradcheck(lambda x, w: conv2d(x, w, padding="same"), [x, w])


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding"),
    [
        ((4, 3, 12, 12), (5, 3, 3, 3), 1, 0),
        ((2, 4, 9, 11), (6, 4, 3, 5), 2, 1),
        ((3, 1, 28, 28), (8, 1, 3, 3), 1, "same"),
        ((2, 3, 10, 13), (4, 3, 3, 3), 2, "same"),
        ((2, 2, 8, 8), (3, 2, 4, 4), 1, "same"),
        ((1, 2, 7, 9), (2, 2, 2, 3), (3, 2), (1, 2)),
    ],
)
def test_conv2d_matches_torch(x_shape, w_shape, stride, padding):
    x, w = random(x_shape), random(w_shape, 1)
    b = random((w_shape[0],), 2)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride

    xt = ll.Tensor(x, requires_grad=True)
    wt = ll.Tensor(w, requires_grad=True)
    bt = ll.Tensor(b, requires_grad=True)
    out = conv2d(xt, wt, bt, stride=stride, padding=padding)

    xr = torch.tensor(x, requires_grad=True)
    wr = torch.tensor(w, requires_grad=True)
    br = torch.tensor(b, requires_grad=True)
    if padding == "same":
        top, bottom = tf_same_padding(x_shape[2], w_shape[2], sh)
        left, right = tf_same_padding(x_shape[3], w_shape[3], sw)
        ref = TF.conv2d(TF.pad(xr, (left, right, top, bottom)), wr, br, stride)
        assert out.shape[2:] == (math.ceil(x_shape[2] / sh), math.ceil(x_shape[3] / sw))
    else:
        ref = TF.conv2d(xr, wr, br, stride, padding)

    grad = random(tuple(ref.shape), 3)
    out.backward(grad)
    ref.backward(torch.tensor(grad))

    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wt.grad, wr.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bt.grad, br.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("size", "stride"), [(28, 1), (28, 2), (7, 2), (10, 3)])
def test_conv2d_same_output_size(size, stride):
    layer = Conv2d(2, 3, stride=stride, padding="same")
    out = layer(ll.Tensor(random((1, 1, size, size))))
    expected = math.ceil(size / stride)
    assert out.shape == (1, 2, expected, expected)


def test_conv2d_builds_lazily():
    layer = Conv2d(6, (3, 5))
    assert layer.in_channels is None
    out = layer(ll.Tensor(random((2, 4, 10, 12))))
    assert layer.in_channels == 4
    assert layer.weight.shape == (6, 4, 3, 5)
    assert layer.bias.shape == (6,)
    assert out.shape == (2, 6, 8, 8)


def test_conv2d_float32_output_and_grads():
    layer = Conv2d(3, 3, stride=2, padding="same")
    x = ll.Tensor(random((2, 2, 9, 9)), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32
    assert x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    assert layer.bias.grad.dtype == np.float32


def test_conv2d_skips_input_grad():
    layer = Conv2d(2, 3)
    x = ll.Tensor(random((1, 1, 5, 5)))
    out = layer(x)
    assert out._creator.needs_input_grad == (False, True, True)
    assert out._creator.weight is None
    out.sum().backward()
    assert x.grad is None
    assert layer.weight.grad is not None


def test_conv2d_config_round_trip():
    layer = registry.get("layers", "conv2d")(4, 3, stride=2, padding=(1, 0))
    config = layer.get_config()
    assert config["padding"] == [1, 0]
    assert config["kernel_initializer"] == "he_uniform"
    copy = registry.create("layers", {"type": "conv2d", **config})
    assert copy.get_config() == config


@pytest.mark.parametrize("padding", ["full", -1, (1, 2, 3), 1.5])
def test_conv2d_rejects_bad_padding(padding):
    with pytest.raises(ConfigError, match="padding"):
        Conv2d(2, 3, padding=padding)


def test_conv2d_rejects_channel_mismatch():
    layer = Conv2d(2, 3)
    layer(ll.Tensor(random((1, 3, 5, 5))))
    with pytest.raises(ShapeError, match=r"\(1, 2, 5, 5\).*\(2, 3, 3, 3\)"):
        layer(ll.Tensor(random((1, 2, 5, 5))))


def test_conv2d_rejects_kernel_larger_than_input():
    with pytest.raises(ShapeError, match="kernel is larger"):
        Conv2d(2, 5)(ll.Tensor(random((1, 1, 3, 3))))


def test_conv2d_rejects_non_4d_input():
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        Conv2d(2, 3)(ll.Tensor(random((3, 5, 5))))


@pytest.mark.parametrize("padding", ["same", "valid", (1, 2)])
def test_conv2d_layer_padding_per_input_size(padding):
    layer = Conv2d(2, (3, 2), stride=2, padding=padding)
    # Alternate sizes so a padding resolved for one size is reused for the next.
    for seed, size in enumerate([(7, 8), (10, 5), (7, 8), (9, 9)]):
        x = ll.Tensor(random((1, 3, *size), seed))
        out = layer(x)
        expected = conv2d(x, layer.weight, layer.bias, stride=2, padding=padding)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.data, expected.data)
    if padding == "same":
        assert out.shape == (1, 2, 5, 5)
