"""The `chainrule derive` and `chainrule grad` commands: symbolic derivatives checked by autodiff.

    chainrule derive "x**10 - 2*x**8 + 4/x**2 + 10" --wrt x --at x=1
    chainrule grad "x**3 + 3*x**2*y + y**3 + 2*x" --at x=1,y=2

Each prints f, its derivative(s) simplified by SymPy, and with --at the value at the point in float64
(IEEE: exp(710) -> inf) next to chainrule's backward on the same expression. The expression is read by
`chainrule.expression` (size budgets, never eval); the symbolic work runs under a time budget
(--time-limit, default TIME_LIMIT seconds): a simplification over its share of the budget prints the
unsimplified derivative instead, anything else over it is refused with a "too large" error.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from .expression import (
    CONSTANTS,
    FUNCTIONS,
    NAME,
    ExpressionError,
    ExpressionTooLarge,
    evaluate,
    fmt,
    ieee,
    parse_ast,
    parse_point,
    time_budget,
    to_sympy,
)

TIME_LIMIT = 10.0  # seconds of symbolic work per command
MAX_PRINTED = 20_000  # characters of one printed formula


class _Deadline:
    """The command's time budget, shared by its steps."""

    def __init__(self, seconds):
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def left(self, share=1.0):
        return max(0.01, (self.end - time.monotonic()) * share)

    def step(self, what, share=1.0):
        return time_budget(self.left(share), what, budget=f"the --time-limit of {self.seconds:g} s")


def _text(expr, deadline):
    """str(expr) under the budget; Python's 4300-digit limit on printing integers becomes a clear error."""
    try:
        with deadline.step("printing the result"):
            text = str(expr)
    except ValueError as e:
        if "digits" not in str(e):
            raise
        raise ExpressionTooLarge(
            "the result holds a number with more than 4300 digits, which is too large to "
            "print; use smaller numbers or exponents"
        ) from None
    if len(text) > MAX_PRINTED:
        raise ExpressionTooLarge(
            f"the result is {len(text):,} characters long (the limit is {MAX_PRINTED:,}); try a smaller expression"
        )
    return text


def _simplified(raw, deadline, out):
    """SymPy's simplify within half the remaining budget; past it, the derivative as differentiated."""
    import sympy as sp

    try:
        with deadline.step("simplifying the derivative", share=0.5):
            return sp.simplify(raw)
    except (ExpressionTooLarge, OverflowError, RecursionError) as e:
        why = (
            f"took longer than its share of --time-limit {deadline.seconds:g} s"
            if isinstance(e, ExpressionTooLarge)
            else f"failed with {type(e).__name__}"
        )
        print(f"(not simplified: SymPy's simplify {why})", file=out)
        return raw


def _expanded(d, deadline):
    """The expanded form when it is cheap and short (a bonus line: skipped, never an error)."""
    import sympy as sp

    try:
        with deadline.step("expanding", share=0.25):
            expanded = sp.expand(d)
            text = str(expanded)
    except (ExpressionTooLarge, ValueError):
        return None
    return text if expanded != d and len(text) <= MAX_PRINTED else None


def _symbol(name):
    import sympy as sp

    return sp.Symbol(name, real=True)


def _check_wrt(wrt, names):
    """--wrt: one valid name, a variable of the expression (any name for a constant expression)."""
    if wrt is None:
        if len(names) > 1:
            raise ExpressionError(f"the expression has variables {', '.join(names)}: choose one with --wrt")
        return names[0] if names else "x"
    wrt = wrt.strip()
    if not NAME.fullmatch(wrt) or wrt in FUNCTIONS or wrt in CONSTANTS:
        raise ExpressionError(f"--wrt {wrt!r} is not a variable name; give one name such as --wrt x")
    if names and wrt not in names:
        raise ExpressionError(
            f"--wrt {wrt}: the expression has no variable {wrt}; its variables are {', '.join(names)}"
        )
    return wrt


def _autodiff(ast, point, wrt_names):
    """chainrule's backward on the expression at the point: the gradient for each name in wrt_names."""
    from .tensor import Tensor

    env = {k: Tensor(v, dtype=np.float64, requires_grad=k in wrt_names) for k, v in point.items()}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = evaluate(ast, env)
        if not getattr(y, "requires_grad", False):
            return [0.0 for _ in wrt_names]
        y.backward()
    return [env[n].grad.item() if env[n].grad is not None else 0.0 for n in wrt_names]


def _read(args):
    """The parsed expression, its SymPy form, its variable names and the command's deadline."""
    deadline = _Deadline(getattr(args, "time_limit", None) or TIME_LIMIT)
    ast = parse_ast(args.expr)
    with deadline.step("building the expression"):
        expr = to_sympy(ast)
    names = sorted(s.name for s in expr.free_symbols)
    return ast, expr, names, deadline


def _point(args, names):
    at = getattr(args, "at", None)
    point = parse_point(at, names) if at is not None else {}
    missing = [n for n in names if n not in point]
    if point and missing:
        raise ExpressionError(f"--at gives no value for {', '.join(missing)}")
    return point


def _shown_point(point, names):
    """The point as printed, in the order of f's variables (the order of the gradient's components)."""
    return ", ".join(f"{k}={fmt(point[k])}" for k in names if k in point)


def _value_at(expr, point, deadline, what):
    with deadline.step(f"evaluating {what} at the point"):
        return ieee(expr, point)


def _refusing(command):
    """Run a command, printing a refused input as one `error:` line with exit code 2."""

    def run(args, out=None):
        try:
            return command(args, out or sys.stdout)
        except ExpressionError as e:
            print(f"error: {e}", file=sys.stderr)
        except (OverflowError, RecursionError) as e:
            # SymPy's numerics on a huge constant, or its recursion on a deep result
            print(
                f"error: the expression is too large for SymPy ({type(e).__name__}: {e}); try a smaller one",
                file=sys.stderr,
            )
        return 2

    run.__name__, run.__doc__ = command.__name__, command.__doc__
    return run


@_refusing
def derive_command(args, out):
    """`chainrule derive EXPR [--wrt x] [--at x=1]`: print f, df/dx simplified, and its value.

    Returns the process exit code (0, or 2 for an expression or option that is refused).
    """
    import sympy as sp

    ast, expr, names, deadline = _read(args)
    wrt = _check_wrt(getattr(args, "wrt", None), names)
    point = _point(args, names)
    with deadline.step("differentiating"):
        raw = sp.diff(expr, _symbol(wrt))
    print(f"f({', '.join(names) or wrt}) = {_text(expr, deadline)}", file=out)
    d = _simplified(raw, deadline, out)
    print(f"df/d{wrt} = {_text(d, deadline)}", file=out)
    expanded = _expanded(d, deadline)
    if expanded is not None:
        print(f"        = {expanded}", file=out)
    if point:
        _value_at(expr, point, deadline, "f")  # a point outside f's domain is named, not differentiated
        value = _value_at(d, point, deadline, f"df/d{wrt}")
        shown = _shown_point(point, names)
        print(f"at {shown}: df/d{wrt} = {fmt(value)}", file=out)
        if wrt in point:
            (auto,) = _autodiff(ast, point, [wrt])
            print(f"autodiff check (chainrule backward): {fmt(auto)}", file=out)
    return 0


@_refusing
def grad_command(args, out):
    """`chainrule grad EXPR [--at x=1,y=2]`: print the gradient symbolically and its value at the point."""
    import sympy as sp

    ast, expr, names, deadline = _read(args)
    point = _point(args, names)
    print(f"f({', '.join(names)}) = {_text(expr, deadline)}", file=out)
    partials = []
    for n in names:
        with deadline.step(f"differentiating by {n}"):
            raw = sp.diff(expr, _symbol(n))
        partials.append(_simplified(raw, deadline, out))
        print(f"df/d{n} = {_text(partials[-1], deadline)}", file=out)
    if point:
        _value_at(expr, point, deadline, "f")
        values = [_value_at(p, point, deadline, f"df/d{n}") for n, p in zip(names, partials)]
        shown = _shown_point(point, names)
        print(f"grad f({shown}) = ({', '.join(fmt(v) for v in values)})", file=out)
        auto = _autodiff(ast, point, names)
        print(f"autodiff check (chainrule backward): ({', '.join(fmt(v) for v in auto)})", file=out)
    return 0
