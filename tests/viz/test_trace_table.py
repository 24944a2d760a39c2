"""Evaluation-trace tables: Baydin et al.'s worked example, and differential checks against torch and JAX."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import viz


def baydin(x1, x2):
    return cr.log(x1) + x1 * x2 - cr.sin(x2)


def _value(row):
    return float(row[-1])


def test_baydin_primal_trace_matches_the_paper():
    # Baydin, Pearlmutter, Radul, Siskind (JMLR 2018), table 2: f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5).
    t = viz.trace_table(baydin, 2, 5)
    rows = {r[0]: r for r in t.primal}
    paper = {"⟦v|-1⟧": 2, "⟦v|0⟧": 5, "⟦v|1⟧": 0.693, "⟦v|2⟧": 10, "⟦v|3⟧": -0.959, "⟦v|4⟧": 10.693, "⟦v|5⟧": 11.652}
    assert {k: _value(rows[k]) for k in paper} == paper
    assert rows["⟦v|1⟧"][1] == "ln ⟦v|-1⟧" and rows["⟦v|3⟧"][1] == "sin ⟦v|0⟧"
    assert rows["⟦v|5⟧"][1] == "⟦v|4⟧ − ⟦v|3⟧"
    assert t.value == pytest.approx(math.log(2) + 10 - math.sin(5))
    assert round(t.value, 3) == 11.652


def test_baydin_adjoint_trace_is_computed_edge_by_edge():
    t = viz.trace_table(baydin, 2, 5)
    x1, x2 = 2.0, 5.0
    # The adjoints by hand, from the local partials (table 3's order: v̄5 .. v̄-1, running sums).
    expected = [
        ("⟦vb|5⟧", 1),
        ("⟦vb|4⟧", 1),
        ("⟦vb|3⟧", -1),
        ("⟦vb|1⟧", 1),
        ("⟦vb|2⟧", 1),
        ("⟦vb|0⟧", -math.cos(x2)),
        ("⟦vb|-1⟧", x2),
        ("⟦vb|0⟧", -math.cos(x2) + x1),
        ("⟦vb|-1⟧", x2 + 1 / x1),
    ]
    got = [(r[0], _value(r)) for r in t.adjoint[: len(expected)]]
    assert [g[0] for g in got] == [e[0] for e in expected]
    for (_, g), (_, e) in zip(got, expected):
        assert g == pytest.approx(e, abs=5e-4)
    assert t.grads == pytest.approx([5.5, x1 - math.cos(x2)])
    assert [round(g, 3) for g in t.grads] == [5.5, 1.716]
    # Each step reads v̄_j = v̄_j + v̄_i · ∂v_i/∂v_j with the partial's formula in the v's.
    assert t.adjoint[7][1:3] == ("⟦vb|0⟧ + ⟦vb|2⟧·∂⟦v|2⟧/∂⟦v|0⟧", "⟦vb|0⟧ + ⟦vb|2⟧·⟦v|-1⟧")


def test_baydin_tangent_trace_agrees_with_jax():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    for direction in [(1, 0), (0, 1), (0.5, -2)]:
        t = viz.trace_table(baydin, 2, 5, direction=direction)
        _, want = jax.jvp(lambda a, b: jnp.log(a) + a * b - jnp.sin(b), (2.0, 5.0), tuple(float(d) for d in direction))
        assert t.tangent_out == pytest.approx(float(want), rel=1e-6)
        _, ours = cr.jvp(baydin, (np.array(2.0), np.array(5.0)), tuple(np.array(float(d)) for d in direction))
        assert t.tangent_out == pytest.approx(float(ours), rel=1e-12)
        assert float(t.tangent[-1][-1]) == pytest.approx(float(want), abs=5e-4)
    t = viz.trace_table(baydin, 2, 5, direction=(1, 0))
    assert {r[0]: _value(r) for r in t.tangent}["⟦vd|1⟧"] == 0.5  # v̇1 = v̇-1 / v-1


def test_baydin_renders_as_text_markdown_latex_html():
    t = viz.trace_table(baydin, 2, 5, direction=(1, 0))
    text = str(t)
    assert "v1  = ln v-1 = ln 2 = 0.693" in text
    assert "v5  = v4 − v3 = 10.693 − (-0.959) = 11.652" in text
    assert "v̄-1 = v̄-1 + v̄1·∂v1/∂v-1 = v̄-1 + v̄1·(1/v-1) = 5.5" in text
    assert "x\u03071" in text and "x\u03042  = v\u03040 = 1.716" in text
    md = t.to_markdown()
    assert "| $v_{1}$ | $\\ln v_{-1} = \\ln 2$ | 0.693 |" in md
    tex = t.to_latex()
    assert "\\bar{v_{-1}} &=" in tex and "\\dot{v_{1}}" in tex and tex.count("\\begin{align*}") == 3
    html = t.to_html()
    assert html.count("<table") == 3 and 'data-trace="adjoint"' in html and "<sub>-1</sub>" in html
    assert t._repr_html_() == html


def test_names_come_from_the_function_and_can_be_given():
    t = viz.trace_table(lambda a, b: a * b, 3, 4)
    assert t.primal[0][1] == "⟦x|a⟧"
    t = viz.trace_table(lambda *xs: xs[0] * xs[1], 3, 4, names=["p", "q"])
    assert [r[1] for r in t.primal[:2]] == ["⟦x|p⟧", "⟦x|q⟧"]
    assert t.grads == [4.0, 3.0]


def test_constants_and_tensors():
    t = viz.trace_table(lambda x: (2 * x * x + 1).sum(), np.array([1.0, 2.0]))
    assert "2 × " in str(t)
    np.testing.assert_allclose(t.grads[0], [4.0, 8.0])
    assert t.value == 12.0


def test_errors_name_the_function_and_the_fix():
    with pytest.raises(ValueError, match="trace_table: f must return a Tensor"):
        viz.trace_table(lambda x: 3.0, 1.0)
    with pytest.raises(ValueError, match="2 names for 1 arguments"):
        viz.trace_table(lambda x: x * x, 1.0, names=["a", "b"])
    with pytest.raises(TypeError, match="expected a function"):
        viz.trace_table(3.0, 1.0)


_UNARY = [(cr.sin, "sin"), (cr.cos, "cos"), (cr.tanh, "tanh"), (cr.exp, "exp"), (cr.sigmoid, "sigmoid")]


@settings(deadline=None, max_examples=15)
@given(
    ops=st.lists(
        st.tuples(st.integers(0, len(_UNARY) - 1), st.sampled_from(["add", "mul", "sub"])), min_size=1, max_size=5
    ),
    x=st.floats(-1.5, 1.5),
    y=st.floats(-1.5, 1.5),
    dx=st.floats(-2, 2),
    dy=st.floats(-2, 2),
)
def test_random_programs_agree_with_torch_and_jax(ops, x, y, dx, dy):
    torch = pytest.importorskip("torch")

    def program(lib):
        def f(a, b):
            h = a
            for k, how in ops:
                u = getattr(lib, _UNARY[k][1])(h)
                h = u + b if how == "add" else (u * b if how == "mul" else u - h)
            return h * a

        return f

    t = viz.trace_table(program(cr), x, y, direction=(dx, dy))
    a = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(y, dtype=torch.float64, requires_grad=True)
    out = program(torch)(a, b)
    ga, gb = (
        torch.zeros((), dtype=torch.float64) if g is None else g
        for g in torch.autograd.grad(out, (a, b), allow_unused=True)
    )
    assert t.value == pytest.approx(out.item(), rel=1e-9, abs=1e-12)
    assert t.grads == pytest.approx([ga.item(), gb.item()], rel=1e-9, abs=1e-12)
    assert t.tangent_out == pytest.approx(ga.item() * dx + gb.item() * dy, rel=1e-7, abs=1e-9)
    # The last adjoint row of each input is its gradient; every row reads v̄ = ... = value.
    assert all(r[0].startswith("⟦vb|") or r[0].startswith("⟦xb|") for r in t.adjoint)


def test_matrix_ops_show_their_vector_jacobian_products():
    torch = pytest.importorskip("torch")
    W, x = np.array([[1.0, -0.5], [0.3, 2.0]]), np.array([1.0, 2.0])
    t = viz.trace_table(lambda W, x: cr.tanh(W @ x).sum(), W, x, direction=(np.zeros((2, 2)), [1.0, 0.0]))
    rows = {r[0]: r for r in t.adjoint}
    assert rows["⟦vb|-1⟧"][2] == "⟦vb|1⟧ @ ⟦v|0⟧ᵀ" and rows["⟦vb|0⟧"][2] == "⟦v|-1⟧ᵀ @ ⟦vb|1⟧"
    assert "(∂⟦v|1⟧/∂⟦v|0⟧)·⟦vd|0⟧" in t.tangent[2][1]
    tw, tx = torch.tensor(W, requires_grad=True), torch.tensor(x, requires_grad=True)
    torch.tanh(tw @ tx).sum().backward()
    np.testing.assert_allclose(t.grads[0], tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(t.grads[1], tx.grad.numpy(), rtol=1e-12)
    assert t.tangent_out == pytest.approx(float(tx.grad[0]))
    assert "\\tanh^2" in t.to_latex()
