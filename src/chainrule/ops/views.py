"""View-shaped primitives and ops: reshape, permute, broadcast_to, flip, diagonal, and the ops built
on them (view, flatten, transpose, movedim, squeeze, unsqueeze, expand, select, narrow).

Their results are views of their input (autograd/views.py), as in PyTorch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export
from ..autograd.views import make_view
from ._util import as_array, int_arg, is_tensor, need_tensor, normalize_axes, shape_arg, unbroadcast

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Dim, Tensor, TensorLike


class Reshape(Primitive):
    """y = x with a new shape (same elements in row-major order).   dy/dx: reshape back."""

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.in_shape = np.shape(x)
        try:
            return np.reshape(x, shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: shape {tuple(shape)} is invalid for a tensor of shape {np.shape(x)} "
                f"({np.size(x)} elements); the new shape must hold the same number of elements "
                "(use -1 for one dimension to have it inferred)."
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        return t.reshape(ctx.shape)


class Permute(Primitive):
    """y = x with its axes reordered.   dy/dx: the inverse permutation."""

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        return permute(g, tuple(np.argsort(ctx.axes)))

    @staticmethod
    def jvp(ctx, t):
        return permute(t, ctx.axes)


class BroadcastTo(Primitive):
    """y = x broadcast to a larger shape.   dy/dx: sum over the broadcast axes (unbroadcast)."""

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.in_shape = np.shape(x)
        try:
            out = np.broadcast_to(x, shape)
        except ValueError:
            raise RuntimeError(
                f"expand/broadcast_to: a tensor of shape {np.shape(x)} cannot be broadcast to {tuple(shape)}; "
                "each dimension must match or be 1, and new dimensions go in front."
            ) from None
        if type(x) is np.ndarray and x.flags.writeable:
            # A view, writable like PyTorch's expand (in-place ops refuse overlapping elements first).
            out.flags.writeable = True
        return out

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        return broadcast_to(t, ctx.shape)


class Flip(Primitive):
    """y = x reversed along axes.   dy/dx: g reversed along the same axes."""

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.axes = axes
        return np.flip(x, axes).copy()  # a copy, as torch.flip (np.flip's view would alias x)

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.axes)

    @staticmethod
    def jvp(ctx, t):
        return flip(t, ctx.axes)


class Diagonal(Primitive):
    """y = the diagonal of x over dims (dim1, dim2), shifted by offset, as a last dim (a view).

    dy/dx: g written on that diagonal of zeros (DiagonalScatter).
    """

    @staticmethod
    def forward(ctx, x, offset=0, dim1=0, dim2=1):
        ctx.in_shape = np.shape(x)
        ctx.diag = dict(offset=offset, dim1=dim1, dim2=dim2)
        out = np.diagonal(x, offset, dim1, dim2)
        if type(x) is np.ndarray and x.flags.writeable:
            out.flags.writeable = True  # NumPy's diagonal view is read-only; PyTorch's is writable
        return out

    @staticmethod
    def backward(ctx, g):
        return DiagonalScatter.apply(g, shape=ctx.in_shape, **ctx.diag)

    @staticmethod
    def jvp(ctx, t):
        return Diagonal.apply(t, **ctx.diag)


@export(method=True)
def reshape(x: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """Same elements, new shape; one dimension may be -1.

    A view of x when its strides allow one (as torch.reshape), else a copy.

    Example:
        >>> chainrule.arange(6).reshape(2, 3)
    """
    shape = shape_arg("reshape", shape)
    if not is_tensor(x):
        return x if np.shape(x) == shape else Reshape.apply(x, shape=shape)
    out = Reshape.apply(x, shape=shape)
    if out._data.size == 0 or np.may_share_memory(out._data, x._data):
        make_view(out, x, Reshape, {"shape": out._data.shape}, op="reshape")
    return out


@export(method=True, namespaces=())
def view(x: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """Same elements, new shape, always sharing x's storage (torch.Tensor.view).

    Refused when x's strides do not allow it (after a transpose, say): use reshape.
    """
    shape = shape_arg("view", shape)
    data = as_array(x)
    try:
        np.reshape(data, shape, copy=False)
    except ValueError:
        try:
            np.reshape(data, shape)
        except ValueError:
            pass  # an impossible shape: reshape below says why
        else:
            raise RuntimeError(
                f"view: shape {shape} is not compatible with the input's size and strides (shape "
                f"{np.shape(data)}, strides {tuple(s // data.itemsize for s in data.strides)}): at least one "
                "dimension spans across two contiguous subspaces. Use .reshape(...) instead."
            ) from None
    return reshape(x, shape)


@export(method=True)
def flatten(x: TensorLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a view when strides allow, as torch.flatten)."""
    shape = np.shape(as_array(x))
    start_dim, end_dim = int_arg("flatten", "start_dim", start_dim), int_arg("flatten", "end_dim", end_dim)
    if not shape:
        return reshape(x, (1,))
    start, end = (normalize_axes(d, len(shape), "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise RuntimeError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a tensor of shape {shape}; swap them"
        )
    if start == end:
        return x  # nothing flattened: x itself, as torch.flatten
    return reshape(x, shape[:start] + (int(np.prod(shape[start : end + 1])),) + shape[end + 1 :])


@export(method=True)
def permute(x: TensorLike, *dims: int | Sequence[int]) -> Tensor:
    """Reorder the dimensions (torch.permute)."""
    dims = shape_arg("permute", dims)
    ndim = np.ndim(as_array(x))
    if sorted(d % max(ndim, 1) for d in dims) != list(range(ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of the {ndim} dimensions")
    dims = tuple(d % ndim for d in dims)
    if dims == tuple(range(ndim)) and not is_tensor(x):
        return x
    return make_view(Permute.apply(x, axes=dims), x, Permute, {"axes": dims}, op="permute")


@export(method=True)
def transpose(x: TensorLike, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dimensions (torch.transpose)."""
    if type(x) is np.ndarray and x.ndim >= 2:
        return x.swapaxes(dim0, dim1)  # backward rules on plain arrays: no node, no checks needed
    ndim = np.ndim(as_array(x))
    if ndim < 2 and dim0 in (-2, -1) and dim1 in (-2, -1):
        return x
    axes = list(range(ndim))
    d0, d1 = normalize_axes(dim0, ndim, "transpose")[0], normalize_axes(dim1, ndim, "transpose")[0]
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(x, tuple(axes))


swapaxes = transpose


@export(method=True)
def movedim(x: TensorLike, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """Move dim(s) `source` to position(s) `destination` (ints or equal-length sequences), keeping the
    others in order: movedim(x of shape (2, 3, 4), (0, 1), (2, 0)) has shape (3, 4, 2)."""
    ndim = np.ndim(as_array(x))
    source = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    destination = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must have the same length")
    src = [normalize_axes(d, ndim, "movedim")[0] for d in source] if ndim else [0] * len(source)
    dst = [normalize_axes(d, ndim, "movedim")[0] for d in destination] if ndim else [0] * len(source)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {source} or destination {destination}")
    order = [d for d in range(ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, tuple(order))


@export(method=True)
def squeeze(x: TensorLike, dim: Dim | None = None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or only `dim`)."""
    shape = np.shape(as_array(x))
    if dim is None:
        return reshape(x, tuple(n for n in shape if n != 1))
    dims = normalize_axes(dim, len(shape), "squeeze")
    return reshape(x, tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))


@export(method=True)
def unsqueeze(x: TensorLike, dim: int) -> Tensor:
    """Insert a dimension of size 1 at `dim`."""
    shape = list(np.shape(as_array(x)))
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
    shape.insert(dim % ndim, 1)
    return reshape(x, tuple(shape))


@export(method=True)
def broadcast_to(x: TensorLike, *shape: int | Sequence[int]) -> Tensor:
    """View x broadcast to `shape` (NumPy's broadcast_to, PyTorch's expand)."""
    if type(x) is np.ndarray and len(shape) == 1 and type(shape[0]) is tuple:
        # Backward rules on plain arrays (first-order): a read-only view, no node.
        return x if x.shape == shape[0] else np.broadcast_to(x, shape[0])
    shape = shape_arg("broadcast_to", shape)
    if not is_tensor(x) and np.shape(x) == shape:
        return x
    return make_view(BroadcastTo.apply(x, shape=shape), x, BroadcastTo, {"shape": shape}, op="expand")


@export(method=True)
def expand(x: TensorLike, *sizes: int | Sequence[int]) -> Tensor:
    """Broadcast to `sizes`; -1 keeps a dimension as it is (torch.expand)."""
    sizes = shape_arg("expand", sizes)
    shape = np.shape(as_array(x))
    lead = len(sizes) - len(shape)
    full = tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, full)


@export(method=True, namespaces=())
def expand_as(x: TensorLike, other: TensorLike) -> Tensor:
    return broadcast_to(x, np.shape(as_array(other)))


@export(method=True)
def diagonal(x: TensorLike, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal over dims dim1 and dim2 as a new last dim: a view (torch.diagonal)."""
    ndim = np.ndim(as_array(x))
    d1, d2 = normalize_axes(dim1, ndim, "diagonal")[0], normalize_axes(dim2, ndim, "diagonal")[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({dim1}, {dim2})")
    # an offset past the matrix's size gives an empty diagonal whatever its value (NumPy's C int would overflow)
    size = max(np.shape(as_array(x))[d1], np.shape(as_array(x))[d2])
    params = {"offset": max(-size, min(size, int_arg("diagonal", "offset", offset))), "dim1": d1, "dim2": d2}
    return make_view(Diagonal.apply(x, **params), x, Diagonal, params, op="diagonal")


@export(method=True)
def select(x: TensorLike, dim: Dim, index: int) -> Tensor:
    """x indexed by `index` along `dim`, that dimension removed: a view (torch.select)."""
    dim = normalize_axes(dim, np.ndim(as_array(x)), "select")[0]
    return getitem(x, (slice(None),) * dim + (int_arg("select", "index", index),))


@export(method=True)
def narrow(x: TensorLike, dim: Dim, start: int, length: int) -> Tensor:
    """The `length` entries from `start` along `dim`: a view (torch.narrow)."""
    dim = normalize_axes(dim, np.ndim(as_array(x)), "narrow")[0]
    size = np.shape(as_array(x))[dim]
    start, length = int_arg("narrow", "start", start), int_arg("narrow", "length", length)
    start = start + size if start < 0 else start
    if not 0 <= start <= start + length <= size:
        raise IndexError(f"narrow: start {start} and length {length} are out of range for dim {dim} of size {size}")
    return getitem(x, (slice(None),) * dim + (slice(start, start + int(length)),))


@export(method=True)
def flip(x: TensorLike, *dims: int | Sequence[int]) -> Tensor:
    """Reverse the order of elements along `dims`: flip(x, (0, 1)), or x.flip(0, 1) as torch's method."""
    need_tensor("flip", x)
    dims = normalize_axes(shape_arg("flip", dims), np.ndim(as_array(x)), "flip")
    return Flip.apply(x, axes=dims)


export(name="swapaxes", method=True)(transpose)


from .indexing import DiagonalScatter, getitem  # noqa: E402  (the shape modules use each other)
