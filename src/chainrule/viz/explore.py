"""Watch backprop happen: `chainrule.viz.explore(output)` (or `output.explore()`), a graph explorer in one HTML file.

The explorer replays one evaluation of the recorded graph: stepping forward, each node's
value appears in forward (topological) order; stepping backward, the edges are processed
one by one in reverse, each showing

    upstream gradient x local partial = contribution        dL/dv · ∂v/∂u

and each node's gradient grows as the sum over its uses. Hover or click a node for its op,
shape, value, gradient, the formula of its local partials and the line of user code that
created it; tensors beyond a few numbers show as statistics and a heat map, their values
on request. With `model=`, nodes are grouped by the nn module whose parameters they use,
into clusters that collapse (large graphs start collapsed).

The page is self-contained: the script and style are ours and inline, no network request is
made, so a saved file works offline. In Jupyter and VS Code the explorer renders inline
(`_repr_html_`, an iframe); `.save("graph.html")` writes the file. From a shell:

    chainrule explore "(2*u1*u2*(u1+u2) - u1 - u2 - u1*u2 - (u1+u2))**2" --at u1=3,u2=4 --out graph.html

Keys: → or n next step, ← or p previous, space play/pause, Home or r reset, End the last step.

Example:
    >>> L = (u5 - u1 - u2 - u3 - u4) ** 2
    >>> L.explore().save("u1-u5.html")        # open it in a browser
"""

from __future__ import annotations

import html
import json

import numpy as np

from ._explore_assets import CSS, JS
from ._pass import constant_name, local_formula, op_expression, record
from ._pass import number as _num
from .trace_table import _table

_HEAT = 24  # heat maps are at most this many cells a side
_FULL = 1024  # values listed in full up to this many elements (then the first _FULL)
_FULL_LARGE = 64  # ... in graphs of more than _COLLAPSE nodes, to keep the file small
_COLLAPSE = 400  # graphs with more nodes start with their module clusters collapsed


def _array_view(a, brief=False, limit=_FULL):
    """A value or gradient for the page: its text, and for a tensor statistics, a heat map and the
    values themselves (the first `limit`, to 5 significant digits). `brief` keeps the text and statistics only."""
    if a is None:
        return None
    a = np.asarray(a)
    view = {"text": _num(a), "size": int(a.size)}
    if a.size <= 1 or a.dtype.kind != "f":
        return view
    a = a.astype(np.float64)
    finite = a[np.isfinite(a)]
    if finite.size:
        view["stats"] = {
            "mean": float(finite.mean()),
            "std": float(finite.std()),
            "min": float(finite.min()),
            "max": float(finite.max()),
        }
    if brief:
        return view
    view["shape"] = list(a.shape)
    flat = a.reshape(-1)[:limit]
    view["values"] = [float(f"{v:.5g}") if np.isfinite(v) else str(v) for v in flat.tolist()]
    if a.size > limit:  # the page draws the heat map from the values when it has them all
        m = a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)
        m = m[:: max(1, -(-m.shape[0] // _HEAT)), :: max(1, -(-m.shape[1] // _HEAT))]
        scale = float(np.abs(finite).max()) if finite.size else 0.0
        view["heat"] = np.round(np.nan_to_num(m / scale if scale else m, posinf=1, neginf=-1), 3).tolist()
    return view


def _layout(entries):
    """Layered layout: x from the entry's level, y from the mean position of its operands.

    A leaf sits one column before its first consumer rather than in column 0, so that a
    layer's parameters sit beside the op that uses them (and its module's cluster stays small)."""
    first_use = {}
    for e in entries:
        for a in e.inputs:
            if a is not None and entries[a].op is None:
                first_use[a] = min(first_use.get(a, e.level), e.level)
    col = {e.index: first_use.get(e.index, 1) - 1 if e.op is None else e.level for e in entries}
    by_col = {}
    for e in entries:
        by_col.setdefault(col[e.index], []).append(e)
    y = {}
    for c in sorted(by_col):
        row = by_col[c]
        row.sort(key=lambda e: (np.mean([y.get(a, 0) for a in e.inputs if a is not None] or [0]), e.index))
        for k, e in enumerate(row):
            y[e.index] = k
    return {e.index: (col[e.index], y[e.index]) for e in entries}


def _names(entries):
    """A short name per entry: its own, else t1, t2, ... for unnamed results and x1, ... for unnamed leaves."""
    out, t, x = {}, 0, 0
    for e in entries:
        if e.name:
            out[e.index] = e.name
        elif e.op is None:
            x += 1
            out[e.index] = f"x{x}"
        else:
            t += 1
            out[e.index] = "L" if e.kind == "output" else f"t{t}"
    return out


def _page_data(p, title):
    names = _names(p.entries)
    pos = _layout(p.entries)
    root = names[p.output]
    nodes, limit = [], _FULL if len(p.entries) <= _COLLAPSE else _FULL_LARGE
    for e in p.entries:
        args = [names[a] if a is not None else constant_name(e.consts[j]) for j, a in enumerate(e.inputs)]
        nodes.append(
            {
                "id": e.index,
                "name": names[e.index],
                "kind": e.kind,
                "op": e.op,
                "shape": list(e.shape),
                "dtype": e.dtype,
                "x": pos[e.index][0],
                "y": pos[e.index][1],
                "module": e.module,
                "expr": None if e.op is None else op_expression(e.op, args, names[e.index]),
                "partials": [
                    None if a is None else local_formula(e.op, j, args, names[e.index]) for j, a in enumerate(e.inputs)
                ],
                "inputs": e.inputs,
                "value": _array_view(e.value, limit=limit),
                "grad": _array_view(e.grad, limit=limit),
                "site": None if e.site is None else f"{e.site[0]}:{e.site[1]}",
                "source": e.source,
            }
        )
    steps = []
    for k, s in enumerate(p.backward):
        src, dst = names[s.src], names[s.dst]
        partial = nodes[s.dst]["partials"][s.slot]
        elementwise = s.local is not None
        sym = f"∂{root}/∂{dst} · ∂{dst}/∂{src}" if elementwise else f"(∂{dst}/∂{src})ᵀ ∂{root}/∂{dst}"
        if elementwise:
            num = f"{_num(s.upstream)} · {_num(s.local)}"
        else:  # the vector-Jacobian product's formula, G being the upstream gradient
            g = f"∂{root}/∂{dst}"
            if partial is None:
                num = f"the VJP of {p.entries[s.dst].op}"
            elif "G" in partial:
                num = partial.replace("Gᵀ", f"({g})ᵀ").replace("G", g)
            else:  # an elementwise op whose input was broadcast: the terms summed back to its shape
                num = f"Σ over the broadcast axes of {g} · {partial}"
        steps.append(
            {
                "edge": k,
                "src": s.src,
                "dst": s.dst,
                "slot": s.slot,
                "symbolic": sym,
                "partial": partial,
                "numbers": num,
                "contribution": _num(s.contribution),
                "running": _array_view(s.running, brief=True),
                "upstream": _num(s.upstream),
            }
        )
    return {"title": title, "root": root, "nodes": nodes, "steps": steps, "collapse": len(nodes) > _COLLAPSE}


class Explorer:
    """An explorer page: `.html` (the text), `.save(path)`, and inline display in notebooks."""

    def __init__(self, page_html, data):
        self.html, self.data = page_html, data

    def save(self, path):
        """Write the page to `path` (open it in any browser; it needs no network)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html)
        return path

    def _repr_html_(self):
        # An iframe keeps the page's script and style apart from the notebook's.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:640px;'
            'border:1px solid #e5e7eb" sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self):
        d = self.data
        return f"<Explorer of {d['root']}: {len(d['nodes'])} nodes, {len(d['steps'])} backward steps>"


def explore(output, model=None, title=None, trace=None):
    """An interactive explorer of the forward and backward pass that produced `output`.

    Args:
        output: a Tensor with a grad_fn (a scalar loss usually; otherwise the backward pass
            starts from a tensor of ones).
        model: an nn.Module: group nodes by the module whose parameters they use.
        title: the page's heading (default: "Backprop through <output's name>").
        trace: include the evaluation-trace tables (primal and adjoint) as a panel;
            default: when the graph has at most 60 nodes.

    Returns:
        an Explorer: `.save("graph.html")`, `.html`, renders inline in Jupyter / VS Code.

    The backward pass is run again here with `autograd.grad` (retain_graph=True), so no
    `.grad` changes; if backward already freed the graph, run it inside
    `with chainrule.viz.trace():` first, or call explore before backward.

    Example:
        >>> loss = ((model(x) - y) ** 2).mean()
        >>> chainrule.viz.explore(loss, model=model).save("mlp.html")
    """
    p = record(output, model=model)
    name = _names(p.entries)[p.output]
    data = _page_data(p, title or f"Backprop through {name}")
    show_trace = len(p.entries) <= 60 if trace is None else bool(trace)
    tables = ""
    if show_trace:
        leaves = [e.node for e in p.entries if e.op is None]
        leaf_names = [_names(p.entries)[e.index] for e in p.entries if e.op is None]
        tables = _table(p, leaves, leaf_names, None).to_html()
    page = _page(data, tables)
    return Explorer(page, data)


def _page(data, tables):
    payload = json.dumps(data, allow_nan=False, default=float).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(data["title"])}</title>
<style>{CSS}</style></head>
<body>
<header><h1>{html.escape(data["title"])}</h1>
<nav aria-label="steps">
<button id="reset" title="reset (Home, r)">reset</button>
<button id="prev" title="previous step (←, p)">◀ back</button>
<button id="play" title="play / pause (space)">▶ play</button>
<button id="next" title="next step (→, n)">step ▶</button>
<button id="end" title="last step (End)">end</button>
<label>speed <input id="speed" type="range" min="1" max="20" value="4"></label>
<button id="fit" title="fit the graph to the window (f)">fit</button>
{'<button id="tables">trace tables</button>' if tables else ""}
</nav>
<div id="status" aria-live="polite"></div></header>
<main><div id="canvas" tabindex="0"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
<aside id="details"><p class="hint">Step with → and ←, play with space. Hover or click a node.</p></aside></main>
<section id="trace-panel" hidden>{tables}</section>
<script id="data" type="application/json">{payload}</script>
<script>{JS}</script>
</body></html>
"""


# ----- the command line: chainrule explore EXPR --at x=1,y=2 --out graph.html -----


def add_command(sub):
    """Register `explore` with the CLI's subparsers."""
    c = sub.add_parser(
        "explore",
        help="write an interactive explorer of an expression's backward pass",
        description="Evaluate EXPR at --at with every variable a leaf that requires grad, and "
        "write a self-contained HTML page that replays the forward and backward pass.",
    )
    c.add_argument("expr", metavar="EXPR", help='e.g. "log(x1) + x1*x2 - sin(x2)"')
    c.add_argument("--at", required=True, help="the point, e.g. x1=2,x2=5")
    c.add_argument("--out", default="graph.html", help="the HTML file to write (default: graph.html)")
    c.set_defaults(handler=explore_command)


def explore_command(args, out=None):
    """`chainrule explore EXPR --at x=1 --out graph.html`. Returns the exit code (2 for a refused expression)."""
    import sys

    from .. import symbolic
    from .._dtypes import float64
    from ..creation import tensor

    out = out or sys.stdout
    try:
        ast = symbolic.parse_ast(args.expr)
        at = symbolic.parse_point(args.at)
        env = {k: tensor(v, dtype=float64, requires_grad=True, name=k) for k, v in at.items()}
        y = symbolic.evaluate(ast, env)
    except symbolic.ExpressionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if getattr(y, "grad_fn", None) is None:
        print(
            f"error: {args.expr!r} does not depend on the variables given with --at ({args.at}); "
            "there is no backward pass to show",
            file=sys.stderr,
        )
        return 2
    y.name = "f"
    explore(y, title=f"f = {args.expr}").save(args.out)
    point = ", ".join(f"{k}={v:g}" for k, v in at.items())
    print(f"wrote {args.out}: f({point}) = {y.item():.10g}; open it in a browser", file=out)
    return 0
