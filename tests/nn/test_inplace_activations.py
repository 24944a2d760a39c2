"""Activations with PyTorch's inplace=True: functional and module forms, against torch."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

TF = torch.nn.functional

# (name, chainrule call, torch call): each takes (library's functional module, x, inplace)
FUNCTIONS = [
    ("relu", lambda f, x, ip: f.relu(x, inplace=ip)),
    ("leaky_relu", lambda f, x, ip: f.leaky_relu(x, 0.2, inplace=ip)),
    ("elu", lambda f, x, ip: f.elu(x, 0.7, inplace=ip)),
    ("selu", lambda f, x, ip: f.selu(x, inplace=ip)),
    ("hardtanh", lambda f, x, ip: f.hardtanh(x, -0.5, 0.8, inplace=ip)),
    ("mish", lambda f, x, ip: f.mish(x, inplace=ip)),
    ("dropout_p1", lambda f, x, ip: f.dropout(x, 1.0, training=True, inplace=ip)),
]

X = np.array([[-1.5, -0.2, 0.0, 0.3], [0.9, -0.7, 2.0, 1.1]])
W = np.array([[0.3, -1.0, 2.0, 0.5], [1.5, 0.2, -0.4, 1.0]])


def _run(lib, functional, call):
    """a -> y = a * 2 -> activation in place on a row view -> loss = sum(W * y); values and a's gradient."""
    a = lib.tensor(X, dtype=lib.float64, requires_grad=True)
    y = a * 2
    out = call(functional, y[1], True)
    loss = (y * lib.tensor(W, dtype=lib.float64)).sum()
    loss.backward()
    return out is not None, np.array(y.detach().numpy()), np.array(a.grad.numpy())


@pytest.mark.parametrize("name,call", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_inplace_on_a_view_writes_the_base_and_its_gradient_matches_torch(name, call):
    ours = _run(cr, F, call)
    theirs = _run(torch, TF, call)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,call", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_inplace_returns_the_input_and_out_of_place_leaves_it(name, call):
    for lib, functional in ((cr, F), (torch, TF)):
        x = lib.tensor(X, dtype=lib.float64)
        assert call(functional, x, True) is x
        x = lib.tensor(X, dtype=lib.float64)
        call(functional, x, False)
        np.testing.assert_array_equal(x.numpy(), X)


@pytest.mark.parametrize("name,call", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_in_torch(name, call):
    with pytest.raises(RuntimeError):
        call(TF, torch.tensor(X, requires_grad=True), True)
    with pytest.raises(RuntimeError, match="leaf"):
        call(F, cr.tensor(X, requires_grad=True), True)


MODULES = [
    ("ReLU", dict(inplace=True)),
    ("LeakyReLU", dict(negative_slope=0.2, inplace=True)),
    ("ELU", dict(alpha=0.7, inplace=True)),
    ("SELU", dict(inplace=True)),
    ("Hardtanh", dict(min_val=-0.5, max_val=0.8, inplace=True)),
    ("Mish", dict(inplace=True)),
    ("Dropout", dict(p=0.2)),
    ("Dropout", dict(p=1.0, inplace=True)),
    ("ReLU", {}),
]


@pytest.mark.parametrize("name,kwargs", MODULES)
def test_modules_take_inplace_and_print_as_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x, tx = cr.tensor(X, dtype=cr.float64), torch.tensor(X)
    out, t_out = ours(x), theirs(tx)
    if name != "Dropout" or kwargs["p"] == 1.0:
        np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12)
    assert (out is x) == (t_out is tx)
