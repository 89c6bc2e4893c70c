"""The lunarlearn command: train, summary, plot and plugins through cli.main."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lunarlearn import registry
from lunarlearn.checkpoint import load_checkpoint
from lunarlearn.cli import main
from lunarlearn.history import History

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DIGITS_TOML = """\
loss = "cross_entropy"
metrics = ["accuracy"]
optimizer = "sgd"
progress = false

[model]
input_shape = [64]
layers = [
    { type = "dense", units = 16, activation = "relu" },
    { type = "dense", units = 10 },
]

[data]
dataset = "digits"
validation_split = 0.2
"""


@pytest.fixture
def digits_toml(tmp_path):
    path = tmp_path / "digits.toml"
    path.write_text(DIGITS_TOML)
    return path


# train ----------------------------------------------------------------------------


def test_train_applies_overrides(digits_toml, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            str(digits_toml),
            "--set",
            "epochs=2",
            "--set",
            "optimizer.lr=0.01",
            "--set",
            "data.batch_size=64",
            "--set",
            "plot=false",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.splitlines()[-1] == f"run saved to {out}"
    assert captured.out.count("Epoch ") == 2

    history = History.load(out)
    assert history.epochs == 2
    assert history["lr"] == [0.01, 0.01]
    config = load_checkpoint(out).config
    assert config["optimizer"] == {"type": "sgd", "lr": 0.01}
    assert config["data"]["batch_size"] == 64
    assert json.loads((out / "config.json").read_text()) == config
    assert not (out / "history.png").exists()


def test_train_uses_out_from_config(digits_toml, tmp_path, capsys):
    out = tmp_path / "from-config"
    code = main(["train", str(digits_toml), "--set", f'out="{out}"'])
    assert code == 0, capsys.readouterr().err
    assert History.load(out).epochs == 1
    assert (out / "checkpoint" / "model.safetensors").is_file()


def test_plot_writes_png(digits_toml, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(digits_toml), "--out", str(out)]) == 0
    (out / "history.png").unlink()
    target = tmp_path / "curves.png"
    assert main(["plot", str(out), "--output", str(target)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"plot saved to {target}"
    with Image.open(target) as image:
        assert image.format == "PNG"
        image.verify()

    # Given the history.json itself, the plot goes beside it.
    assert main(["plot", str(out / "history.json")]) == 0
    assert (out / "history.png").is_file()


def test_plot_of_missing_history_fails_in_one_line(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lunarlearn: error: ")
    assert "history.json" in err
    assert err.count("\n") == 1


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["trian"])
    assert raised.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err


# summary --------------------------------------------------------------------------


def test_summary_prints_layers_and_totals(capsys):
    assert main(["summary", str(EXAMPLES / "digits_mlp.toml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Params"]
    rows = [line.split() for line in lines if line.startswith("dense")]
    assert [row[0] for row in rows] == ["dense", "dense_1", "dense_2"]
    assert [row[-1] for row in rows] == ["8,320", "8,256", "650"]
    assert "Total params: 17,226" in lines
    assert "Trainable params: 17,226" in lines
    assert "Non-trainable params: 0" in lines


def test_summary_of_cnn_example_needs_no_data(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("LUNARLEARN_DATA", str(tmp_path))
    assert main(["summary", str(EXAMPLES / "mnist_cnn.toml")]) == 0
    out = capsys.readouterr().out
    assert "(N, 8, 14, 14)" in out
    assert "Total params: 15,786" in out


def test_summary_takes_input_shape_from_dataset(tmp_path, capsys):
    path = tmp_path / "noshape.toml"
    path.write_text(DIGITS_TOML.replace("input_shape = [64]\n", ""))
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Total params: 1,210" in out  # 64 * 16 + 16 + 16 * 10 + 10


# plugins --------------------------------------------------------------------------


def test_plugins_lists_every_kind(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for kind in registry.KINDS:
        assert f"{kind}:" in lines
    assert "plugins:" in lines
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("  ")}
    assert rows["adamw"][1:3] == ["lunarlearn-optim", "0.1.0"]
    assert rows["adamw"][3] == "lunarlearn_optim.optimizers.adam:AdamW"
    assert rows["dense"][1] == "lunarlearn-layers"
    assert rows["digits"][1] == "lunarlearn-data"
    assert rows["early_stopping"][1:3] == ["lunarlearn-core", "0.1.0"]
    assert "lunarlearn-optim 0.1.0" in out


def test_plugins_names_extra_of_empty_kind(capsys, monkeypatch):
    real = registry.components

    def without_optimizers(kind):
        return [] if kind == "optimizers" else real(kind)

    monkeypatch.setattr(registry, "components", without_optimizers)
    real_distribution = registry.metadata.distribution

    def distribution(name):
        if name == "lunarlearn-optim":
            raise registry.metadata.PackageNotFoundError(name)
        return real_distribution(name)

    monkeypatch.setattr(registry.metadata, "distribution", distribution)
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    position = lines.index("optimizers:")
    expected = "  (none installed: install them with: pip install 'lunarlearn[optim]')"
    assert lines[position + 1] == expected


def test_console_script_runs():
    script = Path(sys.executable).with_name("lunarlearn")
    if not script.exists():
        pytest.skip("the lunarlearn console script is not installed")
    result = subprocess.run(
        [str(script), "plugins"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stderr
    assert "lunarlearn-optim 0.1.0" in result.stdout
