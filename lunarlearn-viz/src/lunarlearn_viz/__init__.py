"""Plots of LunarLearn training histories.

``HistoryPlot`` (registered as ``history`` in the ``lunarlearn.visualizers``
entry-point group) draws the losses and metrics of ``history.json`` against the
epoch, and ``plot_history`` writes such a plot in one call. Importing this
package does not import matplotlib; drawing a figure does.
"""

from ._base import Visualizer
from ._series import HistoryError
from .history import HistoryPlot, plot_history

__all__ = ["HistoryError", "HistoryPlot", "Visualizer", "plot_history"]
