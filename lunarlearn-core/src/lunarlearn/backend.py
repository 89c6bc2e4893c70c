"""Array back ends, devices, the default dtype and the random generator.

The array module always comes from the data: a CuPy array is computed with
CuPy and a NumPy array with NumPy. There is no process-wide device switch.
"""

import numpy as np

DEFAULT_DTYPE = np.float32

_rng = np.random.default_rng()

try:  # CuPy is optional: the CPU back end must work without it.
    import cupy as _cupy
except ImportError:
    _cupy = None


def cupy_available():
    """Return whether CuPy is installed and imports."""
    return _cupy is not None


def get_array_module(*arrays):
    """Return the array module (numpy or cupy) that owns ``arrays``."""
    if _cupy is not None:
        for array in arrays:
            if isinstance(array, _cupy.ndarray):
                return _cupy
    return np


def device_of(array):
    """Return ``"cuda"`` for a CuPy array and ``"cpu"`` otherwise."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return "cuda"
    return "cpu"


def to_device(array, device):
    """Copy ``array`` to ``device`` (``"cpu"`` or ``"cuda"``) when it is elsewhere."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"invalid device: {device!r} (expected 'cpu' or 'cuda')")
    if device == device_of(array):
        return array
    if device == "cpu":
        return _cupy.asnumpy(array)
    if _cupy is None:
        raise RuntimeError(
            "device 'cuda' requested but CuPy is not installed; install it with "
            "pip install 'lunarlearn-core[cuda]'"
        )
    return _cupy.asarray(array)


def manual_seed(seed):
    """Reseed the generator used for initialisation, dropout and shuffling."""
    global _rng
    _rng = np.random.default_rng(seed)
    if _cupy is not None:
        _cupy.random.seed(seed)


def rng():
    """Return the process's NumPy random generator (see :func:`manual_seed`)."""
    return _rng


def get_rng_state():
    """Return the generator state as a JSON-serialisable dict."""
    return _rng.bit_generator.state


def set_rng_state(state):
    """Restore a generator state returned by :func:`get_rng_state`."""
    _rng.bit_generator.state = state


def scatter_add(target, index, values):
    """Add ``values`` into ``target[index]`` in place, summing repeated indices."""
    xp = get_array_module(target)
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)
