"""Forward mode and higher derivatives through the fused recurrences (ops/rnn.py, ops/rnn_higher.py).

nn.RNN / GRU / LSTM with torch's weights loaded, float64: jvp against torch.func.jvp and finite
differences, forward-over-reverse and reverse-over-forward second derivatives, and third and
fourth derivatives, against torch.autograd.grad with create_graph=True.
"""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.autograd.forward import forward_tangents

from ._helpers import _flat, node_names, recurrent_pair

SEQ, BATCH, IN, HIDDEN = 4, 3, 5, 6

# (class, options), each run with initial states and tangents on the input, the states and every parameter
CASES = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("GRU", dict()),
    ("GRU", dict(bidirectional=True, batch_first=True)),
    ("GRU", dict(num_layers=2, bias=False)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True, bias=False)),
]
IDS = [f"{c}-{'-'.join(map(str, o.values())) or 'plain'}" for c, o in CASES]


def _pair(cls, options, seed=0, hidden=HIDDEN, size=IN):
    return recurrent_pair(cls, options, seed, hidden, size)


def _primals(cls, options, rng, seq=SEQ, batch=BATCH, size=IN, hidden=HIDDEN):
    """The input and the initial states, as arrays."""
    x = rng.standard_normal((batch, seq, size) if options.get("batch_first") else (seq, batch, size))
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    states = [0.5 * rng.standard_normal((layers, batch, hidden)) for _ in range(2 if cls == "LSTM" else 1)]
    return [x, *states]


def _call(layer, x, states):
    return _flat(layer(x, tuple(states) if len(states) == 2 else states[0]))


def _ours_jvp(ours, arrays, tangents):
    """J t by chainrule's forward mode, with respect to the input, the states and every parameter."""
    x, *states = [cr.tensor(a, requires_grad=True) for a in arrays]
    params = list(ours.parameters())
    outs = _call(ours, x, states)
    return outs, forward_tangents(outs, [x, *states, *params], tangents)


def _torch_jvp(theirs, arrays, tangents):
    names = [n for n, _ in theirs.named_parameters()]
    n = len(arrays)

    def f(*args):
        params = dict(zip(names, args[n:]))
        return tuple(_call(lambda x, s: torch.func.functional_call(theirs, params, (x, s)), args[0], list(args[1:n])))

    primals = [torch.tensor(a) for a in arrays] + [p.detach() for p in theirs.parameters()]
    return torch.func.jvp(f, tuple(primals), tuple(torch.tensor(t) for t in tangents))


@pytest.mark.parametrize(
    "cls,options", CASES, ids=[f"{c}-{'-'.join(map(str, o.values())) or 'plain'}" for c, o in CASES]
)
def test_jvp_matches_torch_func_jvp(cls, options):
    ours, theirs = _pair(cls, options)
    rng = np.random.default_rng(1)
    arrays = _primals(cls, options, rng)
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    tangents += [rng.standard_normal(p.shape) for p in ours.parameters()]
    outs, t_outs = _ours_jvp(ours, arrays, tangents)
    touts, t_touts = _torch_jvp(theirs, arrays, tangents)
    for o, to in zip(outs, touts):
        np.testing.assert_allclose(o.detach().numpy(), to.numpy(), rtol=1e-10, atol=1e-12)
    for t, tt in zip(t_outs, t_touts):
        np.testing.assert_allclose(t, tt.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls,options", [("RNN", dict(bidirectional=True)), ("GRU", dict(num_layers=2)), ("LSTM", {})])
def test_jvp_matches_finite_differences(cls, options):
    """J t = (f(p + e t) - f(p - e t)) / 2e, p the input, the states and every parameter."""
    ours, _ = _pair(cls, options, seed=2)
    rng = np.random.default_rng(3)
    arrays = _primals(cls, options, rng)
    params = list(ours.parameters())
    tangents = [rng.standard_normal(a.shape) for a in arrays] + [rng.standard_normal(p.shape) for p in params]
    _, t_outs = _ours_jvp(ours, arrays, tangents)
    eps, values = 1e-6, []
    for sign in (1, -1):
        for p, t in zip(params, tangents[len(arrays) :]):
            p.data.add_(cr.tensor(sign * eps * t))
        with cr.no_grad():
            shifted = [cr.tensor(a + sign * eps * t) for a, t in zip(arrays, tangents)]
            values.append([o.numpy() for o in _call(ours, shifted[0], shifted[1:])])
        for p, t in zip(params, tangents[len(arrays) :]):
            p.data.sub_(cr.tensor(sign * eps * t))
    for t, plus, minus in zip(t_outs, *values):
        np.testing.assert_allclose(t, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-8)


def _loss(outs):
    return sum((o.tanh() * o).sum() for o in outs)


@pytest.mark.parametrize(
    "cls,options",
    [("RNN", dict(nonlinearity="relu")), ("GRU", dict(bidirectional=True)), ("LSTM", dict(batch_first=True))],
)
def test_forward_over_reverse_hvp_matches_torch(cls, options):
    """H v by forward mode through the gradient's graph (SequenceVJP's jvp), against torch's double backward."""
    ours, theirs = _pair(cls, options, seed=4)
    rng = np.random.default_rng(5)
    arrays = _primals(cls, options, rng, seq=3, batch=2)
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays] + list(ours.parameters())
    tinputs = [torch.tensor(a, requires_grad=True) for a in arrays] + list(theirs.parameters())
    v = [rng.standard_normal(tuple(x.shape)) for x in inputs]
    grads = cr.autograd.grad(_loss(_call(ours, inputs[0], inputs[1 : len(arrays)])), inputs, create_graph=True)
    hv = forward_tangents(list(grads), inputs, v)
    tgrads = torch.autograd.grad(_loss(_call(theirs, tinputs[0], tinputs[1 : len(arrays)])), tinputs, create_graph=True)
    thv = torch.autograd.grad(tgrads, tinputs, grad_outputs=[torch.tensor(t) for t in v])
    for a, b in zip(hv, thv):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-8, atol=1e-10)
    # and by the public transform, with respect to the input
    x = cr.tensor(arrays[0])
    states = [cr.tensor(a) for a in arrays[1:]]
    _, hx = cr.jvp(cr.grad(lambda x: _loss(_call(ours, x, states))), (x,), (v[0],))
    (tgx,) = torch.autograd.grad(
        _loss(_call(theirs, tinputs[0], tinputs[1 : len(arrays)])), [tinputs[0]], create_graph=True
    )
    (thx,) = torch.autograd.grad(tgx, [tinputs[0]], grad_outputs=torch.tensor(v[0]))
    np.testing.assert_allclose(hx.numpy(), thx.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cls,options", [("RNN", {}), ("GRU", dict(bidirectional=True)), ("LSTM", {})])
def test_reverse_over_forward_matches_torch(cls, options):
    """d/dp <J t, w> for the input, states, parameters and the tangents themselves: forward mode with
    create_graph=True (a SequenceJVP node), then backward, against torch."""
    ours, theirs = _pair(cls, options, seed=6)
    rng = np.random.default_rng(7)
    arrays = _primals(cls, options, rng, seq=3, batch=2)
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays] + list(ours.parameters())
    t_np = [rng.standard_normal(tuple(x.shape)) for x in inputs]
    tangents = [cr.tensor(t, requires_grad=True) for t in t_np]
    outs = _call(ours, inputs[0], inputs[1 : len(arrays)])
    t_outs = forward_tangents(outs, inputs, tangents, create_graph=True)
    w = [rng.standard_normal(tuple(o.shape)) for o in outs]
    ours_g = cr.autograd.grad(sum((t * cr.tensor(k)).sum() for t, k in zip(t_outs, w)), inputs + tangents)

    tangent_t = [torch.tensor(t, requires_grad=True) for t in t_np]
    primals = [torch.tensor(a, requires_grad=True) for a in arrays] + [
        p.detach().requires_grad_() for p in theirs.parameters()
    ]
    _, t_touts = _torch_jvp_graph(theirs, primals, tangent_t, len(arrays))
    theirs_g = torch.autograd.grad(sum((t * torch.tensor(k)).sum() for t, k in zip(t_touts, w)), primals + tangent_t)
    for a, b in zip(ours_g, theirs_g):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


def _torch_jvp_graph(theirs, primals, tangents, n):
    """torch.func.jvp with a differentiable result (primals and tangents require grad)."""
    names = [name for name, _ in theirs.named_parameters()]

    def f(*args):
        params = dict(zip(names, args[n:]))
        return tuple(_call(lambda x, s: torch.func.functional_call(theirs, params, (x, s)), args[0], list(args[1:n])))

    return torch.func.jvp(f, tuple(primals), tuple(tangents))


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_third_derivative_matches_torch(cls):
    """grad of grad of grad of a scalar through a bidirectional layer, with respect to the input and every parameter."""
    ours, theirs = _pair(cls, dict(bidirectional=True), seed=8, hidden=3, size=2)
    rng = np.random.default_rng(9)
    x_np = rng.standard_normal((3, 2, 2))
    w1 = rng.standard_normal(x_np.shape)
    results = []
    for lib, layer, tensor in ((cr, ours, cr.tensor), (torch, theirs, torch.tensor)):
        x = tensor(x_np, requires_grad=True)
        inputs = [x, *layer.parameters()]
        (g1,) = lib.autograd.grad(_loss(_flat(layer(x))), [x], create_graph=True)
        g2 = lib.autograd.grad((g1 * g1 * tensor(w1)).sum(), inputs, create_graph=True)
        ws = [np.random.default_rng(10 + k).standard_normal(tuple(g.shape)) for k, g in enumerate(g2)]
        g3 = lib.autograd.grad(sum((g * tensor(w)).sum() for g, w in zip(g2, ws)), inputs)
        results.append([np.asarray(g.detach().numpy()) for g in g3])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_any_order_along_a_line():
    """d^k/ds^k of a GRU's loss along x0 + s v, k = 1..4, against torch."""
    ours, theirs = _pair("GRU", {}, seed=11, hidden=2, size=2)
    rng = np.random.default_rng(12)
    x0, v = rng.standard_normal((2, 1, 2)), rng.standard_normal((2, 1, 2))
    f = cr.tensor(0.3, dtype=cr.float64, requires_grad=True)
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    d = _loss(_flat(ours(cr.tensor(x0) + f * cr.tensor(v))))
    td = _loss(_flat(theirs(torch.tensor(x0) + t * torch.tensor(v))))
    for k in range(1, 5):
        (d,) = cr.autograd.grad(d, [f], create_graph=k < 4)
        (td,) = torch.autograd.grad(td, [t], create_graph=k < 4)
        np.testing.assert_allclose(float(d), float(td.detach()), rtol=1e-8, err_msg=f"order {k}")


@pytest.mark.parametrize("cls", ["GRU", "LSTM"])
def test_jacfwd_agrees_with_jacrev(cls):
    ours, _ = _pair(cls, dict(bidirectional=True), seed=13, hidden=3, size=2)
    x = cr.tensor(np.random.default_rng(14).standard_normal((3, 2, 2)))

    def f(x):
        return ours(x)[0]

    np.testing.assert_allclose(cr.jacfwd(f)(x).numpy(), cr.jacrev(f)(x).numpy(), rtol=1e-10, atol=1e-12)


def test_differentiable_first_derivatives_are_one_fused_node():
    """create_graph=True records the gradient as one SequenceVJP node and the tangent as one SequenceJVP
    node (the fused loops), not 50 steps of small ops."""
    gru = nn.GRU(3, 4)
    x = cr.randn(50, 2, 3, requires_grad=True)
    (gx,) = cr.autograd.grad(gru(x)[0].sum(), [x], create_graph=True)
    names = node_names(gx)
    assert names.count("SequenceVJP") == 1 and len(names) < 20, names
    (tx,) = forward_tangents([gru(x)[0]], [x], [cr.randn(50, 2, 3)], create_graph=True)
    names = node_names(tx)
    assert names.count("SequenceJVP") == 1 and len(names) < 20, names


def test_higher_derivatives_replay_under_jit():
    """A jitted double backward and third derivative through a fused GRU replay the eager values on new
    inputs (the rules' work on fresh leaves is hidden from the trace; the replay reruns the rules)."""
    cr.manual_seed(0)
    gru = nn.GRU(2, 3, dtype=cr.float64)

    def second(x):
        (g,) = cr.autograd.grad((gru(x)[0] ** 2).sum(), [x], create_graph=True)
        return cr.autograd.grad((g * g).sum(), [x])[0]

    def third(s):
        return cr.grad(cr.grad(cr.grad(lambda s: (gru(x0 * s)[0] ** 2).sum())))(s)

    x0 = cr.randn(4, 2, 2, dtype=cr.float64)
    jitted_second, jitted_third = cr.jit(second), cr.jit(third)
    for seed in range(3):
        x = cr.randn(4, 2, 2, dtype=cr.float64, requires_grad=True)
        np.testing.assert_allclose(jitted_second(x).numpy(), second(x).numpy(), rtol=1e-12)
        s = cr.tensor(0.5 + seed, dtype=cr.float64)
        np.testing.assert_allclose(float(jitted_third(s)), float(third(s)), rtol=1e-12)
