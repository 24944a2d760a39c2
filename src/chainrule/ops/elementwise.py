"""Elementwise primitives: forward and backward side by side, then the composites built from them.

Every backward rule uses operations that work on arrays and on Tensors, so the
same rule serves first-order backward (arrays, nothing recorded) and
create_graph=True (Tensors, recorded for higher order).
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from .. import _dtypes
from ..autograd import effects as _effects
from ..autograd.function import Function
from ._util import as_array, broadcast_error, is_tensor, unbroadcast

# Python floats, not NumPy float64 scalars: NumPy 2 would let those upcast float32 arrays.
# IEEE results (log 0 = -inf, 1/0 = inf, exp 1000 = inf) are what NumPy and PyTorch return;
# the ops that can produce them silence NumPy's warnings locally, nothing else does.
_trace_state = _effects.state
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

    if _trace_state["recorder"] is not None and any(is_tensor(a) for a in args) and _effects.tracing():
        return _effects.record_plain(fn, args)
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
        # NOTE: y != 0 rather than y > 0 (the same where y = max(x, 0) >= 0): a NaN input takes
        # the gradient, as in PyTorch's threshold_backward (which zeroes only where y <= 0).
        return g * (y != 0)


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
        with np.errstate(invalid="ignore"):  # NaN in, NaN out, without NumPy's warning (as torch)
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
        at_or_above = bx >= threshold
        if is_tensor(at_or_above) or at_or_above.any():  # a recorded backward keeps both branches
            # NOTE: at beta x == threshold the slope is sigmoid(threshold) but, as in PyTorch's
            # double backward (which tests beta x < threshold), its own derivative is 0: a constant.
            above = _plain(lambda b: np.where(b > threshold, 1.0, sc.expit(threshold)).astype(b.dtype), bx)
            slope = where(at_or_above, above, slope)
        return g * slope


class Elu(Function):
    """y = scale x where x > 0, else scale alpha (e^x - 1).

    dy/dx = scale where x > 0, else scale alpha e^x; d2y/dx2 = scale alpha e^x where x < 0, else 0.

    NOTE: PyTorch's choices at the kink x = 0: the first derivative takes the exponential
    branch (scale alpha, from its x <= 0 test), the second derivative the linear one (0, from
    its x < 0 test). The slope at x >= 0 is therefore a constant, not a function of x.
    The exponential only ever sees x < 0, so no inf can leak a NaN through the branch not taken.

    Example:
        >>> elu(tensor([-1.0, 0.0, 2.0]))   # [e^-1 - 1, 0, 2]; gradient [e^-1, 1, 1]
    """

    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale = alpha, scale
        y = np.where(x > 0, x, np.expm1(np.minimum(x, 0)) * alpha)
        return y * scale if scale != 1.0 else y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        alpha, scale = ctx.alpha, ctx.scale
        negative = x < 0
        # (a NaN x takes the linear slope, as PyTorch's x <= 0 test sends it there)
        kink_or_above = _plain(lambda a: np.where(a == 0, alpha * scale, scale).astype(a.dtype), x)
        return g * where(negative, exp(where(negative, x, 0.0)) * (alpha * scale), kink_or_above)


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


class Hardtanh(Clamp):
    """y = min(max(x, min_val), max_val).   dy/dx = 1 where min_val < x < max_val, else 0.

    NOTE: the same values as clamp, but the gradient at the bounds themselves is 0 (PyTorch's
    hardtanh_backward tests x <= min_val or x >= max_val), where clamp's is 1.
    """

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _plain(functools.partial(_strictly_inside, lo=ctx.lo, hi=ctx.hi), x)


def _strictly_inside(x, lo, hi):
    return ~((x <= lo) | (x >= hi))  # not "lo < x < hi": a NaN x takes the gradient, as in PyTorch


class ClampTensor(Function):
    """y = min(max(x, lo), hi) with tensor bounds (either may be None), broadcasting.

    dy/dx = 1 where lo <= x <= hi;  dy/dlo = 1 where x < lo and lo < hi;  dy/dhi = 1 where
    x > hi or hi < lo (with lo > hi the result is hi).

    NOTE: PyTorch's masks. A tie x == lo or x == hi gives x the gradient; with lo == hi and x
    outside, no input gets one; a NaN anywhere gives NaN and no gradient.
    """

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
        return tuple(unbroadcast(g * m, shape) if need else None
                     for m, shape, need in zip(masks, ctx.shapes, ctx.needs_input_grad))

    @staticmethod
    def jvp(ctx, tx, tlo, thi):
        x, lo, hi = ctx.saved_tensors
        terms = None
        for t, m in zip((tx, tlo, thi), _clamp_masks(x, lo, hi)):
            if t is not None:
                terms = _sum_terms(terms, t * m)
        return _full(ctx, terms)


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


class Cast(Function):
    """y = x converted to another dtype.   dy/dx = 1 (the gradient is cast back)."""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        if x.dtype == dtype:
            return x.copy()
        with np.errstate(over="ignore"):  # out of range becomes inf (float32 to float16), as in PyTorch
            return x.astype(dtype, copy=False)

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
    """z = x ** y.   dz/dx = y x^(y-1),  dz/dy = x^y ln x (taken as 0 where x = 0 and y >= 0).

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
            gy = unbroadcast(g * _pow_dy(x, y, out), sy)
        return gx, gy

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y, out = ctx.saved_tensors
        dx = None if tx is None else tx * _pow_dx(x, y)
        dy = None if ty is None else ty * _pow_dy(x, y, out)
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



# ----- type promotion: the one place binary and n-ary ops convert their operands -----

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
        raise RuntimeError(f"{op}: value {value} cannot be converted to type {dtype} without overflow "
                           f"(as in PyTorch); use a tensor of a wider dtype, e.g. x.long().")


def _refuse_bool(op, operands, fix, both=False):
    """Refuse a bool operand (both=True: only when every operand is bool), naming op, dtypes and fix."""
    bools = [isinstance(a, bool) or np.asarray(as_array(a)).dtype == np.bool_ for a in operands]
    if all(bools) if both else any(bools):
        for a in operands:
            dtypes = ", ".join(str(_dtypes.result_type(b)) for b in operands)
            raise RuntimeError(f"{op}: not supported with {'bool operands' if both else 'a bool operand'} "
                               f"(operands: {dtypes}), as in PyTorch. {fix}")


def _refuse_integer_zero(op, x, y):
    """Integer division by zero raises in PyTorch (NumPy would return 0 with a warning)."""
    kind = (x if is_tensor(x) else y)._data.dtype.kind  # the promoted dtype
    if kind in "biu" and np.any(np.asarray(as_array(y)) == 0):
        raise RuntimeError(
            f"{op}: integer division by zero (ZeroDivisionError in PyTorch). Convert to floating point "
            "first (x.float()) for inf/nan results, or mask out the zero divisors."
        )

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
    """x where x > 0, else alpha (e^x - 1); elu'(0) = alpha, as in PyTorch."""
    return Elu.apply(x, alpha=float(alpha))


def selu(x):
    """scale * elu(x, alpha) with the self-normalizing constants; selu'(0) = scale alpha."""
    return Elu.apply(x, alpha=1.6732632423543772, scale=1.0507009873554805)


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
    """x limited to [min_val, max_val]; the gradient is 1 strictly inside, 0 at the bounds and outside."""
    return Hardtanh.apply(x, lo=min_val, hi=max_val)


def clamp(x, min=None, max=None):
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
    if (data is not None and (data.dtype is _FLOAT32 or data.dtype is _FLOAT64)
            and type(min) in _SCALAR_BOUNDS and type(max) in _SCALAR_BOUNDS):
        return Clamp.apply(x, lo=min, hi=max)
    tensor_bounds = is_tensor(min) or is_tensor(max) or isinstance(min, np.ndarray) or isinstance(max, np.ndarray)
    _, (x, min, max) = _promote("clamp", (x, min, max))
    if tensor_bounds:
        return ClampTensor.apply(x, min, max)
    return Clamp.apply(x, lo=as_array(min), hi=as_array(max))


_SCALAR_BOUNDS = (type(None), int, float)


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


# Binary ops compute in the operands' PyTorch result dtype (_promote2): an int tensor times 2.5
# is float32, a float32 tensor times a float64 0-d tensor stays float32.

def add(x, y, alpha=1):
    """x + alpha * y, broadcasting."""
    if alpha != 1:
        y = mul(y, alpha)
    # NOTE: the same-dtype test is written out in each op, not called: a call costs ~0.1 us, 7% of x + y.
    if not (type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype):
        x, y = _promote2("add", x, y)
    return Add.apply(x, y)


def sub(x, y, alpha=1):
    """x - alpha * y, broadcasting. Refused for bool operands, as in PyTorch."""
    if alpha != 1:
        y = mul(y, alpha)
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return Sub.apply(x, y)  # one dtype: nothing to promote (NumPy refuses two bools itself)
    px, py = _promote2("sub", x, y)
    if px is not x or py is not y or type(x) is bool or type(y) is bool:  # a bool is refused, as in torch
        _refuse_bool("sub", (x, y), "To invert a mask use ~mask or logical_not(); for the difference of "
                     "two masks use logical_xor() (^).")
    return Sub.apply(px, py)


def mul(x, y):
    """x * y, broadcasting, in the operands' PyTorch result dtype."""
    if not (type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype):
        x, y = _promote2("mul", x, y)
    return Mul.apply(x, y)


def div(x, y):
    """True division x / y; integer and bool operands give the default floating dtype (as torch)."""
    if type(x) is type(y) is _Tensor and (x._data.dtype is y._data.dtype is _FLOAT32
                                          or x._data.dtype is y._data.dtype is _FLOAT64):
        return Div.apply(x, y)
    px, py = _promote2("div", x, y)
    data = getattr(px, "_data", None)
    if data is None:
        data = getattr(py, "_data", None)
    if data is not None and data.dtype.kind in "biu":
        px, py = _promote("div", (x, y), floating=True)[1]
    return Div.apply(px, py)


def pow(x, y):
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
            raise RuntimeError("pow: not implemented for a bool tensor exponent (as in PyTorch); convert it "
                               "first, e.g. x ** y.int().")
        return _plain(lambda a, b: np.logical_or(a, np.logical_not(b)), x, y)
    if isinstance(exponent, int) and not isinstance(exponent, bool):
        if exponent < 0:
            raise RuntimeError(f"pow: integers to negative integer powers are not allowed (exponent {exponent}, "
                               "as in PyTorch); convert the base to floating point first (x.float() ** y).")
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


def maximum(x, y):
    """Elementwise max; ties split the gradient evenly; NaN propagates."""
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return Maximum.apply(x, y)
    return Maximum.apply(*_ordered("maximum", *_promote2("maximum", x, y)))


def minimum(x, y):
    """Elementwise min; ties split the gradient evenly; NaN propagates."""
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return Minimum.apply(x, y)
    return Minimum.apply(*_ordered("minimum", *_promote2("minimum", x, y)))


def _ordered(op, x, y):
    """Refuse complex operands where an order is needed (NumPy would compare them lexicographically)."""
    if getattr(getattr(x, "_data", x), "dtype", _FLOAT32).kind == "c" or isinstance(x, complex) \
            or getattr(getattr(y, "_data", y), "dtype", _FLOAT32).kind == "c" or isinstance(y, complex):
        raise RuntimeError(f"{op}: complex numbers have no order, so {op} does not support them (as in "
                           "PyTorch); compare their .abs() or .real instead.")
    return x, y


def where(condition, x, y):
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


# ----- no gradient: comparisons, rounding, tests -----

# Comparisons promote their operands first (PyTorch's rule), so int8 tensor == 300 compares with
# 300 wrapped to int8 (44), as torch does; the result is bool.

def eq(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return _plain(np.equal, x, y)
    return _plain(np.equal, *_promote2("eq", x, y))


def ne(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype:
        return _plain(np.not_equal, x, y)
    return _plain(np.not_equal, *_promote2("ne", x, y))


def lt(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.less, x, y)
    return _plain(np.less, *_ordered("lt", *_promote2("lt", x, y)))


def le(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.less_equal, x, y)
    return _plain(np.less_equal, *_ordered("le", *_promote2("le", x, y)))


def gt(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.greater, x, y)
    return _plain(np.greater, *_ordered("gt", *_promote2("gt", x, y)))


def ge(x, y):
    if type(x) is type(y) is _Tensor and x._data.dtype is y._data.dtype is _FLOAT32:
        return _plain(np.greater_equal, x, y)
    return _plain(np.greater_equal, *_ordered("ge", *_promote2("ge", x, y)))


def logical_not(x):
    return _plain(np.logical_not, x)


def logical_and(x, y):
    return _plain(np.logical_and, x, y)


def logical_or(x, y):
    return _plain(np.logical_or, x, y)


def logical_xor(x, y):
    return _plain(np.logical_xor, x, y)


def sign(x):
    """-1, 0 or 1 by the sign of x; 0 at NaN, as torch.sign (NumPy's sign gives NaN)."""
    return _plain(_sign, x)


def _sign(a):
    s = np.sign(a)
    return np.where(s == s, s, 0) if np.result_type(s).kind == "f" else s


def floor(x):
    return _plain(np.floor, x)


def ceil(x):
    return _plain(np.ceil, x)


def round(x, decimals=0):
    return _plain(lambda a: np.round(a, decimals), x)


def trunc(x):
    return _plain(np.trunc, x)


def floor_divide(x, y):
    """x // y rounded toward -inf, in the operands' result dtype; integer division by zero raises."""
    return _division_without_gradient("floor_divide", np.floor_divide, x, y)


def remainder(x, y):
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
