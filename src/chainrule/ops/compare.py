"""Ops with no gradient: comparisons, logical ops, rounding, floor division and remainder, tests
(isnan, ...). Each is a NumPy function applied with `_plain` and registered with `@export` as not
differentiable (the op table's coverage test leaves them out).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import export
from ._util import as_array, int_arg, is_tensor, refuse_text
from .promotion import _FLOAT32, _ordered, _promote2, _refuse_bool, _refuse_integer_zero
from .unary import _IEEE, _plain

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike

_Tensor = None  # set by tensor.py once Tensor exists: the same-dtype fast tests compare types with it

# Comparisons promote their operands first (PyTorch's rule), so int8 tensor == 300 compares with
# 300 wrapped to int8 (44), as torch does; the result is bool.


@export(differentiable=False, torch_kwargs="out")
def eq(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return _plain(np.equal, x, y)
    return _plain(np.equal, *_promote2("eq", x, y))


@export(differentiable=False, torch_kwargs="out")
def ne(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return _plain(np.not_equal, x, y)
    return _plain(np.not_equal, *_promote2("ne", x, y))


@export(differentiable=False, torch_kwargs="out")
def lt(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.less, x, y)
    return _plain(np.less, *_ordered("lt", *_promote2("lt", x, y)))


@export(differentiable=False, torch_kwargs="out")
def le(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.less_equal, x, y)
    return _plain(np.less_equal, *_ordered("le", *_promote2("le", x, y)))


@export(differentiable=False, torch_kwargs="out")
def gt(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.greater, x, y)
    return _plain(np.greater, *_ordered("gt", *_promote2("gt", x, y)))


@export(differentiable=False, torch_kwargs="out")
def ge(x: TensorLike, y: TensorLike) -> Tensor:
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.greater_equal, x, y)
    return _plain(np.greater_equal, *_ordered("ge", *_promote2("ge", x, y)))


@export(differentiable=False, method=True, torch_kwargs="out")
def logical_not(x: TensorLike) -> Tensor:
    return _plain(np.logical_not, x)


@export(differentiable=False, torch_kwargs="out")
def logical_and(x: TensorLike, y: TensorLike) -> Tensor:
    return _plain(np.logical_and, x, y)


@export(differentiable=False, torch_kwargs="out")
def logical_or(x: TensorLike, y: TensorLike) -> Tensor:
    return _plain(np.logical_or, x, y)


@export(differentiable=False, namespaces=())
def logical_xor(x: TensorLike, y: TensorLike) -> Tensor:
    return _plain(np.logical_xor, x, y)


@export(differentiable=False, method=True, torch_kwargs="out")
def sign(x: TensorLike) -> Tensor:
    """-1, 0 or 1 by the sign of x; 0 at NaN, as torch.sign (NumPy's sign gives NaN)."""
    return _plain(_sign, x)


def _sign(a):
    if np.asarray(a).dtype.kind == "b":  # torch.sign of a bool tensor is itself (NumPy has no bool sign)
        return np.array(a, copy=True)
    s = np.sign(a)
    return np.where(s == s, s, 0) if np.result_type(s).kind == "f" else s


@export(differentiable=False, method=True, torch_kwargs="out")
def floor(x: TensorLike) -> Tensor:
    return _plain(np.floor, x)


@export(differentiable=False, method=True, torch_kwargs="out")
def ceil(x: TensorLike) -> Tensor:
    return _plain(np.ceil, x)


@export(differentiable=False, method=True, torch_kwargs="out")
def round(x: TensorLike, decimals: int = 0) -> Tensor:
    decimals = int_arg("round", "decimals", decimals)
    dtype = np.asarray(as_array(x)).dtype
    if dtype.kind in "fc":
        # past the dtype's largest power of ten there are no such digits (and 10**decimals would overflow to inf,
        # NumPy's C int past 2**31): the value there is the same
        top = int(np.log10(np.finfo(dtype).max))
        decimals = builtins.max(-top, builtins.min(top, decimals))
    if decimals and dtype.kind in "biu":
        raise NotImplementedError(
            f"round(): decimals={decimals} is implemented for floating point tensors only, as in torch; "
            "convert with .float() first"
        )
    return _plain(lambda a: np.round(a, decimals), x)


@export(differentiable=False, method=True, torch_kwargs="out")
def trunc(x: TensorLike) -> Tensor:
    return _plain(np.trunc, x)


@export(differentiable=False, namespaces=())
def floor_divide(x: TensorLike, y: TensorLike) -> Tensor:
    """x // y rounded toward -inf, in the operands' result dtype; integer division by zero raises."""
    return _division_without_gradient("floor_divide", np.floor_divide, x, y)


@export(differentiable=False, namespaces=())
def remainder(x: TensorLike, y: TensorLike) -> Tensor:
    """x mod y with the sign of y (Python's %), in the operands' result dtype."""
    return _division_without_gradient("remainder", np.remainder, x, y)


def _division_without_gradient(op, ufunc, x, y):
    """// and %: torch's promotion and refusals (two bools, integer division by zero), no graph."""
    x, y = _promote2(op, x, y)
    if is_tensor(x) or is_tensor(y):
        _refuse_bool(op, (x, y), "Convert the bool tensors first, e.g. x.int().", both=True)
        _refuse_integer_zero(op, x, y)
    with np.errstate(**_IEEE):
        return _plain(ufunc, x, y)


@export(differentiable=False, method=True, torch_kwargs="no_out")
def isnan(x: TensorLike) -> Tensor:
    return _plain(np.isnan, x)


@export(differentiable=False, method=True, torch_kwargs="no_out")
def isinf(x: TensorLike) -> Tensor:
    return _plain(np.isinf, x)


@export(differentiable=False, method=True, torch_kwargs="no_out")
def isfinite(x: TensorLike) -> Tensor:
    return _plain(np.isfinite, x)


@export(differentiable=False)
def allclose(x: TensorLike, y: TensorLike, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    refuse_text("allclose", x, y, rtol, atol)
    return bool(np.allclose(as_array(x), as_array(y), rtol=rtol, atol=atol, equal_nan=equal_nan))


@export(differentiable=False)
def equal(x: TensorLike, y: TensorLike) -> bool:
    refuse_text("equal", x, y)
    return bool(np.array_equal(as_array(x), as_array(y)))
