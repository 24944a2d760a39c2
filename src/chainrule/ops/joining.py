"""Joining and splitting: cat (and stack), pad, and the ops built on them (split, chunk, unbind,
repeat)."""

from __future__ import annotations

import builtins
import functools
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export
from ._util import as_array, int_arg, normalize_axes, refuse_text, shape_arg

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Dim, Tensor, TensorLike


class Cat(Primitive):
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


class Pad(Primitive):
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


@export("Cat", torch_kwargs="out")
def cat(tensors: Sequence[TensorLike], dim: Dim = 0, *, axis: Dim | None = None) -> Tensor:
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
        if len(s) != ndim or s[:d] + s[d + 1 :] != shapes[0][:d] + shapes[0][d + 1 :]:
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


@export("Cat", torch_kwargs="out")
def stack(tensors: Sequence[TensorLike], dim: Dim = 0, *, axis: Dim | None = None) -> Tensor:
    """Join tensors along a new dimension."""
    dim = dim if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {np.shape(as_array(t)) for t in tensors}
    if len(shapes) > 1:
        raise RuntimeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


@export(method=True)
def split(x: TensorLike, split_size_or_sections: int | Sequence[int], dim: Dim = 0) -> tuple[Tensor, ...]:
    """Split into pieces of a given size (int) or of the given sizes (list), as torch.split."""
    size = np.shape(as_array(x))[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 0 or step == 0 and size:
            raise RuntimeError(
                f"split: split_size must be positive (0 only for a dimension of size 0), got split_size={step} "
                f"for a dimension of size {size}; to cut into n pieces use chunk(n)."
            )
        sizes = [builtins.min(step, size - s) for s in range(0, size, step or 1)] or [0]  # torch: one empty piece
    else:
        sizes = list(split_size_or_sections)
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"split: split_sizes must be non-negative, got split_sizes={sizes}")
        if builtins.sum(sizes) != size:
            raise RuntimeError(f"split: sizes {sizes} must add up to the dimension's size {size}")
    pieces, start = [], 0
    ndim = np.ndim(as_array(x))
    for n in sizes:
        index = [slice(None)] * ndim
        index[dim] = slice(start, start + n)
        pieces.append(_multi_output_view(getitem(x, tuple(index)), "split"))
        start += n
    return tuple(pieces)


def _multi_output_view(piece, op):
    """Mark a piece of split/chunk/unbind: PyTorch refuses a recorded in-place op on these views."""
    info = getattr(piece, "_view", None)
    if info is not None:
        info.multi = True
        info.op = op
    return piece


@export(method=True)
def chunk(x: TensorLike, chunks: int, dim: Dim = 0) -> tuple[Tensor, ...]:
    """Split into `chunks` pieces of (nearly) equal size, as torch.chunk."""
    chunks = int_arg("chunk", "chunks", chunks)
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}; it is the number of pieces.")
    size = np.shape(as_array(x))[normalize_axes(int_arg("chunk", "dim", dim), np.ndim(as_array(x)), "chunk")[0]]
    if size == 0:
        chunks = min(chunks, 2**16)  # torch gives `chunks` empty pieces; past 65,536 that is only memory
        return split(x, [0] * chunks, dim)  # as torch: `chunks` empty pieces
    step = -(-size // chunks)
    return split(x, step, dim)


@export(method=True)
def unbind(x: TensorLike, dim: Dim = 0) -> tuple[Tensor, ...]:
    """The slices along `dim`, each without that dimension (views of x, as torch.unbind)."""
    ndim = np.ndim(as_array(x))
    dim = normalize_axes(dim, ndim, "unbind")[0]
    lead = (slice(None),) * dim
    return tuple(_multi_output_view(getitem(x, lead + (i,)), "unbind") for i in range(np.shape(as_array(x))[dim]))


@export("Pad", namespaces=("chainrule", "nn.functional"))
def pad(x: TensorLike, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Constant padding, torch.nn.functional.pad style: (left, right) for the last dim, then the one before..."""
    refuse_text("pad", x)
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
    try:
        return Pad.apply(x, widths=tuple(widths), value=value)
    except MemoryError as e:  # a padding of 2**31 on each side, say: torch's RuntimeError with the size
        raise RuntimeError(f"pad: not enough memory for the padded result: {e}") from None


@export(method=True)
def repeat(x: TensorLike, *sizes: int | Sequence[int]) -> Tensor:
    """Tile x: repeat it sizes[i] times along each dimension (torch.repeat)."""
    sizes = shape_arg("repeat", sizes)
    shape = np.shape(as_array(x))
    shape = (1,) * (len(sizes) - len(shape)) + shape
    x = reshape(x, shape)
    interleaved = tuple(v for pair in zip((1,) * len(shape), shape) for v in pair)
    tiled = broadcast_to(reshape(x, interleaved), tuple(v for pair in zip(sizes, shape) for v in pair))
    try:
        out = reshape(tiled, tuple(s * n for s, n in zip(sizes, shape)))
    except MemoryError as e:  # repeat(2**62): torch's RuntimeError with the size, not NumPy's MemoryError
        raise RuntimeError(f"repeat: not enough memory for the result: {e}") from None
    if getattr(out, "_view", None) is not None:  # all sizes 1: still a copy, as torch.repeat
        from .elementwise import clone

        try:
            out = clone(out)
        except MemoryError as e:
            raise RuntimeError(f"repeat: not enough memory for the result: {e}") from None
    return out


export("Cat", name="concatenate", torch_kwargs="out")(cat)


from .indexing import getitem  # noqa: E402  (the shape modules use each other)
from .views import broadcast_to, reshape, unsqueeze  # noqa: E402  (the shape modules use each other)
