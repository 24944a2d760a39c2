"""The backward pass: walk the graph in reverse topological order and apply each node's VJP.

This is chainrule's one graph walker: `Tensor.backward`, `autograd.grad`, the transforms
built on them, the jit's recording of a backward pass and explain() all run through `_run`;
forward mode walks the same order (`order`), reversed.
The order is computed iteratively (a dependency count per node, then Kahn's algorithm), so
graphs of any depth work without recursion. Each node's incoming gradient is summed over all
of its consumers before its rule runs; leaves get theirs accumulated into `.grad` (PyTorch
semantics) or captured for `autograd.grad`. When only some gradients are wanted (`autograd.grad`,
`backward(inputs=...)`), only the nodes on a path to them run, as in PyTorch: hooks and retained
grads elsewhere in the graph are left alone.

Tools that want to see a pass attach an `Observer` (observers.py; its callbacks: a pass
begins, a node's rule ran, two gradients were summed, a gradient was cast to its input's dtype,
a leaf's gradient is final, the pass ended) with `add_observer`, or for one pass through a
hook `add_pass_hook` registers. The engine knows none of them by name (explain, viz and the
jit attach this way). With no observer the walk pays one truth test per node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import anomaly, grad_mode, quiet
from .function import _backward_state, format_site
from .observers import (  # noqa: F401  (engine's API)
    Observer,
    _notify_add,
    _observers,
    _pass_hooks,
    _pass_observers,
    add_observer,
    add_pass_hook,
    remove_observer,
)

if TYPE_CHECKING:
    from typing import Any

    from .._typing import Tensor

_Tensor = None  # set by tensor.py
_grad_state = grad_mode._state
_ndarray = np.ndarray


def _as_grad_array(tensor, gradient, where):
    Tensor = _Tensor
    if gradient is None:
        if tensor._data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for scalar outputs, but this tensor has "
                f"shape {tuple(tensor.shape)}. Pass gradient= (a tensor of that shape, e.g. ones_like(y)), "
                "or reduce the output to a scalar first (y.sum() or y.mean())."
            )
        return np.ones_like(tensor._data)
    g = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=tensor.dtype)
    if g.shape != tensor._data.shape:
        raise RuntimeError(
            f"{where}: gradient has shape {tuple(g.shape)}, but the output it belongs to has shape "
            f"{tuple(tensor.shape)}; they must match."
        )
    return g


def backward(
    tensors: Any,
    grad_tensors: Any | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any | None = None,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's `.grad` (torch.autograd.backward).

    Args:
        tensors: a Tensor or a sequence of them.
        grad_tensors: the vector in the vector-Jacobian product, one per tensor
            (None for a scalar, meaning 1).
        retain_graph: keep saved values so backward can run again (default: create_graph).
        create_graph: record the backward pass itself, for higher-order derivatives.
        inputs: if given, accumulate only into these tensors' `.grad` (leaves or intermediates).
    """
    Tensor = _Tensor
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    grad_tensors = _vectors(tensors, grad_tensors, "backward", "grad_tensors")
    roots, root_grads = [], []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn, so there is nothing to "
                "differentiate. Create the inputs with requires_grad=True (or call .requires_grad_()), "
                "and make sure the computation is not inside no_grad()."
            )
        roots.append(t)
        root_grads.append(_root_grad(t, g, create_graph))
    if retain_graph is None:
        retain_graph = create_graph
    only = None if inputs is None else [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if only is not None:
        if not only:
            raise RuntimeError(
                "backward: the inputs= argument is an empty list, so no .grad would be written. Name the "
                "tensors whose .grad to accumulate (inputs=[w, b]), or leave inputs= out to reach every leaf."
            )
        for i, t in enumerate(only):
            if not isinstance(t, Tensor) or not t.requires_grad:
                raise RuntimeError(
                    f"backward: inputs[{i}] ({_describe(t)}) does not require grad, so it can have no "
                    ".grad; create it with requires_grad=True or leave it out of inputs=."
                )
    _run(roots, root_grads, retain_graph, create_graph, capture=None, only=only)


def _vectors(outputs, vectors, where, name):
    """One vector of the vector-Jacobian product per output (None: 1 for a scalar output).

    Fewer vectors than outputs is refused, as in PyTorch: pairing them up would leave the last
    outputs out of the gradient without a word. Extra vectors are ignored, as there.
    """
    if not isinstance(vectors, (list, tuple)):
        vectors = [vectors] * len(outputs) if vectors is None else [vectors]
    if len(vectors) < len(outputs):
        raise RuntimeError(
            f"{where}: got {len(outputs)} tensors and {len(vectors)} gradients: {name} needs one per tensor "
            f"(None for a scalar one), e.g. {name}=[{', '.join(['g'] * len(outputs))}]."
        )
    return vectors


def _describe(t):
    if isinstance(t, _Tensor):
        return f"a tensor of shape {tuple(t.shape)} and dtype {t.dtype}"
    return f"a {type(t).__name__}"


def _root_grad(t, g, create_graph):
    Tensor = _Tensor
    if create_graph:
        if isinstance(g, Tensor):
            if g.shape != t.shape:
                _as_grad_array(t, g, "backward")
            return g
        return Tensor._make(_as_grad_array(t, g, "backward"))
    return _as_grad_array(t, g, "backward")


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any `.grad` (torch.autograd.grad).

    Args:
        outputs: a Tensor or a sequence of them.
        inputs: a Tensor or a sequence of them (leaves or intermediates).
        grad_outputs: the vectors of the vector-Jacobian product (None means 1 for scalars).
        retain_graph: keep saved values for another backward (default: create_graph).
        create_graph: return gradients that are themselves differentiable.
        allow_unused: return None for an input the outputs do not depend on,
            instead of raising.
        materialize_grads: return zeros (not None) for such an input; implies allow_unused.

    Returns:
        a tuple with one gradient (Tensor or None) per input.

    Example:
        >>> x = chainrule.tensor(3.0, requires_grad=True)
        >>> (dy,) = chainrule.autograd.grad(x ** 3, x, create_graph=True)   # 3 x^2 = 27
        >>> (d2y,) = chainrule.autograd.grad(dy, x)                          # 6 x = 18
    """
    Tensor = _Tensor
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "autograd.grad: materialize_grads=True gives zeros for unused inputs, which allow_unused=False "
            "forbids; pass allow_unused=True (or leave it out)."
        )
    allow_unused = bool(allow_unused or materialize_grads)
    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    grad_outputs = _vectors(outputs, grad_outputs, "autograd.grad", "grad_outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"autograd.grad: input {i} does not require grad, so no gradient can be taken with respect "
                "to it. Create it with requires_grad=True."
            )
    if retain_graph is None:
        retain_graph = create_graph
    roots, root_grads = [], []
    for t, g in zip(outputs, grad_outputs):
        if not t.requires_grad:
            if allow_unused:
                continue
            raise RuntimeError(
                "autograd.grad: an output does not require grad (it has no grad_fn: it does not depend on an "
                "input that requires grad, or it is a gradient computed without create_graph=True). To "
                "differentiate a gradient again, take it with create_graph=True."
            )
        roots.append(t)
        root_grads.append(_root_grad(t, g, create_graph))
    captured = [None] * len(inputs)
    _run(roots, root_grads, retain_graph, create_graph, capture=(inputs, captured), only=None)
    results = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {i} (shape {tuple(t.shape)}) was not used in computing the "
                    "outputs, so its gradient is undefined. Pass allow_unused=True to get None for it."
                )
            results.append(Tensor._make(np.zeros_like(t._data)) if materialize_grads else None)
        else:
            results.append(g if isinstance(g, Tensor) else Tensor._make(g))
    return tuple(results)


def _collect(roots):
    """Count, for every node reachable from `roots`, how many edges lead into it.

    Returns (deps, starts): the counts, and the roots' own nodes.
    """
    Tensor = _Tensor
    deps = {}
    starts = {r.grad_fn for r in roots if r.grad_fn is not None}
    stack = list(starts)
    while stack:
        node = stack.pop()
        for edge in node.next:
            if edge is None or isinstance(edge, Tensor):
                continue
            count = deps.get(edge)
            if count is None:
                deps[edge] = 1
                if edge not in starts:
                    stack.append(edge)
            else:
                deps[edge] = count + 1
    return deps, starts


def order(roots: Any) -> list:
    """The nodes reachable from `roots` in the order a backward pass visits them: each node after
    every node that consumes its output (reverse topological order; forward mode runs it reversed).

    `_run` walks the same order (Kahn's algorithm over `_collect`'s counts) with the rules inlined,
    as the hot loop; this is that walk on its own, for passes that need only the order.
    """
    deps, _ = _collect(roots)
    starts = list(dict.fromkeys(r.grad_fn for r in roots if r.grad_fn is not None))
    return _topological(deps, [n for n in starts if n not in deps])


def _topological(deps, ready):
    """Kahn's walk: every node after the nodes that consume it. Uses up `deps` and `ready`."""
    Tensor = _Tensor
    visited = []
    while ready:
        node = ready.pop()
        visited.append(node)
        for edge in node.next:
            if edge is None or isinstance(edge, Tensor):
                continue
            deps[edge] -= 1
            if not deps[edge]:
                ready.append(edge)
    return visited


def _add(acc, g, graph, owned, key):
    """acc + g without ever writing into a buffer some other node may share."""
    if acc is None:
        return g
    if graph:
        return acc + g
    if key in owned and type(acc) is np.ndarray and acc.shape == np.shape(g):
        acc += g
        return acc
    owned.add(key)
    return acc + g


def _run(roots, root_grads, retain_graph, create_graph, capture, only):
    Tensor = _Tensor
    graph = bool(create_graph)
    plain = not graph
    prev_graph = _backward_state.graph
    prev_mode = _grad_state.enabled
    _backward_state.graph = graph
    _grad_state.enabled = graph
    check = anomaly._state["enabled"]
    observers = _pass_observers(roots) if _observers or _pass_hooks else ()
    begun = []
    # Backward rules follow IEEE arithmetic (d sqrt(x)/dx at 0 is inf) without NumPy
    # warnings, as PyTorch does; detect_anomaly() is the tool that stops at them.
    warnings_off = quiet.enter()
    try:
        for observer in observers:
            begun.append(observer)
            observer.begin(roots, root_grads, retain_graph, create_graph, capture)
        grads = {}
        owned = set()
        leaf_grads = {}  # leaf id -> [tensor, summed grad]: hooks and accumulation run once per leaf
        capture_nodes = capture_leaves = None
        if capture is None and only is not None:
            # backward(inputs=[...]) with intermediates among them: their .grad is written when
            # their node's gradient is complete, as a retained grad would be.
            capture_nodes = {}
            for t in only:
                if t.grad_fn is not None:
                    capture_nodes.setdefault(t.grad_fn, {})[id(t)] = t
        elif capture is not None:
            capture_nodes, capture_leaves = {}, {}
            for i, t in enumerate(capture[0]):
                if t.grad_fn is None:
                    capture_leaves.setdefault(id(t), []).append(i)
                else:
                    capture_nodes.setdefault(t.grad_fn, []).append(i)

        for t, g in zip(roots, root_grads):
            if t.grad_fn is None:
                _to_leaf(leaf_grads, t, g, graph, owned, observers)
            else:
                acc = grads.get(t.grad_fn)
                grads[t.grad_fn] = g if acc is None else _add(acc, g, graph, owned, t.grad_fn)
                if acc is not None and observers:
                    _notify_add(observers, acc, g, grads[t.grad_fn])

        deps, starts = _collect(roots)
        ready = [n for n in starts if n not in deps]
        needed = runs = None
        if capture is not None or only is not None:
            target_leaves = capture_leaves if capture is not None else {id(t) for t in only if t.grad_fn is None}
            needed, runs = _on_paths(deps, ready, capture_nodes or {}, target_leaves)

        while ready:
            node = ready.pop()
            g = grads.pop(node, None)
            if needed is not None and node not in needed:
                g = None  # no input is reached through it: its rule and hooks do not run (as in torch)
            if g is not None and node.hooked:
                g = _node_hooks(node, g, graph)
            if capture_nodes and g is not None and node in capture_nodes:
                if capture is None:
                    for t in capture_nodes[node].values():
                        if not t._retains_grad:  # a retained grad was written by _node_hooks already
                            _accumulate(t, g, graph, owned_key=False)
                            for observer in observers:  # its .grad is final, as a leaf's (the jit replays it)
                                observer.leaf(t, g)
                else:
                    for i in capture_nodes[node]:
                        capture[1][i] = _as_captured(g, plain, observers)
            nxt = node.next
            if g is None or runs is not None and node not in runs:
                input_grads = (None,) * len(nxt)
            else:
                cls = type(node)
                if cls._array_protocol:
                    input_grads = cls.backward(node, g)
                    if type(input_grads) is not tuple:
                        input_grads = (input_grads,)
                else:
                    input_grads = node._vjp(g)
                if check:
                    anomaly.check_backward(node, input_grads)
                if observers:
                    for observer in observers:
                        observer.node(node, g, input_grads)
            if not retain_graph and (runs is None or node in runs):  # a node that did not run keeps its values
                node.saved = None
                node.out_data = None
                node.versions = None
            for i in range(min(len(nxt), len(input_grads))):
                edge = nxt[i]
                if edge is None:
                    continue
                gi = input_grads[i]
                if isinstance(edge, Tensor):
                    if gi is not None:
                        if not (
                            plain
                            and type(gi) is _ndarray
                            and gi.shape == edge._data.shape
                            and gi.dtype == edge._data.dtype
                        ):
                            gi = _conform(node, edge, gi, graph, observers)
                        _to_leaf(leaf_grads, edge, gi, graph, owned, observers)
                    continue
                if gi is not None:
                    # Fast path: an array of the input's shape and dtype needs no conversion.
                    if not (plain and type(gi) is _ndarray and gi.shape == edge.shape and gi.dtype == edge.dtype):
                        gi = _conform(node, edge, gi, graph, observers)
                    acc = grads.get(edge)
                    if acc is None:
                        grads[edge] = gi
                    else:
                        grads[edge] = _add(acc, gi, graph, owned, edge)
                        if observers:
                            _notify_add(observers, acc, gi, grads[edge])
                remaining = deps[edge] - 1
                if remaining:
                    deps[edge] = remaining
                else:
                    ready.append(edge)
            del input_grads

        only_ids = None if only is None else {id(t) for t in only}
        for key, (leaf, g) in leaf_grads.items():
            # A leaf that is not asked for gets no hook call, as in torch (which never reaches it).
            if capture is not None and key not in capture_leaves or only_ids is not None and key not in only_ids:
                continue
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g, graph)
            if capture is not None:
                for i in capture_leaves[key]:
                    capture[1][i] = g = _as_captured(g, plain, observers)
                for observer in observers:
                    observer.leaf(leaf, g)
                continue
            _accumulate(leaf, g, graph, owned_key=("leaf", key) in owned)
            for observer in observers:
                observer.leaf(leaf, g)
    finally:
        quiet.leave(warnings_off)
        _backward_state.graph = prev_graph
        _grad_state.enabled = prev_mode
        for observer in begun:
            observer.end()


def _on_paths(deps, ready, target_nodes, target_leaves):
    """The nodes a pass must visit when only some tensors' gradients are wanted (autograd.grad, or
    backward(inputs=...)), as torch prunes its graph.

    Returns (needed, runs): `needed` are the nodes on a path to a wanted tensor (their hooks and
    retained grads see the gradient); `runs` those whose rule must run, a wanted tensor lying below
    them. A wanted node with nothing wanted below is captured without running its rule.
    """
    Tensor = _Tensor
    needed, runs = set(), set()
    for node in reversed(_topological(dict(deps), list(ready))):  # inputs before the nodes that use them
        for edge in node.next:
            if edge is None:
                continue
            if edge in needed if not isinstance(edge, Tensor) else id(edge) in target_leaves:
                runs.add(node)
                break
        if node in runs or node in target_nodes:
            needed.add(node)
    return needed, runs


def _as_captured(g, plain, observers):
    """A gradient autograd.grad returns: an array (a sum of 0-d gradients is a NumPy scalar)."""
    if plain and type(g) is not _ndarray:
        arr = np.asarray(g)
        for observer in observers:
            observer.cast(None, g, arr)
        return arr
    return g


def _to_leaf(leaf_grads, leaf, g, graph, owned, observers=()):
    # A leaf's first gradient may be shared (Add hands one array to both inputs, a rule may return
    # a saved array): _accumulate copies it unless a sum made here owns it. (A shortcut that skipped
    # the copy when sys.getrefcount showed no other reference saved no measurable time on
    # bench/mnist1d_mlp.py, a copy of ~61 KB of parameters' gradients per step, and depended on
    # CPython's reference counts: removed.)
    key = id(leaf)
    entry = leaf_grads.get(key)
    if entry is None:
        leaf_grads[key] = [leaf, g]
    else:
        acc = entry[1]
        entry[1] = _add(acc, g, graph, owned, ("leaf", key))
        if observers:
            _notify_add(observers, acc, g, entry[1])


def _conform(node, edge, gi, graph, observers=()):
    """Check a returned gradient's shape against its input, and match its dtype."""
    conformed = _conform_value(node, edge, gi, graph)
    if observers and conformed is not gi:
        for observer in observers:
            observer.cast(node, gi, conformed)
    return conformed


def _conform_value(node, edge, gi, graph):
    Tensor = _Tensor
    shape = edge._data.shape if isinstance(edge, Tensor) else edge.shape
    dtype = edge._data.dtype if isinstance(edge, Tensor) else edge.dtype
    g_shape = gi.shape if isinstance(gi, Tensor) else np.shape(gi)
    if g_shape != shape:
        raise RuntimeError(
            f"{node.op_name} (created at {format_site(node.site)}): its backward returned a gradient of "
            f"shape {tuple(g_shape)} for an input of shape {tuple(shape)}. A backward rule must return "
            "one gradient per input with that input's shape (reduce broadcast axes with unbroadcast)."
        )
    if graph:
        if isinstance(gi, Tensor) and gi._data.dtype != dtype:
            return gi.to(dtype)
        if not isinstance(gi, Tensor):
            return Tensor._make(np.asarray(gi, dtype=dtype))
        return gi
    if type(gi) is not np.ndarray:
        gi = gi._data if isinstance(gi, Tensor) else np.asarray(gi)
    if gi.dtype != dtype:
        gi = gi.astype(dtype)
    return gi


def _run_hooks(hooks, g, graph):
    Tensor = _Tensor
    for hook in list(hooks.values()):
        g_t = g if isinstance(g, Tensor) else Tensor._make(g)
        result = hook(g_t)
        if result is not None:
            _check_hook_result(hook, result, g_t)
            g = result if graph else result._data
    return g


def _check_hook_result(hook, result, g):
    """A hook's replacement gradient must be a Tensor of the gradient's shape and dtype (PyTorch's refusals):
    anything else would silently become .grad or reach the next node's backward."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(result, _Tensor):
        raise TypeError(
            f"expected Tensor, but hook returned '{type(result).__name__}': hook '{name}' must return "
            "a Tensor of the gradient's shape and dtype, or None to keep the gradient"
        )
    if result.shape != g.shape:
        raise RuntimeError(
            f"hook '{name}' has changed the size of value (was {tuple(g.shape)} got "
            f"{tuple(result.shape)}); a hook must return a gradient of the same shape"
        )
    if result._data.dtype != g._data.dtype:
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was {g._data.dtype} got "
            f"{result._data.dtype}); convert it back, e.g. return new_grad.to(grad.dtype)"
        )


def _node_hooks(node, g, graph):
    earlier = node.earlier_hooks
    if earlier is not None:  # the output has moved on to a newer node (an in-place op)
        return _run_hooks(earlier, g, graph)
    tensor = node.out_ref()
    if tensor is None:
        return g
    if tensor._hooks:
        g = _run_hooks(tensor._hooks, g, graph)
    if tensor._retains_grad:
        _accumulate(tensor, g, graph, owned_key=False)
    return g


def _accumulate(tensor, g, graph, owned_key):
    """tensor.grad += g, as PyTorch does: in place when possible, never aliasing another buffer."""
    Tensor = _Tensor
    if graph:
        g_t = g if isinstance(g, Tensor) else Tensor._make(g)
        tensor._grad = g_t if tensor._grad is None else tensor._grad + g_t
        return
    if tensor._grad is None:
        # A gradient from backward may share its buffer with another leaf's (Add
        # passes g through to both inputs), so keep a private copy unless it is ours.
        # (_grad: the slot itself, skipping the user-facing check of the .grad setter.)
        tensor._grad = Tensor._make(g if owned_key else np.array(g, copy=True))
    elif tensor._grad.requires_grad:
        tensor._grad = Tensor._make(tensor._grad._data + g)
    else:
        tensor._grad._data += g
