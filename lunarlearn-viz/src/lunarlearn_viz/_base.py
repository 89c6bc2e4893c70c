"""Visualizer base class and the atomic PNG write that every visualizer shares."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lunarlearn.errors import ConfigError
from lunarlearn.io import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Visualizer", "check_png_path"]


class Visualizer:
    """Base class of the components in the ``lunarlearn.visualizers`` group.

    A visualizer takes its options as keyword arguments, builds a matplotlib
    ``Figure`` from a training history in :meth:`figure`, and writes it as a PNG
    in :meth:`save`. A subclass overrides :meth:`figure` and stores its resolution
    in ``self.dpi``.
    """

    #: Resolution, in dots per inch, of the written PNG.
    dpi: float = 100

    def figure(self, history: Mapping[str, Sequence[float]]) -> Figure:
        """Build the figure for ``history`` without drawing it to any file.

        :param history: metric name to a list with one value per epoch, in the
            layout of ``history.json``.
        :returns: a ``matplotlib.figure.Figure`` with an Agg canvas attached.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override figure(history)"
        )

    def save(
        self, history: Mapping[str, Sequence[float]], path: str | os.PathLike[str]
    ) -> pathlib.Path:
        """Draw ``history`` and write it to ``path`` as a PNG.

        The parent directory is created when missing. The image goes to a
        temporary file in that directory, which then replaces ``path`` with
        ``os.replace``, so a reader never sees a partly written file and a
        failed write leaves any earlier file at ``path`` unchanged.

        :param history: as for :meth:`figure`.
        :param path: destination file, which must end in ``.png``.
        :returns: ``path`` as a ``pathlib.Path``.
        :raises ConfigError: if ``path`` does not end in ``.png`` or is a
            directory.
        """
        target = check_png_path(path)
        fig = self.figure(history)
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_png_atomically(fig, target, self.dpi)
        return target


def check_png_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """Return ``path`` as a ``pathlib.Path`` after checking it can take a PNG.

    :raises TypeError: if ``path`` is not a string or path-like object.
    :raises ConfigError: if the suffix is not ``.png`` (any case) or ``path`` is
        an existing directory.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            "path must be a str or os.PathLike ending in .png. "
            f"Received: path={path!r} of type {type(path).__name__}"
        )
    target = pathlib.Path(path)
    if target.suffix.lower() != ".png":
        raise ConfigError(
            "Invalid path: visualizers write PNG images, so the file name must "
            f"end in .png. Received: path='{target}' (suffix "
            f"'{target.suffix}')"
        )
    if target.is_dir():
        raise ConfigError(
            f"Invalid path: '{target}' is a directory. Give a file name ending in .png"
        )
    return target


def _write_png_atomically(fig: Figure, target: pathlib.Path, dpi: float) -> None:
    with atomic_path(target) as temporary:
        with open(temporary, "wb") as stream:
            fig.savefig(stream, format="png", dpi=dpi)
            stream.flush()
            os.fsync(stream.fileno())
