"""2-D convolution (NCHW), computed by one fused im2col Function."""

from __future__ import annotations

from lunarlearn import backend
from lunarlearn.autograd import Function
from lunarlearn.errors import ConfigError, ShapeError
from lunarlearn.nn import Module, Parameter
from lunarlearn_layers._utils import check_positive_int, pad2d, padding_pair, to_pair
from lunarlearn_layers.initializers import (
    conv_fans,
    initializer_config,
    resolve_initializer,
)

__all__ = ["Conv2d", "Conv2dFunction", "conv2d", "resolve_padding"]


def _same_padding(size, kernel, stride):
    """Return (before, after) padding of one axis for TensorFlow's "same" rule.

    The output has ``ceil(size / stride)`` positions. The padding that they
    need is split evenly, and an odd pixel goes after (bottom or right).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, spatial_shape, kernel_size, stride):
    """Return the padding ``(top, bottom, left, right)`` for one input.

    :param padding: ``"valid"`` (none), ``"same"``, an int for all sides, or a
        pair ``(ph, pw)`` for top and bottom, left and right.
    :param spatial_shape: the input's ``(height, width)``.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            top, bottom = _same_padding(spatial_shape[0], kernel_size[0], stride[0])
            left, right = _same_padding(spatial_shape[1], kernel_size[1], stride[1])
            return (top, bottom, left, right)
    else:
        pair = padding_pair(padding)
        if pair is not None:
            return (pair[0], pair[0], pair[1], pair[1])
    raise ConfigError(
        "padding must be 'valid', 'same', a non-negative int or a pair of them. "
        f"Received: padding={padding!r}"
    )


def _check_padding(padding):
    """Raise ConfigError unless ``padding`` is a valid padding argument."""
    resolve_padding(padding, (1, 1), (1, 1), (1, 1))
    return padding


def _output_size(padded, kernel, stride, axis_name, op):
    if padded < kernel:
        raise ShapeError(
            f"{op}: the kernel is larger than the padded input along the {axis_name} "
            f"axis. Received: padded {axis_name} {padded}, kernel {kernel}"
        )
    return (padded - kernel) // stride + 1


class Conv2dFunction(Function):
    """Cross-correlation of ``x`` (N, C, H, W) with ``weight`` (F, C, kh, kw).

    Inputs are ``(x, weight)`` or ``(x, weight, bias)`` with ``bias`` of shape
    ``(F,)``. Keywords: ``stride`` as ``(sh, sw)`` and ``padding`` as
    ``(top, bottom, left, right)``.

    The forward pass copies each of the kh * kw shifted views of the padded
    input into one column array of shape (N, C * kh * kw, Ho * Wo). One
    batched matmul multiplies it by the kernel matrix (F, C * kh * kw).
    The input gradient takes the same kh * kw steps back: each offset's share,
    ``weight[:, :, i, j].T @ grad``, is added into the padded input positions
    that the offset read.
    """

    def forward(self, x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0)):
        if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
            raise ShapeError(
                "conv2d: expected an input (N, C, H, W) and a kernel (F, C, kh, kw) "
                f"with the same C. Received: input shape {x.shape}, kernel shape "
                f"{weight.shape}"
            )
        if x.dtype.kind in "biu":
            # Integer data (pixels, counts) is computed in the kernel's dtype.
            x = x.astype(weight.dtype)
        xp = backend.get_array_module(x)
        n, c, h, w = x.shape
        filters, _, kh, kw = weight.shape
        sh, sw = stride
        x_padded = pad2d(x, padding, 0)
        hp, wp = x_padded.shape[2:]
        ho = _output_size(hp, kh, sh, "height", "conv2d")
        wo = _output_size(wp, kw, sw, "width", "conv2d")

        cols = xp.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = x_padded[
                    :, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw
                ]
        cols = cols.reshape(n, c * kh * kw, ho * wo)
        out = xp.matmul(weight.reshape(filters, -1), cols)
        if bias is not None:
            out += bias[:, None]

        if any(self.needs_input_grad):
            needs_x, needs_weight = self.needs_input_grad[:2]
            self.has_bias = bias is not None
            self.geometry = (x.shape, x_padded.shape, padding, stride, (ho, wo))
            self.cols = cols if needs_weight else None
            self.weight = weight if needs_x else None
            self.weight_shape = weight.shape
        return out.reshape(n, filters, ho, wo)

    def backward(self, grad_output):
        needs = self.needs_input_grad
        n, filters, ho, wo = grad_output.shape
        g = grad_output.reshape(n, filters, ho * wo)
        grad_x = grad_weight = grad_bias = None
        if needs[1]:
            # Sum over the batch of (F, L) @ (L, C*kh*kw).
            grad_weight = _batched_weight_grad(g, self.cols).reshape(self.weight_shape)
        if self.has_bias and needs[2]:
            # Summing the contiguous last axis first is the fast order for NumPy.
            grad_bias = g.sum(axis=2).sum(axis=0)
        if needs[0]:
            grad_x = self._input_grad(g)
        if self.has_bias:
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight

    def _input_grad(self, g):
        x_shape, padded_shape, padding, stride, (ho, wo) = self.geometry
        xp = backend.get_array_module(g)
        n, c = x_shape[:2]
        kh, kw = self.weight.shape[2:]
        sh, sw = stride
        grad_padded = xp.zeros(padded_shape, dtype=g.dtype)
        # One (C, F) @ (N, F, L) product per kernel offset, added into the input
        # positions that the offset read, so no (N, C*kh*kw, L) array is built.
        for i in range(kh):
            rows = slice(i, i + sh * (ho - 1) + 1, sh)
            for j in range(kw):
                cols = slice(j, j + sw * (wo - 1) + 1, sw)
                grad_offset = xp.matmul(self.weight[:, :, i, j].T, g)
                grad_padded[:, :, rows, cols] += grad_offset.reshape(n, c, ho, wo)
        top, _, left, _ = padding
        return grad_padded[:, :, top : top + x_shape[2], left : left + x_shape[3]]


def _batched_weight_grad(g, cols):
    """Return ``sum_n g[n] @ cols[n].T`` for g (N, F, L) and cols (N, K, L)."""
    xp = backend.get_array_module(g)
    return xp.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0)


def _check_input_rank(x):
    if len(x.shape) != 4:
        raise ShapeError(
            "conv2d expects an input of shape (N, C, H, W). Received: input shape "
            f"{tuple(x.shape)}"
        )


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Return the 2-D cross-correlation of ``x`` with ``weight`` (plus ``bias``).

    :param x: input Tensor or array of shape (N, C, H, W).
    :param weight: kernel of shape (F, C, kh, kw).
    :param bias: None or a bias of shape (F,).
    :param stride: an int or a pair (sh, sw).
    :param padding: ``"valid"``, ``"same"``, an int or a pair (ph, pw).
        ``"same"`` follows TensorFlow: the output has ``ceil(H / sh)`` rows and
        ``ceil(W / sw)`` columns, and an odd total padding puts the extra pixel
        at the bottom or right.
    """
    _check_input_rank(x)
    stride = to_pair(stride, "stride")
    pads = resolve_padding(padding, x.shape[2:], weight.shape[2:], stride)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dFunction.apply(*inputs, stride=stride, padding=pads)


class Conv2d(Module):
    """2-D convolution layer over NCHW inputs.

    The kernel ``weight`` has shape ``(filters, in_channels, kh, kw)`` and
    ``in_channels`` is read from the first input.

    :param filters: number of output channels.
    :param kernel_size: an int or a pair (kh, kw).
    :param stride: an int or a pair (sh, sw). Defaults to 1.
    :param padding: ``"valid"`` (default), ``"same"``, an int or a pair
        (ph, pw). ``"same"`` keeps H and W at stride 1 and, at larger strides,
        gives ``ceil(H / stride)`` like TensorFlow and Keras.
    :param use_bias: whether to add a learned bias per filter.
    :param kernel_initializer: initializer for ``weight``. Defaults to
        ``"he_uniform"``, because a convolution is usually followed by ReLU,
        and He scaling keeps the activation variance steady through ReLU
        layers.
    :param bias_initializer: initializer for ``bias``. Defaults to ``"zeros"``.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        *,
        stride=1,
        padding="valid",
        use_bias=True,
        kernel_initializer="he_uniform",
        bias_initializer="zeros",
    ):
        super().__init__()
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = to_pair(kernel_size, "kernel_size")
        self.stride = to_pair(stride, "stride")
        self.padding = _check_padding(padding)
        # Resolved (top, bottom, left, right) paddings. "same" depends on the
        # input's (H, W), which is the key; other paddings are stored under None.
        self._resolved_padding = {}
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve_initializer(
            kernel_initializer, "kernel_initializer"
        )
        self.bias_initializer = resolve_initializer(
            bias_initializer, "bias_initializer"
        )
        self._initializer_specs = (kernel_initializer, bias_initializer)
        # Created by build() from the first input's shape.
        self.weight = None
        self.bias = None
        self.in_channels = None

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ShapeError(
                "Conv2d expects inputs of shape (N, C, H, W). Received: input shape "
                f"{tuple(input_shape)}"
            )
        self.in_channels = int(input_shape[1])
        shape = (self.filters, self.in_channels, *self.kernel_size)
        fan_in, fan_out = conv_fans(shape)
        self.weight = Parameter(
            self.kernel_initializer(shape, fan_in=fan_in, fan_out=fan_out)
        )
        if self.use_bias:
            self.bias = Parameter(
                self.bias_initializer((self.filters,), fan_in=fan_in, fan_out=fan_out)
            )
        else:
            self.bias = None

    def forward(self, x):
        # Conv2dFunction is applied directly, because conv2d() would check the
        # stride and resolve the padding again on every call.
        _check_input_rank(x)
        spatial_shape = tuple(x.shape[2:])
        key = spatial_shape if self.padding == "same" else None
        pads = self._resolved_padding.get(key)
        if pads is None:
            pads = resolve_padding(
                self.padding, spatial_shape, self.kernel_size, self.stride
            )
            self._resolved_padding[key] = pads
        weight, bias = self.weight, self.bias
        inputs = (x, weight) if bias is None else (x, weight, bias)
        return Conv2dFunction.apply(*inputs, stride=self.stride, padding=pads)

    def get_config(self):
        padding = self.padding
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(padding) if isinstance(padding, tuple) else padding,
            "use_bias": self.use_bias,
            "kernel_initializer": initializer_config(self._initializer_specs[0]),
            "bias_initializer": initializer_config(self._initializer_specs[1]),
        }
