"""Observers of the backward pass: how tools watch the engine's one walker without it knowing them.

An `Observer` has a callback per event of a pass (it begins, a node's rule ran, two gradients
were summed, a gradient was cast, a leaf's gradient is final, it ended). `add_observer` attaches
one to every later pass (explain.recording() does); `add_pass_hook(hook)` asks `hook(roots)` at
the start of each pass for an observer of that pass only (explain records graphs with named
tensors this way, the jit the passes of the thread it traces). The engine re-exports these.
"""

from __future__ import annotations


class Observer:
    """Callbacks of one backward pass; override those you need (the others do nothing).

    Called by the walker in this order: `begin` once, then `node` for each node whose
    rule ran (with `add` and `cast` for the gradients it produced, as they are summed
    and converted), then `leaf` once per leaf that receives a gradient, then `end`
    (also when the pass fails).

    Example:
        >>> class Count(Observer):
        ...     def __init__(self): self.n = 0
        ...     def node(self, node, grad_output, grad_inputs): self.n += 1
        >>> counter = engine.add_observer(Count())
        >>> (x * x).sum().backward(); engine.remove_observer(counter); counter.n   # 2: Sum, Mul
    """

    def begin(self, roots, root_grads, retain_graph, create_graph, capture):
        """A pass starts from `roots` with `root_grads`; `capture` is autograd.grad's (inputs, results)."""

    def node(self, node, grad_output, grad_inputs):
        """`node`'s rule mapped dL/d(out) = grad_output to one gradient per input (None: none)."""

    def add(self, a, b, total):
        """Two gradients of one value were summed: total = a + b (total may be `a`, added in place)."""

    def cast(self, node, g, conformed):
        """A gradient `g` that `node` returned was converted to its input's dtype (or to an array)."""

    def leaf(self, tensor, g):
        """`tensor`'s summed gradient `g` is final: accumulated into .grad or captured (after hooks)."""

    def end(self):
        """The pass is over (also after an error)."""


class _NodeCallback(Observer):
    """A plain function f(node, grad_output, grad_inputs) as an observer (add_observer's older form)."""

    def __init__(self, fn):
        self.fn = fn

    def node(self, node, grad_output, grad_inputs):
        self.fn(node, grad_output, grad_inputs)


# Observers attached to every backward pass, in order; empty in normal use.
_observers = []

# Functions hook(roots) -> Observer or None, asked at the start of each pass.
_pass_hooks = []


def add_observer(observer):
    """Attach `observer` (an Observer, or a function f(node, grad_output, grad_inputs) called for
    each node) to every later backward pass; returns it, for remove_observer."""
    _observers.append(observer if isinstance(observer, Observer) else _NodeCallback(observer))
    return observer


def remove_observer(observer):
    for i, o in enumerate(_observers):
        if o is observer or (type(o) is _NodeCallback and o.fn is observer):
            del _observers[i]
            return


def add_pass_hook(hook):
    """Call `hook(roots)` at the start of each backward pass; an Observer it returns watches that pass."""
    _pass_hooks.append(hook)
    return hook


def _pass_observers(roots):
    observers = _observers
    for hook in _pass_hooks:
        extra = hook(roots)
        if extra is not None and extra not in observers:
            observers = observers + [extra]
    return list(observers)


def _notify_add(observers, a, b, total):
    for observer in observers:
        observer.add(a, b, total)
