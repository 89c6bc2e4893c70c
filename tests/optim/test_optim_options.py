"""Optimizer options: validation, defaults, registry lookup and docstrings."""

import inspect
import subprocess
import sys

import numpy as np
import pytest

import lunarlearn_optim
from lunarlearn import registry
from lunarlearn.errors import ConfigError
from lunarlearn.nn import Parameter
from lunarlearn_optim import SGD, Adam, AdamW

ALL = [SGD, Adam, AdamW]


def make_params():
    return [Parameter(np.zeros((2, 2), dtype=np.float32)), Parameter(np.zeros(2))]


# (class, options, exception, message pattern)
INVALID = [
    (SGD, {"lr": -1.0}, ConfigError, r"invalid lr: -1\.0 \(expected lr >= 0\)"),
    (SGD, {"lr": float("nan")}, ConfigError, r"invalid lr: nan \(expected a finite"),
    (SGD, {"lr": "0.1"}, TypeError, r"invalid lr: '0\.1' \(expected a real number\)"),
    (SGD, {"lr": True}, TypeError, r"invalid lr: True"),
    (SGD, {"momentum": -0.5}, ConfigError, r"invalid momentum: -0\.5 .*>= 0"),
    (SGD, {"dampening": 1.5}, ConfigError, r"invalid dampening: 1\.5 .*<= 1"),
    (SGD, {"weight_decay": -1e-4}, ConfigError, r"invalid weight_decay: -0\.0001"),
    (SGD, {"nesterov": 1}, TypeError, r"invalid nesterov: 1 \(expected True or"),
    (
        SGD,
        {"nesterov": True},
        ConfigError,
        r"nesterov=True with momentum=0\.0 .*needs momentum > 0",
    ),
    (
        SGD,
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        ConfigError,
        r"dampening=0\.1 .*dampening == 0",
    ),
    (Adam, {"lr": -1.0}, ConfigError, r"invalid lr: -1\.0 \(expected lr >= 0\)"),
    (Adam, {"betas": (1.0, 0.999)}, ConfigError, r"invalid betas\[0\]: 1\.0 .*< 1"),
    (Adam, {"betas": (0.9, -0.1)}, ConfigError, r"invalid betas\[1\]: -0\.1"),
    (Adam, {"betas": (0.9,)}, ConfigError, r"invalid betas: \(0\.9,\) .*1 values"),
    (Adam, {"betas": 0.9}, TypeError, r"invalid betas: 0\.9 \(expected a pair"),
    (Adam, {"eps": -1e-8}, ConfigError, r"invalid eps: -1e-08 \(expected eps >= 0"),
    (Adam, {"weight_decay": -0.1}, ConfigError, r"invalid weight_decay: -0\.1"),
    (Adam, {"amsgrad": "yes"}, TypeError, r"invalid amsgrad: 'yes'"),
    (AdamW, {"lr": -1.0}, ConfigError, r"invalid lr: -1\.0 \(expected lr >= 0\)"),
    (AdamW, {"weight_decay": float("inf")}, ConfigError, r"weight_decay: inf"),
    (AdamW, {"betas": (0.9, 1.0)}, ConfigError, r"invalid betas\[1\]: 1\.0"),
]


@pytest.mark.parametrize(
    ("cls", "options", "error", "pattern"),
    INVALID,
    ids=[f"{case[0].__name__}-{case[1]}" for case in INVALID],
)
def test_invalid_option_raises(cls, options, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(make_params(), **options)


@pytest.mark.parametrize("cls", ALL)
def test_negative_lr_is_value_error(cls):
    with pytest.raises(ValueError, match="lr"):
        cls(make_params(), lr=-1)


@pytest.mark.parametrize("cls", ALL)
def test_invalid_group_option_names_group(cls):
    first, second = make_params()
    groups = [{"params": [first]}, {"params": [second], "lr": -0.5}]

    with pytest.raises(ConfigError, match=r"invalid lr in param_groups\[1\]: -0\.5"):
        cls(groups, lr=0.1)


def test_add_param_group_validates_first():
    first, second = make_params()
    optimizer = Adam([first])

    with pytest.raises(ConfigError, match=r"betas\[0\] in param_groups\[1\]"):
        optimizer.add_param_group({"params": [second], "betas": (2.0, 0.9)})
    assert len(optimizer.param_groups) == 1

    optimizer.add_param_group({"params": [second], "betas": [0.5, 0.9]})
    assert optimizer.param_groups[1]["betas"] == (0.5, 0.9)
    assert optimizer.param_groups[1]["lr"] == 1e-3


def test_unknown_group_option_raises():
    first, second = make_params()

    with pytest.raises(ValueError, match="momentum"):
        Adam([{"params": [first]}, {"params": [second], "momentum": 0.9}])


def test_options_stored_as_python_values():
    optimizer = Adam(make_params(), lr=np.float32(0.5), betas=[0.5, np.float64(0.9)])

    assert optimizer.defaults["lr"] == 0.5
    assert type(optimizer.defaults["lr"]) is float
    assert optimizer.param_groups[0]["betas"] == (0.5, 0.9)
    assert type(optimizer.param_groups[0]["betas"][1]) is float


@pytest.mark.parametrize("cls", ALL)
def test_defaults_match_torch(cls):
    torch = pytest.importorskip("torch")
    reference = getattr(torch.optim, cls.__name__)([torch.zeros(2, requires_grad=True)])
    ours = cls(make_params())

    for key, value in ours.defaults.items():
        if cls is SGD and key == "lr":
            assert value == 0.01  # torch.optim.SGD's lr default is 1e-3
            continue
        assert reference.defaults[key] == value, key


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("sgd", SGD),
        ("SGD", SGD),
        ("adam", Adam),
        ("Adam", Adam),
        ("adamw", AdamW),
        ("AdamW", AdamW),
    ],
)
def test_registry_resolves_name(name, cls):
    assert registry.get("optimizers", name) is cls


def test_registry_covers_exports():
    for name in lunarlearn_optim.__all__:
        assert registry.get("optimizers", name) is getattr(lunarlearn_optim, name)


def test_registry_create_from_spec():
    params = make_params()
    optimizer = registry.create(
        "optimizers", {"type": "sgd", "lr": 0.2, "momentum": 0.9}, params=params
    )

    assert isinstance(optimizer, SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.lr == 0.2


def test_adamw_subclasses_adam():
    assert issubclass(AdamW, Adam)
    assert AdamW.decoupled_weight_decay
    assert not Adam.decoupled_weight_decay


@pytest.mark.parametrize("cls", ALL)
def test_docstring_has_math_and_link(cls):
    doc = inspect.getdoc(cls)

    assert ".. math::" in doc
    assert "https://" in doc or "http://" in doc


def test_lookup_imports_one_module():
    code = (
        "import sys\n"
        "from lunarlearn import registry\n"
        "registry.get('optimizers', 'sgd')\n"
        "assert 'lunarlearn_optim.optimizers.sgd' in sys.modules\n"
        "assert 'lunarlearn_optim.optimizers.adam' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
