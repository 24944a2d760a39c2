"""The SymPy bridge: symbolic derivatives of functions written with chainrule ops, and a safe
parser for expressions typed on the command line.

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

Parsing. `parse("x**10 - 2*x**8 + 4/x**2 + 10")` never evaluates Python: no eval,
no exec, no sympify of the string (sympify calls eval). A tokenizer and a
recursive-descent parser accept names, numbers, + - * / ** ^, parentheses, unary
minus and the functions exp log ln sqrt sin cos tan tanh sigmoid relu abs softplus;
anything else raises ExpressionError naming the token and its position.
"""
from __future__ import annotations

import fractions
import inspect
import re
import sys
from dataclasses import dataclass

import numpy as np

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

    def __init__(self, expr):
        if isinstance(expr, (list, tuple)):
            self.items, self.vector = tuple(_sp().sympify(e) if not _is_sympy(e) else e for e in expr), True
        else:
            self.items, self.vector = (expr if _is_sympy(expr) else _sp().sympify(expr),), False

    @property
    def expr(self):
        return self.items if self.vector else self.items[0]

    # shape protocol used by the ops
    @property
    def shape(self):
        return (len(self.items),) if self.vector else ()

    @property
    def ndim(self):
        return 1 if self.vector else 0

    @property
    def dtype(self):
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

    def __add__(self, o): return Sym._map(lambda a, b: a + b, self, o)
    def __radd__(self, o): return Sym._map(lambda a, b: a + b, o, self)
    def __sub__(self, o): return Sym._map(lambda a, b: a - b, self, o)
    def __rsub__(self, o): return Sym._map(lambda a, b: a - b, o, self)
    def __mul__(self, o): return Sym._map(lambda a, b: a * b, self, o)
    def __rmul__(self, o): return Sym._map(lambda a, b: a * b, o, self)
    def __truediv__(self, o): return Sym._map(lambda a, b: a / b, self, o)
    def __rtruediv__(self, o): return Sym._map(lambda a, b: a / b, o, self)
    def __pow__(self, o): return Sym._map(lambda a, b: a ** b, self, o)
    def __rpow__(self, o): return Sym._map(lambda a, b: a ** b, o, self)
    def __neg__(self): return Sym._map(lambda a: -a, self)
    def __pos__(self): return self
    def __gt__(self, o): return Sym._map(lambda a, b: _sp().StrictGreaterThan(a, b), self, o)
    def __lt__(self, o): return Sym._map(lambda a, b: _sp().StrictLessThan(a, b), self, o)
    def __ge__(self, o): return Sym._map(lambda a, b: _sp().GreaterThan(a, b), self, o)
    def __le__(self, o): return Sym._map(lambda a, b: _sp().LessThan(a, b), self, o)
    # == and != build Eq/Ne too (as the other comparisons, and as torch.fx proxies do), so that
    # `if x == 0:` reaches __bool__ and is refused instead of comparing identities.
    def __eq__(self, o): return Sym._map(lambda a, b: _sp().Eq(a, b), self, o)
    def __ne__(self, o): return Sym._map(lambda a, b: _sp().Ne(a, b), self, o)
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
            f"value while its symbols are free, and tracing on would silently keep one case. {advice}")

    _BRANCH = ("Write the branch as chainrule.where(cond, a, b), which traces to sympy.Piecewise "
               "(or use relu, abs, maximum, clamp).")

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
    def exp(self): return Sym._map(_sp().exp, self)
    def log(self): return Sym._map(_sp().log, self)
    def sqrt(self): return Sym._map(_sp().sqrt, self)
    def tanh(self): return Sym._map(_sp().tanh, self)
    def sin(self): return Sym._map(_sp().sin, self)
    def cos(self): return Sym._map(_sp().cos, self)
    def sigmoid(self): return Sym._map(lambda a: 1 / (1 + _sp().exp(-a)), self)
    def relu(self): return Sym._map(lambda a: _sp().Max(a, 0), self)
    def abs(self): return Sym._map(_sp().Abs, self)
    __abs__ = abs

    def sum(self, *args, **kwargs):
        return Sym(_sp().Add(*self.items))

    # ----- NumPy protocols: the ops' forward code lands here -----

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs.get("out") is not None:
            return NotImplemented
        fn = _UFUNCS.get(ufunc.__name__)
        if fn is None:
            raise TypeError(f"symbolic: the NumPy function {ufunc.__name__} has no symbolic form here; "
                            f"supported: {', '.join(sorted(_UFUNCS))}")
        return Sym._map(fn, *inputs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name == "ndim":
            return self.ndim
        if name == "shape":
            return self.shape
        if name in ("max", "amax", "min", "amin", "sum"):
            x = args[0]
            op = {"max": _sp().Max, "amax": _sp().Max, "min": _sp().Min, "amin": _sp().Min,
                  "sum": lambda *a: _sp().Add(*a)}[name]
            return Sym(op(*x.items))
        if name == "where":
            cond, a, b = args
            c = cond.expr if isinstance(cond, Sym) else cond
            # softplus's guard `x > 20 -> x`: the branches agree to float precision; keep the exact one
            if isinstance(c, _sp().StrictGreaterThan) and c.rhs.is_number and float(c.rhs) >= 20:
                return b
            if isinstance(c, (bool, np.bool_)):
                return a if c else b
            return Sym._map(lambda cc, aa, bb: _sp().Piecewise((aa, cc), (bb, True)), cond, a, b)
        if name in ("copy", "array", "asarray"):
            return args[0]
        raise TypeError(f"symbolic: numpy.{name} has no symbolic form here (used by the op being traced)")


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
        if f == int(f) and abs(f) < 2 ** 53:
            return sp.Integer(int(f))
        return sp.nsimplify(f, rational=False) if abs(f) < 1e6 else sp.Float(f)
    return sp.sympify(a) if isinstance(a, (complex,)) else a


def _ufuncs():
    sp = _sp()
    return {
        "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
        "true_divide": lambda a, b: a / b, "divide": lambda a, b: a / b, "power": lambda a, b: a ** b,
        "negative": lambda a: -a, "positive": lambda a: a, "exp": sp.exp, "log": sp.log,
        "expm1": lambda a: sp.exp(a) - 1, "log1p": lambda a: sp.log(1 + a), "sqrt": sp.sqrt,
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh, "absolute": sp.Abs,
        "expit": lambda a: 1 / (1 + sp.exp(-a)), "erf": sp.erf, "maximum": sp.Max, "minimum": sp.Min,
        "logaddexp": lambda a, b: sp.log(sp.exp(a) + sp.exp(b)), "square": lambda a: a ** 2,
        "reciprocal": lambda a: 1 / a, "greater": lambda a, b: a > b, "less": lambda a, b: a < b,
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
    params = [p.name for p in inspect.signature(f).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not params:
        raise TypeError("symbolic: could not read the function's argument names; pass them: trace(f, 'x', 'y')")
    return params


def trace(f, *names):
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
    args = [Sym(list(_symbols(n))) if isinstance(n, (list, tuple)) else Sym(_symbols(n))
            for n in _arg_names(f, names)]
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


def _simplify(e):
    sp = _sp()
    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_simplify)
    s = sp.simplify(e)
    return s


def diff(f, wrt=None, names=(), order=1):
    """d^order f / d wrt^order, simplified.

    Example:
        >>> diff(lambda x: x ** 10 - 2 * x ** 8 + 4 / x ** 2 + 10, "x")    # 10x^9 - 16x^7 - 8/x^3
        >>> diff("a**x", "x")                                               # a**x*log(a)
    """
    sp = _sp()
    expr = trace(f, *names)
    variables = _variables(f, names, expr)
    if wrt is None:
        if len(variables) != 1:
            raise ValueError(f"diff: the function has variables {[v.name for v in variables]}; say which one "
                             "with wrt=")
        var = variables[0]
    else:
        var = next((v for v in variables if v.name == wrt), None) or next(
            (s for s in expr.free_symbols if s.name == wrt), sp.Symbol(wrt, real=True))
    return _simplify(sp.diff(expr, var, order))


def gradient(f, names=()):
    """[df/dx_1, ..., df/dx_n], simplified, in argument order (alphabetical for strings)."""
    sp = _sp()
    expr = trace(f, *names)
    return [_simplify(sp.diff(expr, v)) for v in _variables(f, names, expr)]


def jacobian(f, names=()):
    """The Jacobian Matrix d f_i / d x_j of a vector (or scalar) function, simplified."""
    sp = _sp()
    expr = trace(f, *names)
    out = expr if isinstance(expr, sp.MatrixBase) else sp.Matrix([expr])
    return _simplify(out.jacobian(_variables(f, names, expr)))


def hessian(f, names=()):
    """The Hessian Matrix d^2 f / dx_i dx_j, simplified."""
    sp = _sp()
    expr = trace(f, *names)
    return _simplify(sp.hessian(expr, _variables(f, names, expr)))


def equal(a, b) -> bool:
    """True when SymPy proves a - b == 0 (expressions or matrices)."""
    sp = _sp()
    d = a - b
    if isinstance(d, sp.MatrixBase):
        return all(equal(x, 0) for x in d)
    d = sp.simplify(d)
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


def identity(f, g, names=(), points=50, seed=0, low=-3.0, high=3.0, atol=1e-9):
    """Check f == g symbolically (SymPy simplify) and numerically (chainrule, float64, random points).

    Example:
        >>> assert identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1)
    """
    from .tensor import Tensor as _T

    symbolic = equal(trace(f, *names), trace(g, *names))
    arg_names = _arg_names(f, names)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(points):
        args = [_T(rng.uniform(low, high, size=len(n)) if isinstance(n, (list, tuple))
                          else rng.uniform(low, high), dtype=np.float64) for n in arg_names]
        a, b = f(*args), g(*args)
        worst = max(worst, float(np.max(np.abs(np.asarray(getattr(a, "data", a), dtype=float)
                                                - np.asarray(getattr(b, "data", b), dtype=float)))))
    return IdentityCheck(bool(symbolic), worst <= atol, worst, points)


# ----- the expression parser (never evaluates Python) -----

FUNCTIONS = ("exp", "log", "ln", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "softplus")
CONSTANTS = ("pi",)
MAX_LENGTH = 2000
MAX_DEPTH = 100
MAX_EXPONENT = 1000


class ExpressionError(ValueError):
    """An expression the safe parser refuses: names the offending token and its position."""

    def __init__(self, message, text="", position=None, token=None):
        self.text, self.position, self.token = text, position, token
        if position is not None and text and len(text) <= 200 and "\n" not in text:
            message = f"{message}\n    {text}\n    {' ' * position}^"
        super().__init__(message)


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")


def tokenize(text):
    """[(kind, text, position)] with kind in num/name/op; raises ExpressionError on anything else."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            bad = text[start]
            raise ExpressionError(f"unexpected character {bad!r} at position {start}: allowed are names, numbers, "
                                  "+ - * / ** ^ ( ) and the functions " + ", ".join(FUNCTIONS), text, start, bad)
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok, what):
        kind, text, pos = tok
        shown = "end of input" if kind == "end" else f"token {text!r}"
        raise ExpressionError(f"{what}: unexpected {shown} at position {pos}", self.text, pos, text)

    def expect(self, value):
        tok = self.take()
        if tok[1] != value:
            self.fail(tok, f"expected {value!r}")

    def parse(self):
        if not self.tokens:
            raise ExpressionError("empty expression", self.text, 0, "")
        node = self.expr()
        if self.peek()[0] != "end":
            self.fail(self.peek(), "expected an operator or the end")
        return node

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            tok = self.peek()
            raise ExpressionError(f"expression nested more than {MAX_DEPTH} levels deep at position {tok[2]}",
                                  self.text, tok[2], tok[1])

    def expr(self):
        self.enter()
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.term())
        self.depth -= 1
        return node

    def term(self):
        node = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = ("mul" if op == "*" else "div", node, self.unary())
        return node

    def unary(self):
        if self.peek()[1] in ("-", "+"):
            op = self.take()[1]
            self.enter()
            node = self.unary()
            self.depth -= 1
            return ("neg", node) if op == "-" else node
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek()[1] in ("**", "^"):
            tok = self.take()
            self.enter()
            exponent = self.unary()   # right-associative: 2^3^2 = 2^(3^2); 2^-x allowed
            self.depth -= 1
            if base[0] == "num" and exponent[0] == "num" and abs(exponent[1]) > MAX_EXPONENT:
                raise ExpressionError(f"exponent {exponent[1]} at position {tok[2]} is too large "
                                      f"(limit {MAX_EXPONENT} for a number raised to a number)", self.text, tok[2], tok[1])
            return ("pow", base, exponent)
        return base

    def atom(self):
        tok = self.take()
        kind, text, pos = tok
        if kind == "num":
            if len(text) > 50:
                raise ExpressionError(f"number at position {pos} has more than 50 characters", self.text, pos, text)
            try:
                value = fractions.Fraction(text)
            except (ValueError, ZeroDivisionError, OverflowError):
                self.fail(tok, "malformed number")
            if abs(value) > 10 ** 30:
                raise ExpressionError(f"number {text!r} at position {pos} is too large", self.text, pos, text)
            return ("num", value)
        if kind == "name":
            if self.peek()[1] == "(":
                if text not in FUNCTIONS:
                    raise ExpressionError(f"unknown function {text!r} at position {pos}; known: "
                                          + ", ".join(FUNCTIONS), self.text, pos, text)
                self.take()
                self.enter()
                arg = self.expr()
                self.depth -= 1
                self.expect(")")
                return ("call", text, arg)
            if text in FUNCTIONS:
                raise ExpressionError(f"function {text!r} at position {pos} needs an argument in parentheses",
                                      self.text, pos, text)
            if text.startswith("_"):
                raise ExpressionError(f"name {text!r} at position {pos} may not start with '_'", self.text, pos, text)
            return ("const", text) if text in CONSTANTS else ("name", text)
        if text == "(":
            self.enter()
            node = self.expr()
            self.depth -= 1
            self.expect(")")
            return node
        self.fail(tok, "expected a number, a name, a function or '('")


def parse_ast(text):
    """The expression's syntax tree: nested tuples ('add', a, b), ('name', 'x'), ('num', Fraction), ..."""
    return _Parser(text).parse()


def _to_sympy(node):
    sp = _sp()
    stack = [(node, False)]
    out = []
    # Iterative post-order, so even a long flat sum builds without recursion.
    while stack:
        n, done = stack.pop()
        kind = n[0]
        if kind == "num":
            out.append(sp.Rational(n[1].numerator, n[1].denominator))
        elif kind == "name":
            out.append(sp.Symbol(n[1], real=True))
        elif kind == "const":
            out.append(sp.pi)
        elif not done:
            stack.append((n, True))
            for child in reversed(n[1:] if kind != "call" else n[2:]):
                stack.append((child, False))
        else:
            if kind == "call":
                a = out.pop()
                out.append(_sympy_call(n[1], a))
            elif kind == "neg":
                out.append(-out.pop())
            else:
                b, a = out.pop(), out.pop()
                if kind == "pow" and a.is_Number and b.is_Number and (abs(b) > MAX_EXPONENT or abs(a) > 10 ** 30):
                    # SymPy computes number ** number exactly at once: 9**9**9 would never finish
                    raise ExpressionError(f"the power {a}**{b} is too large to compute exactly (exponent limit "
                                          f"{MAX_EXPONENT}, base limit 1e30)")
                if kind == "div" and b == 0:
                    raise ExpressionError("division by zero in the expression")
                out.append({"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                            "div": lambda: a / b, "pow": lambda: a ** b}[kind]())
    return out[0]


def _sympy_call(name, a):
    sp = _sp()
    return {"exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
            "tan": sp.tan, "tanh": sp.tanh, "sigmoid": lambda v: 1 / (1 + sp.exp(-v)),
            "relu": lambda v: sp.Max(v, 0), "abs": sp.Abs,
            "softplus": lambda v: sp.log(1 + sp.exp(v))}[name](a)


def parse(text):
    """A SymPy expression from an expression string, built without evaluating any Python.

    Example:
        >>> parse("x^3 + 3*x^2*y + y^3 + 2*x")
        x**3 + 3*x**2*y + 2*x + y**3
    """
    return _to_sympy(parse_ast(text))


def evaluate(text_or_ast, env):
    """Evaluate a parsed expression with chainrule ops; `env` maps names to Tensors or numbers."""
    from .ops import elementwise as ew

    node = parse_ast(text_or_ast) if isinstance(text_or_ast, str) else text_or_ast
    calls = {"exp": ew.exp, "log": ew.log, "ln": ew.log, "sqrt": ew.sqrt, "sin": ew.sin, "cos": ew.cos,
             "tan": ew.tan, "tanh": ew.tanh, "sigmoid": ew.sigmoid, "relu": ew.relu, "abs": ew.abs,
             "softplus": lambda v: ew.softplus(v, threshold=np.inf)}
    stack, out = [(node, False)], []
    while stack:
        n, done = stack.pop()
        kind = n[0]
        if kind == "num":
            out.append(float(n[1]))
        elif kind == "name":
            if n[1] not in env:
                raise ExpressionError(f"no value given for {n[1]!r}; pass it with --at {n[1]}=...")
            out.append(env[n[1]])
        elif kind == "const":
            out.append(float(np.pi))
        elif not done:
            stack.append((n, True))
            for child in reversed(n[1:] if kind != "call" else n[2:]):
                stack.append((child, False))
        elif kind == "call":
            out.append(calls[n[1]](out.pop()))
        elif kind == "neg":
            out.append(-out.pop())
        else:
            b, a = out.pop(), out.pop()
            try:
                out.append({"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                            "div": lambda: a / b, "pow": lambda: a ** b}[kind]())
            except (OverflowError, ZeroDivisionError) as err:
                # Python floats raise where tensors give inf: say which operation, not a traceback.
                raise ExpressionError(f"cannot evaluate {_fmt(a)} {_OP_SYMBOLS[kind]} {_fmt(b)}: {err}") from None
    return out[0]


_OP_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def parse_point(text):
    """'x=1,y=2' -> {'x': 1.0, 'y': 2.0}; each value may be a constant expression ('1/2', '-pi')."""
    point = {}
    if not text:
        return point
    for part in text.split(","):
        if "=" not in part:
            raise ExpressionError(f"expected name=value in {part.strip()!r} (e.g. --at x=1,y=2)")
        name, value = (s.strip() for s in part.split("=", 1))
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise ExpressionError(f"{name!r} is not a variable name (in --at {text!r})")
        ast = parse_ast(value)
        point[name] = float(evaluate(ast, {}))
    return point


# ----- command-line handlers (wired into chainrule.cli) -----

def _fmt(v):
    v = float(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.10g}"


def derive_command(args, out=None):
    """`chainrule derive EXPR [--wrt x] [--at x=1]`: print f, df/dx simplified, and its value.

    Returns the process exit code (0, or 2 for an expression the parser refuses).
    """
    out = out or sys.stdout
    sp = _sp()
    try:
        ast = parse_ast(args.expr)
        expr = _to_sympy(ast)
        names = sorted(s.name for s in expr.free_symbols)
        wrt = getattr(args, "wrt", None)
        if wrt is None:
            if len(names) > 1:
                raise ExpressionError(f"the expression has variables {', '.join(names)}: choose one with --wrt")
            wrt = names[0] if names else "x"
        var = sp.Symbol(wrt, real=True)
        d = sp.simplify(sp.diff(expr, var))
        print(f"f({', '.join(names) or wrt}) = {expr}", file=out)
        print(f"df/d{wrt} = {d}", file=out)
        expanded = sp.expand(d)
        if expanded != d:
            print(f"        = {expanded}", file=out)
        at = parse_point(getattr(args, "at", None))
        if at:
            from .tensor import Tensor as _T

            env = {k: _T(v, dtype=np.float64, requires_grad=(k == wrt)) for k, v in at.items()}
            missing = [n for n in names if n not in env]
            if missing:
                raise ExpressionError(f"--at gives no value for {', '.join(missing)}")
            symbolic_value = float(d.subs({sp.Symbol(k, real=True): sp.Rational(fractions.Fraction(v))
                                           for k, v in at.items()}))
            point = ", ".join(f"{k}={_fmt(v)}" for k, v in at.items())
            print(f"at {point}: df/d{wrt} = {_fmt(symbolic_value)}", file=out)
            y = evaluate(ast, env)
            if wrt in env and getattr(y, "requires_grad", False):
                y.backward()
                print(f"autodiff check (chainrule backward): {_fmt(env[wrt].grad.item())}", file=out)
        return 0
    except ExpressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def grad_command(args, out=None):
    """`chainrule grad EXPR --at x=1,y=2`: print the gradient symbolically and its value at the point."""
    out = out or sys.stdout
    sp = _sp()
    try:
        ast = parse_ast(args.expr)
        expr = _to_sympy(ast)
        names = sorted(s.name for s in expr.free_symbols)
        print(f"f({', '.join(names)}) = {expr}", file=out)
        partials = [sp.simplify(sp.diff(expr, sp.Symbol(n, real=True))) for n in names]
        for n, p in zip(names, partials):
            print(f"df/d{n} = {p}", file=out)
        at = parse_point(getattr(args, "at", None))
        if at:
            missing = [n for n in names if n not in at]
            if missing:
                raise ExpressionError(f"--at gives no value for {', '.join(missing)}")
            subs = {sp.Symbol(k, real=True): sp.Rational(fractions.Fraction(v)) for k, v in at.items()}
            values = [float(p.subs(subs)) for p in partials]
            point = ", ".join(f"{k}={_fmt(v)}" for k, v in at.items())
            print(f"grad f({point}) = ({', '.join(_fmt(v) for v in values)})", file=out)
            from .tensor import Tensor as _T

            env = {k: _T(v, dtype=np.float64, requires_grad=True) for k, v in at.items()}
            y = evaluate(ast, env)
            if getattr(y, "requires_grad", False):
                y.backward()
                auto = [env[n].grad.item() if env[n].grad is not None else 0.0 for n in names]
                print(f"autodiff check (chainrule backward): ({', '.join(_fmt(v) for v in auto)})", file=out)
        return 0
    except ExpressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
