import math

import numpy as np
import pytest

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, PluginError
from lunarlearn_layers.initializers import (
    HeNormal,
    HeUniform,
    Ones,
    XavierNormal,
    XavierUniform,
    Zeros,
    conv_fans,
    dense_fans,
)
from lunarlearn_layers.layers.conv import Conv2d
from lunarlearn_layers.layers.dense import Dense

SHAPE = (400, 300)
FAN_IN, FAN_OUT = 400, 300


def test_fans_of_dense_and_conv_kernels():
    assert dense_fans((784, 128)) == (784, 128)
    assert conv_fans((32, 16, 3, 3)) == (144, 288)
    assert conv_fans((8, 1, 5, 3)) == (15, 120)


@pytest.mark.parametrize(
    ("initializer", "std"),
    [
        (HeNormal(), math.sqrt(2 / FAN_IN)),
        (HeNormal(mode="fan_out"), math.sqrt(2 / FAN_OUT)),
        (XavierNormal(), math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (XavierNormal(gain=2.0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ],
)
def test_normal_initializers_std(initializer, std):
    ll.manual_seed(0)
    values = initializer(SHAPE, fan_in=FAN_IN, fan_out=FAN_OUT)
    assert values.shape == SHAPE
    assert values.dtype == np.float32
    assert abs(values.mean()) < 0.02 * std
    # The sample std of 120,000 draws is within 1% of the true one.
    np.testing.assert_allclose(values.std(), std, rtol=0.01)


@pytest.mark.parametrize(
    ("initializer", "bound"),
    [
        (HeUniform(), math.sqrt(6 / FAN_IN)),
        (HeUniform(negative_slope=1.0), math.sqrt(3 / FAN_IN)),
        (XavierUniform(), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ],
)
def test_uniform_initializers_bounds(initializer, bound):
    ll.manual_seed(0)
    values = initializer(SHAPE, fan_in=FAN_IN, fan_out=FAN_OUT)
    assert values.dtype == np.float32
    assert values.min() >= -bound
    assert values.max() <= bound
    assert values.min() < -0.99 * bound
    assert values.max() > 0.99 * bound
    np.testing.assert_allclose(values.std(), bound / math.sqrt(3), rtol=0.01)


def test_constant_initializers():
    zeros = Zeros()((3, 2), fan_in=3, fan_out=2)
    ones = Ones()((4,), fan_in=1, fan_out=4, dtype=np.float64)
    assert zeros.dtype == np.float32
    np.testing.assert_array_equal(zeros, np.zeros((3, 2)))
    assert ones.dtype == np.float64
    np.testing.assert_array_equal(ones, np.ones(4))


def test_initializers_follow_manual_seed():
    ll.manual_seed(7)
    first = HeNormal()((5, 5), fan_in=5, fan_out=5)
    ll.manual_seed(7)
    second = HeNormal()((5, 5), fan_in=5, fan_out=5)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "name",
    ["he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "zeros", "ones"],
)
def test_initializers_found_by_name(name):
    initializer = registry.create("initializers", name)
    assert initializer.get_config()["type"] == name
    values = initializer((3, 4), fan_in=3, fan_out=4)
    assert values.shape == (3, 4)


def test_conv_kernel_uses_conv_fans():
    ll.manual_seed(1)
    layer = Conv2d(64, 3, kernel_initializer="he_normal")
    layer(ll.Tensor(np.zeros((1, 32, 5, 5), dtype=np.float32)))
    np.testing.assert_allclose(
        layer.weight.data.std(), math.sqrt(2 / (32 * 9)), rtol=0.02
    )


def test_layers_accept_initializer_forms():
    def constant(shape, *, fan_in, fan_out, dtype=np.float32):
        return np.full(shape, fan_in + fan_out, dtype=dtype)

    layer = Dense(
        3,
        kernel_initializer=constant,
        bias_initializer={"type": "ones"},
    )
    layer(ll.Tensor(np.zeros((2, 4), dtype=np.float32)))
    np.testing.assert_array_equal(layer.weight.data, np.full((4, 3), 7))
    np.testing.assert_array_equal(layer.bias.data, np.ones(3))
    assert layer.get_config()["bias_initializer"] == {"type": "ones"}

    layer = Dense(3, kernel_initializer=HeUniform, bias_initializer=Ones())
    assert layer.get_config()["kernel_initializer"] == "he_uniform"
    assert layer.get_config()["bias_initializer"] == "ones"


def test_unknown_initializer_name_lists_close_names():
    with pytest.raises(PluginError, match="he_normal"):
        Dense(3, kernel_initializer="he_normall")


def test_bad_initializer_argument():
    with pytest.raises(TypeError, match="kernel_initializer=3"):
        Dense(3, kernel_initializer=3)
    with pytest.raises(ConfigError, match="mode='fan_avg'"):
        HeNormal(mode="fan_avg")
    with pytest.raises(ConfigError, match="fan_in=0"):
        XavierUniform()((2, 2), fan_in=0, fan_out=2)
