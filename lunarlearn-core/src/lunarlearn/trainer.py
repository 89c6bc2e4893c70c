"""The Trainer: a training loop driven by hooks, built from objects or a config."""

import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lunarlearn import backend, checkpoint, registry
from lunarlearn.autograd import no_grad
from lunarlearn.callbacks import GradientMonitor
from lunarlearn.config import apply_overrides, load_config, validate
from lunarlearn.errors import ConfigError
from lunarlearn.history import History, json_figures
from lunarlearn.io import write_text
from lunarlearn.nn import Sequential, evaluation_mode
from lunarlearn.plugins import PluginManager, get_plugin_manager
from lunarlearn.tensor import Tensor

#: Files that :meth:`Trainer.run` writes into the output directory.
RUN_FILES = ("config.json", "history.json", "history.csv", "history.png")


class Trainer:
    """Fit a model with a loss, an optimizer, metrics and callbacks.

    :param model: a Module.
    :param loss: a callable ``loss(output, target) -> scalar Tensor``.
    :param optimizer: an :class:`~lunarlearn.optim.Optimizer` over the model's
        parameters.
    :param metrics: :class:`~lunarlearn.metrics.Metric` instances.
    :param callbacks: objects implementing ``lunarlearn_*`` hooks. The
        plugins installed in the ``lunarlearn.plugins`` group take part too.
    :param out: directory for the history, checkpoints and plots, or None.
    :param progress: True, False, or "auto" to show progress bars only when
        standard error is a terminal. One line per epoch is printed
        either way.
    """

    def __init__(
        self,
        model,
        loss,
        optimizer,
        metrics=(),
        callbacks=(),
        *,
        out=None,
        progress="auto",
        config=None,
    ):
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.metrics = list(metrics)
        self.callbacks = list(callbacks)
        self.out = Path(out) if out is not None else None
        self.progress = progress
        self.config = config
        self.history = History()
        self.epoch = 0
        self.stop_training = False
        self.train_data = None
        self.val_data = None
        #: Visualizer that :meth:`run` uses to plot the history, or None.
        self.visualizer = None
        self.hooks = PluginManager()
        for name, plugin in get_plugin_manager().list_name_plugin():
            if plugin is not None:
                self.hooks.register(plugin, name=name)
        # pluggy calls the last registered implementation first, so registering
        # in reverse makes callbacks run in list order, before the plugins.
        for callback in reversed(self.callbacks):
            self.hooks.register(callback)

    # Building from a config ---------------------------------------------------

    @classmethod
    def from_config(cls, source, overrides=(), out=None):
        """Build the model, data, loss, optimizer and callbacks that a config names.

        ``source`` is a TOML path or a dict; ``overrides`` are ``key=value``
        strings; ``out`` replaces the config's output directory. Without
        either, a TOML config writes to ``runs/<file name>`` and a dict config
        writes no files (until :meth:`run`, which needs a directory).
        """
        config = apply_overrides(load_config(source), overrides)
        config = validate(config)
        if out is not None:
            config["out"] = str(out)
        elif "out" not in config and not isinstance(source, dict):
            config["out"] = str(Path("runs") / Path(source).stem)
        backend.manual_seed(config["seed"])

        train_data, val_data, dataset = _build_data(config)
        model = build_model(config, dataset)
        _check_labels(config, model, dataset)
        loss = registry.create("losses", config["loss"])
        optimizer = registry.create(
            "optimizers", config["optimizer"], model.parameters()
        )
        metrics = [registry.create("metrics", spec) for spec in config["metrics"]]
        callbacks = [registry.create("callbacks", spec) for spec in config["callbacks"]]
        if config["gradient_monitor"]:
            callbacks.append(GradientMonitor())
        trainer = cls(
            model,
            loss,
            optimizer,
            metrics,
            callbacks,
            out=config.get("out"),
            progress=config["progress"],
            config=config,
        )
        trainer.train_data, trainer.val_data = train_data, val_data
        trainer.visualizer = _build_visualizer(config["plot"])
        return trainer

    def run(self):
        """Train as configured, then save the checkpoint and the plot.

        Returns the history. The history is saved after every epoch, and also
        when training fails.
        """
        if self.config is None:
            raise ConfigError("run() needs a Trainer built with Trainer.from_config()")
        if self.out is None:
            raise ConfigError(
                "run() writes the history and a checkpoint: set 'out' in the config "
                "or pass out= to Trainer.from_config()"
            )
        try:
            config_text = json.dumps(self.config, indent=2) + "\n"
        except TypeError as exc:
            raise ConfigError(
                f"run() saves the config as JSON, so it must hold names and plain "
                f"values, not objects: {exc}"
            ) from None
        self._clear_previous_run()
        write_text(self.out / "config.json", config_text)
        history = self.fit(self.train_data, self.val_data, epochs=self.config["epochs"])
        self.save_checkpoint(self.out / "checkpoint", epoch=self.epoch + 1)
        self.plot()
        return history

    def _clear_previous_run(self):
        """Remove the files that an earlier run wrote into the output directory.

        Only the files and directories that :meth:`run` writes are removed, so
        a re-run never mixes its history with an older run's checkpoint.
        """
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"output directory {self.out} exists and is a file")
        self.out.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            path = self.out / name
            if path.is_file():
                path.unlink()
        checkpoint_dir = self.out / "checkpoint"
        if (checkpoint_dir / "model.safetensors").is_file():
            shutil.rmtree(checkpoint_dir)

    def plot(self):
        """Plot the history with the configured visualizer; return the PNG path."""
        if self.visualizer is None or self.out is None:
            return None
        return self.visualizer.save(self.history.to_dict(), self.out / "history.png")

    # Training ------------------------------------------------------------------

    def fit(self, train_data, val_data=None, epochs=1):
        """Train for ``epochs`` epochs over ``train_data``, which yields (x, y) batches.

        Returns the :class:`~lunarlearn.history.History`.
        """
        hook = self.hooks.hook
        self.stop_training = False
        hook.lunarlearn_train_begin(trainer=self)
        try:
            for epoch in range(epochs):
                self.epoch = epoch
                hook.lunarlearn_epoch_begin(trainer=self, epoch=epoch)
                started = time.perf_counter()
                logs = self._train_epoch(train_data, epoch, epochs)
                if val_data is not None:
                    val_logs = self.evaluate(val_data, prefix="val_")
                    hook.lunarlearn_validation_end(
                        trainer=self, epoch=epoch, logs=val_logs
                    )
                    logs.update(val_logs)
                logs["epoch_time"] = time.perf_counter() - started
                logs["lr"] = float(self.optimizer.lr)
                hook.lunarlearn_epoch_end(trainer=self, epoch=epoch, logs=logs)
                self.history.append(logs)
                self._report_epoch(epoch, epochs, logs)
                if self.out is not None:
                    self.history.save(self.out)
                if self.stop_training:
                    break
        except BaseException as error:
            hook.lunarlearn_exception(trainer=self, error=error)
            if self.out is not None and self.history.epochs:
                self.history.save(self.out)
            raise
        hook.lunarlearn_train_end(trainer=self, history=self.history)
        return self.history

    def _show_bars(self):
        if self.progress == "auto":
            return sys.stderr.isatty()
        return bool(self.progress)

    def _train_epoch(self, data, epoch, epochs):
        hook = self.hooks.hook
        model, loss_fn, optimizer = self.model, self.loss, self.optimizer
        model.train()
        for metric in self.metrics:
            metric.reset()
        total_loss = 0.0
        count = 0
        bar = tqdm(
            total=len(data) if hasattr(data, "__len__") else None,
            desc=f"Epoch {epoch + 1}/{epochs}",
            unit="batch",
            disable=not self._show_bars(),
            leave=True,
            dynamic_ncols=True,
        )
        # Running figures cost a metric read per batch; build them only when a
        # progress bar or a batch_end hook shows them.
        batch_logs = not bar.disable or bool(hook.lunarlearn_batch_end.get_hookimpls())
        with bar:
            for batch, (x, y) in enumerate(data):
                _check_targets(y)
                hook.lunarlearn_batch_begin(trainer=self, batch=batch)
                step_started = time.perf_counter()
                output = model(_as_input(x))
                loss = loss_fn(output, y)
                value = loss.item()
                if not math.isfinite(value):
                    # Checked before the step, so the weights stay finite.
                    raise FloatingPointError(
                        f"loss became {value} at epoch {epoch + 1}, batch {batch + 1}; "
                        "lower the learning rate or check the data"
                    )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

                size = len(x)
                total_loss += value * size
                count += size
                for metric in self.metrics:
                    metric.update(output.data, y)
                if not batch_logs:
                    continue
                logs = self._running_logs(total_loss, count)
                hook.lunarlearn_batch_end(trainer=self, batch=batch, logs=logs)
                if not bar.disable:
                    step_ms = (time.perf_counter() - step_started) * 1e3
                    bar.set_postfix(
                        {k: f"{v:.4f}" for k, v in logs.items()}
                        | {"step": f"{step_ms:.1f}ms"},
                        refresh=False,
                    )
                    bar.update()
        if count == 0:
            raise ConfigError(
                "the training data produced no batch; check batch_size and drop_last"
            )
        return self._running_logs(total_loss, count)

    def _running_logs(self, total_loss, count):
        logs = {"loss": total_loss / count}
        for metric in self.metrics:
            logs[metric.name] = metric.result()
        return logs

    def evaluate(self, data, prefix=""):
        """Return the mean loss and the metrics over ``data`` in evaluation mode."""
        for metric in self.metrics:
            metric.reset()
        total_loss = 0.0
        count = 0
        with evaluation_mode(self.model), no_grad():
            for x, y in data:
                _check_targets(y)
                output = self.model(_as_input(x))
                total_loss += self.loss(output, y).item() * len(x)
                count += len(x)
                for metric in self.metrics:
                    metric.update(output.data, y)
        if count == 0:
            raise ConfigError("the evaluation data produced no batch")
        logs = {f"{prefix}loss": total_loss / count}
        for metric in self.metrics:
            logs[f"{prefix}{metric.name}"] = metric.result()
        return logs

    def _report_epoch(self, epoch, epochs, logs):
        figures = " - ".join(
            f"{name}: {value:.4f}"
            for name, value in logs.items()
            if name not in ("epoch_time", "lr")
        )
        print(
            f"Epoch {epoch + 1}/{epochs} - {logs['epoch_time']:.2f}s - {figures}",
            flush=True,
        )

    # Checkpoints ------------------------------------------------------------------

    def save_checkpoint(self, path, **state):
        """Write the model, optimizer, config and ``state`` into directory ``path``."""
        state = {"history": self.history.to_dict(), **state}
        self.hooks.hook.lunarlearn_checkpoint_save(
            trainer=self, path=Path(path), state=state
        )
        state["history"] = json_figures(state["history"])
        return checkpoint.save_checkpoint(
            path, self.model, self.config, optimizer=self.optimizer, state=state
        )

    @classmethod
    def from_checkpoint(cls, path, overrides=()):
        """Rebuild a configured Trainer and load the weights saved at ``path``."""
        saved = checkpoint.load_checkpoint(path)
        if not saved.config:
            raise ConfigError(
                f"{saved.path} has no saved config to rebuild the run from"
            )
        trainer = cls.from_config(saved.config, overrides=overrides)
        trainer.model.load_state_dict(saved.weights)
        if saved.optimizer is not None:
            trainer.optimizer.load_state_dict(saved.optimizer)
        trainer.hooks.hook.lunarlearn_checkpoint_load(
            trainer=trainer, path=saved.path, state=saved.state
        )
        return trainer


def _build_visualizer(spec):
    """Build the plot's visualizer before training, so a bad name fails early."""
    if not spec:
        return None
    if not registry.names("visualizers"):
        print(
            "lunarlearn-viz is not installed, so no plot will be drawn; install it "
            "with: pip install 'lunarlearn[viz]'",
            file=sys.stderr,
        )
        return None
    return registry.create("visualizers", spec)


def _check_targets(y):
    if y is None:
        raise ConfigError(
            "the data has no labels (y is None), which the loss needs; an .npz "
            "dataset needs an array 'y' beside 'x'"
        )


def _as_input(x):
    """Wrap a batch as a Tensor; integer and float64 data become float32."""
    if isinstance(x, Tensor):
        return x
    if x.dtype != backend.DEFAULT_DTYPE:
        x = x.astype(backend.DEFAULT_DTYPE)
    return Tensor._make(x, False, None)


def _build_data(config):
    """Build the training and validation loaders that the [data] section names."""
    try:
        import lunarlearn_data
    except ImportError:
        raise ConfigError(
            "the [data] section needs lunarlearn-data; install it with "
            "pip install 'lunarlearn[data]'"
        ) from None

    data = config["data"]
    options = dict(data.get("options") or {})
    dataset = registry.create("datasets", {"type": data["dataset"], **options})
    if len(dataset) and dataset[0][1] is None:
        raise ConfigError(
            f"dataset {data['dataset']!r} has no labels (y), which training needs"
        )

    split = data["validation_split"]
    if split and data["split_shuffle"]:
        order = np.random.default_rng(config["seed"]).permutation(len(dataset))
        dataset = lunarlearn_data.Subset(dataset, order)
    if split:
        train, val = lunarlearn_data.split_tail(dataset, split)
    else:
        train, val = dataset, None

    if data["drop_last"] and len(train) < data["batch_size"]:
        raise ConfigError(
            f"data.batch_size {data['batch_size']} is larger than the "
            f"{len(train)} training samples, so drop_last leaves no batch"
        )

    train_loader = lunarlearn_data.DataLoader(
        train,
        batch_size=data["batch_size"],
        shuffle=data["shuffle"],
        drop_last=data["drop_last"],
        seed=config["seed"],
    )
    val_loader = None
    if val is not None:
        val_loader = lunarlearn_data.DataLoader(val, batch_size=data["batch_size"])
    return train_loader, val_loader, dataset


def build_model(config, dataset=None):
    """Build the config's Sequential model and its lazy layers."""
    model_config = config["model"]
    input_shape = model_config.get("input_shape")
    sample_shape = getattr(dataset, "sample_shape", None)
    if input_shape is None:
        if sample_shape is None:
            raise ConfigError(
                "model.input_shape is required when the dataset has no sample_shape"
            )
        input_shape = list(sample_shape)
    elif sample_shape is not None and tuple(input_shape) != tuple(sample_shape):
        raise ConfigError(
            f"model.input_shape {list(input_shape)} does not match the dataset's "
            f"sample shape {list(sample_shape)}"
        )
    model = Sequential(model_config["layers"])
    try:
        with evaluation_mode(model), no_grad():
            output = model(
                Tensor(np.zeros((1, *input_shape), dtype=backend.DEFAULT_DTYPE))
            )
    except ValueError as exc:
        raise ConfigError(
            f"the layers do not fit an input of shape {list(input_shape)}: {exc}"
        ) from exc
    model.output_shape = tuple(output.shape[1:])
    return model


def _check_labels(config, model, dataset):
    """Check that class labels fit the output layer before training starts."""
    loss_name = config["loss"]
    if isinstance(loss_name, dict):
        loss_name = loss_name["type"]
    if not isinstance(loss_name, str):
        return  # a ready loss object, whose kind is unknown here
    if registry.canonical_name("losses", loss_name) != "cross_entropy":
        return
    classes = getattr(dataset, "num_classes", None)
    units = model.output_shape[-1] if model.output_shape else 1
    if classes is not None and classes != units:
        raise ConfigError(
            f"the dataset has {classes} classes but the model's output layer has "
            f"{units} units; set the last layer's units to {classes}"
        )
