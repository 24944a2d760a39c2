"""Binary elementwise primitives z = f(x, y) with broadcasting, where and clamp with tensor bounds,
and the public arithmetic functions (each computes in the operands' PyTorch result dtype).

A `BinaryElementwise` primitive is its math: forward(ctx, x, y) and the partial products
dx(ctx, g, *saved) = g * df/dx, dy(ctx, g, *saved) = g * df/dy. The base notes the shapes,
names the op and shapes in a broadcast error, sums each gradient back to its input's shape
(`unbroadcast`) and applies the same partials to tangents for forward mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from ..autograd.primitive import BinaryElementwise, Primitive, export, full_tangent
from ._util import as_array, broadcast_error, is_tensor, unbroadcast
from .promotion import _FLOAT32, _FLOAT64, _check_fits, _ordered, _promote, _promote2, _refuse_bool, _to_dtype
from .unary import _IEEE, Clamp, _plain, log

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike

_Tensor = None  # set by tensor.py once Tensor exists: the same-dtype fast tests compare types with it


def _sum_terms(a, b):
    return b if a is None else a if b is None else a + b


class Add(BinaryElementwise):
    """z = x + y.   dz/dx = 1, dz/dy = 1."""

    @staticmethod
    def forward(ctx, x, y):
        return np.add(x, y)

    partials = (1, 1)


class Sub(BinaryElementwise):
    """z = x - y.   dz/dx = 1, dz/dy = -1."""

    @staticmethod
    def forward(ctx, x, y):
        return np.subtract(x, y)

    partials = (1, -1)


class Mul(BinaryElementwise):
    """z = x * y.   dz/dx = y, dz/dy = x."""

    @staticmethod
    def forward(ctx, x, y):
        # Keep only what the wanted gradients need: dz/dx needs y, dz/dy needs x.
        needs = ctx.needs_input_grad
        ctx.save_for_backward(x if needs[1] else None, y if needs[0] else None)
        return np.multiply(x, y)

    def dx(ctx, g, x, y):
        return g * y

    def dy(ctx, g, x, y):
        return g * x


class Div(BinaryElementwise):
    """z = x / y.   dz/dx = 1/y, dz/dy = -x/y^2."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, y)
        with np.errstate(**_IEEE):
            return np.true_divide(x, y)

    def dx(ctx, g, x, y):
        return g / y

    def dy(ctx, g, x, y):
        # (x / y) / y, as PyTorch: y * y under- or overflows (y = 1e-200) where the quotients do not
        return -(g * ((x / y) / y))


class Pow(BinaryElementwise):
    """z = x ** y.   dz/dx = y x^(y-1),  dz/dy = x^y ln x (taken as 0 where x = 0 and y >= 0).

    NOTE: with a constant exponent 0 the derivative is 0 everywhere (also at x = 0),
    as in PyTorch and tinygrad.
    """

    @staticmethod
    def forward(ctx, x, y):
        with np.errstate(**_IEEE):
            out = np.power(x, y)
        ctx.save_for_backward(x, y, out)
        return out

    def dx(ctx, g, x, y, out):
        return g * _pow_dx(x, y)

    def dy(ctx, g, x, y, out):
        return g * _pow_dy(x, y, out)


def _pow_dx(x, y):
    """d(x^y)/dx = y x^(y-1), and 0 wherever y = 0 (also at x = 0, where 0 * inf would be NaN)."""
    if not is_tensor(y) and np.ndim(y) == 0:
        if y == 0:
            return x * 0.0
        if type(y) in (int, float) and y == 2:
            return x * 2.0  # x ** 2: one node fewer in a recorded backward
        return y * x ** (y - 1)
    y_zero = y == 0
    if is_tensor(y_zero) or np.any(y_zero):  # a recorded backward keeps both branches
        return where(y_zero, 0.0, y * x ** (where(y_zero, 1.0, y) - 1))
    return y * x ** (y - 1)


def _pow_dy(x, y, out):
    """d(x^y)/dy = x^y ln x, taken as 0 where x = 0 and y >= 0 (PyTorch's choice).

    NOTE: at x = 0 with y < 0 it stays inf * ln 0 = -inf, as in PyTorch.
    """
    if not is_tensor(x):
        if not np.any(np.equal(x, 0)):
            return out * log(x)
        # a constant base as an array of out's dtype: where() would promote two Python floats to float32
        x = np.asarray(x, dtype=out.dtype)
    zero = _plain(_zero_base, x, y)
    return out * (log(where(zero, 1.0, x)) if is_tensor(zero) or np.any(zero) else log(x))


def _zero_base(x, y):
    return (x == 0) & (y >= 0)


class Maximum(BinaryElementwise):
    """z = max(x, y).   dz/dx = 1 where x > y, 1/2 on ties; NaN propagates (not fmax), and where
    x or y is NaN both get the whole gradient, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    def dx(ctx, g, x, y):
        return g * _plain(_share_of_larger, x, y)

    def dy(ctx, g, x, y):
        return g * _plain(_share_of_larger, y, x)


class Minimum(BinaryElementwise):
    """z = min(x, y).   dz/dx = 1 where x < y, 1/2 on ties; both get the whole gradient where one is NaN."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    def dx(ctx, g, x, y):
        return g * _plain(_share_of_smaller, x, y)

    def dy(ctx, g, x, y):
        return g * _plain(_share_of_smaller, y, x)


def _share_of_larger(x, y):
    """The share of max(x, y)'s gradient that goes to x: 1 where x wins or either is NaN, 1/2 on ties, else 0."""
    # NOTE: ties split the gradient evenly (HIPS autograd's balanced_eq, tinygrad's MAX). A NaN result
    # sends the gradient to both operands (torch masks out only the strict loser), so the NaN's
    # source is not hidden behind a zero gradient.
    dtype = np.result_type(x, y)
    return np.logical_not(np.less(x, y)).astype(dtype) - (x == y).astype(dtype) * 0.5


def _share_of_smaller(x, y):
    dtype = np.result_type(x, y)
    return np.logical_not(np.greater(x, y)).astype(dtype) - (x == y).astype(dtype) * 0.5


# ----- n-ary elementwise: where, clamp with tensor bounds -----


class Where(Primitive):
    """z = x where cond else y.   dz/dx = cond, dz/dy = not cond (cond gets no gradient)."""

    elementwise = "nary"
    differentiable = (1, 2)

    @staticmethod
    def forward(ctx, cond, x, y):
        if (type(cond) is not np.ndarray or cond.dtype != np.bool_) and not getattr(cond, "_symbolic", False):
            cond = np.asarray(cond, dtype=bool)  # (symbolic.trace's conditions stay: np.where makes a Piecewise)
        ctx.cond = cond
        ctx.shapes = (np.shape(x), np.shape(y))
        try:
            return np.where(cond, x, y)
        except ValueError as e:
            raise broadcast_error("where", cond, x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        cond = ctx.cond
        sx, sy = ctx.shapes
        _, need_x, need_y = ctx.needs_input_grad
        zero = np.zeros((), dtype=as_array(g).dtype)
        gx = unbroadcast(where(cond, g, zero), sx) if need_x else None
        gy = unbroadcast(where(cond, zero, g), sy) if need_y else None
        return None, gx, gy

    @staticmethod
    def jvp(ctx, tcond, tx, ty):
        zero = np.zeros((), dtype=ctx.dtype)
        return full_tangent(ctx, where(ctx.cond, zero if tx is None else tx, zero if ty is None else ty))


class ClampTensor(Primitive):
    """y = min(max(x, lo), hi) with tensor bounds (either may be None), broadcasting.

    dy/dx = 1 where lo <= x <= hi;  dy/dlo = 1 where x < lo and lo < hi;  dy/dhi = 1 where
    x > hi or hi < lo (with lo > hi the result is hi).

    NOTE: PyTorch's masks. A tie x == lo or x == hi gives x the gradient; with lo == hi and x
    outside, no input gets one; a NaN anywhere gives NaN and no gradient.
    """

    elementwise = "nary"

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.shapes = tuple(np.shape(a) for a in (x, lo, hi))
        ctx.save_for_backward(x, lo, hi)
        try:
            out = x if lo is None else np.maximum(x, lo)
            return out if hi is None else np.minimum(out, hi)
        except ValueError as e:
            raise broadcast_error("clamp", *[a for a in (x, lo, hi) if a is not None]) or e from None

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        masks = _clamp_masks(x, lo, hi)
        return tuple(
            unbroadcast(g * m, shape) if need else None
            for m, shape, need in zip(masks, ctx.shapes, ctx.needs_input_grad)
        )

    @staticmethod
    def jvp(ctx, tx, tlo, thi):
        x, lo, hi = ctx.saved_tensors
        terms = None
        for t, m in zip((tx, tlo, thi), _clamp_masks(x, lo, hi)):
            if t is not None:
                terms = _sum_terms(terms, t * m)
        return full_tangent(ctx, terms)


def _clamp_masks(x, lo, hi):
    """Where each of x, lo, hi takes clamp's gradient (PyTorch's clamp_backward_min_max)."""

    def to_x(x, lo, hi):
        inside = np.ones(np.broadcast_shapes(*[np.shape(a) for a in (x, lo, hi) if a is not None]), dtype=bool)
        if lo is not None:
            inside = inside & (x >= lo)
        return inside & (x <= hi) if hi is not None else inside

    def to_lo(x, lo, hi):
        return (x < lo) & (lo < hi) if hi is not None else x < lo

    def to_hi(x, lo, hi):
        return (x > hi) | (hi < lo) if lo is not None else x > hi

    present = [a for a in (x, lo, hi) if a is not None]

    def mask(rule):
        # _plain takes arrays or Tensors only: the missing bound is bound here as None.
        return _plain(lambda *arrays: rule(*_refill(arrays, (x, lo, hi))), *present)

    return (mask(to_x), None if lo is None else mask(to_lo), None if hi is None else mask(to_hi))


def _refill(arrays, template):
    it = iter(arrays)
    return [None if t is None else next(it) for t in template]


# ----- public functions -----


@export(Clamp, ClampTensor, method=True, torch_kwargs="out")
def clamp(x: TensorLike, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
    """Limit x to [min, max]; the gradient is 1 inside (bounds included), 0 outside.

    x and the bounds are promoted together, as in torch.clamp: an int tensor clamped at 2.5
    is float32, a float32 tensor clamped by a float64 0-d tensor stays float32. Bounds may be
    numbers or tensors (broadcasting). A tensor bound gets the gradient where it is the result
    (min where x < min < max, max where x > max or max < min), as in PyTorch.

    Example:
        >>> clamp(tensor([-2.0, 0.5, 3.0]), -1.0, 1.0)   # [-1.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given, as in torch.clamp")
    data = getattr(x, "_data", None)
    if (
        data is not None
        and (data.dtype is _FLOAT32 or data.dtype is _FLOAT64)
        and type(min) in _SCALAR_BOUNDS
        and type(max) in _SCALAR_BOUNDS
    ):
        return Clamp.apply(x, lo=min, hi=max)
    for bound in (min, max):
        if isinstance(bound, (str, bytes, tuple, list, dict, set)):
            raise TypeError(
                f"clamp(): min and max must be numbers or Tensors, got {type(bound).__name__} {bound!r:.40}"
            )
    tensor_bounds = is_tensor(min) or is_tensor(max) or isinstance(min, np.ndarray) or isinstance(max, np.ndarray)
    _, (x, min, max) = _promote("clamp", (x, min, max))
    if tensor_bounds:
        return ClampTensor.apply(x, min, max)
    return Clamp.apply(x, lo=as_array(min), hi=as_array(max))


_SCALAR_BOUNDS = (type(None), int, float)


@export(Clamp, ClampTensor, method=True, torch_kwargs="out")
def clip(x: TensorLike, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
    """clamp under NumPy's name (torch.clip): x limited to [min, max].

    Example:
        >>> clip(tensor([-2.0, 0.5, 3.0]), max=1.0)   # [-2.0, 0.5, 1.0]
    """
    if min is None and max is None:  # named here: the user called clip
        raise ValueError("clip: at least one of min and max must be given, as in torch.clip")
    return clamp(x, min, max)


@export(Add, method=True, torch_kwargs="out")
def add(x: TensorLike, y: TensorLike, alpha: float = 1) -> Tensor:
    """x + alpha * y, broadcasting."""
    if alpha != 1:
        y = mul(y, alpha)
    # NOTE: the same-dtype test is written out in each op, not called: a call costs ~0.1 us, 7% of x + y.
    if not (type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype):
        x, y = _promote2("add", x, y)
    return Add.apply(x, y)


@export(Sub, method=True, torch_kwargs="out")
def sub(x: TensorLike, y: TensorLike, alpha: float = 1) -> Tensor:
    """x - alpha * y, broadcasting. Refused for bool operands, as in PyTorch."""
    if alpha != 1:
        y = mul(y, alpha)
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return Sub.apply(x, y)  # one dtype: nothing to promote (NumPy refuses two bools itself)
    px, py = _promote2("sub", x, y)
    if px is not x or py is not y or type(x) is bool or type(y) is bool:  # a bool is refused, as in torch
        _refuse_bool(
            "sub",
            (x, y),
            "To invert a mask use ~mask or logical_not(); for the difference of two masks use logical_xor() (^).",
        )
    return Sub.apply(px, py)


@export(Mul, method=True, torch_kwargs="out")
def mul(x: TensorLike, y: TensorLike) -> Tensor:
    """x * y, broadcasting, in the operands' PyTorch result dtype."""
    if not (type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype):
        x, y = _promote2("mul", x, y)
    return Mul.apply(x, y)


@export(Div, method=True, torch_kwargs="out")
def div(x: TensorLike, y: TensorLike, *, rounding_mode: str | None = None) -> Tensor:
    """True division x / y; integer and bool operands give the default floating dtype (as torch).

    rounding_mode="trunc" rounds the quotient toward zero, "floor" toward -inf (x // y); both keep the
    operands' result dtype (int / int stays int) and have no gradient, as in torch.
    """
    if rounding_mode is not None:
        from .compare import rounded_division

        return rounded_division(x, y, rounding_mode)
    if type(x) is type(y) is _Tensor and (
        x._data.dtype is y._data.dtype is _FLOAT32 or x._data.dtype is y._data.dtype is _FLOAT64
    ):
        return Div.apply(x, y)
    px, py = _promote2("div", x, y)
    data = getattr(px, "_data", None)
    if data is None:
        data = getattr(py, "_data", None)
    if data is not None and data.dtype.kind in "biu":
        px, py = _promote("div", (x, y), floating=True)[1]
    return Div.apply(px, py)


@export(Pow, method=True, torch_kwargs="out")
def pow(x: TensorLike, y: TensorLike) -> Tensor:
    """x ** y; either may be a tensor (d/dy a^y = a^y ln a)."""
    px, py = _promote2("pow", x, y)
    kind = as_array(px).dtype.kind if is_tensor(px) else as_array(py).dtype.kind if is_tensor(py) else "f"
    if kind in "biu":
        return _integer_pow(px, py, kind, y)
    return Pow.apply(px, py)


def _integer_pow(x, y, kind, exponent):
    """x ** y for bool and integer tensors (no gradient), as PyTorch computes it.

    A negative Python int exponent is refused; a negative exponent inside a tensor gives the
    truncated result (0, or +-1 for bases +-1). For bools x ** y is x or not y, with a Python
    bool exponent only (a bool tensor exponent is refused).
    """
    if kind == "b":
        if is_tensor(y):
            raise RuntimeError(
                "pow: not implemented for a bool tensor exponent (as in PyTorch); convert it first, e.g. x ** y.int()."
            )
        return _plain(lambda a, b: np.logical_or(a, np.logical_not(b)), x, y)
    if isinstance(exponent, int) and not isinstance(exponent, bool):
        if exponent < 0:
            raise RuntimeError(
                f"pow: integers to negative integer powers are not allowed (exponent {exponent}, "
                "as in PyTorch); convert the base to floating point first (x.float() ** y)."
            )
        _check_fits("pow", exponent, as_array(x).dtype)
    return _plain(_truncated_int_power, x, y)


def _truncated_int_power(a, b):
    negative = np.asarray(b) < 0
    if not negative.any():
        return np.power(a, b)
    out = np.power(a, np.where(negative, 0, b))
    odd = np.asarray(b) % 2 != 0
    reciprocal = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0)).astype(out.dtype)
    return np.where(negative, reciprocal, out)


@export(Maximum, method=True, torch_kwargs="out")
def maximum(x: TensorLike, y: TensorLike) -> Tensor:
    """Elementwise max; ties split the gradient evenly; NaN propagates."""
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return Maximum.apply(x, y)
    return Maximum.apply(*_ordered("maximum", *_promote2("maximum", x, y)))


@export(Minimum, method=True, torch_kwargs="out")
def minimum(x: TensorLike, y: TensorLike) -> Tensor:
    """Elementwise min; ties split the gradient evenly; NaN propagates."""
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return Minimum.apply(x, y)
    return Minimum.apply(*_ordered("minimum", *_promote2("minimum", x, y)))


@export(Where, method=True, torch_kwargs="out")
def where(condition: TensorLike, x: TensorLike, y: TensorLike) -> Tensor:
    """x where condition holds, else y (broadcasting). No gradient leaks to the branch not taken.

    x and y are promoted together as in torch.where (a float64 0-d tensor does not widen a
    float32 tensor; a Python float makes an int tensor float32).
    """
    if is_tensor(condition) and not (is_tensor(x) or is_tensor(y)):
        # Two numbers: the result is still a Tensor, in their result dtype (where(c, 1.0, 2) is float32).
        dtype = _dtypes.result_type(x, y)
        return Where.apply(condition, _to_dtype(x, dtype, "where"), _to_dtype(y, dtype, "where")).to(dtype)
    if not (type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype):
        x, y = _promote2("where", x, y)
    return Where.apply(as_array(condition), x, y)
