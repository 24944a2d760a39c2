"""Drawing the computational graph: `draw_graph` (graphviz), `to_dot` (DOT text), `text_graph` (terminal).

One vertex per tensor and one per op, top to bottom. A tensor's label gives its name,
shape, value (all its numbers up to six of them, a summary beyond) and, after backward,
its gradient. Kinds are told apart by colour and border:

    leaf that requires grad   blue box
    parameter (nn.Parameter)  amber box, bold border, named by its module path (0.weight)
    constant or input         white dashed box with its value (the 2 of 2*u3, a model's input)
    intermediate              grey rounded box
    the output (root)         green box, double border
    op                        white ellipse

The operands of non-commutative ops are labelled on their edges (Sub: minuend,
subtrahend; Div: dividend, divisor; Pow: base, exponent; Linear: input, weight, bias).
Parameters take their names from `params=` (a Module or a dict of named parameters, as
torchviz's make_dot takes), or from a Module the calling code holds (a variable of the
caller or of the notebook); `clusters=True`
boxes each module's parameters and ops together.

Gradients of leaves come from `.grad`; of intermediates, from `retain_grad()` or from
a recorded backward pass (see `chainrule.viz.trace()`, the same recorder that
`chainrule.explain` uses):

    with chainrule.viz.trace():
        loss.backward()
    chainrule.viz.draw_graph(loss).render("graph", format="svg")

`draw_graph` also accepts a `chainrule.Value` (micrograd-style scalars).
graphviz is imported only when draw_graph is called; `to_dot` and `text_graph`
need neither the graphviz package nor the `dot` binary.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from ._build import _build

if TYPE_CHECKING:
    from typing import Any

    from graphviz import Digraph

    from ..tensor import Tensor


_STYLE = {
    "leaf": {"shape": "box", "style": "filled", "fillcolor": "#bfdbfe"},
    "parameter": {"shape": "box", "style": "filled,bold", "fillcolor": "#fde68a", "penwidth": "2"},
    "intermediate": {"shape": "box", "style": "filled,rounded", "fillcolor": "#f3f4f6"},
    "constant": {"shape": "box", "style": "filled,dashed", "fillcolor": "#ffffff"},
    "output": {"shape": "box", "style": "filled", "fillcolor": "#bbf7d0", "peripheries": "2"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff", "fontsize": "11"},
}


SMALL = 6  # tensors with at most this many numbers show them all


def _number(v, digits):
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _nested(v, digits):
    if isinstance(v, list):
        return "[" + ", ".join(_nested(x, digits) for x in v) + "]"
    return _number(v, digits)


def _summary(a, digits=6, sep=", "):
    """The numbers of a small array (up to SMALL of them), a short summary otherwise.

    `sep` goes between the summary's parts (a line break in drawings keeps boxes narrow).
    """
    if a is None:
        return None
    a = np.asarray(a)
    if a.size == 1:
        return _number(a.item(), digits)
    if a.size == 0:
        return "empty"
    if a.size <= SMALL:
        return _nested(a.tolist(), digits if a.ndim == 1 else 4)
    return f"mean {a.mean():.3g}{sep}std {a.std():.3g}{sep}range [{a.min():.3g}, {a.max():.3g}]"


# Edge labels naming the operands of non-commutative ops (commutative ones need none).
def _details(v, show_values, show_grads, sep=", "):
    """A tensor vertex's shape, value and gradient, as the drawing and the text graph show them."""
    parts = []
    if v.shape:
        parts.append("shape (" + ", ".join(map(str, v.shape)) + ")")
    if show_values:
        parts.append("value " + (_summary(v.value, sep=sep) or "?"))
    if show_grads and v.grad is not None:
        parts.append("grad " + _summary(v.grad, sep=sep))
    return parts


def _label(v, show_values=True, show_grads=True):
    if v.kind == "op":
        return v.op
    if v.kind == "constant" and v.name is None:
        return "const" if v.value is None else _summary(v.value)
    lines = [v.name or ("output" if v.kind == "output" else "")] + _details(v, show_values, show_grads, sep="\\n")
    return "\\n".join(line for line in lines if line)


def _graph_attrs(title, rankdir):
    # Top to bottom with tight spacing: a wide graph (a layer's many inputs) stays readable at
    # notebook width, where left to right a single Linear layer drew 4,320 px wide.
    attrs = {"rankdir": rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.3"}
    if title:
        attrs.update(label=title, labelloc="t")
    return attrs


_NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "margin": "0.08,0.04", "height": "0.3"}
# Operand names (minuend, exponent, ...) in small grey type on their edges.
_EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "9", "fontcolor": "#4b5563"}


def _quote(s):
    return '"' + str(s).replace('"', '\\"') + '"'


def _attrs(d):
    return "[" + " ".join(f"{k}={_quote(a)}" for k, a in d.items()) + "]"


def _body(vertices, edges, show_values, show_grads, clusters, params=None):
    """The DOT statements (one per line) for the vertices and edges: shared by draw_graph and to_dot."""
    lines, grouped = [], {}
    for v in vertices:
        attrs = {"label": _label(v, show_values, show_grads), **_STYLE[v.kind]}
        line = f"\t{v.key} {_attrs(attrs)}"
        if clusters and v.module:
            grouped.setdefault(v.module, []).append(line)
        else:
            lines.append(line)
    for i, (path, members) in enumerate(grouped.items()):
        kind = ""
        if hasattr(params, "get_submodule"):
            try:
                kind = f" ({type(params.get_submodule(path)).__name__})"
            except (AttributeError, KeyError):
                kind = ""
        lines.append(f"\tsubgraph cluster_{i} {{")
        lines.append(f'\t\tlabel={_quote(path + kind)} style="rounded,dashed" color="#9ca3af" fontsize="10"')
        lines += ["\t" + m for m in members]
        lines.append("\t}")
    for a, b, operand in edges:
        lines.append(f"\t{a} -> {b}" + (f" [label={_quote(operand)}]" if operand else ""))
    return lines


def _graphviz_class():
    """graphviz.Digraph whose inline display, without the `dot` program, shows the text graph and the
    DOT source with the fix instead of failing with ExecutableNotFound (made once, on first use)."""
    global _Graph
    if _Graph is not None:
        return _Graph
    import html

    import graphviz

    class Graph(graphviz.Digraph):
        """A graphviz.Digraph of a chainrule graph (see chainrule.viz.draw_graph)."""

        text = ""  # the text graph, shown when `dot` is missing

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except graphviz.ExecutableNotFound:
                head = "draw_graph: " + NO_DOT
                return {
                    "text/plain": f"{head}\n\n{self.text}",
                    "text/html": (
                        f"<p><b>{html.escape(head)}</b></p><pre>{html.escape(self.text)}</pre>"
                        "<details><summary>DOT source (paste into any Graphviz viewer)</summary>"
                        f"<pre>{html.escape(self.source)}</pre></details>"
                    ),
                }

    _Graph = Graph
    return Graph


_Graph = None

NO_DOT = (
    "Graphviz's `dot` program is not installed, so the graph cannot be rendered. Install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`; meanwhile the text graph is shown, and `.source` (or to_dot()) is "
    "the DOT text to paste into any Graphviz viewer."
)


def draw_graph(
    tensor: Tensor,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "TB",
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
    params: Any = None,
    clusters: bool = False,
) -> Digraph:
    """A graphviz.Digraph of everything that produced `tensor` (or a chainrule.Value).

    Args:
        tensor: the output to draw from (a Tensor or a Value).
        show_values: put values in the tensor labels (all numbers up to six, a summary beyond).
        show_grads: put gradients in the tensor labels.
        rankdir: "TB" (top to bottom, compact) or "LR" (left to right, as micrograd draws).
        title: an optional caption.
        save: a path ending in .svg, .png or .pdf to render to (needs graphviz's `dot`).
        params: the model (a Module) or `dict(model.named_parameters())`, to name parameters by
            their module path (`0.weight`), as torchviz's `make_dot(params=...)`. By default a
            Module in the caller's variables (or the notebook's) that holds the graph's
            parameters names them; a tensor's own `.name` wins.
        clusters: draw each module's parameters and the ops that use them in one box.

    Returns:
        the Digraph: it renders inline in Jupyter (without `dot`: the text graph, the DOT
        source and how to install it), `.source` is the DOT text, `.render(...)` writes files.

    Example:
        >>> g = chainrule.viz.draw_graph(loss, params=model, save="loss.svg")
    """
    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise ImportError(
            "draw_graph needs the graphviz package: pip install 'chainrule[viz]' (and apt-get "
            "install graphviz for the `dot` renderer). to_dot() and text_graph() need neither."
        ) from None
    vertices, edges = _build(tensor, params)
    dot = _graphviz_class()(graph_attr=_graph_attrs(title, rankdir), node_attr=_NODE_ATTRS, edge_attr=_EDGE_ATTRS)
    dot.body += [line + "\n" for line in _body(vertices, edges, show_values, show_grads, clusters, params)]
    dot.text = _text(vertices, show_values, show_grads)
    if save is not None:
        save_graph(dot, save)
    return dot


def save_graph(graph: Digraph | Tensor, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """Render a Digraph (or a tensor, drawn first) to `path`; the format comes from the extension."""
    if not hasattr(graph, "pipe"):
        graph = draw_graph(graph)
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf", "dot", "gv"):
        raise ValueError(f"save_graph: can't tell the format of {path!r}; end the name in .svg, .png, .pdf or .dot")
    if fmt in ("dot", "gv"):
        with open(path, "w") as f:
            f.write(graph.source)
        return path
    import graphviz

    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(f"save_graph: rendering {fmt.upper()} failed. " + NO_DOT) from None
    with open(path, "wb") as f:
        f.write(data)
    return path


def to_dot(
    tensor: Tensor,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "TB",
    title: str | None = None,
    params: Any = None,
    clusters: bool = False,
) -> str:
    """The DOT text of `draw_graph(tensor, ...)` (same arguments), written without graphviz (package or binary)."""
    vertices, edges = _build(tensor, params)
    lines = ["digraph {", f"\tgraph {_attrs(_graph_attrs(title, rankdir))}"]
    lines += [f"\tnode {_attrs(_NODE_ATTRS)}", f"\tedge {_attrs(_EDGE_ATTRS)}"]
    lines += _body(vertices, edges, show_values, show_grads, clusters, params)
    return "\n".join(lines + ["}"]) + "\n"


def text_graph(tensor: Tensor, show_values: bool = True, show_grads: bool = True, params: Any = None) -> str:
    """The graph as text, one line per tensor in forward order (no graphviz needed).

    Unnamed intermediates get short ids (t1, t2, ...) so every op line reads like a
    line of the program: `t3 = Sub(u5, u1)   shape ()  value 56  grad -1540`; scalar
    constants appear as their value (`Pow(t5, 2)`), other inputs without a gradient as
    `input`, and parameters by their module path (`0.weight`; see draw_graph's `params`).
    """
    vertices, _ = _build(tensor, params)
    return _text(vertices, show_values, show_grads)


def _text(vertices, show_values, show_grads):
    names, counter, producer = {}, 0, {}
    for v in vertices:
        if v.kind == "op":
            producer[v.key] = v
        elif v.kind == "constant":
            names[v.key] = v.name or _label(v)
        elif v.name:
            names[v.key] = v.name
        else:
            counter += 1
            names[v.key] = f"t{counter}"
    rows = []
    for v in vertices:
        if v.kind in ("op", "constant"):
            continue
        op = producer.get("op" + v.key[1:]) if v.key[0] in "ov" else None
        if op is not None:
            lhs = f"{names[v.key]} = {op.op}(" + ", ".join(names.get(k, "?") for k in op.inputs) + ")"
        else:
            lhs = f"{names[v.key]}  [{v.kind}]"
        rows.append([lhs] + _details(v, show_values, show_grads))
    width = max(len(r[0]) for r in rows)
    return "\n".join(r[0].ljust(width) + ("   " + "   ".join(r[1:]) if len(r) > 1 else "") for r in rows)


def print_graph(tensor: Tensor, **kwargs: Any) -> None:
    """Print text_graph(tensor)."""
    print(text_graph(tensor, **kwargs))
