"""Convolution layers: Conv1d and Conv2d (stride, padding, dilation, groups) and their transposes
ConvTranspose1d and ConvTranspose2d, on chainrule.ops.conv."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._device import check as _check_device
from ..ops import conv as _conv
from . import init
from .linear import _check_sizes, _empty
from .module import Module

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._device import device as Device
    from ..generator import Generator
    from ..tensor import Tensor


class _ConvNd(Module):
    _d = 0
    _fn = None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        d = self._d
        name = type(self).__name__
        if int(groups) <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                f"be divisible by groups ({groups})"
            )
        _check_sizes(
            name,
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=_conv._ntuple(kernel_size, d, "kernel_size", name),
        )
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported; only 'zeros' is")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _conv._ntuple(kernel_size, d, "kernel_size", name)
        self.stride = _conv._ntuple(stride, d, "stride", name)
        self.padding = padding if isinstance(padding, str) else _conv._ntuple(padding, d, "padding", name)
        self.dilation = _conv._ntuple(dilation, d, "dilation", name)
        self.weight = _empty(self._weight_shape(), dtype, type(self).__name__)
        if bias:
            self.bias = _empty((self.out_channels,), dtype, type(self).__name__)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def _weight_shape(self):
        return (self.out_channels, self.in_channels // self.groups) + self.kernel_size

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)), b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init._default_layer_init(self.weight, self.bias, generator)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return type(self)._fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def _check_input(self, x):
        shape = tuple(np.shape(getattr(x, "_data", x)))
        d = self._d
        if len(shape) not in (d + 1, d + 2):
            layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
            raise RuntimeError(
                f"{self!r}: expected a {d + 2}-D input {layout} (or {d + 1}-D without the batch), got shape {shape}"
            )
        channels = shape[-d - 1]
        if channels != self.in_channels:
            hint = " (for a single-channel 1-D signal of shape (N, L), use x.unsqueeze(1))" if d == 1 else ""
            raise RuntimeError(
                f"{self!r}: input has {channels} channels in dimension {len(shape) - d - 1} (shape {shape}); "
                f"expected {self.in_channels}. Build the layer with in_channels={channels}, or fix the previous "
                f"layer's output channels{hint}."
            )
        return shape

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._d:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._d:
            text += f", dilation={self.dilation}"
        if getattr(self, "output_padding", None) not in (None, (0,) * self._d):  # transposed only
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out).

    Example:
        >>> conv = nn.Conv1d(1, 25, kernel_size=5)
        >>> conv(chainrule.randn(8, 1, 40)).shape
        (8, 25, 36)
    """

    _d = 1
    _fn = staticmethod(_conv.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    _d = 2
    _fn = staticmethod(_conv.conv2d)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolution: the weight is (in_channels, out_channels/groups, *kernel), as torch."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        output_padding: int | tuple[int, ...] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        padding_mode: str = "zeros",
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self.output_padding = _conv._ntuple(output_padding, self._d, "output_padding", name)
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
            device, dtype, generator,
        )  # fmt: skip

    def _weight_shape(self):
        return (self.in_channels, self.out_channels // self.groups) + self.kernel_size

    def _output_padding(self, shape, output_size):
        """torch's rule: output_size (spatial, or with the batch and channel dims) fixes the output
        padding, which must lie in [0, stride) beyond the smallest output size."""
        d = self._d
        if output_size is None:
            return self.output_padding
        output_size = tuple(int(s) for s in output_size)
        lead = len(shape) - d
        if len(output_size) == lead + d:
            output_size = output_size[lead:]
        if len(output_size) != d:
            raise ValueError(
                f"ConvTranspose{d}D: for {len(shape)}D input, output_size must have {d} or {lead + d} elements "
                f"(got {len(output_size)})"
            )
        low = [
            (n - 1) * st - 2 * p + dl * (k - 1) + 1
            for n, st, p, dl, k in zip(shape[lead:], self.stride, self.padding, self.dilation, self.kernel_size)
        ]
        high = [lo + st - 1 for lo, st in zip(low, self.stride)]
        if any(not lo <= s <= hi for s, lo, hi in zip(output_size, low, high)):
            raise ValueError(
                f"requested an output size of {list(output_size)}, but valid sizes range from {low} to {high} "
                f"(for an input of {shape[lead:]})"
            )
        return tuple(s - lo for s, lo in zip(output_size, low))

    def forward(self, x: Tensor, output_size: tuple[int, ...] | None = None) -> Tensor:
        shape = self._check_input(x)
        output_padding = self._output_padding(shape, output_size)
        return type(self)._fn(
            x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input) over
    (N, C_in, L) -> (N, C_out, L_out), L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1.

    Example:
        >>> up = nn.ConvTranspose1d(4, 2, kernel_size=4, stride=2, padding=1)
        >>> up(chainrule.randn(8, 4, 10)).shape
        (8, 2, 20)
    """

    _d = 1
    _fn = staticmethod(_conv.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out); forward(x, output_size)
    picks among the output sizes a strided convolution maps to the same input size, as torch.

    Example:
        >>> up = nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)
        >>> up(chainrule.randn(1, 16, 7, 7)).shape
        (1, 8, 14, 14)
    """

    _d = 2
    _fn = staticmethod(_conv.conv_transpose2d)
