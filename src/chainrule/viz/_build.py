"""The graph a drawing shows: vertices (tensors, ops, constants) and edges, built from autograd's nodes.

Kept apart from graph.py, which turns these vertices into DOT, graphviz objects and text:
here is what is drawn (names from module paths, constants' values, values recomputed
where the engine kept none), there how it looks.
"""

from __future__ import annotations

import numpy as np

_OPERANDS = {
    "Sub": ("minuend", "subtrahend"),
    "Div": ("dividend", "divisor"),
    "Pow": ("base", "exponent"),
    "Linear": ("input", "weight", "bias"),
    "Matmul": ("left", "right"),
}


class _Vertex:
    __slots__ = ("key", "kind", "name", "op", "shape", "value", "grad", "inputs", "module")

    def __init__(self, key, kind, name=None, op=None, shape=None, value=None, grad=None):
        self.key, self.kind, self.name, self.op = key, kind, name, op
        self.shape, self.value, self.grad = shape, value, grad
        self.inputs = []  # keys of tensor vertices feeding this op (op vertices only)
        self.module = None  # the module path whose cluster holds this vertex (clusters=True)


def _is_parameter(t):
    return any(c.__name__ == "Parameter" for c in type(t).__mro__)


def _param_names(params):
    """{id(parameter): dotted name} from a Module or from a dict / iterable of (name, parameter)."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    elif hasattr(params, "items"):
        params = params.items()
    return {id(p): name for name, p in params}


def _caller_modules(depth=30):
    """The Modules the calling code holds: values in the locals and globals of the frames above
    (a notebook's `model`, a script's or a test's local). Cheap, unlike a scan of the heap."""
    import sys

    from ..nn.module import Module

    found, seen, frame = [], set(), sys._getframe(1)
    while frame is not None and depth > 0:
        for scope in (frame.f_locals, frame.f_globals):
            for value in list(scope.values()):
                # type(), not isinstance: no lazy proxy's __getattr__ runs
                if Module in type(value).__mro__ and id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
        frame, depth = frame.f_back, depth - 1
    return found


def _owning_module(param_ids):
    """The Module held by the calling code whose parameters cover most of the graph's (the
    outermost of equals), or None: how a drawing names `0.weight` when no `params=` is given."""
    best, best_cover = [], 0
    for module in _caller_modules():
        try:
            cover = sum(id(p) in param_ids for p in module.parameters())
        except Exception:  # a half-built or broken module
            continue
        if cover > best_cover:
            best, best_cover = [module], cover
        elif cover == best_cover and cover:
            best.append(module)
    if not best:
        return None
    inner = {id(m) for b in best for m in b.modules() if m is not b}
    roots = [m for m in best if id(m) not in inner]
    return roots[0] if len(roots) == 1 else None  # two unrelated owners: no guess


def _build(root, params=None):
    """Tensor vertices and op vertices for everything that produced `root`, in forward order.

    Returns (vertices, edges) with edges as (from key, to key, operand label or None).
    """
    from ..value import Value

    if isinstance(root, Value):
        return _build_value(root)
    from ..tensor import Tensor

    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor or a chainrule.Value, got {type(root).__name__}")
    from .._recorder import _graph, constants_of, record_of, value_of

    if root.grad_fn is None:
        kind = "parameter" if _is_parameter(root) else ("leaf" if root.requires_grad else "constant")
        grad = None if root.grad is None else root.grad._data
        name = root.name or _param_names(params).get(id(root))
        return [_Vertex(f"t{id(root)}", kind, name, None, tuple(root.shape), root._data, grad)], []
    order, _ = _graph(root)
    tensors = [e for e in order if isinstance(e, Tensor)]
    names = _param_names(params)
    if params is None and any(_is_parameter(t) and t.name is None for t in tensors):
        owner = _owning_module({id(t) for t in tensors if _is_parameter(t)})
        names = _param_names(owner)
    vertices, edges, known = [], [], {}
    for e in reversed(order):  # forward order: inputs before the ops that use them
        if isinstance(e, Tensor):
            kind = "parameter" if _is_parameter(e) else "leaf"
            grad = None if e.grad is None else e.grad._data
            vertex = _Vertex(f"t{id(e)}", kind, e.name or names.get(id(e)), None, tuple(e.shape), e._data, grad)
            if kind == "parameter" and vertex.name and id(e) in names:
                vertex.module = names[id(e)].rpartition(".")[0] or None
            vertices.append(vertex)
            known[vertex.key] = e._data
            continue
        out = e.out_ref() if e.out_ref is not None else None
        rec = record_of(e)
        grad = (
            out.grad._data if out is not None and out.grad is not None else (None if rec is None else rec.grad_output)
        )
        op = _Vertex(f"op{id(e)}", "op", None, e.op_name)
        operands = _OPERANDS.get(e.op_name, ())
        value = value_of(e)
        op.inputs = [
            f"c{id(e)}_{i}" if edge is None else (f"t{id(edge)}" if isinstance(edge, Tensor) else f"o{id(edge)}")
            for i, edge in enumerate(e.next)
        ]
        constants = constants_of(e)
        for i, edge in enumerate(e.next):
            if edge is None:  # an input that needs no gradient: drawn with its value, when it is known
                c = constants[i] if i < len(constants) else None
                if c is None:
                    c = _constant_from_value(e.op_name, i, value, [known.get(k) for k in op.inputs])
                # A model's input (Linear's first operand) is "input" even when its value is gone.
                is_input = (c is not None and np.size(c) > 1) or (i < len(operands) and operands[i] == "input")
                label = "input" if is_input else None
                vertices.append(_Vertex(op.inputs[i], "constant", label, None, None if c is None else np.shape(c), c))
                known[op.inputs[i]] = c
            edges.append((op.inputs[i], op.key, operands[i] if i < len(operands) else None))
        vertices.append(op)
        kind = "output" if e is root.grad_fn else "intermediate"
        if value is None:
            value = _recompute(e, [known.get(k) for k in op.inputs])
        vertex = _Vertex(f"o{id(e)}", kind, e.name, e.op_name, tuple(e.shape), value, grad)
        known[vertex.key] = value
        vertices.append(vertex)
        edges.append((op.key, f"o{id(e)}", None))
    _assign_modules(vertices)
    return vertices, edges


def _constant_from_value(op_name, i, value, inputs):
    """The scalar constant operand of an Add or Sub, from its output and its other operand (neither
    op keeps its operands for backward); None when either is unknown or the constant is no scalar."""
    if op_name not in ("Add", "Sub") or value is None or len(inputs) != 2:
        return None
    other = inputs[1 - i]
    if other is None or np.shape(other) != np.shape(value):
        return None
    with np.errstate(all="ignore"):
        if op_name == "Add":
            c = value - other
        else:  # Sub: c - other = value, or other - c = value
            c = value + other if i == 0 else other - value
        c = np.asarray(c)
    first = c.reshape(-1)[0] if c.size else None
    return None if first is None or not np.allclose(c, first) else np.asarray(first)


def _assign_modules(vertices):
    """An op whose parameter inputs all come from one module joins that module's cluster (with its output)."""
    module_of = {v.key: v.module for v in vertices if v.module}
    if not module_of:
        return
    by_key = {v.key: v for v in vertices}
    for v in vertices:
        if v.kind != "op":
            continue
        mods = {module_of[k] for k in v.inputs if k in module_of}
        if len(mods) == 1:
            v.module = mods.pop()
            out = by_key.get("o" + v.key[2:])
            if out is not None and out.kind == "intermediate":
                out.module = v.module
        for k in v.inputs:  # a constant fed only to this op sits with it
            if k and k[0] == "c":
                by_key[k].module = v.module


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
    "Relu": lambda x: np.maximum(x, 0),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "Linear": lambda x, w, b=None: x @ np.swapaxes(w, -1, -2) + (0 if b is None else b),
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
                edges.append((f"v{id(child)}", op.key, None))
            vertices.append(op)
            edges.append((op.key, f"v{id(v)}", None))
        vertices.append(
            _Vertex(f"v{id(v)}", kind, v.label or None, v._op or None, (), np.asarray(v.data), np.asarray(v.grad))
        )
    return vertices, edges
