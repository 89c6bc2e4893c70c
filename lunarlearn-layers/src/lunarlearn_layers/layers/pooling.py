"""2-D max pooling (NCHW), computed by one fused Function."""

from __future__ import annotations

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.nn import Module
from lunarlearn_layers._utils import pad2d, padding_pair, to_pair

__all__ = ["MaxPool2d", "MaxPool2dFunction", "max_pool2d"]


def _window_slice(offset, stride, count):
    return slice(offset, offset + stride * (count - 1) + 1, stride)


class MaxPool2dFunction(Function):
    """Maximum of each pooling window of ``x`` (N, C, H, W).

    Keywords: ``pool_size`` (ph, pw), ``stride`` (sh, sw) and ``padding``
    (pad_h, pad_w). Padding adds ``-inf`` on both sides of each axis. The
    gradient of a window goes to one element, the first maximum in row-major
    order, as in PyTorch. Where a window contains NaN the output is NaN, but
    its gradient may go to another element of the window.

    There are three paths. Two of them serve windows that tile the input
    exactly (stride equal to the pool size, no padding, sizes divisible).
    There, 2x2 windows take two pairwise maxima (see :func:`_max_pool_2x2`).
    Other sizes keep a running maximum over the ph * pw window offsets, each
    offset a view from a reshape of ``x``. In both tiling paths the backward
    pass writes each input element once instead of adding into a zeroed
    array. Otherwise the general path keeps the running maximum over strided
    views of the padded input.
    """

    def forward(self, x, pool_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        if x.ndim != 4:
            raise ShapeError(
                "max_pool2d expects an input of shape (N, C, H, W). Received: "
                f"input shape {x.shape}"
            )
        n, c, h, w = x.shape
        ph, pw = pool_size
        self.fast = (
            tuple(stride) == tuple(pool_size)
            and not any(padding)
            and h % ph == 0
            and w % pw == 0
        )
        self.pairs = self.fast and (ph, pw) == (2, 2)
        if self.pairs:
            out, index = _max_pool_2x2(x, track=self.needs_input_grad[0])
            if self.needs_input_grad[0]:
                self.index = index
                self.geometry = (x.shape, pool_size, stride, padding)
            return out
        if self.fast:
            blocks = x.reshape(n, c, h // ph, ph, w // pw, pw)
            views = (blocks[:, :, :, i, :, j] for i in range(ph) for j in range(pw))
        else:
            views = self._padded_views(x, pool_size, stride, padding)
        out, index = _running_max(views, ph * pw, track=self.needs_input_grad[0])
        if self.needs_input_grad[0]:
            self.index = index
            self.geometry = (x.shape, pool_size, stride, padding)
        return out

    def _padded_views(self, x, pool_size, stride, padding):
        xp = backend.get_array_module(x)
        h, w = x.shape[2:]
        ph, pw = pool_size
        pad_h, pad_w = padding
        hp, wp = h + 2 * pad_h, w + 2 * pad_w
        if hp < ph or wp < pw:
            raise ShapeError(
                f"max_pool2d: the pool size {tuple(pool_size)} is larger than the "
                f"padded input ({hp}, {wp}). Received: input shape {x.shape}"
            )
        ho, wo = (hp - ph) // stride[0] + 1, (wp - pw) // stride[1] + 1
        x_padded = pad2d(x, (pad_h, pad_h, pad_w, pad_w), -xp.inf)
        return (
            x_padded[
                :, :, _window_slice(i, stride[0], ho), _window_slice(j, stride[1], wo)
            ]
            for i in range(ph)
            for j in range(pw)
        )

    def backward(self, grad_output):
        xp = backend.get_array_module(grad_output)
        (n, c, h, w), (ph, pw), stride, (pad_h, pad_w) = self.geometry
        ho, wo = grad_output.shape[2:]
        if self.pairs:
            return _max_unpool_2x2(grad_output, *self.index)
        if self.fast:
            # Every input element belongs to exactly one window.
            grad_blocks = xp.empty((n, c, ho, ph, wo, pw), dtype=grad_output.dtype)
            for offset in range(ph * pw):
                i, j = divmod(offset, pw)
                xp.multiply(
                    grad_output, self.index == offset, out=grad_blocks[:, :, :, i, :, j]
                )
            return grad_blocks.reshape(n, c, h, w)

        padded_shape = (n, c, h + 2 * pad_h, w + 2 * pad_w)
        grad_padded = xp.zeros(padded_shape, dtype=grad_output.dtype)
        for offset in range(ph * pw):
            i, j = divmod(offset, pw)
            rows = _window_slice(i, stride[0], ho)
            cols = _window_slice(j, stride[1], wo)
            grad_padded[:, :, rows, cols] += grad_output * (self.index == offset)
        return grad_padded[:, :, pad_h : pad_h + h, pad_w : pad_w + w]


def _max_pool_2x2(x, track=True):
    """Max-pool (N, C, H, W) over 2x2 tiles as two pairwise maxima.

    The first maximum is taken over horizontal pairs, the second over the
    vertical pairs of those results. This reads memory in order, unlike four
    strided views. Returns the output and, with ``track``, the two boolean
    arrays that the backward pass needs: true where the right, then the lower,
    element won. Ties keep the left and upper element, so the gradient goes to
    the first maximum in row-major order, as in PyTorch.
    """
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    pairs = x.reshape(n, c, h, w // 2, 2)
    left, right = pairs[..., 0], pairs[..., 1]
    row_max = xp.maximum(left, right)

    rows = row_max.reshape(n, c, h // 2, 2, w // 2)
    upper, lower = rows[:, :, :, 0, :], rows[:, :, :, 1, :]
    out = xp.maximum(upper, lower)
    if not track:
        return out, None
    return out, (right > left, lower > upper)


def _max_unpool_2x2(grad_output, right_wins, lower_wins):
    """Send each 2x2 tile's gradient to the element :func:`_max_pool_2x2` chose."""
    xp = backend.get_array_module(grad_output)
    n, c, ho, wo = grad_output.shape
    # g - g * mask is exact, so the two halves add up to g with no rounding.
    rows = xp.empty((n, c, ho, 2, wo), dtype=grad_output.dtype)
    xp.multiply(grad_output, lower_wins, out=rows[:, :, :, 1, :])
    xp.subtract(grad_output, rows[:, :, :, 1, :], out=rows[:, :, :, 0, :])
    rows = rows.reshape(n, c, 2 * ho, wo)

    grad_x = xp.empty((n, c, 2 * ho, wo, 2), dtype=grad_output.dtype)
    xp.multiply(rows, right_wins, out=grad_x[..., 1])
    xp.subtract(rows, grad_x[..., 1], out=grad_x[..., 0])
    return grad_x.reshape(n, c, 2 * ho, 2 * wo)


def _running_max(views, count, track):
    """Return the elementwise maximum of the ``count`` ``views`` and its index.

    The index (None unless ``track``) is the position of the first view that
    contains the maximum.
    """
    views = iter(views)
    out = next(views).copy()
    xp = backend.get_array_module(out)
    index = None
    if track:
        index_dtype = xp.int16 if count <= 2**15 else xp.int32
        index = xp.zeros(out.shape, dtype=index_dtype)
    for offset, view in enumerate(views, start=1):
        if track:
            # Strict > keeps the first maximum.
            xp.copyto(index, offset, where=view > out)
        xp.maximum(out, view, out=out)
    return out, index


def _check_pool_padding(padding, pool_size):
    pads = padding_pair(padding)
    if pads is None:
        raise ConfigError(
            "padding must be a non-negative int or a pair of them. Received: "
            f"padding={padding!r}"
        )
    for pad, size in zip(pads, pool_size, strict=True):
        if 2 * pad > size:
            raise ConfigError(
                "padding must be at most half the pool size. Received: "
                f"padding={padding!r} for pool_size={tuple(pool_size)}"
            )
    return pads


def max_pool2d(x, pool_size=2, stride=None, padding=0):
    """Return the maximum over each pooling window of ``x`` (N, C, H, W).

    :param pool_size: an int or a pair (ph, pw).
    :param stride: an int or a pair; None (default) uses ``pool_size``.
    :param padding: an int or a pair (pad_h, pad_w) of ``-inf`` padding on each
        side, at most half the pool size.
    """
    pool_size = to_pair(pool_size, "pool_size")
    stride = pool_size if stride is None else to_pair(stride, "stride")
    padding = _check_pool_padding(padding, pool_size)
    return MaxPool2dFunction.apply(
        x, pool_size=pool_size, stride=stride, padding=padding
    )


class MaxPool2d(Module):
    """Max pooling layer over NCHW inputs, computed by :func:`max_pool2d`.

    :param pool_size: an int or a pair (ph, pw). Defaults to 2.
    :param stride: an int or a pair; None (default) uses ``pool_size``.
    :param padding: an int or a pair of ``-inf`` padding on each side.
    """

    def __init__(self, pool_size=2, *, stride=None, padding=0):
        super().__init__()
        self.pool_size = to_pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else to_pair(stride, "stride")
        self.padding = _check_pool_padding(padding, self.pool_size)

    def forward(self, x):
        return MaxPool2dFunction.apply(
            x, pool_size=self.pool_size, stride=self.stride, padding=self.padding
        )

    def get_config(self):
        return {
            "pool_size": list(self.pool_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
        }
