"""Shape and indexing primitives: reshape, permute, broadcast_to, cat, pad, flip, getitem and its
scatter-add transpose; the rest (squeeze, stack, split, ...) are built from them.
"""
from __future__ import annotations

import builtins
import operator

import functools

import numpy as np

from ..autograd.primitive import Primitive, export
from ..autograd.views import make_view
from ._util import as_array, is_tensor, normalize_axes, unbroadcast


def _shape_arg(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


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
            if tuple(shape[dim:dim + a.ndim]) != a.shape:
                return False
            dim += a.ndim
        else:
            dim += 1
    return True


def _index_error(err, op, shape, index, advanced):
    msg = str(err).replace(" axis ", " dimension ")
    shown = index if advanced is None else (index, advanced)
    return IndexError(f"{op}: {msg} (tensor of shape {tuple(shape)}, index {shown!r})")


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
                f"CopySlices (created at {format_site(getattr(ctx, 'site', None))}): unsupported operation: more than one "
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
            gx = g if ctx.accumulate else IndexPut.apply(
                g, np.zeros((), dtype=as_array(g).dtype), basic=ctx.basic, index=ctx.index)
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
    if type(index) is list and len(index) < 32 and builtins.any(
            is_tensor(i) or isinstance(i, (list, tuple, range, np.ndarray, slice)) or i is None or i is Ellipsis
            for i in index):
        import warnings

        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated (as in PyTorch); "
            "use x[tuple(seq)] instead of x[seq], or x[chainrule.tensor(seq)] for a tensor index.",
            UserWarning, stacklevel=4)
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
            f"{op}: slice step cannot be zero" if step == 0 else
            f"{op}: step must be greater than zero (got {item!r}); PyTorch has no negative steps: use "
            "chainrule.flip(x, dims) to reverse a dimension.")
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
                f"{a.dtype}; convert with .long()")
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
            f"tensors are valid indices (got {type(item).__name__})")
    if a.dtype == np.uint8:
        import warnings

        warnings.warn(f"{op}: indexing with dtype uint8 is deprecated (as in PyTorch); use a bool mask",
                      UserWarning, stacklevel=4)
        return "mask", a
    return ("mask" if a.dtype == np.bool_ else "array"), a


def _plain_basic(item):
    t = type(item)
    return t is int or item is None or t is slice and (item.step is None or type(item.step) is int and item.step > 0)


def normalize_index(index, shape, op="getitem"):
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
        raise IndexError(f"{op}: too many indices for tensor of dimension {ndim} (tensor of shape "
                         f"{tuple(shape)}, index {index!r})")
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


def getitem(x, index):
    """x[index] with PyTorch's indexing rules (see normalize_index), differentiable; the backward
    adds up repeated indices.

    Basic indexing (integers, slices, None, Ellipsis) gives a view sharing x's storage, as in
    PyTorch; integer or boolean index tensors give a copy.
    """
    basic, advanced = normalize_index(index, np.shape(as_array(x)))
    if advanced is None:
        return getitem_basic(x, basic)
    return Getitem.apply(x, basic=basic, index=advanced)


def getitem_basic(x, basic):
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
                    f"destination and {vdtype} for the source; convert the value with .to({x_dtype}).")
            from .elementwise import cast

            value = cast(value, x_dtype)
        shape = np.shape(value._data)
    elif isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return _check_scalar_fits(value, x_dtype, op)
    else:
        raise TypeError(
            f"{op}: can't assign a {type(value).__name__} to a tensor; make it a tensor first, "
            "e.g. x[i] = chainrule.tensor(value).")
    stripped = shape
    while stripped and stripped[0] == 1:
        stripped = stripped[1:]
    ok = len(stripped) <= len(target_shape) and builtins.all(
        a == b or a == 1 for a, b in zip(stripped[::-1], target_shape[::-1]))
    if not ok:
        raise RuntimeError(
            f"{op}: shape mismatch: value tensor of shape {tuple(shape)} cannot be broadcast to indexing "
            f"result of shape {tuple(target_shape)}")
    return value if stripped == shape else reshape(value, stripped)


def setitem_parts(x, index, value, op="__setitem__"):
    """(basic, advanced, value) for x[index] = value: which elements, and the value prepared as PyTorch does.

    None for x[False] = value, which PyTorch skips whatever the value's shape.
    """
    data = x._data
    if index is False and (is_tensor(value) or isinstance(value, (bool, int, float, complex, np.number))):
        return None
    basic, advanced = normalize_index(index, data.shape, op)
    target = _index_shape(data.shape, basic, advanced, op)
    return basic, advanced, _setitem_value(data.dtype, target, value, advanced, op)


def write_index(array, basic, advanced, value):
    """array[basic][advanced] = value in place (no graph): the plain path of __setitem__."""
    try:
        view = array[_concrete(basic) + (Ellipsis,)]
        if advanced is None:
            view[...] = as_array(value)
        elif not _empty_selection(view, advanced):
            view[_prepared(advanced)] = as_array(value)
    except IndexError as err:
        raise _index_error(err, "__setitem__", array.shape, basic, advanced) from None


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
def index_put(input, indices, values, accumulate=False):
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
def index_put_(input, indices, values, accumulate=False):
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
        raise error(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}"
                           + (" (negative indices are not accepted here, as in PyTorch)" if bad < 0 else ""))


@export(method=True)
def index_select(input, dim, index):
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
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        if value._data.dtype != dtype:
            from .elementwise import cast

            return cast(value, dtype)
        return value
    return _check_scalar_fits(value, dtype, op)


@export(method=True)
def masked_fill(input, mask, value):
    """input with `value` where mask is True (torch.masked_fill); mask is a bool tensor that
    broadcasts with input, value a number or a 0-d tensor (it gets the sum of g over the mask).

    Example:
        >>> chainrule.masked_fill(chainrule.zeros(3), chainrule.tensor([True, False, True]), 5.0)
        tensor([5., 0., 5.])
    """
    m = as_array(mask)
    if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
        got = m.dtype if isinstance(m, np.ndarray) else type(mask).__name__
        raise RuntimeError(f"masked_fill: only supports boolean masks, but got mask with dtype {got}; "
                           "use mask.bool() or a comparison such as x > 0")
    from .elementwise import where

    return where(m, _fill_value(input, value, "masked_fill"), input)


@export(method=True, namespaces=())
def masked_fill_(input, mask, value):
    """In place: input[mask] = value, the mask broadcasting to input's shape; see masked_fill."""
    return input._rebase(masked_fill(input, mask, value), "masked_fill_")


def _scatter_parts(input, dim, index, src, op):
    """The checks PyTorch makes for scatter/scatter_add/gather, and the index as one array per dimension."""
    a = _int_index(index, op, "int64")
    shape = np.shape(as_array(input))
    ndim = builtins.max(len(shape), 1)
    if builtins.max(a.ndim, 1) != ndim:
        raise RuntimeError(f"{op}: Index tensor must have the same number of dimensions as self tensor "
                           f"(index {a.shape}, self {tuple(shape)})")
    d = _dim(dim, len(shape), op)
    full = shape if shape else (1,)
    a1 = a.reshape(-1) if a.ndim == 0 else a
    src_shape = None
    if src is not None:
        src_shape = np.shape(as_array(src)) or (1,)
        if len(src_shape) != ndim:
            raise RuntimeError(f"{op}: Index tensor must have the same number of dimensions as src tensor "
                               f"(index {a.shape}, src {np.shape(as_array(src))})")
    if builtins.any(n > full[i] for i, n in enumerate(a1.shape) if i != d) or (
            src_shape is not None and builtins.any(n > m for n, m in zip(a1.shape, src_shape))):
        raise RuntimeError(
            f"{op}: Expected index {list(a.shape)} to be no larger than self {list(shape)} apart from dimension "
            f"{d}" + (f" and to be no larger size than src {list(np.shape(as_array(src)))}" if src is not None else ""))
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
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (self {x.dtype}, src "
                               f"{as_array(src).dtype}); convert src with .to({x.dtype})")
        part = _as_1d(src)
        if np.shape(as_array(part)) != ishape:  # only the index's corner of src is used
            part = Getitem.apply(part, basic=tuple(slice(0, n) for n in ishape))
    else:
        part = _check_scalar_fits(value, x.dtype, op)
    target = _as_1d(input)
    if reduce == "multiply":
        if builtins.any(is_tensor(t) and t.requires_grad for t in (input, src)) and _grad_enabled():
            raise RuntimeError(f"{op}: reduce='multiply' has no derivative (as in PyTorch); compute it "
                               "under chainrule.no_grad() or build it from gather and prod")
        out = np.array(as_array(target), copy=True)
        np.multiply.at(out, grids, as_array(part))
        result = _wrap_like(input, out)
    else:
        result = IndexPut.apply(target, part, basic=(), index=grids,
                                accumulate=accumulate or reduce == "add")
    return reshape(result, ()) if x.ndim == 0 else result


def _grad_enabled():
    from ..autograd import grad_mode

    return grad_mode.is_grad_enabled()


def _wrap_like(x, array):
    if is_tensor(x):
        return type(x)._make(array)
    return array


@export(method=True)
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with values written at `index` along `dim` (torch.scatter): for dim=1,
    out[i][index[i][j]] = src[i][j] (or = value). With repeated targets the last write wins.
    reduce='add' adds instead (as scatter_add), 'multiply' multiplies (no gradient, as in PyTorch).

    dout/dinput: g with zeros at the written positions;  dout/dsrc: g gathered at `index`.

    Example:
        >>> chainrule.zeros(2, 3).scatter(1, chainrule.tensor([[2], [0]]), 1.0)
        tensor([[0., 0., 1.], [1., 0., 0.]])
    """
    return _scatter(input, dim, index, src, value, reduce, False, "scatter")


@export(method=True, namespaces=())
def scatter_(input, dim, index, src=None, value=None, *, reduce=None):
    """In place: see scatter."""
    return input._rebase(scatter(input, dim, index, src, value, reduce=reduce), "scatter_")


@export(method=True)
def scatter_add(input, dim, index, src):
    """A copy of input with src added at `index` along `dim` (torch.scatter_add): for dim=1,
    out[i][index[i][j]] += src[i][j], repeated targets adding up.

    dout/dinput: g;  dout/dsrc: g gathered at `index`.
    """
    if not (is_tensor(src) or isinstance(src, np.ndarray)):
        raise TypeError(f"scatter_add(): argument 'src' must be Tensor, not {type(src).__name__}")
    return _scatter(input, dim, index, src, None, None, True, "scatter_add")


@export(method=True, namespaces=())
def scatter_add_(input, dim, index, src):
    """In place: see scatter_add."""
    return input._rebase(scatter_add(input, dim, index, src), "scatter_add_")


@export(method=True)
def index_add(input, dim, index, source, *, alpha=1):
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
        raise RuntimeError(f"{op}(): self ({np.asarray(x).dtype}) and source ({np.asarray(s).dtype}) must have "
                           "the same scalar type")
    full, sfull = shape or (1,), sshape or (1,)
    if len(sfull) != len(full):
        raise RuntimeError(f"{op}(): Indexing dim {d} is out of bounds of the source tensor with dim "
                           f"{len(sshape)} (source shape {tuple(sshape)}, self shape {tuple(shape)})")
    if sfull[d] != a.size:
        raise RuntimeError(f"{op}(): Number of indices ({a.size}) should be equal to source.size(dim): "
                           f"({sfull[d]}), for dim: {d}")
    if builtins.any(m != n for i, (m, n) in enumerate(zip(full, sfull)) if i != d):
        raise RuntimeError(f"{op}: source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(shape)} source.shape = {list(sshape)}")
    _check_bounds(a, full[d], d, op, IndexError if len(shape) <= 1 else RuntimeError)
    if alpha != 1:
        source = source * alpha
    out = IndexPut.apply(_as_1d(input), _as_1d(source), basic=(), index=(_ALL,) * d + (a if a.ndim else a.reshape(1),),
                         accumulate=True)
    return reshape(out, ()) if not shape else out


@export(method=True, namespaces=())
def index_add_(input, dim, index, source, *, alpha=1):
    """In place: see index_add."""
    return input._rebase(index_add(input, dim, index, source, alpha=alpha), "index_add_")


@export(method=True)
def reshape(x, *shape):
    """Same elements, new shape; one dimension may be -1.

    A view of x when its strides allow one (as torch.reshape), else a copy.

    Example:
        >>> chainrule.arange(6).reshape(2, 3)
    """
    shape = _shape_arg(shape, "reshape")
    if not is_tensor(x):
        return x if np.shape(x) == shape else Reshape.apply(x, shape=shape)
    out = Reshape.apply(x, shape=shape)
    if out._data.size == 0 or np.may_share_memory(out._data, x._data):
        make_view(out, x, Reshape, {"shape": out._data.shape}, op="reshape")
    return out


@export(method=True, namespaces=())
def view(x, *shape):
    """Same elements, new shape, always sharing x's storage (torch.Tensor.view).

    Refused when x's strides do not allow it (after a transpose, say): use reshape.
    """
    shape = _shape_arg(shape, "view")
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
def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (a view when strides allow, as torch.flatten)."""
    shape = np.shape(as_array(x))
    if not shape:
        return reshape(x, (1,))
    start, end = (normalize_axes(d, len(shape), "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a tensor of shape "
                           f"{shape}; swap them")
    if start == end:
        return x  # nothing flattened: x itself, as torch.flatten
    return reshape(x, shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:])


@export(method=True)
def permute(x, *dims):
    """Reorder the dimensions (torch.permute)."""
    dims = _shape_arg(dims, "permute")
    ndim = np.ndim(as_array(x))
    if sorted(d % max(ndim, 1) for d in dims) != list(range(ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of the {ndim} dimensions")
    dims = tuple(d % ndim for d in dims)
    if dims == tuple(range(ndim)) and not is_tensor(x):
        return x
    return make_view(Permute.apply(x, axes=dims), x, Permute, {"axes": dims}, op="permute")


@export(method=True)
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


@export(method=True)
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


@export(method=True)
def squeeze(x, dim=None):
    """Remove dimensions of size 1 (all of them, or only `dim`)."""
    shape = np.shape(as_array(x))
    if dim is None:
        return reshape(x, tuple(n for n in shape if n != 1))
    dims = normalize_axes(dim, len(shape), "squeeze")
    return reshape(x, tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))


@export(method=True)
def unsqueeze(x, dim):
    """Insert a dimension of size 1 at `dim`."""
    shape = list(np.shape(as_array(x)))
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
    shape.insert(dim % ndim, 1)
    return reshape(x, tuple(shape))


@export(method=True)
def broadcast_to(x, *shape):
    """View x broadcast to `shape` (NumPy's broadcast_to, PyTorch's expand)."""
    if type(x) is np.ndarray and len(shape) == 1 and type(shape[0]) is tuple:
        # Backward rules on plain arrays (first-order): a read-only view, no node.
        return x if x.shape == shape[0] else np.broadcast_to(x, shape[0])
    shape = _shape_arg(shape, "broadcast_to")
    if not is_tensor(x) and np.shape(x) == shape:
        return x
    return make_view(BroadcastTo.apply(x, shape=shape), x, BroadcastTo, {"shape": shape}, op="expand")


@export(method=True)
def expand(x, *sizes):
    """Broadcast to `sizes`; -1 keeps a dimension as it is (torch.expand)."""
    sizes = _shape_arg(sizes, "expand")
    shape = np.shape(as_array(x))
    lead = len(sizes) - len(shape)
    full = tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, full)


@export(method=True, namespaces=())
def expand_as(x, other):
    return broadcast_to(x, np.shape(as_array(other)))


@export("Cat", torch_kwargs="out")
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


@export("Cat", torch_kwargs="out")
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


@export(method=True)
def split(x, split_size_or_sections, dim=0):
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
def chunk(x, chunks, dim=0):
    """Split into `chunks` pieces of (nearly) equal size, as torch.chunk."""
    if int(chunks) <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}; it is the number of pieces.")
    size = np.shape(as_array(x))[dim]
    if size == 0:
        return split(x, [0] * chunks, dim)  # as torch: `chunks` empty pieces
    step = -(-size // chunks)
    return split(x, step, dim)


@export(method=True)
def unbind(x, dim=0):
    """The slices along `dim`, each without that dimension (views of x, as torch.unbind)."""
    ndim = np.ndim(as_array(x))
    dim = normalize_axes(dim, ndim, "unbind")[0]
    lead = (slice(None),) * dim
    return tuple(_multi_output_view(getitem(x, lead + (i,)), "unbind") for i in range(np.shape(as_array(x))[dim]))


@export(method=True)
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal over dims dim1 and dim2 as a new last dim: a view (torch.diagonal)."""
    ndim = np.ndim(as_array(x))
    d1, d2 = normalize_axes(dim1, ndim, "diagonal")[0], normalize_axes(dim2, ndim, "diagonal")[0]
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({dim1}, {dim2})")
    params = {"offset": int(offset), "dim1": d1, "dim2": d2}
    return make_view(Diagonal.apply(x, **params), x, Diagonal, params, op="diagonal")


def copy_slices(base, value, pos):
    """base with the view elements at flat positions `pos` replaced by value (differentiable in both)."""
    return CopySlices.apply(base, value, pos=pos)


@export(method=True)
def select(x, dim, index):
    """x indexed by `index` along `dim`, that dimension removed: a view (torch.select)."""
    dim = normalize_axes(dim, np.ndim(as_array(x)), "select")[0]
    return getitem(x, (slice(None),) * dim + (int(index),))


@export(method=True)
def narrow(x, dim, start, length):
    """The `length` entries from `start` along `dim`: a view (torch.narrow)."""
    dim = normalize_axes(dim, np.ndim(as_array(x)), "narrow")[0]
    size = np.shape(as_array(x))[dim]
    start = int(start) + size if start < 0 else int(start)
    if not 0 <= start <= start + length <= size:
        raise IndexError(f"narrow: start {start} and length {length} are out of range for dim {dim} of size {size}")
    return getitem(x, (slice(None),) * dim + (slice(start, start + int(length)),))


@export("Pad", namespaces=("chainrule", "nn.functional"))
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


@export(method=True)
def flip(x, *dims):
    """Reverse the order of elements along `dims`: flip(x, (0, 1)), or x.flip(0, 1) as torch's method."""
    dims = normalize_axes(_shape_arg(dims, "flip"), np.ndim(as_array(x)), "flip")
    return Flip.apply(x, axes=dims)


@export(method=True)
def repeat(x, *sizes):
    """Tile x: repeat it sizes[i] times along each dimension (torch.repeat)."""
    sizes = _shape_arg(sizes, "repeat")
    shape = np.shape(as_array(x))
    shape = (1,) * (len(sizes) - len(shape)) + shape
    x = reshape(x, shape)
    interleaved = tuple(v for pair in zip((1,) * len(shape), shape) for v in pair)
    tiled = broadcast_to(reshape(x, interleaved), tuple(v for pair in zip(sizes, shape) for v in pair))
    out = reshape(tiled, tuple(s * n for s, n in zip(sizes, shape)))
    if getattr(out, "_view", None) is not None:  # all sizes 1: still a copy, as torch.repeat
        from .elementwise import clone

        out = clone(out)
    return out


@export(method=True)
def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] for dim=0 (torch.gather), built on getitem.

    As in PyTorch, index has input's number of dimensions, is no larger than input apart from
    `dim`, and holds indices in [0, size) (no negative ones).
    """
    grids, _, _ = _scatter_parts(input, dim, index, None, "gather")
    out = Getitem.apply(_as_1d(input), basic=(), index=grids)
    return reshape(out, ()) if np.ndim(as_array(input)) == 0 else out


def take_along_dim(x, indices, dim):
    return gather(x, dim, indices)
export(name="swapaxes", method=True)(transpose)
export("Cat", name="concatenate", torch_kwargs="out")(cat)
