"""Convolution layers: Conv1d and Conv2d (stride, padding, dilation, groups), on chainrule.ops.conv."""

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
        self.weight = _empty(
            (self.out_channels, self.in_channels // self.groups) + self.kernel_size, dtype, type(self).__name__
        )
        if bias:
            self.bias = _empty((self.out_channels,), dtype, type(self).__name__)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)), b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init._default_layer_init(self.weight, self.bias, generator)

    def forward(self, x: Tensor) -> Tensor:
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
        return type(self)._fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._d:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._d:
            text += f", dilation={self.dilation}"
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
