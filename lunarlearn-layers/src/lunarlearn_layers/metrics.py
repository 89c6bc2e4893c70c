"""Classification accuracy."""

from __future__ import annotations

from lunarlearn import backend
from lunarlearn.errors import ShapeError
from lunarlearn.metrics import Metric
from lunarlearn_layers._utils import unwrap

__all__ = ["Accuracy"]


class Accuracy(Metric):
    """Share of samples whose predicted class equals the target class.

    Outputs of shape (N, C) with C > 1 predict ``argmax`` over the last axis.
    Outputs of shape (N,) or (N, 1) are binary logits: the prediction is 1
    where the output is above 0. Targets are class indices of shape (N,) (or
    (N, 1) for binary outputs) or one-hot / probability rows of shape (N, C),
    whose argmax is the class.
    """

    name = "accuracy"

    def __init__(self):
        self.reset()

    def reset(self):
        """Forget the counts of earlier batches."""
        self.correct = 0
        self.total = 0

    def update(self, output, target):
        """Add the predictions of one batch to the counts.

        :param output: model output, an array or Tensor.
        :param target: targets as the dataset gives them.
        """
        output = unwrap(output)
        xp = backend.get_array_module(output)
        target = xp.asarray(unwrap(target))
        binary = output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)
        if binary:
            predicted = output.reshape(-1) > 0
            labels = target.reshape(-1)
            if labels.dtype.kind == "f":
                labels = labels > 0.5
            labels = labels.astype(bool)
        else:
            predicted = output.argmax(axis=-1)
            labels = target.argmax(axis=-1) if target.ndim == output.ndim else target
        if predicted.shape != labels.shape:
            raise ShapeError(
                "accuracy: the targets do not match the outputs. Received: output "
                f"shape {tuple(output.shape)}, target shape {tuple(target.shape)}"
            )
        self.correct += int((predicted == labels).sum())
        self.total += int(predicted.size)

    def result(self):
        """Return the accuracy over the batches since :meth:`reset`, in [0, 1].

        Returns NaN when no sample was seen.
        """
        if self.total == 0:
            return float("nan")
        return self.correct / self.total
