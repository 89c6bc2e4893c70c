"""The built-in callbacks, run inside real training runs on the digits."""

import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lunarlearn.callbacks import (
    EarlyStopping,
    GradientMonitor,
    GradientWarning,
    LambdaCallback,
    ModelCheckpoint,
)
from lunarlearn.checkpoint import load_checkpoint
from lunarlearn.errors import ConfigError
from lunarlearn.trainer import Trainer


def digits_config(epochs, callbacks=(), **top):
    config = {
        "epochs": epochs,
        "loss": "cross_entropy",
        "metrics": ["accuracy"],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "callbacks": list(callbacks),
        "progress": False,
        "plot": False,
        "model": {
            "input_shape": [64],
            "layers": [
                {"type": "dense", "units": 16, "activation": "relu"},
                {"type": "dense", "units": 10},
            ],
        },
        "data": {"dataset": "digits", "batch_size": 64, "validation_split": 0.2},
    }
    config.update(top)
    return config


def snapshot(model):
    return {name: value.copy() for name, value in model.state_dict().items()}


def assert_same_weights(model, expected):
    state = model.state_dict()
    assert state.keys() == expected.keys()
    for name, value in expected.items():
        assert np.array_equal(state[name], value), name


class WeightRecorder:
    """Copy the weights at the end of every epoch."""

    def __init__(self):
        self.weights = []

    def lunarlearn_epoch_end(self, trainer, epoch):
        self.weights.append(snapshot(trainer.model))


class NormRecorder:
    """Record the global gradient norm after every step, with its epoch."""

    def __init__(self):
        self.norms = []

    def lunarlearn_batch_end(self, trainer):
        total = sum(
            float(np.square(p.grad, dtype=np.float64).sum())
            for p in trainer.model.parameters()
            if p.grad is not None
        )
        self.norms.append((trainer.epoch, math.sqrt(total)))


# EarlyStopping --------------------------------------------------------------------


def test_early_stopping_restores_best_weights():
    # Loss falls every epoch, so with mode="max" the first epoch stays best.
    stopper = EarlyStopping(
        monitor="val_loss", mode="max", patience=1, restore_best_weights=True
    )
    recorder = WeightRecorder()
    trainer = Trainer.from_config(digits_config(epochs=6))
    trainer.hooks.register(stopper)
    trainer.hooks.register(recorder)
    history = trainer.fit(trainer.train_data, trainer.val_data, epochs=6)

    assert history.epochs == 2
    assert stopper.stopped_epoch == 1
    assert stopper.best == history["val_loss"][0]
    assert history["val_loss"][1] < history["val_loss"][0]
    assert_same_weights(trainer.model, recorder.weights[0])
    with pytest.raises(AssertionError):
        assert_same_weights(trainer.model, recorder.weights[1])


def test_early_stopping_runs_all_epochs_while_improving():
    trainer = Trainer.from_config(
        digits_config(epochs=3, callbacks=[{"type": "early_stopping", "patience": 0}])
    )
    stopper = trainer.callbacks[0]
    history = trainer.fit(trainer.train_data, trainer.val_data, epochs=3)
    assert history.epochs == 3
    assert stopper.stopped_epoch is None
    assert stopper.mode == "min"
    assert stopper.best == history["val_loss"][2]


def test_early_stopping_resets_between_fits():
    stopper = EarlyStopping(
        monitor="val_loss", mode="max", patience=0, restore_best_weights=True
    )
    trainer = Trainer.from_config(digits_config(epochs=2), out=None)
    trainer.hooks.register(stopper)
    trainer.fit(trainer.train_data, trainer.val_data, epochs=2)
    assert stopper.stopped_epoch == 1
    recorder = WeightRecorder()
    trainer.hooks.register(recorder)
    trainer.fit(trainer.train_data, trainer.val_data, epochs=2)
    assert stopper.stopped_epoch == 1
    assert trainer.history.epochs == 4
    # The second fit restores its own first epoch, not the first fit's.
    assert_same_weights(trainer.model, recorder.weights[0])


def test_early_stopping_mode_follows_monitor():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping(monitor="val_loss").mode == "min"
    with pytest.raises(ConfigError, match="invalid mode 'lowest'"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ConfigError, match="invalid patience -1"):
        EarlyStopping(patience=-1)


def test_missing_monitored_figure_lists_available_ones():
    config = digits_config(
        epochs=1, callbacks=[{"type": "early_stopping", "monitor": "val_acc"}]
    )
    trainer = Trainer.from_config(config)
    with pytest.raises(ConfigError) as raised:
        trainer.fit(trainer.train_data, trainer.val_data)
    message = str(raised.value)
    assert "monitors 'val_acc'" in message
    assert "val_accuracy" in message


# ModelCheckpoint ------------------------------------------------------------------


def test_model_checkpoint_saves_best_epoch(tmp_path):
    config = digits_config(
        epochs=3,
        callbacks=[{"type": "model_checkpoint", "monitor": "val_accuracy"}],
        optimizer={"type": "adam", "lr": 0.05},
    )
    trainer = Trainer.from_config(config, out=tmp_path)
    recorder = WeightRecorder()
    trainer.hooks.register(recorder)
    history = trainer.run()

    accuracy = history["val_accuracy"]
    improved = [e for e in range(3) if accuracy[e] > max(accuracy[:e], default=-1)]
    best = improved[-1]
    assert trainer.callbacks[0].saved_epochs == improved

    saved = load_checkpoint(tmp_path / "best")
    assert saved.path == tmp_path / "best"
    assert saved.state["epoch"] == best + 1
    assert saved.state["history"]["val_accuracy"] == accuracy[: best + 1]
    for name, value in recorder.weights[best].items():
        assert np.array_equal(saved.weights[name], value)
    reloaded = Trainer.from_checkpoint(tmp_path / "best")
    logs = reloaded.evaluate(reloaded.val_data, prefix="val_")
    assert logs["val_accuracy"] == accuracy[best]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_model_checkpoint_every_epoch(tmp_path):
    callback = ModelCheckpoint(directory="last", save_best_only=False)
    trainer = Trainer.from_config(digits_config(epochs=2), out=tmp_path)
    trainer.hooks.register(callback)
    trainer.fit(trainer.train_data, trainer.val_data, epochs=2)
    assert callback.saved_epochs == [0, 1]
    assert load_checkpoint(tmp_path / "last").state["epoch"] == 2


def test_model_checkpoint_needs_output_directory():
    trainer = Trainer.from_config(digits_config(epochs=1), out=None)
    trainer.out = None
    trainer.hooks.register(ModelCheckpoint())
    with pytest.raises(ConfigError, match="output directory"):
        trainer.fit(trainer.train_data, trainer.val_data)


# GradientMonitor ------------------------------------------------------------------


def test_gradient_monitor_warns_once_when_lr_is_huge():
    config = digits_config(epochs=2, optimizer={"type": "sgd", "lr": 100.0})
    config["model"]["layers"][0]["units"] = 32
    trainer = Trainer.from_config(config)
    recorder = NormRecorder()
    trainer.hooks.register(recorder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = trainer.fit(trainer.train_data, trainer.val_data, epochs=2)

    exploding = [norm for epoch, norm in recorder.norms if norm > 1e3]
    assert len(exploding) >= 2
    messages = [str(w.message) for w in caught if w.category is GradientWarning]
    assert len(messages) == 1
    assert messages[0].startswith("gradients explode at epoch 1: gradient norm")
    assert "lower the learning rate" in messages[0]
    for epoch in range(2):
        norms = [norm for e, norm in recorder.norms if e == epoch]
        assert history["grad_norm"][epoch] == pytest.approx(np.mean(norms), rel=1e-5)


def test_gradient_monitor_once_per_epoch(tmp_path):
    # Raw 0-255 pixels make gradients large enough to explode in every epoch.
    digits = load_digits()
    path = tmp_path / "raw.npz"
    np.savez(path, x=(digits.data * 16).astype(np.float32), y=digits.target)
    config = digits_config(
        epochs=3,
        callbacks=[{"type": "gradient_monitor", "max_norm": 100.0, "min_norm": 1e-7}],
        optimizer={"type": "sgd", "lr": 10.0},
        gradient_monitor=False,
    )
    config["model"] = {"layers": [{"type": "dense", "units": 10}]}
    config["data"] = {"dataset": "array", "options": {"path": str(path)}}
    trainer = Trainer.from_config(config)
    recorder = NormRecorder()
    trainer.hooks.register(recorder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(trainer.train_data, epochs=3)

    expected = set()
    for epoch, norm in recorder.norms:
        if not math.isfinite(norm) or norm > 100.0:
            expected.add((epoch + 1, "explode"))
        elif norm < 1e-7:
            expected.add((epoch + 1, "vanish"))
    assert {(1, "explode"), (2, "explode"), (3, "explode")} <= expected
    found = [
        (int(str(w.message).split()[4].rstrip(":")), str(w.message).split()[1])
        for w in caught
        if w.category is GradientWarning
    ]
    assert sorted(found) == sorted(expected)


def test_gradient_monitor_off_leaves_no_grad_norm():
    trainer = Trainer.from_config(digits_config(epochs=1, gradient_monitor=False))
    history = trainer.fit(trainer.train_data, trainer.val_data)
    assert "grad_norm" not in history
    assert "loss" in history


def test_gradient_monitor_rejects_bad_norms():
    with pytest.raises(ConfigError, match="min_norm=5.*max_norm=1"):
        GradientMonitor(max_norm=1, min_norm=5)


# LambdaCallback -------------------------------------------------------------------


def test_lambda_callback_gets_only_named_arguments():
    batches, epochs = [], []
    callback = LambdaCallback(
        batch_end=lambda batch: batches.append(batch),
        epoch_end=lambda logs, epoch: epochs.append((epoch, logs["loss"])),
    )
    trainer = Trainer.from_config(digits_config(epochs=2))
    trainer.hooks.register(callback)
    history = trainer.fit(trainer.train_data, epochs=2)
    per_epoch = len(trainer.train_data)
    assert batches == list(range(per_epoch)) * 2
    assert epochs == [(0, history["loss"][0]), (1, history["loss"][1])]


def test_lambda_callback_added_figure_reaches_history():
    def add_figure(logs):
        logs["double_loss"] = 2 * logs["loss"]

    trainer = Trainer.from_config(digits_config(epochs=1))
    trainer.hooks.register(LambdaCallback(epoch_end=add_figure))
    history = trainer.fit(trainer.train_data)
    assert history["double_loss"] == [2 * history["loss"][0]]


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"epoh_end": lambda: None}, "unknown hook 'epoh_end'; hooks: .*epoch_end"),
        ({"exception": [].append}, "must be a function or a bound method"),
        ({"epoch_end": lambda step: None}, "takes 'step'"),
    ],
)
def test_lambda_callback_rejects_bad_hooks(hooks, message):
    with pytest.raises(ConfigError, match=message):
        LambdaCallback(**hooks)


@pytest.mark.parametrize("patience", [-1, 2.5, "3", True])
def test_early_stopping_rejects_bad_patience(patience):
    with pytest.raises(ConfigError, match="invalid patience"):
        EarlyStopping(patience=patience)


def test_model_checkpoint_every_epoch_needs_no_monitor(tmp_path):
    saver = ModelCheckpoint(
        directory="each", monitor="no_such_figure", save_best_only=False
    )
    trainer = Trainer.from_config(digits_config(2), out=tmp_path)
    trainer.hooks.register(saver)
    trainer.fit(trainer.train_data, trainer.val_data, epochs=2)
    assert saver.saved_epochs == [0, 1]
    assert (tmp_path / "each" / "model.safetensors").is_file()
