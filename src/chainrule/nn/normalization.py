"""Normalization layers: BatchNorm1d/2d (running statistics as buffers), LayerNorm and GroupNorm."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from .._device import check as _check_device
from ..ops._util import int_arg
from ..ops.elementwise import _plain
from ..ops.nn import group_norm
from ..tensor import Tensor
from .functional import batch_norm, layer_norm
from .linear import _check_sizes, _empty
from .module import Module

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._device import device as Device


def _dtype(dtype):
    return np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()


def _filled(layer, shape, dtype, value):
    """A parameter of `shape` filled with `value`, refused with the size when memory cannot hold it."""
    p = _empty(shape if isinstance(shape, tuple) else (shape,), dtype, type(layer).__name__)
    if value:
        p._data.fill(value)
    return p


def _affine_parameters(layer, shape, dtype, affine, bias=True):
    """weight = 1 and bias = 0 of `shape` when `affine` (bias registered as None when not `bias`); both
    registered as None otherwise, as PyTorch's normalization layers do."""
    layer.register_parameter("weight", _filled(layer, shape, dtype, 1) if affine else None)
    layer.register_parameter("bias", _filled(layer, shape, dtype, 0) if affine and bias else None)


class _BatchNorm(Module):
    _expected_dims = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        _check_sizes(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = _dtype(dtype)
        _affine_parameters(self, self.num_features, dt, affine)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._make(_filled(self, self.num_features, dt, 0)._data))
            self.register_buffer("running_var", Tensor._make(_filled(self, self.num_features, dt, 1)._data))
            self.register_buffer("num_batches_tracked", Tensor._make(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def _check_input(self, x):
        shape = tuple(np.shape(getattr(x, "_data", x)))
        if len(shape) not in self._expected_dims:
            dims = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise RuntimeError(f"{self!r}: expected {dims} input, got shape {shape}")
        if shape[1] != self.num_features:
            raise RuntimeError(
                f"{self!r}: input has {shape[1]} channels in dimension 1 (shape {shape}); expected "
                f"{self.num_features}. Build the layer with num_features={shape[1]}, or check the previous layer."
            )

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        momentum = self.momentum
        if self.training and self.track_running_stats:
            # Counted through _plain, which jit records, so that a replay counts too.
            inverse_count = _plain(_count_batch, self.num_batches_tracked)
            if momentum is None:  # cumulative moving average, as PyTorch
                momentum = inverse_count
        # Batch statistics in training, and in eval when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        return batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


def _count_batch(n):
    """n += 1 in place; returns 1 / n (the cumulative average's momentum)."""
    n[...] += 1
    return np.asarray(1.0 / n)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C."""

    _expected_dims = (4,)


class LayerNorm(Module):
    """Normalize over the last len(normalized_shape) dims, then scale and shift (elementwise_affine)."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int_arg(type(self).__name__, "normalized_shape", n) for n in normalized_shape)
        _check_sizes(type(self).__name__, normalized_shape=self.normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dtype(dtype)
        _affine_parameters(self, self.normalized_shape, dt, elementwise_affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(np.shape(getattr(x, "_data", x)))
        k = len(self.normalized_shape)
        if shape[len(shape) - k :] != self.normalized_shape or len(shape) < k:
            raise RuntimeError(
                f"{self!r}: input of shape {shape} must end with the normalized shape {self.normalized_shape}; "
                f"build the layer with normalized_shape={shape[-k:] if len(shape) >= k else shape}."
            )
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalization (torch.nn.GroupNorm): the channels of (N, C, *) in num_groups groups, each
    normalized per sample over its channels and positions, then scaled and shifted per channel.

    No running statistics: training and eval compute the same thing. weight starts at 1, bias at 0.

    NOTE: a composite (chainrule.nn.functional.group_norm). A fused NumPy forward+backward measured no
    faster on (32, 64, 16, 16) float32, 8 groups (CPU time 4.7-4.9 ms against 3.8-4.5 ms for the
    composite), so none is kept.

    Example:
        >>> gn = nn.GroupNorm(2, 6)
        >>> gn(chainrule.randn(4, 6, 8, 8)).shape
        (4, 6, 8, 8)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups}); "
                "choose num_groups among the divisors of num_channels."
            )
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        dt = _dtype(dtype)
        _affine_parameters(self, self.num_channels, dt, affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
