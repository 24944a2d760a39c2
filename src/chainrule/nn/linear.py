"""Linear (fully connected), Identity, Flatten and Bilinear-free basics."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from .._device import check as _check_device
from .._files import format_bytes, physical_memory
from ..ops import conv as _conv
from ..ops import shape as _shape
from ..ops._util import int_arg
from ..ops._util import normalize_axes as _normalize_axes
from . import init
from .module import Module, Parameter

if TYPE_CHECKING:
    from typing import Any

    from numpy.typing import DTypeLike

    from .._device import device as Device
    from ..generator import Generator
    from ..tensor import Tensor


def _check_sizes(layer, **sizes):
    """Layer sizes may be 0 (an empty layer, as PyTorch allows) but never negative."""
    for name, value in sizes.items():
        for v in value if isinstance(value, tuple) else (value,):
            if int_arg(layer, name, v) < 0:
                raise RuntimeError(
                    f"{layer}: {name} must be non-negative, got {value} (Trying to create tensor with negative "
                    f"dimension {int(v)}); pass a size of 0 or more."
                )


MAX_PARAMETER_BYTES = None
"""The largest parameter a layer allocates; None means this machine's physical memory. Above it
a layer refuses with the size in bytes instead of a MemoryError or the system's out-of-memory killer
(NumPy's zeros succeed lazily far beyond it, and initialization then writes every page).
Set ``chainrule.nn.linear.MAX_PARAMETER_BYTES`` (bytes) to allow more, e.g. with swap."""


def _check_parameter_bytes(nbytes, what, layer):
    """Refuse `what` (parameters of `nbytes` bytes) before allocating it, when it exceeds the limit."""
    limit = MAX_PARAMETER_BYTES if MAX_PARAMETER_BYTES is not None else physical_memory()
    if limit is not None and nbytes > limit:
        raise RuntimeError(
            f"{layer}: {what} would take {format_bytes(nbytes)}, more than "
            f"{'the limit' if MAX_PARAMETER_BYTES is not None else 'this machine'}'s {format_bytes(limit)} of "
            "memory; check the layer sizes (a feature or class count read from data?), or set "
            "chainrule.nn.linear.MAX_PARAMETER_BYTES to allow it."
        )


def _empty(shape, dtype, layer="Linear"):
    dtype = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    nbytes = math.prod(shape) * dtype.itemsize
    _check_parameter_bytes(nbytes, f"a parameter of shape {tuple(shape)} and dtype {dtype}", layer)
    try:
        return Parameter(np.zeros(shape, dtype=dtype))
    except MemoryError:  # under a memory limit (ulimit -v, a container) below the machine's memory
        raise RuntimeError(
            f"{layer}: not enough memory for a parameter of shape {tuple(shape)} and dtype {dtype} "
            f"({format_bytes(nbytes)}); check the layer sizes"
        ) from None


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features).

    Initialized as PyTorch does: W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and b ~ U(-1/sqrt(in), 1/sqrt(in)).

    Example:
        >>> layer = nn.Linear(4, 3)
        >>> layer(chainrule.randn(2, 4)).shape
        (2, 3)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        _check_sizes(type(self).__name__, in_features=in_features, out_features=out_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = _empty((self.out_features, self.in_features), dtype, type(self).__name__)
        if bias:
            self.bias = _empty((self.out_features,), dtype, type(self).__name__)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        init._default_layer_init(self.weight, self.bias, generator)

    def forward(self, x: Tensor) -> Tensor:
        shape = np.shape(getattr(x, "_data", x))
        if not shape or shape[-1] != self.in_features:
            got = shape[-1] if shape else "no"
            raise RuntimeError(
                f"{self!r}: input has {got} features in its last dimension (shape {tuple(shape)}); expected "
                f"{self.in_features}. Reshape the input (e.g. x.flatten(1)) or build the layer with "
                f"in_features={shape[-1] if shape else '...'}."
            )
        if self.bias is None:
            return _conv.Linear.apply(x, self.weight)
        return _conv.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dims start_dim..end_dim (by default all but the batch dim) into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return _shape.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size`."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        if isinstance(unflattened_size, (str, bytes)) or not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r:.40}")
        self.dim = int_arg("Unflatten", "dim", dim)
        self.unflattened_size = tuple(int_arg("Unflatten", "unflattened_size", n) for n in unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        shape = list(np.shape(getattr(x, "_data", x)))
        d = _normalize_axes(self.dim, len(shape), "Unflatten")[0]
        return _shape.reshape(x, tuple(shape[:d]) + self.unflattened_size + tuple(shape[d + 1 :]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
