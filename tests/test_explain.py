"""chainrule.explain: the chain rule of a backward pass, term by term, checked by hand and against the engine."""

import numpy as np
import pytest

import _coursework
import chainrule as cr
from chainrule.explain import explain, recording


def u_problem():
    return _coursework.u_problem(dtype=cr.float64)


def test_u1_u5_totals_and_terms():
    L, (u1, u2, *_r) = u_problem()
    e = explain(L)
    assert e.grads() == {"u5": 284.0, "u4": 6532.0, "u3": 3692.0, "u2": 17324.0, "u1": 21016.0}
    assert [s.name for s in e.steps] == ["u5", "u4", "u3", "u2", "u1"]  # nearest to L first
    uses = {u.consumer: u for u in e["u1"].uses}
    assert set(uses) == {"u3", "u4", "L"}
    assert float(uses["u3"].local) == 4.0 and float(uses["u3"].upstream) == 3692.0  # du3/du1 = u2
    assert float(uses["u4"].local) == 1.0 and float(uses["u4"].upstream) == 6532.0
    assert float(uses["L"].local) == -284.0  # direct: -2e
    assert uses["L"].op == "Sub→Sub→Sub→Sub→Pow"
    u4_uses = {u.consumer: float(u.local) for u in e["u4"].uses}
    assert u4_uses == {"u5": 24.0, "L": -284.0}  # du5/du4 = 2 u3
    for s in e.steps:
        assert float(sum(u.contribution for u in s.uses)) == pytest.approx(float(s.total))


def test_explain_does_not_touch_grad_and_backward_still_works():
    L, (u1, u2, *_r) = u_problem()
    explain(L)
    assert u1.grad is None and u2.grad is None
    L.backward()
    assert u1.grad.item() == 21016.0


def test_text_markdown_latex():
    L, _ = u_problem()
    e = explain(L)
    text = str(e)
    assert "dL/du1 = dL/du4·∂u4/∂u1 + dL/du3·∂u3/∂u1 + ∂L/∂u1" in text
    assert "= (6532)·(1) + (3692)·(4) + (-284)" in text
    assert "= 21016" in text
    md = e.to_markdown()
    assert r"\frac{\partial L}{\partial u_{1}}" in md and "$$" in md and "21016" in md
    tex = e.to_latex()
    assert tex.startswith("\\begin{align*}") and tex.count("&=") == 5


def test_recorded_backward_then_explain_and_unrecorded_error():
    L, (u1, *_r) = u_problem()
    with recording():
        L.backward()
    assert explain(L)["u1"].total == 21016.0
    L2, _ = u_problem()
    L2.backward()  # a graph with named tensors is recorded without asking
    assert explain(L2)["u1"].total == 21016.0
    x = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    L3 = 3 * (x * x)
    L3.backward()  # nothing named: not recorded, and the values are freed
    with pytest.raises(RuntimeError, match="not recorded.*explain.recording"):
        explain(L3, names={"x": x})


def test_names_argument_and_tensor_method():
    x = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    y = x * x
    L = 3 * y
    e = L.explain(names={"x": x, "y": y})
    assert e.root == "L"
    assert e["y"].total == 3.0 and e["x"].total == 12.0
    assert float(e["x"].uses[0].local) == 4.0  # dy/dx = 2x


def test_shared_subexpression_counts_every_use():
    x = cr.tensor(0.5, requires_grad=True, dtype=cr.float64, name="x")
    s = cr.sigmoid(x)
    s.name = "s"
    L = s * s + cr.tanh(x)
    L.name = "L"
    e = explain(L)
    sv = 1 / (1 + np.exp(-0.5))
    assert e["s"].total == pytest.approx(2 * sv)
    assert e["x"].total == pytest.approx(2 * sv * sv * (1 - sv) + 1 - np.tanh(0.5) ** 2)
    consumers = sorted(u.consumer for u in e["x"].uses)
    assert consumers == ["L", "s"]


def test_tensors_elementwise_and_matmul_paths():
    rng = np.random.default_rng(0)
    W = cr.tensor(rng.normal(size=(2, 3)), requires_grad=True, dtype=cr.float64, name="W")
    x = cr.tensor(rng.normal(size=(3,)), dtype=cr.float64, name="x")
    z = W @ x
    z.name = "z"
    a = cr.tanh(z)
    a.name = "a"
    L = a.sum()
    L.name = "L"
    e = explain(L)
    L.backward()
    np.testing.assert_allclose(e["W"].total, W.grad.numpy())
    np.testing.assert_allclose(e["z"].total, 1 - np.tanh(z.detach().numpy()) ** 2)
    (wuse,) = e["W"].uses
    assert wuse.local is None and wuse.consumer == "z"  # matmul: a VJP, not a partial
    np.testing.assert_allclose(wuse.contribution, W.grad.numpy())
    (zuse,) = e["z"].uses
    np.testing.assert_allclose(zuse.local, 1 - np.tanh(z.detach().numpy()) ** 2)
    assert "(∂z/∂W)ᵀ dL/dz" in str(e)


def test_explain_errors():
    with pytest.raises(RuntimeError, match="no grad_fn"):
        explain(cr.tensor(1.0, requires_grad=True))
    with pytest.raises(TypeError, match="Tensor"):
        explain(3.0)


def test_recording_leaves_no_observer_behind():
    from chainrule.autograd import engine

    n = len(engine._observers)
    with recording():
        with recording():
            pass
        assert len(engine._observers) == n + 1
    assert len(engine._observers) == n


def _peak_bytes(n, show):
    """Peak traced memory of show(chain) on a chain of n unnamed ops between two named tensors."""
    import tracemalloc

    x = cr.tensor(0.5, requires_grad=True, dtype=cr.float64, name="x")
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 else y.sin()
    y.name = "L"
    tracemalloc.start()
    try:
        out = show(y)
        return tracemalloc.get_traced_memory()[1], out
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("show", ["explain", "to_dot", "text_graph"])
def test_memory_linear_in_graph_size(show):
    # explain() once spelled every path out in full: quadratic memory (1.6 GB on a 20,000-op chain).
    fn = {
        "explain": lambda y: (str(explain(y)), explain(y)["x"].uses[0].op)[1],
        "to_dot": cr.viz.to_dot,
        "text_graph": cr.viz.text_graph,
    }[show]
    small, _ = _peak_bytes(500, fn)
    big, out = _peak_bytes(2000, fn)
    assert big < 6 * small, f"{show}: peak {small / 1e6:.1f} MB at 500 ops, {big / 1e6:.1f} MB at 2k (not linear)"
    if show == "explain":
        assert out == "Sin→Mul→Sin→…(1,996 more)…→Mul"  # the path x -> L, abbreviated


def test_local_partials_in_symbols_and_numbers():
    sympy = pytest.importorskip("sympy")
    L, us = u_problem()
    e = explain(L)
    text = str(e)
    assert "∂u5/∂u3 = 2*u4 = 14" in text  # through the unnamed 2*u3: the constant 2 is known
    assert "∂u5/∂u4 = 2*u3 = 24" in text
    assert "∂u3/∂u1 = u2 = 4" in text and "∂u4/∂u1 = 1\n" in text
    assert "∂L/∂u1 = 2*(u1 + u2 + u3 + u4 - u5) = -284" in text
    # every symbol, evaluated at the pass's values, is the number beside it
    values = {sympy.Symbol(f"u{i + 1}"): float(u._data) for i, u in enumerate(us)}
    for s in e.steps:
        for u in s.uses:
            symbol = e.local_symbol(u.consumer, s.name)
            assert symbol is not None
            assert float(sympy.sympify(symbol).subs(values)) == pytest.approx(float(u.local))
    assert r"\frac{\partial u_{5}}{\partial u_{3}} = 2 u_{4} = 14" in e.to_markdown()
    assert r"\text{where } " in e.to_latex()


def test_no_symbols_through_ops_outside_the_table():
    pytest.importorskip("sympy")
    W = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")
    h = W @ cr.tensor([1.0, 1.0])
    h.name = "h"
    L = cr.tanh(h).sum()
    L.name = "L"
    e = explain(L)
    assert e.local_symbol("h", "W") is None and "where" not in str(e)
