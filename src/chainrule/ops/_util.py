"""Helpers shared by the primitives: undoing broadcasting, normalizing dims, type checks."""

from __future__ import annotations

import math
import operator

import numpy as np


def unbroadcast(g, shape):
    """Sum `g` over the axes broadcasting added or stretched, so it has `shape`.

    The one place broadcasting is undone. Works on arrays and on Tensors.
    """
    g_shape = g.shape
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g_shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def constant_array(make, shape, dtype):
    """make(shape, dtype=dtype) (np.ones, np.zeros, np.arange) as a read-only array, kept for reuse
    when small: a training step asks for the same ones vectors, zeros and row indices at every call.
    Large ones are made afresh, so the cache stays a few megabytes."""
    key = (make, shape, dtype)
    a = _constants.get(key)
    if a is not None:
        return a
    a = make(shape, dtype=dtype)
    if a.size <= 16384:
        a.flags.writeable = False
        if len(_constants) >= 64:  # the oldest goes (a dict keeps insertion order)
            _constants.pop(next(iter(_constants), None), None)
        _constants[key] = a
    return a


# NOTE: a plain dict, not functools.lru_cache: this lookup runs several times in every training step,
# and the dict's is a third of the cost (0.4 against 1.1 us).
_constants = {}


def ones_vector(n, dtype):
    """n ones (the BLAS sums' other operand)."""
    return constant_array(np.ones, n, dtype)


def sum_trailing(v, k):
    """v summed over its last k axes, kept as size-1 axes (arrays or Tensors).

    On a float array with rows of at most 1024 entries it is a matrix-vector product with ones: BLAS
    sums short rows several times faster than NumPy's reduction does. It adds in a few interleaved
    partial sums, so over so few terms its rounding is comparable to NumPy's pairwise sum; longer
    rows keep NumPy's.
    """
    shape = v.shape
    width = math.prod(shape[len(shape) - k :])
    if type(v) is not np.ndarray or v.dtype not in _BLAS_FLOATS or not 0 < width <= 1024 or not v.size:
        return v.sum(axis=tuple(range(len(shape) - k, len(shape))), keepdims=True)
    return (v.reshape((-1, width)) @ ones_vector(width, v.dtype)).reshape(shape[: len(shape) - k] + (1,) * k)


def sum_leading(v, k):
    """v summed over all but its last k axes: a broadcast parameter's gradient (arrays or Tensors).

    On a float array, ones @ v as rows: NumPy also sums over a leading axis term by term, so BLAS
    rounds no worse, and is faster.
    """
    lead = v.ndim - k
    if not lead:
        return v
    if type(v) is not np.ndarray or v.dtype not in _BLAS_FLOATS or not v.size:
        return v.sum(axis=tuple(range(lead)))
    if v.ndim == 2:  # a product of its own, no reshaped view: a leaf may keep it as its .grad uncopied
        return ones_vector(v.shape[0], v.dtype) @ v
    rows = math.prod(v.shape[:lead])
    return (ones_vector(rows, v.dtype) @ v.reshape((rows, -1))).reshape(v.shape[lead:])


def normalize_axes(axis, ndim, op):
    """Turn dim/axis (None, int or sequence) into a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    elif not isinstance(axis, (tuple, list)) and not (is_tensor(axis) or isinstance(axis, np.ndarray)):
        raise TypeError(f"{op}(): argument 'dim' must be an int or a tuple of ints, got {type(axis).__name__}")
    out = []
    for a in axis:
        if type(a) is not int:  # (the test inline: normalize_axes runs in every reduction)
            a = int_arg(op, "dim", a)
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(
                f"{op}: dimension {a} is out of range for a tensor with {ndim} dimensions "
                f"(valid: {-max(ndim, 1)} to {max(ndim, 1) - 1})"
            )
        out.append(a % max(ndim, 1) if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dimension {axis} appears more than once")
    return tuple(sorted(out)) if ndim else ()


def pick_axis(dim, axis, keepdim, keepdims, op):
    """Accept PyTorch's dim/keepdim and NumPy's axis/keepdims; refuse both at once."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass either dim= (PyTorch) or axis= (NumPy), not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, list):
        dim = tuple(dim)
    if type(dim) is tuple and dim == () and op not in ("all", "any"):
        dim = None  # PyTorch: an empty dim list reduces over every dim (all/any keep the tensor as it is)
    return dim, bool(keepdim)


def data_of(x):
    """The array behind a Tensor, or x itself."""
    return getattr(x, "_data", x) if hasattr(x, "grad_fn") else x


def is_tensor(x) -> bool:
    return hasattr(x, "grad_fn") and hasattr(x, "_data")


def as_array(x):
    """A NumPy array (or scalar) for a Tensor, array or Python number."""
    return x._data if is_tensor(x) else x


_INT64 = 2**63


def int_arg(op, name, value):
    """An integer argument (a size, a count, an index) as a Python int, refused as torch's argument parser does:
    TypeError for a float, string, None or other non-integer (an integer tensor of one element is accepted),
    RuntimeError for a value outside int64.

    Example:
        >>> int_arg("chunk", "chunks", 3)   # 3;  int_arg("chunk", "chunks", 2.5) raises TypeError
    """
    if type(value) is int and -_INT64 <= value < _INT64:  # the common case first: zeros(2, 3), chunk(x, 4)
        return value
    if isinstance(value, (float, str, bytes, complex)) or value is None:
        raise TypeError(f"{op}(): argument '{name}' must be an int, got {type(value).__name__} {value!r:.40}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{op}(): argument '{name}' must be an int, got {type(value).__name__}") from None
    if not -_INT64 <= n < _INT64:
        raise RuntimeError(f"{op}(): argument '{name}' = {n} does not fit in int64; pass a smaller value")
    return n


def shape_arg(op, shape):
    """A shape given as ints (`zeros(2, 3)`) or one sequence (`zeros((2, 3))`) as a tuple of ints, each checked by
    `int_arg` (a float, None or a value past int64 is refused naming `op`)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple([int_arg(op, "size", s) for s in shape])


def need_tensor(op, value, name="input"):
    """Refuse a value that is not a Tensor where `op` reads its shape or dtype (torch's TypeError). NumPy arrays
    pass: backward rules call the public functions on them."""
    if not (is_tensor(value) or isinstance(value, (np.ndarray, np.generic))):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, got {type(value).__name__}")


def refuse_text(op, *values):
    """Refuse text, containers or None where `op` reads Tensors or numbers (torch's TypeError)."""
    for v in values:
        if v is None or isinstance(v, (str, bytes, tuple, list, dict, set)):
            raise TypeError(f"{op}(): expected Tensors or numbers, got {type(v).__name__} {v!r:.40}")


class BroadcastError(RuntimeError, ValueError):
    """Shapes that cannot broadcast (a ValueError too, as NumPy raises, so NumPy habits still work)."""


class ArgumentError(RuntimeError, ValueError):
    """An argument outside its range (a zero stride, a negative size): PyTorch raises RuntimeError for most,
    ValueError for some; this is both, so code written for either catches it."""


def broadcast_error(op, *arrays):
    """The error for `op` on arrays whose shapes do not broadcast, naming the clash and the fix.

    Returns None when the shapes do broadcast (the failure was something else)."""
    shapes = [tuple(np.shape(a)) for a in arrays]
    try:
        np.broadcast_shapes(*shapes)
        return None
    except ValueError:
        pass
    ndim = max(len(s) for s in shapes)
    for i in range(1, ndim + 1):
        sizes = {s[-i] for s in shapes if len(s) >= i and s[-i] != 1}
        if len(sizes) > 1:
            break
    shown = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
    return BroadcastError(
        f"{op}: shapes {shown} cannot broadcast: aligned from the right, dimension {-i} has sizes "
        f"{' vs '.join(str(s[-i]) if len(s) >= i else '-' for s in shapes)}; each pair must be equal or 1. "
        "Reshape or unsqueeze one operand so the dimensions line up (e.g. x.unsqueeze(-1) for a column, "
        "or y.reshape(...)), or check that both come from the same layer size."
    )
