"""Elementwise primitives: forward and backward side by side, then the composites built from them.

Every backward rule uses operations that work on arrays and on Tensors, so the
same rule serves first-order backward (arrays, nothing recorded) and
create_graph=True (Tensors, recorded for higher order).
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from ..autograd import jit as _jit
from ..autograd.function import Function
from ._util import as_array, broadcast_error, is_tensor, unbroadcast

# Python floats, not NumPy float64 scalars: NumPy 2 would let those upcast float32 arrays.
# IEEE results (log 0 = -inf, 1/0 = inf, exp 1000 = inf) are what NumPy and PyTorch return;
# the ops that can produce them silence NumPy's warnings locally, nothing else does.
_jit_state = _jit._state
_IEEE = dict(divide="ignore", over="ignore", invalid="ignore")


class _LazyScipySpecial:
    """scipy.special, imported on first use: it costs ~0.15 s, most of `import chainrule`.

    The first attribute access imports it and puts the real module in this module's
    globals, so later calls pay nothing.
    """

    def __getattr__(self, name):
        import scipy.special

        sys.modules[__name__].sc = scipy.special
        return getattr(scipy.special, name)


sc = _LazyScipySpecial()

_SQRT_2_OVER_PI = float(2.0 / np.sqrt(np.pi))
_INV_LN2 = float(1.0 / np.log(2.0))
_INV_LN10 = float(1.0 / np.log(10.0))
_SQRT_2_OVER_PI_HALF = float(np.sqrt(2.0 / np.pi))
_INV_SQRT2 = float(1.0 / np.sqrt(2.0))


def _plain(fn, *args):
    """Apply a NumPy function with no gradient; a Tensor in gives a Tensor out."""
    from ..tensor import Tensor

    if _jit_state["recorder"] is not None and any(is_tensor(a) for a in args) and _jit.tracing():
        return _jit.record_plain(fn, args)
    arrays = [as_array(a) for a in args]
    try:
        out = fn(*arrays)
    except ValueError as e:
        raise broadcast_error(getattr(fn, "__name__", "op"), *arrays) or e from None
    return Tensor._make(out) if any(is_tensor(a) for a in args) else out


# ----- unary -----

class Neg(Function):
    """y = -x.   dy/dx = -1."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = exp(x).   dy/dx = exp(x) = y, so the output is saved, not the input."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_IEEE):
            y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = ln(x).   dy/dx = 1/x (inf at 0, as in NumPy and PyTorch)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(**_IEEE):
            return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(Function):
    """y = ln(1 + x), accurate for small x.   dy/dx = 1/(1 + x)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(**_IEEE):
            return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x + 1)


class Expm1(Function):
    """y = exp(x) - 1, accurate for small x.   dy/dx = exp(x) = y + 1."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_IEEE):
            y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


class Sqrt(Function):
    """y = sqrt(x).   dy/dx = 1/(2 sqrt(x)) = 1/(2y) (inf at 0)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_IEEE):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y * 2)


class Abs(Function):
    """y = |x|.   dy/dx = sign(x); the subgradient at 0 is 0, as in PyTorch."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sign(x)


class Sin(Function):
    """y = sin(x).   dy/dx = cos(x)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * cos(x)


class Cos(Function):
    """y = cos(x).   dy/dx = -sin(x)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -(g * sin(x))


class Tan(Function):
    """y = tan(x).   dy/dx = 1 + tan(x)^2 = 1 + y^2."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_IEEE):
            y = np.tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y + 1)


class Tanh(Function):
    """y = tanh(x).   dy/dx = 1 - tanh(x)^2 = 1 - y^2."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).   dy/dx = y (1 - y).

    NOTE: computed as scipy's expit, which never overflows: exp(-x) for x >= 0
    and exp(x) / (1 + exp(x)) for x < 0.
    """

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        y = sc.expit(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * (1 - y))


class Relu(Function):
    """y = max(x, 0).   dy/dx = 1 where x > 0, else 0 (relu'(0) = 0, as in PyTorch)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        # NOTE: an array against an array of zeros, not the scalar 0: NumPy vectorizes maximum only
        # for two full arrays (256x1024 float32: 0.035 ms with the zeros, 0.083 ms with the scalar).
        # Anything else (scalars, symbolic traces) takes the scalar.
        zero = np.zeros(x.shape, np.result_type(x, 0)) if isinstance(x, np.ndarray) else 0
        y = np.maximum(x, zero)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y > 0)


class Softplus(Function):
    """y = ln(1 + exp(beta x)) / beta, linear above x beta > threshold.   dy/dx = sigmoid(beta x).

    NOTE: computed as logaddexp(0, beta x) / beta, which never overflows.
    """

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        bx = x * beta if beta != 1 else x
        y = np.logaddexp(0, bx)
        if beta != 1:
            y = y / beta
        return np.where(bx > threshold, x, y)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.beta, ctx.threshold
        bx = x * beta if beta != 1 else x
        slope = sigmoid(bx)
        linear = bx > threshold
        if is_tensor(linear) or linear.any():  # a recorded backward keeps both branches
            slope = where(linear, 1.0, slope)
        return g * slope


class Erf(Function):
    """y = erf(x).   dy/dx = 2/sqrt(pi) exp(-x^2)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return sc.erf(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (exp(-(x * x)) * _SQRT_2_OVER_PI)


class Clamp(Function):
    """y = min(max(x, lo), hi).   dy/dx = 1 where lo <= x <= hi, else 0 (PyTorch's boundary rule)."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clamp: at least one of min and max must be given")
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _plain(functools.partial(_inside, lo=ctx.lo, hi=ctx.hi), x)


def _inside(x, lo, hi):
    """lo <= x <= hi (a missing bound holds everywhere)."""
    inside = np.ones(np.shape(x), dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return inside


class Cast(Function):
    """y = x converted to another dtype.   dy/dx = 1 (the gradient is cast back)."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype, copy=False) if x.dtype != dtype else x.copy()

    @staticmethod
    def backward(ctx, g):
        return cast(g, ctx.in_dtype)

    @staticmethod
    def jvp(ctx, t):
        return cast(t, ctx.dtype)


class Clone(Function):
    """y = a copy of x.   dy/dx = 1."""

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


# ----- binary (broadcasting) -----

def _full(ctx, t):
    """A tangent broadcast to the node's output shape (an input's may be smaller)."""
    from .shape import broadcast_to

    return t if tuple(t.shape) == ctx.shape else broadcast_to(t, ctx.shape)


def _sum_terms(a, b):
    return b if a is None else a if b is None else a + b


def _shapes(ctx, x, y):
    ctx.shapes = (x.shape if type(x) is np.ndarray else np.shape(x),
                  y.shape if type(y) is np.ndarray else np.shape(y))


class Add(Function):
    """z = x + y.   dz/dx = 1, dz/dy = 1."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        try:
            return np.add(x, y)
        except ValueError as e:
            raise broadcast_error("add", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(g, sx) if need_x else None, unbroadcast(g, sy) if need_y else None)

    @staticmethod
    def jvp(ctx, tx, ty):
        return _full(ctx, tx if ty is None else ty if tx is None else tx + ty)


class Sub(Function):
    """z = x - y.   dz/dx = 1, dz/dy = -1."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        try:
            return np.subtract(x, y)
        except ValueError as e:
            raise broadcast_error("sub", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(g, sx) if need_x else None, unbroadcast(-g, sy) if need_y else None)

    @staticmethod
    def jvp(ctx, tx, ty):
        return _full(ctx, tx if ty is None else -ty if tx is None else tx - ty)


class Mul(Function):
    """z = x * y.   dz/dx = y, dz/dy = x."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        need_x, need_y = ctx.needs_input_grad or (False, False)
        # Keep only what the wanted gradients need: dz/dx needs y, dz/dy needs x.
        ctx.save_for_backward(x if need_y else None, y if need_x else None)
        try:
            return np.multiply(x, y)
        except ValueError as e:
            raise broadcast_error("mul", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        return (unbroadcast(g * y, sx) if need_x else None, unbroadcast(g * x, sy) if need_y else None)

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return _full(ctx, _sum_terms(None if tx is None else tx * y, None if ty is None else x * ty))


class Div(Function):
    """z = x / y.   dz/dx = 1/y, dz/dy = -x/y^2."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        ctx.save_for_backward(x if ctx.needs_input_grad and ctx.needs_input_grad[1] else None, y)
        try:
            with np.errstate(**_IEEE):
                return np.true_divide(x, y)
        except ValueError as e:
            raise broadcast_error("div", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        gx = unbroadcast(g / y, sx) if need_x else None
        gy = unbroadcast(-(g * x) / (y * y), sy) if need_y else None
        return gx, gy

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return _full(ctx, _sum_terms(None if tx is None else tx / y, None if ty is None else -(x * ty) / (y * y)))


class Pow(Function):
    """z = x ** y.   dz/dx = y x^(y-1),  dz/dy = x^y ln x (taken as 0 where x = 0).

    NOTE: with a constant exponent 0 the derivative is 0 everywhere (also at x = 0),
    as in PyTorch and tinygrad.
    """

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        try:
            with np.errstate(**_IEEE):
                out = np.power(x, y)
        except ValueError as e:
            raise broadcast_error("pow", x, y) or e from None
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y, out = ctx.saved_tensors
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        gx = gy = None
        if need_x:
            gx = unbroadcast(g * _pow_dx(x, y), sx)
        if need_y:
            gy = unbroadcast(g * _pow_dy(x, out), sy)
        return gx, gy

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y, out = ctx.saved_tensors
        dx = None if tx is None else tx * _pow_dx(x, y)
        dy = None if ty is None else ty * _pow_dy(x, out)
        return _full(ctx, _sum_terms(dx, dy))


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


def _pow_dy(x, out):
    """d(x^y)/dy = x^y ln x, taken as 0 where x = 0 (PyTorch's choice)."""
    zero = x == 0
    return out * (log(where(zero, 1.0, x)) if is_tensor(zero) or np.any(zero) else log(x))


class Maximum(Function):
    """z = max(x, y).   dz/dx = 1 where x > y, 1/2 on ties; NaN propagates (not fmax)."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        ctx.save_for_backward(x, y)
        try:
            return np.maximum(x, y)
        except ValueError as e:
            raise broadcast_error("maximum", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _tie_split(ctx, g, _plain(_share_of_larger, x, y))

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return _tie_split_jvp(ctx, tx, ty, _plain(_share_of_larger, x, y))


class Minimum(Function):
    """z = min(x, y).   dz/dx = 1 where x < y, 1/2 on ties."""

    @staticmethod
    def forward(ctx, x, y):
        _shapes(ctx, x, y)
        ctx.save_for_backward(x, y)
        try:
            return np.minimum(x, y)
        except ValueError as e:
            raise broadcast_error("minimum", x, y) or e from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _tie_split(ctx, g, _plain(_share_of_smaller, x, y))

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        return _tie_split_jvp(ctx, tx, ty, _plain(_share_of_smaller, x, y))


def _share_of_larger(x, y):
    """The share of max(x, y)'s gradient that goes to x: 1 where x wins, 1/2 on ties, else 0."""
    # NOTE: ties split the gradient evenly (HIPS autograd's balanced_eq, tinygrad's MAX).
    dtype = np.result_type(x, y)
    return np.greater(x, y).astype(dtype) + (x == y).astype(dtype) * 0.5


def _share_of_smaller(x, y):
    dtype = np.result_type(x, y)
    return np.less(x, y).astype(dtype) + (x == y).astype(dtype) * 0.5


def _tie_split_jvp(ctx, tx, ty, to_x):
    return _full(ctx, _sum_terms(None if tx is None else tx * to_x, None if ty is None else ty * (1 - to_x)))


def _tie_split(ctx, g, to_x):
    sx, sy = ctx.shapes
    need_x, need_y = ctx.needs_input_grad
    return (unbroadcast(g * to_x, sx) if need_x else None,
            unbroadcast(g * (1 - to_x), sy) if need_y else None)


class Where(Function):
    """z = x where cond else y.   dz/dx = cond, dz/dy = not cond (cond gets no gradient)."""

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
        return _full(ctx, where(ctx.cond, zero if tx is None else tx, zero if ty is None else ty))


# ----- public functions -----

def neg(x):
    """-x."""
    return Neg.apply(x)


def exp(x):
    """e^x, elementwise."""
    return Exp.apply(x)


def log(x):
    """Natural logarithm; log(0) = -inf."""
    return Log.apply(x)


def log1p(x):
    """ln(1 + x), accurate near 0."""
    return Log1p.apply(x)


def expm1(x):
    """e^x - 1, accurate near 0."""
    return Expm1.apply(x)


def log2(x):
    """Base-2 logarithm, ln(x) / ln 2."""
    return Log.apply(x) * _INV_LN2


def log10(x):
    """Base-10 logarithm, ln(x) / ln 10."""
    return Log.apply(x) * _INV_LN10


def sqrt(x):
    """Square root; its derivative at 0 is inf."""
    return Sqrt.apply(x)


def rsqrt(x):
    """1 / sqrt(x)."""
    return 1.0 / Sqrt.apply(x)


def square(x):
    """x * x."""
    return Mul.apply(x, x)


def reciprocal(x):
    """1 / x."""
    return Div.apply(1.0, x)


def abs(x):
    """|x|, with subgradient 0 at 0."""
    return Abs.apply(x)


def sin(x):
    return Sin.apply(x)


def cos(x):
    return Cos.apply(x)


def tan(x):
    return Tan.apply(x)


def tanh(x):
    """Hyperbolic tangent; derivative 1 - tanh^2."""
    return Tanh.apply(x)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + e^-x), overflow-free; derivative s (1 - s)."""
    return Sigmoid.apply(x)


def relu(x):
    """max(x, 0); relu'(0) = 0."""
    return Relu.apply(x)


def erf(x):
    """The error function."""
    return Erf.apply(x)


def softplus(x, beta=1.0, threshold=20.0):
    """ln(1 + e^(beta x)) / beta, linear where beta x > threshold (PyTorch's F.softplus)."""
    return Softplus.apply(x, beta=beta, threshold=threshold)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    return where(x > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    """x where x > 0, else alpha (e^x - 1).

    NOTE: the exponential branch sees min(x, 0), so a large x cannot make an
    inf that would turn into a NaN gradient through the branch not taken.
    """
    return where(x > 0, x, expm1(minimum(x, 0.0)) * alpha)


def selu(x):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return elu(x, 1.6732632423543772) * 1.0507009873554805


def gelu(x, approximate="none"):
    """x Phi(x) (exact, with erf) or its tanh approximation (approximate='tanh'), as PyTorch."""
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI_HALF
        return x * 0.5 * (tanh(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (erf(x * _INV_SQRT2) + 1.0)


def silu(x):
    """x sigmoid(x) (also called swish)."""
    return x * sigmoid(x)


def mish(x):
    """x tanh(softplus(x))."""
    return x * tanh(softplus(x))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return Clamp.apply(x, lo=min_val, hi=max_val)


def clamp(x, min=None, max=None):
    """Limit x to [min, max]; the gradient is 1 inside (bounds included), 0 outside."""
    return Clamp.apply(x, lo=min, hi=max)


clip = clamp


def cast(x, dtype):
    """x converted to dtype; differentiable between floating dtypes."""
    dtype = np.dtype(dtype)
    if as_array(x).dtype == dtype:
        return x
    if dtype.kind not in "fc" and is_tensor(x):
        return _plain(lambda a: a.astype(dtype), x)
    return Cast.apply(x, dtype=dtype)


def clone(x):
    """A copy that stays connected to the graph."""
    return Clone.apply(x)


def add(x, y, alpha=1):
    """x + alpha * y, broadcasting."""
    return Add.apply(x, y if alpha == 1 else Mul.apply(y, alpha))


def sub(x, y, alpha=1):
    """x - alpha * y, broadcasting."""
    return Sub.apply(x, y if alpha == 1 else Mul.apply(y, alpha))


def mul(x, y):
    return Mul.apply(x, y)


def div(x, y):
    """True division x / y."""
    return Div.apply(x, y)


def pow(x, y):
    """x ** y; either may be a tensor (d/dy a^y = a^y ln a)."""
    return Pow.apply(x, y)


def maximum(x, y):
    """Elementwise max; ties split the gradient evenly; NaN propagates."""
    return Maximum.apply(x, y)


def minimum(x, y):
    """Elementwise min; ties split the gradient evenly; NaN propagates."""
    return Minimum.apply(x, y)


def where(condition, x, y):
    """x where condition holds, else y (broadcasting). No gradient leaks to the branch not taken."""
    return Where.apply(as_array(condition), x, y)


# ----- no gradient: comparisons, rounding, tests -----

def eq(x, y):
    return _plain(np.equal, x, y)


def ne(x, y):
    return _plain(np.not_equal, x, y)


def lt(x, y):
    return _plain(np.less, x, y)


def le(x, y):
    return _plain(np.less_equal, x, y)


def gt(x, y):
    return _plain(np.greater, x, y)


def ge(x, y):
    return _plain(np.greater_equal, x, y)


def logical_not(x):
    return _plain(np.logical_not, x)


def logical_and(x, y):
    return _plain(np.logical_and, x, y)


def logical_or(x, y):
    return _plain(np.logical_or, x, y)


def logical_xor(x, y):
    return _plain(np.logical_xor, x, y)


def sign(x):
    return _plain(np.sign, x)


def floor(x):
    return _plain(np.floor, x)


def ceil(x):
    return _plain(np.ceil, x)


def round(x, decimals=0):
    return _plain(lambda a: np.round(a, decimals), x)


def trunc(x):
    return _plain(np.trunc, x)


def floor_divide(x, y):
    return _plain(np.floor_divide, x, y)


def remainder(x, y):
    return _plain(np.remainder, x, y)


def isnan(x):
    return _plain(np.isnan, x)


def isinf(x):
    return _plain(np.isinf, x)


def isfinite(x):
    return _plain(np.isfinite, x)


def allclose(x, y, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(np.allclose(as_array(x), as_array(y), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(x, y) -> bool:
    return bool(np.array_equal(as_array(x), as_array(y)))


NONDIFFERENTIABLE = ("eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or",
                     "logical_xor", "sign", "floor", "ceil", "round", "trunc", "floor_divide", "remainder",
                     "isnan", "isinf", "isfinite")
