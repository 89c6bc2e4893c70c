"""Location of the data directory."""

import os
from pathlib import Path

__all__ = ["data_home"]


def data_home() -> Path:
    """Return the directory that contains one subdirectory per dataset.

    It is ``$LUNARLEARN_DATA`` when that variable is set and not empty, else
    ``$XDG_CACHE_HOME/lunarlearn`` when that variable is an absolute path, else
    ``~/.cache/lunarlearn``. The directory is not created here.
    """
    configured = os.environ.get("LUNARLEARN_DATA")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    # The XDG Base Directory spec says to ignore a relative XDG_CACHE_HOME.
    if cache and os.path.isabs(cache):
        return Path(cache) / "lunarlearn"
    return Path.home() / ".cache" / "lunarlearn"
