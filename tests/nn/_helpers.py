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
