"""Ops with no gradient: comparisons, logical ops, rounding, floor division, tests (isnan, ...).
Each is a NumPy function applied with `_plain` and registered with `@export` as not differentiable
(the op table's coverage test leaves them out). The one primitive here is Remainder: floating x % y
has torch's gradient (1 for x, -floor(x / y) for y), next to the floor division it needs.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import BinaryElementwise, export
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
def bitwise_not(x: TensorLike) -> Tensor:
    """~x: every bit flipped for integers (~5 is -6), logical not for bools, as torch.bitwise_not."""
    _refuse_non_integer("bitwise_not", (x,))
    return _plain(np.invert, x)


@export(differentiable=False, method=True, torch_kwargs="out")
def bitwise_and(x: TensorLike, y: TensorLike) -> Tensor:
    """x & y bit by bit in the operands' result dtype (int64 & int64 is int64, bool & bool is bool)."""
    return _bitwise("bitwise_and", np.bitwise_and, x, y)


@export(differentiable=False, method=True, torch_kwargs="out")
def bitwise_or(x: TensorLike, y: TensorLike) -> Tensor:
    """x | y bit by bit in the operands' result dtype."""
    return _bitwise("bitwise_or", np.bitwise_or, x, y)


@export(differentiable=False, method=True, torch_kwargs="out")
def bitwise_xor(x: TensorLike, y: TensorLike) -> Tensor:
    """x ^ y bit by bit in the operands' result dtype."""
    return _bitwise("bitwise_xor", np.bitwise_xor, x, y)


def _bitwise(op, ufunc, x, y):
    _refuse_non_integer(op, (x, y))
    return _plain(ufunc, *_promote2(op, x, y))


def _refuse_non_integer(op, operands):
    """Bitwise ops are for integer and bool operands only, as in torch (NumPy refuses floats with a bare TypeError)."""
    kinds = [np.asarray(as_array(a)).dtype for a in operands]
    if any(k.kind not in "biu" for k in kinds):
        raise TypeError(
            f"{op}: only integer and bool tensors have bits to combine, got {', '.join(map(str, kinds))} (as in "
            "PyTorch); for a mask of a float tensor compare it first, e.g. (x > 0) & (y > 0), or use logical_and()"
        )


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
    _refuse_bool_rounding("floor", x)
    return _plain(np.floor, x)


@export(differentiable=False, method=True, torch_kwargs="out")
def ceil(x: TensorLike) -> Tensor:
    _refuse_bool_rounding("ceil", x)
    return _plain(np.ceil, x)


def _refuse_bool_rounding(op, x):
    """torch has no rounding of bool tensors (NumPy's round of a bool array is a float16 one)."""
    if is_tensor(x) and x._data.dtype == np.bool_:
        raise RuntimeError(
            f"{op}: not implemented for a bool tensor (shape {tuple(x.shape)}), as in PyTorch; a bool is already "
            "a whole number: convert it first if a number is wanted, e.g. x.float() or x.long()"
        )


@export(differentiable=False, method=True, torch_kwargs="out")
def round(x: TensorLike, decimals: int = 0) -> Tensor:
    decimals = int_arg("round", "decimals", decimals)
    _refuse_bool_rounding("round", x)
    dtype = np.asarray(as_array(x)).dtype
    # float16 is scaled in float32 and rounded back, as torch: in float16 x * 10**decimals overflows
    # (round(166.5, decimals=5) was -inf) and each scaling rounds to 11 bits
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    if dtype.kind in "fc":
        # past the largest power of ten of the dtype computed in there are no such digits (and 10**decimals
        # would overflow to inf, NumPy's C int past 2**31): the value there is the same
        top = int(np.log10(np.finfo(work).max))
        decimals = builtins.max(-top, builtins.min(top, decimals))
    if decimals and dtype.kind in "biu":
        raise NotImplementedError(
            f"round(): decimals={decimals} is implemented for floating point tensors only, as in torch; "
            "convert with .float() first"
        )
    if work is not dtype and decimals:
        return _plain(lambda a: np.round(a.astype(work), decimals).astype(dtype), x)
    return _plain(lambda a: np.round(a, decimals), x)


@export(differentiable=False, method=True, torch_kwargs="out")
def trunc(x: TensorLike) -> Tensor:
    _refuse_bool_rounding("trunc", x)
    return _plain(np.trunc, x)


@export(differentiable=False, namespaces=())
def floor_divide(x: TensorLike, y: TensorLike) -> Tensor:
    """x // y rounded toward -inf, in the operands' result dtype; integer division by zero raises."""
    return _division_without_gradient("floor_divide", np.floor_divide, x, y)


class Remainder(BinaryElementwise):
    """z = x mod y with the sign of y (Python's %, torch.remainder): z = x - floor(x / y) y.
    dz/dx = 1, dz/dy = -floor(x / y) (between the jumps; torch's rule at them too)."""

    @staticmethod
    def forward(ctx, x, y):
        needs_y = ctx.needs_input_grad[1]
        ctx.save_for_backward(x if needs_y else None, y if needs_y else None)
        with np.errstate(**_IEEE):
            return np.remainder(x, y)

    def dx(ctx, g, x, y):
        return g

    def dy(ctx, g, x, y):
        return -(g * floor_divide(x, y))


@export(Remainder, namespaces=())
def remainder(x: TensorLike, y: TensorLike) -> Tensor:
    """x mod y with the sign of y (Python's %), in the operands' result dtype; for floating operands
    d/dx = 1 and d/dy = -floor(x / y), as torch.remainder (integers have no gradient)."""
    px, py = _promote2("remainder", x, y)
    data = getattr(px, "_data", None)
    if data is None:
        data = getattr(py, "_data", None)
    if data is not None and data.dtype.kind == "f":
        return Remainder.apply(px, py)
    return _division_without_gradient("remainder", np.remainder, x, y)


def rounded_division(x: TensorLike, y: TensorLike, rounding_mode: str) -> Tensor:
    """div(x, y, rounding_mode=...): the quotient rounded toward zero ("trunc") or -inf ("floor")."""
    if rounding_mode == "floor":
        return _division_without_gradient("div", np.floor_divide, x, y)
    if rounding_mode == "trunc":
        return _division_without_gradient("div", _trunc_divide, x, y)
    raise ValueError(
        f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found {rounding_mode!r} (as torch.div)"
    )


def _trunc_divide(a, b):
    """a / b rounded toward zero; for integers exactly (no detour through float64, which rounds past 2**53)."""
    if np.result_type(a, b).kind in "fc":
        return np.trunc(np.true_divide(a, b))
    quotient = np.floor_divide(a, b)
    inexact_negative = (np.remainder(a, b) != 0) & ((np.asarray(a) < 0) != (np.asarray(b) < 0))
    return quotient + inexact_negative.astype(quotient.dtype)


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
