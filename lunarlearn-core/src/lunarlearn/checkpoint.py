"""Checkpoints: a directory of JSON and safetensors files.

``config.json`` contains the run's config (component names and plain values)
and JSON state such as the epoch. ``model.safetensors`` contains the weights
and buffers, and ``optimizer.safetensors`` with ``optimizer.json`` the
optimizer state when saved. Neither format can run code when loaded. A checkpoint is
written into a temporary directory that then replaces the old one, so a crash
never leaves a half-written checkpoint. A crash between moving the old one
aside and moving the new one in leaves the old one as ``.<name>.old``, which
:func:`find_checkpoint` falls back to.
"""

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from lunarlearn import backend
from lunarlearn.errors import CheckpointError
from lunarlearn.io import default_mode

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """The contents of a checkpoint directory, as :func:`load_checkpoint` read them."""

    path: Path
    config: dict
    weights: dict
    state: dict = field(default_factory=dict)
    optimizer: dict | None = None


def _to_numpy(array):
    return np.ascontiguousarray(backend.to_device(array, "cpu"))


def _split_optimizer_state(state_dict):
    arrays = {}
    scalars = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if hasattr(value, "shape"):
                arrays[f"{index}.{name}"] = _to_numpy(value)
            else:
                scalars.setdefault(str(index), {})[name] = value
    meta = {"param_groups": state_dict["param_groups"], "scalars": scalars}
    return arrays, meta


def _join_optimizer_state(arrays, meta):
    state = {}
    for key, value in arrays.items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path, model, config, optimizer=None, state=None):
    """Write a checkpoint directory at ``path``, replacing any previous one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        document = {
            "format_version": FORMAT_VERSION,
            "config": config,
            "state": state or {},
        }
        (staging / "config.json").write_text(json.dumps(document, indent=2) + "\n")
        weights = {name: _to_numpy(value) for name, value in model.state_dict().items()}
        save_file(weights, str(staging / "model.safetensors"))
        if optimizer is not None:
            arrays, meta = _split_optimizer_state(optimizer.state_dict())
            save_file(arrays, str(staging / "optimizer.safetensors"))
            (staging / "optimizer.json").write_text(json.dumps(meta, indent=2) + "\n")
        for file in staging.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
            # safetensors and mkdtemp create private entries; use the defaults.
            file.chmod(default_mode())
        staging.chmod(default_mode(directory=True))
        _replace_directory(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _replace_directory(staging, path):
    if not path.exists():
        os.replace(staging, path)
        return
    if not (path / "model.safetensors").exists() and any(path.iterdir()):
        raise CheckpointError(
            f"{path} exists and is not a checkpoint directory; choose another path"
        )
    backup = path.with_name(f".{path.name}.old")
    shutil.rmtree(backup, ignore_errors=True)
    os.replace(path, backup)
    os.replace(staging, path)
    with contextlib.suppress(OSError):
        shutil.rmtree(backup)


def find_checkpoint(path):
    """Return the checkpoint directory at ``path`` or at ``path/checkpoint``."""
    path = Path(path)
    candidates = []
    for directory in (path, path / "checkpoint"):
        candidates += [directory, directory.with_name(f".{directory.name}.old")]
    for candidate in candidates:
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise CheckpointError(
        f"no checkpoint at {path}: expected model.safetensors and config.json there "
        "or in its 'checkpoint' subdirectory"
    )


def _read_json(path):
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} is missing {path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CheckpointError(
            f"{path} contains a JSON {type(document).__name__}; expected an object"
        )
    return document


def _read_tensors(path):
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} is missing {path.name}") from None
    except (SafetensorError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a valid safetensors file: {type(exc).__name__}: {exc}"
        ) from None


def load_checkpoint(path):
    """Read a checkpoint directory (or a run directory that contains one).

    Raises :class:`~lunarlearn.errors.CheckpointError` when a file is missing,
    damaged or of another format version.
    """
    path = find_checkpoint(path)
    document = _read_json(path / "config.json")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    config = document.get("config")
    state = document.get("state", {})
    if not isinstance(config, dict | None) or not isinstance(state, dict):
        raise CheckpointError(
            f"{path / 'config.json'}: 'config' must be an object or null and "
            "'state' an object"
        )
    optimizer = None
    if (path / "optimizer.safetensors").is_file():
        meta = _read_json(path / "optimizer.json")
        if not isinstance(meta.get("param_groups"), list) or not isinstance(
            meta.get("scalars"), dict
        ):
            raise CheckpointError(
                f"{path / 'optimizer.json'} lacks 'param_groups' (a list) or "
                "'scalars' (an object)"
            )
        optimizer = _join_optimizer_state(
            _read_tensors(path / "optimizer.safetensors"), meta
        )
    return Checkpoint(
        path=path,
        config=config,
        weights=_read_tensors(path / "model.safetensors"),
        state=state,
        optimizer=optimizer,
    )
