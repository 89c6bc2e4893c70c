"""Optimizer state: state_dict round trips, resuming, dtypes and gradients."""

import copy
import json
import tracemalloc

import numpy as np
import pytest

from lunarlearn.errors import ShapeError
from lunarlearn.nn import Parameter
from lunarlearn_optim import SGD, Adam, AdamW

# One entry per optimizer and option set: (class, options, state array names).
TABLE = [
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}, ["momentum_buffer"]),
    (
        SGD,
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1},
        ["momentum_buffer"],
    ),
    (Adam, {"lr": 0.05, "weight_decay": 0.1}, ["exp_avg", "exp_avg_sq"]),
    (Adam, {"lr": 0.05, "amsgrad": True}, ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
    (AdamW, {"lr": 0.05}, ["exp_avg", "exp_avg_sq"]),
    (AdamW, {"lr": 0.05, "amsgrad": True}, ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
]
IDS = [f"{cls.__name__}-{options}" for cls, options, _ in TABLE]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [
        Parameter(rng.standard_normal((5, 3)).astype(np.float32)),
        Parameter(rng.standard_normal(3).astype(np.float32)),
        Parameter(rng.standard_normal(2).astype(np.float32)),  # never has a grad
    ]


def make_optimizer(cls, options, params):
    # Two groups, so the state_dict has to keep the group layout.
    return cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **options)


def set_grads(params):
    """Give the first two parameters the gradient of a quartic objective."""
    for param in params[:2]:
        param.grad = (param.data - 0.5) + np.float32(0.1) * param.data**3


def run(optimizer, params, steps):
    for _ in range(steps):
        set_grads(params)
        optimizer.step()


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_resume_matches_uninterrupted(cls, options, names):
    params = make_params()
    optimizer = make_optimizer(cls, options, params)
    run(optimizer, params, 10)

    # Snapshot, as a checkpoint would, then build a fresh optimizer from it.
    saved = copy.deepcopy(optimizer.state_dict())
    resumed_params = [Parameter(param.data.copy()) for param in params]
    resumed = make_optimizer(cls, options, resumed_params)
    resumed.load_state_dict(saved)

    run(optimizer, params, 10)
    run(resumed, resumed_params, 10)

    for param, resumed_param in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(resumed_param.data, param.data)
    for param, resumed_param in zip(params[:2], resumed_params[:2], strict=True):
        for name in names:
            np.testing.assert_array_equal(
                resumed.state[resumed_param][name], optimizer.state[param][name]
            )


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_state_dict_round_trip(cls, options, names):
    params = make_params()
    optimizer = make_optimizer(cls, options, params)
    run(optimizer, params, 7)

    saved = copy.deepcopy(optimizer.state_dict())
    fresh = make_optimizer(cls, {**options, "lr": 0.5}, make_params(seed=1))
    fresh.load_state_dict(saved)
    reloaded = fresh.state_dict()

    assert reloaded["param_groups"] == saved["param_groups"]
    assert sorted(reloaded["state"]) == [0, 1]  # index 2 never had a gradient
    for index in (0, 1):
        for name in names:
            np.testing.assert_array_equal(
                reloaded["state"][index][name], saved["state"][index][name]
            )
            assert reloaded["state"][index][name].dtype == np.float32
    if cls is not SGD:
        assert reloaded["state"][0]["step"] == 7
        assert type(reloaded["state"][0]["step"]) is int


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_state_survives_npz_file(cls, options, names, tmp_path):
    params = make_params()
    optimizer = make_optimizer(cls, options, params)
    run(optimizer, params, 5)

    # Arrays go to an npz file and everything else to JSON, so no pickle.
    saved = optimizer.state_dict()
    arrays = {
        f"{index}.{name}": value
        for index, values in saved["state"].items()
        for name, value in values.items()
        if isinstance(value, np.ndarray)
    }
    scalars = {
        str(index): {k: v for k, v in values.items() if not isinstance(v, np.ndarray)}
        for index, values in saved["state"].items()
    }
    np.savez(tmp_path / "state.npz", **arrays)
    (tmp_path / "state.json").write_text(
        json.dumps({"param_groups": saved["param_groups"], "scalars": scalars})
    )

    loaded = json.loads((tmp_path / "state.json").read_text())
    with np.load(tmp_path / "state.npz", allow_pickle=False) as archive:
        state = {
            int(index): dict(values) for index, values in loaded["scalars"].items()
        }
        for key in archive.files:
            index, name = key.split(".")
            state[int(index)][name] = archive[key]
    resumed_params = [Parameter(param.data.copy()) for param in params]
    resumed = make_optimizer(cls, options, resumed_params)
    resumed.load_state_dict({"state": state, "param_groups": loaded["param_groups"]})

    run(optimizer, params, 5)
    run(resumed, resumed_params, 5)

    for param, resumed_param in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(resumed_param.data, param.data)


def test_state_dict_restores_options():
    params = make_params()
    optimizer = make_optimizer(Adam, {"lr": 0.05, "betas": (0.8, 0.9)}, params)
    saved = copy.deepcopy(optimizer.state_dict())

    fresh = make_optimizer(Adam, {"lr": 0.5}, make_params())
    fresh.load_state_dict(saved)

    assert fresh.param_groups[0]["lr"] == 0.05
    assert fresh.param_groups[1]["lr"] == 0.02
    assert tuple(fresh.param_groups[0]["betas"]) == (0.8, 0.9)


def test_adam_step_count_resumes():
    params = make_params()
    optimizer = Adam(params, lr=0.05)
    run(optimizer, params, 3)
    saved = copy.deepcopy(optimizer.state_dict())
    # A checkpoint file may bring the count back as a 0-d integer array.
    for values in saved["state"].values():
        values["step"] = np.array(values["step"])

    resumed = Adam(params, lr=0.05)
    resumed.load_state_dict(saved)
    run(resumed, params, 2)

    assert resumed.state[params[0]]["step"] == 5
    assert type(resumed.state[params[0]]["step"]) is int


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_float32_with_float64_options(cls, options, names):
    params = make_params()
    wide = {
        key: np.float64(value) if isinstance(value, float) else value
        for key, value in options.items()
    }
    if cls is not SGD:
        wide["betas"] = (np.float64(0.9), np.float64(0.999))
    optimizer = make_optimizer(cls, wide, params)
    run(optimizer, params, 3)
    optimizer.lr = np.float64(0.01)
    run(optimizer, params, 3)

    for param in params:
        assert param.data.dtype == np.float32
    for param in params[:2]:
        for name in names:
            assert optimizer.state[param][name].dtype == np.float32
    for group in optimizer.param_groups:
        assert type(group["weight_decay"]) is float


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_grad_left_unchanged(cls, options, names):
    params = make_params()
    optimizer = make_optimizer(cls, options, params)
    for _ in range(3):
        set_grads(params)
        before = [param.grad.copy() for param in params[:2]]
        optimizer.step()
        for param, grad in zip(params[:2], before, strict=True):
            np.testing.assert_array_equal(param.grad, grad)


@pytest.mark.parametrize(("cls", "options", "names"), TABLE, ids=IDS)
def test_param_without_grad_skipped(cls, options, names):
    params = make_params()
    unused = params[2].data.copy()
    optimizer = make_optimizer(cls, options, params)
    run(optimizer, params, 3)

    np.testing.assert_array_equal(params[2].data, unused)
    assert params[2] not in optimizer.state
    assert not np.array_equal(params[0].data, make_params()[0].data)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_grad_shape_mismatch_raises(cls):
    params = make_params()
    optimizer = cls(params, lr=0.1)
    params[0].grad = np.ones(3, dtype=np.float32)  # broadcastable to (5, 3)

    with pytest.raises(ShapeError, match=r"gradient shape \(3,\).*\(5, 3\)"):
        optimizer.step()


def test_sgd_without_momentum_keeps_no_state():
    params = make_params()
    optimizer = SGD(params, lr=0.1, weight_decay=0.1)
    run(optimizer, params, 2)

    assert optimizer.state == {}
    assert optimizer.state_dict()["state"] == {}


def test_amsgrad_enabled_after_start():
    params = make_params()
    optimizer = Adam(params, lr=0.05)
    run(optimizer, params, 2)
    optimizer.param_groups[0]["amsgrad"] = True
    run(optimizer, params, 2)

    state = optimizer.state[params[0]]
    assert state["step"] == 4
    assert np.all(state["max_exp_avg_sq"] >= state["exp_avg_sq"])


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_step_reuses_work_array(cls):
    # A step after the first allocates no array of the parameter's size.
    param = Parameter(np.ones(100_000, dtype=np.float32))
    optimizer = cls([param], lr=0.01, weight_decay=0.0)
    param.grad = np.full(100_000, 0.5, dtype=np.float32)
    optimizer.step()

    tracemalloc.start()
    try:
        optimizer.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < param.data.nbytes // 4


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_state_dict_saves_moments_only(amsgrad):
    params = make_params()
    optimizer = make_optimizer(Adam, {"lr": 0.05, "amsgrad": amsgrad}, params)
    run(optimizer, params, 3)
    expected = {"step", "exp_avg", "exp_avg_sq"}
    if amsgrad:
        expected.add("max_exp_avg_sq")
    for index in (0, 1):
        assert set(optimizer.state_dict()["state"][index]) == expected
