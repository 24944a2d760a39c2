"""chainrule.nn.functional: the exported names, and the functional forms against torch.nn.functional."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule.nn import functional as F

NAMES = (
    "relu leaky_relu elu gelu silu softplus sigmoid tanh softmax log_softmax one_hot cross_entropy nll_loss "
    "mse_loss l1_loss binary_cross_entropy binary_cross_entropy_with_logits linear conv1d conv2d max_pool1d "
    "max_pool2d avg_pool1d avg_pool2d dropout batch_norm layer_norm embedding pad"
).split()


def test_every_name_is_exported_and_callable():
    for name in NAMES:
        assert callable(getattr(F, name)), name
    # F.relu takes inplace= (torch.nn.functional.relu does, torch.relu does not); softmax is shared
    assert F.softmax is cr.softmax


def test_nn_is_a_lazy_subpackage():
    code = (
        "import sys, chainrule as cr; assert 'chainrule.nn' not in sys.modules; "
        "L = cr.nn.Linear; import chainrule.nn as nn; from chainrule.nn import functional as F; "
        "assert nn.Linear is L and F.conv2d is not None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_functional_batch_norm_and_layer_norm_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    out = F.batch_norm(
        cr.tensor(x), cr.tensor(rm), cr.tensor(rv), cr.tensor(w), cr.tensor(b), training=True, momentum=0.2
    )
    ref = TF.batch_norm(torch.tensor(x), trm, trv, torch.tensor(w), torch.tensor(b), training=True, momentum=0.2)
    np.testing.assert_allclose(out._data, ref.numpy(), atol=1e-12)
    ln = F.layer_norm(cr.tensor(x), (5,), eps=1e-3)
    np.testing.assert_allclose(ln._data, TF.layer_norm(torch.tensor(x), (5,), eps=1e-3).numpy(), atol=1e-12)


def test_functional_pad_and_embedding():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = F.pad(x, (1, 2))
    assert y.shape == (2, 6)
    w = cr.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    e = F.embedding(cr.tensor([3, 0, 3]), w)
    e.sum().backward()
    np.testing.assert_array_equal(w.grad._data[:, 0], [1, 0, 0, 2])
    with pytest.raises(RuntimeError, match="integers"):
        F.embedding(cr.tensor([0.5]), w)


def test_functional_dropout_uses_given_generator():
    x = cr.ones(1000)
    a = F.dropout(x, 0.5, generator=np.random.default_rng(1))
    b = F.dropout(x, 0.5, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a._data, b._data)
    assert set(np.unique(a._data)) == {0.0, 2.0}
