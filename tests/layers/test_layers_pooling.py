import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.testing import gradcheck
from lunarlearn_layers.layers.pooling import MaxPool2d, max_pool2d

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (shape, pool_size, stride, padding, takes the reshape path)
CASES = [
    ((2, 3, 8, 8), 2, None, 0, True),
    ((1, 2, 9, 6), 3, None, 0, True),
    ((2, 2, 7, 7), 2, None, 0, False),
    ((2, 2, 9, 9), 3, 2, 1, False),
    ((1, 3, 6, 8), (2, 3), (1, 2), (1, 1), False),
]


@pytest.mark.parametrize(("shape", "pool", "stride", "padding", "fast"), CASES)
def test_max_pool2d_gradcheck(shape, pool, stride, padding, fast):
    x = random(shape)
    out = max_pool2d(ll.Tensor(x, requires_grad=True), pool, stride, padding)
    assert out._creator.fast is fast
    assert gradcheck(lambda x: max_pool2d(x, pool, stride, padding), [x])


@pytest.mark.parametrize(("shape", "pool", "stride", "padding", "fast"), CASES)
def test_max_pool2d_matches_torch(shape, pool, stride, padding, fast):
    x = random(shape, 1)
    xt = ll.Tensor(x, requires_grad=True)
    out = max_pool2d(xt, pool, stride, padding)
    xr = torch.tensor(x, requires_grad=True)
    ref = TF.max_pool2d(xr, pool, stride, padding)
    grad = random(tuple(ref.shape), 2)
    out.backward(grad)
    ref.backward(torch.tensor(grad))
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("pool", "stride"), [(2, None), (3, 1)])
def test_max_pool2d_ties_route_to_one_element(pool, stride):
    x = np.random.default_rng(0).integers(0, 2, size=(2, 2, 6, 6)).astype(np.float32)
    xt = ll.Tensor(x, requires_grad=True)
    out = max_pool2d(xt, pool, stride)
    out.backward(np.ones(out.shape, dtype=np.float32))
    xr = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(xr, pool, stride).sum().backward()
    # Each window passes its gradient to exactly one element: the first maximum.
    assert xt.grad.sum() == out.size
    np.testing.assert_array_equal(xt.grad, xr.grad.numpy())


def test_max_pool2d_float32_grads():
    x = ll.Tensor(random((2, 3, 5, 5)), requires_grad=True)
    out = MaxPool2d(2, stride=1)(x)
    out.sum().backward()
    assert out.dtype == np.float32
    assert x.grad.dtype == np.float32


def test_max_pool2d_without_grad_skips_index():
    x = ll.Tensor(random((2, 3, 4, 4)))
    out = MaxPool2d()(x)
    assert out.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(
        out.data, x.data.reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5))
    )


def test_maxpool2d_registry_and_config():
    layer = registry.create("layers", {"type": "maxpool2d", "pool_size": 3})
    assert layer.get_config() == {
        "pool_size": [3, 3],
        "stride": [3, 3],
        "padding": [0, 0],
    }


def test_maxpool2d_rejects_large_padding():
    with pytest.raises(ConfigError, match="at most half"):
        MaxPool2d(2, padding=2)


def test_maxpool2d_rejects_negative_padding():
    with pytest.raises(ConfigError, match="padding=-1"):
        MaxPool2d(2, padding=-1)


def test_maxpool2d_rejects_small_input():
    with pytest.raises(ShapeError, match="larger than the padded input"):
        MaxPool2d(3, stride=1)(ll.Tensor(random((1, 1, 2, 2))))


def test_max_pool_2x2_without_grad_matches_torch():
    # Without a gradient the 2x2 path skips the winner masks.
    x = random((3, 2, 6, 8), 4)
    with ll.no_grad():
        out = max_pool2d(ll.Tensor(x), 2)
    ref = TF.max_pool2d(torch.tensor(x), 2)
    np.testing.assert_array_equal(out.data, ref.numpy())


def test_max_pool2d_pads_with_negative_infinity():
    # All inputs are negative, so zero padding would win at the borders.
    x = -np.abs(random((1, 2, 5, 5), 6)) - 1
    padding = (np.int64(1), np.int64(1))
    out = max_pool2d(ll.Tensor(x), 3, stride=2, padding=padding)
    ref = TF.max_pool2d(torch.tensor(x), 3, 2, 1)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.data, ref.numpy())
    assert (out.data < 0).all()


@pytest.mark.parametrize("padding", [1.5, (1, 1, 1), True, "same"])
def test_maxpool2d_rejects_non_int_padding(padding):
    with pytest.raises(ConfigError, match=re.escape(f"padding={padding!r}")):
        MaxPool2d(3, padding=padding)
