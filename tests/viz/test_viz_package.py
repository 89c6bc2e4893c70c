"""Package surface: the entry point and what importing loads."""

import subprocess
import sys
from importlib.metadata import entry_points

import lunarlearn_viz
from lunarlearn_viz import HistoryPlot, Visualizer


def test_history_entry_point_loads_class():
    found = entry_points(group="lunarlearn.visualizers")
    by_name = {entry.name: entry for entry in found}

    assert "history" in by_name
    assert by_name["history"].load() is HistoryPlot


def test_history_plot_is_visualizer():
    assert issubclass(HistoryPlot, Visualizer)


def test_all_names_resolve():
    for name in lunarlearn_viz.__all__:
        assert getattr(lunarlearn_viz, name) is not None


def test_import_does_not_load_matplotlib():
    code = (
        "import sys, lunarlearn_viz; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
