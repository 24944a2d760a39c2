"""The recorder of backward passes behind `chainrule.explain` and the graph drawings.

The engine frees what forward saved once backward is done, so what explain() and
draw_graph() show (each node's upstream gradient, its VJP, its elementwise local
partials, its output value, the constants it was given) is copied while backward
runs, by an engine observer. A pass through a graph holding a named tensor is
recorded without asking; otherwise only inside `recording()` (or between
`start_recording()` and `stop_recording()`). Everything is kept in weak maps keyed
by graph node, so a record lives exactly as long as its graph.

Kept apart from explain.py (the explanation itself) so that each module reads as one
piece: what is recorded here, how it is spelled out there.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass

import numpy as np

from .autograd import engine as _engine
from .autograd import grad_mode as _grad_mode
from .autograd.function import _backward_state

_records: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # node -> NodeRecord
_values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # node -> forward value seen in backward
_depth = {"n": 0}


@dataclass
class NodeRecord:
    """What one node saw in a recorded backward pass (arrays, copies)."""

    grad_output: np.ndarray  # dL/d(out)
    grad_inputs: tuple  # the VJP: one contribution per input (None where none)
    local: tuple  # elementwise local partials d(out)/d(input_i), or None
    value: np.ndarray | None  # the forward value of the output, when it was available
    constants: tuple = ()  # per input: the constant it was given (no gradient), when forward saved it


def _array(x):
    if x is None:
        return None
    data = getattr(x, "_data", x) if hasattr(x, "grad_fn") else x
    return np.array(data, copy=True)


# Ops whose VJP with a vector of ones is the elementwise local partial (same-shape inputs): the
# primitives registered as elementwise (autograd/primitive.py).
from .autograd.primitive import Primitive as _Primitive  # noqa: E402  (after the engine's imports)


def _local_partials(node, g):
    """d(out)/d(input_i) for elementwise ops, by running the node's own VJP with ones."""
    if not (isinstance(node, _Primitive) and node.elementwise) or node.saved is None:
        return (None,) * len(node.next)
    shape = np.shape(getattr(g, "_data", g))
    prev_graph, prev_mode = _backward_state["graph"], _grad_mode._state["enabled"]
    _backward_state["graph"], _grad_mode._state["enabled"] = False, False
    try:
        grads = node._vjp(np.ones(shape, dtype=np.result_type(getattr(g, "dtype", float), np.float32)))
    except Exception:  # a rule that cannot run on ones: show the VJP instead of a partial
        return (None,) * len(node.next)
    finally:
        _backward_state["graph"], _grad_mode._state["enabled"] = prev_graph, prev_mode
    out = []
    for edge, gi in zip(node.next, grads):
        edge_shape = None if edge is None else tuple(edge.shape)
        # A broadcast input's VJP sums partials over the stretched axes: that is no local partial.
        out.append(_array(gi) if gi is not None and edge_shape == shape else None)
    return tuple(out)


# Ops whose forward saves its inputs in their own positions (when the other input's gradient
# needs them): the value of a constant operand can be read back from `saved`.
_POSITIONAL_SAVES = frozenset(("Mul", "Div", "Pow", "Linear", "Matmul"))


def constants_of(node):
    """Per input of `node`: the value of a constant input (an edge with no gradient), or None.

    Read from what forward saved, so only while the graph is alive (before backward, or with
    retain_graph) or from a recorded pass; None where the op keeps no copy (Add, Sub).
    """
    record = _records.get(node)
    if record is not None and record.constants:
        return record.constants
    saved = node.saved
    if saved is None or type(node).__name__ not in _POSITIONAL_SAVES or not isinstance(node, _Primitive):
        return (None,) * len(node.next)
    return tuple(
        np.asarray(getattr(saved[i], "_data", saved[i]))
        if edge is None and i < len(saved) and saved[i] is not None
        else None
        for i, edge in enumerate(node.next)
    )


def _observe(node, g, grad_inputs):
    from .tensor import Tensor

    out = node.out_ref() if getattr(node, "out_ref", None) is not None else None
    value = out._data.copy() if out is not None else (None if node.out_data is None else node.out_data.copy())
    if value is not None:
        _values[node] = value
    # Inputs saved for backward are Tensors: their producers' values are free to read now.
    for s in node.saved or ():
        if isinstance(s, Tensor) and s.grad_fn is not None and s.grad_fn not in _values:
            _values[s.grad_fn] = s._data.copy()
    _records[node] = NodeRecord(
        _array(g),
        tuple(_array(gi) for gi in grad_inputs),
        _local_partials(node, g),
        value,
        tuple(None if c is None else c.copy() for c in constants_of(node)),
    )


class _Recorder(_engine.Observer):
    """The engine observer that keeps, per node, what explain() and draw_graph() show."""

    def node(self, node, grad_output, grad_inputs):
        _observe(node, grad_output, grad_inputs)


_recorder = _Recorder()

# Set once some tensor is given a name (Tensor.name's setter): until then no pass is examined.
names = {"in_use": False}


def names_in_use():
    names["in_use"] = True


def _has_named_tensor(roots):
    from .tensor import Tensor

    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    if any(r._name is not None for r in roots):
        return True
    seen = set(stack)
    while stack:
        node = stack.pop()
        out = node.out_ref() if node.out_ref is not None else None
        if out is not None and out._name is not None:
            return True
        for edge in node.next:
            if isinstance(edge, Tensor):
                if edge._name is not None:
                    return True
            elif edge is not None and edge not in seen:
                seen.add(edge)
                stack.append(edge)
    return False


@_engine.add_pass_hook
def _named_graph_hook(roots):
    """A backward pass through a graph that holds a named tensor is recorded without asking, so that
    `L.backward(); chainrule.explain(L)` works; graphs without names (training) are never examined."""
    if names["in_use"] and _depth["n"] == 0 and _has_named_tensor(roots):
        return _recorder
    return None


def start_recording():
    """Record every later backward pass (per-node gradients, local partials, values) until stop_recording()."""
    if _depth["n"] == 0:
        _engine.add_observer(_recorder)
    _depth["n"] += 1


def stop_recording():
    if _depth["n"] > 0:
        _depth["n"] -= 1
        if _depth["n"] == 0:
            _engine.remove_observer(_recorder)


@contextlib.contextmanager
def recording():
    """Record the backward passes run inside the block, for explain() and draw_graph().

    Example:
        >>> with chainrule.explain.recording():
        ...     loss.backward()
        >>> chainrule.viz.draw_graph(loss)      # now shows every intermediate gradient
    """
    start_recording()
    try:
        yield
    finally:
        stop_recording()


def record_of(node):
    """The NodeRecord of `node` from the last recorded backward pass, or None."""
    return _records.get(node)


def value_of(node):
    """The forward value of a node's output if it is known (tensor alive, saved, or seen in backward)."""
    out = node.out_ref() if getattr(node, "out_ref", None) is not None else None
    if out is not None:
        return out._data
    if node in _values:
        return _values[node]
    return node.out_data


# ----- walking the graph -----


def _graph(root):
    """Nodes and leaves reachable from `root`, in reverse topological order (root first).

    Returns (order, consumers): `order` lists node objects and leaf Tensors; `consumers`
    maps id(entity) -> [(consumer node, input index)].
    """
    from .tensor import Tensor

    start = root.grad_fn
    deps, consumers, entities = {}, {}, {}
    stack, seen = [start], {id(start)}
    entities[id(start)] = start
    while stack:
        node = stack.pop()
        for i, edge in enumerate(node.next):
            if edge is None:
                continue
            consumers.setdefault(id(edge), []).append((node, i))
            deps[id(edge)] = deps.get(id(edge), 0) + 1
            if id(edge) not in seen:
                seen.add(id(edge))
                entities[id(edge)] = edge
                if not isinstance(edge, Tensor):
                    stack.append(edge)
    order, ready = [], [start]
    while ready:
        e = ready.pop()
        order.append(e)
        if isinstance(e, Tensor):
            continue
        for edge in e.next:
            if edge is None:
                continue
            deps[id(edge)] -= 1
            if deps[id(edge)] == 0:
                ready.append(edge)
    return order, consumers
