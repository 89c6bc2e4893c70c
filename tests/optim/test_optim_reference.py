"""SGD, Adam and AdamW trajectories compared step by step with PyTorch.

Both sides start from the same float32 parameters. Before each step every
parameter gets the gradient of a fixed objective at its own current value,
computed by one NumPy function, so the trajectories agree only if the updates
do. A third parameter never gets a gradient and must stay untouched.
"""

import numpy as np
import pytest

from lunarlearn import Tensor
from lunarlearn.nn import Parameter
from lunarlearn_optim import SGD, Adam, AdamW

torch = pytest.importorskip("torch")

STEPS = 20
# The two libraries round some float32 operations in a different order. On
# these cases the largest difference after 20 steps is 2.4e-7 (values near 1).
RTOL = 1e-6
ATOL = 1e-6

SHAPES = {"weight": (4, 3), "bias": (3,), "unused": (2,)}
OURS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
THEIRS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def initial_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in SHAPES.items()
    }


def targets(seed=1):
    rng = np.random.default_rng(seed)
    return {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in SHAPES.items()
    }


def objective_grad(value, target):
    """Gradient of sum(0.5 * (p - t)**2 + 0.025 * p**4), in float32."""
    return (value - target) + np.float32(0.1) * value**3


def expand_groups(groups, params):
    """Replace parameter names in a group spec with the parameter objects."""
    if groups is None:
        return list(params.values())
    return [
        {**group, "params": [params[name] for name in group["params"]]}
        for group in groups
    ]


def run_pair(name, options, groups=None, steps=STEPS, on_step=None):
    """Step both optimizers ``steps`` times and compare parameters after each step.

    Returns our optimizer and parameters after the last step.
    """
    start = initial_arrays()
    goal = targets()
    ours = {key: Parameter(value.copy()) for key, value in start.items()}
    theirs = {
        key: torch.tensor(value.copy(), requires_grad=True)
        for key, value in start.items()
    }
    our_optimizer = OURS[name](expand_groups(groups, ours), **options)
    their_optimizer = THEIRS[name](
        expand_groups(groups, theirs), **options, foreach=False
    )

    for step in range(1, steps + 1):
        if on_step is not None:
            on_step(step, our_optimizer, their_optimizer)
        for key in ("weight", "bias"):
            ours[key].grad = objective_grad(ours[key].data, goal[key])
            their_value = theirs[key].detach().numpy()
            theirs[key].grad = torch.from_numpy(objective_grad(their_value, goal[key]))
        our_optimizer.step()
        their_optimizer.step()
        for key in SHAPES:
            np.testing.assert_allclose(
                ours[key].data,
                theirs[key].detach().numpy(),
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"{name} {options} {key} after step {step}",
            )
    return our_optimizer, ours


CASES = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.05}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-4}),
    ("adam", {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True}),
    ("adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 0.05}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.0}),
    ("adamw", {"lr": 0.05, "weight_decay": 0.3, "betas": (0.8, 0.99)}),
    ("adamw", {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True}),
]


@pytest.mark.parametrize(("name", "options"), CASES, ids=lambda case: str(case))
def test_trajectory_matches_torch(name, options):
    optimizer, params = run_pair(name, options)

    assert params["unused"] not in optimizer.state


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_amsgrad_maximum_is_used(name):
    optimizer, params = run_pair(
        name, {"lr": 0.05, "betas": (0.9, 0.9), "amsgrad": True}
    )

    state = optimizer.state[params["weight"]]
    # The case is only a test of AMSGrad if the maximum differs from v somewhere.
    assert np.any(state["max_exp_avg_sq"] > state["exp_avg_sq"])
    assert np.all(state["max_exp_avg_sq"] >= state["exp_avg_sq"])


GROUP_CASES = [
    (
        "sgd",
        {"lr": 0.05, "momentum": 0.9},
        [
            {"params": ["weight"], "lr": 0.01, "nesterov": True},
            {"params": ["bias", "unused"], "momentum": 0.5, "weight_decay": 0.1},
        ],
    ),
    (
        "adam",
        {"lr": 0.05},
        [
            {"params": ["weight"], "lr": 0.01, "amsgrad": True},
            {"params": ["bias", "unused"], "betas": (0.5, 0.9), "weight_decay": 0.1},
        ],
    ),
    (
        "adamw",
        {"lr": 0.05, "weight_decay": 0.1},
        [
            {"params": ["weight"], "lr": 0.01, "weight_decay": 0.0},
            {"params": ["bias", "unused"], "eps": 1e-3},
        ],
    ),
]


@pytest.mark.parametrize(("name", "options", "groups"), GROUP_CASES, ids=str)
def test_param_groups_match_torch(name, options, groups):
    optimizer, _ = run_pair(name, options, groups)

    assert len(optimizer.param_groups) == 2
    assert optimizer.param_groups[0]["lr"] == 0.01
    assert optimizer.param_groups[1]["lr"] == 0.05


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_lr_change_matches_torch(name):
    def lower_lr(step, ours, theirs):
        # A scheduler may store a NumPy float64; the update must stay float32.
        if step == 11:
            ours.lr = np.float64(0.01)
            for group in theirs.param_groups:
                group["lr"] = 0.01

    options = {"lr": 0.05, "momentum": 0.9} if name == "sgd" else {"lr": 0.05}
    _, params = run_pair(name, options, on_step=lower_lr)

    assert params["weight"].data.dtype == np.float32


def test_adam_tiny_model_matches_torch():
    """Train y = x @ w + b with mean squared error through both autograds."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    w0 = rng.standard_normal((4, 2)).astype(np.float32)
    b0 = np.zeros(2, dtype=np.float32)

    w, b = Parameter(w0.copy()), Parameter(b0.copy())
    tw = torch.tensor(w0.copy(), requires_grad=True)
    tb = torch.tensor(b0.copy(), requires_grad=True)
    optimizer = Adam([w, b], lr=0.05, weight_decay=0.01)
    reference = torch.optim.Adam([tw, tb], lr=0.05, weight_decay=0.01, foreach=False)

    for step in range(STEPS):
        optimizer.zero_grad()
        loss = ((Tensor(x) @ w + b - Tensor(y)) ** 2).mean()
        loss.backward()
        optimizer.step()

        reference.zero_grad()
        torch_loss = ((torch.from_numpy(x) @ tw + tb - torch.from_numpy(y)) ** 2).mean()
        torch_loss.backward()
        reference.step()

        np.testing.assert_allclose(
            w.data, tw.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"step {step}"
        )
        np.testing.assert_allclose(
            b.data, tb.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"step {step}"
        )
