"""Type promotion: the one place binary and n-ary ops convert their operands to PyTorch's result dtype,
and the refusals that go with it (bool operands, integer division by zero, complex order)."""

from __future__ import annotations

import numpy as np

from .. import _dtypes
from ._util import as_array, is_tensor

_NUMBER_TYPES = (bool, int, float, complex)
_Tensor = None  # set by tensor.py once Tensor exists: the ops' same-dtype fast test compares types with it
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)


def _promote2(op, x, y):
    """x and y converted to the dtype PyTorch computes `op(x, y)` in (see chainrule.result_type).

    The hot paths return the operands untouched: two tensors of one dtype, and a float32 or
    float64 tensor with a Python int or float (NumPy keeps the tensor's dtype there too).
    """
    # x * 0.5 and 1 - x first, tested by type alone (cheaper than getattr)
    ty = type(y)
    if ty is float or ty is int:
        if type(x) is _Tensor and (x._data.dtype is _FLOAT32 or x._data.dtype is _FLOAT64):
            return x, y
    elif ty is _Tensor:
        tx = type(x)
        if (tx is float or tx is int) and (y._data.dtype is _FLOAT32 or y._data.dtype is _FLOAT64):
            return x, y
    dx = getattr(x, "_data", None)
    dy = getattr(y, "_data", None)
    if dx is not None:
        dtype = dx.dtype
        if dy is not None:
            if dy.dtype is dtype:
                return x, y
        elif (dtype is _FLOAT32 or dtype is _FLOAT64) and (type(y) is float or type(y) is int):
            return x, y
    elif dy is not None:
        dtype = dy.dtype
        if (dtype is _FLOAT32 or dtype is _FLOAT64) and (type(x) is float or type(x) is int):
            return x, y
    else:
        return x, y  # arrays and numbers only (backward rules): NumPy's result, as before
    return _promote(op, (x, y))[1]


def _promote(op, operands, floating=False):
    """(dtype, operands converted to it): PyTorch's result dtype for `op` over `operands`.

    Tensors are cast (a recorded, differentiable cast between floating dtypes); Python ints
    going into an integer dtype wrap around as in PyTorch (int8 tensor + 300 adds 44);
    None stays None. floating=True (true division) turns a bool or integer result into
    the default floating dtype. With no Tensor among the operands nothing changes.
    """
    if not any(is_tensor(a) for a in operands):
        return None, operands
    try:
        dtype = _dtypes.result_type(*operands)
    except TypeError:
        for a in operands:  # text, containers and the like are no operands, as in torch (its TypeError)
            if isinstance(a, (str, bytes, tuple, list, dict, set, np.dtype)) or callable(a):
                raise TypeError(
                    f"{op}(): expected Tensors or numbers as operands, got {type(a).__name__} {a!r:.40}"
                ) from None
        return None, operands  # an operand that is no number (a symbolic value): leave it to the op
    if floating and dtype.kind in "biu":
        dtype = _dtypes.get_default_dtype()
    return dtype, tuple(_to_dtype(a, dtype, op) for a in operands)


# Ops whose Python-number operands must fit the integer result dtype (torch checks them there;
# arithmetic and comparisons wrap them around instead).
_CHECKED_SCALARS = ("where", "clamp")


def _to_dtype(a, dtype, op=None):
    if a is None:
        return None
    if isinstance(a, _NUMBER_TYPES):
        if dtype.kind in "iu" and not isinstance(a, bool):
            if op in _CHECKED_SCALARS:
                _check_fits(op, a, dtype)
            bits = dtype.itemsize * 8
            a %= 1 << bits  # two's complement wrap-around, as PyTorch's integer ops
            if dtype.kind == "i" and a >= 1 << (bits - 1):
                a -= 1 << bits
            return a
        if dtype.kind == "f" and dtype is not _FLOAT64:
            with np.errstate(over="ignore"):  # 1e6 in float16 is inf, as in PyTorch
                return np.asarray(a, dtype=dtype)
        return a
    if is_tensor(a):
        return a if a._data.dtype == dtype else cast(a, dtype)
    array = np.asarray(a)
    return array if array.dtype == dtype else array.astype(dtype)


def _check_fits(op, value, dtype):
    """Refuse a Python int the integer dtype cannot hold (unsigned ones take negatives down to -max,
    wrapping them, as torch's overflow check does)."""
    info = np.iinfo(dtype)
    if not (info.min if dtype.kind == "i" else -info.max) <= value <= info.max:
        raise RuntimeError(
            f"{op}: value {value} cannot be converted to type {dtype} without overflow "
            f"(as in PyTorch); use a tensor of a wider dtype, e.g. x.long()."
        )


def _refuse_bool(op, operands, fix, both=False):
    """Refuse a bool operand (both=True: only when every operand is bool), naming op, dtypes and fix."""
    bools = [isinstance(a, bool) or np.asarray(as_array(a)).dtype == np.bool_ for a in operands]
    if all(bools) if both else any(bools):
        if operands:
            dtypes = ", ".join(str(_dtypes.result_type(b)) for b in operands)
            raise RuntimeError(
                f"{op}: not supported with {'bool operands' if both else 'a bool operand'} "
                f"(operands: {dtypes}), as in PyTorch. {fix}"
            )


def _refuse_integer_zero(op, x, y):
    """Integer division by zero raises in PyTorch (NumPy would return 0 with a warning)."""
    kind = (x if is_tensor(x) else y)._data.dtype.kind  # the promoted dtype
    if kind in "biu" and np.any(np.asarray(as_array(y)) == 0):
        raise RuntimeError(
            f"{op}: integer division by zero (ZeroDivisionError in PyTorch). Convert to floating point "
            "first (x.float()) for inf/nan results, or mask out the zero divisors."
        )


def _ordered(op, x, y):
    """Refuse complex operands where an order is needed (NumPy would compare them lexicographically)."""
    if (
        getattr(getattr(x, "_data", x), "dtype", _FLOAT32).kind == "c"
        or isinstance(x, complex)
        or getattr(getattr(y, "_data", y), "dtype", _FLOAT32).kind == "c"
        or isinstance(y, complex)
    ):
        raise RuntimeError(
            f"{op}: complex numbers have no order, so {op} does not support them (as in "
            "PyTorch); compare their .abs() or .real instead."
        )
    return x, y


from .unary import cast  # noqa: E402  (cast promotes nothing; unary.py imports this module's users)
