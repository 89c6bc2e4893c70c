"""Loss functions, called as ``loss(output, target)`` and returning a Tensor.

``output`` is the model's Tensor. ``target`` is a backend array, a Tensor or
anything ``numpy.asarray`` accepts. The target is a constant, so no gradient
flows into it. Each loss is a single fused Function.
"""

from __future__ import annotations

import numbers

import numpy as np

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn_layers._utils import unwrap

__all__ = [
    "CrossEntropy",
    "CrossEntropyFunction",
    "Loss",
    "MSELoss",
    "MSEFunction",
    "cross_entropy",
    "mse_loss",
]

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"invalid reduction. Received: reduction={reduction!r}. Expected one "
            f"of {REDUCTIONS}"
        )
    return reduction


def _check_label_smoothing(label_smoothing):
    valid = isinstance(label_smoothing, numbers.Real) and (0 <= label_smoothing <= 1)
    if isinstance(label_smoothing, bool) or not valid:
        raise ConfigError(
            "label_smoothing must be a number in [0, 1]. Received: "
            f"label_smoothing={label_smoothing!r}"
        )
    return float(label_smoothing)


def _reduce(values, reduction, dtype):
    """Return the mean, sum or (for "none") the values, as an array of ``dtype``."""
    xp = backend.get_array_module(values)
    if reduction == "mean":
        return xp.asarray(values.mean(), dtype=dtype)
    if reduction == "sum":
        return xp.asarray(values.sum(), dtype=dtype)
    return values.astype(dtype, copy=False)


def _target_array(target, like):
    """Return ``target`` as an array on the device of ``like``."""
    target = unwrap(target)
    xp = backend.get_array_module(like)
    return xp.asarray(target)


class CrossEntropyFunction(Function):
    """Softmax cross-entropy of ``logits`` (N, C) against a constant target.

    Keywords: ``target`` (class indices (N,) or probabilities (N, C), already
    checked), ``label_smoothing`` and ``reduction``.

    The forward pass computes ``log_softmax`` as ``z - max(z) - log(sum(exp(z -
    max(z))))``, which cannot overflow. With ``t`` the (smoothed) target row,
    the loss of a row is ``-sum(t * log_softmax(z))`` and its gradient is
    ``softmax(z) * sum(t) - t``. For rows that sum to 1 (one-hot or probability
    rows) this is ``softmax(z) - t``, but multi-hot and all-zero rows need the
    ``sum(t)`` factor.
    """

    def forward(self, logits, target=None, label_smoothing=0.0, reduction="mean"):
        xp = backend.get_array_module(logits)
        n, classes = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)
        log_probs = shifted
        log_probs -= xp.log(sum_exp)

        indices = target.ndim == 1
        if indices:
            picked = xp.take_along_axis(log_probs, target[:, None], axis=1)[:, 0]
            losses = -picked
            if label_smoothing:
                losses *= 1 - label_smoothing
                losses -= (label_smoothing / classes) * log_probs.sum(axis=1)
        else:
            soft = target.astype(logits.dtype, copy=False)
            if label_smoothing:
                soft = soft * (1 - label_smoothing) + label_smoothing / classes
            losses = -(soft * log_probs).sum(axis=1)
            target = soft

        if self.needs_input_grad[0]:
            exp /= sum_exp
            self.probs = exp
            self.target = target
            self.indices = indices
            self.label_smoothing = label_smoothing
            self.reduction = reduction
        return _reduce(losses, reduction, logits.dtype)

    def backward(self, grad_output):
        xp = backend.get_array_module(grad_output)
        # Copy the saved probabilities, because with retain_graph=True backward
        # may run again.
        n, classes = self.probs.shape
        if self.indices:
            grad = self.probs.copy()
            smoothing = self.label_smoothing
            if smoothing:
                grad -= smoothing / classes
            grad[xp.arange(n), self.target] -= 1 - smoothing
        else:
            grad = self.probs * self.target.sum(axis=1, keepdims=True)
            grad -= self.target
        if self.reduction == "none":
            grad *= grad_output[:, None]
        else:
            scale = grad_output / n if self.reduction == "mean" else grad_output
            grad *= scale
        return grad


def _check_logits_and_target(logits, target):
    """Validate a cross-entropy target and return it as an array."""
    if logits.ndim != 2:
        raise ShapeError(
            "cross_entropy expects logits of shape (N, C). Received: logits shape "
            f"{tuple(logits.shape)}"
        )
    n, classes = logits.shape
    target = _target_array(target, unwrap(logits))
    xp = backend.get_array_module(target)

    if target.ndim == 2:
        if target.shape != (n, classes):
            raise ShapeError(
                "cross_entropy expects probability targets of the logits' shape "
                f"(N, C). Received: logits shape {tuple(logits.shape)}, target "
                f"shape {tuple(target.shape)}"
            )
        if target.dtype.kind not in "fiub":
            raise TypeError(
                f"invalid target dtype {target.dtype}. Probability targets must be "
                "numbers"
            )
        return target

    if target.ndim != 1 or target.shape[0] != n:
        raise ShapeError(
            "cross_entropy expects targets of shape (N,) with class indices or "
            f"(N, C) with probabilities. Received: logits shape {tuple(logits.shape)}, "
            f"target shape {tuple(target.shape)}"
        )
    if target.dtype.kind == "f":
        whole = xp.floor(target) == target
        if not bool(whole.all()):
            bad = target[~whole][0]
            raise ValueError(
                f"class labels must be whole numbers. Received: label {float(bad)}"
            )
        target = target.astype(np.int64)
    elif target.dtype.kind not in "iu":
        raise TypeError(
            f"invalid target dtype {target.dtype}. Class labels must be integers"
        )
    if n:
        low, high = int(target.min()), int(target.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"invalid class label {bad} in the targets: labels must be in "
                f"[0, {classes - 1}] for {classes} classes"
            )
    return target.astype(np.intp, copy=False)


def cross_entropy(logits, target, label_smoothing=0.0, reduction="mean"):
    """Return the softmax cross-entropy of ``logits`` (N, C) and ``target``.

    :param logits: unnormalised scores, a Tensor of shape (N, C).
    :param target: class indices of shape (N,) in ``[0, C)``, or target
        probabilities of shape (N, C), such as one-hot rows.
    :param label_smoothing: ``eps`` in [0, 1]. The target becomes
        ``(1 - eps) * target + eps / C``, as in PyTorch.
    :param reduction: ``"mean"`` over the N rows, ``"sum"``, or ``"none"``
        for the per-row losses.
    """
    label_smoothing = _check_label_smoothing(label_smoothing)
    reduction = _check_reduction(reduction)
    target = _check_logits_and_target(logits, target)
    return CrossEntropyFunction.apply(
        logits,
        target=target,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


class MSEFunction(Function):
    """Squared error ``(output - target) ** 2``, reduced by ``reduction``."""

    def forward(self, output, target=None, reduction="mean"):
        diff = output - target.astype(output.dtype, copy=False)
        if self.needs_input_grad[0]:
            self.diff = diff
            self.reduction = reduction
        return _reduce(diff * diff, reduction, output.dtype)

    def backward(self, grad_output):
        grad = 2 * self.diff
        if self.reduction == "mean":
            grad *= grad_output / self.diff.size
        else:
            grad *= grad_output
        return grad


def mse_loss(output, target, reduction="mean"):
    """Return the mean (or summed) squared error of ``output`` and ``target``.

    ``target`` must have the shape of ``output``. ``reduction`` is ``"mean"``
    (default), ``"sum"`` or ``"none"`` for the element-wise errors.
    """
    reduction = _check_reduction(reduction)
    target = _target_array(target, unwrap(output))
    if tuple(target.shape) != tuple(output.shape):
        raise ShapeError(
            "mse expects a target of the output's shape. Received: output shape "
            f"{tuple(output.shape)}, target shape {tuple(target.shape)}"
        )
    return MSEFunction.apply(output, target=target, reduction=reduction)


class Loss:
    """Base class of the losses: ``loss(output, target)`` returns a Tensor.

    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """

    def __init__(self, reduction="mean"):
        self.reduction = _check_reduction(reduction)

    def __call__(self, output, target):
        raise NotImplementedError(f"{type(self).__name__} must override __call__")

    def get_config(self):
        return {"reduction": self.reduction}

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits, as in :func:`cross_entropy`.

    :param label_smoothing: in [0, 1]. Defaults to 0.
    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """

    def __init__(self, label_smoothing=0.0, reduction="mean"):
        super().__init__(reduction)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def __call__(self, output, target):
        return cross_entropy(
            output,
            target,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
        )

    def get_config(self):
        return {"label_smoothing": self.label_smoothing, "reduction": self.reduction}


class MSELoss(Loss):
    """Mean squared error, as in :func:`mse_loss`.

    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """

    def __call__(self, output, target):
        return mse_loss(output, target, reduction=self.reduction)
