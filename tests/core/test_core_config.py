"""Run configs: overrides, validation, and the errors a bad config gives."""

import pytest

from lunarlearn.cli import main
from lunarlearn.config import apply_overrides, load_config, validate
from lunarlearn.errors import ConfigError, LunarLearnError, PluginError
from lunarlearn.trainer import Trainer
from lunarlearn_data import DatasetNotFoundError

BASE_TOML = """\
epochs = 1
loss = "cross_entropy"
metrics = ["accuracy"]
optimizer = "adam"
progress = false
plot = false

[model]
input_shape = [64]
layers = [{ type = "dense", units = 10 }]

[data]
dataset = "digits"
validation_split = 0.2
"""


@pytest.fixture
def base_toml(tmp_path):
    path = tmp_path / "base.toml"
    path.write_text(BASE_TOML)
    return path


def base_config():
    return {
        "loss": "cross_entropy",
        "optimizer": "adam",
        "model": {"input_shape": [64], "layers": [{"type": "dense", "units": 10}]},
        "data": {"dataset": "digits"},
    }


# Overrides ----------------------------------------------------------------------


def test_override_parses_toml_values():
    config = apply_overrides(
        base_config(),
        [
            "epochs=2",
            "optimizer.lr=0.01",
            "data.batch_size=64",
            "data.dataset=digits",
            'out="runs/first try"',
            "plot=false",
            "model.input_shape=[64]",
            "data.options={flatten=true}",
        ],
    )
    assert config["epochs"] == 2
    assert isinstance(config["epochs"], int)
    assert config["optimizer"] == {"type": "adam", "lr": 0.01}
    assert config["data"]["batch_size"] == 64
    assert config["data"]["dataset"] == "digits"
    assert config["out"] == "runs/first try"
    assert config["plot"] is False
    assert config["model"]["input_shape"] == [64]
    assert config["data"]["options"] == {"flatten": True}


def test_override_keeps_text_after_first_equals_sign():
    config = apply_overrides(base_config(), ["out=runs/a=b", " epochs = 3 "])
    assert config["out"] == "runs/a=b"
    assert config["epochs"] == 3


def test_override_creates_missing_section():
    config = apply_overrides(base_config(), ["data.options.download=false"])
    assert config["data"]["options"] == {"download": False}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("epochs", "expected key=value"),
        ("=3", "expected key=value"),
        ("model.input_shape.x=1", "'x' is not a position in a list of 1 items"),
        ("model.layers.9.units=1", "position 9 is out of range for a list of"),
        ("model.input_shape.0.x=1", "'0' is not a section or a list"),
    ],
)
def test_override_rejects_malformed_assignment(assignment, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(base_config(), [assignment])


def test_override_reaches_list_items():
    config = apply_overrides(
        base_config(), ["model.layers.0.units=16", "model.layers.-1.type=dense"]
    )
    assert config["model"]["layers"][0]["units"] == 16
    assert config["model"]["layers"][-1]["type"] == "dense"


# Validation -----------------------------------------------------------------------


def test_validate_fills_defaults():
    config = validate(base_config())
    assert config["epochs"] == 1
    assert config["seed"] == 0
    assert config["metrics"] == []
    assert config["gradient_monitor"] is True
    assert config["data"]["batch_size"] == 32
    assert config["data"]["validation_split"] == 0.0
    assert config["data"]["shuffle"] is True


def test_load_config_reads_example_file(base_toml):
    config = load_config(base_toml)
    assert config["model"]["layers"] == [{"type": "dense", "units": 10}]
    assert config["data"] == {"dataset": "digits", "validation_split": 0.2}


def test_load_config_rejects_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("epochs = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)


def test_load_config_reports_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


def test_validate_reports_missing_required_key():
    config = base_config()
    del config["loss"]
    with pytest.raises(ConfigError, match="missing the required key 'loss'"):
        validate(config)


# Bad configs: each a clear error from the API and one line from the command ------

#: (overrides, error class, fragments the message contains)
BAD_CONFIGS = [
    (["epochz=2"], ConfigError, ["'epochz'", "did you mean 'epochs'?"]),
    (["data.batchsize=8"], ConfigError, ["in [data]", "did you mean 'batch_size'?"]),
    (
        ['model.layers=[{type="conv2dd", filters=4, kernel_size=3}]'],
        PluginError,
        ["'conv2dd'", "did you mean 'conv2d'?"],
    ),
    (["optimizer=adamww"], PluginError, ["'adamww'", "did you mean 'adamw'"]),
    (["optimizer.type=adamww"], PluginError, ["'adamww'", "installed: adam, adamw"]),
    (
        ['model.layers=[{type="dense", units=5}]'],
        ConfigError,
        ["10 classes", "5 units", "set the last layer's units to 10"],
    ),
    (["model.input_shape=[32]"], ConfigError, ["[32]", "sample shape [64]"]),
    (["model.input_shape=[1, 8, 8]"], ConfigError, ["[1, 8, 8]", "[64]"]),
    (["model.input_shape=64"], ConfigError, ["invalid model.input_shape 64"]),
    (["epochs=0"], ConfigError, ["invalid epochs 0", "integer >= 1"]),
    (["epochs=1.5"], ConfigError, ["invalid epochs 1.5"]),
    (["epochs=true"], ConfigError, ["invalid epochs True"]),
    (['epochs="3"'], ConfigError, ["invalid epochs '3'"]),
    (["data.batch_size=0"], ConfigError, ["invalid data.batch_size 0"]),
    (["data.batch_size=2.5"], ConfigError, ["invalid data.batch_size 2.5"]),
    (["data.validation_split=1.0"], ConfigError, ["validation_split 1.0", "[0, 1)"]),
    (["data.validation_split=-0.1"], ConfigError, ["validation_split -0.1"]),
    (["data.validation_split=half"], ConfigError, ["validation_split 'half'"]),
    (
        ['model.layers=[{type="dense", unitz=10}]'],
        ConfigError,
        ["unknown option(s) 'unitz'", "layers 'dense'", "accepted: units"],
    ),
    (
        ['model.layers=["dense"]'],
        ConfigError,
        ["layers 'dense'", "missing a required argument: 'units'"],
    ),
    (["model.layers=[3]"], ConfigError, ["invalid model.layers[0] 3"]),
    (["model.layers=[]"], ConfigError, ["non-empty list"]),
    (["seed=-1"], ConfigError, ["invalid seed -1"]),
    (["seed=abc"], ConfigError, ["invalid seed 'abc'"]),
    (["data.shuffle=yes"], ConfigError, ["invalid data.shuffle 'yes'"]),
    (["data.drop_last=1"], ConfigError, ["invalid data.drop_last 1"]),
    (["data.options=3"], ConfigError, ["invalid data.options 3"]),
    (["loss=3"], ConfigError, ["invalid loss 3"]),
    (["optimizer={lr=0.1}"], ConfigError, ["invalid optimizer", "'type'"]),
    (["plot=5"], ConfigError, ["invalid plot 5", "false for no plot"]),
    (["metrics=accuracy"], ConfigError, ["metrics must be a list"]),
    (["metrics=[1]"], ConfigError, ["invalid metrics[0] 1"]),
    (['metrics=["acc"]'], PluginError, ["'acc'", "did you mean 'accuracy'"]),
    (['callbacks=["early_stoping"]'], PluginError, ["did you mean 'early_stopping'"]),
    (["progress=sometimes"], ConfigError, ["invalid progress 'sometimes'"]),
    (["gradient_monitor=yes"], ConfigError, ["invalid gradient_monitor 'yes'"]),
    (["model=3"], ConfigError, ["[model] must be a table"]),
    (["data.dataset=cifar"], PluginError, ["unknown datasets name 'cifar'"]),
]


BAD_CONFIG_IDS = [overrides[0] for overrides, _, _ in BAD_CONFIGS]


@pytest.mark.parametrize(
    ("overrides", "error", "fragments"), BAD_CONFIGS, ids=BAD_CONFIG_IDS
)
def test_bad_config_raises_clear_error(base_toml, overrides, error, fragments):
    with pytest.raises(error) as raised:
        Trainer.from_config(base_toml, overrides=overrides)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("overrides", "error", "fragments"), BAD_CONFIGS, ids=BAD_CONFIG_IDS
)
def test_bad_config_cli_one_line(base_toml, capsys, overrides, error, fragments):
    argv = ["train", str(base_toml)]
    for assignment in overrides:
        argv += ["--set", assignment]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("lunarlearn: error: ")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in captured.err


def test_bad_option_type_fails_cli(base_toml, capsys):
    assert main(["train", str(base_toml), "--set", "optimizer.lr=.01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lunarlearn: error: ")
    assert "'.01'" in err
    assert err.count("\n") == 1


def test_missing_mnist_files_name_the_directory(tmp_path, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("LUNARLEARN_DATA", str(data_dir))
    overrides = [
        "data.dataset=mnist",
        "data.options={split='test', download=false}",
        "model.input_shape=[1, 28, 28]",
        "model.layers=[{type='flatten'}, {type='dense', units=10}]",
    ]
    config = tmp_path / "mnist.toml"
    config.write_text(BASE_TOML)
    with pytest.raises(DatasetNotFoundError) as raised:
        Trainer.from_config(config, overrides=overrides)
    assert isinstance(raised.value, LunarLearnError)
    message = str(raised.value)
    assert str(data_dir / "mnist") in message
    assert "t10k-images-idx3-ubyte" in message
    assert "download=False" in message

    argv = ["train", str(config)]
    for assignment in overrides:
        argv += ["--set", assignment]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lunarlearn: error: MNIST test split: missing")
    assert err.count("\n") == 1
    assert not (data_dir / "mnist").exists() or not any((data_dir / "mnist").iterdir())


def test_debug_variable_shows_traceback(base_toml, capsys, monkeypatch):
    monkeypatch.setenv("LUNARLEARN_DEBUG", "1")
    assert main(["train", str(base_toml), "--set", "epochz=2"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1].startswith("lunarlearn: error: unknown config key 'epochz'")
