"""Drawing the computational graph: `draw_graph` (graphviz), `to_dot` (DOT text), `text_graph` (terminal).

One vertex per tensor and one per op. A tensor's label gives its name, shape, value
(the number for a scalar, a short summary otherwise) and, after backward, its
gradient. Kinds are told apart by colour and border:

    leaf that requires grad   blue box
    parameter (nn.Parameter)  amber box, bold border
    intermediate              grey rounded box
    the output (root)         green box, double border
    op                        white ellipse

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


def _summary(a, digits=6):
    """The number for a one-element array, a short summary otherwise."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.size == 1:
        return f"{a.item():.{digits}g}" if a.dtype.kind in "fc" else str(a.item())
    if a.size == 0:
        return "empty"
    if a.size <= 4 and a.ndim == 1:
        return "[" + ", ".join(f"{v:.{digits}g}" for v in a.tolist()) + "]"
    return f"mean {a.mean():.3g}, std {a.std():.3g}, range [{a.min():.3g}, {a.max():.3g}]"


class _Vertex:
    __slots__ = ("key", "kind", "name", "op", "shape", "value", "grad", "inputs")

    def __init__(self, key, kind, name=None, op=None, shape=None, value=None, grad=None):
        self.key, self.kind, self.name, self.op = key, kind, name, op
        self.shape, self.value, self.grad = shape, value, grad
        self.inputs = []  # keys of tensor vertices feeding this op (op vertices only)


def _is_parameter(t):
    return any(c.__name__ == "Parameter" for c in type(t).__mro__)


def _build(root):
    """Tensor vertices and op vertices for everything that produced `root`, in forward order."""
    from ..value import Value

    if isinstance(root, Value):
        return _build_value(root)
    from ..tensor import Tensor

    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor or a chainrule.Value, got {type(root).__name__}")
    from ..explain import _graph, record_of, value_of

    if root.grad_fn is None:
        kind = "parameter" if _is_parameter(root) else ("leaf" if root.requires_grad else "constant")
        grad = None if root.grad is None else root.grad._data
        return [_Vertex(f"t{id(root)}", kind, root.name, None, tuple(root.shape), root._data, grad)], []
    order, _ = _graph(root)
    vertices, edges, known = [], [], {}
    for e in reversed(order):  # forward order: inputs before the ops that use them
        if isinstance(e, Tensor):
            kind = "parameter" if _is_parameter(e) else "leaf"
            grad = None if e.grad is None else e.grad._data
            vertices.append(_Vertex(f"t{id(e)}", kind, e.name, None, tuple(e.shape), e._data, grad))
            known[f"t{id(e)}"] = e._data
            continue
        out = e.out_ref() if e.out_ref is not None else None
        rec = record_of(e)
        grad = (
            out.grad._data if out is not None and out.grad is not None else (None if rec is None else rec.grad_output)
        )
        op = _Vertex(f"op{id(e)}", "op", None, e.op_name)
        for edge in e.next:
            if edge is None:  # an input that needs no gradient (a constant): not part of the graph
                op.inputs.append(None)
                continue
            src = f"t{id(edge)}" if isinstance(edge, Tensor) else f"o{id(edge)}"
            op.inputs.append(src)
            edges.append((src, op.key))
        vertices.append(op)
        kind = "output" if e is root.grad_fn else "intermediate"
        value = value_of(e)
        if value is None:
            value = _recompute(e, [known.get(k) for k in op.inputs])
        vertex = _Vertex(f"o{id(e)}", kind, e.name, e.op_name, tuple(e.shape), value, grad)
        known[vertex.key] = value
        vertices.append(vertex)
        edges.append((op.key, f"o{id(e)}"))
    return vertices, edges


# Parameter-free ops whose value a drawing may recompute from known inputs (the engine keeps
# only what backward needs, so an unnamed Sub's output is gone once the expression is done).
_RECOMPUTABLE = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": np.true_divide,
    "Neg": np.negative,
    "Exp": np.exp,
    "Log": np.log,
    "Tanh": np.tanh,
    "Sin": np.sin,
    "Cos": np.cos,
    "Sqrt": np.sqrt,
    "Abs": np.abs,
    "Clone": np.copy,
    "Matmul": np.matmul,
}


from ..autograd.primitive import PRIMITIVES  # noqa: E402


def _recompute(node, inputs):
    fn = _RECOMPUTABLE.get(node.op_name)
    if (
        fn is None
        or PRIMITIVES.get(node.op_name) is None
        or not isinstance(node, PRIMITIVES[node.op_name])
        or any(i is None for i in inputs)
    ):  # (a user Function may be called Add too)
        return None
    with np.errstate(all="ignore"):
        return fn(*inputs)


def _build_value(root):
    """Vertices for a micrograd-style Value graph (iterative walk over `_prev`)."""
    topo = root._topo()
    vertices, edges = [], []
    for v in topo:
        kind = "output" if v is root else ("leaf" if not v._prev else "intermediate")
        if v._op:
            op = _Vertex(f"op{id(v)}", "op", None, v._op)
            from ..value import Value

            ordered = [c for c in v._args if isinstance(c, Value)] or list(v._prev)
            for child in ordered:
                op.inputs.append(f"v{id(child)}")
                edges.append((f"v{id(child)}", op.key))
            vertices.append(op)
            edges.append((op.key, f"v{id(v)}"))
        vertices.append(
            _Vertex(f"v{id(v)}", kind, v.label or None, v._op or None, (), np.asarray(v.data), np.asarray(v.grad))
        )
    return vertices, edges


def _details(v, show_values, show_grads):
    """A tensor vertex's shape, value and gradient, as the drawing and the text graph show them."""
    parts = []
    if v.shape:
        parts.append("shape (" + ", ".join(map(str, v.shape)) + ")")
    if show_values:
        parts.append("value " + (_summary(v.value) or "?"))
    if show_grads and v.grad is not None:
        parts.append("grad " + _summary(v.grad))
    return parts


def _label(v, show_values=True, show_grads=True):
    if v.kind == "op":
        return v.op
    lines = [v.name or ("output" if v.kind == "output" else "")] + _details(v, show_values, show_grads)
    return "\\n".join(line for line in lines if line)


def _graph_attrs(title, rankdir):
    attrs = {"rankdir": rankdir, "fontname": "Helvetica"}
    if title:
        attrs.update(label=title, labelloc="t")
    return attrs


def draw_graph(
    tensor: Tensor,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "LR",
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Digraph:
    """A graphviz.Digraph of everything that produced `tensor` (or a chainrule.Value).

    Args:
        tensor: the output to draw from (a Tensor or a Value).
        show_values, show_grads: put values / gradients in the tensor labels.
        rankdir: "LR" (left to right, as micrograd draws) or "TB".
        title: an optional caption.
        save: a path ending in .svg, .png or .pdf to render to (needs graphviz's `dot`).

    Returns:
        the Digraph: it renders inline in Jupyter, `.source` is the DOT text (no `dot`
        binary needed), `.render(...)` writes files.

    Example:
        >>> g = chainrule.viz.draw_graph(loss, save="loss.svg")
    """
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "draw_graph needs the graphviz package: pip install 'chainrule[viz]' (and apt-get "
            "install graphviz for the `dot` renderer). to_dot() and text_graph() need neither."
        ) from None
    vertices, edges = _build(tensor)
    dot = graphviz.Digraph(graph_attr=_graph_attrs(title, rankdir), node_attr={"fontname": "Helvetica"})
    for v in vertices:
        dot.node(v.key, _label(v, show_values, show_grads), **_STYLE[v.kind])
    for a, b in edges:
        dot.edge(a, b)
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
        raise RuntimeError(
            f"save_graph: rendering {fmt.upper()} needs graphviz's `dot` program, which is not "
            "installed: apt-get install graphviz (or brew install graphviz). "
            "The DOT text is available without it: graph.source or to_dot()."
        ) from None
    with open(path, "wb") as f:
        f.write(data)
    return path


def _quote(s):
    return '"' + str(s).replace('"', '\\"') + '"'


def to_dot(
    tensor: Tensor, show_values: bool = True, show_grads: bool = True, rankdir: str = "LR", title: str | None = None
) -> str:
    """The DOT text of `draw_graph(tensor)`, written without graphviz (package or binary)."""
    vertices, edges = _build(tensor)
    lines = ["digraph {"]
    lines.append("\tgraph [" + " ".join(f"{k}={_quote(v)}" for k, v in _graph_attrs(title, rankdir).items()) + "]")
    lines.append('\tnode [fontname="Helvetica"]')
    for v in vertices:
        attrs = {"label": _label(v, show_values, show_grads), **_STYLE[v.kind]}
        lines.append(f"\t{v.key} [" + " ".join(f"{k}={_quote(a)}" for k, a in attrs.items()) + "]")
    for a, b in edges:
        lines.append(f"\t{a} -> {b}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def text_graph(tensor: Tensor, show_values: bool = True, show_grads: bool = True) -> str:
    """The graph as text, one line per tensor in forward order (no graphviz needed).

    Unnamed intermediates get short ids (t1, t2, ...) so every op line reads like a
    line of the program: `t3 = Sub(u5, u1)   shape ()  value 56  grad -1540`.
    """
    vertices, _ = _build(tensor)
    by_key = {v.key: v for v in vertices}
    names, counter = {}, 0
    for v in vertices:
        if v.kind == "op":
            continue
        if v.name:
            names[v.key] = v.name
        else:
            counter += 1
            names[v.key] = f"t{counter}"
    producer = {}
    for v in vertices:
        if v.kind == "op":
            producer[v.key] = v
    rows = []
    for v in vertices:
        if v.kind == "op":
            continue
        op = producer.get("op" + v.key[1:]) if v.key[0] in "ov" else None
        if op is not None and op.key in by_key:
            lhs = (
                f"{names[v.key]} = {op.op}("
                + ", ".join("const" if k is None else names.get(k, "?") for k in op.inputs)
                + ")"
            )
        else:
            lhs = f"{names[v.key]}  [{'parameter' if v.kind == 'parameter' else v.kind}]"
        rows.append([lhs] + _details(v, show_values, show_grads))
    width = max(len(r[0]) for r in rows)
    return "\n".join(r[0].ljust(width) + ("   " + "   ".join(r[1:]) if len(r) > 1 else "") for r in rows)


def print_graph(tensor: Tensor, **kwargs: Any) -> None:
    """Print text_graph(tensor)."""
    print(text_graph(tensor, **kwargs))
