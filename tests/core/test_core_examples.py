"""The example configs train to the accuracy that the README promises."""

import json
from pathlib import Path

from lunarlearn.cli import main

REPO = Path(__file__).resolve().parents[2]


def _history(run):
    return json.loads((run / "history.json").read_text())


def test_digits_mlp_reaches_95_percent(tmp_path, capsys):
    run = tmp_path / "digits"
    status = main(
        ["train", str(REPO / "examples" / "digits_mlp.toml"), "--out", str(run)]
    )
    assert status == 0
    history = _history(run)
    assert len(history["val_accuracy"]) == 30
    assert history["val_accuracy"][-1] >= 0.95
    assert (run / "history.png").is_file()
    assert (run / "checkpoint" / "model.safetensors").is_file()


def test_mnist_cnn_reaches_95_percent(tmp_path, monkeypatch, capsys, mnist_root):
    monkeypatch.setenv("LUNARLEARN_DATA", str(mnist_root))
    run = tmp_path / "mnist"
    config = REPO / "examples" / "mnist_cnn.toml"
    assert main(["train", str(config), "--out", str(run)]) == 0
    history = _history(run)
    assert len(history["val_accuracy"]) == 5
    assert history["val_accuracy"][-1] >= 0.95
    assert history["loss"][-1] < history["loss"][0]

    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    output = capsys.readouterr().out
    assert "validation data (2000 samples)" in output
    assert f"accuracy: {history['val_accuracy'][-1]:.4f}" in output
