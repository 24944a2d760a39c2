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
time over those gates, one loop; the forward-mode rule (jvp) is the tangent recurrence over the
same gates, one loop, its terms that do not depend on the previous tangent computed for all
steps at once (dW_hh h_(t-1) in one batched GEMM, as the layer does x W_ih^T). All write into
preallocated arrays, a handful of NumPy calls per step instead of a graph of ~10 nodes per step.

Higher order: derivatives of every order are exact. With create_graph=True the backward is a
`SequenceVJP` node and the jvp a `SequenceJVP` node (ops/rnn_higher.py), whose forwards are
these fused loops; their own derivatives, and every order above, differentiate the step-by-step
graph of generic ops (`unrolled`) rebuilt on fresh leaves: exact, slower than the fused loops.

NOTE: a little over 500 lines: three fused loops, each forward beside its backward through time
and its tangent recurrence (they read the same gate arrays).
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


def _drive(tangents, prev, gates):
    """The part of the pre-activation tangents that does not run through the recurrence, for all
    steps at once: dgh_t = dW_hh h_(t-1) + db_hh, feature-major (T, G*H, B) (one batched GEMM,
    as the forward's x W_ih^T), and dgi feature-major (or None)."""
    dgi, _, dw, db = tangents
    T, H, B = prev.shape
    dgh = np.matmul(dw, prev) if dw is not None else np.zeros((T, gates * H, B), prev.dtype)
    if db is not None:
        dgh += db[:, None]
    return dgh, None if dgi is None else _feature_major(dgi)


def _slope(hs, nonlinearity):
    """act'(pre) from act(pre): 1 - h^2 for tanh, [h > 0] for relu."""
    return 1 - hs * hs if nonlinearity == "tanh" else (hs > 0).astype(hs.dtype)


def _initial(ds0):
    """A state tangent (B, H) feature-major, or None (zero)."""
    return None if ds0 is None else ds0.T


def _feature_major(x):
    """(T, B, F) -> a contiguous (T, F, B): each gate block of a step is then a contiguous run of rows."""
    return np.ascontiguousarray(x.swapaxes(-1, -2))


class _Sequence(Primitive):
    """What the three sequence primitives share. Each writes forward (the fused loop) and, beside
    it, _bptt (backpropagation through time) and _tangent (the tangent recurrence, forward mode),
    both on the gates forward kept, on arrays."""

    __slots__ = ()
    function = None  # reached through nn.RNN / GRU / LSTM (and chainrule.ops.rnn)

    @staticmethod
    def backward(ctx, g):
        """Plain arrays: the class's BPTT loop. create_graph=True: SequenceVJP, a differentiable node."""
        if is_tensor(g):
            from .rnn_higher import sequence_vjp

            return sequence_vjp(ctx, g)
        return type(ctx)._bptt(g, ctx.saved_tensors, ctx.needs_input_grad, **ctx.params)

    @staticmethod
    def jvp(ctx, *tangents):
        """Plain arrays: the class's tangent loop. create_graph=True: SequenceJVP, a differentiable node."""
        if any(is_tensor(t) for t in tangents):
            from .rnn_higher import SequenceJVP

            return SequenceJVP.apply(*ctx.saved_tensors[:4], *tangents, cell=type(ctx).__name__, **ctx.params)
        return type(ctx)._tangent(ctx.saved_tensors, tangents, **ctx.params)


class RNNSequence(_Sequence):
    """hs = RNNSequence(gi, h0, W_hh, b_hh): h_t = act(gi_t + W_hh h_(t-1) + b_hh), act tanh or relu.

    Backward (BPTT): with d_t = (dL/dh_t + W_hh^T dpre_(t+1)) and dpre_t = d_t act'(pre_t):
    dgi_t = dpre_t, dW_hh = sum_t dpre_t h_(t-1)^T, db_hh = sum_t dpre_t, dh0 = W_hh^T dpre_first.

    Forward mode (the tangent recurrence): dh_t = act'(pre_t) (dgi_t + dW_hh h_(t-1) + db_hh
    + W_hh dh_(t-1)), dh_(-1) = dh0; the terms that do not depend on dh are computed for all steps
    at once (dW_hh h_(t-1) is one batched GEMM), the loop adds W_hh dh_(t-1).

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
        slope = _slope(hs, nonlinearity)
        dpre = np.empty_like(hs)
        w_t, carry = w_hh.T, None
        for t in _order(hs.shape[0], not reverse):
            d = dpre[t]
            np.add(g[t], carry, out=d) if carry is not None else np.copyto(d, g[t])
            d *= slope[t]
            carry = w_t @ d
        dw, db = _weight_grads(dpre, _previous(hs, s0.T, reverse), needs)
        return _feature_major(dpre) if needs[0] else None, carry.T.copy() if needs[1] else None, dw, db

    @staticmethod
    def _tangent(saved, tangents, nonlinearity="tanh", reverse=False):
        gi, s0, w_hh, b_hh, _, hs = saved
        dpre, dgi = _drive(tangents, _previous(hs, s0.T, reverse), 1)
        if dgi is not None:
            dpre += dgi
        slope = _slope(hs, nonlinearity)
        dhs = np.empty_like(hs)
        dh = _initial(tangents[1])
        for t in _order(hs.shape[0], reverse):
            d = dhs[t]
            np.matmul(w_hh, dh, out=d) if dh is not None else d.fill(0)
            d += dpre[t]
            d *= slope[t]
            dh = d
        return _feature_major(dhs)


class GRUSequence(_Sequence):
    """hs = GRUSequence(gi, h0, W_hh, b_hh), PyTorch's GRU over a whole sequence, gates (r, z, n):

        gh = W_hh h + b_hh;  r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r gh_n);  h' = (1 - z) n + z h

    Backward (BPTT), with d = dL/dh' (output gradient plus what flows back from the next step) and
    a = d (1 - z)(1 - n^2): dgi = (d_r, d_z, a) with d_r = a gh_n r (1 - r), d_z = d (h - n) z (1 - z);
    dgh = (d_r, d_z, a r); dh = d z + W_hh^T dgh; dW_hh = sum_t dgh_t h_(t-1)^T, db_hh = sum_t dgh_t.
    The factors that do not depend on d are computed for all steps at once, before the loop.

    Forward mode: dh' = sum_gates k (dgi + dW_hh h + db_hh + W_hh dh) + z dh, with the BPTT
    factors k = (a gh_n r (1 - r), (h - n) z (1 - z), a r) (a in place of a r for dgi_n): the
    terms without dh are summed for all steps at once, the loop adds k (W_hh dh) + z dh.

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
        z = gates[:, H : 2 * H]
        prev = _previous(hs, s0.T, reverse)
        a, k = _gru_factors(gates, ghn, prev)  # dgh_t = k_t * d_t, per gate block
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

    @staticmethod
    def _tangent(saved, tangents, reverse=False):
        gi, s0, w_hh, b_hh, _, hs, gates, ghn = saved
        T, H, B = hs.shape
        prev = _previous(hs, s0.T, reverse)
        a, k = _gru_factors(gates, ghn, prev)
        dgh, dgi = _drive(tangents, prev, 3)
        dgh *= k
        if dgi is not None:  # dgi enters as dgh does, except in the n block (a, not a r)
            dgh[:, : 2 * H] += k[:, : 2 * H] * dgi[:, : 2 * H]
            dgh[:, 2 * H :] += a * dgi[:, 2 * H :]
        dhs = dgh.reshape(T, 3, H, B).sum(axis=1)  # every term but those in dh_(t-1)
        z = gates[:, H : 2 * H]
        dh = _initial(tangents[1])
        for t in _order(T, reverse):
            d = dhs[t]
            if dh is not None:
                v = w_hh @ dh
                v *= k[t]
                d += v.reshape(3, H, B).sum(axis=0)
                d += z[t] * dh
            dh = d
        return _feature_major(dhs)


def _gru_factors(gates, ghn, prev):
    """dh'/dgh, per gate block, of every step (T, 3H, B), and a = dh'/dgi_n = (1 - z)(1 - n^2):
    k = (a gh_n r (1 - r), (h - n) z (1 - z), a r). Backward multiplies by them, forward mode too."""
    H = ghn.shape[1]
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    a = (1 - z) * (1 - n * n)
    k = np.empty(gates.shape, gates.dtype)
    np.multiply(a * ghn, r * (1 - r), out=k[:, :H])
    np.multiply(prev - n, z * (1 - z), out=k[:, H : 2 * H])
    np.multiply(a, r, out=k[:, 2 * H :])
    return a, k


class LSTMSequence(_Sequence):
    """out = LSTMSequence(gi, stack(h0, c0), W_hh, b_hh) = stack(hs, cs), PyTorch's LSTM, gates (i, f, g, o):

        (i, f, g, o) = (sigmoid, sigmoid, tanh, sigmoid)(gi + W_hh h + b_hh)
        c' = f c + i g;  h' = o tanh(c')

    Backward (BPTT), with dh, dc the gradients reaching h', c' (from the outputs and the next
    step): dc += dh o (1 - tanh(c')^2); dpre = (dc g i (1 - i), dc c f (1 - f), dc i (1 - g^2),
    dh tanh(c') o (1 - o)); dc_prev = dc f; dh_prev = W_hh^T dpre; dgi = dpre,
    dW_hh = sum_t dpre_t h_(t-1)^T, db_hh = sum_t dpre_t.

    Forward mode, with u = dgi + dW_hh h + db_hh + W_hh dh (the pre-activation tangents) and the
    same factors k: dc' = f dc + sum_(i,f,g) k u; dh' = o (1 - tanh(c')^2) dc' + k_o u_o. The
    terms without (dh, dc) are computed for all steps at once, the loop adds the rest.

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
        f = gates[:, H : 2 * H]
        prev = _previous(hs, s0[0].T, reverse)
        p, k = _lstm_factors(gates, tanh_c, _previous(cs, s0[1].T, reverse))  # dpre_t = k_t * (dc, dc, dc, dh)
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

    @staticmethod
    def _tangent(saved, tangents, reverse=False):
        gi, s0, w_hh, b_hh, _, hs, cs, gates, tanh_c = saved
        T, H, B = hs.shape
        prev = _previous(hs, s0[0].T, reverse)
        p, k = _lstm_factors(gates, tanh_c, _previous(cs, s0[1].T, reverse))
        dpre, dgi = _drive(tangents, prev, 4)
        if dgi is not None:
            dpre += dgi
        dpre *= k  # every step's terms without dh_(t-1): (dc' for i, f, g; dh' for o)
        dcs = dpre[:, : 3 * H].reshape(T, 3, H, B).sum(axis=1)
        dhs = dpre[:, 3 * H :]
        f = gates[:, H : 2 * H]
        ds0 = tangents[1]
        dh, dc = (None, None) if ds0 is None else (ds0[0].T, ds0[1].T)
        for t in _order(T, reverse):
            dcn, dhn = dcs[t], dhs[t]
            if dh is not None:
                v = w_hh @ dh
                v *= k[t]
                dcn += v[: 3 * H].reshape(3, H, B).sum(axis=0)
                dhn += v[3 * H :]
                dcn += f[t] * dc
            dhn += p[t] * dcn
            dh, dc = dhn, dcn
        return np.ascontiguousarray(np.stack([dhs, dcs]).swapaxes(-1, -2))


def _lstm_factors(gates, tanh_c, c_prev):
    """p = dh'/dc' = o (1 - tanh(c')^2), and k, per gate block (T, 4H, B), the derivatives of
    (c', c', c', h') by the pre-activations of (i, f, g, o): (g i (1 - i), c f (1 - f), i (1 - g^2),
    tanh(c') o (1 - o)). Backward multiplies by them, forward mode too."""
    H = tanh_c.shape[1]
    i, f, gg, o = (gates[:, j * H : (j + 1) * H] for j in range(4))
    k = np.empty(gates.shape, gates.dtype)
    np.multiply(gg, i * (1 - i), out=k[:, :H])
    np.multiply(c_prev, f * (1 - f), out=k[:, H : 2 * H])
    np.multiply(i, 1 - gg * gg, out=k[:, 2 * H : 3 * H])
    np.multiply(tanh_c, o * (1 - o), out=k[:, 3 * H :])
    return o * (1 - tanh_c * tanh_c), k


_CELLS = {"RNNSequence": RNNSequence, "GRUSequence": GRUSequence, "LSTMSequence": LSTMSequence}
