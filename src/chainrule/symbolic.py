"""The SymPy bridge: symbolic derivatives of functions written with chainrule ops.

Tracing. `trace(f, "x")` calls `f` with a symbolic stand-in for x. chainrule's
primitives run NumPy ufuncs on what they are given when it is not a Tensor (the
same path backward rules use on arrays), and NumPy hands any ufunc applied to an
object with `__array_ufunc__` back to that object: so `cr.exp(x)`, `cr.tanh(x)`,
`cr.sigmoid(x)`, `cr.relu(x)`, `cr.softplus(x)`, `cr.softmax(z, dim=0)` and the
operators all build SymPy expressions, with no change to the ops and no patching.
Numerical guards in forward code are dropped so the result is the exact formula
(softplus's switch to x above 20 becomes log(1 + e^x); softmax's max-shift is
kept as Max, which cancels).

    >>> import chainrule as cr, chainrule.symbolic as sym
    >>> sym.diff(lambda x: cr.tanh(x), "x")                  # 1 - tanh(x)**2
    >>> sym.identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1)
    IdentityCheck(symbolic=True, numeric=True, max_abs_error=...)

Strings. `trace("x**10 - 2*x**8")`, `diff("a**x", "x")` and the others accept an
expression string too: it is read by `chainrule.expression` (a safe parser with size
budgets, never eval), whose `parse`, `parse_ast`, `evaluate`, `parse_point` and
`ExpressionError` are re-exported here.

NOTE: a little over 500 lines: most of it is `Sym`, the stand-in that must answer every operator,
ufunc and array method a chainrule op may apply to it; the transforms on top are short.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

# the parser lives in chainrule.expression; these names stay importable from here
from .expression import (  # noqa: F401
    CONSTANTS,
    FUNCTIONS,
    ExpressionError,
    evaluate,
    parse,
    parse_ast,  # noqa: F401
    parse_point,
    time_budget,
    tokenize,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

# ----- symbolic stand-ins for tensors -----


def _sp():
    import sympy

    return sympy


class ConcretizationError(TypeError):
    """trace() met Python that needs a symbolic value's truth or number: `if`/`while` on it,
    bool(), int(), float(), range(). With symbols there is no single answer, and taking one
    branch would silently give a formula that holds only on part of the domain (as JAX's
    ConcretizationTypeError and torch.fx's TraceError refuse the same). Write branches with
    chainrule.where(cond, a, b), which traces to sympy.Piecewise.
    """


def _site():
    """'file:line (`source`)' of the line that asked for the value, and of the user's call when
    that line is inside chainrule (an op that branches on its input)."""
    import linecache

    from .autograd import function

    frame = sys._getframe(3)  # the caller of __bool__/__float__/... (past _refuse and _site)
    here = f"{frame.f_code.co_filename}:{frame.f_lineno}"
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    if source:
        here += f" (`{source}`)"
    user = function.user_site(3)
    if user is not None and (user[0], user[1]) != (frame.f_code.co_filename, frame.f_lineno):
        here += f", inside chainrule code called from {user[0]}:{user[1]}"
    return here


class Sym:
    """A SymPy expression (or a vector of them) that chainrule's ops and NumPy ufuncs accept.

    `.expr` is the SymPy expression (a tuple of them for a vector).
    """

    __slots__ = ("items", "vector")
    __array_priority__ = 1000
    _symbolic = True  # chainrule.where keeps a symbolic condition (np.where below makes a Piecewise)

    def __init__(self, expr: Any) -> None:
        if isinstance(expr, (list, tuple)):
            self.items, self.vector = tuple(_sp().sympify(e) if not _is_sympy(e) else e for e in expr), True
        else:
            self.items, self.vector = (expr if _is_sympy(expr) else _sp().sympify(expr),), False

    @property
    def expr(self) -> Any:
        return self.items if self.vector else self.items[0]

    # shape protocol used by the ops
    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.items),) if self.vector else ()

    @property
    def ndim(self) -> int:
        return 1 if self.vector else 0

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return Sym(self.items[i]) if self.vector else Sym(self.items[0])

    def __iter__(self):
        return (Sym(e) for e in self.items)

    def __repr__(self):
        return f"Sym({self.expr})"

    # ----- elementwise application -----

    @staticmethod
    def _map(fn, *args):
        vecs = [a for a in args if isinstance(a, Sym) and a.vector]
        n = len(vecs[0].items) if vecs else None
        for v in vecs:
            if len(v.items) != n:
                raise ValueError(f"symbolic: vectors of lengths {n} and {len(v.items)} do not broadcast")

        def at(a, i):
            if isinstance(a, Sym):
                return a.items[i] if a.vector else a.items[0]
            if isinstance(a, np.ndarray):
                a = a.item() if a.size == 1 else a[i]
            return _number(a)

        if n is None:
            return Sym(fn(*(at(a, 0) for a in args)))
        return Sym([fn(*(at(a, i) for a in args)) for i in range(n)])

    def __add__(self, o):
        return Sym._map(lambda a, b: a + b, self, o)

    def __radd__(self, o):
        return Sym._map(lambda a, b: a + b, o, self)

    def __sub__(self, o):
        return Sym._map(lambda a, b: a - b, self, o)

    def __rsub__(self, o):
        return Sym._map(lambda a, b: a - b, o, self)

    def __mul__(self, o):
        return Sym._map(lambda a, b: a * b, self, o)

    def __rmul__(self, o):
        return Sym._map(lambda a, b: a * b, o, self)

    def __truediv__(self, o):
        return Sym._map(lambda a, b: a / b, self, o)

    def __rtruediv__(self, o):
        return Sym._map(lambda a, b: a / b, o, self)

    def __pow__(self, o):
        return Sym._map(lambda a, b: a**b, self, o)

    def __rpow__(self, o):
        return Sym._map(lambda a, b: a**b, o, self)

    def __neg__(self):
        return Sym._map(lambda a: -a, self)

    def __pos__(self):
        return self

    def __gt__(self, o):
        return Sym._map(lambda a, b: _sp().StrictGreaterThan(a, b), self, o)

    def __lt__(self, o):
        return Sym._map(lambda a, b: _sp().StrictLessThan(a, b), self, o)

    def __ge__(self, o):
        return Sym._map(lambda a, b: _sp().GreaterThan(a, b), self, o)

    def __le__(self, o):
        return Sym._map(lambda a, b: _sp().LessThan(a, b), self, o)

    # == and != build Eq/Ne too (as the other comparisons, and as torch.fx proxies do), so that
    # `if x == 0:` reaches __bool__ and is refused instead of comparing identities.
    def __eq__(self, o):
        return Sym._map(lambda a, b: _sp().Eq(a, b), self, o)

    def __ne__(self, o):
        return Sym._map(lambda a, b: _sp().Ne(a, b), self, o)

    __hash__ = object.__hash__

    # ----- Python asking for a value: answered for constants, refused for symbols -----

    def _constant(self):
        """The SymPy value when this is one expression without symbols, else None."""
        if self.vector or self.items[0].free_symbols:
            return None
        return self.items[0]

    def _refuse(self, what, advice):
        shown = self.expr if len(str(self.expr)) <= 80 else str(self.expr)[:77] + "..."
        raise ConcretizationError(
            f"symbolic.trace: {what} of the symbolic value {shown} at {_site()}: it has no single "
            f"value while its symbols are free, and tracing on would silently keep one case. {advice}"
        )

    _BRANCH = (
        "Write the branch as chainrule.where(cond, a, b), which traces to sympy.Piecewise "
        "(or use relu, abs, maximum, clamp)."
    )

    def __bool__(self):
        value = self._constant()
        if value is None:
            self._refuse("`if`/`while`/bool()", Sym._BRANCH)
        return bool(value)

    def __float__(self):
        value = self._constant()
        if value is None:
            self._refuse("float()", "Keep computing on it with chainrule ops; only constants become numbers.")
        return float(value)

    def __int__(self):
        value = self._constant()
        if value is None:
            self._refuse("int()", "Keep computing on it with chainrule ops; only constants become numbers.")
        return int(value)

    def __index__(self):
        value = self._constant()
        if value is None or not value.is_integer:
            self._refuse("an index or range() bound", "Sizes and indices must be numbers, not symbols.")
        return int(value)

    # Tensor-style methods, so x.exp() works as it does on a Tensor
    def exp(self) -> Sym:
        return Sym._map(_sp().exp, self)

    def log(self) -> Sym:
        return Sym._map(_sp().log, self)

    def sqrt(self) -> Sym:
        return Sym._map(_sp().sqrt, self)

    def tanh(self) -> Sym:
        return Sym._map(_sp().tanh, self)

    def sin(self) -> Sym:
        return Sym._map(_sp().sin, self)

    def cos(self) -> Sym:
        return Sym._map(_sp().cos, self)

    def sigmoid(self) -> Sym:
        return Sym._map(lambda a: 1 / (1 + _sp().exp(-a)), self)

    def relu(self) -> Sym:
        from ._sympy_functions import relu

        return Sym._map(relu, self)

    def abs(self) -> Sym:
        return Sym._map(_sp().Abs, self)

    __abs__ = abs

    def sum(self, *args: Any, **kwargs: Any) -> Sym:
        return Sym(_sp().Add(*self.items))

    # ----- NumPy protocols: the ops' forward code lands here -----

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs.get("out") is not None:
            return NotImplemented
        fn = _UFUNCS.get(ufunc.__name__)
        if fn is None:
            raise TypeError(
                f"symbolic: the NumPy function {ufunc.__name__} has no symbolic form here; "
                f"supported: {', '.join(sorted(_UFUNCS))}"
            )
        return Sym._map(fn, *inputs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name == "ndim":
            return self.ndim
        if name == "shape":
            return self.shape
        if name in ("max", "amax", "min", "amin", "sum"):
            x = args[0]
            op = {
                "max": _sp().Max,
                "amax": _sp().Max,
                "min": _sp().Min,
                "amin": _sp().Min,
                "sum": lambda *a: _sp().Add(*a),
            }[name]
            return Sym(op(*x.items))
        if name == "where":
            cond, a, b = args
            c = cond.expr if isinstance(cond, Sym) else cond
            if isinstance(c, (bool, np.bool_)):
                return a if c else b
            return Sym._map(
                lambda cc, aa, bb: bb if _softplus_guard(cc, aa, bb) else _sp().Piecewise((aa, cc), (bb, True)),
                cond,
                a,
                b,
            )
        if name in ("copy", "array", "asarray"):
            return args[0]
        raise TypeError(f"symbolic: numpy.{name} has no symbolic form here (used by the op being traced)")


def _softplus_guard(c, a, b):
    """True for softplus's own guard, where(beta x > threshold, x, log(1 + exp(beta x)) / beta) with threshold >= 20:
    past the threshold its branches agree to float precision, so the exact formula b is kept. Any other where
    (a student's where(x > 25, x**2, x)) is a real branch and becomes a Piecewise."""
    sp = _sp()
    if not (isinstance(c, sp.StrictGreaterThan) and c.rhs.is_number and float(c.rhs) >= 20) or a == 0:
        return False
    exact = sp.log(sp.exp(c.lhs) + 1) * a / c.lhs
    return b == exact or sp.simplify(b - exact) == 0


def _is_sympy(e):
    return type(e).__module__.startswith("sympy")


def _number(a):
    """A Python/NumPy number as an exact SymPy number where that is exact (ints, simple floats)."""
    sp = _sp()
    if _is_sympy(a):
        return a
    if isinstance(a, (bool, np.bool_)):
        return sp.true if a else sp.false
    if isinstance(a, (int, np.integer)):
        return sp.Integer(int(a))
    if isinstance(a, (float, np.floating)):
        f = float(a)
        if f == int(f) and abs(f) < 2**53:
            return sp.Integer(int(f))
        return sp.nsimplify(f, rational=False) if abs(f) < 1e6 else sp.Float(f)
    return sp.sympify(a) if isinstance(a, (complex,)) else a


def _ufuncs():
    sp = _sp()
    return {
        "add": lambda a, b: a + b,
        "subtract": lambda a, b: a - b,
        "multiply": lambda a, b: a * b,
        "true_divide": lambda a, b: a / b,
        "divide": lambda a, b: a / b,
        "power": lambda a, b: a**b,
        "negative": lambda a: -a,
        "positive": lambda a: a,
        "exp": sp.exp,
        "log": sp.log,
        "expm1": lambda a: sp.exp(a) - 1,
        "log1p": lambda a: sp.log(1 + a),
        "sqrt": sp.sqrt,
        "sin": sp.sin,
        "cos": sp.cos,
        "tan": sp.tan,
        "tanh": sp.tanh,
        "absolute": sp.Abs,
        "expit": lambda a: 1 / (1 + sp.exp(-a)),
        "erf": sp.erf,
        "maximum": sp.Max,
        "minimum": sp.Min,
        "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)),
        "square": lambda a: a**2,
        "reciprocal": lambda a: 1 / a,
        "greater": lambda a, b: a > b,
        "less": lambda a, b: a < b,
    }


class _LazyUfuncs(dict):
    def get(self, key, default=None):
        if not self:
            self.update(_ufuncs())
        return dict.get(self, key, default)

    def __iter__(self):
        if not self:
            self.update(_ufuncs())
        return dict.__iter__(self)


_UFUNCS = _LazyUfuncs()


# ----- tracing and calculus -----


def _symbols(spec):
    """'x' -> Symbol; ['z1', 'z2'] or 'z1 z2' (with vector=True) -> tuple of Symbols."""
    sp = _sp()
    if isinstance(spec, (list, tuple)):
        return tuple(sp.Symbol(s, real=True) for s in spec)
    return sp.Symbol(spec, real=True)


def _arg_names(f, names):
    if names:
        return list(names)
    if isinstance(f, str):
        return None
    params = [
        p.name
        for p in inspect.signature(f).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params:
        raise TypeError("symbolic: could not read the function's argument names; pass them: trace(f, 'x', 'y')")
    return params


def trace(f: Any, *names: Any) -> Any:
    """The SymPy expression of `f` (written with chainrule ops) at symbolic arguments.

    Args:
        f: a function of scalars (or of vectors: pass a list of names for that argument),
            or an expression string (parsed safely, see `parse`).
        names: the argument names; by default the function's parameter names.

    Returns:
        a SymPy expression (a Matrix for a vector result).

    Example:
        >>> trace(lambda x, y: x ** 2 * cr.exp(y))       # x**2*exp(y)
        >>> trace(lambda z: cr.softmax(z, dim=0), ["z1", "z2"])
    """
    sp = _sp()
    if isinstance(f, str):
        return parse(f)
    args = [Sym(list(_symbols(n))) if isinstance(n, (list, tuple)) else Sym(_symbols(n)) for n in _arg_names(f, names)]
    out = f(*args)
    if isinstance(out, Sym):
        return sp.Matrix(out.items) if out.vector else out.items[0]
    if isinstance(out, (list, tuple)):
        return sp.Matrix([o.expr if isinstance(o, Sym) else _number(o) for o in out])
    return _number(out)


def _variables(f, names, expr):
    sp = _sp()
    if isinstance(f, str):
        syms = sorted(expr.free_symbols, key=lambda s: s.name)
        if names:
            by_name = {s.name: s for s in syms}
            return [by_name.get(n, sp.Symbol(n, real=True)) for n in names]
        return syms
    out = []
    for n in _arg_names(f, names):
        s = _symbols(n)
        out.extend(s if isinstance(s, tuple) else [s])
    return out


TIME_LIMIT = 10.0
"""Seconds of symbolic work diff/gradient/jacobian/hessian/equal allow by default (the command line's
--time-limit default too). Past it they raise ExpressionTooLarge naming the limit; pass time_limit=SECONDS to
raise it, or time_limit=None for none. SIGALRM based: it acts in the main thread on POSIX; elsewhere (a
worker thread, Windows) there is no time limit, only the parser's size budgets."""


def _budget(op, time_limit):
    """The time budget of one call of `op` (a context manager): ExpressionTooLarge past `time_limit` seconds."""
    return time_budget(
        time_limit,
        what=f"symbolic.{op}",
        budget=f"its time_limit of {time_limit:g} s" if time_limit is not None else None,
        hint=f"pass time_limit=SECONDS (more than {time_limit}) or time_limit=None for no limit",
    )


def _simplify(e):
    sp = _sp()
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_simplify)
    s = sp.simplify(e)
    return s


def diff(
    f: Any,
    wrt: str | Sequence[str] | None = None,
    names: Any = (),
    order: int = 1,
    time_limit: float | None = TIME_LIMIT,
) -> Any:
    """d^order f / d wrt^order, simplified, within `time_limit` seconds (see TIME_LIMIT).

    Example:
        >>> diff(lambda x: x ** 10 - 2 * x ** 8 + 4 / x ** 2 + 10, "x")    # 10x^9 - 16x^7 - 8/x^3
        >>> diff("a**x", "x")                                               # a**x*log(a)
    """
    with _budget("diff", time_limit):
        return _diff(f, wrt, names, order)


def _diff(f, wrt, names, order):
    sp = _sp()
    expr = trace(f, *names)
    variables = _variables(f, names, expr)
    if wrt is None:
        if len(variables) != 1:
            raise ValueError(f"diff: the function has variables {[v.name for v in variables]}; say which one with wrt=")
        var = variables[0]
    else:
        var = next((v for v in variables if v.name == wrt), None) or next(
            (s for s in expr.free_symbols if s.name == wrt), sp.Symbol(wrt, real=True)
        )
    return _simplify(sp.diff(expr, var, order))


def gradient(f: Any, names: Any = (), time_limit: float | None = TIME_LIMIT) -> Any:
    """[df/dx_1, ..., df/dx_n], simplified, in argument order (alphabetical for strings), within `time_limit`
    seconds (see TIME_LIMIT)."""
    sp = _sp()
    with _budget("gradient", time_limit):
        expr = trace(f, *names)
        return [_simplify(sp.diff(expr, v)) for v in _variables(f, names, expr)]


def jacobian(f: Any, names: Any = (), time_limit: float | None = TIME_LIMIT) -> Any:
    """The Jacobian Matrix d f_i / d x_j of a vector (or scalar) function, simplified, within `time_limit`
    seconds (see TIME_LIMIT)."""
    sp = _sp()
    with _budget("jacobian", time_limit):
        expr = trace(f, *names)
        out = expr if isinstance(expr, sp.MatrixBase) else sp.Matrix([expr])
        return _simplify(out.jacobian(_variables(f, names, expr)))


def hessian(f: Any, names: Any = (), time_limit: float | None = TIME_LIMIT) -> Any:
    """The Hessian Matrix d^2 f / dx_i dx_j, simplified, within `time_limit` seconds (see TIME_LIMIT)."""
    sp = _sp()
    with _budget("hessian", time_limit):
        expr = trace(f, *names)
        return _simplify(sp.hessian(expr, _variables(f, names, expr)))


def equal(a: Any, b: Any, time_limit: float | None = TIME_LIMIT) -> bool:
    """True when SymPy proves a - b == 0 (expressions or matrices), within `time_limit` seconds (see TIME_LIMIT)."""
    with _budget("equal", time_limit):
        return _equal(a, b)


def _equal(a, b) -> bool:
    sp = _sp()
    d = a - b
    if isinstance(d, sp.MatrixBase):
        return all(_equal(x, 0) for x in d)
    d = sp.simplify(d.rewrite(sp.Max))  # relu(u) - Max(u, 0) is 0 only once relu is written as Max
    if d == 0:
        return True
    # tanh/sigmoid identities often need everything written with exp first
    return sp.simplify(d.rewrite(sp.exp)) == 0


@dataclass
class IdentityCheck:
    """Result of identity(): both checks, the largest numeric difference, and the points tried."""

    symbolic: bool
    numeric: bool
    max_abs_error: float
    points: int

    def __bool__(self):
        return self.symbolic and self.numeric


def identity(
    f: Any,
    g: Any,
    names: Any = (),
    points: int = 50,
    seed: int = 0,
    low: float = -3.0,
    high: float = 3.0,
    atol: float = 1e-9,
    time_limit: float | None = TIME_LIMIT,
) -> Any:
    """Check f == g symbolically (SymPy simplify, within `time_limit` seconds) and numerically (chainrule, float64,
    random points).

    Example:
        >>> assert identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1)
    """
    from .tensor import Tensor as _T

    with _budget("identity", time_limit):
        symbolic = _equal(trace(f, *names), trace(g, *names))
    arg_names = _arg_names(f, names)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(points):
        args = [
            _T(
                rng.uniform(low, high, size=len(n)) if isinstance(n, (list, tuple)) else rng.uniform(low, high),
                dtype=np.float64,
            )
            for n in arg_names
        ]
        a, b = f(*args), g(*args)
        a = np.asarray(getattr(a, "data", a), dtype=float)
        b = np.asarray(getattr(b, "data", b), dtype=float)
        with np.errstate(invalid="ignore"):
            err = np.where(a == b, 0.0, np.abs(a - b))  # equal infinities agree
        # NaN on one side only is a disagreement (max() would skip it); NaN on both sides, both undefined, agrees
        err = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(err), np.inf, err))
        worst = max(worst, float(np.max(err)))
    return IdentityCheck(bool(symbolic), worst <= atol, worst, points)
