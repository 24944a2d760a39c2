"""Helpers shared by the primitives: undoing broadcasting, normalizing dims, type checks."""

from __future__ import annotations

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


def normalize_axes(axis, ndim, op):
    """Turn dim/axis (None, int or sequence) into a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
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
    if dim == () and op not in ("all", "any"):
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
