"""Shared helpers for the nn tests: copying weights into torch and comparing forward/backward."""

import numpy as np
import torch

import chainrule as cr


def to_torch_weights(layer, tlayer):
    """Copy every entry of layer.state_dict() into tlayer (same names as PyTorch)."""
    ours = layer.state_dict()
    theirs = tlayer.state_dict()
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    with torch.no_grad():
        for name, value in theirs.items():
            value.copy_(torch.from_numpy(np.array(ours[name]._data)))


def recurrent_pair(cls, options, seed=0, hidden=6, size=5):
    """torch.nn.<cls> (float64, seeded) and chainrule's, with torch's weights copied by key (same names and shapes)."""
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, cls)(size, hidden, dtype=torch.float64, **options)
    ours = getattr(cr.nn, cls)(size, hidden, dtype=cr.float64, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [
        tuple(v.shape) for v in theirs.state_dict().values()
    ]
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flat(item)]
    return [out]


def compare_with_torch(layer, tlayer, x_np, rtol, atol, seed=0, input_grad=True):
    """Same weights, same input and same output gradient: outputs, input grad and every param grad match."""
    to_torch_weights(layer, tlayer)
    x = cr.tensor(x_np, requires_grad=input_grad) if x_np.dtype.kind == "f" else cr.tensor(x_np)
    tx = torch.tensor(x_np, requires_grad=input_grad and x_np.dtype.kind == "f")
    outs, touts = _flat(layer(x)), _flat(tlayer(tx))
    assert len(outs) == len(touts)
    rng = np.random.default_rng(seed)
    loss, tloss = 0, 0
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape)
        assert o.dtype == t.detach().numpy().dtype, (o.dtype, t.dtype)
        np.testing.assert_allclose(o._data, t.detach().numpy(), rtol=rtol, atol=atol)
        g = rng.standard_normal(o.shape).astype(o.dtype)
        loss = loss + (o * cr.tensor(g)).sum()
        tloss = tloss + (t * torch.from_numpy(g)).sum()
    loss.backward()
    tloss.backward()
    if input_grad and x_np.dtype.kind == "f":
        np.testing.assert_allclose(x.grad._data, tx.grad.numpy(), rtol=rtol, atol=atol)
    tparams = dict(tlayer.named_parameters())
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        assert p.grad.dtype == p.dtype
        np.testing.assert_allclose(p.grad._data, tparams[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    return outs


def double(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def node_names(t):
    """The class names of the nodes t's graph holds (each node once)."""
    seen, stack = {}, [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "next"):
            continue
        seen[id(node)] = type(node).__name__
        stack.extend(node.next)
    return list(seen.values())
