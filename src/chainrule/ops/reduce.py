"""Reductions: sum, prod, amax/amin and logsumexp as primitives; mean, var, std, norm built on them.

Every reduction takes PyTorch's `dim`/`keepdim` or NumPy's `axis`/`keepdims`.

NOTE: a little over 500 lines: the reductions share their argument handling (dim/axis, keepdim,
float16 accumulated in float32) and the Extremum primitive; split, each part would import the rest.
"""

from __future__ import annotations

import collections
import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from ..autograd import effects as _effects
from ..autograd.primitive import Primitive, UnaryElementwise, export
from ._util import as_array, is_tensor, need_tensor, normalize_axes, pick_axis
from .elementwise import _plain, exp, sign, where
from .shape import broadcast_to, permute

_INT64 = np.dtype(np.int64)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._typing import Dim, DTypeLike, Tensor, TensorLike


def _ones_tensor(ones):
    from ..tensor import Tensor

    return Tensor._make(ones)


def _jvp_from_partials(cls, ctx, t):
    """J t of a reduction: the sum over the reduced axes of t times the partials dy/dx_i, which the
    backward rule gives at g = 1 (a Tensor of ones when t is one, so that the result is recorded)."""
    ones = np.ones(ctx.shape, dtype=ctx.dtype)
    partials = cls.backward(ctx, _ones_tensor(ones) if is_tensor(t) else ones)
    return sum(t * partials, dim=ctx.axes, keepdim=ctx.keepdims)


def _count(shape, axes):
    """How many entries each output of a reduction over `axes` adds up."""
    return math.prod(shape[a] for a in axes)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_back(ctx, g):
    """Broadcast a reduced gradient back to the input's shape."""
    if not ctx.keepdims and len(g.shape):  # a 0-d g broadcasts as it is
        g = g.reshape(_kept_shape(ctx.in_shape, ctx.axes))
    return broadcast_to(g, ctx.in_shape)


def _setup(ctx, x, axis, keepdims, op):
    ctx.axes = normalize_axes(axis, np.ndim(x), op)
    ctx.keepdims = keepdims
    ctx.in_shape = np.shape(x)
    return ctx.axes


def _kind(x):
    """x's dtype kind; a Python number (or a symbolic stand-in) reads as 'f', NumPy picks its type."""
    return getattr(getattr(x, "dtype", None), "kind", "f")


class Sum(Primitive):
    """y = sum of x over axes.   dy/dx_i = 1: the gradient is broadcast back."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, dtype=None):
        axes = _setup(ctx, x, axis, keepdims, "sum")
        if dtype is None and _kind(x) in "biu":
            dtype = _INT64  # torch sums integers in int64; NumPy's uint64 for unsigned ones wraps below 0 later
        return np.sum(x, axis=axes, keepdims=keepdims, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(ctx, g)

    @staticmethod
    def jvp(ctx, t):
        return sum(t, dim=ctx.axes, keepdim=ctx.keepdims)


class Prod(Primitive):
    """y = product of x over axes.   dy/dx_i = product of the other entries (exact with zeros)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _setup(ctx, x, axis, keepdims, "prod")
        ctx.save_for_backward(x)
        # int64 for every integer input, as torch (NumPy multiplies unsigned ones in uint64)
        return np.prod(x, axis=axes, keepdims=keepdims, dtype=_INT64 if _kind(x) in "biu" else None)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axes, in_shape = ctx.axes, ctx.in_shape
        if not is_tensor(g):
            return _expand_back(ctx, g) * _prod_of_others_array(x, axes)
        n = int(np.prod([in_shape[a] for a in axes]))
        if n <= 256 or _effects.tracing() or (as_array(x) == 0).any():
            # Recording for higher order: prod/x would divide by zero, and make d2/dx2
            # divide by x^2 (overflow for tiny x); the exact product of the others does not.
            return _expand_back(ctx, g) * _prod_of_others(x, axes, in_shape)
        return _expand_back(ctx, g) * (prod(x, dim=axes, keepdim=True) / x)

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(Prod, ctx, t)  # J t = sum_i t_i * prod_{j != i} x_j


def _prod_of_others_array(x, axes):
    """prod_{j != i} x_j along `axes`, as exclusive prefix times suffix products: no division,
    so exact with zeros and with products that underflow."""
    if x.size == 0:
        return np.zeros_like(x)
    rest = [a for a in range(x.ndim) if a not in axes]
    order = rest + list(axes)
    moved = np.transpose(x, order)
    lead = moved.shape[: len(rest)]
    flat = moved.reshape(lead + (-1,))
    ones = np.ones(lead + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((before * after).reshape(moved.shape), np.argsort(order))


def _prod_of_others(x, axes, in_shape):
    """prod_{j != i} x_j for every i of each slice, differentiable everywhere (also with zeros).

    Row i of an n x n stack holds the slice with x_i replaced by 1; its product is the
    partial. O(n^2) per slice, so only used when recording a graph (create_graph=True).
    """
    rest = [a for a in range(len(in_shape)) if a not in axes]
    order = rest + list(axes)
    lead = tuple(in_shape[a] for a in rest)
    n = int(np.prod([in_shape[a] for a in axes]))
    rows = permute(x, tuple(order)).reshape(lead + (1, n))
    stacked = where(np.eye(n, dtype=bool), 1.0, rows)
    others = prod(stacked, dim=-1).reshape(lead + tuple(in_shape[a] for a in axes))
    return permute(others, tuple(np.argsort(order)))


class Extremum(Primitive):
    """y = max (or min) of x over axes.   dy/dx_i = 1/k for the k entries equal to y, else 0.

    NOTE: where the extremum is NaN, PyTorch's amax/amin give the whole slice a NaN gradient
    (no entry equals NaN: 0/0), while its max()/min() over all entries split the gradient among
    the NaN entries; `nan_takes=True` is the latter.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, largest=True, nan_takes=False):
        axes = _setup(ctx, x, axis, keepdims, "amax" if largest else "amin")
        ctx.nan_takes = nan_takes
        if np.size(x) == 0 and 0 in [np.shape(x)[a] for a in axes or range(np.ndim(x))]:
            raise RuntimeError(
                f"{'amax' if largest else 'amin'}: cannot reduce an empty tensor of shape {np.shape(x)} "
                "(there is no identity for max/min); check the input's size first."
            )
        reduce = np.max if largest else np.min
        out = reduce(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        out_b = out if ctx.keepdims else out.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        share = functools.partial(_share_of_extremum, axes=ctx.axes, nan_takes=ctx.nan_takes)
        return _expand_back(ctx, g) * _plain(share, x, out_b)

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(Extremum, ctx, t)


def _share_of_extremum(x, out, axes, nan_takes):
    """Each entry's share of max/min's gradient: ties split evenly; at a NaN extremum the NaN
    entries share it (nan_takes) or the slice gets NaN."""
    hit = (x == out) | (np.isnan(x) & np.isnan(out)) if nan_takes else x == out
    with np.errstate(invalid="ignore"):
        return (hit / hit.sum(axis=axes, keepdims=True)).astype(x.dtype)


class LogSumExp(Primitive):
    """y = ln sum exp(x) over axes.   dy/dx_i = exp(x_i - y) = softmax(x)_i.

    NOTE: the max is subtracted first so exp cannot overflow; an all -inf slice gives
    y = -inf and gradient 0 (not NaN), as pytorch/pytorch#31829 asks.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _setup(ctx, x, axis, keepdims, "logsumexp")
        if np.size(x) == 0:
            out = np.full(
                _kept_shape(np.shape(x), axes)
                if keepdims
                else tuple(n for i, n in enumerate(np.shape(x)) if i not in axes),
                -np.inf,
                dtype=np.result_type(x),
            )
            ctx.save_for_backward(x, out)
            return out
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        if not keepdims:
            out = out.reshape(tuple(n for i, n in enumerate(np.shape(x)) if i not in axes))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        out_b = out if ctx.keepdims else out.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        empty = _plain(np.isneginf, out_b)
        if is_tensor(empty) or empty.any():  # a recorded backward keeps both branches
            out_b = where(empty, 0.0, out_b)
            weights = where(broadcast_to(empty, ctx.in_shape), 0.0, exp(x - out_b))
        else:
            weights = exp(x - out_b)
        return _expand_back(ctx, g) * weights

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(LogSumExp, ctx, t)


class Var(Primitive):
    """y = sum (x - m)^2 / (N - c) over axes, with m the mean and c the correction.
    dy/dx_i = 2 (x_i - m) / (N - c): m's own share, -2/N sum (x_j - m), is 0 and drops out.

    NOTE: with N - c <= 0 there are no degrees of freedom and 1 / (N - c) is taken as inf,
    as PyTorch: y = inf (nan for a constant slice) and dy/dx = +-inf by the sign of x - m.
    Written as a composite, the mean's exact 0 would come back through the inf as NaN.
    """

    @staticmethod
    def forward(ctx, x, correction=1, axis=None, keepdims=False):
        axes = _setup(ctx, x, axis, keepdims, "var")
        count = _count(np.shape(x), axes)
        ctx.scale = 1.0 / (count - correction) if count > correction else np.inf
        with np.errstate(invalid="ignore", divide="ignore"):
            centered = x - np.sum(x, axis=axes, keepdims=True) * (1.0 / count if count else np.nan)
            out = np.sum(centered * centered, axis=axes, keepdims=keepdims) * ctx.scale
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return _expand_back(ctx, g) * ((x - mean(x, dim=ctx.axes, keepdim=True)) * (2.0 * ctx.scale))

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(Var, ctx, t)


class SafeSqrt(UnaryElementwise):
    """y = sqrt(s) for s >= 0.   dy/ds = 1 / (2y), taken as 0 where s = 0.

    NOTE: the subgradient 0 at s = 0 is PyTorch's choice for the std of a constant slice;
    the chain rule would otherwise give inf * 0 = NaN there.
    """

    @staticmethod
    def forward(ctx, s):
        y = np.sqrt(s)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        zero = y == 0
        if is_tensor(zero) or zero.any():  # a recorded backward keeps both branches
            return where(zero, 0.0, g / (where(zero, 1.0, y) * 2))
        return g / (y * 2)


class NormP(Primitive):
    """y = (sum |x|^p)^(1/p) over axes, p > 0.   dy/dx = sign(x) |x|^(p-1) y^(1-p).

    NOTE: |x|^(p-1) is taken as 0 at x = 0 and the whole gradient as 0 where y = 0, as in
    PyTorch (the formula would give 0 * inf for p < 1, and 0/0 at the zero vector).
    """

    @staticmethod
    def forward(ctx, x, p=3.0, axis=None, keepdims=False):
        axes = _setup(ctx, x, axis, keepdims, "norm")
        ctx.p = p
        out = np.power(np.sum(np.abs(x) ** p, axis=axes, keepdims=keepdims), 1.0 / p)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import abs as _abs

        x, out = ctx.saved_tensors
        p = ctx.p
        out_b = out if ctx.keepdims else out.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        x_zero, out_zero = x == 0, out_b == 0
        ax = _abs(x)
        # A recorded backward (Tensor masks) keeps both branches.
        power = (
            where(x_zero, 0.0, where(x_zero, 1.0, ax) ** (p - 1))
            if is_tensor(x_zero) or x_zero.any()
            else ax ** (p - 1)
        )
        scale = (
            where(out_zero, 0.0, where(out_zero, 1.0, out_b) ** (1 - p))
            if is_tensor(out_zero) or out_zero.any()
            else out_b ** (1 - p)
        )
        return _expand_back(ctx, g) * (sign(x) * power * scale)

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(NormP, ctx, t)


class Norm2(Primitive):
    """y = sqrt(sum x^2) over axes.   dy/dx = x / y, with subgradient 0 where y = 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        axes = _setup(ctx, x, axis, keepdims, "norm")
        out = np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        out_b = out if ctx.keepdims else out.reshape(_kept_shape(ctx.in_shape, ctx.axes))
        zero = out_b == 0
        if is_tensor(zero) or zero.any():  # a recorded backward keeps both branches
            out_b = where(zero, 1.0, out_b)
        return _expand_back(ctx, g) * (x / out_b)

    @staticmethod
    def jvp(ctx, t):
        return _jvp_from_partials(Norm2, ctx, t)


# ----- public functions -----

_HALF = np.dtype(np.float16)


def accumulate_half_in_float32(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Run a reduction on a float16 input in float32 and return float16, as PyTorch accumulates.

    NumPy would add float16 numbers in float16: the sum of 60000 and 60000 overflows to inf
    before a mean divides it, and long sums lose digits. The casts are recorded ops, so
    gradients flow back in float16. (bfloat16: NumPy has no such dtype.)
    """

    @functools.wraps(fn)
    def reduction(x, *args, **kwargs):
        data = getattr(x, "_data", x)
        if getattr(data, "dtype", None) == _HALF and kwargs.get("dtype") is None:
            from .elementwise import cast

            return cast(fn(cast(x, np.float32), *args, **kwargs), _HALF)
        return fn(x, *args, **kwargs)

    return reduction


@export("Sum", method=True, torch_kwargs="out")
def sum(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
    dtype: DTypeLike | None = None,
) -> Tensor:
    """Sum over `dim` (all by default); float16 accumulates in float32, as in PyTorch.

    Example:
        >>> chainrule.tensor([[1., 2.], [3., 4.]]).sum(dim=0)
        tensor([4., 6.])
    """
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "sum")
    if dtype is not None:
        need_tensor("sum", x)
        from .elementwise import cast

        x = cast(x, dtype)
        if np.dtype(dtype).kind in "biu":
            # accumulated in the dtype asked for, wrapping around as torch's sum(dtype=int8) does
            return Sum.apply(x, axis=dim, keepdims=keepdim, dtype=np.dtype(dtype))
    in_dtype = np.asarray(as_array(x)).dtype
    if in_dtype == np.bool_:
        x = _plain(lambda a: np.asarray(a).astype(np.int64), x)
    elif in_dtype is _HALF:  # (written out, not the decorator: sum is on hot paths)
        from .elementwise import cast

        return cast(Sum.apply(cast(x, np.float32), axis=dim, keepdims=keepdim), _HALF)
    return Sum.apply(x, axis=dim, keepdims=keepdim)


def _refuse_non_float(op, dtype, takes_dtype=False):
    """Refuse an input of a non-float `dtype` (None: unknown, let through), as torch refuses it; the
    fix named is .float(), and the op's dtype= argument when `takes_dtype`."""
    if dtype is not None and dtype.kind not in "fc":
        raise RuntimeError(
            f"{op}: the input has dtype {dtype}, but {op} needs a floating point tensor; convert with .float()"
            + (", or pass dtype=chainrule.float32." if takes_dtype else ".")
        )


def _floating_input(op, x, dtype=None, takes_dtype=False):
    """x's array, after refusing a non-tensor or (without a dtype to reduce in) a non-float input."""
    need_tensor(op, x)
    arr = as_array(x)
    if dtype is None:
        _refuse_non_float(op, np.asarray(arr).dtype, takes_dtype)
    return arr


@export("Sum", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def mean(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
    dtype: DTypeLike | None = None,
) -> Tensor:
    """Arithmetic mean over `dim` (all by default): sum / count."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "mean")
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise RuntimeError(f"mean(): dtype must be a floating point dtype, got {np.dtype(dtype)}")
    arr = _floating_input("mean", x, dtype, takes_dtype=True)
    axes = normalize_axes(dim, np.ndim(arr), "mean")
    count = _count(np.shape(arr), axes)
    return sum(x, dim=axes, keepdim=keepdim, dtype=dtype) * (1.0 / count if count else np.nan)


@export("Prod", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def prod(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Product over `dim` (all by default); the gradient is exact even with zeros."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "prod")
    return Prod.apply(x, axis=dim, keepdims=keepdim)


@export("Extremum", method=True, torch_kwargs="out")
def amax(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Largest value over `dim`; ties share the gradient evenly."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "amax")
    return Extremum.apply(x, axis=dim, keepdims=keepdim, largest=True)


@export("Extremum", method=True, torch_kwargs="out")
def amin(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Smallest value over `dim`; ties share the gradient evenly."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "amin")
    return Extremum.apply(x, axis=dim, keepdims=keepdim, largest=False)


ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


def _extremum_with_indices(x, dim, keepdim, largest):
    from .shape import gather

    if np.ndim(as_array(x)) == 0:  # a 0-d tensor along dim 0 or -1: itself, index 0 (PyTorch)
        normalize_axes(dim, 0, "max" if largest else "min")
        zero = _plain(lambda a: np.zeros((), np.int64), x)
        return ValuesIndices(x * 1 if is_tensor(x) else x, zero)

    find = argmax if largest else argmin
    indices = find(x, dim=dim, keepdim=True)
    values = gather(x, dim, indices)
    if not keepdim:
        values = values.squeeze(dim) if is_tensor(values) else np.squeeze(values, dim)
        indices = indices.squeeze(dim) if is_tensor(indices) else np.squeeze(indices, dim)
    return ValuesIndices(values, indices)


@export("Getitem", method=True)
def topk(x: TensorLike, k: int, dim: Dim = -1, largest: bool = True, sorted: bool = True) -> tuple[Tensor, Tensor]:
    """As torch.topk: the k largest (or smallest) entries along ``dim`` and their indices.

    Returns (values, indices) with values = gather(x, dim, indices), so the gradient flows to
    the chosen entries only. Ties keep the lower index first; NaN counts as the largest value,
    as in PyTorch. The result is always sorted (``sorted=False`` is allowed and gives the same).

    Example:
        >>> chainrule.tensor([1.0, 5.0, 3.0]).topk(2)    # values [5., 3.], indices [1, 2]
    """
    need_tensor("topk", x)
    from .shape import gather, reshape

    array = np.asarray(as_array(x))
    if array.ndim == 0:  # a 0-d tensor is its own single entry
        values, indices = topk(reshape(x, (1,)), k, 0, largest, sorted)
        return ValuesIndices(reshape(values, ()), reshape(indices, ()))
    axis = normalize_axes(dim, array.ndim, "topk")[0]
    size = array.shape[axis]
    if not 0 <= k <= size:
        raise RuntimeError(
            f"topk: k={k} is out of range for dim {dim} of size {size} (shape {array.shape}); choose 0 <= k <= {size}"
        )
    indices = _plain(lambda a: _topk_indices(a, k, axis, largest), x)
    return ValuesIndices(gather(x, axis, indices), indices)


def _topk_indices(array, k, axis, largest):
    keys = array.astype(np.int64) if array.dtype == np.bool_ else array
    if largest:
        # A stable ascending sort of -x keeps ties in index order; NaN (largest in PyTorch) goes first.
        keys = np.where(np.isnan(keys), -np.inf, -keys) if keys.dtype.kind == "f" else -keys.astype(np.int64)
    return np.take(np.argsort(keys, axis=axis, kind="stable"), np.arange(k), axis=axis)


@export("Extremum", method=True)
def max(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """As torch.max: the largest value, or (values, indices) along `dim`, or maximum(x, other).

    Along a dim, the gradient goes to the index returned (PyTorch's rule); over the
    whole tensor it is split evenly among ties (as amax).
    """
    if is_tensor(dim) or isinstance(dim, np.ndarray):
        from .elementwise import maximum

        return maximum(x, dim)
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "max")
    if dim is None:
        _check_whole_nonempty("max", x)
        return Extremum.apply(x, largest=True, nan_takes=True)
    _check_nonempty("max", x, dim)
    return _extremum_with_indices(x, dim, keepdim, largest=True)


@export("Extremum", method=True)
def min(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """As torch.min: the smallest value, or (values, indices) along `dim`, or minimum(x, other)."""
    if is_tensor(dim) or isinstance(dim, np.ndarray):
        from .elementwise import minimum

        return minimum(x, dim)
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "min")
    if dim is None:
        _check_whole_nonempty("min", x)
        return Extremum.apply(x, largest=False, nan_takes=True)
    _check_nonempty("min", x, dim)
    return _extremum_with_indices(x, dim, keepdim, largest=False)


@export("LogSumExp", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def logsumexp(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """ln sum exp(x) over `dim`, computed stably (finite at inputs of +-1000)."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "logsumexp")
    if np.asarray(as_array(x)).dtype.kind in "biu":
        from .elementwise import cast

        x = cast(x, _dtypes.get_default_dtype())  # torch's result for integers: the default dtype, not float64
    return LogSumExp.apply(x, axis=dim, keepdims=keepdim)


@export("Var", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def var(
    x: TensorLike,
    dim: Dim | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Dim | None = None,
    keepdims: bool | None = None,
    _op: str = "var",
) -> Tensor:
    """Variance over `dim`: sum (x - mean)^2 / (N - correction); correction=1 by default (PyTorch)."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, _op)
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalize_axes(dim, np.ndim(_floating_input(_op, x)), _op)
    return Var.apply(x, correction=correction, axis=axes, keepdims=keepdim)


@export("Var", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def std(
    x: TensorLike,
    dim: Dim | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Standard deviation: sqrt(var(x)); its gradient for a constant slice is 0, as in PyTorch."""
    variance = var(x, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims, _op="std")
    return SafeSqrt.apply(variance)


@export("Norm2", method=True, torch_kwargs="out")
@accumulate_half_in_float32
def norm(
    x: TensorLike,
    p: float | str | None = "fro",
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Vector p-norm over `dim` (all entries by default): p = 2 ('fro'), 1, inf, -inf, 0 (count of nonzeros)
    or any p > 0.

    The subgradient at the zero vector is 0, as in PyTorch.
    """
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "norm")
    dtype = np.asarray(as_array(x)).dtype
    if dtype.kind in "biu":
        # x * x of an int64 tensor wraps past 3.04e9 (sqrt of a negative: nan); torch refuses integers too
        raise RuntimeError(
            f"norm: expected a floating point or complex tensor, got {dtype} (shape {np.shape(as_array(x))}), as "
            "in torch; convert it first, e.g. x.double().norm()"
        )
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, axis=dim, keepdims=keepdim)
    from .elementwise import abs as _abs

    if p in (np.inf, "inf"):
        return amax(_abs(x), dim=dim, keepdim=keepdim)
    if p in (-np.inf, "-inf"):
        return amin(_abs(x), dim=dim, keepdim=keepdim)
    if p == 1:
        return sum(_abs(x), dim=dim, keepdim=keepdim)
    if p == 0:  # the count of nonzero entries; its gradient is 0 (sign'(|x|) = 0), as in PyTorch
        return sum(sign(_abs(x)), dim=dim, keepdim=keepdim)
    if not isinstance(p, (int, float)) or p < 0:
        raise ValueError(f"norm: p must be 'fro', inf, -inf or a number >= 0, got {p!r}")
    return NormP.apply(x, p=float(p), axis=dim, keepdims=keepdim)


def _numpy_axis(op, x, dim):
    """dim checked and made NumPy's axis for the ops computed by NumPy directly (argmax, all, ...): out of range is
    torch's IndexError naming `op` (not NumPy's AxisError); a 0-d tensor reduces over dim 0 or -1 as over all."""
    if dim is None or dim == ():
        return dim
    ndim = np.ndim(as_array(x))
    axes = normalize_axes(dim, ndim, op)
    if ndim == 0:
        return None
    return axes[0] if isinstance(dim, (int, np.integer)) else axes


def _check_whole_nonempty(op, x):
    """max()/min() over every entry of an empty tensor: PyTorch's RuntimeError, naming the function called
    (Extremum's own message names amax/amin)."""
    if np.size(as_array(x)) == 0:
        raise RuntimeError(
            f"{op}(): Expected reduction dim to be specified for input.numel() == 0: the input of shape "
            f"{np.shape(as_array(x))} is empty; specify the reduction dim with the 'dim' argument, or check the size "
            "first."
        )


def _check_nonempty(op, x, dim):
    """argmax/argmin and max/min with indices have no answer over an empty slice: PyTorch's IndexError."""
    shape = np.shape(as_array(x))
    if dim is None:
        if 0 in shape:
            raise IndexError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0: the input of "
                f"shape {shape} is empty; pass dim= for a dim of non-zero size, or check the size first."
            )
    elif shape and shape[normalize_axes(dim, len(shape), op)[0]] == 0:
        raise IndexError(
            f"{op}(): Expected reduction dim {dim} to have non-zero size: the input has shape {shape}; "
            "reduce over another dim, or check the size first."
        )


@export(differentiable=False, method=True, torch_kwargs="out")
def argmax(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the largest value (over the flattened tensor when dim is None). No gradient."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "argmax")
    _check_nonempty("argmax", x, dim)
    dim = _numpy_axis("argmax", x, dim)
    return _plain(lambda a: np.argmax(a, axis=dim, keepdims=keepdim).astype(np.int64), x)


@export(differentiable=False, method=True, torch_kwargs="out")
def argmin(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Index of the smallest value. No gradient."""
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "argmin")
    _check_nonempty("argmin", x, dim)
    dim = _numpy_axis("argmin", x, dim)
    return _plain(lambda a: np.argmin(a, axis=dim, keepdims=keepdim).astype(np.int64), x)


@export(differentiable=False, method=True, torch_kwargs="out")
def all(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "all")
    dim = _numpy_axis("all", x, dim)
    return _plain(lambda a: np.all(a, axis=dim, keepdims=keepdim), x)


@export(differentiable=False, method=True, torch_kwargs="out")
def any(
    x: TensorLike,
    dim: Dim | None = None,
    keepdim: bool = False,
    *,
    axis: Dim | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    dim, keepdim = pick_axis(dim, axis, keepdim, keepdims, "any")
    dim = _numpy_axis("any", x, dim)
    return _plain(lambda a: np.any(a, axis=dim, keepdims=keepdim), x)
