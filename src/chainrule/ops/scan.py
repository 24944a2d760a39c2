"""Scans and orderings along one dim: cumsum, cumprod, cummax/cummin, sort/argsort.

cummax, cummin and sort pick entries of x: their primitives take the chosen indices (found once,
without a gradient, by the public functions) and their gradient goes back to those entries only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..autograd import effects as _effects
from ..autograd.primitive import Primitive, export
from ._util import as_array, int_arg, is_tensor, need_tensor, normalize_axes
from .elementwise import where
from .reduce import ValuesIndices
from .unary import _plain, cast
from .views import movedim, reshape

if TYPE_CHECKING:
    from .._typing import DTypeLike, Tensor, TensorLike

_INT64 = np.dtype(np.int64)
_HALF = np.dtype(np.float16)


def _suffix_cumsum(a, axis):
    return np.flip(np.cumsum(np.flip(a, axis), axis), axis)


class CumSum(Primitive):
    """y_k = sum_{j <= k} x_j along `axis` (sum_{j >= k} when `reverse`).

    dy/dx: the transpose, the cumulative sum the other way: grad_i = sum_{k >= i} g_k.

    Example:
        >>> chainrule.cumsum(chainrule.tensor([1.0, 2.0, 3.0]), 0)   # [1., 3., 6.]
    """

    @staticmethod
    def forward(ctx, x, axis=0, reverse=False, dtype=None):
        ctx.axis, ctx.reverse = axis, reverse
        if dtype is None and x.dtype.kind in "biu":
            dtype = _INT64  # torch adds integers and bools in int64 unless a dtype is asked for
        if reverse:
            return np.flip(np.cumsum(np.flip(x, axis), axis, dtype=dtype), axis)
        return np.cumsum(x, axis, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return CumSum.apply(g, axis=ctx.axis, reverse=not ctx.reverse)

    @staticmethod
    def jvp(ctx, t):
        return CumSum.apply(t, axis=ctx.axis, reverse=ctx.reverse)


class CumProd(Primitive):
    """y_k = prod_{j <= k} x_j along `axis`.

    dy/dx: grad_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j. Without zeros in the slice that is
    (sum_{k >= i} g_k y_k) / x_i; with zeros the products of the others are taken without dividing
    (exact in every order, as PyTorch).

    Example:
        >>> chainrule.cumprod(chainrule.tensor([2.0, 0.0, 3.0]), 0)   # [2., 0., 0.]
    """

    @staticmethod
    def forward(ctx, x, axis=0, dtype=None):
        ctx.axis = axis
        if dtype is None and x.dtype.kind in "biu":
            dtype = _INT64  # torch multiplies integers and bools in int64 too
        with np.errstate(over="ignore", invalid="ignore"):  # inf * 0 = nan and overflow as IEEE (torch: silent)
            out = np.cumprod(x, axis, dtype=dtype)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axis = ctx.axis
        if not is_tensor(g) and not is_tensor(x):
            return _cumprod_grad_array(x, out, g, axis)
        if _effects.tracing() or (as_array(x) == 0).any():
            # A recorded rule: the zero-free form divides by zero, and its derivative by x^2.
            others = _cumprod_of_others(x, axis)
            upper = _upper(x.shape[axis])
            return _from_last(_sum_where(others * _to_last(g, axis)[..., None, :], upper, -1), axis)
        return CumSum.apply(g * out, axis=axis, reverse=True) / x

    @staticmethod
    def jvp(ctx, t):
        x, out = ctx.saved_tensors
        axis = ctx.axis
        if not _effects.tracing() and not (as_array(x) == 0).any():
            return out * CumSum.apply(t / x, axis=axis)
        others = _cumprod_of_others(x, axis)
        upper = _upper(x.shape[axis])
        return _from_last(_sum_where(others * _to_last(t, axis)[..., :, None], upper, -2), axis)


def _upper(n):
    """[i, k] = k >= i: the outputs y_k that x_i enters."""
    return np.triu(np.ones((n, n), dtype=bool))


def _sum_where(terms, mask, axis):
    from .reduce import sum as _sum

    return _sum(where(mask, terms, 0.0), dim=axis)


def _to_last(a, axis):
    return movedim(a, axis, -1)


def _from_last(a, axis):
    return movedim(a, -1, axis)


def _cumprod_of_others(x, axis):
    """[..., i, k] = prod_{j <= k, j != i} x_j: row i is the cumulative product of the slice with
    x_i taken as 1. O(n^2) per slice, differentiable everywhere (also at zeros)."""
    n = x.shape[axis]
    rows = _to_last(x, axis)[..., None, :]
    return CumProd.apply(where(np.eye(n, dtype=bool), 1.0, rows), axis=rows.ndim - 1)


def _cumprod_grad_array(x, out, g, axis):
    """cumprod's gradient on arrays in O(n), exact with zeros: before a slice's first zero the
    zero-free form holds (the later terms have y_k = 0); at the first zero z, grad_z is the suffix
    sum of g times the cumulative product with x_z taken as 1; after it every term holds x_z = 0."""
    zero = x == 0
    if not zero.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            return _suffix_cumsum(g * out, axis) / x
    zeros_seen = np.cumsum(zero, axis)
    before = zeros_seen == 0
    first = zero & (zeros_seen == 1)
    with_first_as_one = np.cumprod(np.where(first, 1, x), axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        before_part = _suffix_cumsum(g * out, axis) / np.where(before, x, 1)
    return np.where(before, before_part, np.where(first, _suffix_cumsum(g * with_first_as_one, axis), 0)).astype(
        out.dtype, copy=False
    )


class TakeAlong(Primitive):
    """y = x taken at `indices` along `axis` (cummax, cummin, sort): y_k = x_{indices_k}.

    dy/dx: g added back onto the positions taken (a position taken twice gets both), by scatter_add,
    whose own gradient is this take again: exact to any order. (For sort's permutations the inverse
    permutation would do, but it is a new array a jit trace could not follow.)

    Example:
        >>> chainrule.sort(chainrule.tensor([3.0, 1.0, 2.0])).values   # [1., 2., 3.]
    """

    method = None

    @staticmethod
    def forward(ctx, x, axis=0, indices=None):
        ctx.axis, ctx.indices, ctx.in_shape = axis, indices, x.shape
        return np.take_along_axis(x, indices, axis)

    @staticmethod
    def backward(ctx, g):
        from .scatter import scatter_add

        zeros = np.zeros(ctx.in_shape, dtype=as_array(g).dtype)
        return scatter_add(zeros, ctx.axis, ctx.indices, g)

    @staticmethod
    def jvp(ctx, t):
        return TakeAlong.apply(t, axis=ctx.axis, indices=ctx.indices)


# ----- public functions -----


def _scan_axis(op, x, dim):
    """dim as a non-negative axis of x (0 for a 0-d x), refused as torch refuses it."""
    need_tensor(op, x)
    if dim is None:
        raise TypeError(f"{op}(): argument 'dim' (position 2) must be int, not None; pass the dim to scan along")
    dim = int_arg(op, "dim", dim)
    ndim = np.ndim(as_array(x))
    (axis,) = normalize_axes(dim, ndim, op) or (0,)
    return axis


def _as_1d(x):
    """A 0-d x as shape (1,) (a scan of one entry), and the function that undoes it."""
    if np.ndim(as_array(x)) == 0:
        return reshape(x, (1,)), lambda y: reshape(y, ())
    return x, lambda y: y


def _scan(op, primitive, x, dim, dtype):
    """cumsum/cumprod: x cast to `dtype` first, float16 accumulated in float32, and an integer dtype
    asked for the one accumulated in (wrapping around, as torch)."""
    axis = _scan_axis(op, x, dim)
    if dtype is not None:
        x = cast(x, np.dtype(dtype))
    x, restore = _as_1d(x)
    in_dtype = as_array(x).dtype
    if in_dtype == _HALF:
        return restore(cast(primitive.apply(cast(x, np.float32), axis=axis), _HALF))
    return restore(primitive.apply(x, axis=axis, dtype=in_dtype if dtype is not None else None))


@export("CumSum", method=True)
def cumsum(x: TensorLike, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """Cumulative sum along `dim`: y_k = x_0 + ... + x_k, as torch.cumsum.

    Integers and bools add up in int64; `dtype` casts x first. float16 adds in float32.
    dy/dx: grad_i = g_i + ... + g_last (the sum the other way).

    Example:
        >>> chainrule.tensor([[1, 2], [3, 4]]).cumsum(0)   # [[1, 2], [4, 6]], int64
    """
    return _scan("cumsum", CumSum, x, dim, dtype)


@export("CumProd", method=True)
def cumprod(x: TensorLike, dim: int, *, dtype: DTypeLike | None = None) -> Tensor:
    """Cumulative product along `dim`: y_k = x_0 * ... * x_k, as torch.cumprod.

    Integers and bools multiply in int64; `dtype` casts x first. The gradient is exact with zeros:
    grad_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j.

    Example:
        >>> chainrule.cumprod(chainrule.tensor([2.0, 0.0, 3.0]), 0)   # [2., 0., 0.]
    """
    return _scan("cumprod", CumProd, x, dim, dtype)


def _running_extremum_indices(a, axis, largest):
    """Index of the running max (min) of each prefix: on ties the latest entry, and once a NaN is
    met the latest NaN, as torch (it takes x_k when x_k >= the running max, or x_k is NaN)."""
    accumulate = np.maximum.accumulate if largest else np.minimum.accumulate
    running = accumulate(a, axis=axis)
    updates = a == running
    if a.dtype.kind in "fc":
        updates |= np.isnan(a) & np.isnan(running)
    shape = [1] * a.ndim
    shape[axis] = a.shape[axis]
    positions = np.arange(a.shape[axis]).reshape(shape)
    return np.maximum.accumulate(np.where(updates, positions, 0), axis=axis).astype(np.int64)


def _cumulative_extremum(op, x, dim, largest):
    axis = _scan_axis(op, x, dim)
    x, restore = _as_1d(x)
    a = np.asarray(as_array(x))
    if a.dtype.kind == "c":
        raise RuntimeError(
            f"{op}: complex tensors have no order (got {a.dtype}, shape {a.shape}); pass x.real or x.abs()"
        )
    # found by a recorded op (_plain), so that a jit replay finds them again for its own x
    indices = _plain(lambda a: _running_extremum_indices(a, axis, largest), x)
    values = TakeAlong.apply(x, axis=axis, indices=as_array(indices))
    return ValuesIndices(restore(values), restore(indices))


@export("TakeAlong", method=True)
def cummax(x: TensorLike, dim: int) -> tuple[Tensor, Tensor]:
    """Running maximum along `dim` and its index, as torch.cummax: (values, indices).

    Ties take the latest index; a NaN stays the maximum from where it appears. The gradient of
    values_k goes to x at indices_k.

    Example:
        >>> chainrule.cummax(chainrule.tensor([1.0, 3.0, 2.0]), 0)   # values [1., 3., 3.], indices [0, 1, 1]
    """
    return _cumulative_extremum("cummax", x, dim, largest=True)


@export("TakeAlong", method=True)
def cummin(x: TensorLike, dim: int) -> tuple[Tensor, Tensor]:
    """Running minimum along `dim` and its index, as torch.cummin: (values, indices).

    Ties take the latest index; a NaN stays the minimum from where it appears. The gradient of
    values_k goes to x at indices_k.

    Example:
        >>> chainrule.cummin(chainrule.tensor([2.0, 1.0, 3.0]), 0)   # values [2., 1., 1.], indices [0, 1, 1]
    """
    return _cumulative_extremum("cummin", x, dim, largest=False)


def _sort_indices(a, axis, descending):
    """The stable sorting permutation, NaN as the largest value: ascending by NumPy's stable sort
    (NaN last); descending by sorting the reversed slice and reversing back, which keeps equal
    entries in index order (as torch) and needs no negation (bool and unsigned have none)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable").astype(np.int64)
    n = a.shape[axis]
    reversed_order = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(reversed_order, axis)).astype(np.int64)


def _order(op, x, dim, descending):
    """(x as at least 1-d, the function that undoes that, the axis, the sorting indices of that x as a
    Tensor), the indices found by a recorded op (_plain), so that a jit replay sorts its own x."""
    axis = _scan_axis(op, x, dim)
    a = np.asarray(as_array(x))
    if a.dtype.kind == "c":
        raise RuntimeError(
            f"{op}: complex tensors have no order (got {a.dtype}, shape {a.shape}); sort x.real or x.abs()"
        )
    x, restore = _as_1d(x)
    return x, restore, axis, _plain(lambda a: _sort_indices(a, axis, descending), x)


@export("TakeAlong", method=True)
def sort(x: TensorLike, dim: int = -1, descending: bool = False, stable: bool = False) -> tuple[Tensor, Tensor]:
    """Entries sorted along `dim` and where they came from, as torch.sort: (values, indices).

    NaN sorts as the largest value. Equal entries keep their index order, so `stable` changes
    nothing (torch on CPU gives the same order). The gradient of values_k goes to x at indices_k.

    Example:
        >>> chainrule.tensor([3.0, 1.0, 2.0]).sort(descending=True)   # values [3., 2., 1.], indices [0, 2, 1]
    """
    x, restore, axis, indices = _order("sort", x, dim, descending)
    values = TakeAlong.apply(x, axis=axis, indices=as_array(indices))
    return ValuesIndices(restore(values), restore(indices))


@export(differentiable=False, method=True)
def argsort(x: TensorLike, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort x along `dim`, as torch.argsort: sort(x, dim, descending).indices. No gradient.

    Example:
        >>> chainrule.argsort(chainrule.tensor([3.0, 1.0, 2.0]))   # [1, 2, 0]
    """
    _, restore, _, indices = _order("argsort", x, dim, descending)
    return restore(indices)
