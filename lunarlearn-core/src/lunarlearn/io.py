"""File helpers: atomic writes, so a crash never leaves a half-written file."""

import contextlib
import os
import tempfile
from pathlib import Path


def default_mode(directory=False):
    """Return the permission bits that ``open`` or ``mkdir`` would give a new entry.

    ``tempfile`` creates private entries (0600 files, 0700 directories); an
    entry moved into place gets these bits instead, as if written directly.
    """
    # The umask can only be read by setting it, so it is restored at once.
    # NOTE: a thread that creates a file between the two calls gets umask 022.
    umask = os.umask(0o022)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it over ``path`` on success.

    The temporary file is removed when the block raises, and ``path`` keeps
    its previous content. The new file gets the default permission bits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(handle)
    try:
        os.chmod(temporary, default_mode())
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
    return Path(path)
