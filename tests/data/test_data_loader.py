import gc
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from lunarlearn.errors import ConfigError
from lunarlearn_data import ArrayDataset, DataLoader, Dataset


def make_dataset(count=10):
    x = np.arange(count, dtype=np.float32)[:, None] * np.float32(0.5)
    return ArrayDataset(x, np.arange(count, dtype=np.int64))


def epoch_labels(loader):
    return np.concatenate([y for _, y in loader])


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "lunarlearn-data-prefetch"]


@pytest.mark.parametrize(
    "count,batch_size,drop_last,expected",
    [
        (10, 3, False, 4),
        (10, 3, True, 3),
        (9, 3, False, 3),
        (9, 3, True, 3),
        (2, 5, False, 1),
        (2, 5, True, 0),
        (0, 4, False, 0),
    ],
)
def test_loader_batch_count(count, batch_size, drop_last, expected):
    loader = DataLoader(make_dataset(count), batch_size, drop_last=drop_last)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_loader_batches_in_order():
    dataset = make_dataset(10)
    batches = list(DataLoader(dataset, 4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x = np.concatenate([x for x, _ in batches])
    np.testing.assert_array_equal(x, dataset.x)
    assert all(x.dtype == np.float32 for x, _ in batches)
    assert all(y.dtype == np.int64 for _, y in batches)


def test_loader_drop_last_sizes():
    batches = list(DataLoader(make_dataset(10), 4, drop_last=True))
    assert [len(y) for _, y in batches] == [4, 4]
    assert epoch_labels(
        DataLoader(make_dataset(10), 4, drop_last=True)
    ).tolist() == list(range(8))


def test_loader_seeded_shuffle():
    dataset = make_dataset(50)
    first = DataLoader(dataset, 7, shuffle=True, seed=123)
    second = DataLoader(dataset, 7, shuffle=True, seed=123)
    epochs_first = [epoch_labels(first) for _ in range(3)]
    epochs_second = [epoch_labels(second) for _ in range(3)]
    for a, b in zip(epochs_first, epochs_second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epochs_first[0], epochs_first[1])
    assert not np.array_equal(epochs_first[1], epochs_first[2])
    assert not np.array_equal(epochs_first[0], np.arange(50))
    for epoch, labels in enumerate(epochs_first):
        np.testing.assert_array_equal(np.sort(labels), np.arange(50))
        expected = np.random.default_rng([123, epoch]).permutation(50)
        np.testing.assert_array_equal(labels, expected)
    assert first.epoch == 3


def test_loader_seeds_differ():
    dataset = make_dataset(50)
    a = epoch_labels(DataLoader(dataset, 7, shuffle=True, seed=1))
    b = epoch_labels(DataLoader(dataset, 7, shuffle=True, seed=2))
    assert not np.array_equal(a, b)


def test_loader_unseeded_shuffle_records_seed():
    loader = DataLoader(make_dataset(50), 7, shuffle=True)
    labels = epoch_labels(loader)
    replay = DataLoader(make_dataset(50), 7, shuffle=True, seed=loader.seed)
    np.testing.assert_array_equal(epoch_labels(replay), labels)


def test_loader_set_epoch_resumes():
    dataset = make_dataset(30)
    uninterrupted = DataLoader(dataset, 4, shuffle=True, seed=9)
    orders = [epoch_labels(uninterrupted) for _ in range(4)]
    resumed = DataLoader(dataset, 4, shuffle=True, seed=9)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(epoch_labels(resumed), orders[2])
    np.testing.assert_array_equal(epoch_labels(resumed), orders[3])
    with pytest.raises(ConfigError, match="epoch"):
        resumed.set_epoch(-1)


def test_loader_shuffle_drop_last_covers_once():
    loader = DataLoader(make_dataset(23), 5, shuffle=True, seed=0, drop_last=True)
    for _ in range(3):
        labels = epoch_labels(loader)
        assert len(labels) == 20
        assert len(np.unique(labels)) == 20


def test_loader_prefetch_matches_inline():
    dataset = make_dataset(37)

    def transform(x, y):
        return x * np.float32(2), y + 1

    loaders = [
        DataLoader(dataset, 5, shuffle=True, seed=4, transform=transform, prefetch=p)
        for p in (0, 1, 3)
    ]
    for _ in range(2):
        runs = [list(loader) for loader in loaders]
        for run in runs[1:]:
            assert len(run) == len(runs[0]) == 8
            for (xa, ya), (xb, yb) in zip(runs[0], run, strict=True):
                np.testing.assert_array_equal(xa, xb)
                np.testing.assert_array_equal(ya, yb)
                assert xb.dtype == np.float32


def noisy_transform(x, y, *, rng):
    return x + rng.standard_normal(x.shape, dtype=np.float32), y


def test_loader_random_transform_same_for_any_prefetch():
    dataset = make_dataset(23)
    loaders = [
        DataLoader(
            dataset, 4, shuffle=True, seed=8, transform=noisy_transform, prefetch=p
        )
        for p in (0, 2)
    ]
    for _ in range(2):
        inline, prefetched = [list(loader) for loader in loaders]
        assert len(inline) == len(prefetched) == 6
        for (xa, ya), (xb, yb) in zip(inline, prefetched, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_transform_rng_per_batch(prefetch):
    dataset = make_dataset(10)
    loader = DataLoader(
        dataset, 4, shuffle=True, seed=5, transform=noisy_transform, prefetch=prefetch
    )
    loader.set_epoch(3)
    order = loader.order(3)
    for number, (x, y) in enumerate(loader):
        indices = order[number * 4 : number * 4 + 4]
        noise = np.random.default_rng([5, 3, number]).standard_normal(
            (len(indices), 1), dtype=np.float32
        )
        np.testing.assert_array_equal(y, indices)
        np.testing.assert_array_equal(x, dataset.x[indices] + noise)
        assert x.dtype == np.float32


def test_loader_transform_rng_keyword_forms():
    calls = []

    class Jitter:
        def __call__(self, x, y, rng=None):
            calls.append(rng)
            return x, y

    def plain(x, y, **options):
        calls.append(options)
        return x, y

    list(DataLoader(make_dataset(4), 4, transform=Jitter(), prefetch=0))
    list(DataLoader(make_dataset(4), 4, transform=plain, prefetch=0))
    assert isinstance(calls[0], np.random.Generator)
    assert calls[1] == {}


def test_loader_transform_per_batch():
    calls = []

    def transform(x, y):
        calls.append(len(x))
        return x - np.float32(1), y

    batches = list(DataLoader(make_dataset(10), 4, transform=transform))
    assert calls == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][0][:, 0], [-1.0, -0.5, 0.0, 0.5])
    assert batches[0][0].dtype == np.float32


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_transform_must_return_pair(prefetch):
    loader = DataLoader(make_dataset(4), 2, transform=lambda x, y: x, prefetch=prefetch)
    with pytest.raises(TypeError, match=r"tuple \(x, y\).*ndarray"):
        list(loader)


class FailingDataset(Dataset):
    def __init__(self, fail_at):
        self.fail_at = fail_at

    def __len__(self):
        return 20

    def get_batch(self, indices):
        if self.fail_at in indices:
            raise RuntimeError(f"cannot read sample {self.fail_at}")
        return indices.astype(np.float32)[:, None], indices


@pytest.mark.parametrize("prefetch", [0, 1, 4])
def test_loader_worker_exception_propagates(prefetch):
    loader = DataLoader(FailingDataset(fail_at=9), 4, prefetch=prefetch)
    received = []
    with pytest.raises(RuntimeError, match="cannot read sample 9"):
        for _, y in loader:
            received.append(y.tolist())
    assert received == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert prefetch_threads() == []


def test_loader_abandoned_iterator_stops_thread():
    loader = DataLoader(make_dataset(1000), 2, prefetch=2)
    iterator = iter(loader)
    next(iterator)
    assert len(prefetch_threads()) == 1
    iterator.close()
    assert prefetch_threads() == []

    iterator = iter(loader)
    next(iterator)
    del iterator
    gc.collect()
    assert prefetch_threads() == []


def test_loader_break_stops_thread():
    loader = DataLoader(make_dataset(1000), 2, prefetch=2)
    for x, _ in loader:
        assert x.shape == (2, 1)
        break
    gc.collect()
    assert prefetch_threads() == []


def test_loader_no_hang_at_exit():
    script = textwrap.dedent(
        """
        import numpy as np
        from lunarlearn_data import ArrayDataset, DataLoader

        loader = DataLoader(ArrayDataset(np.zeros((1000, 3))), 2, prefetch=2)
        iterator = iter(loader)
        next(iterator)
        print("done")
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"


@pytest.mark.parametrize(
    "kwargs,error,pattern",
    [
        ({"batch_size": 0}, ConfigError, "batch_size.*>= 1.*batch_size=0"),
        ({"batch_size": -3}, ConfigError, "batch_size=-3"),
        ({"batch_size": 2.5}, TypeError, "batch_size=2.5"),
        ({"batch_size": True}, TypeError, "batch_size=True"),
        ({"prefetch": -1}, ConfigError, "prefetch.*>= 0"),
        ({"shuffle": "yes"}, TypeError, "shuffle='yes'"),
        ({"drop_last": 1}, TypeError, "drop_last=1"),
        ({"seed": -1}, ConfigError, "seed=-1"),
        ({"seed": 1.0}, TypeError, "seed=1.0"),
        ({"transform": "scale"}, TypeError, "invalid transform 'scale'; expected"),
    ],
)
def test_loader_rejects_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        DataLoader(make_dataset(), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="__len__ and __getitem__.*int"):
        DataLoader(5)


def test_loader_accepts_numpy_ints():
    loader = DataLoader(make_dataset(10), np.int64(5), seed=np.uint32(3), shuffle=True)
    assert len(loader) == 2
    assert loader.batch_size == 5
    assert type(loader.batch_size) is int
