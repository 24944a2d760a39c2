"""The numbers and formulas the teaching tools print, checked against independent oracles.

explain()'s local partials and sums, the symbolic derivatives, trace_table, the graph labels, the
explorer's data, plot_function's derivative curve, the gradient-flow diagnostics, Value and the
worked examples: each against torch, JAX, SymPy or a formula written out here by hand (never
against chainrule's own output), at points that include ties, kinks and shared nodes.
"""

import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import _fmt, explain

F64 = cr.float64


def _t(v, name=None, grad=True):
    return cr.tensor(v, requires_grad=grad, dtype=F64, name=name)


def _name(t, name):
    t.name = name
    return t


def _assert_sums(e):
    """Every step: the uses' contributions add up to the total, and elementwise ones are upstream x local."""
    for s in e.steps:
        np.testing.assert_allclose(sum(u.contribution for u in s.uses), s.total, rtol=1e-12, atol=1e-12)
        for u in s.uses:
            if u.local is not None:
                np.testing.assert_allclose(u.contribution, u.upstream * u.local, rtol=1e-12, atol=1e-14)


# ----- explain: local partials against hand-derived formulas, totals against torch -----


def test_explain_division_variable_exponent_maximum_and_abs_kink_against_torch():
    torch = pytest.importorskip("torch")
    a0, b0 = 1.5, 0.7

    def build(lib, a, b):
        p = a**b
        q = 3.0 / p
        m = lib.maximum(q, a)
        return p, q, m, m * q + lib.abs(a - 1.5)  # |a - 1.5| at its kink: torch's slope there is 0

    a, b = _t(a0, "a"), _t(b0, "b")
    p, q, m, L = build(cr, a, b)
    _name(p, "p"), _name(q, "q"), _name(m, "m"), _name(L, "L")
    e = explain(L)
    ta = torch.tensor(a0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    _, _, _, tL = build(torch, ta, tb)
    tL.backward()
    assert e["a"].total == pytest.approx(ta.grad.item(), rel=1e-12)
    assert e["b"].total == pytest.approx(tb.grad.item(), rel=1e-12)
    pv, qv = a0**b0, 3.0 / a0**b0
    local = {(s.name, u.consumer): float(u.local) for s in e.steps for u in s.uses if u.local is not None}
    assert local[("p", "q")] == pytest.approx(-3.0 / pv**2, rel=1e-12)
    assert local[("b", "p")] == pytest.approx(pv * math.log(a0), rel=1e-12)
    assert local[("a", "p")] == pytest.approx(b0 * a0 ** (b0 - 1), rel=1e-12)
    assert local[("q", "m")] == 1.0 and local[("a", "m")] == 0.0  # q > a: the max is q
    assert local[("m", "L")] == pytest.approx(qv, rel=1e-12) and local[("q", "L")] == pytest.approx(qv, rel=1e-12)
    assert local[("a", "L")] == 0.0
    _assert_sums(e)


def test_explain_maximum_at_a_tie_splits_the_gradient_as_torch_does():
    torch = pytest.importorskip("torch")
    x, y = _t(2.0, "x"), _t(2.0, "y")
    m = _name(cr.maximum(x, y), "m")
    L = _name(m * 3.0, "L")
    e = explain(L)
    tx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (torch.maximum(tx, ty) * 3.0).backward()
    assert float(e["x"].uses[0].local) * 3.0 == pytest.approx(tx.grad.item())
    assert float(e["y"].uses[0].local) * 3.0 == pytest.approx(ty.grad.item())
    assert e["x"].total + e["y"].total == pytest.approx(3.0)  # the split never loses gradient
    _assert_sums(e)


def test_explain_node_used_twice_through_unnamed_ops_and_its_symbol():
    sympy = pytest.importorskip("sympy")
    x = _t(0.8, "x")
    h = _name(cr.tanh(x), "h")
    L = _name(h * h * x + cr.exp(h), "L")  # h reaches L along three unnamed paths, x along two
    e = explain(L)
    hv = math.tanh(0.8)
    ((hu,),) = [e["h"].uses]
    assert float(hu.local) == pytest.approx(2 * hv * 0.8 + math.exp(hv), rel=1e-12)
    symbol = e.local_symbol("L", "h")
    assert float(sympy.sympify(symbol).subs({"h": hv, "x": 0.8})) == pytest.approx(float(hu.local), rel=1e-12)
    dx = (2 * hv * 0.8 + math.exp(hv)) * (1 - hv**2) + hv**2
    assert e["x"].total == pytest.approx(dx, rel=1e-12)
    _assert_sums(e)


def test_explain_broadcasting_reduction_and_matmul_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    u0, w0, W0 = rng.normal(size=3), rng.normal(size=(2, 1)), rng.normal(size=(4, 3))

    def build(u, w, W):
        v = u * w  # (3,) x (2, 1) -> (2, 3)
        s = (v * v).sum(1)  # a reduction
        z = W @ u
        return v, s, z, (s * s).sum() + z.tanh().sum()

    u, w, W = _t(u0, "u"), _t(w0, "w"), _t(W0, "W")
    v, s, z, L = build(u, w, W)
    _name(v, "v"), _name(s, "s"), _name(z, "z"), _name(L, "L")
    e = explain(L)
    tu, tw, tW = (torch.tensor(a, requires_grad=True) for a in (u0, w0, W0))
    build(tu, tw, tW)[-1].backward()
    np.testing.assert_allclose(e["u"].total, tu.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e["w"].total, tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e["W"].total, tW.grad.numpy(), rtol=1e-12)
    for name in ("u", "w"):  # a broadcast input has no elementwise partial: its term is the VJP
        assert all(u.local is None for u in e[name].uses if u.consumer == "v")
    _assert_sums(e)


def test_explain_after_retain_grad_matches_the_retained_gradient():
    x, y = _t([0.5, -1.0], "x"), _t([2.0, 3.0], "y")
    h = _name(x * y, "h")
    h.retain_grad()
    L = _name((cr.sin(h) * x).sum(), "L")
    L.backward()
    e = explain(L)
    np.testing.assert_allclose(e["h"].total, h.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e["x"].total, x.grad.numpy(), rtol=1e-12)
    hv = np.array([0.5, -1.0]) * np.array([2.0, 3.0])
    (hu,) = e["h"].uses  # through the sum: a VJP, not an elementwise partial
    assert hu.local is None
    np.testing.assert_allclose(hu.contribution, np.cos(hv) * np.array([0.5, -1.0]), rtol=1e-12)
    _assert_sums(e)


def test_explain_unnamed_matmul_shared_by_two_named_outputs_is_not_counted_twice():
    # W -> (unnamed) W @ x -> both v1 = tanh and v2 = exp: the two uses' VJPs must add up to dL/dW.
    # It printed "dL/dW = X + X = X": each use was given the whole gradient through the matmul.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W0, x0 = rng.normal(size=(2, 3)), rng.normal(size=3)
    W = _t(W0, "W")
    t = W @ cr.tensor(x0, dtype=F64)
    v1, v2 = _name(cr.tanh(t), "v1"), _name(cr.exp(t), "v2")
    L = _name((v1 * v2).sum(), "L")
    e = explain(L)
    tW = torch.tensor(W0, requires_grad=True)
    tt = tW @ torch.tensor(x0)
    (torch.tanh(tt) * torch.exp(tt)).sum().backward()
    np.testing.assert_allclose(e["W"].total, tW.grad.numpy(), rtol=1e-12)
    _assert_sums(e)
    assert len(e["W"].uses) == 1 and set(e["W"].uses[0].shared) == {"v1", "v2"}  # one joint term, exact
    text = str(e)
    assert "dL/dW = [(∂v2/∂W)ᵀ dL/dv2 + (∂v1/∂W)ᵀ dL/dv1]" in text or "dL/dW = [(∂v1/∂W)ᵀ dL/dv1 + (∂v2" in text
    assert r"\left[" in e.to_latex()


def test_explain_unnamed_node_feeding_an_elementwise_and_a_matmul_target():
    # x -> (unnamed) exp -> v1 = sin (elementwise, exact partial) and -> W @ . -> v2: v2's term is what is left.
    rng = np.random.default_rng(3)
    x0, W0 = rng.normal(size=3), rng.normal(size=(2, 3))
    x = _t(x0, "x")
    t = cr.exp(x)
    v1 = _name(cr.sin(t), "v1")
    v2 = _name(cr.tensor(W0, dtype=F64) @ t, "v2")
    L = _name(v1.sum() + (v2 * v2).sum(), "L")
    e = explain(L)
    uses = {u.consumer: u.contribution for u in e["x"].uses}
    np.testing.assert_allclose(uses["v1"], np.cos(np.exp(x0)) * np.exp(x0), rtol=1e-12)
    np.testing.assert_allclose(uses["v2"], np.exp(x0) * (W0.T @ (2 * W0 @ np.exp(x0))), rtol=1e-12)
    _assert_sums(e)


def test_explain_two_unnamed_matmuls_to_two_named_outputs_each_get_their_own_vjp():
    rng = np.random.default_rng(2)
    W0, A0, B0 = rng.normal(size=(3,)), rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    W = _t(W0, "W")
    v1 = _name(cr.tanh(cr.tensor(A0, dtype=F64) @ W), "v1")
    v2 = _name(cr.sin(cr.tensor(B0, dtype=F64) @ W), "v2")
    L = _name(v1.sum() + (v2 * v2).sum(), "L")
    e = explain(L)
    uses = {u.consumer: u.contribution for u in e["W"].uses}
    np.testing.assert_allclose(uses["v1"], A0.T @ (1 - np.tanh(A0 @ W0) ** 2), rtol=1e-12)
    s = B0 @ W0
    np.testing.assert_allclose(uses["v2"], B0.T @ (2 * np.sin(s) * np.cos(s)), rtol=1e-12)
    _assert_sums(e)


def test_explain_refuses_two_tensors_with_one_name():
    # The second "h" once showed the first one's upstream gradient: "dL/dh = dL/dh·∂h/∂h = (3)·(3)".
    x = _t(2.0, "x")
    h1 = _name(x * x, "h")
    h2 = _name(h1 * 3, "h")
    L = _name(h2 + x, "L")
    with pytest.raises(ValueError, match="two tensors in this graph are named 'h'"):
        explain(L)
    e = explain(L, names={"h1": h1, "h2": h2})  # distinct names given: the right numbers
    assert e["h2"].total == 1.0 and e["h1"].total == 3.0
    (use,) = e["h1"].uses
    assert (float(use.upstream), float(use.local)) == (1.0, 3.0)


def test_small_gradients_are_never_printed_as_zero():
    # array2string(suppress_small=True) printed [1e-05, 2e-05] as "[0., 0.]": a vanishing gradient shown as none.
    assert _fmt(np.array([1e-5, 2e-5])) != "[0., 0.]"
    assert [float(v) for v in re.findall(r"[-\d.e+]+", _fmt(np.array([1e-5, 2e-5])))] == [1e-5, 2e-5]
    x = _t([1e-3, 2e-3], "x")
    L = _name((x * x * x).sum(), "L")
    text = str(explain(L))
    assert "[3.e-06, 1.2e-05]" in text or "[3.0e-06, 1.2e-05]" in text, text


def test_explain_prints_infinite_and_nan_gradients():
    # _fmt ran int(v) on every float scalar: str(explain(L)) raised at the first inf or NaN gradient.
    x = _t(0.0, "x")
    y = _name(cr.sqrt(x), "y")
    text = str(explain(_name(y * 2, "L")))
    assert "= (2)·(inf)\n" in text and "1/(2*sqrt(x)) = inf" in text
    assert _fmt(np.array(np.nan)) == "nan" and _fmt(np.array(-np.inf)) == "-inf"


def test_every_printed_symbol_evaluates_to_the_number_beside_it():
    sympy = pytest.importorskip("sympy")
    a, b = _t(1.3, "a"), _t(0.6, "b")
    c = _name(a / b + a**b, "c")
    d = _name(cr.sigmoid(c) * cr.log(a) - cr.sqrt(b) * cr.exp(-c), "d")
    L = _name(d * d * c, "L")
    e = explain(L)
    values = {"a": 1.3, "b": 0.6, "c": float(c._data), "d": float(d._data)}
    checked = 0
    for s in e.steps:
        for u in s.uses:
            sym = e.local_symbol(u.consumer, s.name)
            if sym is None or u.local is None:
                continue
            assert float(sympy.sympify(sym).subs(values)) == pytest.approx(float(u.local), rel=1e-10), (s.name, sym)
            checked += 1
    assert checked >= 5
    _assert_sums(e)


def test_local_symbols_at_relu_and_abs_kinks_evaluate_to_the_printed_numbers():
    sympy = pytest.importorskip("sympy")
    torch = pytest.importorskip("torch")
    # Printed "∂r/∂u = 3*Heaviside(u) = 0" (SymPy's Heaviside(0) is 1/2) and, for |w| with complex symbols,
    # "∂a/∂w = 2*(re(w)*Derivative(re(w), w) + im(w)*Derivative(im(w), w))*sign(w)/w = -2".
    u, w = _t(0.0, "u"), _t(-2.0, "w")
    r, a = _name(cr.relu(u) * 3, "r"), _name(cr.abs(w) * 2, "a")
    e = explain(_name(r + a, "L"))
    tu = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (torch.relu(tu) * 3).backward()
    assert float(e["u"].uses[0].local) == tu.grad.item() == 0.0
    for name, consumer, at in (("u", "r", {"u": 0.0}), ("w", "a", {"w": -2.0})):
        symbol = e.local_symbol(consumer, name)
        assert "re(" not in symbol and "Derivative" not in symbol, symbol
        (use,) = e[name].uses
        assert float(sympy.sympify(symbol).subs(at)) == float(use.local), symbol
    assert "∂a/∂w = 2*sign(w) = -2" in str(e)


# ----- symbolic derivatives against chainrule's autodiff and torch -----

_SYMBOLIC_CASES = {
    "a^x": (lambda x: 2.5**x, lambda t, torch: 2.5**t, [-1.0, 0.0, 1.5, 3.0]),
    "poly": (
        lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10,
        lambda t, torch: t**10 - 2 * t**8 + 4 / t**2 + 10,
        [-1.3, 0.5, 1.0, 2.0],
    ),
    "sigmoid": (cr.sigmoid, lambda t, torch: torch.sigmoid(t), [-3.0, 0.0, 0.7]),
    "tanh": (cr.tanh, lambda t, torch: torch.tanh(t), [-2.0, 0.0, 0.4]),
    "softplus": (cr.softplus, lambda t, torch: torch.nn.functional.softplus(t), [-4.0, 0.0, 3.0, 25.0]),
    "logaddexp": (lambda x: cr.log(cr.exp(x) + cr.exp(2 * x)), lambda t, torch: torch.logaddexp(t, 2 * t), [-1, 0.3]),
    "relu": (cr.relu, lambda t, torch: torch.relu(t), [-1.0, 0.5]),
    "abs": (cr.abs, lambda t, torch: torch.abs(t), [-1.0, 0.0, 0.5]),
    "where": (
        lambda x: cr.where(x > 25, x**2, x * 3),  # a threshold at or above 20 is a real branch too
        lambda t, torch: torch.where(t > 25, t**2, t * 3),
        [1.0, 24.0, 30.0],
    ),
}


@pytest.mark.parametrize("case", sorted(_SYMBOLIC_CASES))
def test_symbolic_derivative_agrees_with_autodiff_and_torch(case):
    sympy = pytest.importorskip("sympy")
    torch = pytest.importorskip("torch")
    import chainrule.symbolic as sym

    f, tf, points = _SYMBOLIC_CASES[case]
    d = sym.diff(f, "x")
    x = sympy.Symbol("x", real=True)
    for p in points:
        want_f = tf(torch.tensor(float(p), dtype=torch.float64), torch).item()
        assert float(sym.trace(f, "x").subs(x, p)) == pytest.approx(want_f, rel=1e-12)
        t = torch.tensor(float(p), dtype=torch.float64, requires_grad=True)
        tf(t, torch).backward()
        ours = float(cr.grad(f)(cr.tensor(float(p), dtype=F64)))
        assert float(d.subs(x, p)) == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12), (case, p, d)
        assert ours == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(
    "f,torch_f",
    [
        (cr.relu, lambda t, torch: torch.relu(t)),
        (lambda x: cr.nn.functional.relu(x), lambda t, torch: torch.nn.functional.relu(t)),
        (lambda x: x.relu(), lambda t, torch: t.relu()),
        (lambda x: cr.relu(x) ** 2 + x, lambda t, torch: torch.relu(t) ** 2 + t),
        (lambda x: cr.maximum(x, 0), lambda t, torch: torch.maximum(t, torch.zeros_like(t))),
    ],
)
def test_symbolic_slope_at_zero_is_the_engines_and_torchs(f, torch_f):
    # relu traced to Max(x, 0), whose SymPy derivative Heaviside(x) is 1/2 at 0, while relu'(0) = 0 in the engine
    # and in torch; maximum(x, 0) keeps Max, whose slope at the tie is 1/2 in all three
    sp = pytest.importorskip("sympy")
    torch = pytest.importorskip("torch")
    import chainrule.symbolic as sym

    x = sp.Symbol("x", real=True)
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    torch_f(t, torch).backward()
    assert float(sym.diff(f, "x").subs(x, 0)) == float(cr.grad(f)(cr.tensor(0.0, dtype=F64))) == t.grad.item()


def test_symbolic_where_above_twenty_stays_a_branch_but_softplus_keeps_its_exact_formula():
    sp = pytest.importorskip("sympy")
    import chainrule.symbolic as sym

    x = sp.Symbol("x", real=True)
    # where(x > 25, x**2, x) once traced to `x`: the branch above 20 was taken for softplus's guard and dropped.
    assert sym.trace(lambda x: cr.where(x > 25, x**2, x)) == sp.Piecewise((x**2, x > 25), (x, True))
    assert sym.diff(lambda x: cr.where(x > 100, 0 * x, x), "x").subs(x, 200) == 0
    assert sym.trace(cr.softplus, "x") == sp.log(sp.exp(x) + 1)
    assert sp.simplify(sym.trace(lambda x: cr.softplus(x, beta=2), "x") - sp.log(sp.exp(2 * x) + 1) / 2) == 0
    v = sym.trace(lambda z: cr.softplus(z), ["z1", "z2"])  # elementwise on a vector as well
    assert not v.has(sp.Piecewise)


def test_gradient_of_a_function_of_two_variables():
    sp = pytest.importorskip("sympy")
    torch = pytest.importorskip("torch")
    import chainrule.symbolic as sym

    def f(x, y):
        return x**3 + 3 * x**2 * y + y**3 + 2 * x

    gx, gy = sym.gradient(f)
    x, y = sp.symbols("x y", real=True)
    at = {x: 1, y: 2}
    assert (gx.subs(at), gy.subs(at)) == (17, 15)  # 3 + 12 + 2, 3 + 12
    tx, ty = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.0, 2.0))
    f(tx, ty).backward()
    assert (tx.grad.item(), ty.grad.item()) == (17.0, 15.0)
    assert [float(g) for g in cr.grad(f, argnums=(0, 1))(_t(1.0, grad=False), _t(2.0, grad=False))] == [17.0, 15.0]
    assert sym.gradient("x^3 + 3*x^2*y + y^3 + 2*x") == [gx, gy]


def test_identity_numeric_check_does_not_skip_nan():
    pytest.importorskip("sympy")
    import chainrule.symbolic as sym

    # log(x^2) and 2 log(x) differ for every negative x (NaN on one side): max() skipped NaN and said numeric=True.
    check = sym.identity(lambda x: cr.log(x**2), lambda x: 2 * cr.log(x))
    assert not check.numeric and not check
    assert sym.identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1).numeric
    assert sym.identity(lambda x: cr.log(x), lambda x: cr.log(x), low=-2, high=-1).numeric  # both undefined


def test_string_derivatives_agree_with_chainrule_at_points():
    sp = pytest.importorskip("sympy")
    import chainrule.symbolic as sym

    x = sp.Symbol("x", real=True)
    for text, f in [
        ("x^10 - 2*x^8 + 4/x^2 + 10", lambda t: t**10 - 2 * t**8 + 4 / t**2 + 10),
        ("sigmoid(x)*tanh(x) - softplus(-x)", lambda t: cr.sigmoid(t) * cr.tanh(t) - cr.softplus(-t)),
        ("-x^2^-1 + 2^x", lambda t: -(t**0.5) + 2**t),
    ]:
        d = sym.diff(text, "x")
        for p in (0.5, 1.7):
            assert float(d.subs(x, p)) == pytest.approx(float(cr.grad(f)(cr.tensor(p, dtype=F64))), rel=1e-10)


# ----- the visual tools -----


def test_trace_table_rows_match_jax_jvp_and_vjp_with_a_shared_node():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    from chainrule import viz

    def f(lib):
        def g(a, b):
            h = lib.exp(a * b)  # h used twice
            return h * h / b + lib.tanh(h - a)

        return g

    pt, direction = (0.3, 1.2), (0.7, -1.1)
    t = viz.trace_table(f(cr), *pt, direction=direction)
    value, tangent = jax.jvp(f(jnp), pt, direction)
    _, vjp = jax.vjp(f(jnp), *pt)
    assert t.value == pytest.approx(float(value), rel=1e-12)
    assert t.tangent_out == pytest.approx(float(tangent), rel=1e-10)
    assert t.grads == pytest.approx([float(g) for g in vjp(1.0)], rel=1e-10)
    assert float(t.primal[-1][-1]) == pytest.approx(float(value), abs=5e-4)  # the rows print 3 decimals


def test_trace_table_with_broadcasting_a_reduction_and_a_max_tie_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from chainrule import viz

    def f(lib):
        def g(w, x):
            h = w * x  # (2, 1) x (3,)
            return (h * h).sum() / x.sum() + lib.maximum(w, 0.5).sum()  # w[0] = 0.5: a tie

        return g

    pt = (np.array([[0.5], [-1.0]]), np.array([1.0, 2.0, 3.0]))
    direction = (np.ones((2, 1)), np.array([1.0, 0.0, -1.0]))
    t = viz.trace_table(f(cr), *pt, direction=direction)
    value, tangent = jax.jvp(f(jax.numpy), pt, direction)
    _, vjp = jax.vjp(f(jax.numpy), *pt)
    assert t.value == pytest.approx(float(value), rel=1e-12)
    assert t.tangent_out == pytest.approx(float(tangent), rel=1e-12)
    for ours, want in zip(t.grads, vjp(1.0)):
        np.testing.assert_allclose(ours, np.asarray(want), rtol=1e-12)


def test_text_graph_and_dot_labels_show_the_tensors_values_and_grads():
    from chainrule import viz

    x = _t([0.25, -1.5], "x")
    y = _t(3.0, "y")
    h = _name(x * y, "h")
    h.retain_grad()
    L = _name((h * h).sum(), "L")
    L.backward()
    text = viz.text_graph(L)
    dot = viz.to_dot(L).source if hasattr(viz.to_dot(L), "source") else str(viz.to_dot(L))
    for t, out in ((x, text), (y, text), (h, text), (y, dot)):
        assert _fmt_like_graph(t.grad.numpy()) in out, (t.name, out)
        assert _fmt_like_graph(t.detach().numpy()) in out
    assert float(y.grad) == pytest.approx(2 * 3.0 * (0.25**2 + 1.5**2))


def _fmt_like_graph(a):
    from chainrule.viz.graph import _summary

    return _summary(a)


def test_explore_json_values_and_grads_equal_the_real_ones(tmp_path):
    torch = pytest.importorskip("torch")
    from chainrule import viz

    a, b = _t(0.6, "a"), _t(-1.4, "b")
    c = _name(a * b, "c")
    d = _name(cr.sigmoid(c) + a / b, "d")
    L = _name(d * d, "L")
    path = viz.explore(L).save(tmp_path / "e.html")
    html = open(path, encoding="utf-8").read()
    data = None
    for m in re.finditer(r"(\{\"title\".*?\})\s*;?\s*(?:</script>|\n)", html, re.S):
        try:
            data = json.loads(m.group(1))
            break
        except json.JSONDecodeError:
            continue
    assert data is not None, "no page data found"
    nodes = {n["name"]: n for n in data["nodes"]}
    ta = torch.tensor(0.6, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(-1.4, dtype=torch.float64, requires_grad=True)
    tc = ta * tb
    tc.retain_grad()
    td = torch.sigmoid(tc) + ta / tb
    td.retain_grad()
    (td * td).backward()
    for name, tv in (("a", ta), ("b", tb), ("c", tc), ("d", td)):
        # the page prints scalars to 3 decimals (Baydin's style)
        assert float(nodes[name]["value"]["text"]) == pytest.approx(tv.item(), abs=5e-4)
        assert float(nodes[name]["grad"]["text"]) == pytest.approx(tv.grad.item(), abs=5e-4), name
    # Each node's gradient is the sum of the contributions of its backward steps.
    for n in data["nodes"]:
        contributions = [float(s["contribution"]) for s in data["steps"] if s["src"] == n["id"]]
        if contributions and n["grad"] is not None:
            assert sum(contributions) == pytest.approx(float(n["grad"]["text"]), abs=2e-3)


def test_plot_function_derivative_lines_are_the_derivatives():
    pytest.importorskip("matplotlib")
    from chainrule.viz import plots

    fig = plots.plot_function([cr.softplus, lambda x: cr.abs(x) * x, cr.relu], x_range=(-3, 3), num=61)
    lines = [ln for ln in fig.axes[0].lines if ln.get_label().endswith("(autodiff)")]
    assert len(lines) == 3
    xs = lines[0].get_xdata()
    np.testing.assert_allclose(lines[0].get_ydata(), 1 / (1 + np.exp(-xs)), rtol=1e-12)
    np.testing.assert_allclose(lines[1].get_ydata(), 2 * np.abs(xs), atol=1e-12)
    np.testing.assert_allclose(lines[2].get_ydata(), (xs > 0).astype(float))  # relu'(0) = 0 as in torch


def test_gradient_flow_norms_ratios_and_dead_units():
    from chainrule import diagnostics

    w1, w2 = _t([[3.0, 4.0]]), _t([[1e-9, 0.0], [0.0, 2e-9]])
    w1.grad = cr.tensor([[0.0, 5.0]], dtype=F64)
    w2.grad = cr.tensor([[1e-17, 0.0], [0.0, 0.0]], dtype=F64)
    r = diagnostics.gradient_flow({"w1": w1, "w2": w2, "w3": _t([1.0])}, warn=False)
    assert r.norms() == {"w1": 5.0, "w2": pytest.approx(1e-17)}
    assert r.params[0].ratio == pytest.approx(1.0)
    assert r.params[1].ratio == pytest.approx(1e-17 / math.sqrt(5e-18))
    assert r.vanishing == ["w2"] and r.exploding == [] and r.missing == ["w3"]
    assert r.first_to_last == pytest.approx(5.0 / 1e-17)
    acts = np.array([[0.0, 1.0, -2.0, 0.0], [0.0, 0.0, -1.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    assert diagnostics.dead_fraction(acts) == 0.5  # units 0 and 2 never fire
    big = _t([1.0])
    big.grad = cr.tensor([float("nan")], dtype=F64)
    assert diagnostics.gradient_flow({"b": big}, warn=False).exploding == ["b"]


# ----- Value against torch -----


def test_value_ops_and_gradients_against_torch():
    torch = pytest.importorskip("torch")
    from chainrule.value import Value, to_tensor_graph

    def f(a, b):
        e = a * b + a  # a used twice
        g = (e / b - 3 / a) ** 2
        return g.tanh() + (a * 0.5).exp() + b.log() + (2.0**a)

    def ft(a, b):
        e = a * b + a
        g = (e / b - 3 / a) ** 2
        return torch.tanh(g) + torch.exp(a * 0.5) + torch.log(b) + 2.0**a

    for a0, b0 in [(1.3, 0.7), (-0.4, 2.0)]:
        a, b = Value(a0), Value(b0)
        out = f(a, b)
        out.backward()
        ta = torch.tensor(a0, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
        tout = ft(ta, tb)
        tout.backward()
        assert out.data == pytest.approx(tout.item(), rel=1e-12)
        assert (a.grad, b.grad) == (pytest.approx(ta.grad.item(), rel=1e-10), pytest.approx(tb.grad.item(), rel=1e-10))
        troot, _ = to_tensor_graph(out)
        assert float(troot._data) == pytest.approx(out.data, rel=1e-12)
    z = Value(0.0)
    r = z.relu() * 3 + z.sigmoid()
    r.backward()
    tz = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (torch.relu(tz) * 3 + torch.sigmoid(tz)).backward()
    assert z.grad == pytest.approx(tz.grad.item())  # relu'(0) = 0, sigmoid'(0) = 1/4
    with pytest.raises(TypeError, match="Value \\*\\* Value"):
        Value(2.0) ** Value(3.0)


# ----- the worked examples, against values computed here -----


def test_worked_examples_against_independent_values(capsys):
    from test_examples_math import run

    r, _ = run("cross_entropy_gradient", capsys)
    z = np.array([2.0, 1.0, 0.1])
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(r["grad"][0], p - np.eye(3)[0], rtol=1e-12)
    r, _ = run("derivative_a_pow_x", capsys)
    for x, (auto, exact) in r["values"].items():
        assert auto == pytest.approx(2.0**x * math.log(2.0), rel=1e-12) == exact
    r, _ = run("two_paths_chain_rule", capsys)
    x0 = 1.3
    assert r["df"] == pytest.approx(2 * x0 * math.sin(x0) + x0**2 * math.cos(x0), rel=1e-12)
    assert r["d2f"] == pytest.approx(2 * math.sin(x0) + 4 * x0 * math.cos(x0) - x0**2 * math.sin(x0), rel=1e-10)
    r, _ = run("derivative_polynomial", capsys)
    for x, (auto, sym_value) in r["values"].items():
        exact = 10 * x**9 - 16 * x**7 - 8 / x**3
        assert auto == pytest.approx(exact, rel=1e-12) and sym_value == pytest.approx(exact, rel=1e-12)
