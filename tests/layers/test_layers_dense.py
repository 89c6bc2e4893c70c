import numpy as np
import pytest
import torch

import lunarlearn as ll
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.testing import gradcheck
from lunarlearn_layers.layers.dense import Dense, DenseFunction, dense

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
def test_dense_gradcheck_activations(activation):
    x, w, b = random((4, 5)), random((5, 3), 1), random((3,), 2)
    assert gradcheck(lambda x, w, b: dense(x, w, b, activation=activation), [x, w, b])


def test_dense_gradcheck_3d_input():
    x, w, b = random((2, 3, 4)), random((4, 6), 1), random((6,), 2)
    assert gradcheck(lambda x, w, b: dense(x, w, b), [x, w, b])


def test_dense_gradcheck_without_bias():
    x, w = random((3, 2, 4)), random((4, 2), 1)
    assert gradcheck(lambda x, w: dense(x, w, activation="tanh"), [x, w])


@pytest.mark.parametrize(
    ("x_shape", "units", "activation"),
    [((8, 5), 3, None), ((2, 7, 4), 6, "relu"), ((1, 3, 2, 9), 1, "sigmoid")],
)
def test_dense_matches_torch_linear(x_shape, units, activation):
    x, w, b = random(x_shape), random((x_shape[-1], units), 1), random((units,), 2)
    grad = random((*x_shape[:-1], units), 3)

    xt = ll.Tensor(x, requires_grad=True)
    wt = ll.Tensor(w, requires_grad=True)
    bt = ll.Tensor(b, requires_grad=True)
    out = dense(xt, wt, bt, activation=activation)
    out.backward(grad)

    xr = torch.tensor(x, requires_grad=True)
    wr = torch.tensor(w.T.copy(), requires_grad=True)
    br = torch.tensor(b, requires_grad=True)
    ref = torch.nn.functional.linear(xr, wr, br)
    if activation is not None:
        ref = getattr(torch, activation)(ref)
    ref.backward(torch.tensor(grad))

    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wt.grad, wr.grad.numpy().T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bt.grad, br.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_dense_float32_output_and_grads():
    layer = Dense(4, activation="relu")
    x = ll.Tensor(random((3, 5)))
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    assert layer.bias.grad.dtype == np.float32


def test_dense_skips_input_grad():
    w = ll.Tensor(random((5, 3)), requires_grad=True)
    x = ll.Tensor(random((4, 5)))
    out = DenseFunction.apply(x, w)
    function = out._creator
    assert function.needs_input_grad == (False, True)
    assert function.weight is None
    out.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.repeat(x.data.sum(0)[:, None], 3, axis=1))


def test_dense_builds_lazily():
    layer = Dense(7)
    assert not layer.built
    assert layer.weight is None
    out = layer(ll.Tensor(random((2, 3, 11))))
    assert layer.built
    assert layer.in_features == 11
    assert layer.weight.shape == (11, 7)
    assert layer.bias.shape == (7,)
    assert out.shape == (2, 3, 7)
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["weight", "bias"]


def test_dense_without_bias_has_one_parameter():
    layer = Dense(2, use_bias=False)
    layer(ll.Tensor(random((1, 3))))
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_dense_unfused_activation_matches_functional():
    layer = Dense(3, activation="gelu")
    x = ll.Tensor(random((4, 2)))
    out = layer(x)
    expected = ll.functional.gelu(dense(x, layer.weight, layer.bias))
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-6)


def test_dense_callable_activation():
    layer = Dense(3, activation=lambda t: t * 2.0)
    x = ll.Tensor(random((4, 2)))
    np.testing.assert_allclose(
        layer(x).data, 2 * dense(x, layer.weight, layer.bias).data, rtol=1e-6
    )


def test_dense_config_round_trip():
    layer = registry.create(
        "layers", {"type": "dense", "units": 5, "activation": "tanh"}
    )
    config = layer.get_config()
    assert config == {
        "units": 5,
        "activation": "tanh",
        "use_bias": True,
        "kernel_initializer": "xavier_uniform",
        "bias_initializer": "zeros",
    }
    copy = registry.create("layers", {"type": "dense", **config})
    assert copy.get_config() == config


def test_dense_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="units=0"):
        Dense(0)
    with pytest.raises(ConfigError, match="units=2.5"):
        Dense(2.5)
    with pytest.raises(TypeError, match="activation=3"):
        Dense(2, activation=3)


def test_dense_shape_mismatch_names_shapes():
    layer = Dense(2)
    layer(ll.Tensor(random((1, 3))))
    with pytest.raises(ShapeError, match=r"\(1, 4\).*\(3, 2\)"):
        layer(ll.Tensor(random((1, 4))))
