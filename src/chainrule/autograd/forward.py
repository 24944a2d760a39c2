"""Forward mode: push tangents through a recorded graph, from the inputs to the outputs.

`forward_tangents(outputs, inputs, tangents)` computes J v for every output: each
node, in forward order, maps its inputs' tangents to its output's tangent with
its primitive's `jvp(ctx, *tangents)` rule (written next to its forward and
backward). Two kinds of primitive need no rule of their own:

- those whose Jacobian is symmetric (`jvp_is_vjp = True`: elementwise maps of one
  input, softmax), where J t is the VJP of t, so the backward rule serves;
- any other op (user Functions included) falls back to transposing its VJP at
  that node: J t = d/du <J^T u, t>, one local double backward.

Rules use ops that work on arrays and on Tensors, like backward rules, so with
`create_graph=True` the tangents are themselves differentiable. The order is the engine's
walk (`engine.order`), reversed: there is one graph walker.
"""

from __future__ import annotations

import numpy as np

from . import grad_mode, quiet
from .function import _backward_state


def _forward_order(outputs):
    """The nodes that produced `outputs`, each after every node it consumes: the engine's walk, reversed."""
    from .engine import order

    visited = order(outputs)
    visited.reverse()
    return visited


def _node_jvp(node, tangents, graph):
    """The output tangent of one node, given one tangent (or None for zero) per input."""
    cls = type(node)
    rule = getattr(cls, "jvp", None)
    if rule is not None:
        return rule(node, *tangents)
    if getattr(cls, "jvp_is_vjp", False):
        (t,) = [t for t in tangents if t is not None]
        return node._vjp(t)[0]
    return _transposed_vjp(node, tangents, graph)


def _transposed_vjp(node, tangents, graph):
    """J t as d/du <J^T u, t>: valid for any node whose backward is written with differentiable ops."""
    from ..tensor import Tensor
    from . import engine

    u = Tensor._make(np.zeros(node.shape, dtype=node.dtype))
    u.requires_grad = True
    prev_graph, prev_mode = _backward_state["graph"], grad_mode._state["enabled"]
    _backward_state["graph"], grad_mode._state["enabled"] = True, True
    try:
        pulled = node._vjp(u)
        total = None
        for gi, t in zip(pulled, tangents):
            if gi is None or t is None or not getattr(gi, "requires_grad", False):
                continue
            term = (gi * t).sum()
            total = term if total is None else total + term
        if total is None:
            return None
        (out,) = engine.grad(total, [u], create_graph=graph, retain_graph=True, allow_unused=True)
    finally:
        _backward_state["graph"], grad_mode._state["enabled"] = prev_graph, prev_mode
    if out is None:
        return None
    return out if graph else out._data


def forward_tangents(outputs, inputs, tangents, create_graph=False):
    """J v for each output, by forward mode over the graph recorded from `inputs` to `outputs`.

    Args:
        outputs: Tensors computed from `inputs` with the graph recorded.
        inputs: the Tensors the tangents belong to (leaves or intermediates).
        tangents: one array or Tensor per input, of its shape.
        create_graph: return tangents that are differentiable (for nesting).

    Returns:
        one tangent per output (an array, or a Tensor with create_graph), zeros where
        an output does not depend on the inputs.
    """
    from ..tensor import Tensor
    from . import effects

    # Under a jit trace the rules run on Tensors, as with create_graph: their arithmetic on arrays
    # would be invisible to the trace, and a replay would return this call's tangents.
    graph = bool(create_graph) or effects.tracing()
    by_leaf, by_node = {}, {}
    for x, t in zip(inputs, tangents):
        t_arr = (
            t
            if graph and isinstance(t, Tensor)
            else (
                Tensor._make(np.asarray(getattr(t, "_data", t), dtype=x.dtype))
                if graph
                else np.asarray(getattr(t, "_data", t), dtype=x.dtype)
            )
        )
        if x.grad_fn is None:
            by_leaf[id(x)] = t_arr
        else:
            by_node[x.grad_fn] = t_arr
    seeded = set(by_node)

    def tangent_of(edge):
        if edge is None:
            return None
        if isinstance(edge, Tensor):
            return by_leaf.get(id(edge))
        return by_node.get(edge)

    prev_graph, prev_mode = _backward_state["graph"], grad_mode._state["enabled"]
    _backward_state["graph"], grad_mode._state["enabled"] = graph, graph
    warnings_off = quiet.enter()
    try:
        for node in _forward_order(outputs):
            if node in seeded:
                continue
            tin = [tangent_of(edge) for edge in node.next]
            if all(t is None for t in tin):
                continue
            t_out = _node_jvp(node, tin, graph)
            if t_out is not None:
                by_node[node] = t_out
    finally:
        quiet.leave(warnings_off)
        _backward_state["graph"], grad_mode._state["enabled"] = prev_graph, prev_mode

    results = []
    for o in outputs:
        t = by_leaf.get(id(o)) if o.grad_fn is None else by_node.get(o.grad_fn)
        if t is None:
            t = np.zeros(o.shape, dtype=o.dtype)
            t = Tensor._make(t) if graph else t
        elif not graph:
            t = np.asarray(getattr(t, "_data", t))
            if t.shape != o.shape:
                t = np.broadcast_to(t, o.shape).copy()
        results.append(t)
    return results
