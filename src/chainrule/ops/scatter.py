"""Indexed reads and writes along one dim: index_select, index_put, index_add, masked_fill,
scatter, scatter_add, gather (and their in-place forms), built on the indexing primitives."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import export
from ._util import as_array, is_tensor, normalize_axes

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike


def _index_tensors(indices, op):
    """index_put's `indices`: a tuple or list of integer or boolean tensors, one per leading dimension."""
    if is_tensor(indices) or not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}: indices must be a tuple of tensors, got {type(indices).__name__}")
    out = []
    for i, t in enumerate(indices):
        if not (is_tensor(t) or isinstance(t, np.ndarray)):
            raise TypeError(f"{op}: expected Tensor as element {i} in indices, but got {type(t).__name__}")
        a = as_array(t)
        if a.dtype not in _INDEX_DTYPES:
            raise IndexError(f"{op}: tensors used as indices must be long, int, byte or bool tensors, got {a.dtype}")
        out.append(a)
    return tuple(out)


@export(method=True)
def index_put(
    input: TensorLike, indices: tuple[TensorLike | None, ...], values: TensorLike, accumulate: bool = False
) -> Tensor:
    """A copy of input with input[indices] = values (torch.index_put); with accumulate=True the
    values are added, and repeated indices add up. `indices` is a tuple of integer or boolean
    tensors, one per leading dimension; values must have input's dtype and broadcast to the
    indexed shape. Differentiable in input and values.

    Example:
        >>> x = chainrule.zeros(3)
        >>> chainrule.index_put(x, (chainrule.tensor([0, 0, 2]),), chainrule.tensor(1.0), accumulate=True)
        tensor([2., 0., 1.])
    """
    op = "index_put"
    advanced = _index_tensors(indices, op)
    shape = np.shape(as_array(input))
    if builtins.sum(a.ndim if a.dtype.kind == "b" or a.dtype == np.uint8 else 1 for a in advanced) > len(shape):
        raise IndexError(f"{op}: too many indices for tensor of dimension {len(shape)} (got {len(advanced)})")
    if not is_tensor(values):
        raise TypeError(f"{op}: values must be a Tensor, not {type(values).__name__}")
    target = _index_shape(shape, (), advanced, op)
    values = _setitem_value(as_array(input).dtype, target, values, advanced, op)
    return IndexPut.apply(input, values, basic=(), index=advanced, accumulate=bool(accumulate))


@export(method=True, namespaces=())
def index_put_(
    input: TensorLike, indices: tuple[TensorLike | None, ...], values: TensorLike, accumulate: bool = False
) -> Tensor:
    """In place: input[indices] = values (or += with accumulate=True); see index_put."""
    return input._rebase(index_put(input, indices, values, accumulate), "index_put_")


def _dim(dim, ndim, op):
    return normalize_axes(dim, ndim, op)[0] if ndim else 0


def _int_index(index, op, dtypes="int32 or int64"):
    a = as_array(index)
    if not isinstance(a, np.ndarray) or a.dtype not in (np.int64, np.int32):
        got = a.dtype if isinstance(a, np.ndarray) else type(index).__name__
        raise RuntimeError(f"{op}: Expected dtype {dtypes} for index, got {got}; convert it with .long()")
    return a


def _check_bounds(a, size, dim, op, error=RuntimeError):
    """PyTorch's index_select/scatter/gather/index_add take indices in [0, size): no negative ones."""
    if a.size and (a.min() < 0 or a.max() >= size):
        bad = a.min() if a.min() < 0 else a.max()
        raise error(
            f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}"
            + (" (negative indices are not accepted here, as in PyTorch)" if bad < 0 else "")
        )


@export(method=True)
def index_select(input: TensorLike, dim: int, index: TensorLike) -> Tensor:
    """The entries of input at positions `index` (a 1-D integer tensor) along `dim` (torch.index_select).

    y = input[..., index, ...];  dy/dinput: g added back at those positions (repeats add up).

    Example:
        >>> chainrule.index_select(chainrule.arange(6.0).reshape(2, 3), 1, chainrule.tensor([2, 0]))
        tensor([[2., 0.], [5., 3.]])
    """
    op = "index_select"
    a = _int_index(index, op)
    if a.ndim > 1:
        raise IndexError(f"{op}: Index is supposed to be a vector, got shape {a.shape}")
    shape = np.shape(as_array(input))
    d = _dim(dim, len(shape), op)
    _check_bounds(a, shape[d] if shape else 1, d, op)
    if not shape:
        if a.size != 1:
            raise RuntimeError(f"{op}(): Index to scalar can have only 1 value, got {a.size} value(s)")
        return reshape(Getitem.apply(reshape(input, (1,)), basic=(), index=(a.reshape(1),)), ())
    return Getitem.apply(input, basic=(), index=(_ALL,) * d + (a.reshape(-1) if a.ndim == 0 else a,))


def _fill_value(input, value, op):
    """masked_fill's value: a number, or a 0-d tensor (differentiable), in input's dtype."""
    dtype = np.asarray(as_array(input)).dtype
    if is_tensor(value):
        if value.ndim != 0:
            raise RuntimeError(
                f"{op} only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
            )
        if value._data.dtype != dtype:
            from .elementwise import cast

            return cast(value, dtype)
        return value
    return _check_scalar_fits(value, dtype, op)


@export(method=True)
def masked_fill(input: TensorLike, mask: TensorLike, value: TensorLike) -> Tensor:
    """input with `value` where mask is True (torch.masked_fill); mask is a bool tensor that
    broadcasts with input, value a number or a 0-d tensor (it gets the sum of g over the mask).

    Example:
        >>> chainrule.masked_fill(chainrule.zeros(3), chainrule.tensor([True, False, True]), 5.0)
        tensor([5., 0., 5.])
    """
    m = as_array(mask)
    if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
        got = m.dtype if isinstance(m, np.ndarray) else type(mask).__name__
        raise RuntimeError(
            f"masked_fill: only supports boolean masks, but got mask with dtype {got}; "
            "use mask.bool() or a comparison such as x > 0"
        )
    from .elementwise import where

    return where(m, _fill_value(input, value, "masked_fill"), input)


@export(method=True, namespaces=())
def masked_fill_(input: TensorLike, mask: TensorLike, value: TensorLike) -> Tensor:
    """In place: input[mask] = value, the mask broadcasting to input's shape; see masked_fill."""
    return input._rebase(masked_fill(input, mask, value), "masked_fill_")


def _scatter_parts(input, dim, index, src, op):
    """The checks PyTorch makes for scatter/scatter_add/gather, and the index as one array per dimension."""
    a = _int_index(index, op, "int64")
    shape = np.shape(as_array(input))
    ndim = builtins.max(len(shape), 1)
    if builtins.max(a.ndim, 1) != ndim:
        raise RuntimeError(
            f"{op}: Index tensor must have the same number of dimensions as self tensor "
            f"(index {a.shape}, self {tuple(shape)})"
        )
    d = _dim(dim, len(shape), op)
    full = shape if shape else (1,)
    a1 = a.reshape(-1) if a.ndim == 0 else a
    src_shape = None
    if src is not None:
        src_shape = np.shape(as_array(src)) or (1,)
        if len(src_shape) != ndim:
            raise RuntimeError(
                f"{op}: Index tensor must have the same number of dimensions as src tensor "
                f"(index {a.shape}, src {np.shape(as_array(src))})"
            )
    if builtins.any(n > full[i] for i, n in enumerate(a1.shape) if i != d) or (
        src_shape is not None and builtins.any(n > m for n, m in zip(a1.shape, src_shape))
    ):
        raise RuntimeError(
            f"{op}: Expected index {list(a.shape)} to be no larger than self {list(shape)} apart from dimension "
            f"{d}" + (f" and to be no larger size than src {list(np.shape(as_array(src)))}" if src is not None else "")
        )
    _check_bounds(a1, full[d], d, op)
    grids = list(np.indices(a1.shape, sparse=True))
    grids[d] = a1
    return tuple(grids), a1.shape, d


def _as_1d(x):
    return reshape(x, (1,)) if np.ndim(as_array(x)) == 0 else x


def _scatter(input, dim, index, src, value, reduce, accumulate, op):
    if src is not None and not is_tensor(src) and not isinstance(src, np.ndarray):
        src, value = None, src  # scatter(input, dim, index, 2.5): the value form
    if (src is None) == (value is None):
        raise TypeError(f"{op}: pass either src (a tensor) or value (a number)")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"{op}: reduce argument must be either add or multiply, got {reduce!r}.")
    x = as_array(input)
    grids, ishape, _ = _scatter_parts(input, dim, index, src, op)
    if src is not None:
        if as_array(src).dtype != x.dtype:
            raise RuntimeError(
                f"{op}(): Expected self.dtype to be equal to src.dtype (self {x.dtype}, src "
                f"{as_array(src).dtype}); convert src with .to({x.dtype})"
            )
        part = _as_1d(src)
        if np.shape(as_array(part)) != ishape:  # only the index's corner of src is used
            part = Getitem.apply(part, basic=tuple(slice(0, n) for n in ishape))
    else:
        part = _check_scalar_fits(value, x.dtype, op)
    target = _as_1d(input)
    if reduce == "multiply":
        if builtins.any(is_tensor(t) and t.requires_grad for t in (input, src)) and _grad_enabled():
            raise RuntimeError(
                f"{op}: reduce='multiply' has no derivative (as in PyTorch); compute it "
                "under chainrule.no_grad() or build it from gather and prod"
            )
        out = np.array(as_array(target), copy=True)
        np.multiply.at(out, grids, as_array(part))
        result = _wrap_like(input, out)
    else:
        result = IndexPut.apply(target, part, basic=(), index=grids, accumulate=accumulate or reduce == "add")
    return reshape(result, ()) if x.ndim == 0 else result


def _grad_enabled():
    from ..autograd import grad_mode

    return grad_mode.is_grad_enabled()


def _wrap_like(x, array):
    if is_tensor(x):
        return type(x)._make(array)
    return array


@export(method=True)
def scatter(
    input: TensorLike,
    dim: int,
    index: TensorLike,
    src: TensorLike | None = None,
    value: TensorLike | None = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """A copy of input with values written at `index` along `dim` (torch.scatter): for dim=1,
    `out[i][index[i][j]] = src[i][j]` (or = value). With repeated targets the last write wins.
    reduce='add' adds instead (as scatter_add), 'multiply' multiplies (no gradient, as in PyTorch).

    dout/dinput: g with zeros at the written positions;  dout/dsrc: g gathered at `index`.

    Example:
        >>> chainrule.zeros(2, 3).scatter(1, chainrule.tensor([[2], [0]]), 1.0)
        tensor([[0., 0., 1.], [1., 0., 0.]])
    """
    return _scatter(input, dim, index, src, value, reduce, False, "scatter")


@export(method=True, namespaces=())
def scatter_(
    input: TensorLike,
    dim: int,
    index: TensorLike,
    src: TensorLike | None = None,
    value: TensorLike | None = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """In place: see scatter."""
    return input._rebase(scatter(input, dim, index, src, value, reduce=reduce), "scatter_")


@export(method=True)
def scatter_add(input: TensorLike, dim: int, index: TensorLike, src: TensorLike) -> Tensor:
    """A copy of input with src added at `index` along `dim` (torch.scatter_add): for dim=1,
    `out[i][index[i][j]] += src[i][j]`, repeated targets adding up.

    dout/dinput: g;  dout/dsrc: g gathered at `index`.
    """
    if not (is_tensor(src) or isinstance(src, np.ndarray)):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    return _scatter(input, dim, index, src, None, None, True, "scatter_add")


@export(method=True, namespaces=())
def scatter_add_(input: TensorLike, dim: int, index: TensorLike, src: TensorLike) -> Tensor:
    """In place: see scatter_add."""
    return input._rebase(scatter_add(input, dim, index, src), "scatter_add_")


@export(method=True)
def index_add(input: TensorLike, dim: int, index: TensorLike, source: TensorLike, *, alpha: float = 1) -> Tensor:
    """A copy of input with alpha * source added at positions `index` along `dim` (torch.index_add);
    repeated indices add up.   dout/dinput: g;  dout/dsource: alpha * g at those positions.

    Example:
        >>> chainrule.zeros(3).index_add(0, chainrule.tensor([0, 0]), chainrule.tensor([1.0, 2.0]))
        tensor([3., 0., 0.])
    """
    op = "index_add_"
    a = _int_index(index, op)
    if a.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {a.shape}")
    x, s = as_array(input), as_array(source)
    shape, sshape = np.shape(x), np.shape(s)
    d = _dim(dim, len(shape), op)
    if np.asarray(s).dtype != np.asarray(x).dtype:
        raise RuntimeError(
            f"{op}(): self ({np.asarray(x).dtype}) and source ({np.asarray(s).dtype}) must have the same scalar type"
        )
    full, sfull = shape or (1,), sshape or (1,)
    if len(sfull) != len(full):
        raise RuntimeError(
            f"{op}(): Indexing dim {d} is out of bounds of the source tensor with dim "
            f"{len(sshape)} (source shape {tuple(sshape)}, self shape {tuple(shape)})"
        )
    if sfull[d] != a.size:
        raise RuntimeError(
            f"{op}(): Number of indices ({a.size}) should be equal to source.size(dim): ({sfull[d]}), for dim: {d}"
        )
    if builtins.any(m != n for i, (m, n) in enumerate(zip(full, sfull)) if i != d):
        raise RuntimeError(
            f"{op}: source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(shape)} source.shape = {list(sshape)}"
        )
    _check_bounds(a, full[d], d, op, IndexError if len(shape) <= 1 else RuntimeError)
    if np.asarray(x).dtype.kind in "iu" and isinstance(alpha, (float, np.floating)):
        alpha = int(alpha)  # torch converts alpha to the integer dtype first (toward zero): alpha=2.5 adds 2 x source
    if alpha != 1:
        source = source * alpha
    out = IndexPut.apply(
        _as_1d(input), _as_1d(source), basic=(), index=(_ALL,) * d + (a if a.ndim else a.reshape(1),), accumulate=True
    )
    return reshape(out, ()) if not shape else out


@export(method=True, namespaces=())
def index_add_(input: TensorLike, dim: int, index: TensorLike, source: TensorLike, *, alpha: float = 1) -> Tensor:
    """In place: see index_add."""
    return input._rebase(index_add(input, dim, index, source, alpha=alpha), "index_add_")


@export(method=True)
def gather(input: TensorLike, dim: int, index: TensorLike) -> Tensor:
    """`out[i][j] = input[index[i][j]][j]` for dim=0 (torch.gather), built on getitem.

    As in PyTorch, index has input's number of dimensions, is no larger than input apart from
    `dim`, and holds indices in [0, size) (no negative ones).
    """
    grids, _, _ = _scatter_parts(input, dim, index, None, "gather")
    out = Getitem.apply(_as_1d(input), basic=(), index=grids)
    return reshape(out, ()) if np.ndim(as_array(input)) == 0 else out


def take_along_dim(x: TensorLike, indices: TensorLike, dim: int | None) -> Tensor:
    return gather(x, dim, indices)


from .indexing import _ALL, _INDEX_DTYPES, Getitem, IndexPut, _check_scalar_fits, _index_shape, _setitem_value  # noqa: E402  (the shape modules use each other)
from .views import reshape  # noqa: E402  (the shape modules use each other)
