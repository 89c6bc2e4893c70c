import ast
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import lunarlearn as ll
import lunarlearn_layers
from lunarlearn import registry
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.metrics import Metric
from lunarlearn_layers import activations
from lunarlearn_layers.layers.activation import GELU, LeakyReLU, Softmax
from lunarlearn_layers.layers.dropout import Dropout, dropout
from lunarlearn_layers.layers.reshape import Flatten
from lunarlearn_layers.metrics import Accuracy

torch.set_num_threads(1)


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_dropout_statistics():
    ll.manual_seed(0)
    layer = Dropout(0.3)
    x = ll.Tensor(np.ones((200, 500), dtype=np.float32), requires_grad=True)
    out = layer(x)
    zero_share = float((out.data == 0).mean())
    assert abs(zero_share - 0.3) < 0.005
    surviving = out.data[out.data != 0]
    np.testing.assert_allclose(surviving, 1 / 0.7, rtol=1e-6)
    assert abs(out.data.mean() - 1.0) < 0.01
    assert out.dtype == np.float32

    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)
    assert x.grad.dtype == np.float32


def test_dropout_eval_is_identity():
    layer = Dropout(0.5).eval()
    x = ll.Tensor(random((4, 6)))
    assert layer(x) is x


def test_dropout_masks_follow_manual_seed():
    x = ll.Tensor(np.ones((10, 10), dtype=np.float32))
    ll.manual_seed(3)
    first = Dropout(0.5)(x).data
    ll.manual_seed(3)
    second = Dropout(0.5)(x).data
    third = Dropout(0.5)(x).data
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(second, third)


@pytest.mark.parametrize("rate", [1.0, -0.1, "half", True])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ConfigError, match="rate"):
        Dropout(rate)


@pytest.mark.parametrize("rate", [1, 1.0, 1.5, -0.5, "half", True])
def test_dropout_function_rejects_bad_rate(rate):
    x = ll.Tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match=rf"rate={rate!r}"):
        dropout(x, rate)
    with pytest.raises(ConfigError, match=rf"rate={rate!r}"):
        dropout(x, rate, training=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
def test_dropout_mask_from_backend_rng(dtype):
    x = ll.Tensor(np.full((6, 7), 2, dtype=dtype))
    ll.manual_seed(11)
    out = dropout(x, 0.25)
    ll.manual_seed(11)
    draws = ll.backend.rng().random((6, 7), dtype=np.float32)
    mask_dtype = np.float32 if dtype == np.uint8 else dtype
    scale = mask_dtype(1 / 0.75)
    expected = np.where(draws < 0.75, 2 * scale, 0).astype(mask_dtype)
    np.testing.assert_array_equal(out.data, expected)
    assert out.dtype == mask_dtype


def test_flatten_shapes_and_grad():
    x = ll.Tensor(random((2, 3, 4, 5)), requires_grad=True)
    out = Flatten()(x)
    assert out.shape == (2, 60)
    assert Flatten(2)(x).shape == (2, 3, 20)
    assert Flatten(-2)(x).shape == (2, 3, 20)
    out.backward(np.ones((2, 60), dtype=np.float32))
    assert x.grad.shape == (2, 3, 4, 5)


def test_flatten_rejects_axis_out_of_range():
    with pytest.raises(
        ShapeError, match=r"start_axis=3\) is out of range for an input with 2 axes"
    ):
        Flatten(3)(ll.Tensor(random((2, 3))))


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu", torch.relu),
        ("sigmoid", torch.sigmoid),
        ("tanh", torch.tanh),
        ("leaky_relu", lambda t: TF.leaky_relu(t, 0.01)),
        ("gelu", TF.gelu),
        ("softmax", lambda t: torch.softmax(t, -1)),
    ],
)
def test_activation_layers_and_functions_match_torch(name, reference):
    x = random((3, 5)) * 3
    expected = reference(torch.tensor(x)).numpy()
    layer = registry.create("layers", name)
    function = registry.get("activations", name)
    np.testing.assert_allclose(layer(ll.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        function(ll.Tensor(x)).data, expected, rtol=1e-5, atol=1e-6
    )
    assert getattr(activations, name) is function


def test_activation_layer_options():
    x = random((2, 4))
    np.testing.assert_allclose(
        LeakyReLU(0.2)(ll.Tensor(x)).data,
        TF.leaky_relu(torch.tensor(x), 0.2).numpy(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        GELU("tanh")(ll.Tensor(x)).data,
        TF.gelu(torch.tensor(x), approximate="tanh").numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        Softmax(0)(ll.Tensor(x)).data.sum(axis=0), np.ones(4), rtol=1e-6
    )
    with pytest.raises(ConfigError, match="approximate='fast'"):
        GELU("fast")


def test_accuracy_with_int_and_one_hot_targets():
    metric = Accuracy()
    assert isinstance(metric, Metric)
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 5.0, 0.0]])
    metric.update(logits, np.array([0, 2, 0]))
    assert metric.result() == pytest.approx(2 / 3)
    metric.update(ll.Tensor(logits), np.eye(3)[[0, 1, 1]])
    assert metric.result() == pytest.approx(4 / 6)
    metric.reset()
    assert np.isnan(metric.result())


def test_accuracy_binary_outputs():
    metric = Accuracy()
    metric.update(np.array([[0.5], [-1.0], [2.0], [-0.1]]), np.array([1, 0, 0, 1]))
    assert metric.result() == pytest.approx(0.5)
    metric.reset()
    metric.update(np.array([0.3, -0.2]), np.array([[1.0], [0.0]]))
    assert metric.result() == 1.0


def test_accuracy_rejects_mismatched_targets():
    with pytest.raises(ShapeError, match=r"output shape \(2, 3\), target shape \(3,\)"):
        Accuracy().update(np.zeros((2, 3)), np.array([0, 1, 2]))


@pytest.mark.parametrize(
    ("kind", "name", "attribute"),
    [
        ("layers", "dense", "Dense"),
        ("layers", "conv2d", "Conv2d"),
        ("layers", "maxpool2d", "MaxPool2d"),
        ("layers", "batchnorm2d", "BatchNorm2d"),
        ("layers", "batchnorm1d", "BatchNorm1d"),
        ("layers", "dropout", "Dropout"),
        ("layers", "flatten", "Flatten"),
        ("layers", "relu", "ReLU"),
        ("layers", "leaky_relu", "LeakyReLU"),
        ("layers", "gelu", "GELU"),
        ("layers", "softmax", "Softmax"),
        ("initializers", "he_uniform", "HeUniform"),
        ("initializers", "xavier_normal", "XavierNormal"),
        ("losses", "cross_entropy", "CrossEntropy"),
        ("losses", "mse", "MSELoss"),
        ("metrics", "accuracy", "Accuracy"),
    ],
)
def test_registry_lookup_by_name(kind, name, attribute):
    component = registry.get(kind, name)
    assert component is getattr(lunarlearn_layers, attribute)
    assert registry.get(kind, attribute) is component


def test_every_export_resolves_by_name():
    kinds = ["layers", "initializers", "losses", "metrics"]
    registered = {
        registry.get(kind, name) for kind in kinds for name in registry.names(kind)
    }
    for name in lunarlearn_layers.__all__:
        value = getattr(lunarlearn_layers, name)
        if name == "Initializer":
            continue
        assert value in registered, name


def test_sequential_config_round_trip():
    model = ll.Sequential(
        [
            {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same"},
            "batchnorm2d",
            "relu",
            {"type": "maxpool2d", "pool_size": 2},
            {"type": "dropout", "rate": 0.25},
            "flatten",
            {"type": "dense", "units": 3, "activation": "sigmoid"},
        ]
    )
    out = model(ll.Tensor(random((2, 1, 8, 8))))
    assert out.shape == (2, 3)
    copy = ll.Sequential(model.get_config()["layers"])
    assert copy.get_config() == model.get_config()
    copy(ll.Tensor(random((2, 1, 8, 8))))
    shapes = [(name, p.shape) for name, p in copy.named_parameters()]
    assert shapes == [(name, p.shape) for name, p in model.named_parameters()]


def test_lookup_imports_only_defining_module():
    code = (
        "import sys\n"
        "from lunarlearn import registry\n"
        "registry.get('layers', 'conv2d')\n"
        "print(sorted(m for m in sys.modules if m.startswith('lunarlearn_layers')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = ast.literal_eval(result.stdout.strip())
    assert "lunarlearn_layers.layers.conv" in loaded
    assert "lunarlearn_layers.layers.dense" not in loaded
    assert "lunarlearn_layers.losses" not in loaded
