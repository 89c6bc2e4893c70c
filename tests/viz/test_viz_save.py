"""Writing history plots to PNG files."""

import json
import math
import os
import stat

import pytest
from PIL import Image

from lunarlearn.errors import ConfigError
from lunarlearn_viz import HistoryPlot, plot_history

HISTORY = {
    "loss": [1.5, 0.9, 0.6],
    "val_loss": [1.6, 1.0, 0.8],
    "accuracy": [0.5, 0.7, 0.8],
    "val_accuracy": [0.45, 0.66, 0.74],
}


def test_save_writes_png_of_expected_size(tmp_path):
    path = tmp_path / "history.png"

    returned = HistoryPlot(dpi=50, figsize=(6, 4)).save(HISTORY, path)

    assert returned == path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (300, 200)


def test_default_size_is_figsize_times_dpi(tmp_path):
    path = tmp_path / "history.png"

    HistoryPlot(dpi=40).save(HISTORY, path)

    with Image.open(path) as image:
        assert image.size == (round(2 * 4.8 * 40), round(3.6 * 40))


def test_plot_history_accepts_str_path(tmp_path):
    path = tmp_path / "run.png"

    returned = plot_history(HISTORY, str(path), dpi=30, figsize=(4, 3))

    assert returned == path
    with Image.open(path) as image:
        assert image.size == (120, 90)


def test_save_creates_missing_parents(tmp_path):
    path = tmp_path / "runs" / "mnist" / "plots" / "history.png"

    plot_history(HISTORY, path, dpi=20)

    assert path.is_file()


def test_save_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "history.png"

    plot_history(HISTORY, path, dpi=20)
    plot_history(HISTORY, path, dpi=30)

    assert [entry.name for entry in tmp_path.iterdir()] == ["history.png"]
    with Image.open(path) as image:
        assert image.size == (round(2 * 4.8 * 30), round(3.6 * 30))


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=oct)
def test_save_umask_permissions(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = plot_history(HISTORY, tmp_path / "history.png", dpi=20)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_failed_write_keeps_old_file(tmp_path):
    path = tmp_path / "history.png"
    plot_history(HISTORY, path, dpi=20)
    before = path.read_bytes()

    # Matplotlib parses the title as mathtext while drawing, so the error comes
    # from inside savefig, after the temporary file was opened.
    with pytest.raises(ValueError, match="frac"):
        plot_history(HISTORY, path, dpi=20, title=r"$\frac$")

    assert path.read_bytes() == before
    assert [entry.name for entry in tmp_path.iterdir()] == ["history.png"]


def test_history_from_json_file(tmp_path):
    history = {
        "loss": [2.3, 1.1, math.nan, 0.4],
        "accuracy": [0.2, 0.6, math.nan, 0.9],
        "val_loss": [2.4, 1.3, 0.9, 0.7],
        "val_accuracy": [0.2, 0.55, 0.7, 0.8],
        "epoch_time": [4.2, 4.0, 4.1, 4.0],
        "lr": [0.01, 0.01, 0.01, 0.001],
    }
    json_path = tmp_path / "history.json"
    json_path.write_text(json.dumps(history))

    loaded = json.loads(json_path.read_text())
    plot = HistoryPlot(dpi=25, figsize=(8, 3))
    fig = plot.figure(loaded)
    png = plot.save(loaded, tmp_path / "history.png")

    assert [axes.get_title() for axes in fig.axes] == ["loss", "accuracy"]
    train = fig.axes[0].get_lines()[0].get_ydata()
    assert list(train[[0, 1, 3]]) == [2.3, 1.1, 0.4]
    assert math.isnan(train[2])
    with Image.open(png) as image:
        assert image.size == (200, 75)


def test_json_null_epoch_plots(tmp_path):
    json_path = tmp_path / "history.json"
    json_path.write_text('{"loss": [1.0, null, 0.5], "val_loss": [1.2, 0.9, null]}')

    history = json.loads(json_path.read_text())
    png = plot_history(history, tmp_path / "history.png", dpi=20)

    assert png.is_file()


@pytest.mark.parametrize("name", ["history.jpg", "history", "history.png.tmp"])
def test_non_png_suffix_raises(tmp_path, name):
    with pytest.raises(ConfigError, match="must end in .png"):
        plot_history(HISTORY, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_upper_case_png_suffix_accepted(tmp_path):
    path = tmp_path / "HISTORY.PNG"

    plot_history(HISTORY, path, dpi=20)

    assert path.is_file()


def test_directory_path_raises(tmp_path):
    folder = tmp_path / "plot.png"
    folder.mkdir()

    with pytest.raises(ConfigError, match="is a directory"):
        plot_history(HISTORY, folder)


def test_path_of_wrong_type_raises():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        plot_history(HISTORY, 42)


def test_plot_history_unknown_option(tmp_path):
    with pytest.raises(ConfigError, match="Unknown HistoryPlot option.*colour"):
        plot_history(HISTORY, tmp_path / "h.png", colour="red")
    assert list(tmp_path.iterdir()) == []


def test_bad_history_writes_nothing(tmp_path):
    path = tmp_path / "out" / "history.png"

    with pytest.raises(ValueError, match="history is empty"):
        plot_history({}, path)

    assert not path.exists()
