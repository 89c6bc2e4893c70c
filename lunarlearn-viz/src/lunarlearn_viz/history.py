"""Line plots of the per-epoch losses and metrics in a training history."""

from __future__ import annotations

import inspect
import math
import numbers
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lunarlearn.errors import ConfigError

from ._base import Visualizer
from ._series import (
    VALIDATION_PREFIX,
    HistoryError,
    MetricSeries,
    available_names,
    check_history,
    read_series,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["HistoryPlot", "plot_history"]

# History keys that the Trainer writes about the run's speed and settings (the
# epoch's wall time and the learning rate), not about training progress. The
# default selection leaves them out, but metrics=[...] can still request them.
# The gradient monitor's grad_norm stays in the default selection.
NON_METRIC_KEYS = frozenset({"epoch_time", "lr"})

# Up to this many epochs the x axis gets one tick per epoch. Longer runs use a
# locator that picks a few integer ticks.
EXPLICIT_TICKS_MAX_EPOCHS = 10

# Up to this many epochs each value also gets a marker, so an epoch whose
# neighbours are NaN still shows as a dot.
MARKER_MAX_EPOCHS = 50

PANEL_WIDTH = 4.8
PANEL_HEIGHT = 3.6


class HistoryPlot(Visualizer):
    """Plot each metric of a training history against the epoch, one panel each.

    Every panel shows the training series as a solid line and its ``val_``
    series as a dashed line in the same colour. The x axis counts epochs from 1
    with integer ticks. A NaN or None value, which marks a failed epoch, leaves
    a gap in the line.

    :param metrics: metric names to plot, one panel each, in this order. A name
        covers both ``<name>`` and ``val_<name>``. Defaults to ``loss`` followed
        by every other metric in the history with at least one value, leaving
        out ``epoch_time`` and ``lr``.
    :param title: title above all panels, or None for none.
    :param dpi: resolution of the PNG in dots per inch, so the image is
        ``figsize[0] * dpi`` by ``figsize[1] * dpi`` pixels.
    :param figsize: (width, height) of the whole figure in inches. Defaults to
        4.8 by 3.6 inches per panel, with up to three panels in a row.
    :param log_loss: draw the ``loss`` panel on a logarithmic y axis. Needs
        every loss value to be positive.
    """

    def __init__(
        self,
        *,
        metrics: Sequence[str] | str | None = None,
        title: str | None = None,
        dpi: float = 100,
        figsize: tuple[float, float] | None = None,
        log_loss: bool = False,
    ) -> None:
        self.metrics = _check_metrics(metrics)
        self.title = _check_title(title)
        self.dpi = _check_positive("dpi", dpi)
        self.figsize = _check_figsize(figsize)
        if not isinstance(log_loss, bool):
            raise ConfigError(f"log_loss must be True or False. Received: {log_loss!r}")
        self.log_loss = log_loss

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(metrics={self.metrics!r}, title={self.title!r}, "
            f"dpi={self.dpi!r}, figsize={self.figsize!r}, log_loss={self.log_loss!r})"
        )

    def figure(self, history: Mapping[str, Sequence[float]]) -> Figure:
        """Build the figure with one panel per selected metric.

        :param history: metric name to a list with one value per epoch, as in
            ``history.json``. ``val_<name>`` contains the validation values of
            ``<name>``.
        :returns: a ``matplotlib.figure.Figure`` with an Agg canvas attached,
            made without pyplot, so no window opens and no global figure stays.
        :raises HistoryError: if the history is empty, a requested metric is
            missing, a value is not a number, a metric and its ``val_`` list
            differ in length, or ``log_loss`` meets a loss that is not positive.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        history = check_history(history)
        series = self._select_series(history)
        rows, columns = _grid_shape(len(series))
        figsize = self.figsize or (PANEL_WIDTH * columns, PANEL_HEIGHT * rows)

        fig = Figure(figsize=figsize, dpi=self.dpi, layout="constrained")
        FigureCanvasAgg(fig)
        if self.title is not None:
            fig.suptitle(self.title)
        for index, metric in enumerate(series):
            axes = fig.add_subplot(rows, columns, index + 1)
            self._draw_panel(axes, metric, colour=f"C{index % 10}")
        return fig

    def _select_series(
        self, history: Mapping[str, Sequence[float]]
    ) -> list[MetricSeries]:
        if self.metrics is not None:
            return read_series(history, self.metrics)
        names = [
            name for name in available_names(history) if name not in NON_METRIC_KEYS
        ]
        if "loss" in names:
            names.remove("loss")
            names.insert(0, "loss")
        selected = [metric for metric in read_series(history, names) if metric.epochs]
        if not selected:
            raise HistoryError(
                "history has no metric with values to plot. Keys found: "
                f"{', '.join(history)}. Pass metrics=[...] to plot "
                f"{', '.join(sorted(NON_METRIC_KEYS))}"
            )
        return selected

    def _draw_panel(self, axes: Axes, metric: MetricSeries, colour: str) -> None:
        log_scale = metric.name == "loss" and self.log_loss
        if log_scale:
            _check_positive_loss(metric)
        epochs = np.arange(1, metric.epochs + 1)
        marker = "o" if metric.epochs <= MARKER_MAX_EPOCHS else None
        style = {"color": colour, "marker": marker, "markersize": 3}
        if metric.train is not None:
            axes.plot(epochs, metric.train, linestyle="-", label="train", **style)
        if metric.val is not None:
            axes.plot(epochs, metric.val, linestyle="--", label="validation", **style)

        if log_scale:
            axes.set_yscale("log")
        _set_epoch_ticks(axes, metric.epochs)
        axes.set_title(metric.name)
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric.name)
        axes.grid(True, alpha=0.3)
        axes.legend()


def plot_history(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    **options: object,
) -> pathlib.Path:
    """Write ``history`` as a PNG of line plots with ``HistoryPlot(**options)``.

    :param history: metric name to per-epoch list, as in ``history.json``.
    :param path: destination file ending in ``.png``.
    :param options: keyword options of :class:`HistoryPlot`.
    :returns: ``path`` as a ``pathlib.Path``.
    :raises ConfigError: if an option name is unknown or its value invalid.
    """
    accepted = inspect.signature(HistoryPlot.__init__).parameters
    unknown = sorted(set(options) - set(accepted) - {"self"})
    if unknown:
        names = ", ".join(name for name in accepted if name != "self")
        raise ConfigError(
            f"Unknown HistoryPlot option(s): {', '.join(unknown)}. "
            f"Accepted options: {names}"
        )
    return HistoryPlot(**options).save(history, path)


def _set_epoch_ticks(axes: Axes, epochs: int) -> None:
    """Put x ticks on whole epochs only, for any number of epochs."""
    from matplotlib.ticker import MaxNLocator

    if 1 <= epochs <= EXPLICIT_TICKS_MAX_EPOCHS:
        # MaxNLocator(integer=True) falls back to fractional ticks when the
        # view contains fewer than two integers, as it does for one epoch.
        axes.set_xticks(range(1, epochs + 1))
        axes.set_xlim(0.5, epochs + 0.5)
        return
    # min_n_ticks=1 keeps the integer steps even when the user zooms in to a
    # range that contains a single integer.
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _grid_shape(panels: int) -> tuple[int, int]:
    columns = min(panels, 3)
    return math.ceil(panels / columns), columns


def _check_positive_loss(metric: MetricSeries) -> None:
    for key, values in (("loss", metric.train), ("val_loss", metric.val)):
        if values is None:
            continue
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            epoch = int(bad[0]) + 1
            raise HistoryError(
                f"log_loss=True needs positive loss values, but '{key}' is "
                f"{float(values[bad[0]])!r} at epoch {epoch}. Use log_loss=False for "
                "losses that reach zero or below"
            )


def _check_metrics(metrics: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence):
        raise ConfigError(
            "metrics must be None or a list of metric names. Received: "
            f"{type(metrics).__name__}"
        )
    if not metrics:
        raise ConfigError(
            "metrics must name at least one metric, or be None for the default "
            "selection. Received: metrics=[]"
        )
    for name in metrics:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"metrics must contain non-empty str names. Received: {name!r}"
            )
        if name.startswith(VALIDATION_PREFIX) and name != VALIDATION_PREFIX:
            base = name[len(VALIDATION_PREFIX) :]
            raise ConfigError(
                f"Invalid metric name '{name}': metrics takes metric names, and "
                f"each one plots its validation series too. Use '{base}', which "
                f"plots both '{base}' and '{name}'"
            )
    duplicates = sorted({name for name in metrics if metrics.count(name) > 1})
    if duplicates:
        raise ConfigError(
            f"metrics lists {', '.join(duplicates)} more than once. Received: "
            f"metrics={list(metrics)!r}"
        )
    return tuple(metrics)


def _check_title(title: str | None) -> str | None:
    if title is not None and not isinstance(title, str):
        raise ConfigError(
            f"title must be a str or None. Received: {type(title).__name__}"
        )
    return title


def _check_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{name} must be a positive, finite number. Received: {value!r}"
        )
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"{name} must be a positive, finite number. Received: {value!r}"
        )
    return float(value)


def _check_figsize(figsize: Sequence[float] | None) -> tuple[float, float] | None:
    if figsize is None:
        return None
    if isinstance(figsize, str) or not isinstance(figsize, Sequence):
        raise ConfigError(
            "figsize must be None or a (width, height) pair in inches. "
            f"Received: {figsize!r}"
        )
    if len(figsize) != 2:
        raise ConfigError(
            "figsize must be a (width, height) pair in inches. Received: "
            f"{len(figsize)} values {list(figsize)!r}"
        )
    width = _check_positive("figsize width", figsize[0])
    height = _check_positive("figsize height", figsize[1])
    return (width, height)
