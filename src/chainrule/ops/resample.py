"""Resampling: adaptive pooling (average and max, 1-D to 3-D) with PyTorch's bins, and the two
primitives interpolate (ops/interpolate.py, re-exported here) is built on.

Every resampling here reads, along one spatial axis at a time, input positions that never decrease
as the output position grows. Two primitives, each other's transposes, carry them: GatherAxis (take
those positions) and SegmentSum (add each run of equal positions back, a few whole-array gathers and
adds, instead of np.add.at's scatter, which is several times slower). Interpolation and adaptive averaging are
those and fixed weights, so every derivative order and forward mode follow. Adaptive max pooling has a
primitive of its own, AdaptiveMaxPool: like MaxPool, it finds each bin's winner in forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export
from ._util import as_array
from .elementwise import _plain
from .indexing import Getitem
from .reduce import mean
from .shape import reshape

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Tensor, TensorLike

    OutputSize = int | None | Sequence[int | None]


class GatherAxis(Primitive):
    """y = x taken at positions `index` along `axis`: y[..., j, ...] = x[..., index[j], ...], with
    index non-decreasing (its runs of equal entries are `runs`, see _runs).

    dy/dx: SegmentSum, each run of the gradient added back onto its position (the transpose).
    """

    @staticmethod
    def forward(ctx, x, axis=0, index=None, runs=None):
        ctx.axis, ctx.index, ctx.runs, ctx.size = axis, index, runs, x.shape[axis]
        return np.take(x, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return SegmentSum.apply(g, axis=ctx.axis, index=ctx.index, runs=ctx.runs, size=ctx.size)

    @staticmethod
    def jvp(ctx, t):
        return GatherAxis.apply(t, axis=ctx.axis, index=ctx.index, runs=ctx.runs)


class SegmentSum(Primitive):
    """y[..., i, ...] = sum of g[..., j, ...] over the j with index[j] = i, along `axis` (y has `size`
    positions there; index non-decreasing, its runs `runs`). The transpose of GatherAxis.

    dy/dg: GatherAxis (each gradient entry read back at its position).
    """

    @staticmethod
    def forward(ctx, g, axis=0, index=None, runs=None, size=0):
        ctx.axis, ctx.index, ctx.runs = axis, index, runs
        shape = g.shape[:axis] + (size,) + g.shape[axis + 1 :]
        starts, positions, lengths = runs
        if not len(starts):
            return np.zeros(shape, dtype=g.dtype)
        # The k-th entry of every run at once, k < the longest run: a few gathers as large as the
        # output (np.add.reduceat is 5-8x slower on short runs along an inner axis).
        every = len(positions) == size  # then positions is arange(size): whole-array adds
        out = None if every else np.zeros(shape, dtype=g.dtype)
        target = (slice(None),) * axis
        for k in range(int(lengths.max())):
            some = lengths > k
            if some.all():
                part = np.take(g, starts + k, axis=axis)
                if every:
                    out = part if out is None else np.add(out, part, out=out)
                else:
                    out[target + (positions,)] += part
            else:
                out[target + (positions[some],)] += np.take(g, starts[some] + k, axis=axis)
        return out

    @staticmethod
    def backward(ctx, h):
        return GatherAxis.apply(h, axis=ctx.axis, index=ctx.index, runs=ctx.runs)

    @staticmethod
    def jvp(ctx, t):
        return SegmentSum.apply(t, axis=ctx.axis, index=ctx.index, runs=ctx.runs, size=ctx.shape[ctx.axis])


def _runs(index):
    """(starts, positions, lengths) of a non-decreasing index's runs of equal entries: where each
    starts, its entry and its length."""
    if index.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty
    starts = np.flatnonzero(np.diff(index, prepend=index[0] - 1))
    return starts, index[starts], np.diff(starts, append=index.size)


def _along(x, axis, index):
    """x at the (non-decreasing) positions `index` along `axis`."""
    return GatherAxis.apply(x, axis=axis, index=index, runs=_runs(index))


def _sum_runs(x, axis, index, size):
    """x's entries along `axis` added up by the (non-decreasing) group `index` they belong to."""
    return SegmentSum.apply(x, axis=axis, index=index, runs=_runs(index), size=size)


def _in_memory(op, fn, *args):
    """fn(*args), with NumPy's MemoryError (an output size of 2**31, say) as torch's RuntimeError."""
    try:
        return fn(*args)
    except MemoryError as e:
        raise RuntimeError(f"{op}: not enough memory for the result: {e}; use a smaller output size") from None


def _check_float(op, x):
    """torch's resampling kernels take floating-point inputs only."""
    dtype = np.asarray(as_array(x)).dtype
    if dtype.kind != "f":
        raise NotImplementedError(
            f"{op}: not implemented for dtype {dtype} (as torch); convert the input with .float() first"
        )
    return dtype


# ----- adaptive pooling -----


def _bins(size_in, size_out):
    """torch's adaptive bins: bin i covers [floor(i L / out), ceil((i + 1) L / out))."""
    i = np.arange(size_out)
    start = (i * size_in) // size_out
    end = -((-(i + 1) * size_in) // size_out)
    return start, end


def _bin_index(size_in, size_out):
    """(index (out, K), valid (out, K)): the K = widest bin's positions of each bin, padded with its last."""
    start, end = _bins(size_in, size_out)
    width = int((end - start).max()) if size_out else 0
    index = start[:, None] + np.arange(width)
    valid = index < end[:, None]
    return np.minimum(index, end[:, None] - 1), valid


def _bin_members(size_in, size_out):
    """(positions, bin, count): every bin's input positions one after the other (non-decreasing, since
    a bin starts at most one position before the previous one ends), the bin of each, each bin's size."""
    start, end = _bins(size_in, size_out)
    count = end - start
    bins = np.repeat(np.arange(size_out), count)
    positions = np.arange(len(bins)) - np.repeat(np.cumsum(count) - count, count) + np.repeat(start, count)
    return positions, bins, count


def _adaptive_sizes(op, x, output_size, d):
    _check_float(op, x)
    shape = tuple(np.shape(as_array(x)))
    if len(shape) not in (d + 1, d + 2):
        raise RuntimeError(
            f"{op}(): Expected {d + 1}D or {d + 2}D tensor, but got {list(shape)}; pass (N, C, *spatial) or "
            "(C, *spatial)."
        )
    for axis in range(1, len(shape)):
        if shape[axis] == 0:
            raise RuntimeError(
                f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list(shape)} with dimension {axis} being empty"
            )
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * d
    output_size = tuple(output_size)
    if len(output_size) != d:
        raise RuntimeError(f"{op}: output_size must be {d} (got {len(output_size)} entries: {output_size})")
    sizes = tuple(shape[len(shape) - d + k] if s is None else int(s) for k, s in enumerate(output_size))
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but received {sizes}")
    return shape, sizes


def _adaptive_avg(x, output_size, d, op):
    shape, sizes = _adaptive_sizes(op, x, output_size, d)
    lead = len(shape) - d
    if all(o and n % o == 0 for n, o in zip(shape[lead:], sizes)):  # equal, disjoint bins: one mean
        split = sum(((o, n // o) for n, o in zip(shape[lead:], sizes)), ())
        return mean(reshape(x, shape[:lead] + split), dim=tuple(range(lead + 1, lead + 2 * d, 2)))
    out = x
    for k, size_out in enumerate(sizes):
        axis = lead + k
        size_in = shape[axis]
        if size_out and size_in % size_out == 0:
            split = np.shape(as_array(out))
            split = split[:axis] + (size_out, size_in // size_out) + split[axis + 1 :]
            out = mean(reshape(out, split), dim=axis + 1)
            continue
        positions, bins, count = _bin_members(size_in, size_out)
        count = count.reshape((size_out,) + (1,) * (len(shape) - 1 - axis)).astype(np.asarray(as_array(x)).dtype)
        out = _sum_runs(_along(out, axis, positions), axis, bins, size_out) / count
    return out


@export(namespaces=("nn.functional",))
def adaptive_avg_pool1d(input: TensorLike, output_size: OutputSize) -> Tensor:
    """Mean over torch's adaptive bins of (N, C, L) or (C, L): output j averages
    x[floor(j L / out) : ceil((j + 1) L / out)], so any L maps to `output_size` positions.

    Example:
        >>> nn.functional.adaptive_avg_pool1d(chainrule.arange(5.0).reshape(1, 1, 5), 2)
        tensor([[[1., 3.]]])
    """
    if isinstance(output_size, (tuple, list)) and len(output_size) != 1:
        raise RuntimeError(
            f"adaptive_avg_pool1d() argument 'output_size' should contain one int (got {len(output_size)})"
        )
    return _in_memory("adaptive_avg_pool1d", _adaptive_avg, input, output_size, 1, "adaptive_avg_pool1d")


@export(namespaces=("nn.functional",))
def adaptive_avg_pool2d(input: TensorLike, output_size: OutputSize) -> Tensor:
    """Mean over torch's adaptive bins of (N, C, H, W) or (C, H, W), per axis as adaptive_avg_pool1d;
    output_size is an int, or a pair whose None entries keep the input's size.

    Example:
        >>> nn.functional.adaptive_avg_pool2d(chainrule.randn(2, 8, 7, 5), 1).shape   # global average pooling
        (2, 8, 1, 1)
    """
    return _in_memory("adaptive_avg_pool2d", _adaptive_avg, input, output_size, 2, "adaptive_avg_pool2d")


@export(namespaces=("nn.functional",))
def adaptive_avg_pool3d(input: TensorLike, output_size: OutputSize) -> Tensor:
    """Mean over torch's adaptive bins of (N, C, D, H, W) or (C, D, H, W), per axis as
    adaptive_avg_pool1d; output_size is an int, or a triple whose None entries keep the input's size.

    Example:
        >>> nn.functional.adaptive_avg_pool3d(chainrule.randn(2, 4, 5, 7, 6), (1, None, 3)).shape
        (2, 4, 1, 7, 3)
    """
    return _in_memory("adaptive_avg_pool3d", _adaptive_avg, input, output_size, 3, "adaptive_avg_pool3d")


def _adaptive_winners(x, sizes):
    """The index tuple of each adaptive bin's maximum in x (N, C, *L): the first maximum (or first NaN),
    as torch."""
    n, c = x.shape[:2]
    d = len(sizes)
    bins = [_bin_index(size_in, size_out) for size_in, size_out in zip(x.shape[2:], sizes)]
    # Gather (N, C, O1, K1[, O2, K2]) and rule out the padding positions.
    parts, valid = [], np.ones((), dtype=bool)
    for k, (index, ok) in enumerate(bins):
        shape = [1] * (2 * d)
        shape[2 * k : 2 * k + 2] = index.shape
        parts.append(index.reshape(shape))
        valid = valid & ok.reshape(shape)
    window = x[(slice(None), slice(None)) + tuple(parts)]
    window = np.where(valid, window, -np.inf)  # (the inputs are floating point, checked)
    order = tuple(range(2, 2 + 2 * d, 2)) + tuple(range(3, 3 + 2 * d, 2))
    window = window.transpose((0, 1) + order).reshape((n, c) + tuple(sizes) + (-1,))
    best = np.argmax(window, axis=-1)  # the first maximum; a NaN is the maximum, as torch
    offsets = np.unravel_index(best, tuple(index.shape[1] for index, _ in bins))
    index = [np.arange(n).reshape((n,) + (1,) * (d + 1)), np.arange(c).reshape((1, c) + (1,) * d)]
    for k, (positions, _) in enumerate(bins):
        rows = np.arange(sizes[k]).reshape([sizes[k] if a == k else 1 for a in range(d)])
        index.append(positions[rows, offsets[k]])
    return tuple(index)


class AdaptiveMaxPool(Getitem):
    """y = the maximum of each adaptive bin of x (N, C, *L): x at each bin's winner.

    dy/dx: each output's gradient goes to its bin's winner (summed where bins overlap), Getitem's
    backward. The winners are found in forward, so a jit replay follows them too.
    """

    @staticmethod
    def forward(ctx, x, sizes=()):
        ctx.index = _adaptive_winners(x, sizes)
        ctx.in_shape = x.shape
        return x[ctx.index]


def _flat_adaptive_winners(x, sizes):
    """return_indices: each maximum's position in the flattened spatial dims (torch's convention)."""
    index = _adaptive_winners(x, sizes)
    full = x.shape[:2] + tuple(sizes)
    return np.ravel_multi_index(tuple(np.broadcast_to(i, full) for i in index[2:]), x.shape[2:]).astype(np.int64)


def _adaptive_max(x, output_size, return_indices, d, op):
    shape, sizes = _adaptive_sizes(op, x, output_size, d)
    unbatched = len(shape) == d + 1
    if unbatched:
        x = reshape(x, (1,) + shape)
    if 0 in sizes or shape[0] == 0:
        raise RuntimeError(f"{op}: output_size {sizes} and input {list(shape)} must be non-empty")
    out = AdaptiveMaxPool.apply(x, sizes=sizes)
    if unbatched:
        out = reshape(out, np.shape(as_array(out))[1:])
    if not return_indices:
        return out
    indices = _plain(lambda a: _flat_adaptive_winners(a, sizes), x)
    return out, (reshape(indices, np.shape(as_array(indices))[1:]) if unbatched else indices)


@export(namespaces=("nn.functional",))
def adaptive_max_pool1d(
    input: TensorLike, output_size: OutputSize, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over torch's adaptive bins of (N, C, L) or (C, L) (see adaptive_avg_pool1d); with
    return_indices, also each maximum's position along L."""
    if isinstance(output_size, (tuple, list)) and len(output_size) != 1:
        raise RuntimeError(
            f"adaptive_max_pool1d() argument 'output_size' should contain one int (got {len(output_size)})"
        )
    op = "adaptive_max_pool1d"
    return _in_memory(op, _adaptive_max, input, output_size, return_indices, 1, op)


@export(namespaces=("nn.functional",))
def adaptive_max_pool2d(
    input: TensorLike, output_size: OutputSize, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over torch's adaptive bins of (N, C, H, W) or (C, H, W); with return_indices, also each
    maximum's position in the flattened H * W."""
    op = "adaptive_max_pool2d"
    return _in_memory(op, _adaptive_max, input, output_size, return_indices, 2, op)


@export(namespaces=("nn.functional",))
def adaptive_max_pool3d(
    input: TensorLike, output_size: OutputSize, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over torch's adaptive bins of (N, C, D, H, W) or (C, D, H, W); with return_indices, also
    each maximum's position in the flattened D * H * W.

    Example:
        >>> nn.functional.adaptive_max_pool3d(chainrule.randn(1, 2, 4, 6, 6), 2).shape
        (1, 2, 2, 2, 2)
    """
    op = "adaptive_max_pool3d"
    return _in_memory(op, _adaptive_max, input, output_size, return_indices, 3, op)


# interpolate lived here; it is built on this module's primitives, so it is imported last.
from .interpolate import interpolate  # noqa: E402, F401
