"""The metric interface that the Trainer drives; metrics ship as plugins."""


class Metric:
    """A figure accumulated over batches, such as accuracy.

    The Trainer calls :meth:`reset` at the start of each epoch and of each
    validation pass, and :meth:`update` after each batch with the model output
    and the targets as raw arrays. It calls :meth:`result` at the end, and also
    after each batch while a progress bar or a batch_end hook shows the
    running figures.
    """

    #: Key under which the figure appears in the history (``val_`` + name for
    #: validation).
    name = "metric"

    def reset(self):
        raise NotImplementedError

    def update(self, output, target):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError
