"""Dtypes (NumPy's, under PyTorch's names), the default dtype, and the global RNG."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from typing import Any

    from ._typing import DTypeLike

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_state = {"default": float32, "rng": np.random.default_rng()}


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _state["default"]


def set_default_dtype(dtype: DTypeLike | None) -> None:
    """Set the dtype of tensors made from Python floats (float32 or float64).

    Example:
        >>> chainrule.set_default_dtype(chainrule.float64)   # for gradient checks
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"set_default_dtype(): {e}; pass chainrule.float32 or chainrule.float64") from None
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes can be the default, got {dtype}")
    _state["default"] = dtype


def manual_seed(seed: builtins.int) -> Any:
    """Seed the global generator behind rand, randn, init and dropout; returns it."""
    _state["rng"] = np.random.default_rng(seed)
    return _state["rng"]


def default_generator() -> np.random.Generator:
    """The global NumPy Generator that manual_seed resets."""
    return _state["rng"]


def is_floating_point_dtype(dtype: DTypeLike | None) -> builtins.bool:
    return np.dtype(dtype).kind in "fc"


# ----- type promotion (PyTorch's rules) -----
#
# Operands rank in three tiers: tensors with at least one dimension, 0-d tensors, and Python
# scalars ("wrapped numbers"). Each tier promotes within itself; a lower tier only decides
# the result when its dtype is of a higher category (bool < integer < floating < complex),
# so `float32 tensor * float64 0-d tensor` stays float32 but `int tensor * 2.5` is floating.

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_TO_COMPLEX = {np.dtype(np.float16): complex64, float32: complex64, float64: complex128}


def _category(dtype) -> builtins.int:
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:  # an object or text dtype: no operand of a numeric op
        raise TypeError(f"expected Tensors or numbers, got an operand of dtype {dtype}") from None


def promote_types(type1: DTypeLike, type2: DTypeLike) -> np.dtype:
    """The smallest dtype both can be converted to without leaving the higher category (torch.promote_types).

    Unlike NumPy, an integer meeting a floating dtype gives that floating dtype
    (int64 with float16 is float16), and int with complex64 stays complex64.

    Example:
        >>> chainrule.promote_types(chainrule.uint8, chainrule.int8)
        dtype('int16')
    """
    type1, type2 = np.dtype(type1), np.dtype(type2)
    if type1 == type2:
        return type1
    c1, c2 = _category(type1), _category(type2)
    if c1 == c2 or (c1 >= 2 and c2 >= 2):
        return np.promote_types(type1, type2)
    return type1 if c1 > c2 else type2


def _scalar_dtype(value):
    """The dtype a Python scalar takes part in promotion with (PyTorch's wrapped numbers)."""
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, builtins.int):
        return int64
    if isinstance(value, builtins.float):
        return _state["default"]
    return _TO_COMPLEX[_state["default"]]


def _combine(higher, lower):
    """The result of a higher-priority tier's dtype meeting a lower tier's (None: tier empty)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = _category(higher), _category(lower)
    if ch == 3:
        return higher
    if cl == 3:
        # A floating tensor keeps its precision: float64 with a complex64 scalar is complex128.
        return _TO_COMPLEX.get(higher, lower) if ch == 2 else lower
    if ch == 2:
        return higher
    if ch == 0 or cl == 2:
        return promote_types(higher, lower)
    return higher


def _tiers(operands):
    dims = zero = wrapped = None
    for x in operands:
        if x is None:
            continue
        if isinstance(x, (builtins.bool, builtins.int, builtins.float, builtins.complex)):
            dtype = _scalar_dtype(x)
            wrapped = dtype if wrapped is None else promote_types(wrapped, dtype)
            continue
        array = getattr(x, "_data", x)
        dtype = getattr(array, "dtype", None)
        if dtype is None:
            raise TypeError(f"result_type: expected Tensors or numbers, got {type(x).__name__}")
        if np.ndim(array):
            dims = dtype if dims is None else promote_types(dims, dtype)
        else:
            zero = dtype if zero is None else promote_types(zero, dtype)
    return dims, zero, wrapped


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an op on these operands (torch.result_type, for any number of them).

    Tensors with dimensions outrank 0-d tensors, which outrank Python numbers, but only
    within a category (bool < integer < floating < complex): a float64 0-d tensor does not
    make a float32 tensor float64, while a Python float makes an int tensor floating
    (in the default dtype). NumPy scalars count as 0-d tensors, except np.float64 and
    np.complex128, which are Python floats and complexes.

    Example:
        >>> chainrule.result_type(chainrule.tensor([1, 2]), 2.5)
        dtype('float32')
    """
    dims, zero, wrapped = _tiers(operands)
    out = _combine(dims, _combine(zero, wrapped))
    if out is None:
        raise TypeError("result_type: expected at least one Tensor or number")
    return out


def can_cast(from_: DTypeLike, to: DTypeLike) -> builtins.bool:
    """Whether PyTorch's in-place ops and out= may write a `from_` result into a `to` tensor.

    Refused: complex to non-complex, floating to integer or bool, and anything but bool to
    bool (torch.can_cast). Narrowing within a category (float64 to float16) is allowed.

    Example:
        >>> chainrule.can_cast(chainrule.float32, chainrule.int32)
        False
    """
    return _category(np.dtype(from_)) <= _category(np.dtype(to))
