"""Run configs: TOML files or dicts of component names and plain values.

Example::

    seed = 0
    epochs = 5
    loss = "cross_entropy"
    metrics = ["accuracy"]
    optimizer = { type = "adamw", lr = 1e-3 }

    [model]
    layers = [{ type = "dense", units = 10 }]

    [data]
    dataset = "digits"
    batch_size = 32
    validation_split = 0.2
"""

import copy
import difflib
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from lunarlearn.errors import ConfigError

#: Accepted keys at the top level and in each section, with their meaning.
SCHEMA = {
    "": {
        "model": "the model: input_shape and layers",
        "loss": "loss name or {type = ..., options}",
        "optimizer": "optimizer name or {type = ..., options}",
        "metrics": "list of metric names or configs",
        "data": "dataset and batching",
        "epochs": "number of epochs",
        "seed": "seed of initialisation, dropout and shuffling",
        "out": "output directory of the run",
        "callbacks": "list of callback names or configs",
        "plot": "visualizer name or config that plots the history, or false",
        "progress": "progress bar: true, false or 'auto' (when a terminal is attached)",
        "gradient_monitor": "warn on exploding or vanishing gradients (true/false)",
    },
    "model": {
        "input_shape": "shape of one sample, batch axis excluded",
        "layers": "list of layer configs",
    },
    "data": {
        "dataset": "dataset name",
        "options": "dataset options",
        "batch_size": "batch size",
        "validation_split": "fraction held out for validation, from the end",
        "split_shuffle": "hold out a seeded random sample instead of the last ones",
        "shuffle": "shuffle the training samples each epoch",
        "drop_last": "drop the last incomplete batch",
    },
}

DEFAULTS = {
    "epochs": 1,
    "seed": 0,
    "metrics": [],
    "callbacks": [],
    "plot": "history",
    "progress": "auto",
    "gradient_monitor": True,
    "data": {
        "batch_size": 32,
        "validation_split": 0.0,
        "split_shuffle": False,
        "shuffle": True,
        "drop_last": False,
    },
}

REQUIRED = {
    "": ["model", "loss", "optimizer", "data"],
    "model": ["layers"],
    "data": ["dataset"],
}


def load_config(source):
    """Read a config from a TOML file path or copy a dict."""
    if isinstance(source, dict):
        return copy.deepcopy(source)
    path = Path(source)
    if path.is_dir():
        raise ConfigError(f"config path {path} is a directory; expected a TOML file")
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text, as TOML requires: {exc}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _parse_value(text):
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(config, assignments):
    """Apply ``key=value`` strings; dotted keys reach into sections and lists.

    ``optimizer.lr=0.01`` sets a key of a section and ``model.layers.0.units=64``
    an item of a list, by position. Values are parsed as TOML (``0.01``,
    ``true``, ``[1, 2]``) and taken as strings otherwise.
    """
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"invalid --set {assignment!r}; expected key=value")
        key = key.strip()
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            child = _get_item(node, part, key)
            if isinstance(child, str):
                child = {"type": child}
            elif child is None:
                child = {}
            elif not isinstance(child, dict | list):
                raise ConfigError(f"--set {key}: {part!r} is not a section or a list")
            _set_item(node, part, child, key)
            node = child
        _set_item(node, leaf, _parse_value(text.strip()), key)
    return config


def _list_index(items, part, key):
    try:
        index = int(part)
    except ValueError:
        raise ConfigError(
            f"--set {key}: {part!r} is not a position in a list of {len(items)} items"
        ) from None
    if not -len(items) <= index < len(items):
        raise ConfigError(
            f"--set {key}: position {index} is out of range for a list of "
            f"{len(items)} items"
        )
    return index


def _get_item(node, part, key):
    if isinstance(node, list):
        return node[_list_index(node, part, key)]
    return node.get(part)


def _set_item(node, part, value, key):
    if isinstance(node, list):
        node[_list_index(node, part, key)] = value
    else:
        node[part] = value


def _check_keys(section, values):
    if not isinstance(values, dict):
        where = f"[{section}]" if section else "the config"
        raise ConfigError(f"{where} must be a table of keys, got {values!r}")
    accepted = SCHEMA[section]
    for key in values:
        if key not in accepted:
            where = f"in [{section}]" if section else "at the top level"
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown config key {key!r} {where}; {hint}"
                f"accepted: {', '.join(accepted)}"
            )
    for key in REQUIRED.get(section, []):
        if key not in values:
            where = f"[{section}]" if section else "the config"
            raise ConfigError(f"{where} is missing the required key {key!r}")


def validate(config):
    """Check keys and fill defaults; returns the completed config."""
    _check_keys("", config)
    if "out" in config and not isinstance(config["out"], str):
        raise ConfigError(f"invalid out {config['out']!r}; expected a directory path")
    _check_keys("model", config["model"])
    _check_keys("data", config["data"])
    for key, value in DEFAULTS.items():
        if isinstance(value, dict):
            for inner, default in value.items():
                config[key].setdefault(inner, default)
        else:
            config.setdefault(key, copy.deepcopy(value))

    epochs = config["epochs"]
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ConfigError(f"invalid epochs {epochs!r}; expected an integer >= 1")
    seed = config["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"invalid seed {seed!r}; expected an integer >= 0")
    for key in ("loss", "optimizer"):
        _check_component(key, config[key])
    if config["plot"] is not False:
        _check_component("plot", config["plot"], "; or false for no plot")
    data = config["data"]
    for key in ("split_shuffle", "shuffle", "drop_last"):
        if not isinstance(data[key], bool):
            raise ConfigError(
                f"invalid data.{key} {data[key]!r}; expected true or false"
            )
    options = data.get("options")
    if options is not None and not isinstance(options, dict):
        raise ConfigError(
            f"invalid data.options {options!r}; expected a table of dataset options"
        )
    batch_size = data["batch_size"]
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise ConfigError(
            f"invalid data.batch_size {batch_size!r}; expected an integer >= 1"
        )
    split = data["validation_split"]
    if not isinstance(split, int | float) or not 0 <= split < 1:
        raise ConfigError(
            f"invalid data.validation_split {split!r}; expected a number in [0, 1)"
        )
    layers = config["model"]["layers"]
    if not isinstance(layers, list) or not layers:
        raise ConfigError("model.layers must be a non-empty list of layer configs")
    for position, layer in enumerate(layers):
        _check_component(f"model.layers[{position}]", layer)
    shape = config["model"].get("input_shape")
    if shape is not None and (
        not isinstance(shape, list)
        or not all(isinstance(s, int) and s > 0 for s in shape)
    ):
        raise ConfigError(
            f"invalid model.input_shape {shape!r}; expected a list of positive integers"
        )
    for key in ("metrics", "callbacks"):
        if not isinstance(config[key], list):
            raise ConfigError(f"{key} must be a list, got {config[key]!r}")
        for position, spec in enumerate(config[key]):
            _check_component(f"{key}[{position}]", spec)
    if config["progress"] not in (True, False, "auto"):
        raise ConfigError(
            f"invalid progress {config['progress']!r}; expected true, false or 'auto'"
        )
    if not isinstance(config["gradient_monitor"], bool):
        raise ConfigError(
            f"invalid gradient_monitor {config['gradient_monitor']!r}; "
            "expected true or false"
        )
    return config


def _check_component(key, spec, alternative=""):
    """Check that ``spec`` is a component name or a table with a string 'type'.

    Configs built in Python may also hold ready instances, which pass.
    """
    if isinstance(spec, dict):
        if isinstance(spec.get("type"), str):
            return
    elif not isinstance(spec, bool | int | float | list | tuple | type(None)):
        return
    raise ConfigError(
        f"invalid {key} {spec!r}; expected a name or a table with a 'type' name "
        f"and options{alternative}"
    )
