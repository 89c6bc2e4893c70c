"""Gradient checks and PyTorch parity for every operation in lunarlearn.functional.

Each case is one call of one operation on inputs drawn away from the points
where the operation has no derivative (kinks, ties, log of non-positives).
``test_gradcheck`` compares the hand-written backward with central differences
in float64, and ``test_matches_torch`` compares the float32 forward output and
input gradients with the same call in PyTorch.
"""

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_f

import lunarlearn.functional as F
from lunarlearn import Tensor
from lunarlearn.testing import gradcheck


@dataclasses.dataclass(frozen=True)
class Case:
    """One operation call: the lunarlearn function, its PyTorch twin, the inputs."""

    id: str
    fn: Callable
    reference: Callable
    make_inputs: Callable  # numpy Generator -> list of float64 arrays
    gradcheck: bool = True


def shape_id(shape):
    return "x".join(str(size) for size in shape) if shape else "scalar"


def axis_id(axis):
    if axis is None:
        return "all"
    if isinstance(axis, tuple):
        return "(" + ",".join(str(a) for a in axis) + ")"
    return str(axis)


# Input generators -----------------------------------------------------------


def normal(shape, scale=1.0):
    return lambda rng: rng.standard_normal(shape) * scale


def positive(shape, low=0.5, high=2.0):
    return lambda rng: rng.uniform(low, high, shape)


def away_from(shape, kinks=(0.0,), margin=0.05):
    """Uniform values in [-2, 2] that keep ``margin`` from every kink."""

    def make(rng):
        values = rng.uniform(-2.0, 2.0, shape)
        for kink in kinks:
            near = np.abs(values - kink) < margin
            values = np.where(near, values + 2 * margin, values)
        return values

    return make


def nonzero(shape):
    """Values with magnitude in [0.5, 2] and a random sign (safe divisors)."""
    return lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def distinct(shape):
    """A shuffled grid with steps of 0.1, so no two values tie."""

    def make(rng):
        size = int(np.prod(shape))
        grid = (rng.permutation(size) - size / 2) * 0.1
        return (grid + rng.uniform(-0.02, 0.02, size)).reshape(shape)

    return make


def half_offset(shape):
    """Integers plus 0.5, with jitter: at least 0.1 from any ``whole`` value."""
    return lambda rng: rng.integers(-3, 3, shape) + 0.5 + rng.uniform(-0.2, 0.2, shape)


def whole(shape):
    return lambda rng: rng.integers(-3, 3, shape) + rng.uniform(-0.2, 0.2, shape)


def inputs(*makers):
    return lambda rng: [make(rng) for make in makers]


def constant(array):
    return lambda rng: np.array(array, dtype=np.float64)


# Arithmetic -----------------------------------------------------------------

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (3, 4)),
    ((5,), ()),
    ((), ()),
]

BINARY = {
    # name: (lunarlearn op, torch op, first-input maker, second-input maker)
    "add": (F.add, torch.add, normal, normal),
    "sub": (F.sub, torch.sub, normal, normal),
    "mul": (F.mul, torch.mul, normal, normal),
    "div": (F.div, torch.div, normal, nonzero),
    "pow": (F.pow, torch.pow, positive, normal),
    "maximum": (F.maximum, torch.maximum, half_offset, whole),
    "minimum": (F.minimum, torch.minimum, half_offset, whole),
}

# The same ops with a Python number on one side: (id, lunarlearn, torch, maker).
SCALAR_OPERAND = [
    ("add-tensor+2.5", lambda x: F.add(x, 2.5), lambda x: x + 2.5, normal),
    ("add-2.5+tensor", lambda x: F.add(2.5, x), lambda x: 2.5 + x, normal),
    ("sub-tensor-2.5", lambda x: F.sub(x, 2.5), lambda x: x - 2.5, normal),
    ("sub-2.5-tensor", lambda x: F.sub(2.5, x), lambda x: 2.5 - x, normal),
    ("mul-tensor*3", lambda x: F.mul(x, 3), lambda x: x * 3, normal),
    ("mul--0.5*tensor", lambda x: F.mul(-0.5, x), lambda x: -0.5 * x, normal),
    ("div-tensor/4", lambda x: F.div(x, 4), lambda x: x / 4, normal),
    ("div-1.5/tensor", lambda x: F.div(1.5, x), lambda x: 1.5 / x, nonzero),
    ("pow-tensor**3", lambda x: F.pow(x, 3), lambda x: x**3, normal),
    ("pow-tensor**1.5", lambda x: F.pow(x, 1.5), lambda x: x**1.5, positive),
    ("pow-tensor**-2", lambda x: F.pow(x, -2), lambda x: x**-2, nonzero),
    ("pow-2.0**tensor", lambda x: F.pow(2.0, x), lambda x: 2.0**x, normal),
    (
        "maximum-tensor-0.25",
        lambda x: F.maximum(x, 0.25),
        lambda x: torch.clamp(x, min=0.25),
        lambda shape: away_from(shape, kinks=(0.25,)),
    ),
    (
        "minimum-0.25-tensor",
        lambda x: F.minimum(0.25, x),
        lambda x: torch.clamp(x, max=0.25),
        lambda shape: away_from(shape, kinks=(0.25,)),
    ),
]

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
]


def arithmetic_cases():
    cases = []
    for name, (op, reference, make_a, make_b) in BINARY.items():
        for shape_a, shape_b in BROADCAST_PAIRS:
            cases.append(
                Case(
                    f"{name}-{shape_id(shape_a)}-{shape_id(shape_b)}",
                    op,
                    reference,
                    inputs(make_a(shape_a), make_b(shape_b)),
                )
            )

    for name, op, reference, make in SCALAR_OPERAND:
        cases.append(Case(name, op, reference, inputs(make((3, 4)))))

    for shape_a, shape_b in MATMUL_SHAPES:
        cases.append(
            Case(
                f"matmul-{shape_id(shape_a)}-{shape_id(shape_b)}",
                F.matmul,
                torch.matmul,
                inputs(normal(shape_a), normal(shape_b)),
            )
        )

    for shape in [(), (7,), (3, 4)]:
        cases.append(
            Case(f"neg-{shape_id(shape)}", F.neg, torch.neg, inputs(normal(shape)))
        )

    return cases


# Reductions -----------------------------------------------------------------

REDUCE_CONFIGS = [
    ((3, 4, 5), None, False),
    ((3, 4, 5), None, True),
    ((3, 4, 5), 0, False),
    ((3, 4, 5), -1, True),
    ((3, 4, 5), (0, 2), False),
    ((3, 4, 5), (0, -1), True),
    ((6,), 0, False),
    ((), None, False),
]


def torch_extreme(reduce):
    def reference(x, axis, keepdims):
        return reduce(x, dim=() if axis is None else axis, keepdim=keepdims)

    return reference


REDUCTIONS = {
    # name: (lunarlearn op, torch op(x, axis, keepdims), input maker)
    "sum": (F.sum, lambda x, a, k: torch.sum(x, dim=a, keepdim=k), normal),
    "mean": (F.mean, lambda x, a, k: torch.mean(x, dim=a, keepdim=k), normal),
    "max": (F.max, torch_extreme(torch.amax), distinct),
    "min": (F.min, torch_extreme(torch.amin), distinct),
}


def reduction_cases():
    cases = []
    for name, (op, reference, make) in REDUCTIONS.items():
        for shape, axis, keepdims in REDUCE_CONFIGS:
            cases.append(
                Case(
                    f"{name}-{shape_id(shape)}-axis{axis_id(axis)}-keepdims{keepdims}",
                    lambda x, op=op, axis=axis, keepdims=keepdims: op(
                        x, axis=axis, keepdims=keepdims
                    ),
                    lambda x, ref=reference, axis=axis, keepdims=keepdims: ref(
                        x, axis, keepdims
                    ),
                    inputs(make(shape)),
                )
            )

    for shape, axis, keepdims in REDUCE_CONFIGS:
        reduced = int(np.prod(shape)) if axis is None else None
        if reduced is None:
            axes = axis if isinstance(axis, tuple) else (axis,)
            reduced = int(np.prod([shape[a] for a in axes]))
        for ddof in (0, 1):
            if reduced <= ddof:
                continue
            cases.append(
                Case(
                    f"var-{shape_id(shape)}-axis{axis_id(axis)}-keepdims{keepdims}"
                    f"-ddof{ddof}",
                    lambda x, axis=axis, keepdims=keepdims, ddof=ddof: F.var(
                        x, axis=axis, keepdims=keepdims, ddof=ddof
                    ),
                    lambda x, axis=axis, keepdims=keepdims, ddof=ddof: torch.var(
                        x, dim=axis, correction=ddof, keepdim=keepdims
                    ),
                    inputs(normal(shape)),
                )
            )

    # Ties share the gradient equally, as torch.amax and torch.amin do. These
    # sit on a kink, so they are compared with PyTorch only.
    tied = constant([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0]])
    for name, op, reference in [
        ("max", F.max, torch.amax),
        ("min", F.min, torch.amin),
    ]:
        cases.append(
            Case(
                f"{name}-ties-axis1",
                lambda x, op=op: op(x, axis=1),
                lambda x, ref=reference: ref(x, dim=1),
                inputs(tied),
                gradcheck=False,
            )
        )
        cases.append(
            Case(
                f"{name}-ties-all",
                op,
                lambda x, ref=reference: ref(x, dim=()),
                inputs(tied),
                gradcheck=False,
            )
        )

    tied_pair = inputs(constant([1.0, 2.0, -3.0]), constant([1.0, 0.0, -3.0]))
    cases.append(Case("maximum-ties", F.maximum, torch.maximum, tied_pair, False))
    cases.append(Case("minimum-ties", F.minimum, torch.minimum, tied_pair, False))

    return cases


# Element-wise functions -----------------------------------------------------

UNARY_SHAPES = [(), (7,), (3, 4), (2, 3, 4)]

UNARY = {
    # name: (lunarlearn op, torch op, input maker)
    "exp": (F.exp, torch.exp, normal),
    "log": (F.log, torch.log, lambda s: positive(s, 0.2, 3.0)),
    "sqrt": (F.sqrt, torch.sqrt, lambda s: positive(s, 0.2, 3.0)),
    "abs": (F.abs, torch.abs, away_from),
    "tanh": (F.tanh, torch.tanh, lambda s: normal(s, 2.0)),
    "sigmoid": (F.sigmoid, torch.sigmoid, lambda s: normal(s, 3.0)),
    "relu": (F.relu, torch.relu, away_from),
    "leaky_relu": (F.leaky_relu, torch_f.leaky_relu, away_from),
    "leaky_relu-slope0.2": (
        lambda x: F.leaky_relu(x, negative_slope=0.2),
        lambda x: torch_f.leaky_relu(x, negative_slope=0.2),
        away_from,
    ),
    "gelu-none": (
        lambda x: F.gelu(x, approximate="none"),
        lambda x: torch_f.gelu(x, approximate="none"),
        lambda s: normal(s, 2.0),
    ),
    "gelu-tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: torch_f.gelu(x, approximate="tanh"),
        lambda s: normal(s, 2.0),
    ),
    "clip-both": (
        lambda x: F.clip(x, -0.5, 0.5),
        lambda x: torch.clamp(x, -0.5, 0.5),
        lambda s: away_from(s, kinks=(-0.5, 0.5)),
    ),
    "clip-min": (
        lambda x: F.clip(x, min=-0.5),
        lambda x: torch.clamp(x, min=-0.5),
        lambda s: away_from(s, kinks=(-0.5,)),
    ),
    "clip-max": (
        lambda x: F.clip(x, max=0.5),
        lambda x: torch.clamp(x, max=0.5),
        lambda s: away_from(s, kinks=(0.5,)),
    ),
}

SOFTMAX_CONFIGS = [((3, 4, 5), -1), ((3, 4, 5), 0), ((3, 4, 5), 1), ((6,), 0)]


def elementwise_cases():
    cases = []
    for name, (op, reference, make) in UNARY.items():
        for shape in UNARY_SHAPES:
            cases.append(
                Case(f"{name}-{shape_id(shape)}", op, reference, inputs(make(shape)))
            )

    # Large magnitudes: sigmoid must neither overflow nor lose its gradient.
    cases.append(
        Case(
            "sigmoid-saturated",
            F.sigmoid,
            torch.sigmoid,
            inputs(constant([-90.0, -30.0, -8.0, 8.0, 30.0, 90.0])),
            gradcheck=False,
        )
    )

    for name, op, reference in [
        ("softmax", F.softmax, torch.softmax),
        ("log_softmax", F.log_softmax, torch.log_softmax),
    ]:
        for shape, axis in SOFTMAX_CONFIGS:
            cases.append(
                Case(
                    f"{name}-{shape_id(shape)}-axis{axis}",
                    lambda x, op=op, axis=axis: op(x, axis=axis),
                    lambda x, ref=reference, axis=axis: ref(x, dim=axis),
                    inputs(normal(shape, 3.0)),
                )
            )
        # Logits of 1000 and more overflow exp() unless the max is subtracted.
        cases.append(
            Case(
                f"{name}-large-logits",
                op,
                lambda x, ref=reference: ref(x, dim=-1),
                inputs(constant([[1000.0, 1001.0, 999.0], [-1000.0, 0.0, 1000.0]])),
                gradcheck=False,
            )
        )

    return cases


# Shapes and indexing --------------------------------------------------------

RESHAPES = [((3, 4), (2, 6)), ((3, 4), (12,)), ((2, 3, 4), (4, -1)), ((), (1, 1))]
TRANSPOSES = [
    ((3, 4), None),
    ((2, 3, 4), None),
    ((2, 3, 4), (0, 2, 1)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4), (0, -1, -2)),
]
FLATTENS = [((2, 3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 2), ((2, 3, 4), -1)]

MASK_2D = np.array(
    [
        [True, False, True, True, False],
        [False, False, True, False, True],
        [True, True, False, False, False],
        [False, True, True, True, True],
    ]
)
ROW_MASK = np.array([True, False, True, True])
COLUMN_MASK = np.array([False, True, True, False, True])

# (id, index for lunarlearn, function applying the same index to a torch tensor)
GETITEMS = [
    ("slice-rows", np.s_[1:3], lambda t: t[1:3]),
    ("slice-step", np.s_[:, ::2], lambda t: t[:, ::2]),
    ("slice-negative-bounds", np.s_[-1, 1:-1], lambda t: t[-1, 1:-1]),
    ("slice-reversed", np.s_[::-1], lambda t: torch.flip(t, [0])),
    ("int", np.s_[2], lambda t: t[2]),
    ("ellipsis-int", np.s_[..., 1], lambda t: t[..., 1]),
    ("newaxis-int", np.s_[None, 0], lambda t: t[None, 0]),
    ("int-list-repeats", [0, 2, 0, 1], lambda t: t[[0, 2, 0, 1]]),
    (
        "int-array-2d-repeats",
        np.array([[0, 1], [1, 1]]),
        lambda t: t[torch.tensor([[0, 1], [1, 1]])],
    ),
    ("int-list-columns-repeats", np.s_[:, [3, 3, 0]], lambda t: t[:, [3, 3, 0]]),
    (
        "int-array-pairs-repeats",
        (np.array([0, 1, 0]), np.array([2, 2, 2])),
        lambda t: t[torch.tensor([0, 1, 0]), torch.tensor([2, 2, 2])],
    ),
    (
        "int-array-with-slice",
        (np.array([3, 3]), np.s_[1:4]),
        lambda t: t[torch.tensor([3, 3]), 1:4],
    ),
    ("bool-mask-2d", MASK_2D, lambda t: t[torch.from_numpy(MASK_2D)]),
    ("bool-mask-rows", ROW_MASK, lambda t: t[torch.from_numpy(ROW_MASK)]),
    (
        "bool-mask-columns",
        np.s_[:, COLUMN_MASK],
        lambda t: t[:, torch.from_numpy(COLUMN_MASK)],
    ),
]

CONCATS = [
    ([(3, 4), (2, 4)], 0),
    ([(3, 2), (3, 5), (3, 1)], 1),
    ([(2, 3), (2, 3)], -1),
]
STACKS = [([(3, 4)] * 3, 0), ([(3, 4)] * 2, 1), ([(3, 4)] * 2, -1), ([()] * 3, 0)]
PADS = [
    ((3, 4), 1, 0.0),
    ((3, 4), ((1, 2), (0, 3)), 0.0),
    ((2, 3, 4), ((0, 0), (1, 1), (2, 0)), 0.5),
    ((5,), (2, 1), -1.0),
]

WHERES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (3, 4), (4,)),
    ((4,), (), (3, 4)),
]


def torch_pad_widths(pad_width, ndim):
    """Translate a NumPy pad_width into torch's flat list, last axis first."""
    if isinstance(pad_width, int):
        pairs = [(pad_width, pad_width)] * ndim
    elif all(isinstance(p, int) for p in pad_width):
        pairs = [tuple(pad_width)] * ndim
    else:
        pairs = list(pad_width)
    flat = []
    for before, after in reversed(pairs):
        flat += [before, after]
    return flat


def shape_cases():
    cases = []
    for shape, new_shape in RESHAPES:
        cases.append(
            Case(
                f"reshape-{shape_id(shape)}-to-{shape_id(new_shape)}",
                lambda x, s=new_shape: F.reshape(x, s),
                lambda x, s=new_shape: torch.reshape(x, s),
                inputs(normal(shape)),
            )
        )

    for shape, axes in TRANSPOSES:
        torch_axes = axes if axes is not None else tuple(reversed(range(len(shape))))
        cases.append(
            Case(
                f"transpose-{shape_id(shape)}-axes{axis_id(axes)}",
                lambda x, axes=axes: F.transpose(x, axes),
                lambda x, axes=torch_axes: torch.permute(x, axes),
                inputs(normal(shape)),
            )
        )

    cases.append(
        Case(
            "permute-2x3x4-(1,2,0)",
            lambda x: F.permute(x, (1, 2, 0)),
            lambda x: torch.permute(x, (1, 2, 0)),
            inputs(normal((2, 3, 4))),
        )
    )

    for shape, start in FLATTENS:
        cases.append(
            Case(
                f"flatten-{shape_id(shape)}-start{start}",
                lambda x, start=start: F.flatten(x, start_axis=start),
                lambda x, start=start: torch.flatten(x, start_dim=start),
                inputs(normal(shape)),
            )
        )

    for name, index, reference in GETITEMS:
        cases.append(
            Case(
                f"getitem-{name}",
                lambda x, index=index: F.getitem(x, index),
                reference,
                inputs(normal((4, 5))),
            )
        )

    for shapes, axis in CONCATS:
        ids = "-".join(shape_id(s) for s in shapes)
        cases.append(
            Case(
                f"concat-{ids}-axis{axis}",
                lambda *xs, axis=axis: F.concat(list(xs), axis=axis),
                lambda *xs, axis=axis: torch.cat(xs, dim=axis),
                inputs(*[normal(s) for s in shapes]),
            )
        )

    for shapes, axis in STACKS:
        ids = "-".join(shape_id(s) for s in shapes)
        cases.append(
            Case(
                f"stack-{ids}-axis{axis}",
                lambda *xs, axis=axis: F.stack(list(xs), axis=axis),
                lambda *xs, axis=axis: torch.stack(xs, dim=axis),
                inputs(*[normal(s) for s in shapes]),
            )
        )

    for shape, pad_width, value in PADS:
        flat = torch_pad_widths(pad_width, len(shape))
        cases.append(
            Case(
                f"pad-{shape_id(shape)}-{pad_width}-value{value}".replace(" ", ""),
                lambda x, p=pad_width, v=value: F.pad(x, p, value=v),
                lambda x, p=flat, v=value: torch_f.pad(x, p, value=v),
                inputs(normal(shape)),
            )
        )

    for cond_shape, shape_x, shape_y in WHERES:
        condition = np.random.default_rng(7).random(cond_shape) > 0.5
        condition.flat[0], condition.flat[-1] = True, False  # both branches used
        cases.append(
            Case(
                f"where-{shape_id(cond_shape)}-{shape_id(shape_x)}-{shape_id(shape_y)}",
                lambda x, y, c=condition: F.where(c, x, y),
                lambda x, y, c=condition: torch.where(torch.from_numpy(c), x, y),
                inputs(normal(shape_x), normal(shape_y)),
            )
        )

    mask = MASK_2D[:, :4]

    cases.append(
        Case(
            "where-scalar-other",
            lambda x: F.where(mask, x, 0.0),
            lambda x: torch.where(torch.from_numpy(mask), x, 0.0),
            inputs(normal((4, 4))),
        )
    )

    return cases


CASES = arithmetic_cases() + reduction_cases() + elementwise_cases() + shape_cases()
GRADCHECK_CASES = [case for case in CASES if case.gradcheck]


def case_rng(case):
    """Return a generator seeded from the case id, so each case has fixed inputs."""
    return np.random.default_rng(zlib.crc32(case.id.encode()))


def test_where_accepts_condition_list_and_tensor():
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    for condition in ([True, False, True], Tensor(np.array([True, False, True]))):
        x.zero_grad()
        y = F.where(condition, x, -1.0)
        np.testing.assert_array_equal(y.data, [1.0, -1.0, 3.0])
        y.sum().backward()
        np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])


def test_tensor_methods_match_numpy():
    data = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    x = Tensor(data)
    checks = {
        "sum": (x.sum(axis=1), data.sum(axis=1)),
        "mean": (x.mean(), data.mean()),
        "max": (x.max(axis=0, keepdims=True), data.max(axis=0, keepdims=True)),
        "min": (x.min(axis=(0, 2)), data.min(axis=(0, 2))),
        "var": (x.var(axis=-1, ddof=1), data.var(axis=-1, ddof=1)),
        "exp": (x.exp(), np.exp(data)),
        "abs": (x.abs(), np.abs(data)),
        "clip": (x.clip(-0.5, 0.5), np.clip(data, -0.5, 0.5)),
        "relu": (x.relu(), np.maximum(data, 0)),
        "reshape-args": (x.reshape(4, 6), data.reshape(4, 6)),
        "reshape-tuple": (x.reshape((4, -1)), data.reshape(4, 6)),
        "transpose-args": (x.transpose(2, 0, 1), data.transpose(2, 0, 1)),
        "transpose-none": (x.transpose(), data.transpose()),
        "permute": (x.permute(1, 2, 0), data.transpose(1, 2, 0)),
        "T": (x.T, data.T),
        "flatten": (x.flatten(), data.reshape(2, 12)),
        "matmul": (x @ data[0].T, data @ data[0].T),
    }
    for name, (actual, expected) in checks.items():
        assert actual.shape == expected.shape, name
        np.testing.assert_allclose(actual.data, expected, rtol=1e-5, err_msg=name)


def test_case_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_operation_covered():
    names = {case.id.split("-")[0] for case in CASES}
    expected = {
        "add", "sub", "mul", "div", "pow", "neg", "matmul", "sum", "mean", "max",
        "min", "var", "exp", "log", "sqrt", "abs", "clip", "tanh", "sigmoid",
        "relu", "leaky_relu", "gelu", "softmax", "log_softmax", "reshape",
        "transpose", "permute", "flatten", "getitem", "concat", "stack", "pad",
        "where", "maximum", "minimum",
    }  # fmt: skip
    assert expected <= names, sorted(expected - names)


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=lambda case: case.id)
def test_gradcheck(case):
    assert gradcheck(case.fn, case.make_inputs(case_rng(case)))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_matches_torch(case):
    rng = case_rng(case)
    arrays = [np.asarray(a, dtype=np.float32) for a in case.make_inputs(rng)]
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    references = [torch.tensor(a, requires_grad=True) for a in arrays]

    output = case.fn(*tensors)
    expected = case.reference(*references)
    assert output.dtype == np.float32
    assert output.shape == tuple(expected.shape)
    np.testing.assert_allclose(
        output.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6
    )

    grad_output = rng.standard_normal(output.shape).astype(np.float32)
    output.backward(grad_output)
    expected.backward(torch.from_numpy(grad_output))
    for index, (tensor, reference) in enumerate(zip(tensors, references, strict=True)):
        assert tensor.grad is not None, f"input {index} got no gradient"
        assert tensor.grad.dtype == np.float32, f"input {index}: {tensor.grad.dtype}"
        assert tensor.grad.shape == tensor.shape, f"input {index}"
        np.testing.assert_allclose(
            tensor.grad,
            reference.grad.numpy(),
            rtol=1e-4,
            atol=1e-5,
            err_msg=f"gradient of input {index}",
        )


def test_concat_and_stack_keep_float32_with_float64_arrays():
    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    assert F.concat([x, np.ones(2)]).dtype == np.float32
    assert F.stack([np.ones(2), x]).dtype == np.float32


@pytest.mark.parametrize("start_axis", [3, 4, -4])
def test_flatten_rejects_out_of_range_axis(start_axis):
    with pytest.raises(ValueError, match=f"invalid start_axis {start_axis}"):
        F.flatten(Tensor(np.ones((2, 3, 4), dtype=np.float32)), start_axis)
