"""A first-order backward pass inside a trace, as equations: the jit's observer of the engine's walk.

The engine's one walker runs the pass as it would eagerly; this observer (engine.Observer) hears
each rule it runs, each sum of two gradients, each cast and each leaf's final gradient, and
writes the matching equations, so the replay repeats the pass with no graph and no walk.
"""

from __future__ import annotations

import numpy as np

from .. import anomaly, engine, function
from .program import Eqn, Lit
from .trace import _FALSE, _USER, TraceError

_ndarray = np.ndarray


class BackwardRecording(engine.Observer):
    """The trace's observer of the engine's walk: each first-order backward pass on the tracing
    thread becomes equations (a rule's call, a sum of two gradients, a cast, a leaf's accumulation).

    A pass with create_graph=True runs its rules on Tensors, whose ops the recorder sees
    through Function.apply: this observer then writes nothing.
    """

    def __init__(self, rec):
        self.rec = rec
        self.recording = False
        self.capture = None

    def begin(self, roots, root_grads, retain_graph, create_graph, capture):
        rec = self.rec
        self.recording = False
        if create_graph:
            if capture is None:
                raise TraceError(
                    f"jit: backward(create_graph=True) inside {rec.fn_name} accumulates into .grad, "
                    "which a replay cannot repeat; use chainrule.autograd.grad(..., create_graph=True)."
                )
            return
        if engine._observers or anomaly._state["enabled"]:
            raise TraceError(
                f"jit: {rec.fn_name} runs backward with observers or detect_anomaly on; "
                "they cannot be replayed. Turn them off, or call the function without jit."
            )
        for leaf, _ in rec.grads_set.values():
            rec.check_grad_unchanged(leaf)
        self.recording = True
        self.retain = retain_graph
        self.capture = capture
        self.delivered = {}  # id(array) -> how many places it went (1, and fresh: a leaf may own it)
        self.shared = set()  # ids of gradients that are also traced values (a rule returned a saved array)
        rec.quiet = True
        for g in root_grads:
            self.name(g)
            self.delivered[id(g)] = self.delivered.get(id(g), 0) + 1

    def end(self):
        self.rec.quiet = False
        self.recording = False

    def name(self, g):
        return self.rec.ref(g, "backward")

    def bind_grad(self, g, prefix="g", fresh=False):
        """A new gradient value of this pass: a Var for it (a rule's output, a sum, a cast).
        `fresh`: a sum, whose replay makes a new array even where eager code added in place."""
        rec = self.rec
        if id(g) in rec.var and not fresh and not isinstance(g, np.generic):
            self.shared.add(id(g))
        v = rec.new_var(prefix, g)
        rec.bind(g, v)
        return v

    def node(self, node, grad_output, grad_inputs):
        if not self.recording:
            return
        rec = self.rec
        if node.hooked:
            raise TraceError(
                f"jit: a hook or retain_grad on the output of {node.op_name} cannot be "
                f"replayed; remove it or call {rec.fn_name} without jit."
            )
        ctx = rec.ctx_var.get(id(node))
        if ctx is None:
            raise TraceError(
                f"jit: backward inside {rec.fn_name} reaches {node.op_name}, created "
                f"outside the function ({function.format_site(node.site)}); pass "
                "that tensor in as an argument instead."
            )
        for edge, gi in zip(node.next, grad_inputs):
            if edge is not None and gi is not None:
                self.delivered[id(gi)] = self.delivered.get(id(gi), 0) + 1
        if ctx is _USER:  # its rule's ops were recorded as they ran
            return
        g_atom = self.name(grad_output)
        cls = type(node)
        # Whether the rule returns one value or a tuple (the engine has made it a tuple by now).
        single = len(grad_inputs) == 1 and type(cls.backward(node, grad_output)) is not tuple
        outs = [self.bind_grad(gi) if gi is not None else None for gi in grad_inputs]
        rec.emit(Eqn("backward", rec.method(cls, "backward"), outs, (g_atom,), ctx=ctx, single=single, prim=cls))
        if not self.retain:
            rec.emit(Eqn("release", None, (), (ctx,)))

    def add(self, a, b, total):
        if not self.recording:
            return
        a_atom, b_atom = self.name(a), self.name(b)
        out = self.bind_grad(total, fresh=True)
        self.rec.emit(Eqn("add", None, (out,), (a_atom, b_atom)))

    def cast(self, node, g, conformed):
        if not self.recording:
            return
        g_atom = self.name(g)
        moved = self.delivered.pop(id(g), 0)
        out = self.bind_grad(conformed)
        if moved:
            self.delivered[id(conformed)] = self.delivered.get(id(conformed), 0) + moved
        self.rec.emit(Eqn("astype", None, (out,), (g_atom, self.rec.const(conformed.dtype, "d"))))

    def owned(self, g):
        """True when `g` went nowhere else and is no traced value: the leaf may keep it without a copy."""
        return (
            isinstance(g, _ndarray)
            and g.base is None
            and self.delivered.get(id(g), 1) <= 1
            and id(g) not in self.shared
        )

    def leaf(self, tensor, g):
        if not self.recording:
            return
        rec = self.rec
        if tensor._hooks:
            raise TraceError(
                f"jit: a hook on a leaf tensor of shape {tuple(tensor.shape)} cannot be "
                f"replayed; remove it or call {rec.fn_name} without jit."
            )
        g_atom = self.name(g)
        if self.capture is not None:
            return  # autograd.grad returns it: the value is named already
        owned = self.owned(g)
        ref = rec.leaf_ref.get(id(tensor))
        if ref is None:
            # A leaf made inside the function: each replay makes a new one, so no accumulation.
            if id(tensor) in rec.inside_grads:
                raise TraceError(
                    f"jit: a leaf created inside {rec.fn_name} gets gradients from two "
                    "backward passes; the replay cannot accumulate them."
                )
            rec.inside_grads.add(id(tensor))
            rec.keep.append(tensor)
            if owned:
                out = g_atom
            else:
                out = rec.new_var("g", tensor.grad._data)
                rec.emit(Eqn("copy", None, (out,), (g_atom,)))
        else:
            rec.grads_set[id(tensor)] = (tensor, tensor.grad)
            if owned:
                rec.emit(Eqn("effect", "_acc_owned", (), (ref, g_atom)))
            else:
                rec.emit(Eqn("effect", "_acc", (), (ref, g_atom, _FALSE), (("owned_key", Lit("False")),)))
            out = rec.new_var("g", tensor.grad._data)
            rec.emit(Eqn("read_grad", None, (out,), (ref,)))
        rec.bind(tensor.grad, out)
        rec.bind(tensor.grad._data, out)
