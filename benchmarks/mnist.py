"""Compare the training speed of LunarLearn and PyTorch on the MNIST test split.

Two models are trained in each framework on the same data, batch size, epochs
and thread count:

* ``mlp``: dense 784-256-128-10 with ReLU, Adam with lr 1e-3, batch 64.
* ``cnn``: conv2d with 8 filters of 3x3 and "same" padding, batchnorm2d, ReLU,
  2x2 max pooling, flatten and dense 10; AdamW with lr 1e-3, batch 64.

The data is the official MNIST test split (10,000 images) read from
``$LUNARLEARN_DATA/mnist``: the first 8,000 images train the model and the
last 2,000 validate it. When ``LUNARLEARN_DATA`` is unset, the data directory
is ``shared/data`` beside the repository folder.

Both loops shuffle the training set every epoch, and both evaluate on the
validation set after every epoch. An epoch's time includes that evaluation,
as ``Trainer.fit`` measures ``epoch_time``. LunarLearn trains through
``Trainer.fit`` with a shuffling ``DataLoader``. PyTorch trains in a plain
loop over a shuffled index permutation of tensors built from the same arrays,
without ``torch.utils.data.DataLoader``.

Every (model, framework) pair runs in a fresh subprocess of this script, so
each peak resident set size (``ru_maxrss``) covers one run alone. PyTorch
runs are skipped when torch is not importable.

Usage::

    python benchmarks/mnist.py [--epochs 5] [--models mlp,cnn]
        [--frameworks lunarlearn,torch] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = ("mlp", "cnn")
FRAMEWORKS = ("lunarlearn", "torch")
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
VALIDATION_FRACTION = 0.2
SEED = 0
# Thread-count variables read by OpenBLAS, MKL and OpenMP when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPO_ROOT = Path(__file__).resolve().parent.parent


def data_directory() -> Path:
    """Return the directory whose ``mnist`` subdirectory contains the IDX files."""
    configured = os.environ.get("LUNARLEARN_DATA")
    if configured:
        return Path(configured).expanduser()
    return REPO_ROOT.parent / "shared" / "data"


def peak_rss_mib() -> float:
    """Return this process's peak resident set size in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    divisor = 1024**2 if sys.platform == "darwin" else 1024
    return peak / divisor


def blas_threads() -> int | None:
    """Return the thread count of NumPy's BLAS, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    # torch may load a BLAS of its own, so NumPy's (under numpy.libs in
    # wheels) comes first.
    pools.sort(key=lambda pool: "numpy" not in pool["filepath"])
    return pools[0]["num_threads"] if pools else None


def machine_busy_seconds() -> float | None:
    """Return the CPU seconds all processes have used since boot, or None.

    Reads the first line of /proc/stat, so it is None off Linux.
    """
    try:
        with open("/proc/stat") as file:
            fields = file.readline().split()
    except OSError:
        return None
    # user, nice, system, idle, iowait, irq, softirq, steal, in clock ticks.
    ticks = [int(value) for value in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def measure_other_load(result: dict):
    """Store in ``result`` how many CPUs other processes kept busy meanwhile.

    ``result["other_busy_cpus"]`` is the CPU time that other processes used
    during the block divided by its wall time, so 1.0 means one whole core
    was taken from the benchmark on average. It is None off Linux.
    """
    busy_before = machine_busy_seconds()
    own_before = own_cpu_seconds()
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    busy_after = machine_busy_seconds()
    own = own_cpu_seconds() - own_before
    if busy_before is None or busy_after is None:
        result["other_busy_cpus"] = None
    else:
        other = max(busy_after - busy_before - own, 0.0)
        result["other_busy_cpus"] = other / wall


# Data ---------------------------------------------------------------------------


def load_mnist(model_name: str):
    """Load the MNIST test split, shaped for ``model_name``, and split it.

    Returns the training and validation ``Subset`` views.
    """
    from lunarlearn_data import MNIST, split_tail

    dataset = MNIST(
        data_directory() / "mnist",
        split="test",
        download=False,
        flatten=model_name == "mlp",
    )
    return split_tail(dataset, VALIDATION_FRACTION)


def subset_arrays(subset):
    """Return all samples of ``subset`` as float32 images and int64 labels."""
    import numpy as np

    return subset[np.arange(len(subset))]


# LunarLearn ---------------------------------------------------------------------


def lunarlearn_layers(model_name: str) -> list:
    from lunarlearn_layers import (
        BatchNorm2d,
        Conv2d,
        Dense,
        Flatten,
        MaxPool2d,
        ReLU,
    )

    if model_name == "mlp":
        return [
            Dense(256, activation="relu"),
            Dense(128, activation="relu"),
            Dense(10),
        ]
    return [
        Conv2d(8, 3, padding="same"),
        BatchNorm2d(),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(10),
    ]


def run_lunarlearn(model_name: str, epochs: int) -> dict:
    """Train one model with ``Trainer.fit`` and return its per-epoch figures."""
    import numpy as np

    import lunarlearn
    from lunarlearn.trainer import Trainer
    from lunarlearn_data import DataLoader
    from lunarlearn_layers import Accuracy, CrossEntropy
    from lunarlearn_optim import Adam, AdamW

    lunarlearn.manual_seed(SEED)
    train, validation = load_mnist(model_name)
    train_loader = DataLoader(train, BATCH_SIZE, shuffle=True, seed=SEED)
    val_loader = DataLoader(validation, BATCH_SIZE)

    model = lunarlearn.Sequential(*lunarlearn_layers(model_name))
    # Layers create their parameters on the first call, and the optimizer
    # needs them, so one sample goes through the model first.
    with lunarlearn.no_grad():
        model.eval()
        model(lunarlearn.Tensor(np.zeros((1, *train.sample_shape), np.float32)))
        model.train()
    optimizer_class = Adam if model_name == "mlp" else AdamW
    optimizer = optimizer_class(model.parameters(), lr=LEARNING_RATE)
    trainer = Trainer(model, CrossEntropy(), optimizer, [Accuracy()], progress=False)

    rss_before = peak_rss_mib()
    load = {}
    # Trainer.fit prints one line per epoch. It goes to stderr, so that stdout
    # carries only the JSON result.
    with contextlib.redirect_stdout(sys.stderr), measure_other_load(load):
        history = trainer.fit(train_loader, val_loader, epochs=epochs)
    return {
        **load,
        "epoch_times": list(history["epoch_time"]),
        "val_accuracy": history["val_accuracy"][-1],
        "val_loss": history["val_loss"][-1],
        "train_loss": history["loss"][-1],
        "peak_rss_before_training_mib": rss_before,
        "versions": {"lunarlearn": lunarlearn.__version__, "numpy": np.__version__},
    }


# PyTorch ------------------------------------------------------------------------


def torch_model(model_name: str):
    from torch import nn

    if model_name == "mlp":
        return nn.Sequential(
            nn.Linear(784, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding="same"),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 14 * 14, 10),
    )


def torch_train_epoch(model, loss_fn, optimizer, x, y, generator):
    """Train one epoch in a new random order and return mean loss and accuracy."""
    import torch

    model.train()
    order = torch.randperm(len(x), generator=generator)
    total_loss = 0.0
    correct = 0
    for start in range(0, len(x), BATCH_SIZE):
        indices = order[start : start + BATCH_SIZE]
        inputs, targets = x[indices], y[indices]
        output = model(inputs)
        loss = loss_fn(output, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # Read the loss and the correct count every batch, as Trainer.fit does.
        total_loss += loss.item() * len(indices)
        correct += int((output.argmax(dim=1) == targets).sum())
    return total_loss / len(x), correct / len(x)


def torch_evaluate(model, loss_fn, x, y):
    """Return the mean loss and accuracy over (x, y) in batches, in eval mode."""
    import torch

    model.eval()
    total_loss = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), BATCH_SIZE):
            inputs = x[start : start + BATCH_SIZE]
            targets = y[start : start + BATCH_SIZE]
            output = model(inputs)
            total_loss += loss_fn(output, targets).item() * len(inputs)
            correct += int((output.argmax(dim=1) == targets).sum())
    return total_loss / len(x), correct / len(x)


def run_torch(model_name: str, epochs: int, threads: int) -> dict:
    """Train one model in a plain PyTorch loop and return its per-epoch figures."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    train, validation = load_mnist(model_name)
    x_train, y_train = (torch.from_numpy(a) for a in subset_arrays(train))
    x_val, y_val = (torch.from_numpy(a) for a in subset_arrays(validation))

    model = torch_model(model_name)
    optimizer_class = torch.optim.Adam if model_name == "mlp" else torch.optim.AdamW
    optimizer = optimizer_class(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()

    rss_before = peak_rss_mib()
    load = {}
    epoch_times = []
    with measure_other_load(load):
        for epoch in range(epochs):
            started = time.perf_counter()
            train_loss, train_accuracy = torch_train_epoch(
                model, loss_fn, optimizer, x_train, y_train, generator
            )
            val_loss, val_accuracy = torch_evaluate(model, loss_fn, x_val, y_val)
            epoch_times.append(time.perf_counter() - started)
            print(
                f"Epoch {epoch + 1}/{epochs} - {epoch_times[-1]:.2f}s - "
                f"loss: {train_loss:.4f} - accuracy: {train_accuracy:.4f} - "
                f"val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}",
                file=sys.stderr,
                flush=True,
            )
    return {
        **load,
        "epoch_times": epoch_times,
        "val_accuracy": val_accuracy,
        "val_loss": val_loss,
        "train_loss": train_loss,
        "peak_rss_before_training_mib": rss_before,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
    }


# Driver -------------------------------------------------------------------------


def run_single(model_name: str, framework: str, epochs: int, threads: int) -> dict:
    """Train one (model, framework) pair in this process and return its result."""
    if framework == "lunarlearn":
        result = run_lunarlearn(model_name, epochs)
    else:
        result = run_torch(model_name, epochs, threads)
    result.update(
        model=model_name,
        framework=framework,
        epochs=epochs,
        threads=threads,
        blas_threads=blas_threads(),
        median_epoch_time=statistics.median(result["epoch_times"]),
        peak_rss_mib=peak_rss_mib(),
    )
    return result


def run_in_subprocess(model_name: str, framework: str, args) -> dict:
    """Run one pair in a fresh interpreter and return the JSON result it prints."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--single",
        f"{model_name}:{framework}",
        "--epochs",
        str(args.epochs),
        "--threads",
        str(args.threads),
    ]
    print(f"== {model_name} / {framework}", file=sys.stderr, flush=True)
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        raise SystemExit(
            f"the {model_name}/{framework} run failed with exit status "
            f"{completed.returncode}; its error is printed above"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def format_table(results: list[dict]) -> str:
    """Format the results as a Markdown table with the per-model time ratio."""
    medians = {(r["model"], r["framework"]): r["median_epoch_time"] for r in results}
    header = (
        "| model | framework | median epoch (s) | final val accuracy "
        "| peak RSS (MiB) | peak RSS before training (MiB) "
        "| CPUs busy with other processes | LunarLearn / PyTorch time |"
    )
    lines = [header, "|" + " --- |" * 8]
    for r in results:
        ratio = ""
        pair = (
            medians.get((r["model"], "lunarlearn")),
            medians.get((r["model"], "torch")),
        )
        if r["framework"] == "lunarlearn" and None not in pair:
            ratio = f"{pair[0] / pair[1]:.2f}"
        other = r["other_busy_cpus"]
        other = "unknown" if other is None else f"{other:.2f}"
        lines.append(
            f"| {r['model']} | {r['framework']} | {r['median_epoch_time']:.3f} "
            f"| {r['val_accuracy']:.4f} | {r['peak_rss_mib']:.0f} "
            f"| {r['peak_rss_before_training_mib']:.0f} | {other} | {ratio} |"
        )
    return "\n".join(lines)


def parse_names(text: str, accepted: tuple[str, ...], option: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in accepted]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"invalid {option} value {text!r}: expected a comma-separated list "
            f"of {', '.join(accepted)}"
        )
    return names


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected an integer of 1 or more"
        )
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Time LunarLearn and PyTorch training on the MNIST test split."
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=5, help="epochs per run (default: 5)"
    )
    parser.add_argument(
        "--models",
        type=lambda text: parse_names(text, MODELS, "--models"),
        default=list(MODELS),
        help="comma-separated models to train: mlp, cnn (default: both)",
    )
    parser.add_argument(
        "--frameworks",
        type=lambda text: parse_names(text, FRAMEWORKS, "--frameworks"),
        default=list(FRAMEWORKS),
        help="comma-separated frameworks: lunarlearn, torch (default: both; "
        "torch is skipped when it is not installed)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="threads for NumPy's BLAS and for PyTorch (default: os.cpu_count())",
    )
    # Internal: train one "model:framework" pair and print its result as JSON.
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.single is not None:
        model_name, _, framework = args.single.partition(":")
        if model_name not in MODELS or framework not in FRAMEWORKS:
            parser.error(f"invalid --single value {args.single!r}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    threads_given = args.threads is not None
    if not threads_given:
        args.threads = os.cpu_count() or 1
    if threads_given or args.single is not None:
        # BLAS libraries read these once, when NumPy or torch first loads them,
        # so they are set before either is imported.
        for name in THREAD_VARIABLES:
            os.environ[name] = str(args.threads)

    if args.single is not None:
        model_name, _, framework = args.single.partition(":")
        result = run_single(model_name, framework, args.epochs, args.threads)
        print(json.dumps(result))
        return

    frameworks = list(args.frameworks)
    if "torch" in frameworks and importlib.util.find_spec("torch") is None:
        print("torch is not installed; skipping the PyTorch runs", file=sys.stderr)
        frameworks.remove("torch")
    if not frameworks:
        raise SystemExit(
            "nothing to run: --frameworks names only torch, which is not installed"
        )

    results = [
        run_in_subprocess(model_name, framework, args)
        for model_name in args.models
        for framework in frameworks
    ]
    print(
        f"MNIST test split, {args.epochs} epochs, batch {BATCH_SIZE}, "
        f"{args.threads} threads (NumPy BLAS reports "
        f"{results[0]['blas_threads']}), Python {platform.python_version()}, "
        f"{platform.machine()} with {os.cpu_count()} CPUs"
    )
    print(format_table(results))
    print()
    for r in results:
        times = ", ".join(f"{t:.3f}" for t in r["epoch_times"])
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        print(f"{r['model']}/{r['framework']} epoch times (s): {times}; {versions}")


if __name__ == "__main__":
    main()
