"""One forward and backward pass of a recorded graph, as plain data: what trace tables and the explorer show.

`record(output)` walks the graph that produced `output` (the `grad_fn` nodes, their
`next` edges and saved values), runs the backward pass once more with the chain-rule
recorder of `chainrule.explain` on (so every node's upstream gradient, vector-Jacobian
product and elementwise local partial are known), and returns a `Pass`:

    entries   every leaf and op output in forward order, v_i = op(v_j, ...) = value
    backward  every edge in backward order: upstream x local = contribution, and the
              running sum of the input's gradient after that term

The forward order is the layered (breadth-first) order of a Wengert list: an entry's
level is the longest path from an input, ties broken by evaluation order. It is a
topological order, and its reverse is the order in which the backward steps are shown.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field

import numpy as np

# Each op: how it reads (its inputs are {0}, {1}, ...; its output {out}) and the local partial
# d(out)/d(input i) of each input, elementwise where the op is; otherwise the vector-Jacobian
# product with the upstream gradient G. Ops missing here show as op(args) with no formula.
OP_FORMULAS = {
    "Add": ("{0} + {1}", ("1", "1")),
    "Sub": ("{0} − {1}", ("1", "−1")),
    "Mul": ("{0} × {1}", ("{1}", "{0}")),
    "Div": ("{0} / {1}", ("1/{1}", "−{0}/{1}²")),
    "Pow": ("{0}^{1}", ("{1}·{0}^({1}−1)", "ln({0})·{out}")),
    "Neg": ("−{0}", ("−1",)),
    "Exp": ("exp {0}", ("exp {0}",)),
    "Log": ("ln {0}", ("1/{0}",)),
    "Sqrt": ("√{0}", ("1/(2√{0})",)),
    "Abs": ("|{0}|", ("sign {0}",)),
    "Sin": ("sin {0}", ("cos {0}",)),
    "Cos": ("cos {0}", ("−sin {0}",)),
    "Tan": ("tan {0}", ("1 + tan² {0}",)),
    "Tanh": ("tanh {0}", ("1 − tanh² {0}",)),
    "Sigmoid": ("σ({0})", ("σ({0})(1 − σ({0}))",)),
    "Relu": ("relu({0})", ("1[{0} > 0]",)),
    "Softplus": ("softplus({0})", ("σ({0})",)),
    "Clone": ("{0}", ("1",)),
    "Maximum": ("max({0}, {1})", ("1[{0} ≥ {1}]", "1[{1} > {0}]")),
    "Minimum": ("min({0}, {1})", ("1[{0} ≤ {1}]", "1[{1} < {0}]")),
    "Matmul": ("{0} @ {1}", ("G @ {1}ᵀ", "{0}ᵀ @ G")),
    "Linear": ("{0} @ {1}ᵀ + {2}", ("G @ {1}", "Gᵀ @ {0}", "Σ_rows G")),
    "Sum": ("Σ {0}", ("1 (G broadcast back)",)),
    "SoftmaxCrossEntropy": ("cross_entropy({0}, target)", ("(softmax({0}) − onehot(target)) · G / N",)),
    "Softmax": ("softmax({0})", ("{out} ⊙ (G − Σ G⊙{out})",)),
    "LogSoftmax": ("log_softmax({0})", ("G − softmax({0}) · Σ G",)),
    "Reshape": ("reshape({0})", ("G reshaped back",)),
    "Permute": ("permute({0})", ("G permuted back",)),
    "BroadcastTo": ("broadcast({0})", ("G summed over the broadcast axes",)),
}


def number(a):
    """Baydin's style: up to 3 decimals for a scalar (11.652, 0.693, 5.5); a short summary for a tensor."""
    if a is None:
        return "?"
    a = np.asarray(a)
    if a.size != 1:
        from ..explain import _fmt

        return _fmt(a)
    v = float(a.item())
    if v == 0 or 1e-3 <= abs(v) < 1e7:
        s = f"{v:.3f}".rstrip("0").rstrip(".")
        return "0" if s in ("-0", "") else s
    return f"{v:.4g}"


def constant_name(c):
    """How a constant operand reads: its value for a scalar, const(shape) for a tensor, c when not kept."""
    if c is None:
        return "c"
    return number(c) if np.size(c) == 1 else "const(" + "×".join(map(str, np.shape(c))) + ")"


def op_expression(op, args, out="out"):
    """How `op` reads with its operands' names: op_expression("Log", ["v-1"]) == "ln v-1"."""
    template = OP_FORMULAS.get(op, (None,))[0]
    if template is None or template.count("{") - template.count("{out}") > len(args):
        return f"{op}({', '.join(args)})"
    return template.format(*args, out=out)


def local_formula(op, i, args, out="out"):
    """The local partial d(out)/d(input i) of `op` in its operands' names, or None where unknown."""
    partials = OP_FORMULAS.get(op, (None, ()))[1]
    if i >= len(partials):
        return None
    try:
        return partials[i].format(*args, out=out)
    except IndexError:
        return None


@dataclass
class Entry:
    """A leaf or an op output: v = op(inputs) = value, and its gradient dL/dv."""

    index: int
    kind: str  # "input", "parameter", "op" or "output"
    name: str | None
    op: str | None
    inputs: list  # entry index per operand, None for a constant
    consts: list  # the constant operands' values where the graph kept them, else None
    value: np.ndarray | None
    grad: np.ndarray | None
    shape: tuple
    dtype: str
    level: int = 0
    site: tuple | None = None  # (file, line) of the user code that created it
    source: str | None = None  # that line's text
    module: str | None = None  # the nn module it belongs to (explore(model=...))
    node: object = field(default=None, repr=False)


@dataclass
class EdgeStep:
    """One term of the backward pass: dL/d(src) += upstream x local = contribution (src feeds dst)."""

    src: int
    dst: int
    slot: int
    upstream: np.ndarray
    local: np.ndarray | None
    contribution: np.ndarray | None
    running: np.ndarray | None


@dataclass
class Pass:
    entries: list
    backward: list
    output: int


def _is_parameter(t):
    return any(c.__name__ == "Parameter" for c in type(t).__mro__)


def _order(root_node, inputs):
    """Leaves and nodes that produced `root_node`, in layered forward order (see the module docstring)."""
    from ..tensor import Tensor

    post, seen = [], set()
    stack = [(root_node, False)]
    while stack:
        e, done = stack.pop()
        if done or isinstance(e, Tensor):
            if id(e) not in seen:
                seen.add(id(e))
                post.append(e)
            continue
        if id(e) in seen:
            continue
        stack.append((e, True))
        for edge in reversed(e.next):
            if edge is not None and id(edge) not in seen:
                stack.append((edge, False))
    post = [x for x in inputs or () if id(x) not in seen] + post  # inputs the output does not use
    level = {}
    for e in post:  # postorder: every operand before its consumer
        level[id(e)] = (
            0 if isinstance(e, Tensor) else 1 + max((level[id(x)] for x in e.next if x is not None), default=-1)
        )
    rank = {id(x): i for i, x in enumerate(inputs or ())}
    position = {id(e): i for i, e in enumerate(post)}
    return sorted(post, key=lambda e: (level[id(e)], rank.get(id(e), len(rank)), position[id(e)])), level


def _recorded_backward(output, leaves):
    """Run `output`'s backward pass once more with explain's recorder on; no `.grad` is touched.

    The one place this module hooks into the engine's backward walk.
    """
    from ..autograd import engine
    from ..explain import recording

    ones = None if output._data.size == 1 else np.ones_like(output._data)
    with recording():
        engine.grad(output, leaves or [output], grad_outputs=ones, retain_graph=True, allow_unused=True)


# Ops whose saved values line up with their operands, so a constant operand can be read back.
_SAVES_OPERANDS = {"Mul", "Div", "Pow", "Matmul", "Linear"}


def _constant(node, i):
    """The value of a constant operand where the node kept it (these ops save their operands)."""
    saved = node.saved or ()
    if node.op_name in _SAVES_OPERANDS and i < len(saved) and saved[i] is not None:
        c = getattr(saved[i], "_data", saved[i])
        if isinstance(c, (int, float, np.ndarray, np.generic)):
            return np.asarray(c)
    return None


def _recompute(node, args):
    """An op output's value from its operands', where the graph did not keep it."""
    from ._build import _recompute as simple

    if any(a is None for a in args):
        return None
    with np.errstate(all="ignore"):
        if node.op_name == "Linear":
            y = args[0] @ np.swapaxes(args[1], -1, -2)
            return y + args[2] if len(args) > 2 else y
        if node.op_name == "Sum" and hasattr(node, "axes"):
            return np.sum(args[0], axis=node.axes or None, keepdims=node.keepdims)
        if node.op_name == "Pow":
            return np.power(*args)
        return simple(node, args)


def _owners(model):
    """id(parameter) -> (module path, parameter's qualified name) for an nn model."""
    owners = {}
    if model is None:
        return owners
    root = type(model).__name__
    for path, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            owners[id(p)] = (f"{root}.{path}" if path else root, f"{path}.{pname}" if path else pname)
    return owners


def record(output, inputs=(), model=None):
    """The Pass of `output`: forward values and the recorded backward pass (see the module docstring).

    Args:
        output: a Tensor with a grad_fn.
        inputs: leaves to number first, in this order (trace tables number a function's arguments).
        model: an nn.Module whose parameters group the entries by module.
    """
    from ..explain import record_of, value_of
    from ..tensor import Tensor

    if not isinstance(output, Tensor):
        raise TypeError(
            f"explore/trace_table: expected the output Tensor of a computation, got {type(output).__name__}"
        )
    if output.grad_fn is None:
        raise RuntimeError(
            "explore/trace_table: this tensor has no grad_fn (a leaf, or computed without grad), so there is no "
            "graph to show. Build it from tensors created with requires_grad=True."
        )
    order, level = _order(output.grad_fn, inputs)
    nodes = [e for e in order if not isinstance(e, Tensor)]
    leaves = [e for e in order if isinstance(e, Tensor)]
    if any(n.saved is None for n in nodes):
        if any(record_of(n) is None for n in nodes):
            raise RuntimeError(
                "explore/trace_table: backward already ran through this graph and freed the values the local "
                "partials need, and that pass was not recorded. Call explore(output) before output.backward(), "
                "or run backward with retain_graph=True, or inside `with chainrule.viz.trace():`."
            )
    else:
        _recorded_backward(output, leaves)
    owners = _owners(model)
    index = {id(e): i for i, e in enumerate(order)}
    entries = []
    for i, e in enumerate(order):
        if isinstance(e, Tensor):
            owner = owners.get(id(e))
            kind = "parameter" if _is_parameter(e) else "input"
            entries.append(
                Entry(
                    i,
                    kind,
                    e.name or (owner[1] if owner else None),
                    None,
                    [],
                    [],
                    np.array(e._data),
                    None,
                    tuple(e.shape),
                    str(e.dtype),
                    0,
                    module=owner[0] if owner else None,
                    node=e,
                )
            )
            continue
        args = [None if x is None else index[id(x)] for x in e.next]
        consts = [_constant(e, j) if x is None else None for j, x in enumerate(e.next)]
        value = value_of(e)
        if value is None:
            value = _recompute(e, [entries[a].value if a is not None else c for a, c in zip(args, consts)])
        out = e.out_ref() if e.out_ref is not None else None
        name = (out.name if out is not None else None) or e.name
        site = e.site
        source = linecache.getline(site[0], site[1]).strip() or None if site else None
        modules = [owners[id(x)][0] for x in e.next if x is not None and id(x) in owners]
        entries.append(
            Entry(
                i,
                "output" if e is output.grad_fn else "op",
                name,
                e.op_name,
                args,
                consts,
                None if value is None else np.array(value),
                record_of(e).grad_output,
                tuple(e.shape),
                str(np.dtype(e.dtype)),
                level[id(e)],
                site,
                source,
                modules[0] if modules else None,
                e,
            )
        )
    # Backward: consumers in reverse forward order, each one's operands in order; leaves sum their terms.
    steps, running = [], {}
    for dst in reversed(entries):
        if dst.kind in ("input", "parameter"):
            continue
        rec = record_of(dst.node)
        for slot, src in enumerate(dst.inputs):
            if src is None:
                continue
            c = rec.grad_inputs[slot]
            if c is not None:
                running[src] = c.copy() if src not in running else running[src] + c
            steps.append(EdgeStep(src, dst.index, slot, rec.grad_output, rec.local[slot], c, running.get(src)))
    for e in entries:
        if e.grad is None:  # a leaf: the sum of its terms (zero for an input the output does not use)
            e.grad = running.get(e.index, np.zeros_like(e.value))
    return Pass(entries, steps, len(entries) - 1)
