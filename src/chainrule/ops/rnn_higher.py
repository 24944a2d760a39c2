"""Derivatives of the fused sequence primitives (ops/rnn.py) beyond the first, to any order.

The first derivatives of RNN/GRU/LSTMSequence are fused loops beside their forward (`_bptt`,
`_tangent`). When such a derivative must itself be differentiated (backward with
create_graph=True, forward mode with create_graph), it is recorded as a node:

    SequenceVJP(g, gi, s0, W_hh, b_hh)                  = J^T g, flattened: fused forward and BPTT
    SequenceJVP(gi, s0, W_hh, b_hh, dgi, ds0, dW, db)    = J t: fused forward and tangent loops

Their own derivatives (the second derivatives of the sequence) differentiate the same function
written with generic ops, `unrolled` (one small graph per time step), rebuilt on fresh leaves:
exact, and slower than the fused loops. A derivative taken with create_graph at that level is an
`UnrolledDerivative` node: its function is the VJP (or JVP) of the level below, evaluated on fresh
leaves, and its own derivatives are UnrolledDerivative nodes one level deeper. So derivatives of
every order are exact; first and second order run the fused loops, each order above costs one
more differentiation of the unrolled graph.

Why fresh leaves: the engine walks every node upstream of an output, so differentiating a graph
built on the caller's Tensors would walk (and run the backward rules of) the whole model behind
them; on fresh leaves the walk stops at the sequence.

NOTE: a module of its own because ops/rnn.py (the three fused loops, each forward beside its
backward and tangent rules) is past 500 lines; this is the one route above first order they share.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ..autograd import effects
from ..autograd.primitive import Primitive
from ._util import is_tensor
from .rnn import _CELLS, _ieee, unrolled

if TYPE_CHECKING:
    from typing import Any


class UnrolledDerivative(Primitive):
    """y = fn(*xs): fn, a function of Tensors written with differentiable ops (a derivative of an
    unrolled sequence), evaluated on fresh leaves; backward and jvp differentiate it there.

    Rules: VJP g -> grad of <fn(xs), g> by xs; JVP t -> forward mode of fn along t. With
    create_graph, either is an UnrolledDerivative node of fn's VJP (or JVP), so the rules nest to
    any order. SequenceVJP and SequenceJVP are UnrolledDerivatives whose forward is fused.

    Example:
        >>> # reached by a third derivative through nn.GRU / LSTM / RNN, e.g.
        >>> chainrule.grad(chainrule.grad(chainrule.grad(lambda x: gru(x)[0].sum())))(x)
    """

    function = None

    @staticmethod
    def forward(ctx, *xs, fn):
        with effects.untraced():  # a jit replay reruns this forward, not the ops inside
            out = _evaluate(fn, xs)[1]._data
        _keep(ctx, xs, fn)
        return out

    @staticmethod
    def backward(ctx, g):
        """J^T g, where J is fn's Jacobian; one vector per input, flattened into one under create_graph."""
        xs, fn, needs = ctx.saved_tensors, ctx.params["fn"], ctx.needs_input_grad
        if is_tensor(g):
            return _unpack(UnrolledDerivative.apply(g, *xs, fn=functools.partial(_vjp_of, fn)), xs, needs)
        from ..autograd import engine

        with effects.untraced():  # a jit replay reruns this rule, not the passes inside
            leaves, out = _evaluate(fn, xs)
            live = [x for x, need in zip(leaves, needs) if need]
            grads = [None] * len(live)  # zeros, unless out depends on the inputs
            if out.requires_grad:
                grads = engine.grad(out, live, grad_outputs=g, allow_unused=True)
        grads = iter(grads)
        return tuple(_array(next(grads), x) if need else None for x, need in zip(leaves, needs))

    @staticmethod
    def jvp(ctx, *tangents):
        """J t, by forward mode through fn's graph."""
        xs, fn = ctx.saved_tensors, ctx.params["fn"]
        if any(is_tensor(t) for t in tangents):
            return UnrolledDerivative.apply(*xs, *tangents, fn=functools.partial(_jvp_of, fn, len(xs)))
        from ..autograd.forward import forward_tangents

        with effects.untraced():
            leaves, out = _evaluate(fn, xs)
            pairs = [(x, t) for x, t in zip(leaves, tangents) if x is not None and t is not None]
            return forward_tangents([out], [x for x, _ in pairs], [t for _, t in pairs])[0]


class SequenceVJP(UnrolledDerivative):
    """The gradients of a sequence primitive, (dgi, ds0, dW_hh, db_hh) flattened into one vector:
    the backward of RNN/GRU/LSTMSequence when a graph is recorded (create_graph=True).

    forward: the fused forward and BPTT loops. Its derivatives (second derivatives of the
    sequence): UnrolledDerivative's rules, on the VJP of `unrolled`.

    Example:
        >>> (gx,) = chainrule.autograd.grad(gru(x)[0].sum(), [x], create_graph=True)  # a SequenceVJP node
    """

    @staticmethod
    def forward(ctx, g, gi, s0, w_hh, b_hh, cell="GRUSequence", **params):
        seq, saved = _rerun(cell, gi, s0, w_hh, b_hh, params)
        grads = seq._bptt(g, saved, (True, True, True, b_hh is not None), **params)
        _keep(ctx, (g, gi, s0, w_hh, b_hh), functools.partial(_vjp_of, _unrolled(cell, params)))
        return np.concatenate([x.reshape(-1) for x in grads if x is not None])


class SequenceJVP(UnrolledDerivative):
    """J t of a sequence primitive at (gi, s0, W_hh, b_hh) along the tangents (dgi, ds0, dW, db)
    (None for zero): the forward-mode rule of RNN/GRU/LSTMSequence when a graph is recorded.

    forward: the fused forward and tangent loops. Its derivatives: UnrolledDerivative's rules,
    on the JVP of `unrolled`.

    Example:
        >>> chainrule.jacrev(chainrule.jacfwd(lambda x: gru(x)[0].sum()))(x)   # reaches SequenceJVP
    """

    @staticmethod
    @_ieee
    def forward(ctx, gi, s0, w_hh, b_hh, dgi, ds0, dw, db, cell="GRUSequence", **params):
        seq, saved = _rerun(cell, gi, s0, w_hh, b_hh, params)
        out = seq._tangent(saved, (dgi, ds0, dw, db), **params)
        _keep(ctx, (gi, s0, w_hh, b_hh, dgi, ds0, dw, db), functools.partial(_jvp_of, _unrolled(cell, params), 4))
        return out


def sequence_vjp(ctx: Any, g: Any) -> tuple[Any, ...]:
    """The backward of a sequence node `ctx` under create_graph: a SequenceVJP node, split per input."""
    gi, s0, w_hh, b_hh = ctx.saved_tensors[:4]
    packed = SequenceVJP.apply(g, gi, s0, w_hh, b_hh, cell=type(ctx).__name__, **ctx.params)
    return _unpack(packed, (gi, s0, w_hh, b_hh), ctx.needs_input_grad)


# ----- the functions the nodes differentiate, on Tensors -----


def _unrolled(cell, params):
    return functools.partial(unrolled, cell, **params)


def _vjp_of(fn, g, *xs):
    """J^T g of fn at xs, one gradient per input that is not None, flattened into one vector."""
    from ..autograd import engine
    from .joining import cat
    from .shape import reshape

    out = fn(*xs)
    live = [x for x in xs if x is not None]
    grads = engine.grad(out, live, grad_outputs=g, create_graph=True, allow_unused=True)
    return cat([reshape(d if d is not None else x * 0, (-1,)) for d, x in zip(grads, live)], 0)


def _jvp_of(fn, n, *args):
    """J t of fn at xs = args[:n], along t = args[n:] (None for zero), differentiable."""
    from ..autograd.forward import forward_tangents

    xs, ts = args[:n], args[n:]
    out = fn(*xs)
    pairs = [(x, t) for x, t in zip(xs, ts) if x is not None and t is not None]
    return forward_tangents([out], [x for x, _ in pairs], [t for _, t in pairs], create_graph=True)[0]


# ----- helpers -----


def _keep(ctx, xs, fn):
    """Save the inputs and the function the rules differentiate."""
    if ctx.needs_input_grad:
        ctx.save_for_backward(*xs)
        ctx.params = {"fn": fn}


def _evaluate(fn, xs):
    """fn on fresh leaves holding the values of xs (None stays None): (leaves, output), graph recorded."""
    from ..autograd import grad_mode
    from ..tensor import Tensor

    leaves = []
    for x in xs:
        if x is not None:
            x = Tensor._make(np.asarray(getattr(x, "_data", x)))
            x.requires_grad = True
        leaves.append(x)
    with grad_mode.enable_grad():
        return leaves, fn(*leaves)


def _unpack(packed, xs, needs):
    """Split a flattened vector of gradients, one block per input that is not None, into the inputs' shapes."""
    from .shape import getitem, reshape

    grads, start = [], 0
    for x, need in zip(xs, needs):
        if x is None:
            grads.append(None)
            continue
        size = int(np.prod(x.shape))
        grads.append(reshape(getitem(packed, slice(start, start + size)), tuple(x.shape)) if need else None)
        start += size
    return tuple(grads)


def _array(grad, like):
    return np.zeros(like.shape, like.dtype) if grad is None else grad._data


def _rerun(cell, gi, s0, w_hh, b_hh, params):
    """The sequence's fused forward again, for the gates its BPTT and tangent loops read: (class, saved)."""
    seq, keep = _CELLS[cell], _Keep()
    seq.forward(keep, gi, s0, w_hh, b_hh, **params)
    return seq, keep.saved


class _Keep:
    """A context that keeps what a forward saves."""

    needs_input_grad = (True,)

    def save_for_backward(self, *values):
        self.saved = values
