"""Shape and indexing primitives: reshape, permute, broadcast_to, cat, pad, flip, getitem and its
scatter-add transpose; the rest (squeeze, stack, split, ...) are built from them.
"""
from __future__ import annotations

import builtins

import functools

import numpy as np

from ..autograd.function import Function
from ._util import as_array, is_tensor, normalize_axes, unbroadcast


def _shape_arg(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
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

class Permute(Function):
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

class BroadcastTo(Function):
    """y = x broadcast to a larger shape.   dy/dx: sum over the broadcast axes (unbroadcast)."""

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.in_shape = np.shape(x)
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise RuntimeError(
                f"expand/broadcast_to: a tensor of shape {np.shape(x)} cannot be broadcast to {tuple(shape)}; "
                "each dimension must match or be 1, and new dimensions go in front."
            ) from None

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        return broadcast_to(t, ctx.shape)

class Cat(Function):
    """y = the inputs joined along `axis`.   dy/dx_k: the slice of g that came from x_k."""

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.sizes = [np.shape(x)[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        index = [slice(None)] * len(g.shape)
        for need, size in zip(ctx.needs_input_grad, ctx.sizes):
            index[ctx.axis] = slice(start, start + size)
            grads.append(getitem(g, tuple(index)) if need else None)
            start += size
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        parts = []
        for t, size in zip(tangents, ctx.sizes):
            if t is None:
                shape = list(ctx.shape)
                shape[ctx.axis] = size
                t = np.zeros(shape, dtype=ctx.dtype)
            parts.append(t)
        return Cat.apply(*parts, axis=ctx.axis)

class Pad(Function):
    """y = x with a constant border.   dy/dx: the interior slice of g."""

    @staticmethod
    def forward(ctx, x, widths=None, value=0.0):
        ctx.widths = widths
        ctx.interior = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, np.shape(x)))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return getitem(g, ctx.interior)

    @staticmethod
    def jvp(ctx, t):
        return Pad.apply(t, widths=ctx.widths, value=0.0)

class Flip(Function):
    """y = x reversed along axes.   dy/dx: g reversed along the same axes."""

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.axes = axes
        return np.flip(x, axes)

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.axes)

    @staticmethod
    def jvp(ctx, t):
        return flip(t, ctx.axes)

def _is_basic(index) -> bool:
    return builtins.all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in index)


class Getitem(Function):
    """y = x[index] (slices, integers, integer arrays, boolean masks).

    dy/dx: g scattered back into zeros of x's shape, adding where an index repeats.
    """

    @staticmethod
    def forward(ctx, x, index=None):
        ctx.index = index
        ctx.in_shape = np.shape(x)
        try:
            return x[index]
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor of shape {np.shape(x)}, index {index!r})") from None

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.index, ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        return getitem(t, ctx.index)

class ScatterAdd(Function):
    """y = zeros(shape) with y[index] += g (the transpose of getitem).   dy/dg: y's gradient at index."""

    @staticmethod
    def forward(ctx, g, index=None, shape=None):
        ctx.index = index
        out = np.zeros(shape, dtype=np.result_type(g))
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return getitem(gg, ctx.index)

    @staticmethod
    def jvp(ctx, t):
        return scatter_add(t, ctx.index, ctx.shape)

class IndexPut(Function):
    """y = x with y[index] = v.   dy/dx: g with zeros at index;  dy/dv: g[index], unbroadcast to v."""

    @staticmethod
    def forward(ctx, x, v, index=None):
        ctx.index = index
        ctx.v_shape = np.shape(v)
        out = np.array(x, copy=True)
        out[index] = v
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_v = ctx.needs_input_grad
        gx = gv = None
        if need_x:
            mask = np.ones(np.shape(as_array(g)), dtype=bool)
            mask[ctx.index] = False
            gx = g * mask
        if need_v:
            gv = unbroadcast(getitem(g, ctx.index), ctx.v_shape)
        return gx, gv

    @staticmethod
    def jvp(ctx, tx, tv):
        tx = np.zeros(ctx.shape, dtype=ctx.dtype) if tx is None else tx
        tv = np.zeros(ctx.v_shape, dtype=ctx.dtype) if tv is None else tv
        return IndexPut.apply(tx, tv, index=ctx.index)

# ----- public functions -----

def normalize_index(index):
    """Turn a user index into a NumPy index: Tensors and lists become arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if is_tensor(item):
            item = item._data
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError(
                f"getitem: tensors used as indices must be integer or boolean, got dtype {item.dtype}; "
                "convert with .long()"
            )
        out.append(item)
    return tuple(out)


def getitem(x, index):
    """x[index], differentiable (the backward adds up repeated indices)."""
    return Getitem.apply(x, index=normalize_index(index))


def scatter_add(g, index, shape):
    """zeros(shape) with g added at index: the transpose of getitem."""
    return ScatterAdd.apply(g, index=index, shape=tuple(shape))


def index_put(x, index, value):
    """A copy of x with x[index] = value, differentiable in both."""
    return IndexPut.apply(x, value, index=normalize_index(index))


def reshape(x, *shape):
    """Same elements, new shape; one dimension may be -1.

    Example:
        >>> chainrule.arange(6).reshape(2, 3)
    """
    shape = _shape_arg(shape, "reshape")
    if np.shape(as_array(x)) == shape:
        return x
    return Reshape.apply(x, shape=shape)


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    shape = np.shape(as_array(x))
    if not shape:
        return reshape(x, (1,))
    start, end = (normalize_axes(d, len(shape), "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a tensor of shape "
                           f"{shape}; swap them")
    return reshape(x, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


def permute(x, *dims):
    """Reorder the dimensions (torch.permute)."""
    dims = _shape_arg(dims, "permute")
    ndim = np.ndim(as_array(x))
    if sorted(d % max(ndim, 1) for d in dims) != list(range(ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of the {ndim} dimensions")
    dims = tuple(d % ndim for d in dims)
    if dims == tuple(range(ndim)):
        return x
    return Permute.apply(x, axes=dims)


def transpose(x, dim0=-2, dim1=-1):
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


def movedim(x, source, destination):
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


def squeeze(x, dim=None):
    """Remove dimensions of size 1 (all of them, or only `dim`)."""
    shape = np.shape(as_array(x))
    if dim is None:
        return reshape(x, tuple(n for n in shape if n != 1))
    dims = normalize_axes(dim, len(shape), "squeeze")
    return reshape(x, tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))


def unsqueeze(x, dim):
    """Insert a dimension of size 1 at `dim`."""
    shape = list(np.shape(as_array(x)))
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
    shape.insert(dim % ndim, 1)
    return reshape(x, tuple(shape))


def broadcast_to(x, *shape):
    """View x broadcast to `shape` (NumPy's broadcast_to, PyTorch's expand)."""
    if type(x) is np.ndarray and len(shape) == 1 and type(shape[0]) is tuple:
        # Backward rules on plain arrays (first-order): a read-only view, no node.
        return x if x.shape == shape[0] else np.broadcast_to(x, shape[0])
    shape = _shape_arg(shape, "broadcast_to")
    if np.shape(as_array(x)) == shape:
        return x
    return BroadcastTo.apply(x, shape=shape)


def expand(x, *sizes):
    """Broadcast to `sizes`; -1 keeps a dimension as it is (torch.expand)."""
    sizes = _shape_arg(sizes, "expand")
    shape = np.shape(as_array(x))
    lead = len(sizes) - len(shape)
    full = tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, full)


def expand_as(x, other):
    return broadcast_to(x, np.shape(as_array(other)))


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing dimension.

    Example:
        >>> chainrule.cat([chainrule.ones(2), chainrule.zeros(3)])   # shape (5,)
    """
    dim = dim if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    shapes = [np.shape(as_array(t)) for t in tensors]
    ndim = len(shapes[0])
    if ndim == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_axes(dim, ndim, "cat")[0]
    for i, s in enumerate(shapes):
        if len(s) != ndim or s[:d] + s[d + 1:] != shapes[0][:d] + shapes[0][d + 1:]:
            raise RuntimeError(
                f"cat: tensor {i} has shape {s}, but tensor 0 has shape {shapes[0]}; all sizes must match "
                f"except in the dimension being joined (dim={dim})."
            )
    # PyTorch promotes mixed dtypes (int64 with float32 gives float32); one dtype is the common case.
    dtypes = {np.asarray(as_array(t)).dtype for t in tensors}
    if len(dtypes) > 1:
        from .. import _dtypes
        from .elementwise import _to_dtype

        dtype = functools.reduce(_dtypes.promote_types, dtypes)
        tensors = [_to_dtype(t, dtype) for t in tensors]
    return Cat.apply(*tensors, axis=d)


concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join tensors along a new dimension."""
    dim = dim if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {np.shape(as_array(t)) for t in tensors}
    if len(shapes) > 1:
        raise RuntimeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


def split(x, split_size_or_sections, dim=0):
    """Split into pieces of a given size (int) or of the given sizes (list), as torch.split."""
    size = np.shape(as_array(x))[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        sizes = [builtins.min(step, size - s) for s in range(0, size, step)]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != size:
            raise RuntimeError(f"split: sizes {sizes} must add up to the dimension's size {size}")
    pieces, start = [], 0
    ndim = np.ndim(as_array(x))
    for n in sizes:
        index = [slice(None)] * ndim
        index[dim] = slice(start, start + n)
        pieces.append(getitem(x, tuple(index)))
        start += n
    return tuple(pieces)


def chunk(x, chunks, dim=0):
    """Split into `chunks` pieces of (nearly) equal size, as torch.chunk."""
    size = np.shape(as_array(x))[dim]
    if size == 0:
        return split(x, [0] * chunks, dim)  # as torch: `chunks` empty pieces
    step = -(-size // chunks)
    return split(x, step, dim)


def unbind(x, dim=0):
    """The slices along `dim`, each without that dimension."""
    return tuple(squeeze(p, dim) for p in split(x, 1, dim))


def pad(x, pad, mode="constant", value=0.0):
    """Constant padding, torch.nn.functional.pad style: (left, right) for the last dim, then the one before..."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant' is")
    if len(pad) % 2:
        raise ValueError(f"pad: the padding {pad} must have an even length (pairs per dimension)")
    ndim = np.ndim(as_array(x))
    if len(pad) // 2 > ndim:
        raise ValueError(f"pad: {len(pad) // 2} dimensions of padding for a tensor with {ndim}")
    if builtins.any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported; slice the tensor instead")
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad.apply(x, widths=tuple(widths), value=value)


def flip(x, *dims):
    """Reverse the order of elements along `dims`: flip(x, (0, 1)), or x.flip(0, 1) as torch's method."""
    dims = normalize_axes(_shape_arg(dims, "flip"), np.ndim(as_array(x)), "flip")
    return Flip.apply(x, axes=dims)


def repeat(x, *sizes):
    """Tile x: repeat it sizes[i] times along each dimension (torch.repeat)."""
    sizes = _shape_arg(sizes, "repeat")
    shape = np.shape(as_array(x))
    shape = (1,) * (len(sizes) - len(shape)) + shape
    x = reshape(x, shape)
    interleaved = tuple(v for pair in zip((1,) * len(shape), shape) for v in pair)
    tiled = broadcast_to(reshape(x, interleaved), tuple(v for pair in zip(sizes, shape) for v in pair))
    return reshape(tiled, tuple(s * n for s, n in zip(sizes, shape)))


def gather(x, dim, index):
    """out[i][j] = x[index[i][j]][j] for dim=0 (torch.gather), built on getitem."""
    index = np.asarray(as_array(index))
    ndim = np.ndim(as_array(x))
    dim = normalize_axes(dim, ndim, "gather")[0]
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return getitem(x, tuple(grids))


def take_along_dim(x, indices, dim):
    return gather(x, dim, indices)


NONDIFFERENTIABLE = ()
