"""HistoryPlot.figure: panels, line data, styles and history errors."""

import math

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from lunarlearn.errors import ConfigError
from lunarlearn_viz import HistoryError, HistoryPlot
from lunarlearn_viz.history import NON_METRIC_KEYS


def make_history():
    return {
        "loss": [2.0, 1.25, 0.9, 0.7],
        "accuracy": [0.4, 0.6, 0.7, 0.75],
        "val_loss": [2.2, 1.5, 1.1, 0.95],
        "val_accuracy": [0.35, 0.55, 0.62, 0.7],
        "epoch_time": [3.1, 2.9, 3.0, 3.0],
        "lr": [0.1, 0.1, 0.05, 0.05],
    }


def lines_by_label(axes):
    return {line.get_label(): line for line in axes.get_lines()}


def test_default_panels_skip_time_and_lr():
    fig = HistoryPlot().figure(make_history())

    titles = [axes.get_title() for axes in fig.axes]
    assert titles == ["loss", "accuracy"]


def test_default_panels_keep_grad_norm():
    history = {**make_history(), "grad_norm": [3.0, 2.0, 1.5, 1.2]}

    fig = HistoryPlot().figure(history)

    assert [axes.get_title() for axes in fig.axes] == ["loss", "accuracy", "grad_norm"]
    grad_norm = lines_by_label(fig.axes[2])["train"]
    np.testing.assert_array_equal(grad_norm.get_ydata(), [3.0, 2.0, 1.5, 1.2])


def test_non_metric_keys_are_trainer_run_figures():
    assert NON_METRIC_KEYS == {"epoch_time", "lr"}


def test_loss_panel_comes_first():
    history = {"accuracy": [0.5, 0.6], "loss": [1.0, 0.8], "f1": [0.2, 0.3]}

    fig = HistoryPlot().figure(history)

    assert [axes.get_title() for axes in fig.axes] == ["loss", "accuracy", "f1"]


def test_default_skips_empty_metric():
    history = {"loss": [1.0, 0.5], "top5": [], "val_top5": []}

    fig = HistoryPlot().figure(history)

    assert [axes.get_title() for axes in fig.axes] == ["loss"]


def test_explicit_metrics_order_and_lr():
    fig = HistoryPlot(metrics=["lr", "loss"]).figure(make_history())

    assert [axes.get_title() for axes in fig.axes] == ["lr", "loss"]
    lr_lines = lines_by_label(fig.axes[0])
    assert list(lr_lines) == ["train"]
    np.testing.assert_array_equal(lr_lines["train"].get_ydata(), [0.1, 0.1, 0.05, 0.05])


def test_single_metric_name_as_str():
    fig = HistoryPlot(metrics="accuracy").figure(make_history())

    assert [axes.get_title() for axes in fig.axes] == ["accuracy"]


def test_line_data_equals_history():
    history = make_history()

    fig = HistoryPlot().figure(history)

    for axes in fig.axes:
        name = axes.get_title()
        lines = lines_by_label(axes)
        assert set(lines) == {"train", "validation"}
        np.testing.assert_array_equal(lines["train"].get_xdata(), [1, 2, 3, 4])
        np.testing.assert_array_equal(lines["validation"].get_xdata(), [1, 2, 3, 4])
        np.testing.assert_array_equal(lines["train"].get_ydata(), history[name])
        np.testing.assert_array_equal(
            lines["validation"].get_ydata(), history["val_" + name]
        )


def test_train_solid_validation_dashed_same_colour():
    fig = HistoryPlot().figure(make_history())

    colours = []
    for axes in fig.axes:
        lines = lines_by_label(axes)
        assert lines["train"].get_linestyle() == "-"
        assert lines["validation"].get_linestyle() == "--"
        assert lines["train"].get_color() == lines["validation"].get_color()
        colours.append(lines["train"].get_color())
    assert colours[0] != colours[1]


def test_validation_only_metric():
    history = {"loss": [1.0, 0.5], "val_auc": [0.6, 0.7]}

    fig = HistoryPlot().figure(history)

    assert [axes.get_title() for axes in fig.axes] == ["loss", "auc"]
    auc_lines = lines_by_label(fig.axes[1])
    assert list(auc_lines) == ["validation"]
    np.testing.assert_array_equal(auc_lines["validation"].get_ydata(), [0.6, 0.7])


def test_axes_labels_legend_grid():
    fig = HistoryPlot().figure(make_history())

    for axes in fig.axes:
        assert axes.get_xlabel() == "epoch"
        assert axes.get_ylabel() == axes.get_title()
        legend = axes.get_legend()
        assert legend is not None
        assert [text.get_text() for text in legend.get_texts()] == [
            "train",
            "validation",
        ]
        assert all(line.get_visible() for line in axes.xaxis.get_gridlines())


def test_integer_epoch_ticks():
    history = {"loss": [1.0 / (epoch + 1) for epoch in range(7)]}
    fig = HistoryPlot().figure(history)
    fig.canvas.draw()

    ticks = fig.axes[0].get_xticks()
    low, high = fig.axes[0].get_xlim()
    visible_ticks = [tick for tick in ticks if low <= tick <= high]
    assert len(visible_ticks) >= 2
    assert all(float(tick).is_integer() for tick in visible_ticks)


def visible_x_ticks(axes):
    """Return the (location, label text) pairs of the x ticks inside the view."""
    low, high = axes.get_xlim()
    return [
        (tick.get_loc(), tick.label1.get_text())
        for tick in axes.xaxis.get_major_ticks()
        if low <= tick.get_loc() <= high
    ]


@pytest.mark.parametrize("epochs", [1, 2, 30])
def test_epoch_ticks_whole_numbers(epochs):
    history = {"loss": [1.0 / (epoch + 1) for epoch in range(epochs)]}
    fig = HistoryPlot().figure(history)
    fig.canvas.draw()

    ticks = visible_x_ticks(fig.axes[0])
    assert len(ticks) >= min(epochs, 3)
    for location, label in ticks:
        assert float(location).is_integer(), ticks
        assert label == str(int(location)), ticks


@pytest.mark.parametrize(("epochs", "expected"), [(1, [1]), (2, [1, 2])])
def test_short_run_tick_per_epoch(epochs, expected):
    history = {"loss": [1.0 / (epoch + 1) for epoch in range(epochs)]}
    fig = HistoryPlot().figure(history)
    fig.canvas.draw()

    ticks = visible_x_ticks(fig.axes[0])
    assert [location for location, _ in ticks] == expected
    assert [label for _, label in ticks] == [str(epoch) for epoch in expected]


def test_markers_only_for_short_runs():
    short = HistoryPlot().figure({"loss": [1.0, 0.5]})
    long = HistoryPlot().figure({"loss": [1.0 / (epoch + 1) for epoch in range(60)]})

    assert short.axes[0].get_lines()[0].get_marker() == "o"
    assert long.axes[0].get_lines()[0].get_marker() == "None"


def test_title_and_figure_size():
    plot = HistoryPlot(title="MNIST run", dpi=80, figsize=(6, 2.5))

    fig = plot.figure(make_history())

    assert fig._suptitle.get_text() == "MNIST run"
    assert tuple(fig.get_size_inches()) == (6.0, 2.5)
    assert fig.dpi == 80


def test_default_size_grows_with_panels():
    history = {f"m{index}": [1.0, 2.0] for index in range(4)}

    fig = HistoryPlot().figure(history)

    assert len(fig.axes) == 4
    assert tuple(fig.get_size_inches()) == pytest.approx((3 * 4.8, 2 * 3.6))


def test_figure_uses_agg_without_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = HistoryPlot().figure(make_history())

    assert isinstance(fig.canvas, FigureCanvasAgg)
    assert plt.get_fignums() == before


def test_nan_epoch_leaves_gap():
    history = {"loss": [1.0, math.nan, 0.5, 0.4], "val_loss": [1.1, 0.9, None, 0.6]}

    fig = HistoryPlot().figure(history)
    fig.canvas.draw()

    lines = lines_by_label(fig.axes[0])
    train = lines["train"].get_ydata()
    val = lines["validation"].get_ydata()
    np.testing.assert_array_equal(train, [1.0, np.nan, 0.5, 0.4])
    np.testing.assert_array_equal(val, [1.1, 0.9, np.nan, 0.6])
    low, high = fig.axes[0].get_ylim()
    assert math.isfinite(low)
    assert math.isfinite(high)
    assert low < 0.4
    assert high > 1.1


def test_log_loss_only_on_loss_panel():
    fig = HistoryPlot(log_loss=True).figure(make_history())

    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[1].get_yscale() == "linear"


def test_linear_loss_by_default():
    fig = HistoryPlot().figure(make_history())

    assert fig.axes[0].get_yscale() == "linear"


def test_log_loss_rejects_zero_loss():
    history = {"loss": [1.0, 0.5], "val_loss": [1.0, 0.0]}

    with pytest.raises(HistoryError, match=r"'val_loss' is 0\.0 at epoch 2"):
        HistoryPlot(log_loss=True).figure(history)


def test_empty_history_raises():
    with pytest.raises(HistoryError, match="history is empty"):
        HistoryPlot().figure({})


def test_history_without_metrics_raises():
    history = {"epoch_time": [1.0], "lr": [0.1]}

    with pytest.raises(HistoryError, match="no metric with values"):
        HistoryPlot().figure(history)


def test_missing_metric_names_available():
    plot = HistoryPlot(metrics=["loss", "f1"])

    with pytest.raises(HistoryError, match="metric 'f1' not found") as info:
        plot.figure(make_history())
    message = str(info.value)
    assert "Available metrics: loss, accuracy, epoch_time, lr" in message


def test_pair_length_mismatch_names_both():
    history = {"loss": [1.0, 0.8, 0.6], "val_loss": [1.1, 0.9]}

    with pytest.raises(HistoryError, match="'loss' has 3 values but 'val_loss' has 2"):
        HistoryPlot().figure(history)


def test_non_numeric_value_raises():
    history = {"loss": [1.0, "0.5"]}

    with pytest.raises(HistoryError, match=r"history\['loss'\] value for epoch 2"):
        HistoryPlot().figure(history)


def test_non_list_value_raises():
    with pytest.raises(HistoryError, match=r"history\['loss'\] must be a list"):
        HistoryPlot().figure({"loss": 0.5})


def test_non_mapping_history_raises():
    with pytest.raises(TypeError, match="history must be a mapping"):
        HistoryPlot().figure([("loss", [1.0])])


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"metrics": []}, "at least one metric"),
        ({"metrics": ["loss", "loss"]}, "lists loss more than once"),
        ({"metrics": ["val_loss"]}, "Use 'loss'"),
        ({"metrics": [3]}, "non-empty str names"),
        ({"metrics": 3}, "list of metric names"),
        ({"dpi": 0}, "dpi must be a positive, finite number. Received: 0"),
        ({"dpi": "high"}, "dpi must be a positive, finite number"),
        ({"dpi": float("inf")}, "Received: inf"),
        ({"figsize": (6,)}, "pair in inches. Received: 1 values"),
        ({"figsize": (6, -1)}, "figsize height must be a positive, finite number"),
        ({"title": 5}, "title must be a str or None"),
        ({"log_loss": "yes"}, "log_loss must be True or False"),
    ],
)
def test_invalid_options_raise(options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        HistoryPlot(**options)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        HistoryPlot(["loss"])
