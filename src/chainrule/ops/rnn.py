"""Recurrences as primitives: one node runs a whole sequence of one layer in one direction.

    RNNSequence   h_t = act(gi_t + W_hh h_(t-1) + b_hh), act tanh or relu
    GRUSequence   PyTorch's GRU (gates r, z, n; b_hn inside r * (...))
    LSTMSequence  PyTorch's LSTM (gates i, f, g, o)

Every one takes the input projections of all time steps, gi = x W_ih^T + b_ih of shape
(T, B, G*H) (one matmul, done by the layer), the initial state s0, W_hh (G*H, H) and b_hh (or
None), and returns all hidden states (T, B, H); the LSTM's state is s0 = stack(h0, c0) (2, B, H)
and it returns stack(hs, cs) (2, T, B, H), so that c_n is out[1, -1]. `reverse=True` runs from
the last time step to the first (the reverse direction of a bidirectional layer).

forward is one NumPy loop over time that keeps the gates; backward is backpropagation through
time over those gates, one loop; both write into preallocated arrays, a handful of NumPy calls
per step instead of a graph of ~10 nodes per step.

Higher order: with create_graph=True the backward is `SequenceVJP`, a second primitive whose
forward is the same fused loops and whose backward (the second derivative) differentiates the
step-by-step graph of generic ops (`unrolled`), rebuilt on fresh leaves. Forward mode does the
same: the jvp pushes tangents through that graph. So first and second order are exact;
derivatives above the second through a fused sequence are refused with the way around (the
cells, or the unrolled graph).

NOTE: a little over 500 lines: three fused loops, each forward beside its backward through time
(they read the same gate arrays), and the one higher-order route they share.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive
from ._util import is_tensor

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# ----- one time step, with generic ops (arrays or Tensors): the cells and the unrolled graph -----


def _split(x, n):
    """The n equal chunks of the last dim of x (gate blocks)."""
    from .shape import getitem

    size = x.shape[-1] // n
    return [getitem(x, (Ellipsis, slice(i * size, (i + 1) * size))) for i in range(n)]


def _linear(h, w, b):
    from .linalg import linear

    return linear(h, w, b)


def rnn_step(gi: Any, h: Any, w_hh: Any, b_hh: Any, nonlinearity: str = "tanh") -> Any:
    """Elman RNN: h' = act(gi + W_hh h + b_hh), act tanh or relu."""
    from .elementwise import relu, tanh

    return (tanh if nonlinearity == "tanh" else relu)(gi + _linear(h, w_hh, b_hh))


def gru_step(gi: Any, h: Any, w_hh: Any, b_hh: Any) -> Any:
    """PyTorch's GRU: r, z = sigmoid(.), n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""
    from .elementwise import sigmoid, tanh

    i_r, i_z, i_n = _split(gi, 3)
    h_r, h_z, h_n = _split(_linear(h, w_hh, b_hh), 3)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)
    return n + z * (h - n)


def lstm_step(gi: Any, h: Any, c: Any, w_hh: Any, b_hh: Any) -> Any:
    """PyTorch's LSTM: i, f, g, o gates; c' = f c + i g, h' = o tanh(c')."""
    from .elementwise import sigmoid, tanh

    i, f, g, o = _split(gi + _linear(h, w_hh, b_hh), 4)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def unrolled(
    cell: Callable[..., Any], gi: Any, s0: Any, w_hh: Any, b_hh: Any, reverse: bool = False, nonlinearity: str = "tanh"
) -> Any:
    """The sequence primitive `cell` ("RNNSequence", "GRUSequence", "LSTMSequence") as a graph of
    generic ops, one step after another: the same function, the reference for its derivatives."""
    from .shape import getitem, stack

    steps = range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])
    hs, cs = [None] * gi.shape[0], [None] * gi.shape[0]
    if cell == "LSTMSequence":
        h, c = getitem(s0, 0), getitem(s0, 1)
        for t in steps:
            h, c = hs[t], cs[t] = lstm_step(getitem(gi, t), h, c, w_hh, b_hh)
        return stack([stack(hs, 0), stack(cs, 0)], 0)
    h = s0
    for t in steps:
        gt = getitem(gi, t)
        h = hs[t] = gru_step(gt, h, w_hh, b_hh) if cell == "GRUSequence" else rnn_step(gt, h, w_hh, b_hh, nonlinearity)
    return stack(hs, 0)


# ----- shared by the three primitives -----


def _check(name, gi, s0, w_hh, b_hh, gates, states=1):
    """Shapes, with errors that name the op, the shapes and the fix."""
    hidden = w_hh.shape[-1] if w_hh.ndim == 2 else -1
    batch = gi.shape[1] if gi.ndim == 3 else -1
    want_s0 = (batch, hidden) if states == 1 else (2, batch, hidden)
    if (
        gi.ndim != 3
        or w_hh.shape != (gates * hidden, hidden)
        or gi.shape[2] != gates * hidden
        or tuple(s0.shape) != want_s0
        or (b_hh is not None and b_hh.shape != (gates * hidden,))
    ):
        state = "(2, batch, hidden) = stack(h0, c0)" if states == 2 else "(batch, hidden)"
        raise RuntimeError(
            f"{name}: expected gi (seq, batch, {gates}*hidden), s0 {state}, w_hh ({gates}*hidden, hidden) "
            f"and b_hh ({gates}*hidden,) or None; got gi {tuple(gi.shape)}, s0 {tuple(s0.shape)}, "
            f"w_hh {tuple(w_hh.shape)}, b_hh {None if b_hh is None else tuple(b_hh.shape)}. "
            "gi is the input projection x W_ih^T + b_ih of every time step."
        )
    if gi.shape[0] == 0:
        raise RuntimeError(f"{name}: expected sequence length to be larger than 0, got gi {tuple(gi.shape)}")


def _save(ctx, saved, **params):
    """Keep what backward reads: the inputs, the output, the gates; params for backward and jvp."""
    if ctx.needs_input_grad:
        ctx.save_for_backward(*saved)
        ctx.params = params
    return saved[4]


def _ieee(forward):
    """forward with IEEE results and no NumPy warnings: exp(-v) overflows to inf for v < -88 in
    float32 (sigmoid 0, as it should be), and inf/nan inputs propagate silently, as in PyTorch."""

    @functools.wraps(forward)
    def run(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return forward(*args, **kwargs)

    return run


def _sigmoid_(x):
    """x = 1 / (1 + exp(-x)) in place (exp(-x) may overflow to inf, giving 0: forward is _ieee).

    NOTE: four ufuncs on the small gate blocks run ~10x faster than scipy's expit here (2.5 us
    against 25 us for 100 x 12 float32) and keep full relative precision.
    """
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)


def _order(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(hs, s0, reverse):
    """The state each step started from: (s0, h_0, ..., h_(T-2)), or its mirror for reverse."""
    prev = np.empty_like(hs)
    if reverse:
        prev[:-1] = hs[1:]
        prev[-1] = s0
    else:
        prev[1:] = hs[:-1]
        prev[0] = s0
    return prev


def _weight_grads(dpre, prev, needs):
    """dW_hh = sum_t dpre_t h_(t-1)^T and db_hh = sum_t dpre_t (feature-major: (T, G*H, B), (T, H, B))."""
    dw = np.tensordot(dpre, prev, axes=([0, 2], [0, 2])) if needs[2] else None
    db = dpre.sum(axis=(0, 2)) if needs[3] else None
    return dw, db


def _feature_major(x):
    """(T, B, F) -> a contiguous (T, F, B): each gate block of a step is then a contiguous run of rows."""
    return np.ascontiguousarray(x.swapaxes(-1, -2))


def _graph_backward(ctx, g, params):
    """create_graph=True: the VJP as a differentiable node (SequenceVJP), split per input."""
    from .shape import getitem, reshape

    gi, s0, w_hh, b_hh = ctx.saved_tensors[:4]
    packed = SequenceVJP.apply(g, gi, s0, w_hh, b_hh, cell=type(ctx).__name__, **params)
    grads, start = [], 0
    for x, need in zip((gi, s0, w_hh, b_hh), ctx.needs_input_grad):
        if x is None:
            grads.append(None)
            continue
        size = int(np.prod(x.shape))
        grads.append(reshape(getitem(packed, slice(start, start + size)), tuple(x.shape)) if need else None)
        start += size
    return tuple(grads)


def _leaves(arrays):
    from ..tensor import Tensor

    out = []
    for a in arrays:
        if a is None:
            out.append(None)
        else:
            leaf = Tensor._make(np.asarray(a))
            leaf.requires_grad = True
            out.append(leaf)
    return out


def _refuse_higher(name, what):
    raise RuntimeError(
        f"{name}: {what} through a fused recurrence: derivatives are computed to second order only. "
        "For higher derivatives run the recurrence step by step (nn.GRUCell / LSTMCell / RNNCell, or "
        "chainrule.ops.rnn.unrolled)."
    )


def _jvp_unrolled(cell, inputs, tangents, params):
    """J t of the sequence, by forward mode through the unrolled graph on fresh leaves."""
    from ..autograd import grad_mode
    from ..autograd.forward import forward_tangents

    if any(is_tensor(t) for t in tangents):
        _refuse_higher(cell, "forward mode with create_graph")
    leaves = _leaves(inputs)
    with grad_mode.enable_grad():
        out = unrolled(cell, *leaves, **params)
    pairs = [(x, t) for x, t in zip(leaves, tangents) if x is not None and t is not None]
    (t_out,) = forward_tangents([out], [x for x, _ in pairs], [t for _, t in pairs])
    return t_out


class _Sequence(Primitive):
    """What the three sequence primitives share. Each writes forward (the fused loop) and, beside
    it, _bptt (backpropagation through time on the gates forward kept, on arrays)."""

    __slots__ = ()
    function = None  # reached through nn.RNN / GRU / LSTM (and chainrule.ops.rnn)

    @staticmethod
    def backward(ctx, g):
        """Plain arrays: the class's BPTT loop. create_graph=True: SequenceVJP, a differentiable node."""
        if is_tensor(g):
            return _graph_backward(ctx, g, ctx.params)
        return type(ctx)._bptt(g, ctx.saved_tensors, ctx.needs_input_grad, **ctx.params)

    @staticmethod
    def jvp(ctx, *tangents):
        """J t, by forward mode through the unrolled graph (the recurrence is linear in t step by step)."""
        return _jvp_unrolled(type(ctx).__name__, ctx.saved_tensors[:4], tangents, ctx.params)


class RNNSequence(_Sequence):
    """hs = RNNSequence(gi, h0, W_hh, b_hh): h_t = act(gi_t + W_hh h_(t-1) + b_hh), act tanh or relu.

    Backward (BPTT): with d_t = (dL/dh_t + W_hh^T dpre_(t+1)) and dpre_t = d_t act'(pre_t):
    dgi_t = dpre_t, dW_hh = sum_t dpre_t h_(t-1)^T, db_hh = sum_t dpre_t, dh0 = W_hh^T dpre_first.

    Example:
        >>> hs = RNNSequence.apply(gi, h0, w_hh, b_hh, nonlinearity="relu")   # (T, B, H)
    """

    @staticmethod
    @_ieee
    def forward(ctx, gi, s0, w_hh, b_hh, nonlinearity="tanh", reverse=False):
        _check("RNNSequence", gi, s0, w_hh, b_hh, 1)
        x = _feature_major(gi + b_hh if b_hh is not None else gi)  # every step's bias in one add
        hs = np.empty(x.shape, np.result_type(gi, s0, w_hh))  # (T, H, B)
        h = s0.T
        for t in _order(gi.shape[0], reverse):
            hn = hs[t]
            np.matmul(w_hh, h, out=hn)
            hn += x[t]
            if nonlinearity == "tanh":
                np.tanh(hn, out=hn)
            else:
                np.maximum(hn, 0, out=hn)
            h = hn
        out = _feature_major(hs)
        return _save(ctx, (gi, s0, w_hh, b_hh, out, hs), nonlinearity=nonlinearity, reverse=reverse)

    @staticmethod
    def _bptt(g, saved, needs, nonlinearity="tanh", reverse=False):
        gi, s0, w_hh, b_hh, _, hs = saved
        g = _feature_major(g)
        slope = 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).astype(hs.dtype)
        dpre = np.empty_like(hs)
        w_t, carry = w_hh.T, None
        for t in _order(hs.shape[0], not reverse):
            d = dpre[t]
            np.add(g[t], carry, out=d) if carry is not None else np.copyto(d, g[t])
            d *= slope[t]
            carry = w_t @ d
        dw, db = _weight_grads(dpre, _previous(hs, s0.T, reverse), needs)
        return _feature_major(dpre) if needs[0] else None, carry.T.copy() if needs[1] else None, dw, db


class GRUSequence(_Sequence):
    """hs = GRUSequence(gi, h0, W_hh, b_hh), PyTorch's GRU over a whole sequence, gates (r, z, n):

        gh = W_hh h + b_hh;  r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r gh_n);  h' = (1 - z) n + z h

    Backward (BPTT), with d = dL/dh' (output gradient plus what flows back from the next step) and
    a = d (1 - z)(1 - n^2): dgi = (d_r, d_z, a) with d_r = a gh_n r (1 - r), d_z = d (h - n) z (1 - z);
    dgh = (d_r, d_z, a r); dh = d z + W_hh^T dgh; dW_hh = sum_t dgh_t h_(t-1)^T, db_hh = sum_t dgh_t.
    The factors that do not depend on d are computed for all steps at once, before the loop.

    Example:
        >>> hs = GRUSequence.apply(x @ w_ih.T + b_ih, h0, w_hh, b_hh)   # (T, B, H)
    """

    @staticmethod
    @_ieee
    def forward(ctx, gi, s0, w_hh, b_hh, reverse=False):
        _check("GRUSequence", gi, s0, w_hh, b_hh, 3)
        T, B, G = gi.shape
        H = G // 3
        # r and z enter through sigmoid(v) = 1 / (1 + exp(-v)): their rows of gi + b and W_hh are
        # negated once here, so that each step computes -v directly (one ufunc fewer per step).
        x = np.array(gi.swapaxes(-1, -2), order="C")  # (T, 3H, B), a copy (ascontiguousarray is none at batch 1)
        if b_hh is not None:
            x[:, : 2 * H] += b_hh[: 2 * H, None]
        np.negative(x[:, : 2 * H], out=x[:, : 2 * H])
        w = w_hh.copy()
        w[: 2 * H] *= -1
        b_n = None if b_hh is None else b_hh[2 * H :, None]
        dt = np.result_type(gi, s0, w_hh)
        hs = np.empty((T, H, B), dt)
        gates = np.empty((T, G, B), dt)  # r, z, n after their nonlinearity
        ghn = np.empty((T, H, B), dt)  # W_hn h + b_hn, which r multiplies
        h = s0.T
        for t in _order(T, reverse):
            gh = w @ h
            rz = gates[t, : 2 * H]
            np.add(x[t, : 2 * H], gh[: 2 * H], out=rz)  # -v
            np.exp(rz, out=rz)
            rz += 1
            np.reciprocal(rz, out=rz)
            hn_pre = ghn[t]
            np.add(gh[2 * H :], b_n, out=hn_pre) if b_n is not None else np.copyto(hn_pre, gh[2 * H :])
            n = gates[t, 2 * H :]
            np.multiply(rz[:H], hn_pre, out=n)
            n += x[t, 2 * H :]
            np.tanh(n, out=n)
            hn = hs[t]
            np.subtract(h, n, out=hn)
            hn *= rz[H:]
            hn += n
            h = hn
        return _save(ctx, (gi, s0, w_hh, b_hh, _feature_major(hs), hs, gates, ghn), reverse=reverse)

    @staticmethod
    def _bptt(g, saved, needs, reverse=False):
        gi, s0, w_hh, b_hh, _, hs, gates, ghn = saved
        T, H, B = hs.shape
        g = _feature_major(g)
        r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
        prev = _previous(hs, s0.T, reverse)
        a = (1 - z) * (1 - n * n)
        k = np.empty(gates.shape, hs.dtype)  # dgh_t = k_t * d_t, per gate block
        np.multiply(a * ghn, r * (1 - r), out=k[:, :H])
        np.multiply(prev - n, z * (1 - z), out=k[:, H : 2 * H])
        np.multiply(a, r, out=k[:, 2 * H :])
        dgh = np.empty_like(k)
        ds = np.empty_like(hs)
        w_t, carry = w_hh.T, None
        for t in _order(T, not reverse):
            d = ds[t]
            np.add(g[t], carry, out=d) if carry is not None else np.copyto(d, g[t])
            np.multiply(k[t].reshape(3, H, B), d, out=dgh[t].reshape(3, H, B))
            carry = d * z[t]
            carry += w_t @ dgh[t]
        dgi = None
        if needs[0]:
            dgi = dgh.copy()
            np.multiply(ds, a, out=dgi[:, 2 * H :])
            dgi = _feature_major(dgi)
        dw, db = _weight_grads(dgh, prev, needs)
        return dgi, carry.T.copy() if needs[1] else None, dw, db


class LSTMSequence(_Sequence):
    """out = LSTMSequence(gi, stack(h0, c0), W_hh, b_hh) = stack(hs, cs), PyTorch's LSTM, gates (i, f, g, o):

        (i, f, g, o) = (sigmoid, sigmoid, tanh, sigmoid)(gi + W_hh h + b_hh)
        c' = f c + i g;  h' = o tanh(c')

    Backward (BPTT), with dh, dc the gradients reaching h', c' (from the outputs and the next
    step): dc += dh o (1 - tanh(c')^2); dpre = (dc g i (1 - i), dc c f (1 - f), dc i (1 - g^2),
    dh tanh(c') o (1 - o)); dc_prev = dc f; dh_prev = W_hh^T dpre; dgi = dpre,
    dW_hh = sum_t dpre_t h_(t-1)^T, db_hh = sum_t dpre_t.

    Example:
        >>> out = LSTMSequence.apply(gi, stack([h0, c0]), w_hh, b_hh)   # out[0]: hs, out[1, -1]: c_n
    """

    @staticmethod
    @_ieee
    def forward(ctx, gi, s0, w_hh, b_hh, reverse=False):
        _check("LSTMSequence", gi, s0, w_hh, b_hh, 4, states=2)
        T, B, G = gi.shape
        H = G // 4
        dt = np.result_type(gi, s0, w_hh)
        x = _feature_major(gi + b_hh if b_hh is not None else gi)  # (T, 4H, B)
        hs, cs, tanh_c = (np.empty((T, H, B), dt) for _ in range(3))
        gates = np.empty((T, G, B), dt)  # i, f, g, o after their nonlinearity
        h, c = s0[0].T, s0[1].T
        for t in _order(T, reverse):
            q = gates[t]
            np.matmul(w_hh, h, out=q)
            q += x[t]
            np.tanh(q[2 * H : 3 * H], out=q[2 * H : 3 * H])
            _sigmoid_(q[: 2 * H])
            _sigmoid_(q[3 * H :])
            cn, hn = cs[t], hs[t]
            np.multiply(q[H : 2 * H], c, out=cn)
            cn += q[:H] * q[2 * H : 3 * H]
            np.tanh(cn, out=tanh_c[t])
            np.multiply(q[3 * H :], tanh_c[t], out=hn)
            h, c = hn, cn
        out = np.ascontiguousarray(np.stack([hs, cs]).swapaxes(-1, -2))
        return _save(ctx, (gi, s0, w_hh, b_hh, out, hs, cs, gates, tanh_c), reverse=reverse)

    @staticmethod
    def _bptt(g, saved, needs, reverse=False):
        gi, s0, w_hh, b_hh, _, hs, cs, gates, tanh_c = saved
        T, H, B = hs.shape
        g_h, g_c = _feature_major(g[0]), _feature_major(g[1])
        i, f, gg, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        prev = _previous(hs, s0[0].T, reverse)
        c_prev = _previous(cs, s0[1].T, reverse)
        p = o * (1 - tanh_c * tanh_c)  # dc' += dh' p
        k = np.empty(gates.shape, hs.dtype)  # dpre_t = k_t * (dc, dc, dc, dh), per gate block
        np.multiply(gg, i * (1 - i), out=k[:, :H])
        np.multiply(c_prev, f * (1 - f), out=k[:, H : 2 * H])
        np.multiply(i, 1 - gg * gg, out=k[:, 2 * H : 3 * H])
        np.multiply(tanh_c, o * (1 - o), out=k[:, 3 * H :])
        dpre = np.empty_like(k)
        w_t, carry_h, carry_c = w_hh.T, None, None
        for t in _order(T, not reverse):
            dh = g_h[t] + carry_h if carry_h is not None else g_h[t]
            dc = dh * p[t]
            dc += g_c[t]
            if carry_c is not None:
                dc += carry_c
            np.multiply(k[t, : 3 * H].reshape(3, H, B), dc, out=dpre[t, : 3 * H].reshape(3, H, B))
            np.multiply(k[t, 3 * H :], dh, out=dpre[t, 3 * H :])
            carry_c = dc * f[t]
            carry_h = w_t @ dpre[t]
        dw, db = _weight_grads(dpre, prev, needs)
        ds0 = np.stack([carry_h.T, carry_c.T]) if needs[1] else None
        return _feature_major(dpre) if needs[0] else None, ds0, dw, db


_CELLS = {"RNNSequence": RNNSequence, "GRUSequence": GRUSequence, "LSTMSequence": LSTMSequence}


class SequenceVJP(Primitive):
    """The gradients of a sequence primitive, (dgi, ds0, dW_hh, db_hh) flattened into one vector:
    the backward of RNN/GRU/LSTMSequence when a graph is recorded (create_graph=True).

    forward: the fused forward and BPTT loops. backward and jvp (second derivatives of the
    sequence): through the step-by-step graph of generic ops (`unrolled`) on fresh leaves,
    differentiated twice by the engine.
    """

    function = None

    @staticmethod
    def forward(ctx, g, gi, s0, w_hh, b_hh, cell="GRUSequence", **params):
        seq = _CELLS[cell]
        keep = _Keep()
        seq.forward(keep, gi, s0, w_hh, b_hh, **params)
        grads = seq._bptt(g, keep.saved, (True, True, True, b_hh is not None), **params)
        if ctx.needs_input_grad:
            ctx.save_for_backward(g, gi, s0, w_hh, b_hh)
            ctx.params = dict(params, cell=cell)
        return np.concatenate([x.reshape(-1) for x in grads if x is not None])

    @staticmethod
    def _vjp_graph(ctx):
        """Fresh leaves for (g, gi, s0, W_hh, b_hh) and the packed VJP as a graph built on them."""
        from ..autograd import engine, grad_mode
        from .joining import cat
        from .shape import reshape

        leaves = _leaves(ctx.saved_tensors)
        g, inputs = leaves[0], [x for x in leaves[1:] if x is not None]
        with grad_mode.enable_grad():
            out = unrolled(ctx.params["cell"], *leaves[1:], **_seq_params(ctx.params))
            grads = engine.grad(out, inputs, grad_outputs=g, create_graph=True, allow_unused=True)
            grads = [reshape(d if d is not None else x * 0, (-1,)) for d, x in zip(grads, inputs)]
            return leaves, cat(grads, 0)

    @staticmethod
    def backward(ctx, u):
        from ..autograd import engine

        if is_tensor(u):
            _refuse_higher(ctx.params["cell"], "create_graph=True on a second derivative (a third derivative)")
        leaves, packed = SequenceVJP._vjp_graph(ctx)
        live = [x for x in leaves if x is not None]
        grads = engine.grad(packed, live, grad_outputs=u, allow_unused=True)
        it = iter(grads)
        return tuple(None if x is None else _data(next(it), x) for x in leaves)

    @staticmethod
    def jvp(ctx, *tangents):
        from ..autograd.forward import forward_tangents

        if any(is_tensor(t) for t in tangents):
            _refuse_higher(ctx.params["cell"], "forward mode with create_graph")
        leaves, packed = SequenceVJP._vjp_graph(ctx)
        pairs = [(x, t) for x, t in zip(leaves, tangents) if x is not None and t is not None]
        (t_out,) = forward_tangents([packed], [x for x, _ in pairs], [t for _, t in pairs])
        return t_out


class _Keep:
    """A context that keeps what a forward saves (SequenceVJP reruns the forward for its gates)."""

    needs_input_grad = (True,)

    def save_for_backward(self, *values):
        self.saved = values


def _seq_params(params):
    return {k: v for k, v in params.items() if k != "cell"}


def _data(grad, like):
    return np.zeros(like.shape, like.dtype) if grad is None else grad._data
