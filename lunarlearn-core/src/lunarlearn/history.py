"""Per-epoch training figures, saved as JSON and CSV."""

import csv
import io
import json
import math
from pathlib import Path

from lunarlearn.io import write_text


def json_figures(figures):
    """Return per-epoch figures with NaN as None, which JSON writes as null."""
    return {
        name: [None if math.isnan(v) else v for v in values]
        for name, values in figures.items()
    }


class History:
    """Figures recorded once per epoch, each a list indexed by epoch.

    A figure that first appears after some epochs is padded with NaN for the
    earlier ones, so every list has one entry per epoch. In JSON, NaN is
    written as null.
    """

    def __init__(self, figures=None):
        self.figures = {name: list(values) for name, values in (figures or {}).items()}

    @property
    def epochs(self):
        return max((len(values) for values in self.figures.values()), default=0)

    def append(self, logs):
        """Record one epoch's figures."""
        count = self.epochs
        for name, value in logs.items():
            values = self.figures.setdefault(name, [math.nan] * count)
            values.append(float(value))
        for values in self.figures.values():
            if len(values) == count:
                values.append(math.nan)

    def __getitem__(self, name):
        return self.figures[name]

    def __contains__(self, name):
        return name in self.figures

    def __iter__(self):
        return iter(self.figures)

    def __len__(self):
        return len(self.figures)

    def keys(self):
        return self.figures.keys()

    def items(self):
        return self.figures.items()

    def to_dict(self):
        return {name: list(values) for name, values in self.figures.items()}

    def to_json(self):
        return json.dumps(json_figures(self.figures), indent=2) + "\n"

    def to_csv(self):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        names = list(self.figures)
        writer.writerow(["epoch", *names])
        for epoch in range(self.epochs):
            row = [self.figures[name][epoch] for name in names]
            writer.writerow(
                [epoch + 1, *("" if math.isnan(v) else repr(v) for v in row)]
            )
        return buffer.getvalue()

    def save(self, directory):
        """Write ``history.json`` and ``history.csv`` into ``directory`` atomically."""
        directory = Path(directory)
        write_text(directory / "history.json", self.to_json())
        write_text(directory / "history.csv", self.to_csv())
        return directory / "history.json"

    @classmethod
    def load(cls, path):
        """Read a history from ``history.json`` or from the directory holding it."""
        path = Path(path)
        if path.is_dir():
            path = path / "history.json"
        try:
            with open(path, encoding="utf-8") as file:
                raw = json.load(file)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no history at {path}; expected a run directory or its history.json"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not a JSON history file: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object of per-epoch lists")
        figures = {}
        for name, values in raw.items():
            if not isinstance(values, list) or not all(
                v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                for v in values
            ):
                raise ValueError(f"{path}: figure {name!r} is not a list of numbers")
            figures[name] = [math.nan if v is None else float(v) for v in values]
        return cls(figures)

    def __repr__(self):
        return f"History(epochs={self.epochs}, figures={list(self.figures)})"
