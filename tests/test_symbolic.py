"""The SymPy bridge: tracing chainrule functions, calculus, identities, the safe parser (fuzzed), CLI handlers."""

import types

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.symbolic as sym
from chainrule import cli_derive
from chainrule.symbolic import ExpressionError, parse

x, y = sp.symbols("x y", real=True)


def test_trace_and_diff_of_chainrule_functions():
    assert sym.trace(lambda x: cr.exp(x) * cr.log(x)) == sp.exp(x) * sp.log(x)
    assert sym.trace(cr.relu, "x").rewrite(sp.Max) == sp.Max(x, 0)
    assert str(sym.trace(cr.relu, "x")) == "relu(x)" and str(sym.trace(lambda x: cr.maximum(x, 0))) == "Max(0, x)"
    assert sym.trace(cr.softplus, "x") == sp.log(sp.exp(x) + 1)  # the numeric guard is dropped
    d = sym.diff(lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10, "x")
    assert sp.expand(d - (10 * x**9 - 16 * x**7 - 8 / x**3)) == 0
    a = sp.Symbol("a", real=True)
    assert sp.simplify(sym.diff("a^x", "x") - a**x * sp.log(a)) == 0


def test_gradient_and_hessian():
    f = lambda x, y: x**3 + 3 * x**2 * y + y**3 + 2 * x
    g = sym.gradient(f)
    assert [gi.subs({x: 1, y: 2}) for gi in g] == [17, 15]
    H = sym.hessian(f)
    assert H == sp.Matrix([[6 * x + 6 * y, 6 * x], [6 * x, 6 * y]])


def test_activation_identities():
    assert sym.equal(sym.diff(cr.sigmoid, "x"), sym.trace(lambda x: cr.sigmoid(x) * (1 - cr.sigmoid(x))))
    assert sym.equal(sym.diff(cr.tanh, "x"), sym.trace(lambda x: 1 - cr.tanh(x) ** 2))
    check = sym.identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1)
    assert check and check.max_abs_error < 1e-12
    wrong = sym.identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(x) - 1)
    assert not wrong and not wrong.symbolic and not wrong.numeric


def test_softmax_jacobian_is_p_i_delta_ij_minus_p_j():
    names = ["z1", "z2"]
    J = sym.jacobian(lambda z: cr.softmax(z, dim=0), [names])
    z = sp.symbols("z1 z2", real=True)
    p = [sp.exp(zi) / sum(sp.exp(zj) for zj in z) for zi in z]
    expected = sp.Matrix(2, 2, lambda i, j: p[i] * ((1 if i == j else 0) - p[j]))
    assert sym.equal(J, expected)
    assert not sym.equal(J, sp.Matrix(2, 2, lambda i, j: p[i] * (1 - p[j])))


def test_parser_grammar():
    assert parse("x^3 + 3*x^2*y + y^3 + 2*x") == x**3 + 3 * x**2 * y + y**3 + 2 * x
    assert parse("-x**2") == -(x**2)
    assert parse("2^3^2") == 512  # right-associative
    assert parse("2**-1") == sp.Rational(1, 2)
    assert parse("0.25 * x") == x / 4
    assert parse("1e-3") == sp.Rational(1, 1000)
    assert parse("ln(x) - log(x)") == 0
    assert parse("sigmoid(x)") == 1 / (1 + sp.exp(-x))
    assert parse("relu(x) + abs(y) + sqrt(x) + pi").rewrite(sp.Max) == sp.Max(x, 0) + sp.Abs(y) + sp.sqrt(x) + sp.pi


@pytest.mark.parametrize(
    "text,token,pos",
    [
        ("x @ y", "@", 2),
        ("__import__('os')", "'", 11),
        ("x + ", "", 4),
        ("foo(x)", "foo", 0),
        ("exp", "exp", 0),
        ("(x", "", 2),
        ("x y", "y", 2),
        ("x.real", ".", 1),
        ("_x", "_x", 0),
        ("", "", 0),
    ],
)
def test_parser_errors_name_the_token_and_position(text, token, pos):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.position == pos and info.value.token == token


def test_the_no_eval_guard_works():
    with pytest.raises(AssertionError, match="evaluated code"):
        with _no_eval():
            sp.sympify("x + 1")


def test_parser_refuses_huge_work():
    with pytest.raises(ExpressionError, match="too large"):
        parse("9**9**9")
    with pytest.raises(ExpressionError, match="nested"):
        parse("(" * 500 + "x" + ")" * 500)
    with pytest.raises(ExpressionError, match="limit"):
        parse("x+" * 2000 + "x")


def _boom(*a, **k):
    raise AssertionError("the parser evaluated code")


def _no_eval():
    """Make every code-evaluating entry point explode while the parser runs (only then: pytest needs them)."""
    import contextlib
    from unittest import mock

    import sympy

    # SymPy imports some modules on first use (sympy.tensor.tensor inside Add.flatten), and an
    # import runs its module's code through exec: parse every construct once before exec is
    # patched, so only the parser's own behaviour is under test.
    parse(
        "-x + y * 2 - x / y + x ** 2 + x ^ 3 + exp(x) + log(x) + ln(x) + sqrt(x) + sin(x) + cos(x) + tan(x)"
        " + tanh(x) + sigmoid(x) + relu(x) + abs(x) + softplus(x) + pi + 1e3 + 2.5"
    )
    original_sympify = sympy.sympify

    def sympify_objects_only(value, *args, **kwargs):
        # SymPy itself calls sympify on expressions it builds (x + x does, depending on its
        # cache); only a string reaching sympify would mean text being evaluated.
        if isinstance(value, str):
            _boom()
        return original_sympify(value, *args, **kwargs)

    stack = contextlib.ExitStack()
    for target in ("builtins.eval", "builtins.exec", "builtins.compile"):
        stack.enter_context(mock.patch(target, _boom))
    stack.enter_context(mock.patch("sympy.sympify", sympify_objects_only))
    return stack


ALPHABET = "xy12.e+-*/^() _abcdfgilnopqrstuvw'\"@;[]{}=!<>,\\\n"
TOKENS = [
    "x",
    "y",
    "1",
    "2.5",
    "1e3",
    "+",
    "-",
    "*",
    "/",
    "**",
    "^",
    "(",
    ")",
    "exp",
    "log",
    "sqrt",
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "pi",
    "__import__",
    "lambda",
    ".",
    ",",
    "'os'",
    "@",
    " ",
]


def _parse_or_documented_error(text):
    try:
        with _no_eval():
            parse(text)
    except ExpressionError as e:
        assert str(e)
    except (ZeroDivisionError, OverflowError):
        pass  # arithmetic on valid numbers (1/0 is refused earlier; float overflow is not code)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_fuzz_random_strings(text):
    _parse_or_documented_error(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_fuzz_random_token_sequences(toks):
    _parse_or_documented_error("".join(toks))


def test_evaluate_with_tensors_matches_sympy():
    env = {"x": cr.tensor(0.7, dtype=cr.float64, requires_grad=True)}
    out = sym.evaluate("tanh(x)^2 + sigmoid(x) * ln(x) + softplus(x)", env)
    out.backward()
    expr = parse("tanh(x)^2 + sigmoid(x) * ln(x) + softplus(x)")
    assert out.item() == pytest.approx(float(expr.subs(x, 0.7)))
    assert env["x"].grad.item() == pytest.approx(float(sp.diff(expr, x).subs(x, 0.7)))


def test_derive_command(capsys):
    rc = cli_derive.derive_command(types.SimpleNamespace(expr="x**10 - 2*x**8 + 4/x**2 + 10", wrt="x", at="x=1"))
    out = capsys.readouterr().out
    assert rc == 0
    assert "10*x**9 - 16*x**7 - 8/x**3" in out
    assert "at x=1: df/dx = -14" in out and "autodiff check (chainrule backward): -14" in out


def test_grad_command(capsys):
    rc = cli_derive.grad_command(types.SimpleNamespace(expr="x**3 + 3*x**2*y + y**3 + 2*x", wrt=None, at="x=1,y=2"))
    out = capsys.readouterr().out
    assert rc == 0
    assert "df/dx = 3*x**2 + 6*x*y + 2" in out and "grad f(x=1, y=2) = (17, 15)" in out
    assert "autodiff check (chainrule backward): (17, 15)" in out


def test_commands_report_bad_input(capsys):
    rc = cli_derive.grad_command(types.SimpleNamespace(expr="x + os.system('ls')", wrt=None, at=None))
    err = capsys.readouterr().err
    assert rc == 2 and "position" in err and "'.'" in err
    rc = cli_derive.derive_command(types.SimpleNamespace(expr="x*y", wrt=None, at=None))
    assert rc == 2 and "--wrt" in capsys.readouterr().err
    rc = cli_derive.grad_command(types.SimpleNamespace(expr="x*y", wrt=None, at="x=1"))
    assert rc == 2 and "no value for y" in capsys.readouterr().err


# ----- trace() never silently takes a branch: what JAX refuses while tracing, trace() refuses -----


def _while_below_three(x, ops):
    steps = 0
    while x < 3 and steps < 50:  # bounded, so a tracer that answers True cannot hang the test
        x = x + 1
        steps += 1
    return x


# Each function is written once for chainrule (ops=cr) and for jax.numpy (ops=jnp).
NEEDS_A_VALUE = {
    "if on a comparison": lambda x, ops: x * 2 if x > 0 else -x,
    "while": _while_below_three,
    "bool()": lambda x, ops: x * bool(x),
    "float()": lambda x, ops: float(x) * x,
    "int()": lambda x, ops: int(x) * x,
    "if on ==": lambda x, ops: x if x == 0 else x * 3,
    "if on !=": lambda x, ops: x * 3 if x != 1 else x,
    "builtin max": lambda x, ops: max(x, 0.0),
    "and": lambda x, ops: x * 2 if (x > 0 and x < 1) else x,
    "range()": lambda x, ops: sum(x for _ in range(x)),
    "if on an op's result": lambda x, ops: ops.exp(x) if ops.exp(x) > 2 else x,
}
TRACEABLE = {
    "a comparison returned": lambda x, ops: x > 0,
    "where": lambda x, ops: ops.where(x > 0, x * 2, x * x),
    "nested where": lambda x, ops: ops.where(x > 1, ops.exp(x), ops.where(x < -1, -x, x**3)),
    "maximum": lambda x, ops: ops.maximum(x, 0.5 * x),
    "abs": lambda x, ops: abs(x) * x,
    "constant branch": lambda x, ops: x * 2 if 2 > 1 else x,
}


def _jax_refuses(f):
    import jax
    import jax.numpy as jnp

    try:
        jax.make_jaxpr(lambda x: f(x, jnp))(0.5)
    except TypeError:  # ConcretizationTypeError, TracerBoolConversionError, TracerIntegerConversionError
        return True
    return False


@pytest.mark.parametrize("name", list(NEEDS_A_VALUE) + list(TRACEABLE))
def test_trace_refuses_exactly_what_jax_refuses(name):
    f = NEEDS_A_VALUE.get(name) or TRACEABLE[name]
    jax_refuses = _jax_refuses(f)
    assert jax_refuses == (name in NEEDS_A_VALUE)
    if jax_refuses:
        with pytest.raises(sym.ConcretizationError, match="symbolic value"):
            sym.trace(lambda x: f(x, cr), "x")
    else:
        sym.trace(lambda x: f(x, cr), "x")


@pytest.mark.parametrize("name", ["where", "nested where", "maximum", "abs"])
def test_where_traces_to_a_piecewise_that_matches_jax_values_and_gradients(name):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    f = TRACEABLE[name]
    expr = sym.trace(lambda x: f(x, cr), "x")
    value = sp.lambdify(x, expr, "numpy")
    slope = sp.lambdify(x, sym.diff(lambda x: f(x, cr), "x"), "numpy")
    jf = jax.jit(lambda t: f(t, jnp))
    points = [-2.5, -1.5, -0.75, -0.2, 0.3, 0.9, 1.6, 2.4]  # none on a switch point
    for p in points:
        assert float(value(p)) == pytest.approx(float(jf(p)), rel=1e-12, abs=1e-12)
        assert float(slope(p)) == pytest.approx(float(jax.grad(lambda t: f(t, jnp))(p)), rel=1e-12, abs=1e-12)
    if name == "where":
        assert expr == sp.Piecewise((2 * x, x > 0), (x**2, True))


def _branchy(x):
    y = cr.exp(x)
    if y > 2:
        return y
    return x


def test_the_refusal_names_the_line_and_suggests_where():
    import inspect

    with pytest.raises(sym.ConcretizationError) as info:
        sym.trace(_branchy, "x")
    message = str(info.value)
    lines, first = inspect.getsourcelines(_branchy)
    line = first + next(i for i, text in enumerate(lines) if "if y > 2" in text)
    assert f"test_symbolic.py:{line}" in message and "if y > 2" in message
    assert "chainrule.where" in message and "Piecewise" in message
    assert isinstance(info.value, TypeError)  # as JAX's ConcretizationTypeError


def test_constants_still_give_their_values():
    assert float(sym.Sym(sp.Rational(3, 2))) == 1.5
    assert int(sym.Sym(sp.Integer(3))) == 3
    assert bool(sym.Sym(sp.Integer(2)) > 1) is True
    assert [i for i in range(sym.Sym(sp.Integer(3)))] == [0, 1, 2]
