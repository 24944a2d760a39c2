"""Unary elementwise primitives, y = f(x), and the public functions built on them.

Each primitive is its math: forward, backward (g * f'(x)) and, from `UnaryElementwise`, the
forward-mode rule (the Jacobian is diagonal, so jvp = vjp). Setting `function = "name"` makes
`chainrule.name(x)` and `x.name()` (see autograd/primitive.py); composites with arguments
(softplus, gelu, ...) are written by hand below and registered with `@export`.

Every backward rule uses operations that work on arrays and on Tensors, so the same rule
serves first-order backward (arrays, nothing recorded) and create_graph=True (Tensors,
recorded for higher order). `_plain` applies a NumPy function with no gradient.

A class with `function = "exp"` also defines `exp` in this module (the registry puts the
generated function here, for `from .unary import exp`); the rules below call the classes' apply.

NOTE: a little over 500 lines: eighteen primitives of one family, each a short class with its
docstring (the math), and the composites that use them.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING

import numpy as np

from ..autograd import effects as _effects
from ..autograd.primitive import UnaryElementwise, export
from ._util import as_array, broadcast_error, constant_array, is_tensor, refuse_text

if TYPE_CHECKING:
    from .._typing import DTypeLike, Tensor, TensorLike

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


def _floating(x):
    """An integer or bool array as the default float dtype, as PyTorch's exp/log/sqrt/... do (NumPy would
    give float64 for int64 and float16 for bool); floating and complex arrays unchanged."""
    if getattr(getattr(x, "dtype", None), "kind", "f") in "biu":  # (symbolic tracing passes SymPy objects)
        from .._dtypes import get_default_dtype

        return x.astype(get_default_dtype())
    return x


def _like(y, x):
    """y in x's floating dtype (scipy.special returns float32 or float64 for a float16 x)."""
    if isinstance(y, np.ndarray | np.floating) and isinstance(x, np.ndarray | np.floating) and y.dtype != x.dtype:
        return y.astype(x.dtype)
    return y


# NumPy's names of the comparisons, as the user called them (in the error path of _plain)
_TORCH_NAMES = {
    "equal": "eq",
    "not_equal": "ne",
    "less": "lt",
    "less_equal": "le",
    "greater": "gt",
    "greater_equal": "ge",
}


def _plain(fn, *args):
    """Apply a NumPy function with no gradient; a Tensor in gives a Tensor out."""
    from ..tensor import Tensor

    if _trace_state["recorder"] is not None and any(is_tensor(a) for a in args) and _effects.tracing():
        return _effects.record_plain(fn, args)
    arrays = [as_array(a) for a in args]
    try:
        out = fn(*arrays)
    except ValueError as e:
        name = getattr(fn, "__name__", "op")
        raise broadcast_error(_TORCH_NAMES.get(name, name), *arrays) or e from None
    except (TypeError, OverflowError):  # text or containers as operands, an int past int64: torch's TypeError
        bad = [a for a in arrays if a is None or isinstance(a, (str, bytes, tuple, list, dict, set, int))]
        if not bad:
            raise
        raise TypeError(
            f"{getattr(fn, '__name__', 'op')}(): expected Tensors or numbers that fit the dtype, got "
            f"{type(bad[0]).__name__} {bad[0]!r:.40}"
        ) from None
    return Tensor._make(out) if any(is_tensor(a) for a in args) else out


# ----- primitives -----


class Neg(UnaryElementwise):
    """y = -x.   dy/dx = -1."""

    function = "neg"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(UnaryElementwise):
    """y = exp(x).   dy/dx = exp(x) = y, so the output is saved, not the input."""

    function = "exp"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        with np.errstate(**_IEEE):
            y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(UnaryElementwise):
    """y = ln(x).   dy/dx = 1/x (inf at 0, as in NumPy and PyTorch)."""

    function = "log"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        with np.errstate(**_IEEE):
            return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(UnaryElementwise):
    """y = ln(1 + x), accurate for small x.   dy/dx = 1/(1 + x)."""

    function = "log1p"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        with np.errstate(**_IEEE):
            return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x + 1)


class Expm1(UnaryElementwise):
    """y = exp(x) - 1, accurate for small x.   dy/dx = exp(x) = y + 1."""

    function = "expm1"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        with np.errstate(**_IEEE):
            y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)


class Sqrt(UnaryElementwise):
    """y = sqrt(x).   dy/dx = 1/(2 sqrt(x)) = 1/(2y) (inf at 0)."""

    function = "sqrt"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        with np.errstate(**_IEEE):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y * 2)


class Abs(UnaryElementwise):
    """y = |x|.   dy/dx = sign(x); the subgradient at 0 is 0, as in PyTorch."""

    function = "abs"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _compare.sign(x)


class Sin(UnaryElementwise):
    """y = sin(x).   dy/dx = cos(x)."""

    function = "sin"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Cos.apply(x)


class Cos(UnaryElementwise):
    """y = cos(x).   dy/dx = -sin(x)."""

    function = "cos"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -(g * Sin.apply(x))


class Tan(UnaryElementwise):
    """y = tan(x).   dy/dx = 1 + tan(x)^2 = 1 + y^2."""

    function = "tan"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        with np.errstate(**_IEEE):
            y = np.tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y + 1)


class Tanh(UnaryElementwise):
    """y = tanh(x).   dy/dx = 1 - tanh(x)^2 = 1 - y^2."""

    function = "tanh"
    torch_kwargs = "out"
    namespaces = ("chainrule", "nn.functional")

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(UnaryElementwise):
    """y = 1 / (1 + exp(-x)).   dy/dx = y (1 - y).

    NOTE: computed as scipy's expit, which never overflows: exp(-x) for x >= 0
    and exp(x) / (1 + exp(x)) for x < 0.
    """

    function = "sigmoid"
    torch_kwargs = "out"
    namespaces = ("chainrule", "nn.functional")

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        y = _like(sc.expit(x), x)  # scipy computes float16 in float32 and returns that
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * (1 - y))


class Relu(UnaryElementwise):
    """y = max(x, 0).   dy/dx = 1 where x > 0, else 0 (relu'(0) = 0, as in PyTorch)."""

    function = "relu"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        # NOTE: an array against an array of zeros, not the scalar 0: NumPy vectorizes maximum only
        # for two full arrays (256x1024 float32: 0.035 ms with the zeros, 0.083 ms with the scalar).
        # Scalars take the scalar.
        if isinstance(x, np.ndarray):
            y = np.maximum(
                x, constant_array(np.zeros, x.shape, x.dtype if x.dtype.kind == "f" else np.result_type(x, 0))
            )
        elif hasattr(x, "relu"):
            # A symbolic stand-in (chainrule.symbolic) keeps relu as relu: as maximum(x, 0) it would take
            # maximum's slope at the tie, 1/2, where relu's is 0.
            y = x.relu()
        else:
            y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        # NOTE: y != 0 rather than y > 0 (the same where y = max(x, 0) >= 0): a NaN input takes
        # the gradient, as in PyTorch's threshold_backward (which zeroes only where y <= 0).
        return g * (y != 0)

    @staticmethod
    def inline(args, params, out, needs, grads, donated, into):
        """The rules above as a jit replay's code, for a float array whose zeros constant_array keeps;
        in place on x or g where the replay gives them up."""
        x = args[0]
        if getattr(x, "dtype", None) is None or np.dtype(x.dtype).kind != "f":
            return None
        zeros = constant_array(np.zeros, x.shape, x.dtype)
        if zeros.flags.writeable:  # too large to keep: the rule makes it at each call
            return None
        forward = "{o} = _np.maximum({a0}, {zeros}" + (", out={a0})" if "a0" in donated else ")")
        backward = "{d0} = _np.multiply({g}, {o} != 0, out={g})" if "g" in donated else "{d0} = {g} * ({o} != 0)"
        return forward, backward, {"zeros": zeros}


class Softplus(UnaryElementwise):
    """y = ln(1 + exp(beta x)) / beta, linear above x beta > threshold.   dy/dx = sigmoid(beta x).

    NOTE: computed as logaddexp(0, beta x) / beta, which never overflows.
    """

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
        slope = Sigmoid.apply(bx)
        at_or_above = bx >= threshold
        if is_tensor(at_or_above) or at_or_above.any():  # a recorded backward keeps both branches
            # NOTE: at beta x == threshold the slope is sigmoid(threshold) but, as in PyTorch's
            # double backward (which tests beta x < threshold), its own derivative is 0: a constant.
            above = _plain(lambda b: np.where(b > threshold, 1.0, sc.expit(threshold)).astype(b.dtype), bx)
            slope = _binary.where(at_or_above, above, slope)
        return g * slope


class Elu(UnaryElementwise):
    """y = scale x where x > 0, else scale alpha (e^x - 1).

    dy/dx = scale where x > 0, else scale alpha e^x; d2y/dx2 = scale alpha e^x where x < 0, else 0.

    NOTE: PyTorch's choices at the kink x = 0: the first derivative takes the exponential
    branch (scale alpha, from its x <= 0 test), the second derivative the linear one (0, from
    its x < 0 test). The slope at x >= 0 is therefore a constant, not a function of x.
    The exponential only ever sees x < 0, so no inf can leak a NaN through the branch not taken.

    Example:
        >>> elu(tensor([-1.0, 0.0, 2.0]))   # [e^-1 - 1, 0, 2]; gradient [e^-1, 1, 1]
    """

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
        where = _binary.where
        return g * where(negative, Exp.apply(where(negative, x, 0.0)) * (alpha * scale), kink_or_above)


class Erf(UnaryElementwise):
    """y = erf(x).   dy/dx = 2/sqrt(pi) exp(-x^2)."""

    function = "erf"
    torch_kwargs = "out"

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return _like(sc.erf(x), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (Exp.apply(-(x * x)) * _SQRT_2_OVER_PI)


class Clamp(UnaryElementwise):
    """y = min(max(x, lo), hi).   dy/dx = 1 where lo <= x <= hi, else 0 (PyTorch's boundary rule)."""

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


class Cast(UnaryElementwise):
    """y = x converted to another dtype.   dy/dx = 1 (the gradient is cast back)."""

    jvp_is_vjp = False  # the tangent keeps the output's dtype: its own rule below

    @staticmethod
    def forward(ctx, x, dtype=None):
        if not hasattr(x, "dtype"):  # a Python number
            x = np.asarray(x)
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


class Clone(UnaryElementwise):
    """y = a copy of x.   dy/dx = 1."""

    function = "clone"
    namespaces = ()  # a Tensor method only, as in PyTorch's x.clone()

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


# ----- public functions written by hand (arguments, composites), found through the registry -----

_CR = ("chainrule",)
_CR_F = ("chainrule", "nn.functional")


@export(Log, method=True, torch_kwargs="out")
def log2(x: TensorLike) -> Tensor:
    """Base-2 logarithm, ln(x) / ln 2."""
    return Log.apply(x) * _INV_LN2


@export(Log, method=True, torch_kwargs="out")
def log10(x: TensorLike) -> Tensor:
    """Base-10 logarithm, ln(x) / ln 10."""
    return Log.apply(x) * _INV_LN10


@export(Sqrt, method=True, torch_kwargs="out")
def rsqrt(x: TensorLike) -> Tensor:
    """1 / sqrt(x)."""
    return 1.0 / Sqrt.apply(x)


@export("Mul", method=True, torch_kwargs="out")
def square(x: TensorLike) -> Tensor:
    """x * x."""
    return _binary.Mul.apply(x, x)


@export("Div", method=True, torch_kwargs="out")
def reciprocal(x: TensorLike) -> Tensor:
    """1 / x."""
    return _binary.Div.apply(1.0, x)


@export(Softplus, namespaces=_CR_F)
def softplus(x: TensorLike, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(beta x)) / beta, linear where beta x > threshold (PyTorch's F.softplus)."""
    refuse_text("softplus", beta, threshold)
    return Softplus.apply(x, beta=beta, threshold=threshold)


@export("Where")  # (nn.functional has its own, with inplace=)
def leaky_relu(x: TensorLike, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return _binary.where(x > 0, x, x * negative_slope)


@export(Elu)
def elu(x: TensorLike, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (e^x - 1); elu'(0) = alpha, as in PyTorch."""
    return Elu.apply(x, alpha=float(alpha))


@export(Elu, namespaces=())
def selu(x: TensorLike) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants; selu'(0) = scale alpha."""
    return Elu.apply(x, alpha=1.6732632423543772, scale=1.0507009873554805)


@export(Erf, Tanh, namespaces=_CR_F)
def gelu(x: TensorLike, approximate: str = "none") -> Tensor:
    """x Phi(x) (exact, with erf) or its tanh approximation (approximate='tanh'), as PyTorch."""
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI_HALF
        return x * 0.5 * (Tanh.apply(inner) + 1.0)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (Erf.apply(x * _INV_SQRT2) + 1.0)


@export(Sigmoid, namespaces=_CR_F)
def silu(x: TensorLike) -> Tensor:
    """x sigmoid(x) (also called swish)."""
    return x * Sigmoid.apply(x)


@export(Tanh, Softplus, namespaces=())
def mish(x: TensorLike) -> Tensor:
    """x tanh(softplus(x))."""
    return x * Tanh.apply(softplus(x))


@export(Hardtanh, namespaces=())
def hardtanh(x: TensorLike, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x limited to [min_val, max_val]; the gradient is 1 strictly inside, 0 at the bounds and outside."""
    refuse_text("hardtanh", min_val, max_val)
    return Hardtanh.apply(x, lo=min_val, hi=max_val)


@export(Cast, namespaces=())
def cast(x: TensorLike, dtype: DTypeLike) -> Tensor:
    """x converted to dtype; differentiable between floating dtypes."""
    dtype = np.dtype(dtype)
    if np.result_type(as_array(x)) == dtype:
        return x
    if dtype.kind not in "fc" and is_tensor(x):
        return _plain(lambda a: a.astype(dtype), x)
    return Cast.apply(x, dtype=dtype)


# (at the end: binary.py and compare.py build on this module)
from . import binary as _binary  # noqa: E402
from . import compare as _compare  # noqa: E402
