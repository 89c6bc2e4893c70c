"""Third-party plugin distributions, built from the code in docs/plugins.md.

Each test writes a distribution into a temporary folder, pip-installs it
there with ``--target`` and runs the ``lunarlearn`` command in a subprocess
with that folder on PYTHONPATH, so the test environment itself is unchanged.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "plugins.md"

TRAIN_CONFIG = """\
seed = 0
epochs = 2
loss = "cross_entropy"
metrics = ["accuracy"]
optimizer = {optimizer}
callbacks = {callbacks}
plot = false

[model]
input_shape = [64]
layers = [
    {{ type = "dense", units = 32, activation = "relu" }},
    {{ type = "dense", units = 10 }},
]

[data]
dataset = "digits"
batch_size = 32
validation_split = 0.2
"""


def _guide_block(after, language):
    """Return the first ``language`` code block that follows the text ``after``."""
    text = GUIDE.read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(text, start)
    return match.group(1)


def _install(source, target):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _lunarlearn(site, *args, cwd):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-m", "lunarlearn.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """The guide's demo plugin, installed into a folder of its own."""
    root = tmp_path_factory.mktemp("demo")
    source = root / "lunarlearn-demo-plugin"
    source.mkdir()
    (source / "pyproject.toml").write_text(_guide_block("`pyproject.toml`:", "toml"))
    module = _guide_block("`lunarlearn_demo_plugin.py`:", "python")
    (source / "lunarlearn_demo_plugin.py").write_text(module)
    site = root / "site"
    _install(source, site)
    return site


def test_demo_plugin_trains_by_name(demo_site, tmp_path):
    log = tmp_path / "epochs.jsonl"
    config = tmp_path / "run.toml"
    config.write_text(
        TRAIN_CONFIG.format(
            optimizer='{ type = "sign_sgd", lr = 0.001 }',
            callbacks=f'[{{ type = "epoch_log", path = "{log.as_posix()}" }}]',
        )
    )
    result = _lunarlearn(demo_site, "train", str(config), "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 1]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["loss"] == [line["loss"] for line in lines]
    assert history["loss"][1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.5  # chance is 0.1


def test_demo_plugin_listed(demo_site, tmp_path):
    result = _lunarlearn(demo_site, "plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"sign_sgd\s+lunarlearn-demo-plugin 0\.1\.0", result.stdout)
    assert re.search(r"epoch_log\s+lunarlearn-demo-plugin 0\.1\.0", result.stdout)


BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "lunarlearn-broken-plugin"
version = "0.2.0"

[project.entry-points."lunarlearn.plugins"]
broken = "lunarlearn_broken_plugin"

[project.entry-points."lunarlearn.optimizers"]
broken_sgd = "lunarlearn_broken_plugin:BrokenSGD"
"""


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    """A distribution whose module raises on import."""
    root = tmp_path_factory.mktemp("broken")
    source = root / "lunarlearn-broken-plugin"
    source.mkdir()
    (source / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (source / "lunarlearn_broken_plugin.py").write_text(
        'raise RuntimeError("this plugin is broken on purpose")\n'
    )
    site = root / "site"
    _install(source, site)
    return site


def test_broken_plugin_reported_once(broken_site, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TRAIN_CONFIG.format(optimizer='"adam"', callbacks="[]"))
    result = _lunarlearn(
        broken_site, "train", str(config), "--out", "run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("PluginLoadWarning") == 1
    assert "plugin 'broken'" in result.stderr
    assert "this plugin is broken on purpose" in result.stderr
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2


def test_broken_plugin_listed_as_failed(broken_site, tmp_path):
    result = _lunarlearn(broken_site, "plugins", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"broken\s+FAILED: RuntimeError: this plugin is broken", result.stdout
    )
    assert "adamw" in result.stdout


def test_broken_component_is_clear_error(broken_site, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(TRAIN_CONFIG.format(optimizer='"broken_sgd"', callbacks="[]"))
    result = _lunarlearn(broken_site, "train", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.search(
        r"lunarlearn: error: optimizers 'broken_sgd' from lunarlearn-broken-plugin "
        r"failed to import .*this plugin is broken on purpose",
        result.stderr,
    )
