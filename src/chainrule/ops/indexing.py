"""Indexing: x[index] (getitem, PyTorch's rules for ints, slices, None, Ellipsis, bool and integer
tensors), its transpose (scatter-add), assignment x[index] = v (copy_slices, index_put) and the
normalization of an index into basic and advanced parts.

NOTE: over 500 lines: PyTorch's indexing rules (normalization, bounds and dtype checks, empty
selections, assignment) are one piece; split, each half would need the other's internals."""

from __future__ import annotations

import builtins
import operator
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive
from ..autograd.views import make_view
from ._util import as_array, is_tensor, unbroadcast

if TYPE_CHECKING:
    from typing import Any

    from .._typing import Tensor, TensorLike

# ----- indexing -----
#
# A PyTorch index is applied in two steps, and every indexing primitive takes it in that form:
# `index` (basic: ints, slices, None) gives a view of x, `advanced` (None, or a tuple of full
# slices and index arrays, one entry per dimension of that view) then selects from the view
# with NumPy's rules for index arrays. `normalize_index` turns a user's index into the pair.

_ALL = slice(None)


def _concrete(index):
    """The basic part with 0-d index arrays (from 0-d integer tensors) as ints, so it gives a view."""
    return tuple(int(i) if type(i) is np.ndarray else i for i in index)


def _prepared(advanced, expand_masks=False):
    """The advanced part as NumPy takes it: byte masks as bool; masks as their nonzero() arrays for ufunc.at."""
    out = []
    for a in advanced:
        if type(a) is np.ndarray and (a.dtype == np.bool_ or a.dtype == np.uint8):
            mask = a.astype(bool, copy=False)
            if expand_masks:
                out.extend(np.nonzero(mask))
                continue
            a = mask
        out.append(a)
    return tuple(out)


def _select(x, index, advanced, op="getitem"):
    """x[index][advanced] on arrays, with errors that name the op, the shape and the index."""
    try:
        if advanced is None:
            return x[index]  # a 0-d index array acts as its int here (a copy, not a view: fine for reading)
        view = x[_concrete(index)]
        try:
            return view[_prepared(advanced)]
        except IndexError:
            if _empty_selection(view, advanced):
                # PyTorch checks the bounds only of indices it reads: none when the result is empty.
                return view[tuple(np.zeros_like(a) if _is_int_array(a) else a for a in _prepared(advanced))]
            raise
    except IndexError as err:
        raise _index_error(err, op, np.shape(x), index, advanced) from None


def _is_int_array(a):
    return type(a) is np.ndarray and a.dtype.kind in "iu" and a.dtype != np.uint8


def _empty_selection(view, index):
    """Whether view[index] selects nothing from an empty view (PyTorch then checks no bounds)."""
    return view.size == 0 and _empty_out_of_range_ok(view.shape, index)


def _empty_out_of_range_ok(shape, advanced):
    """False where PyTorch still refuses: a non-empty index into a size-0 dimension, or a mask of the wrong shape."""
    dim = 0
    for a in advanced:
        if _is_int_array(a):
            if dim >= len(shape) or shape[dim] == 0 and a.size:
                return False
            dim += 1
        elif type(a) is np.ndarray:  # a mask
            if tuple(shape[dim : dim + a.ndim]) != a.shape:
                return False
            dim += a.ndim
        else:
            dim += 1
    return True


def _index_error(err, op, shape, index, advanced):
    msg = str(err).replace(" axis ", " dimension ")
    shown = index if advanced is None else (index, advanced)
    return IndexError(f"{op}: {msg} (tensor of shape {tuple(shape)}, index {shown!r})")


class DiagonalScatter(Primitive):
    """y = zeros(shape) with g on the diagonal (offset, dim1, dim2): the transpose of Diagonal.

    dy/dg: the diagonal of y's gradient.
    """

    @staticmethod
    def forward(ctx, g, shape=None, offset=0, dim1=0, dim2=1):
        ctx.diag = dict(offset=offset, dim1=dim1, dim2=dim2)
        out = np.zeros(shape, dtype=np.result_type(g))
        diag = np.diagonal(out, offset, dim1, dim2)
        diag.flags.writeable = True
        diag[...] = g
        return out

    @staticmethod
    def backward(ctx, gg):
        return Diagonal.apply(gg, **ctx.diag)

    @staticmethod
    def jvp(ctx, t):
        return DiagonalScatter.apply(t, shape=ctx.shape, **ctx.diag)


class CopySlices(Primitive):
    """y = base with the elements of one of its views replaced by `value` (PyTorch's CopySlices).

    `pos` holds, for each element of the view, its flat position in base. It is the node an
    in-place op on a view gives the base: dy/dbase = g outside the view, 0 inside;
    dy/dvalue = g at the view's positions (the in-place op's own backward takes it from there).
    """

    @staticmethod
    def forward(ctx, base, value, pos=None):
        ctx.pos = pos
        ctx.base_shape = np.shape(base)
        out = np.array(base, copy=True)
        out.reshape(-1)[pos.reshape(-1)] = np.broadcast_to(value, pos.shape).reshape(-1)
        return out

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        need_base, need_value = ctx.needs_input_grad
        pos = ctx.pos
        if np.unique(pos).size < pos.size:
            from ..autograd.function import format_site

            raise RuntimeError(
                f"CopySlices (created at {format_site(getattr(ctx, 'site', None))}): unsupported operation: "
                "more than one "
                f"element of the written-to view (shape {pos.shape}, an expanded view) refers to a single "
                "memory location, so its gradient is ambiguous. Please .clone() the tensor before the "
                "in-place operation."
            )
        gb = gv = None
        if need_base:
            keep = np.ones(ctx.base_shape, dtype=bool)
            keep.reshape(-1)[pos.reshape(-1)] = False
            gb = where(keep, g, 0.0)
        if need_value:
            gv = getitem(reshape(g, (-1,)), (pos,))
        return gb, gv

    @staticmethod
    def jvp(ctx, tb, tv):
        tb = np.zeros(ctx.base_shape, dtype=ctx.dtype) if tb is None else tb
        tv = np.zeros(ctx.pos.shape, dtype=ctx.dtype) if tv is None else tv
        return CopySlices.apply(tb, tv, pos=ctx.pos)


class Getitem(Primitive):
    """y = x[index] with PyTorch's rules: basic indexing (ints, slices, None) first, then index arrays.

    dy/dx: g scattered back into zeros of x's shape, adding where an index repeats.

    Example:
        >>> x = chainrule.zeros(2, 3, 4)
        >>> x[0, :, [1, 2]].shape            # the int is applied first: (3, 2), as in PyTorch
    """

    basic = ()  # what a subclass that sets only ctx.index (MaxPool: the winners) reads

    @staticmethod
    def forward(ctx, x, basic=(), index=None):
        ctx.basic = basic
        ctx.index = index
        ctx.in_shape = np.shape(x)
        if index is None:
            # Basic indexing only: a view of x, as in PyTorch (0-d index arrays act as their ints, and
            # an all-integer index gives a 0-d view rather than a NumPy scalar, which is a copy).
            basic = _concrete(basic)
            out = _select(x, basic, None)
            if type(out) is not np.ndarray:
                out = x[basic + (Ellipsis,)]
            return out
        return _select(x, basic, index)

    @staticmethod
    def backward(ctx, g):
        return ScatterAdd.apply(g, basic=ctx.basic, index=ctx.index, shape=ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        return Getitem.apply(t, basic=ctx.basic, index=ctx.index)


class ScatterAdd(Primitive):
    """y = zeros(shape) with y[index] += g (the transpose of getitem).   dy/dg: y's gradient at index."""

    @staticmethod
    def forward(ctx, g, basic=(), index=None, shape=None):
        ctx.basic = basic
        ctx.index = index
        out = np.zeros(shape, dtype=np.result_type(g))
        view = out[_concrete(basic) + (Ellipsis,)]  # a view even when every dimension is indexed
        if index is None:
            view[...] = g
        elif not _empty_selection(view, index):
            np.add.at(view, _prepared(index, expand_masks=True), g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Getitem.apply(gg, basic=ctx.basic, index=ctx.index)

    @staticmethod
    def jvp(ctx, t):
        return ScatterAdd.apply(t, basic=ctx.basic, index=ctx.index, shape=ctx.shape)


class IndexPut(Primitive):
    """y = x with y[index] = v (or y[index] += v with accumulate, repeated indices adding up).

    dy/dx: g with zeros at index (g itself with accumulate);  dy/dv: g[index], summed over
    v's broadcast dimensions. Without accumulate a repeated index keeps the last value, and
    each v element still gets g at its position (as in PyTorch).
    """

    @staticmethod
    def forward(ctx, x, v, basic=(), index=None, accumulate=False):
        ctx.basic = basic
        ctx.index = index
        ctx.accumulate = accumulate
        ctx.v_shape = np.shape(v)
        out = np.array(x, copy=True)
        try:
            view = out[_concrete(basic) + (Ellipsis,)]
            if index is None:
                if accumulate:
                    view += v
                else:
                    view[...] = v
            elif _empty_selection(view, index):
                pass
            elif accumulate:
                np.add.at(view, _prepared(index, expand_masks=True), v)
            else:
                view[_prepared(index)] = v
        except IndexError as err:
            raise _index_error(err, "index_put", np.shape(x), basic, index) from None
        return out

    @staticmethod
    def backward(ctx, g):
        need_x, need_v = ctx.needs_input_grad
        gx = gv = None
        if need_x:
            gx = (
                g
                if ctx.accumulate
                else IndexPut.apply(g, np.zeros((), dtype=as_array(g).dtype), basic=ctx.basic, index=ctx.index)
            )
        if need_v:
            gv = unbroadcast(Getitem.apply(g, basic=ctx.basic, index=ctx.index), ctx.v_shape)
        return gx, gv

    @staticmethod
    def jvp(ctx, tx, tv):
        tx = np.zeros(ctx.shape, dtype=ctx.dtype) if tx is None else tx
        tv = np.zeros(ctx.v_shape, dtype=ctx.dtype) if tv is None else tv
        return IndexPut.apply(tx, tv, basic=ctx.basic, index=ctx.index, accumulate=ctx.accumulate)


# ----- index normalization: PyTorch's rules -----

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_))


def _as_items(index):
    """The index as a tuple of items. A short list holding a tensor, a sequence, a slice, None or
    Ellipsis counts as a tuple, as PyTorch still does (with its deprecation warning)."""
    if type(index) is tuple:
        return index
    if (
        type(index) is list
        and len(index) < 32
        and builtins.any(
            is_tensor(i) or isinstance(i, (list, tuple, range, np.ndarray, slice)) or i is None or i is Ellipsis
            for i in index
        )
    ):
        import warnings

        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated (as in PyTorch); "
            "use x[tuple(seq)] instead of x[seq], or x[chainrule.tensor(seq)] for a tensor index.",
            UserWarning,
            stacklevel=4,
        )
        return tuple(index)
    return (index,)


def _slice_part(value, op):
    if value is None:
        return None
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: slice indices must be integers or None, got {type(value).__name__}") from None


def _check_slice(item, op):
    step = _slice_part(item.step, op)
    if step is not None and step <= 0:
        raise ValueError(
            f"{op}: slice step cannot be zero"
            if step == 0
            else f"{op}: step must be greater than zero (got {item!r}); PyTorch has no negative steps: use "
            "chainrule.flip(x, dims) to reverse a dimension."
        )
    start, stop = _slice_part(item.start, op), _slice_part(item.stop, op)
    return slice(start, stop, step)


def _parse(item, op):
    """(kind, value) for one index item; kind: int, slice, none, ellipsis, bool, array, mask."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if type(item) is bool:
        return "bool", item
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if type(item) is slice:
        return "slice", _check_slice(item, op)
    if is_tensor(item):
        a = item._data
        if a.ndim == 0 and a.dtype.kind in "iu" and a.dtype != np.uint8:
            return "int", a  # a select, as an int; kept as an array so a traced value stays live
        if a.dtype not in _INDEX_DTYPES:
            raise IndexError(
                f"{op}: tensors used as indices must be integer or boolean (long, int, byte or bool), got dtype "
                f"{a.dtype}; convert with .long()"
            )
        if a.ndim == 0:
            return "bool", bool(item)
    elif isinstance(item, (list, range, np.ndarray)):
        a = np.asarray(item)
        if a.dtype.kind not in "biuf":
            raise IndexError(f"{op}: an index list or array must hold integers or booleans, got dtype {a.dtype}")
        if a.dtype.kind == "f":
            a = a.astype(np.int64)  # as PyTorch converts index data: floats truncate
        # Integer arrays are kept as they are (not copied): one computed in a jitted function stays live.
        if a.ndim == 0:
            return ("bool", bool(a)) if a.dtype in (np.uint8, np.bool_) else ("int", a)
    else:
        raise IndexError(
            f"{op}: only integers, slices (`:`), ellipsis (`...`), None, booleans and integer or boolean "
            f"tensors are valid indices (got {type(item).__name__})"
        )
    if a.dtype == np.uint8:
        import warnings

        warnings.warn(
            f"{op}: indexing with dtype uint8 is deprecated (as in PyTorch); use a bool mask", UserWarning, stacklevel=4
        )
        return "mask", a
    return ("mask" if a.dtype == np.bool_ else "array"), a


def _plain_basic(item):
    t = type(item)
    return t is int or item is None or t is slice and (item.step is None or type(item.step) is int and item.step > 0)


def normalize_index(index: Any, shape: tuple[int, ...], op: str = "getitem") -> tuple[Any, Any]:
    """A user's index as PyTorch reads it, in the (basic, advanced) form the indexing primitives take.

    PyTorch applies ints, slices, None and Ellipsis first, one dimension after another, and
    then all tensor indices together with NumPy's rules (adjacent index arrays put their
    dimensions in place, separated ones in front). An int therefore never joins the index
    arrays as it does in NumPy: on a (2, 3, 4) tensor, x[0, :, [1, 2]] has shape (3, 2) in
    PyTorch (and here), (2, 3) in NumPy. A Python bool or 0-d bool tensor adds a dimension of
    size 1 and indexes it with [0] (True) or [] (False); a 0-d integer tensor is an int; lists
    and NumPy arrays become int64 (or bool) index tensors. Slice steps must be positive.

    Returns (basic, advanced): x[index] is x[basic][advanced] in NumPy, advanced None when
    the index has no tensors.
    """
    if type(index) is int or type(index) is slice and index.step is None:
        return (index,), None  # the common x[i], x[a:b]
    if type(index) is tuple and builtins.all(_plain_basic(i) for i in index):
        return index, None  # ints, None and slices with positive steps: NumPy reads them as PyTorch does
    if is_tensor(index) and index._data.ndim and index._data.dtype in (np.int64, np.bool_):
        return (), (index._data,)  # x[idx], x[mask]
    items = [_parse(item, op) for item in _as_items(index)]
    ndim = len(shape)
    specified = 0
    for kind, value in items:
        if kind in ("int", "slice", "array"):
            specified += 1
        elif kind == "mask":
            specified += value.ndim
    if specified > ndim:
        raise IndexError(
            f"{op}: too many indices for tensor of dimension {ndim} (tensor of shape {tuple(shape)}, index {index!r})"
        )
    basic, advanced = [], []
    has_arrays = False
    for kind, value in items:
        if kind == "int":
            basic.append(value)
        elif kind in ("slice", "none"):
            basic.append(value)
            advanced.append(_ALL)
        elif kind == "ellipsis":
            basic.extend([_ALL] * (ndim - specified))
            advanced.extend([_ALL] * (ndim - specified))
        elif kind == "bool":
            basic.append(None)
            advanced.append(np.zeros(1 if value else 0, dtype=np.int64))
            has_arrays = True
        else:  # an index array on one dimension, or a mask on value.ndim of them
            basic.extend([_ALL] * (value.ndim if kind == "mask" else 1))
            advanced.append(value)
            has_arrays = True
    while basic and type(basic[-1]) is slice and basic[-1] == _ALL:
        basic.pop()
    if not has_arrays:
        return tuple(basic), None
    while type(advanced[-1]) is slice:
        advanced.pop()
    return tuple(basic), tuple(advanced)


def _index_shape(shape, index, advanced, op):
    """The shape of x[index][advanced] for x of `shape`, without reading x."""
    dummy = np.broadcast_to(np.zeros((), dtype=bool), shape)
    return _select(dummy, index, advanced, op).shape


def getitem(x: TensorLike, index: Any) -> Tensor:
    """x[index] with PyTorch's indexing rules (see normalize_index), differentiable; the backward
    adds up repeated indices.

    Basic indexing (integers, slices, None, Ellipsis) gives a view sharing x's storage, as in
    PyTorch; integer or boolean index tensors give a copy.
    """
    basic, advanced = normalize_index(index, np.shape(as_array(x)))
    if advanced is None:
        return getitem_basic(x, basic)
    return Getitem.apply(x, basic=basic, index=advanced)


def getitem_basic(x: TensorLike, basic: Any) -> Tensor:
    """x[basic] for a normalized basic index (ints, slices, None): a view of x."""
    # Getitem gets the index as given (a jit trace follows 0-d index tensors); the view's chain
    # keeps the ints they stood for.
    out = Getitem.apply(x, basic=basic, index=None)
    return make_view(out, x, Getitem, {"basic": _concrete(basic), "index": None}, op="getitem")


def _check_scalar_fits(value, dtype, op):
    """A Python number written into a tensor of `dtype`, refused when it overflows (as PyTorch does)."""
    kind = dtype.kind
    real = value
    bad = False
    if isinstance(value, (complex, np.complexfloating)) and kind != "c":
        bad, real = value.imag != 0, value.real
    if bad or kind in "bc" or isinstance(real, (bool, np.bool_)) or dtype == np.float16:
        pass  # PyTorch lets a float16 overflow to inf
    elif kind == "f":
        bad = np.isfinite(real) and builtins.abs(float(real)) > float(np.finfo(dtype).max)
    elif not np.isfinite(real):
        bad = True
    else:
        info = np.iinfo(dtype)
        bad = not info.min <= int(real) <= info.max
    if bad:
        raise RuntimeError(f"{op}: value {value!r} cannot be converted to type {dtype} without overflow")
    return np.asarray(real if kind != "c" else value).astype(dtype)


def _setitem_value(x_dtype, target_shape, value, advanced, op):
    """The value of x[index] = value, as PyTorch takes it: numbers cast to x's dtype, tensors
    cast too (but with index tensors they must have x's dtype), leading size-1 dimensions
    dropped, then broadcast to the indexed shape."""
    if is_tensor(value):
        vdtype = value._data.dtype
        if vdtype != x_dtype:
            if advanced is not None:
                raise RuntimeError(
                    f"{op}: Index put requires the source and destination dtypes match, got {x_dtype} for the "
                    f"destination and {vdtype} for the source; convert the value with .to({x_dtype})."
                )
            from .elementwise import cast

            value = cast(value, x_dtype)
        shape = np.shape(value._data)
    elif isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return _check_scalar_fits(value, x_dtype, op)
    else:
        raise TypeError(
            f"{op}: can't assign a {type(value).__name__} to a tensor; make it a tensor first, "
            "e.g. x[i] = chainrule.tensor(value)."
        )
    stripped = shape
    while stripped and stripped[0] == 1:
        stripped = stripped[1:]
    ok = len(stripped) <= len(target_shape) and builtins.all(
        a == b or a == 1 for a, b in zip(stripped[::-1], target_shape[::-1])
    )
    if not ok:
        raise RuntimeError(
            f"{op}: shape mismatch: value tensor of shape {tuple(shape)} cannot be broadcast to indexing "
            f"result of shape {tuple(target_shape)}"
        )
    return value if stripped == shape else reshape(value, stripped)


def setitem_parts(x: TensorLike, index: Any, value: Any, op: str = "__setitem__") -> tuple[Any, Any, Any] | None:
    """(basic, advanced, value) for x[index] = value: which elements, and the value prepared as PyTorch does.

    None for x[False] = value, which PyTorch skips whatever the value's shape.
    """
    data = x._data
    if index is False and (is_tensor(value) or isinstance(value, (bool, int, float, complex, np.number))):
        return None
    basic, advanced = normalize_index(index, data.shape, op)
    target = _index_shape(data.shape, basic, advanced, op)
    return basic, advanced, _setitem_value(data.dtype, target, value, advanced, op)


def write_index(array: np.ndarray, basic: Any, advanced: Any, value: Any) -> None:
    """array[basic][advanced] = value in place (no graph): the plain path of __setitem__."""
    try:
        view = array[_concrete(basic) + (Ellipsis,)]
        if advanced is None:
            view[...] = as_array(value)
        elif not _empty_selection(view, advanced):
            view[_prepared(advanced)] = as_array(value)
    except IndexError as err:
        raise _index_error(err, "__setitem__", array.shape, basic, advanced) from None


def copy_slices(base: Tensor, value: Tensor, pos: np.ndarray) -> Tensor:
    """base with the view elements at flat positions `pos` replaced by value (differentiable in both)."""
    return CopySlices.apply(base, value, pos=pos)


from .views import Diagonal, reshape  # noqa: E402  (the shape modules use each other)
