"""The explorer's data and page (no browser): u1..u5, an nn model, errors, the CLI.

Browser tests: test_explore_browser.py.
"""

import json
import re

import numpy as np
import pytest

import chainrule as cr
from _coursework import u_problem
from chainrule import cli, nn, viz
from chainrule.viz._pass import record


def _node(data, name):
    return next(n for n in data["nodes"] if n["name"] == name)


def test_u_problem_gradients_are_sums_of_edge_contributions():
    L, (u1, u2, *_) = u_problem()
    e = viz.explore(L)
    d = e.data
    assert _node(d, "u1")["grad"]["text"] == "21016" and _node(d, "u2")["grad"]["text"] == "17324"
    assert u1.grad is None and u2.grad is None  # explore runs its own pass; .grad untouched
    # Forward order is topological; backward steps visit consumers in reverse, each operand in order.
    pos = {n["id"]: k for k, n in enumerate(d["nodes"])}
    assert all(pos[a] < pos[n["id"]] for n in d["nodes"] for a in n["inputs"] if a is not None)
    assert [s["dst"] for s in d["steps"]] == sorted((s["dst"] for s in d["steps"]), reverse=True)
    # Every node's gradient is the sum over its uses of upstream x local = contribution.
    p = record(L)
    for entry in p.entries[:-1]:
        terms = [s.contribution for s in p.backward if s.src == entry.index]
        assert np.sum(terms) == pytest.approx(float(entry.grad))
        for s in p.backward:
            if s.src == entry.index:
                assert float(s.contribution) == pytest.approx(float(s.upstream * s.local))


def test_edge_contributions_match_explain():
    L, (_u1, _u2, _u3, *_) = u_problem()
    d = viz.explore(L).data
    ex = cr.explain(L)
    step = next(s for s in d["steps"] if d["nodes"][s["src"]]["name"] == "u1" and d["nodes"][s["dst"]]["name"] == "u3")
    use = next(u for u in ex["u1"].uses if u.consumer == "u3")
    assert step["symbolic"] == "∂L/∂u3 · ∂u3/∂u1" and step["partial"] == "u2"
    assert step["numbers"] == f"{float(use.upstream):g} · {float(use.local):g}" == "3692 · 4"
    assert step["contribution"] == f"{float(use.contribution):g}" == "14768"


def test_page_is_self_contained(tmp_path):
    L, _ = u_problem()
    e = L.explore()
    path = e.save(tmp_path / "u.html")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    assert page == e.html and page.startswith("<!DOCTYPE html>")
    # No external resource: no src/href, no fetch, no imports; the one URL is the SVG namespace.
    assert re.findall(r"https?://[^\s\"')]+", page) == ["http://www.w3.org/2000/svg"] * 2
    for bad in ("<link", " src=", "href=", "fetch(", "XMLHttpRequest", "import(", "WebSocket", "@import"):
        assert bad not in page
    data = json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.DOTALL)
        .group(1)
        .replace("<\\/", "</")
    )
    assert data["root"] == "L" and len(data["nodes"]) == 11 and len(data["steps"]) == 16
    assert "<iframe srcdoc=" in e._repr_html_() and "&lt;!DOCTYPE html&gt;" in e._repr_html_()
    assert 'data-trace="primal"' in page  # the trace tables panel of a small graph
    assert repr(e) == "<Explorer of L: 11 nodes, 16 backward steps>"


def test_node_details_formula_site_and_compact_tensors():
    L, (_u1, _u2, _u3, *_) = u_problem()
    d = viz.explore(L).data
    u3n = _node(d, "u3")
    assert u3n["expr"] == "u1 × u2" and u3n["partials"] == ["u2", "u1"]
    assert u3n["site"].endswith(f":{u3_line()}") and u3n["source"].startswith("u3 = u1 * u2")
    big = cr.randn(40, 30, requires_grad=True)
    y = (cr.tanh(big) * 2).sum()
    n = viz.explore(y).data["nodes"][0]
    assert n["value"]["size"] == 1200 and set(n["value"]["stats"]) == {"mean", "std", "min", "max"}
    assert len(n["value"]["values"]) == 1024 and len(n["value"]["heat"]) <= 24
    np.testing.assert_allclose(n["value"]["values"][:5], big._data.reshape(-1)[:5], rtol=1e-4)


def u3_line():
    import inspect

    src, start = inspect.getsourcelines(u_problem)
    return start + next(i for i, line in enumerate(src) if line.strip().startswith("u3 = u1 * u2"))


def test_nn_model_grouped_by_module_and_grads_match_backward():
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = cr.randn(5, 4), cr.tensor([0, 1, 2, 1, 0])
    loss = nn.functional.cross_entropy(m(x), y)
    d = viz.explore(loss, model=m).data
    mods = {n["name"]: n["module"] for n in d["nodes"]}
    assert mods["0.weight"] == mods["0.bias"] == "Sequential.0" and mods["2.bias"] == "Sequential.2"
    lin = [n for n in d["nodes"] if n["op"] == "Linear"]
    assert [n["module"] for n in lin] == ["Sequential.0", "Sequential.2"]
    assert lin[0]["value"]["values"] is not None and "const(5×4)" in lin[0]["expr"]
    loss.backward()
    np.testing.assert_allclose(_node(d, "2.bias")["grad"]["values"], m[2].bias.grad._data, rtol=1e-4, atol=1e-7)
    assert not d["collapse"]


def test_large_models_start_collapsed():
    layers = []
    for _ in range(120):
        layers += [nn.Linear(3, 3), nn.Tanh()]
    m = nn.Sequential(*layers)
    d = viz.explore(m(cr.randn(2, 3)).sum(), model=m).data
    assert len(d["nodes"]) > 400 and d["collapse"]
    assert all(len(n["value"].get("values", ())) <= 64 for n in d["nodes"] if n["value"])


def test_freed_graph_error_names_the_fix():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True.*chainrule.viz.trace"):
        viz.explore(y)
    y = cr.exp(x) * x
    with viz.trace():
        y.backward()
    assert viz.explore(y).data["nodes"][0]["grad"]["text"] == f"{float(3 * np.exp(2.0)):.3f}".rstrip("0")


def test_leaf_and_non_tensor_are_refused():
    with pytest.raises(RuntimeError, match="no grad_fn"):
        viz.explore(cr.tensor(1.0, requires_grad=True))
    with pytest.raises(TypeError, match="expected the output Tensor"):
        viz.explore(3.0)


def test_cli_explore(tmp_path, capsys):
    out = tmp_path / "g.html"
    assert cli.main(["explore", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5", "--out", str(out)]) == 0
    assert "f(x1=2, x2=5) = 11.65207" in capsys.readouterr().out
    page = out.read_text()
    data = json.loads(re.search(r'type="application/json">(.*?)</script>', page, re.DOTALL).group(1))
    assert _node(data, "x1")["grad"]["text"] == "5.5" and _node(data, "x2")["grad"]["text"] == "1.716"
    assert cli.main(["explore", "__import__('os')", "--at", "x=1", "--out", str(out)]) == 2
    assert cli.main(["explore", "3 + 4", "--at", "x=1", "--out", str(out)]) == 2
    assert "does not depend" in capsys.readouterr().err


def test_every_op_of_the_op_table_explores_with_the_engines_gradients():
    """Each op's first case: the page builds (JSON, formulas, values) and its leaf gradients are autograd.grad's."""
    # tests/ is on the path: pytest puts the package root there.
    from opinfo import OP_TABLE

    rng = np.random.default_rng(0)
    checked = 0
    for spec in OP_TABLE:
        args, kwargs = spec.sample(0, rng)
        diff = spec.differentiable(args)
        ts = [
            cr.tensor(a, dtype=cr.float64, requires_grad=i in diff) if np.asarray(a).dtype.kind == "f" else cr.tensor(a)
            for i, a in enumerate(args)
        ]
        out = spec.fn(*ts, **kwargs)
        if not isinstance(out, cr.Tensor) or out.grad_fn is None:
            continue
        w = cr.tensor(rng.uniform(0.5, 1.5, size=out.shape), dtype=out.dtype)
        loss = (out * w).sum()
        page = viz.explore(loss, trace=True)
        leaves = [t for t in ts if t.requires_grad]
        want = cr.autograd.grad(loss, leaves, allow_unused=True)
        by_id = {id(e.node): e for e in record(loss).entries}
        for t, g in zip(leaves, want):
            if g is not None:
                np.testing.assert_allclose(by_id[id(t)].grad, g._data, rtol=1e-10, atol=1e-12, err_msg=spec.name)
        assert json.loads(
            re.search(r'type="application/json">(.*?)</script>', page.html, re.DOTALL).group(1).replace("<\\/", "</")
        )["nodes"]
        checked += 1
    assert checked >= 100, checked


def test_non_scalar_output_starts_from_ones():
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True, name="x")
    y = x * x
    d = viz.explore(y).data
    assert _node(d, "x")["grad"]["values"] == [2.0, -4.0, 6.0]  # d(sum y)/dx = 2x, as backward(ones)
    assert _node(d, "L")["expr"] == "x × x" and _node(d, "L")["grad"]["values"] == [1.0, 1.0, 1.0]
