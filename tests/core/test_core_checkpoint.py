"""Checkpoints: reloading a run, exact round trips, atomic writes, safe loading."""

import json
import os
import pathlib
import pickle
import shutil
import stat

import numpy as np
import pytest

from lunarlearn import Sequential, Tensor, checkpoint
from lunarlearn.cli import main
from lunarlearn.errors import CheckpointError, ConfigError
from lunarlearn.trainer import Trainer


def digits_config(epochs=2):
    return {
        "epochs": epochs,
        "loss": "cross_entropy",
        "metrics": ["accuracy"],
        "optimizer": {"type": "adam", "lr": 1e-3},
        "progress": False,
        "plot": False,
        "model": {
            "input_shape": [64],
            "layers": [
                {"type": "dense", "units": 16, "activation": "relu"},
                {"type": "dense", "units": 10},
            ],
        },
        "data": {
            "dataset": "digits",
            "batch_size": 64,
            "validation_split": 0.2,
            "split_shuffle": True,
        },
    }


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpoint") / "run"
    trainer = Trainer.from_config(digits_config(), out=out)
    trainer.run()
    return trainer, out


@pytest.fixture
def run_copy(saved_run, tmp_path):
    """A copy of the saved run that a test may damage."""
    _, out = saved_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    return copy


def small_model(seed=0):
    model = Sequential([{"type": "dense", "units": 3}])
    model(Tensor(np.zeros((1, 4), dtype=np.float32)))
    rng = np.random.default_rng(seed)
    for param in model.parameters():
        param.data[...] = rng.standard_normal(param.shape).astype(np.float32)
    return model


def file_bytes(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


# Reloading a run ----------------------------------------------------------------


def test_from_checkpoint_reproduces_last_val_figures(saved_run):
    trainer, out = saved_run
    history = trainer.history
    reloaded = Trainer.from_checkpoint(out)
    logs = reloaded.evaluate(reloaded.val_data, prefix="val_")
    assert logs["val_loss"] == pytest.approx(history["val_loss"][-1], rel=1e-6)
    assert logs["val_accuracy"] == history["val_accuracy"][-1]


def test_cli_eval_prints_last_val_figures(saved_run, capsys):
    trainer, out = saved_run
    history = trainer.history
    assert main(["eval", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("validation data (360 samples):")
    assert f"loss: {history['val_loss'][-1]:.4f}" in printed
    assert f"accuracy: {history['val_accuracy'][-1]:.4f}" in printed


def test_cli_eval_accepts_checkpoint_directory(saved_run, capsys):
    _, out = saved_run
    assert main(["eval", str(out)]) == 0
    from_run = capsys.readouterr().out
    assert main(["eval", str(out / "checkpoint")]) == 0
    assert capsys.readouterr().out == from_run


def test_checkpoint_state_records_epochs_and_history(saved_run):
    trainer, out = saved_run
    saved = checkpoint.load_checkpoint(out)
    assert saved.path == out / "checkpoint"
    assert saved.state["epoch"] == 2
    assert saved.state["history"] == trainer.history.to_dict()
    assert saved.config == trainer.config


# Exact round trips --------------------------------------------------------------


def test_weights_round_trip_exactly(saved_run):
    trainer, out = saved_run
    saved = checkpoint.load_checkpoint(out)
    expected = trainer.model.state_dict()
    assert sorted(saved.weights) == sorted(expected)
    for name, value in expected.items():
        assert saved.weights[name].dtype == np.float32
        assert np.array_equal(saved.weights[name], value)

    reloaded = Trainer.from_checkpoint(out)
    for name, value in reloaded.model.state_dict().items():
        assert np.array_equal(value, expected[name])


def test_optimizer_state_round_trips(saved_run):
    trainer, out = saved_run
    expected = trainer.optimizer.state_dict()
    restored = Trainer.from_checkpoint(out).optimizer.state_dict()
    assert restored["param_groups"][0]["lr"] == expected["param_groups"][0]["lr"]
    assert sorted(restored["state"]) == sorted(expected["state"])
    for index, values in expected["state"].items():
        assert restored["state"][index].keys() == values.keys()
        for name, value in values.items():
            assert np.array_equal(restored["state"][index][name], value)


def test_checkpoint_without_config(tmp_path):
    model = small_model()
    checkpoint.save_checkpoint(tmp_path / "ckpt", model, None)
    saved = checkpoint.load_checkpoint(tmp_path / "ckpt")
    assert saved.config is None
    assert saved.optimizer is None
    for name, value in model.state_dict().items():
        assert np.array_equal(saved.weights[name], value)
    with pytest.raises(ConfigError, match="has no saved config"):
        Trainer.from_checkpoint(tmp_path / "ckpt")


def test_from_checkpoint_without_out_and_with_override(saved_run, tmp_path):
    trainer, _ = saved_run
    config = {k: v for k, v in trainer.config.items() if k != "out"}
    checkpoint.save_checkpoint(tmp_path / "ckpt", trainer.model, config)
    reloaded = Trainer.from_checkpoint(tmp_path / "ckpt")
    assert reloaded.out is None
    for name, value in trainer.model.state_dict().items():
        assert np.array_equal(reloaded.model.state_dict()[name], value)

    moved = Trainer.from_checkpoint(tmp_path / "ckpt", overrides=["out=elsewhere"])
    assert moved.out == pathlib.Path("elsewhere")


# Atomic writes --------------------------------------------------------------------


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    checkpoint.save_checkpoint(target, small_model(0), {"note": "first"})
    before = file_bytes(target)

    def failing_save(tensors, filename, *args, **kwargs):
        pathlib.Path(filename).write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", failing_save)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save_checkpoint(target, small_model(1), {"note": "second"})

    assert file_bytes(target) == before
    assert [path.name for path in tmp_path.iterdir()] == ["ckpt"]
    assert checkpoint.load_checkpoint(target).config == {"note": "first"}


def test_rewrite_replaces_checkpoint_and_cleans_up(tmp_path):
    target = tmp_path / "ckpt"
    checkpoint.save_checkpoint(target, small_model(0), {"note": "first"})
    second = small_model(1)
    checkpoint.save_checkpoint(target, second, {"note": "second"})
    saved = checkpoint.load_checkpoint(target)
    assert saved.config == {"note": "second"}
    for name, value in second.state_dict().items():
        assert np.array_equal(saved.weights[name], value)
    assert [path.name for path in tmp_path.iterdir()] == ["ckpt"]


def test_refuses_to_replace_other_directory(tmp_path):
    target = tmp_path / "notes"
    target.mkdir()
    (target / "todo.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        checkpoint.save_checkpoint(target, small_model(), None)
    assert (target / "todo.txt").read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes"]
    assert [path.name for path in target.iterdir()] == ["todo.txt"]


def test_run_files_get_default_permissions(saved_run):
    _, out = saved_run
    umask = os.umask(0o022)
    os.umask(umask)
    paths = [out / "history.json", out / "checkpoint", *(out / "checkpoint").iterdir()]
    for path in paths:
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


# Safe loading ---------------------------------------------------------------------


TAMPERED = [
    ("config.json", b"{not json", "not valid JSON"),
    ("config.json", b"[1, 2]", "expected an object"),
    ("config.json", b"\xff\xfe binary", "not valid JSON"),
    ("config.json", b'{"format_version": 99, "config": {}}', "version 99"),
    ("optimizer.json", b'{"param_groups": ', "not valid JSON"),
    ("optimizer.json", b'{"param_groups": []}', "scalars"),
    ("optimizer.json", None, "missing optimizer.json"),
    ("model.safetensors", b"garbage", "not a valid safetensors file"),
    ("optimizer.safetensors", b"\x08" + bytes(7) + b"{}", "not a valid safetensors"),
]


@pytest.mark.parametrize(("name", "content", "message"), TAMPERED)
def test_tampered_checkpoint_raises(run_copy, name, content, message):
    path = run_copy / "checkpoint" / name
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_checkpoint(run_copy)


@pytest.mark.parametrize(("name", "content", "message"), TAMPERED[:3])
def test_cli_eval_tampered_fails_cleanly(run_copy, capsys, name, content, message):
    (run_copy / "checkpoint" / name).write_bytes(content)
    assert main(["eval", str(run_copy)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("lunarlearn: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


class _Marker:
    """Unpickling this object creates a file: proof that a loader ran pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_pickle_payload_is_never_run(run_copy, tmp_path, name):
    marker = tmp_path / "unpickled"
    (run_copy / "checkpoint" / name).write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(CheckpointError):
        checkpoint.load_checkpoint(run_copy)
    assert not marker.exists()


def test_loading_uses_no_pickle(saved_run, monkeypatch):
    _, out = saved_run

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load used pickle")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    saved = checkpoint.load_checkpoint(out)
    assert saved.optimizer is not None
    assert json.loads((out / "checkpoint" / "config.json").read_text())["config"]


def test_missing_checkpoint_names_expected_files(tmp_path):
    with pytest.raises(CheckpointError, match="model.safetensors"):
        checkpoint.load_checkpoint(tmp_path)


def test_find_checkpoint_falls_back_to_moved_aside_copy(tmp_path):
    # A crash between the two renames leaves only the old checkpoint, moved aside.
    target = tmp_path / "ckpt"
    checkpoint.save_checkpoint(target, small_model(0), {"note": "old"})
    os.replace(target, tmp_path / ".ckpt.old")
    assert checkpoint.find_checkpoint(target) == tmp_path / ".ckpt.old"
    assert checkpoint.load_checkpoint(target).config == {"note": "old"}
