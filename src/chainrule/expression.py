"""Expressions typed on the command line: a safe parser with budgets, and IEEE evaluation at a point.

(One module of about 590 lines on purpose: every budget below is checked where a value is built, in
the tokenizer, the parser, the SymPy builder and the two evaluators, and they share its limits and
its error type; split, each part would import the others.)

`parse("x**10 - 2*x**8 + 4/x**2 + 10")` never evaluates Python: no eval, no exec, no sympify of the
string (sympify calls eval). A tokenizer and a recursive-descent parser accept names, numbers,
+ - * / ** ^, parentheses, unary minus and the functions exp log ln sqrt sin cos tan tanh sigmoid relu
abs softplus; anything else raises ExpressionError naming the token and its position. `derive`, `grad`
and `chainrule.symbolic` all read expressions through this module.

Budgets. Every accepted expression is bounded before any exact value is built, so a short input cannot
run for minutes or fill memory:

    text length          MAX_LENGTH characters       tokens            MAX_TOKENS
    nesting depth        MAX_DEPTH levels            a literal         MAX_LITERAL (and its text: 50 chars)
    number ** number     exponent <= MAX_EXPONENT, result <= MAX_DIGITS digits (checked before computing)
    symbolic work        `time_budget(seconds)`: simplification and printing stop with ExpressionTooLarge

`ieee(expr, point)` evaluates a SymPy expression in float64, as the autodiff check does: overflow gives
inf (exp(710) -> inf), and a domain error is named ("log is undefined at x = 0") instead of a complex
number or a Python exception.

    >>> parse("x^3 + 3*x^2*y")                 # x**3 + 3*x**2*y
    >>> ieee(parse("exp(x)"), {"x": 710.0})    # inf
"""

from __future__ import annotations

import contextlib
import fractions
import math
import operator
import re
import signal
import threading

import numpy as np

FUNCTIONS = ("exp", "log", "ln", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "softplus")
CONSTANTS = ("pi",)
MAX_LENGTH = 2000
MAX_TOKENS = 1500
MAX_DEPTH = 100
MAX_EXPONENT = 1000
MAX_LITERAL = 10**30
MAX_DIGITS = 1000  # of an exact number built from the expression (Python refuses to print 4300)
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _sp():
    import sympy

    return sympy


class ExpressionError(ValueError):
    """An expression the safe parser refuses: names the offending token and its position."""

    def __init__(self, message, text="", position=None, token=None):
        self.text, self.position, self.token = text, position, token
        if position is not None and text and len(text) <= 200 and "\n" not in text:
            message = f"{message}\n    {text}\n    {' ' * position}^"
        super().__init__(message)


class ExpressionTooLarge(ExpressionError):
    """An expression over a budget (size, literal, exponent, digits or symbolic work time)."""


# ----- tokens and syntax tree -----

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)


def tokenize(text):
    """[(kind, text, position)] with kind in num/name/op; raises ExpressionError on anything else."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionTooLarge(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            start = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            bad = text[start]
            raise ExpressionError(
                f"unexpected character {bad!r} at position {start}: allowed are names, numbers, "
                "+ - * / ** ^ ( ) and the functions " + ", ".join(FUNCTIONS),
                text,
                start,
                bad,
            )
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind)))
        if len(tokens) > MAX_TOKENS:
            raise ExpressionTooLarge(
                f"expression has more than {MAX_TOKENS} tokens (numbers, names, operators); "
                "split the work into smaller expressions",
                text,
                m.start(kind),
                m.group(kind),
            )
        pos = m.end()
    return tokens


def _literal(text):
    """The exact value of a number literal, its size checked on the text before the value is built
    (Fraction('1e99999999') would compute a 100-million-digit integer)."""
    mantissa, _, exponent = text.lower().partition("e")
    whole = mantissa.split(".")[0].lstrip("0")
    scale = len(whole) + (int(exponent) if exponent else 0)
    value = fractions.Fraction(text) if -400 <= scale <= 31 else None
    if value is None or abs(value) > MAX_LITERAL:
        raise ValueError(
            f"is too large (literals are limited to {MAX_LITERAL:.0e} in size and 1e-400 in precision)"
            if scale > 0
            else "is too small to hold exactly (the limit is 1e-400): write 0"
        )
    return value


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
            raise ExpressionTooLarge(
                f"expression nested more than {MAX_DEPTH} levels deep at position {tok[2]}", self.text, tok[2], tok[1]
            )

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
            exponent = self.unary()  # right-associative: 2^3^2 = 2^(3^2); 2^-x allowed
            self.depth -= 1
            if base[0] == "num" and exponent[0] == "num" and abs(exponent[1]) > MAX_EXPONENT:
                raise ExpressionTooLarge(
                    f"exponent {exponent[1]} at position {tok[2]} is too large (limit "
                    f"{MAX_EXPONENT} for a number raised to a number)",
                    self.text,
                    tok[2],
                    tok[1],
                )
            return ("pow", base, exponent)
        return base

    def atom(self):
        tok = self.take()
        kind, text, pos = tok
        if kind == "num":
            if len(text) > 50:
                raise ExpressionTooLarge(f"number at position {pos} has more than 50 characters", self.text, pos, text)
            try:
                value = _literal(text)
            except (ZeroDivisionError, OverflowError):
                self.fail(tok, "malformed number")
            except ValueError as e:
                raise ExpressionTooLarge(f"number {text!r} at position {pos} {e}", self.text, pos, text) from None
            return ("num", value)
        if kind == "name":
            if self.peek()[1] == "(":
                if text not in FUNCTIONS:
                    raise ExpressionError(
                        f"unknown function {text!r} at position {pos}; known: " + ", ".join(FUNCTIONS),
                        self.text,
                        pos,
                        text,
                    )
                self.take()
                self.enter()
                arg = self.expr()
                self.depth -= 1
                self.expect(")")
                return ("call", text, arg)
            if text in FUNCTIONS:
                raise ExpressionError(
                    f"function {text!r} at position {pos} needs an argument in parentheses", self.text, pos, text
                )
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


# ----- to SymPy, with the exact numbers bounded -----


def _digits(r):
    """Decimal digits of a SymPy Rational's larger part (from bit lengths: no conversion)."""
    return int(max(abs(r.p).bit_length(), r.q.bit_length()) * 0.30103) + 1


def _check_power(a, b):
    """SymPy computes number ** number exactly at once (9**9**9 would never finish), and evaluates
    constant powers numerically (pi**44444 overflows inside mpmath): bound both before building."""
    if b.free_symbols or a == 0:
        return
    if a.free_symbols:
        # (c*x)**n distributes: c**n is computed exactly, so its digits are bounded as well
        coeff = a.as_coeff_Mul()[0] if a.is_Mul else 1
        if coeff not in (1, -1) and coeff.is_Rational and b.is_Rational:
            _check_digits(coeff, b)
        return
    try:
        size, exponent = abs(complex(a.evalf(15))), abs(complex(b.evalf(15)))
    except (OverflowError, TypeError, ValueError):
        size = exponent = math.inf
    if not exponent <= MAX_EXPONENT or not size <= MAX_LITERAL:
        raise ExpressionTooLarge(
            f"the power {_shown(a)}**{_shown(b)} is too large to compute (exponent limit "
            f"{MAX_EXPONENT}, base limit {MAX_LITERAL:.0e}); use a smaller exponent"
        )
    if a.is_Rational and b.is_Rational:
        _check_digits(a, b)


def _check_digits(a, b):
    if max(math.log10(abs(a.p)), math.log10(a.q)) * abs(b.p) / b.q > MAX_DIGITS:
        raise ExpressionTooLarge(
            f"the power ({_shown(a)})**{_shown(b)} would have more than {MAX_DIGITS} digits; "
            "use a smaller base or exponent"
        )


def to_sympy(node):
    """A SymPy expression from a syntax tree (iterative post-order: even a long flat sum builds
    without recursion). Exact numbers stay below MAX_DIGITS digits."""
    try:
        return _to_sympy(node)
    except (OverflowError, RecursionError) as e:
        # SymPy evaluates constant parts numerically while building (exp of a huge constant, ...)
        raise ExpressionTooLarge(
            f"a constant in the expression is too large for SymPy ({type(e).__name__}: {e}); use smaller numbers"
        ) from None


def _to_sympy(node):
    sp = _sp()
    stack = [(node, False)]
    out = []
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
                if kind == "pow":
                    _check_power(a, b)
                if kind == "div" and b == 0:
                    raise ExpressionError("division by zero in the expression")
                value = _BINARY[kind](a, b)
                if value.is_Rational and _digits(value) > MAX_DIGITS:
                    # products of allowed powers: each is bounded, their product is checked here
                    raise ExpressionTooLarge(f"a number in the expression has more than {MAX_DIGITS} digits")
                out.append(value)
    result = out[0]
    bad = [c for c in (sp.zoo, sp.nan, sp.I) if result.has(c)]
    if bad:
        raise ExpressionError(
            f"the expression has no real value: SymPy reduces part of it to {bad[0]} (a division "
            "by zero such as 0**-1, or the root or log of a negative number)"
        )
    return result


_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv, "pow": operator.pow}


def _sympy_call(name, a):
    sp = _sp()
    from ._sympy_functions import relu

    return {
        "exp": sp.exp,
        "log": sp.log,
        "ln": sp.log,
        "sqrt": sp.sqrt,
        "sin": sp.sin,
        "cos": sp.cos,
        "tan": sp.tan,
        "tanh": sp.tanh,
        "sigmoid": lambda v: 1 / (1 + sp.exp(-v)),
        "relu": relu,
        "abs": sp.Abs,
        "softplus": lambda v: sp.log(1 + sp.exp(v)),
    }[name](a)


def parse(text):
    """A SymPy expression from an expression string, built without evaluating any Python.

    Example:
        >>> parse("x^3 + 3*x^2*y + y^3 + 2*x")
        x**3 + 3*x**2*y + 2*x + y**3
    """
    return to_sympy(parse_ast(text))


# ----- evaluation -----


def evaluate(text_or_ast, env):
    """Evaluate a parsed expression with chainrule ops; `env` maps names to Tensors or numbers.

    Numbers are float64 scalars and arithmetic is IEEE: 9**1000 gives inf and 1/0 gives inf, as
    the ops give on tensors (NumPy's warnings are silenced inside).
    """
    from .ops import elementwise as ew

    node = parse_ast(text_or_ast) if isinstance(text_or_ast, str) else text_or_ast
    calls = {
        "exp": ew.exp,
        "log": ew.log,
        "ln": ew.log,
        "sqrt": ew.sqrt,
        "sin": ew.sin,
        "cos": ew.cos,
        "tan": ew.tan,
        "tanh": ew.tanh,
        "sigmoid": ew.sigmoid,
        "relu": ew.relu,
        "abs": ew.abs,
        "softplus": lambda v: ew.softplus(v, threshold=np.inf),
    }
    stack, out = [(node, False)], []
    with np.errstate(all="ignore"):
        while stack:
            n, done = stack.pop()
            kind = n[0]
            if kind == "num":
                out.append(np.float64(float(n[1])))
            elif kind == "name":
                if n[1] not in env:
                    raise ExpressionError(f"no value given for {n[1]!r}; pass it with --at {n[1]}=...")
                out.append(env[n[1]])
            elif kind == "const":
                out.append(np.float64(np.pi))
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
                    out.append(_BINARY[kind](a, b))
                except (OverflowError, ZeroDivisionError) as err:  # plain Python numbers in env
                    raise ExpressionError(f"cannot evaluate {fmt(a)} {_OP_SYMBOLS[kind]} {fmt(b)}: {err}") from None
    return out[0]


_OP_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def fmt(v):
    """A float as the CLI prints it: integers without a point, else 10 significant digits; inf, nan."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.10g}"


def _shown(expr, limit=60):
    s = str(expr)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _to_float(number):
    """A SymPy number as float64, overflowing to +-inf as IEEE does (Python's float() raises)."""
    sp = _sp()
    if number.is_Rational:
        try:
            return float(fractions.Fraction(int(number.p), int(number.q)))
        except OverflowError:
            return math.inf if number.p > 0 else -math.inf
    if number in (sp.oo, sp.S.NegativeInfinity):
        return math.inf if number is sp.oo else -math.inf
    value = complex(number.evalf())
    return value.real if value.imag == 0 else math.nan


def ieee(expr, point):
    """The value of a SymPy expression at `point` ({name: float}) in float64 arithmetic.

    Overflow gives +-inf; a domain error (log or sqrt of a negative number, log of 0, division by
    zero, a negative number to a fractional power) raises ExpressionError naming the function and the
    point: "log is undefined at x = 0 (its argument x is 0; log needs a positive argument)". A NaN
    from an overflow inside the formula (inf/inf) is recomputed with SymPy's arbitrary precision.
    """
    sp = _sp()
    where = ", ".join(f"{k} = {fmt(v)}" for k, v in point.items()) or "this point"
    memo = {}  # derivatives repeat subexpressions

    def undefined(what, why):
        raise ExpressionError(f"{what} is undefined at {where} ({why})")

    def value(node):
        if node not in memo:
            memo[node] = _node(node)
        return memo[node]

    def _node(node):
        if node.is_Symbol:
            if node.name not in point:
                raise ExpressionError(f"no value given for {node.name!r}; pass it with --at {node.name}=...")
            return float(point[node.name])
        if node is sp.zoo or node is sp.nan:
            undefined(str(node), "the expression is not a real number")
        if node.is_Number or node.is_NumberSymbol or node in (sp.oo, sp.S.NegativeInfinity):
            return _to_float(node)
        if node is sp.true or node is sp.false:
            return bool(node)
        if isinstance(node, sp.Piecewise):
            # only the chosen case is evaluated: the others may be undefined here
            for piece in node.args:
                if piece.cond is sp.true or value(piece.cond):
                    return value(piece.expr)
            undefined(_shown(node), "no case of the Piecewise applies")
        args = [value(a) for a in node.args]
        if node.is_Relational:
            a, b = args
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[node.rel_op]
        with np.errstate(all="ignore"):
            if node.is_Add:
                return float(np.sum(args))
            if node.is_Mul:
                return float(np.prod(args))
            if node.is_Pow:
                base, exponent = args
                if base == 0 and exponent < 0:
                    undefined(_shown(node), f"division by zero: {_shown(node.base)} is 0")
                if base < 0 and math.isfinite(exponent) and exponent != int(exponent):
                    name = "sqrt" if node.exp == sp.S.Half else _shown(node)
                    undefined(
                        name, f"{_shown(node.base)} is {fmt(base)}, a negative number to the power {fmt(exponent)}"
                    )
                return float(np.power(np.float64(base), exponent))
            if isinstance(node, sp.log) and len(args) == 1:
                if args[0] <= 0:
                    undefined(
                        "log", f"its argument {_shown(node.args[0])} is {fmt(args[0])}; log needs a positive argument"
                    )
                return float(np.log(args[0]))
            if node.func in (sp.Max, sp.Min):
                return float(np.max(args) if node.func is sp.Max else np.min(args))
            numpy_fn = _NUMPY.get(node.func.__name__)
            if numpy_fn is not None and len(args) == 1:
                return float(numpy_fn(args[0]))
        if isinstance(node, sp.logic.boolalg.BooleanFunction):  # And, Or, Not in a Piecewise condition
            return bool(node.func(*(sp.true if a else sp.false for a in args)))
        # Anything else SymPy produced (Heaviside, sech, ...): SymPy's own numerics on float arguments.
        result = node.func(*(sp.Float(a) if isinstance(a, float) else a for a in args))
        if result is sp.true or result is sp.false:
            return bool(result)
        result = result.evalf()
        if not result.is_number or result.is_real is False or result in (sp.zoo, sp.nan):
            undefined(node.func.__name__, f"its value there is {_shown(result)}, not a real number")
        return _to_float(result)

    try:
        result = value(expr)
    except RecursionError:
        raise ExpressionTooLarge("the expression is nested too deeply to evaluate at a point") from None
    if math.isnan(result):
        # float64 met inf/inf or 0*inf inside a formula that has a value (exp(x)/(exp(x) + 1) at x = 1e30):
        # SymPy's arbitrary precision has no such intermediate overflow.
        precise = expr.evalf(30, subs={s: sp.Float(point[s.name], 30) for s in expr.free_symbols})
        if precise.is_number and precise.is_real and precise not in (sp.zoo, sp.nan):
            return _to_float(precise)
    return result


_NUMPY = {
    "exp": np.exp,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "Abs": np.abs,
    "sign": np.sign,
    "relu": lambda u: np.maximum(u, 0.0),
}


def parse_point(text, variables=None):
    """'x=1,y=2' -> {'x': 1.0, 'y': 2.0}; each value may be a constant expression ('1/2', '-pi', 'exp(1)').

    Refused, with the fix: a part without '=', an empty or malformed name, a name given twice, a name
    that is not among `variables` (when given), a value with a variable in it, NaN or an infinite value.
    """
    point = {}
    if text is None:
        return point
    if not text.strip():
        raise ExpressionError("--at is empty; give a point as name=value, e.g. --at x=1,y=2")
    for part in text.split(","):
        if "=" not in part:
            raise ExpressionError(f"expected name=value in {part.strip()!r} (e.g. --at x=1,y=2)")
        name, value = (s.strip() for s in part.split("=", 1))
        if not NAME.fullmatch(name):
            raise ExpressionError(f"{name!r} is not a variable name (in --at {text!r}); names start with a letter")
        if name in point:
            raise ExpressionError(f"--at gives {name} twice ({text!r}); give each variable once")
        if variables is not None and name not in variables:
            known = ", ".join(variables) or "none"
            raise ExpressionError(
                f"--at gives a value for {name}, which is not a variable of the expression (its variables: {known})"
            )
        if not value:
            raise ExpressionError(f"--at {name}= has no value; write e.g. {name}=1")
        try:
            expr = parse(value)
            if expr.free_symbols:
                raise ExpressionError(
                    "the value must be a number or a constant expression (1/2, -pi, exp(1)); "
                    "NaN, inf and names are not values"
                )
            number = ieee(expr, {})
        except ExpressionTooLarge:
            raise
        except ExpressionError as e:
            raise ExpressionError(f"--at {name}={value}: {e}") from None
        if not math.isfinite(number):
            raise ExpressionError(f"--at {name}={value} is {fmt(number)} in float64; give a finite value")
        point[name] = number
    return point


# ----- the symbolic work budget -----


class _OutOfTime(BaseException):
    # A BaseException, so that SymPy's own `except Exception` blocks do not swallow it.
    pass


_BUDGET_ACTIVE = [False]  # a time_budget block is running (main thread only)


@contextlib.contextmanager
def time_budget(seconds, what="symbolic work", budget=None, hint="raise the budget with --time-limit SECONDS"):
    """Stop the SymPy work inside after `seconds` with ExpressionTooLarge naming `what` and the limit
    (`budget` names it in the message: default "the N s budget"; `hint` says how to raise it).

    SIGALRM based: it acts in the main thread on POSIX (the command line); elsewhere the size budgets
    alone apply. The alarm repeats every 250 ms until the block ends, so a handler swallowed by a
    bare `except:` inside SymPy fires again.
    """
    usable = (
        seconds is not None and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not usable or _BUDGET_ACTIVE[0]:  # inside another budget (one alarm at a time): the outer one governs
        yield
        return
    _BUDGET_ACTIVE[0] = True

    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        yield
    except _OutOfTime:
        armed[0] = False
        budget = budget or f"the {seconds:.3g} s budget"
        raise ExpressionTooLarge(f"{what} went over {budget}; try a smaller expression or {hint}") from None
    finally:
        armed[0] = False
        _BUDGET_ACTIVE[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
