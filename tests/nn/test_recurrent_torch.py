"""nn.RNN, nn.GRU and nn.LSTM against torch: every option, torch's weights loaded, float64.

Each case builds the torch layer, loads its state_dict into ours (so parameter names and shapes
must be torch's), runs both on the same input and initial state, and compares the outputs, the
final states and the gradients of the input, the initial state and every parameter.
"""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

from ._helpers import _flat, node_names, recurrent_pair

# (class, options): layers, directions, batch_first, bias, nonlinearity, and the input layout
CASES = [
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(num_layers=3, batch_first=True, bias=False)),
    ("GRU", dict(bidirectional=True, batch_first=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True, bias=False)),
    ("LSTM", dict(num_layers=3)),
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=2, batch_first=True, bias=False, bidirectional=True)),
]
SEQ, BATCH, IN, HIDDEN = 4, 3, 5, 6


def _pair(cls, options, seed=0):
    return recurrent_pair(cls, options, seed, HIDDEN, IN)


def _run_both(ours, theirs, x_np, states_np):
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    states = [cr.tensor(s, requires_grad=True) for s in states_np]
    tstates = [torch.tensor(s, requires_grad=True) for s in states_np]

    def initial(st):
        if not st:
            return None
        return tuple(st) if len(st) == 2 else st[0]

    outs, touts = _flat(ours(x, initial(states))), _flat(theirs(tx, initial(tstates)))
    assert len(outs) == len(touts)
    rng = np.random.default_rng(1)
    seeds = [rng.standard_normal(tuple(t.shape)) for t in touts]
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    sum(((o * cr.tensor(s)).sum() for o, s in zip(outs, seeds)), cr.tensor(0.0, dtype=cr.float64)).backward()
    sum((t * torch.tensor(s)).sum() for t, s in zip(touts, seeds)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for s, ts in zip(states, tstates):
        np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("cls,options", CASES)
def test_matches_torch(cls, options, with_state):
    ours, theirs = _pair(cls, options)
    rng = np.random.default_rng(0)
    shape = (BATCH, SEQ, IN) if options.get("batch_first") else (SEQ, BATCH, IN)
    count = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    states = [rng.standard_normal((count, BATCH, HIDDEN)) for _ in range(2 if cls == "LSTM" else 1)]
    _run_both(ours, theirs, rng.standard_normal(shape), states if with_state else [])


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_unbatched_input_matches_torch(cls):
    options = dict(num_layers=2, bidirectional=True)
    ours, theirs = _pair(cls, options)
    rng = np.random.default_rng(2)
    states = [rng.standard_normal((4, HIDDEN)) for _ in range(2 if cls == "LSTM" else 1)]
    _run_both(ours, theirs, rng.standard_normal((SEQ, IN)), states)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_dropout_between_layers(cls):
    """Eval mode and p = 0 are exact; p = 1 zeroes the deeper layers' input exactly as torch; p = 0.5 is random."""
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((SEQ, BATCH, IN))
    for p, train in ((0.5, False), (0.0, True), (1.0, True)):
        ours, theirs = _pair(cls, dict(num_layers=3, bidirectional=True, dropout=p))
        ours.train(train), theirs.train(train)
        out, tout = _flat(ours(cr.tensor(x_np))), _flat(theirs(torch.tensor(x_np)))
        for o, t in zip(out, tout):
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours, _ = _pair(cls, dict(num_layers=2, dropout=0.5))
    eval_out = ours.eval()(cr.tensor(x_np))[0].detach().numpy()
    ours.train()
    runs = [ours(cr.tensor(x_np))[0].detach().numpy() for _ in range(2)]
    assert not np.allclose(runs[0], runs[1]) and not np.allclose(runs[0], eval_out)


def test_options_refused_as_torch():
    for make in (lambda m: m.RNN(3, 4, nonlinearity="sigmoid"), lambda m: m.GRU(3, 4, dropout=1.5)):
        with pytest.raises(ValueError) as theirs:
            make(torch.nn)
        with pytest.raises(ValueError):
            make(nn)
        assert theirs.type is ValueError
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(RuntimeError, match=r"expected hidden size \(4, 2, 4\)"):
        gru(cr.zeros(5, 2, 3), cr.zeros(2, 2, 4))


def test_repr_matches_torch():
    for options in (dict(num_layers=2, batch_first=True, dropout=0.2, bidirectional=True), dict(bias=False)):
        assert repr(nn.LSTM(3, 4, **options)) == repr(torch.nn.LSTM(3, 4, **options))


def test_rnn_cell_matches_torch():
    torch.manual_seed(0)
    for nonlinearity in ("tanh", "relu"):
        theirs = torch.nn.RNNCell(IN, HIDDEN, nonlinearity=nonlinearity, dtype=torch.float64)
        ours = nn.RNNCell(IN, HIDDEN, nonlinearity=nonlinearity, dtype=cr.float64)
        ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        x, h = np.random.default_rng(4).standard_normal((2, BATCH, IN)), np.zeros((BATCH, HIDDEN))
        h[:] = 0.3
        np.testing.assert_allclose(
            ours(cr.tensor(x[0]), cr.tensor(h)).detach().numpy(),
            theirs(torch.tensor(x[0]), torch.tensor(h)).detach().numpy(),
            rtol=1e-12,
        )


# ----- the fused sequence primitives (ops/rnn.py) through the layers -----


@pytest.mark.parametrize(
    "cls,options",
    [
        ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
        ("LSTM", dict(num_layers=2, bidirectional=True, bias=False)),
        ("RNN", dict(nonlinearity="relu", bidirectional=True)),
    ],
)
def test_float32_matches_torch(cls, options):
    """float32 stays float32 through the fused loops and agrees with torch's float32 layer."""
    torch.manual_seed(5)
    theirs = getattr(torch.nn, cls)(IN, HIDDEN, **options)
    ours = getattr(nn, cls)(IN, HIDDEN, **options)
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x_np = np.random.default_rng(6).standard_normal(
        (BATCH, SEQ, IN) if options.get("batch_first") else (SEQ, BATCH, IN)
    )
    x, tx = (
        cr.tensor(x_np.astype(np.float32), requires_grad=True),
        torch.tensor(x_np, dtype=torch.float32, requires_grad=True),
    )
    outs, touts = _flat(ours(x)), _flat(theirs(tx))
    for o, t in zip(outs, touts):
        assert o.dtype == cr.float32
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    sum((o * o).sum() for o in outs).backward()
    sum((t * t).sum() for t in touts).backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == cr.float32, name
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_double_backward_matches_torch(cls):
    """A gradient penalty: d/dtheta |dL/dx|^2 through the layer, against torch (create_graph=True)."""
    ours, theirs = _pair(cls, dict(bidirectional=True), seed=7)
    x_np = np.random.default_rng(8).standard_normal((3, 2, IN))
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    loss = sum((o.tanh() * o).sum() for o in _flat(ours(x)))
    tloss = sum((o.tanh() * o).sum() for o in _flat(theirs(tx)))
    (gx,) = cr.autograd.grad(loss, [x], create_graph=True)
    (tgx,) = torch.autograd.grad(tloss, [tx], create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), rtol=1e-9, atol=1e-12)
    params, tparams = list(ours.parameters()), list(theirs.parameters())
    gg = cr.autograd.grad((gx * gx).sum(), params + [x])
    tgg = torch.autograd.grad((tgx * tgx).sum(), tparams + [tx])
    for a, b in zip(gg, tgg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-11)


def test_sequence_primitive_errors_name_the_shapes():
    from chainrule.ops.rnn import LSTMSequence

    with pytest.raises(RuntimeError, match=r"LSTMSequence: expected gi .* got gi \(3, 2, 8\), s0 \(2, 2\)"):
        LSTMSequence.apply(cr.zeros(3, 2, 8), cr.zeros(2, 2), cr.zeros(8, 2), None)
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        nn.GRU(2, 3)(cr.zeros(0, 1, 2))


def test_a_layer_is_one_node_per_layer_and_direction():
    """The recurrence is fused: a 2-layer bidirectional GRU's graph holds 4 GRUSequence nodes and no per-step ops."""
    out, _ = nn.GRU(3, 4, num_layers=2, bidirectional=True)(cr.randn(50, 2, 3))
    names = node_names(out)
    assert names.count("GRUSequence") == 4
    assert len(names) < 40  # step by step, 50 steps would record ~1000 nodes


def test_bigru_trains_bit_for_bit_under_jit():
    """The MNIST-1D reference BiGRU: a chainrule.jit train step replays the eager one exactly."""
    from chainrule.models import BiGRU

    rng = np.random.default_rng(10)
    data = [
        (cr.from_numpy(rng.standard_normal((8, 40)).astype(np.float32)), cr.from_numpy(rng.integers(0, 10, 8)))
        for _ in range(4)
    ]
    runs = []
    for jit in (False, True):
        cr.manual_seed(0)
        model = BiGRU(40, 10)
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        step = cr.jit(step) if jit else step
        runs.append(([step(x, y).item() for x, y in data], model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for (name, a), (_, b) in zip(runs[0][1].items(), runs[1][1].items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


@pytest.mark.parametrize("name", ["RNNSequence", "GRUSequence", "LSTMSequence"])
def test_sequence_primitives_leave_their_inputs_alone(name):
    """At batch 1 the feature-major view of gi is already contiguous: the forward must still copy it
    before writing into it (the GRU folds b_hh into its copy of gi)."""
    import chainrule.ops.rnn as crnn

    gates, states = {"RNNSequence": (1, 1), "GRUSequence": (3, 1), "LSTMSequence": (4, 2)}[name]
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal(s) for s in ((3, 1, gates * 2), (1, 2) if states == 1 else (2, 1, 2), (gates * 2, 2))]
    arrays.append(rng.standard_normal(gates * 2))
    inputs = [cr.tensor(a.copy()) for a in arrays]
    getattr(crnn, name).apply(*inputs)
    for a, x in zip(arrays, inputs):
        np.testing.assert_array_equal(x.numpy(), a)
