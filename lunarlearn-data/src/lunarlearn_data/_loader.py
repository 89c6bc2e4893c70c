"""DataLoader: batches, seeded per-epoch shuffling and background prefetch."""

from __future__ import annotations

import contextlib
import inspect
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

from ._checks import check_bool, check_int

__all__ = ["DataLoader"]

# Seconds a blocked worker waits on a full queue before it checks for a stop
# request again. Abandoning an iterator waits up to this long, plus the time to
# finish the batch the worker is loading.
_PUT_POLL_SECONDS = 0.05
_END = object()


class _WorkerFailure:
    """Exception raised in the prefetch thread, passed on to the caller."""

    def __init__(self, exc: BaseException):
        self.exc = exc


class DataLoader:
    """Iterate over a dataset in batches of arrays ``(x, y)``.

    Args:
        dataset: Any object with ``__len__`` and ``__getitem__`` that takes a
            1-D integer array and returns a batch ``(x, y)``, such as a
            ``Dataset``.
        batch_size: Samples per batch. The last batch is smaller when the
            dataset length is not a multiple, unless ``drop_last``.
        shuffle: Visit the samples in a new random order every epoch.
        drop_last: Skip the last batch when it is smaller than ``batch_size``.
        seed: Seed of the shuffle. Epoch ``e`` uses the order drawn by
            ``np.random.default_rng([seed, e]).permutation(len(dataset))``, so
            a run is reproducible and every epoch differs. None draws a seed
            from the operating system, which is then stored in ``self.seed``.
        transform: Function ``(x, y) -> (x, y)`` applied to each batch. When
            it takes a keyword argument ``rng``, it gets a NumPy Generator
            made by ``np.random.default_rng([seed, epoch, batch_index])``
            for each batch.
        prefetch: Batches prepared ahead in a background thread. 0 prepares
            each batch in the calling thread when it is requested.

    Every ``iter(loader)`` uses the order for ``loader.epoch`` and then adds
    one to ``epoch``. ``set_epoch`` sets it when resuming a run. With
    ``prefetch > 0``, indexing the dataset and ``transform`` run in the
    background thread, and an exception there is raised again in the caller.
    The loader never changes the dtype of what the dataset and transform
    return.

    A random transform must draw from its ``rng`` argument and not from
    :func:`lunarlearn.backend.rng`. With ``prefetch > 0`` the background thread
    would share that generator with the training loop, so the draws of each
    thread would depend on timing and a seeded run could not be repeated. The
    ``rng`` argument gives the same batches for every ``prefetch``.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 32,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable | None = None,
        prefetch: int = 2,
    ):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "Invalid `dataset`: expected an object with __len__ and "
                f"__getitem__. Received: {type(dataset).__name__}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"invalid transform {transform!r}; expected a function "
                "(x, y) -> (x, y), optionally with a keyword argument rng"
            )
        self.dataset = dataset
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = check_bool(shuffle, "shuffle")
        self.drop_last = check_bool(drop_last, "drop_last")
        self.prefetch = check_int(prefetch, "prefetch", minimum=0)
        self.transform = transform
        self._transform_takes_rng = transform is not None and _takes_rng(transform)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        self.seed = check_int(seed, "seed", minimum=0)
        self.epoch = 0

    def __len__(self) -> int:
        """Return the number of batches in one epoch."""
        count = len(self.dataset)
        if self.drop_last:
            return count // self.batch_size
        return -(-count // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose order the next ``iter(loader)`` uses."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def order(self, epoch: int) -> np.ndarray:
        """Return the sample order of ``epoch``: a permutation when shuffling."""
        count = len(self.dataset)
        if not self.shuffle:
            return np.arange(count)
        return np.random.default_rng([self.seed, epoch]).permutation(count)

    def __iter__(self) -> Iterator[tuple]:
        epoch = self.epoch
        order = self.order(epoch)
        self.epoch += 1
        stop = len(self) * self.batch_size
        batches = [
            order[start : start + self.batch_size]
            for start in range(0, stop, self.batch_size)
        ]
        if self.prefetch == 0:
            return (
                self._load(indices, epoch, number)
                for number, indices in enumerate(batches)
            )
        return self._prefetched(batches, epoch)

    def _load(self, indices: np.ndarray, epoch: int, batch_index: int) -> tuple:
        x, y = self.dataset[indices]
        if self.transform is None:
            return x, y
        if self._transform_takes_rng:
            rng = np.random.default_rng([self.seed, epoch, batch_index])
            result = self.transform(x, y, rng=rng)
        else:
            result = self.transform(x, y)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "transform must return a tuple (x, y). "
                f"Received: {type(result).__name__}"
            )
        return result

    def _prefetched(self, batches: list[np.ndarray], epoch: int) -> Iterator[tuple]:
        """Yield batches that a background thread loads ahead into a queue."""
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stopping = threading.Event()
        worker = threading.Thread(
            target=self._fill,
            args=(batches, epoch, ready, stopping),
            name="lunarlearn-data-prefetch",
            daemon=True,
        )
        worker.start()
        try:
            while True:
                item = ready.get()
                if item is _END:
                    return
                if isinstance(item, _WorkerFailure):
                    raise item.exc
                yield item
        finally:
            # Runs when the loop ends, fails, or the generator is closed or
            # garbage-collected early: stop the worker and wait for it.
            stopping.set()
            while worker.is_alive():
                with contextlib.suppress(queue.Empty):
                    while True:
                        ready.get_nowait()
                worker.join(_PUT_POLL_SECONDS)

    def _fill(
        self, batches, epoch: int, ready: queue.Queue, stopping: threading.Event
    ) -> None:
        """Load each batch into ``ready``, then put the end marker."""

        def put(item) -> bool:
            while not stopping.is_set():
                try:
                    ready.put(item, timeout=_PUT_POLL_SECONDS)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for number, indices in enumerate(batches):
                if stopping.is_set() or not put(self._load(indices, epoch, number)):
                    return
        except BaseException as exc:
            put(_WorkerFailure(exc))
            return
        put(_END)

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"seed={self.seed}, prefetch={self.prefetch})"
        )


def _takes_rng(function: Callable) -> bool:
    """Return whether ``function`` accepts a keyword argument named ``rng``."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        # Some built-in and extension callables have no signature to read.
        return False
    parameter = parameters.get("rng")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
