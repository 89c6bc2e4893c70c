"""Trainer: configured runs, their files, failures, and fit() with user models."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lunarlearn import Module, Parameter, Sequential, Tensor, registry
from lunarlearn.callbacks import LambdaCallback
from lunarlearn.cli import main
from lunarlearn.errors import ConfigError
from lunarlearn.history import History
from lunarlearn.trainer import Trainer
from lunarlearn_data import ArrayDataset, DataLoader, Digits

FIGURES = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_time", "lr")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def digits_config(epochs=3, **top):
    config = {
        "epochs": epochs,
        "loss": "cross_entropy",
        "metrics": ["accuracy"],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "progress": False,
        "model": {
            "input_shape": [64],
            "layers": [
                {"type": "dense", "units": 32, "activation": "relu"},
                {"type": "dense", "units": 10},
            ],
        },
        "data": {"dataset": "digits", "batch_size": 32, "validation_split": 0.2},
    }
    config.update(top)
    return config


def dense_trainer(in_features, units, **options):
    """A Trainer over one built dense layer, cross-entropy and SGD."""
    model = Sequential([{"type": "dense", "units": units}])
    model(Tensor(np.zeros((1, in_features), dtype=np.float32)))
    return Trainer(
        model,
        registry.create("losses", "cross_entropy"),
        registry.create("optimizers", "sgd", model.parameters()),
        **options,
    )


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    trainer = Trainer.from_config(digits_config(), out=out)
    history = trainer.run()
    return trainer, history, out


@pytest.fixture
def failing_callback():
    class FailAtEpoch:
        """Raise at the end of one epoch and record the exception hook's error."""

        def __init__(self, epoch):
            self.epoch = epoch
            self.errors = []

        def lunarlearn_epoch_end(self, epoch):
            if epoch == self.epoch:
                raise RuntimeError(f"callback failed at epoch {epoch + 1}")

        def lunarlearn_exception(self, error):
            self.errors.append(error)

    registry.register("callbacks", "fail_at_epoch", FailAtEpoch)
    yield FailAtEpoch
    registry.unregister("callbacks", "fail_at_epoch")


# Configured runs --------------------------------------------------------------


def test_run_history_has_one_entry_per_epoch(digits_run):
    trainer, history, out = digits_run
    saved = json.loads((out / "history.json").read_text())
    for name in FIGURES:
        assert name in saved
        assert len(saved[name]) == 3
    assert saved["lr"] == [1e-3, 1e-3, 1e-3]
    assert all(t > 0 for t in saved["epoch_time"])
    assert saved == history.to_dict()
    assert History.load(out).to_dict() == saved


def test_run_history_csv_matches_json(digits_run):
    _, history, out = digits_run
    with open(out / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    for name in FIGURES:
        assert [float(row[name]) for row in rows] == history[name]


def test_run_writes_config_and_checkpoint(digits_run):
    trainer, _, out = digits_run
    assert json.loads((out / "config.json").read_text()) == trainer.config
    assert trainer.config["out"] == str(out)
    files = {path.name for path in (out / "checkpoint").iterdir()}
    assert files == {
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "optimizer.json",
    }
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_run_plots_history_png(digits_run):
    _, _, out = digits_run
    with Image.open(out / "history.png") as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()
    assert width >= 200
    assert height >= 200


def test_run_loss_decreases_on_digits(digits_run):
    _, history, _ = digits_run
    loss, val_loss = history["loss"], history["val_loss"]
    assert loss[0] > loss[1] > loss[2]
    assert val_loss[0] > val_loss[1] > val_loss[2]
    assert loss[0] < 2.5  # near ln(10) at the start, not diverging
    assert history["val_accuracy"][2] > history["val_accuracy"][0]
    assert history["val_accuracy"][2] > 0.5


def test_run_last_val_figures_match_evaluate(digits_run):
    trainer, history, _ = digits_run
    logs = trainer.evaluate(trainer.val_data, prefix="val_")
    assert logs["val_loss"] == pytest.approx(history["val_loss"][-1], rel=1e-6)
    assert logs["val_accuracy"] == history["val_accuracy"][-1]
    assert len(trainer.val_data.dataset) == 360  # ceil(1797 * 0.2)


def test_from_config_leaves_caller_dict_unchanged(tmp_path):
    config = digits_config(epochs=1)
    before = json.dumps(config, sort_keys=True)
    trainer = Trainer.from_config(config, overrides=["epochs=2"], out=tmp_path)
    assert json.dumps(config, sort_keys=True) == before
    assert trainer.config["epochs"] == 2
    assert trainer.config["seed"] == 0


def test_from_config_is_reproducible(tmp_path):
    first = Trainer.from_config(digits_config(epochs=1), out=tmp_path / "a")
    second = Trainer.from_config(digits_config(epochs=1), out=tmp_path / "b")
    for name, value in first.model.state_dict().items():
        assert np.array_equal(value, second.model.state_dict()[name])
    first.fit(first.train_data, first.val_data)
    second.fit(second.train_data, second.val_data)
    assert first.history.to_dict()["loss"] == second.history.to_dict()["loss"]


def test_run_without_config_raises(tmp_path):
    trainer = dense_trainer(64, 10, out=tmp_path)
    with pytest.raises(ConfigError, match="from_config"):
        trainer.run()


# Failures ---------------------------------------------------------------------


def test_failed_run_keeps_history(tmp_path, failing_callback):
    config = digits_config(callbacks=[{"type": "fail_at_epoch", "epoch": 1}])
    trainer = Trainer.from_config(config, out=tmp_path)
    with pytest.raises(RuntimeError, match="callback failed at epoch 2"):
        trainer.run()

    saved = json.loads((tmp_path / "history.json").read_text())
    for name in FIGURES:
        assert len(saved[name]) == 1
    assert saved["loss"] == [trainer.history["loss"][0]]
    assert saved["val_accuracy"] == [trainer.history["val_accuracy"][0]]
    assert not (tmp_path / "checkpoint").exists()


def test_failed_run_calls_exception_hook(tmp_path, failing_callback):
    config = digits_config(callbacks=[{"type": "fail_at_epoch", "epoch": 1}])
    trainer = Trainer.from_config(config, out=tmp_path)
    callback = trainer.callbacks[0]
    assert isinstance(callback, failing_callback)
    with pytest.raises(RuntimeError) as raised:
        trainer.run()
    assert callback.errors == [raised.value]


def test_lambda_failure_saves_history(tmp_path):
    errors = []

    def fail(epoch):
        if epoch == 1:
            raise KeyError("missing figure")

    callback = LambdaCallback(
        epoch_end=fail, exception=lambda error: errors.append(error)
    )
    trainer = Trainer.from_config(digits_config(epochs=3), out=tmp_path)
    trainer.hooks.register(callback)
    with pytest.raises(KeyError):
        trainer.fit(trainer.train_data, trainer.val_data, epochs=3)
    assert len(errors) == 1
    assert isinstance(errors[0], KeyError)
    assert History.load(tmp_path).epochs == 1


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_loss_stops_training(tmp_path):
    x = np.ones((8, 4), dtype=np.float32)
    x[5, 2] = np.inf
    loader = DataLoader(ArrayDataset(x, np.arange(8) % 2), batch_size=4, prefetch=0)
    trainer = dense_trainer(4, 2, out=tmp_path, progress=False)
    model = trainer.model
    with pytest.raises(FloatingPointError, match="epoch 1, batch 2"):
        trainer.fit(loader, epochs=1)
    assert trainer.history.epochs == 0
    assert not (tmp_path / "history.json").exists()
    # The loss is checked before the step, so the weights stay finite.
    for name, value in model.state_dict().items():
        assert np.isfinite(value).all(), name


def test_run_rejects_objects_in_config(tmp_path):
    out = tmp_path / "run"
    Trainer.from_config(digits_config(epochs=1), out=out).run()
    before = (out / "history.json").read_text()
    config = digits_config(epochs=1, loss=registry.create("losses", "cross_entropy"))
    trainer = Trainer.from_config(config, out=out)
    with pytest.raises(ConfigError, match="names and plain values"):
        trainer.run()
    # Nothing of the earlier run was removed.
    assert (out / "history.json").read_text() == before
    assert (out / "checkpoint" / "model.safetensors").is_file()


def test_rerun_replaces_previous_run_files(tmp_path):
    out = tmp_path / "run"
    Trainer.from_config(digits_config(epochs=2), out=out).run()
    (out / "history.png").unlink()
    Trainer.from_config(digits_config(epochs=1, plot=False), out=out).run()
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1
    assert not (out / "history.png").exists()
    saved = json.loads((out / "checkpoint" / "config.json").read_text())
    assert saved["state"]["epoch"] == 1


def test_evaluate_keeps_frozen_layer_in_eval_mode():
    trainer = Trainer.from_config(digits_config(epochs=1))
    first = trainer.model[0]
    first.eval()
    trainer.evaluate(trainer.val_data)
    assert trainer.model.training
    assert not first.training


# fit() with models built in Python ----------------------------------------------


class SoftmaxRegression(Module):
    """A user-defined model: one affine map written with raw Parameters."""

    def __init__(self, weight, bias):
        super().__init__()
        self.weight = Parameter(weight)
        self.bias = Parameter(bias)

    def forward(self, x):
        return x @ self.weight + self.bias


def torch_softmax_regression(x, y, weight, bias, lr, batch_size, epochs):
    """Train the same model in PyTorch; return weights and per-epoch figures."""
    w = torch.tensor(weight, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    losses, accuracies = [], []
    for _ in range(epochs):
        total, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            xb = torch.tensor(x[start : start + batch_size])
            yb = torch.tensor(y[start : start + batch_size])
            output = xb @ w + b
            loss = torch.nn.functional.cross_entropy(output, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            correct += int((output.argmax(1) == yb).sum())
        losses.append(total / len(x))
        accuracies.append(correct / len(x))
    return w.detach().numpy(), b.detach().numpy(), losses, accuracies


def test_user_module_fit_matches_torch():
    digits = Digits()
    x, y = digits.x[:500], digits.y[:500]
    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((64, 10)) * 0.01).astype(np.float32)
    bias = np.zeros(10, dtype=np.float32)
    model = SoftmaxRegression(weight, bias)
    trainer = Trainer(
        model,
        registry.create("losses", "cross_entropy"),
        registry.create("optimizers", {"type": "sgd", "lr": 0.5}, model.parameters()),
        [registry.create("metrics", "accuracy")],
        progress=False,
    )
    loader = DataLoader(ArrayDataset(x, y), batch_size=50, shuffle=False)
    history = trainer.fit(loader, epochs=2)

    w, b, losses, accuracies = torch_softmax_regression(
        x, y, weight, bias, lr=0.5, batch_size=50, epochs=2
    )
    np.testing.assert_allclose(model.weight.numpy(), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.bias.numpy(), b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-5)
    assert history["accuracy"] == accuracies
    assert model.weight.dtype == np.float32


def test_sequential_fit_with_dataloaders():
    digits = Digits()
    order = np.random.default_rng(1).permutation(len(digits))
    train = ArrayDataset(digits.x[order[:1400]], digits.y[order[:1400]])
    val = ArrayDataset(digits.x[order[1400:]], digits.y[order[1400:]])
    model = Sequential(
        [
            {"type": "dense", "units": 32, "activation": "relu"},
            {"type": "dense", "units": 10},
        ]
    )
    model(Tensor(np.zeros((1, 64), dtype=np.float32)))
    trainer = Trainer(
        model,
        registry.create("losses", "cross_entropy"),
        registry.create("optimizers", {"type": "adam", "lr": 1e-2}, model.parameters()),
        [registry.create("metrics", "accuracy")],
        progress=False,
    )
    history = trainer.fit(
        DataLoader(train, batch_size=32, shuffle=True, seed=0),
        DataLoader(val, batch_size=128),
        epochs=2,
    )
    assert history.epochs == 2
    assert history["val_loss"][1] < history["val_loss"][0]
    assert history["val_accuracy"][1] > 0.85
    assert model.training


def test_evaluate_keeps_training_mode():
    trainer = dense_trainer(64, 10, progress=False)
    model = trainer.model
    digits = Digits()
    loader = DataLoader(ArrayDataset(digits.x[:64], digits.y[:64]), batch_size=32)
    model.eval()
    trainer.evaluate(loader)
    assert not model.training
    model.train()
    logs = trainer.evaluate(loader, prefix="test_")
    assert model.training
    assert list(logs) == ["test_loss"]


# The MNIST example -------------------------------------------------------------


def test_mnist_example_trains_one_epoch(tmp_path, monkeypatch, capsys, mnist_root):
    monkeypatch.setenv("LUNARLEARN_DATA", str(mnist_root))
    code = main(
        [
            "train",
            str(EXAMPLES / "mnist_cnn.toml"),
            "--set",
            "epochs=1",
            "--set",
            "progress=false",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0, capsys.readouterr().err
    history = History.load(tmp_path)
    assert history.epochs == 1
    assert history["val_accuracy"][0] > 0.85
    assert history["val_loss"][0] < history["loss"][0]
