"""chainrule.expression: the parser's budgets, parse_point's validation, IEEE evaluation, the time budget."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import expression as ex
from chainrule.expression import ExpressionError, ExpressionTooLarge

sp = pytest.importorskip("sympy")
torch = pytest.importorskip("torch")


# ----- budgets: refused before any exact value is built -----


@pytest.mark.parametrize(
    "text,message",
    [
        ("1e99999999", "too large"),  # Fraction() would build a 100-million-digit integer
        ("1e-99999999", "too small"),
        ("9" * 32, "too large"),
        ("9**9**9**9", "too large"),
        ("99999**999", "more than 1000 digits"),  # 4,999 digits: Python refuses to print over 4,300
        ("(10**999)*" * 5 + "x", "more than 1000 digits"),  # each power allowed, their product is not
        ("((10**99*x)**10)**10", "more than 1000 digits"),  # the coefficient's power, built when it distributes
        ("x+" * 800 + "x", "tokens"),
        ("(" * 101 + "x" + ")" * 101, "nested"),
        ("x" * 2001, "characters"),
    ],
)
def test_budgets_refuse_quickly(text, message):
    start = time.perf_counter()
    with pytest.raises(ExpressionTooLarge, match=message):
        ex.parse(text)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    "text,message",
    [
        ("0^-1 + x", "no real value"),
        ("sqrt(-1)*x", "no real value"),
        ("log(0)", "no real value"),
        ("x/0", "division by zero"),
    ],
)
def test_expressions_without_a_real_value_are_refused(text, message):
    with pytest.raises(ExpressionError, match=message):
        ex.parse(text)


def test_time_budget_interrupts_sympy():
    x, y, z = sp.symbols("x y z")
    start = time.perf_counter()
    with pytest.raises(ExpressionTooLarge, match="expanding went over the 0.2 s budget"):
        with ex.time_budget(0.2, "expanding"):
            sp.expand((x + y + z + 1) ** 400)
    assert time.perf_counter() - start < 3
    with ex.time_budget(5):  # no alarm left behind: a later sleep is not interrupted
        pass
    time.sleep(0.3)


# ----- parse_point -----


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty"),
        ("x", "name=value"),
        ("=1", "not a variable name"),
        ("x=1,x=2", "gives x twice"),
        ("y=1", "not a variable of the expression"),
        ("x=", "has no value"),
        ("x=nan", "NaN, inf and names"),
        ("x=inf", "NaN, inf and names"),
        ("x=10^400", "give a finite value"),
        ("x=1/0", "division by zero"),
        ("x=sqrt(-1)", "no real value"),
        ("x=1=2", "expected"),
        ("é=1", "not a variable name"),
    ],
)
def test_parse_point_refusals(text, message):
    with pytest.raises(ExpressionError, match=message):
        ex.parse_point(text, ["x"])


def test_parse_point_values():
    assert ex.parse_point("x=1/2, y=-pi", ["x", "y"]) == {"x": 0.5, "y": -math.pi}
    assert ex.parse_point(None) == {}


# ----- IEEE evaluation at a point -----


@pytest.mark.parametrize(
    "text,point,expected",
    [
        ("exp(x)", {"x": 710.0}, math.inf),
        ("-exp(x)", {"x": 710.0}, -math.inf),
        ("x**1000", {"x": 10.0}, math.inf),
        ("exp(-x)", {"x": 1000.0}, 0.0),
        ("sigmoid(x)", {"x": -1000.0}, 0.0),
        ("2**1000 * x", {"x": 1.0}, 2.0**1000),
        ("9**1000 * x", {"x": 1.0}, math.inf),
    ],
)
def test_ieee_overflow_gives_inf(text, point, expected):
    assert ex.ieee(ex.parse(text), point) == expected


@pytest.mark.parametrize(
    "text,point,message",
    [
        ("log(x)", {"x": 0.0}, "log is undefined at x = 0"),
        ("log(x - 1)", {"x": -1.0}, "log is undefined at x = -1"),
        ("sqrt(x)", {"x": -4.0}, "sqrt is undefined at x = -4"),
        ("1/x", {"x": 0.0}, "division by zero"),
        ("x**(1/3)", {"x": -8.0}, "negative number to the power"),
    ],
)
def test_ieee_names_the_domain_error(text, point, message):
    with pytest.raises(ExpressionError, match=message):
        ex.ieee(ex.parse(text), point)


def test_ieee_evaluates_only_the_chosen_piecewise_case():
    x = sp.Symbol("x", real=True)
    expr = sp.Piecewise((sp.log(x), x > 0), (0, True))
    assert ex.ieee(expr, {"x": -1.0}) == 0.0
    assert ex.ieee(sp.diff(sp.Max(x, 0), x), {"x": 2.0}) == 1.0  # Heaviside, through SymPy's numerics
    both = sp.Piecewise((1, sp.And(x > 0, x < 2)), (2, sp.Or(x > 5, sp.Not(x > -1))), (3, True))
    assert [ex.ieee(both, {"x": v}) for v in (1.0, 6.0, -2.0, 3.0)] == [1.0, 2.0, 2.0, 3.0]


def _torch_eval(node, env):
    """The expression's tree evaluated with torch float64 ops, by the formulas the parser gives SymPy."""
    kind = node[0]
    if kind == "num":
        return torch.tensor(float(node[1]), dtype=torch.float64)
    if kind == "name":
        return env[node[1]]
    if kind == "const":
        return torch.tensor(math.pi, dtype=torch.float64)
    if kind == "neg":
        return -_torch_eval(node[1], env)
    if kind == "call":
        a = _torch_eval(node[2], env)
        return {
            "exp": torch.exp,
            "log": torch.log,
            "ln": torch.log,
            "sqrt": torch.sqrt,
            "sin": torch.sin,
            "cos": torch.cos,
            "tan": torch.tan,
            "tanh": torch.tanh,
            "abs": torch.abs,
            "sigmoid": lambda v: 1 / (1 + torch.exp(-v)),
            "relu": lambda v: torch.clamp(v, min=0),
            "softplus": lambda v: torch.log(1 + torch.exp(v)),
        }[node[1]](a)
    a, b = _torch_eval(node[1], env), _torch_eval(node[2], env)
    return (
        {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "pow": a**b}[kind]
        if kind != "div" or b != 0
        else a / b
    )


def _expressions():
    leaf = st.sampled_from(["x", "y", "1", "2", "3", "0.5", "pi"])
    return st.recursive(
        leaf,
        lambda e: st.one_of(
            st.tuples(e, st.sampled_from(["+", "-", "*", "/"]), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(e, st.sampled_from(["2", "3", "0.5", "-1"])).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(st.sampled_from(ex.FUNCTIONS), e).map(lambda t: f"{t[0]}({t[1]})"),
        ),
        max_leaves=8,
    )


@settings(deadline=None, max_examples=150)
@given(_expressions(), st.floats(-3, 3), st.floats(-3, 3))
def test_ieee_matches_torch_float64(text, x, y):
    """Differential: where torch's float64 value of the same formula is finite and moderate, ieee() gives
    it too (to rounding: SymPy reorders and cancels exactly), or names a domain error torch turned to NaN."""
    try:
        expr = ex.parse(text)
    except ExpressionError:
        return
    point = {"x": x, "y": y}
    with torch.no_grad():
        expected = _torch_eval(
            ex.parse_ast(text), {k: torch.tensor(v, dtype=torch.float64) for k, v in point.items()}
        ).item()
    try:
        got = ex.ieee(expr, {k: v for k, v in point.items() if sp.Symbol(k, real=True) in expr.free_symbols})
    except ExpressionError as e:
        assert "undefined" in str(e)
        return
    if math.isfinite(expected) and abs(expected) < 1e6 and math.isfinite(got):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-6), (text, point)


def test_evaluate_is_ieee_on_numbers():
    with np.errstate(all="raise"):  # the warnings stay inside evaluate
        assert ex.evaluate("9**1000", {}) == math.inf
        assert ex.evaluate("1/0", {}) == math.inf
