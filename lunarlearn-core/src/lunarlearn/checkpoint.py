"""Checkpoints: a directory of JSON and safetensors files.

``config.json`` holds the run's config (component names and plain values)
and JSON state such as the epoch; ``model.safetensors`` holds the weights and
buffers, and ``optimizer.safetensors`` with ``optimizer.json`` the optimizer
state when saved. Neither format can run code when loaded. A checkpoint is
written into a temporary directory that then replaces the old one, so a crash
never leaves a half-written checkpoint.
"""

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from lunarlearn import backend
from lunarlearn.errors import CheckpointError

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read from a checkpoint directory."""

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
    for candidate in (path, path / "checkpoint"):
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise CheckpointError(
        f"no checkpoint at {path}: expected model.safetensors and config.json there "
        "or in its 'checkpoint' subdirectory"
    )


def load_checkpoint(path):
    """Read a checkpoint directory (or a run directory that contains one)."""
    path = find_checkpoint(path)
    try:
        document = json.loads((path / "config.json").read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} has weights but no config.json") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path / 'config.json'} is not valid JSON: {exc}"
        ) from exc
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    optimizer = None
    if (path / "optimizer.safetensors").is_file():
        meta = json.loads((path / "optimizer.json").read_text())
        optimizer = _join_optimizer_state(
            load_file(str(path / "optimizer.safetensors")), meta
        )
    return Checkpoint(
        path=path,
        config=document["config"],
        weights=load_file(str(path / "model.safetensors")),
        state=document.get("state", {}),
        optimizer=optimizer,
    )
