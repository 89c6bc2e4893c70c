"""Module: registration, modes, state, hooks, freezing, lazy build, summary.

The modules here are small subclasses defined in this file, so the tests do
not depend on the layers distribution.
"""

import re

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import lunarlearn.functional as F
from lunarlearn import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
    Tensor,
    backend,
)
from lunarlearn.errors import ShapeError


class Affine(Module):
    """x @ weight + bias with fixed sizes and a deterministic start."""

    def __init__(self, in_features, out_features, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.standard_normal((in_features, out_features)))
        self.bias = Parameter(np.zeros(out_features))

    def forward(self, x):
        return F.matmul(x, self.weight) + self.bias


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class LazyAffine(Module):
    """Affine whose weight is sized from the first input in build()."""

    def __init__(self, units):
        super().__init__()
        self.units = units
        self.build_shapes = []

    def build(self, input_shape):
        self.build_shapes.append(input_shape)
        rng = np.random.default_rng(1)
        self.weight = Parameter(rng.standard_normal((input_shape[-1], self.units)))
        self.bias = Parameter(np.zeros(self.units))

    def forward(self, x):
        return F.matmul(x, self.weight) + self.bias


class Block(Module):
    def __init__(self):
        super().__init__()
        self.first = Affine(4, 3)
        self.scale = Parameter(np.ones(3))
        self.second = Affine(3, 2, seed=1)

    def forward(self, x):
        return self.second(F.relu(self.first(x)) * self.scale)


class Net(Module):
    def __init__(self):
        super().__init__()
        self.temperature = Parameter(np.ones(1))
        self.block = Block()
        self.heads = ModuleList([Affine(2, 2, seed=2), Affine(2, 1, seed=3)])
        self.extras = ModuleDict({"gate": Affine(2, 2, seed=4)})
        # Tie the gate's weight to the first head's: one Parameter, two owners.
        self.extras["gate"].weight = self.heads[0].weight
        self.register_buffer("steps", np.zeros(2, dtype=np.float32))

    def forward(self, x):
        h = self.block(x) * self.temperature
        h = self.extras["gate"](h)
        return self.heads[1](self.heads[0](h))


# A module's own Parameters come before those of its sub-modules, as in
# PyTorch. The tied weight is listed once, under its first owner.
EXPECTED_NAMES = [
    "temperature",
    "block.scale",
    "block.first.weight",
    "block.first.bias",
    "block.second.weight",
    "block.second.bias",
    "heads.0.weight",
    "heads.0.bias",
    "heads.1.weight",
    "heads.1.bias",
    "extras.gate.bias",
]

X = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)


# Registration -----------------------------------------------------------------


def test_parameters_registered_in_definition_order():
    model = Net()
    assert [name for name, _ in model.named_parameters()] == EXPECTED_NAMES


def test_parameter_order_matches_torch():
    class TorchAffine(torch.nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(in_features, out_features))
            self.bias = torch.nn.Parameter(torch.zeros(out_features))

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = TorchAffine(4, 3)
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.second = TorchAffine(3, 2)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.temperature = torch.nn.Parameter(torch.ones(1))
            self.block = TorchBlock()
            self.heads = torch.nn.ModuleList([TorchAffine(2, 2), TorchAffine(2, 1)])
            self.extras = torch.nn.ModuleDict({"gate": TorchAffine(2, 2)})
            self.extras["gate"].weight = self.heads[0].weight

    torch_names = [name for name, _ in TorchNet().named_parameters()]
    assert [name for name, _ in Net().named_parameters()] == torch_names


def test_shared_parameter_counted_once():
    model = Net()
    params = list(model.parameters())
    assert len(params) == len({id(p) for p in params}) == len(EXPECTED_NAMES)
    assert sum(p.size for p in params) == 1 + (12 + 3 + 3 + 6 + 2) + (4 + 2 + 2 + 1) + 2
    assert model.extras["gate"].weight is model.heads[0].weight


def test_modules_and_children_order():
    model = Net()
    assert [name for name, _ in model.named_children()] == ["block", "heads", "extras"]
    names = [name for name, _ in model.named_modules()]
    assert names == [
        "",
        "block",
        "block.first",
        "block.second",
        "heads",
        "heads.0",
        "heads.1",
        "extras",
        "extras.gate",
    ]


def test_shared_module_listed_once():
    model = Net()
    model.alias = model.block.first
    names = [name for name, _ in model.named_modules()]
    assert names.count("block.first") == 1
    assert "alias" not in names
    assert len(list(model.parameters())) == len(EXPECTED_NAMES)


def test_reassigning_attribute_unregisters():
    model = Block()
    model.scale = np.ones(3)  # a plain array is not a Parameter
    assert "scale" not in dict(model.named_parameters())
    model.second = None
    assert "second" not in dict(model.named_children())


def test_assignment_before_init_raises():
    class Broken(Module):
        def __init__(self):
            self.weight = Parameter(np.ones(2))
            super().__init__()

    with pytest.raises(AttributeError, match=re.escape("super().__init__()")):
        Broken()


def test_parameters_are_float32_leaves():
    model = Net()
    for name, param in model.named_parameters():
        assert param.dtype == np.float32, name
        assert param.requires_grad, name
        assert param.is_leaf, name


def test_apply_visits_children_before_parent():
    model = Block()
    visited = []
    model.apply(lambda module: visited.append(type(module).__name__))
    assert visited == ["Affine", "Affine", "Block"]


def test_sequential_of_modules_names_and_runs():
    model = Sequential(Affine(4, 3), ReLU(), Affine(3, 2, seed=1))
    assert [name for name, _ in model.named_children()] == [
        "affine",
        "re_lu",
        "affine_1",
    ]
    expected = np.maximum(X @ model[0].weight.data, 0) @ model[2].weight.data
    np.testing.assert_allclose(model(Tensor(X)).data, expected, rtol=1e-5)


@pytest.mark.skipif(backend.cupy_available(), reason="CuPy is installed")
def test_to_cuda_without_cupy_raises():
    with pytest.raises(RuntimeError, match="CuPy"):
        Affine(2, 2).to("cuda")


def test_to_unknown_device_raises():
    model = Affine(2, 2)
    with pytest.raises(ValueError, match="'tpu'"):
        model.to("tpu")
    assert model.to("cpu") is model
    assert model.weight.device == "cpu"


# Modes and state ----------------------------------------------------------------


def test_train_and_eval_propagate():
    model = Net()
    assert all(module.training for module in model.modules())
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())
    model.train(False)
    assert not model.heads[1].training


def test_state_dict_keys_and_live_arrays():
    model = Net()
    state = model.state_dict()
    assert list(state) == [*EXPECTED_NAMES, "steps"]
    assert state["block.scale"] is model.block.scale.data
    np.testing.assert_array_equal(state["steps"], np.zeros(2))


def test_load_state_dict_round_trip():
    source, target = Net(), Net()
    for param in source.parameters():
        param.data += 0.5
    source.steps = np.array([3.0, 4.0], dtype=np.float32)
    state = {name: np.array(value) for name, value in source.state_dict().items()}

    result = target.load_state_dict(state)
    assert result.missing_keys == []
    assert result.unexpected_keys == []
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)
    # The loaded arrays are copies, not the caller's arrays.
    state["block.scale"][:] = 100.0
    assert target.block.scale.data[0] != 100.0
    np.testing.assert_allclose(
        target(Tensor(X)).data, source(Tensor(X)).data, rtol=1e-6
    )


def test_load_state_dict_keeps_float32():
    model = Net()
    state = {
        name: np.asarray(v, dtype=np.float64) for name, v in model.state_dict().items()
    }
    model.load_state_dict(state)
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32, name


def test_load_state_dict_strict_missing_raises():
    model = Net()
    state = dict(model.state_dict())
    del state["block.first.bias"]
    with pytest.raises(KeyError, match="block.first.bias"):
        model.load_state_dict(state)


def test_load_state_dict_strict_unexpected_raises():
    model = Net()
    state = dict(model.state_dict())
    state["block.third.weight"] = np.ones(3, dtype=np.float32)
    with pytest.raises(KeyError, match="block.third.weight"):
        model.load_state_dict(state)


def test_load_state_dict_non_strict_returns_keys():
    model = Net()
    state = {name: np.array(v) for name, v in model.state_dict().items()}
    del state["heads.1.bias"]
    state["block.scale"] = np.full(3, 2.0, dtype=np.float32)
    state["unknown"] = np.zeros(1, dtype=np.float32)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["heads.1.bias"]
    assert result.unexpected_keys == ["unknown"]
    np.testing.assert_array_equal(model.block.scale.data, np.full(3, 2.0))


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_shape_mismatch_raises(strict):
    model = Net()
    state = dict(model.state_dict())
    state["block.second.weight"] = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ShapeError, match=r"block.second.weight.*\(2, 3\).*\(3, 2\)"):
        model.load_state_dict(state, strict=strict)


def test_buffer_shape_mismatch_raises():
    model = Net()
    state = dict(model.state_dict())
    state["steps"] = np.zeros(5, dtype=np.float32)
    with pytest.raises(ShapeError, match="steps"):
        model.load_state_dict(state)


def test_buffers_saved_and_loaded():
    model = Net()
    assert [name for name, _ in model.named_buffers()] == ["steps"]
    model.steps += 1.0
    state = {name: np.array(v) for name, v in model.state_dict().items()}
    np.testing.assert_array_equal(state["steps"], [1.0, 1.0])

    fresh = Net()
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.steps, [1.0, 1.0])
    assert fresh.steps.dtype == np.float32


def test_reassigned_buffer_stays_a_buffer():
    model = Net()
    model.steps = model.steps + 2.0
    assert [name for name, _ in model.named_buffers()] == ["steps"]
    np.testing.assert_array_equal(model.state_dict()["steps"], [2.0, 2.0])


def test_nested_buffer_has_dotted_name():
    model = Net()
    model.block.register_buffer("running", np.ones(3, dtype=np.float32))
    assert [name for name, _ in model.named_buffers()] == ["steps", "block.running"]
    assert "block.running" in model.state_dict()


# Hooks ----------------------------------------------------------------------------


def test_forward_hook_replaces_output_and_removes():
    model = Affine(4, 3)
    calls = []

    def hook(module, inputs, output):
        calls.append((module, inputs[0].shape, output.shape))
        return output * 0.0

    handle = model.register_forward_hook(hook)
    out = model(Tensor(X))
    assert calls == [(model, (6, 4), (6, 3))]
    np.testing.assert_array_equal(out.data, np.zeros((6, 3)))

    handle.remove()
    out = model(Tensor(X))
    np.testing.assert_allclose(out.data, X @ model.weight.data, rtol=1e-6)
    assert len(calls) == 1


def test_forward_pre_hook_replaces_input_and_removes():
    model = Affine(4, 3)
    handle = model.register_forward_pre_hook(lambda module, inputs: inputs[0] * 2.0)
    np.testing.assert_allclose(
        model(Tensor(X)).data, (2 * X) @ model.weight.data, rtol=1e-6
    )
    handle.remove()
    np.testing.assert_allclose(model(Tensor(X)).data, X @ model.weight.data, rtol=1e-6)


def test_forward_hooks_run_in_order():
    model = Affine(4, 3)
    model.register_forward_hook(lambda module, inputs, output: output + 1.0)
    model.register_forward_hook(lambda module, inputs, output: output * 2.0)
    out = model(Tensor(X))
    np.testing.assert_allclose(out.data, (X @ model.weight.data + 1) * 2, rtol=1e-6)


def test_backward_hook_sees_grad_output():
    model = Affine(4, 3)
    seen = []
    model.register_backward_hook(
        lambda module, grad: seen.append((module, grad.copy()))
    )
    weights = np.arange(18, dtype=np.float32).reshape(6, 3)
    (model(Tensor(X)) * weights).sum().backward()
    assert len(seen) == 1
    assert seen[0][0] is model
    np.testing.assert_array_equal(seen[0][1], weights)


def test_backward_hook_replaces_grad_and_removes():
    model = Affine(4, 3)
    handle = model.register_backward_hook(lambda module, grad: grad * 0.0)
    model(Tensor(X)).sum().backward()
    np.testing.assert_array_equal(model.weight.grad, np.zeros((4, 3)))

    handle.remove()
    model.zero_grad()
    model(Tensor(X)).sum().backward()
    np.testing.assert_allclose(
        model.weight.grad, np.repeat(X.sum(0)[:, None], 3, axis=1), rtol=1e-5
    )


# Freezing -------------------------------------------------------------------------


def test_freeze_by_glob_stops_gradients():
    model = Net()
    frozen = model.freeze("block.*")
    assert frozen == [name for name in EXPECTED_NAMES if name.startswith("block.")]
    model(Tensor(X)).sum().backward()
    for name, param in model.named_parameters():
        if name.startswith("block."):
            assert not param.requires_grad, name
            assert param.grad is None, name
        else:
            assert param.requires_grad, name
            assert param.grad is not None, name


def test_freeze_module_name_without_wildcard():
    model = Net()
    assert model.freeze("heads") == [
        "heads.0.weight",
        "heads.0.bias",
        "heads.1.weight",
        "heads.1.bias",
    ]


def test_unfreeze_by_glob():
    model = Net()
    model.freeze()
    assert not any(p.requires_grad for p in model.parameters())
    assert model.unfreeze("*.bias") == [
        n for n in EXPECTED_NAMES if n.endswith(".bias")
    ]
    for name, param in model.named_parameters():
        assert param.requires_grad == name.endswith(".bias"), name


def test_freeze_drops_existing_grads():
    model = Net()
    model(Tensor(X)).sum().backward()
    model.freeze("temperature")
    assert model.temperature.grad is None


def test_freeze_pattern_matching_nothing_raises():
    model = Net()
    with pytest.raises(ValueError, match=r"'decoder\.\*'.*block\.first\.weight"):
        model.freeze("decoder.*")
    with pytest.raises(ValueError, match="missing"):
        model.unfreeze("missing")


# Lazy build -----------------------------------------------------------------------


def test_lazy_build_runs_once_with_input_shape():
    layer = LazyAffine(3)
    assert not layer.built
    assert list(layer.parameters()) == []

    out = layer(Tensor(np.ones((5, 7), dtype=np.float32)))
    assert layer.built
    assert layer.build_shapes == [(5, 7)]
    assert out.shape == (5, 3)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (7, 3)

    weight = layer.weight
    layer(Tensor(np.ones((2, 7), dtype=np.float32)))
    assert layer.build_shapes == [(5, 7)]
    assert layer.weight is weight


def test_module_without_build_is_built():
    assert Affine(2, 2).built


def test_lazy_child_registers_under_parent():
    model = Sequential(LazyAffine(4), ReLU(), LazyAffine(2))
    model(Tensor(np.ones((3, 6), dtype=np.float32)))
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {
        "lazy_affine.weight": (6, 4),
        "lazy_affine.bias": (4,),
        "lazy_affine_1.weight": (4, 2),
        "lazy_affine_1.bias": (2,),
    }


# Summary --------------------------------------------------------------------------


class SummaryNet(Module):
    def __init__(self):
        super().__init__()
        self.encoder = LazyAffine(5)
        self.act = ReLU()
        self.head = Affine(5, 2)

    def forward(self, x):
        return self.head(self.act(self.encoder(x)))


def test_summary_lists_layers_and_totals():
    model = SummaryNet()
    model.freeze("head.*")
    text = model.summary((7,))
    rows = {line.split()[0]: line for line in text.splitlines() if line.strip()}

    assert "LazyAffine" in rows["encoder"]
    assert "(N, 5)" in rows["encoder"]
    assert rows["encoder"].split()[-1] == "40"  # 7 * 5 + 5, built by the summary
    assert "(N, 5)" in rows["act"]
    assert rows["act"].split()[-1] == "0"
    assert "(N, 2)" in rows["head"]
    assert rows["head"].split()[-1] == "12"
    assert "Total params: 52" in text
    assert "Trainable params: 40" in text
    assert "Non-trainable params: 12" in text
    assert model.encoder.build_shapes == [(1, 7)]


def test_summary_restores_modes():
    model = SummaryNet()
    model.act.eval()
    model.summary((7,))
    assert model.training
    assert model.encoder.training
    assert not model.act.training


def test_summary_formats_thousands():
    model = Sequential(Affine(100, 20))
    text = model.summary((100,))
    assert "2,020" in text
    assert "Total params: 2,020" in text


# Training a user model ------------------------------------------------------------


class DigitsMLP(Module):
    def __init__(self, rng):
        super().__init__()
        self.hidden = Parameter(rng.standard_normal((64, 64)) * np.sqrt(2 / 64))
        self.hidden_bias = Parameter(np.zeros(64))
        self.out = Parameter(rng.standard_normal((64, 10)) * np.sqrt(1 / 64))
        self.out_bias = Parameter(np.zeros(10))

    def forward(self, x):
        h = F.relu(F.matmul(x, self.hidden) + self.hidden_bias)
        return F.log_softmax(F.matmul(h, self.out) + self.out_bias, axis=-1)


def test_user_module_learns_digits():
    digits = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype(np.float32)
    y = digits.target[order]
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    model = DigitsMLP(rng)
    lr = 0.2
    losses = []
    for _ in range(8):
        epoch_losses = []
        for start in range(0, len(x_train), 50):
            xb, yb = x_train[start : start + 50], y_train[start : start + 50]
            model.zero_grad()
            log_probs = model(Tensor(xb))
            loss = -log_probs[np.arange(len(yb)), yb].mean()
            loss.backward()
            for param in model.parameters():
                param.data -= lr * param.grad
            epoch_losses.append(loss.item())
        losses.append(np.mean(epoch_losses))

    model.eval()
    predictions = model(Tensor(x_test)).data.argmax(axis=1)
    accuracy = float((predictions == y_test).mean())
    assert losses[-1] < losses[0] / 4, losses
    assert accuracy > 0.9, accuracy


def test_sequential_slice_keeps_layer_names():
    model = Sequential(Affine(3, 3), Affine(3, 3, seed=1), Affine(3, 2, seed=2))
    names = list(dict(model.named_children()))
    assert names == ["affine", "affine_1", "affine_2"]
    tail = model[1:]
    assert list(dict(tail.named_children())) == ["affine_1", "affine_2"]
    assert tail[0] is model[1]
    assert list(tail.state_dict()) == list(model.state_dict())[2:]
