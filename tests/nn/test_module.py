"""Module and Parameter: registration, traversal, modes, state_dict round trip, loading errors, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 3)
        self.scale = nn.Parameter(cr.ones(1))
        self.register_buffer("step", cr.zeros(()))

    def forward(self, x):
        return self.fc2(self.drop(self.bn(self.fc1(x)).relu())) * self.scale


def test_parameter_requires_grad_and_repr():
    p = nn.Parameter(cr.tensor([1.0, 2.0]))
    assert p.requires_grad and isinstance(p, cr.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert not nn.Parameter(cr.zeros(2), requires_grad=False).requires_grad
    t = cr.zeros(3)
    assert nn.Parameter(t)._data is t._data  # shares memory, as torch


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "step",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "drop", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "drop", "fc2"]
    assert len(list(net.modules())) == 5 and len(list(net.children())) == 4
    assert net.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3 + 1


def test_shared_parameters_listed_once():
    a = nn.Linear(3, 3)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(seq.parameters())) == 2


def test_assignment_rules():
    net = Net()
    with pytest.raises(TypeError, match="Parameter"):
        net.scale = cr.ones(1)  # a plain tensor cannot replace a parameter silently
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    del net.fc2
    assert "fc2" not in dict(net.named_children())

    class NoInit(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        NoInit()


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.bn.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    x = cr.randn(16, 4)
    net.eval()
    a, b = net(x), net(x)
    np.testing.assert_array_equal(a._data, b._data)  # no dropout, running statistics in eval


def test_zero_grad_and_apply():
    net = Net()
    net.train()
    net(cr.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Dropout", "Linear", "Net"]


def test_state_dict_round_trip():
    cr.manual_seed(0)
    a, b = Net(), Net()
    a.train()
    a(cr.randn(8, 4))  # moves BatchNorm's running statistics
    sd = a.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == [
        "scale",
        "step",
        "fc1.weight",
        "fc1.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
        "fc2.weight",
        "fc2.bias",
    ]
    assert not any(v.requires_grad for v in sd.values())
    assert int(sd["bn.num_batches_tracked"].item()) == 1
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in b.state_dict().items():
        np.testing.assert_array_equal(value._data, sd[key]._data)
    a.eval(), b.eval()
    x = cr.randn(3, 4)
    np.testing.assert_array_equal(a(x)._data, b(x)._data)
    # Loading copies values: the parameter objects stay the same and do not alias the source.
    w = b.fc1.weight
    b.load_state_dict(Net().state_dict())
    assert b.fc1.weight is w and not np.array_equal(w._data, a.fc1.weight._data)


def test_load_state_dict_lists_every_problem_and_loads_nothing():
    net = Net()
    before = {k: v._data.copy() for k, v in net.state_dict().items()}
    sd = Net().state_dict()
    del sd["fc1.bias"]
    del sd["bn.running_var"]
    sd["extra.weight"] = cr.zeros(2)
    sd["fc2.weight"] = cr.zeros(4, 8)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    for key in ("fc1.bias", "bn.running_var", "extra.weight", "fc2.weight", "(4, 8)", "(3, 8)", "nothing was loaded"):
        assert key in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value._data, before[key], err_msg=key)
    # strict=False tolerates missing/unexpected keys but still refuses wrong shapes.
    with pytest.raises(RuntimeError, match="fc2.weight"):
        net.load_state_dict(sd, strict=False)
    del sd["fc2.weight"]
    result = net.load_state_dict(sd, strict=False)
    assert sorted(result.missing_keys) == ["bn.running_var", "fc1.bias", "fc2.weight"]
    assert result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(net.fc1.weight._data, sd["fc1.weight"]._data)


def test_repr_is_pytorch_like():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(1, 2, 3, padding=1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"  # torch.nn.Dropout's repr
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq(cr.randn(4, 2)).shape == (4, 1)
    named = nn.Sequential(OrderedDict([("inp", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert isinstance(named.inp, nn.Linear)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert "a" in md and list(md.keys()) == ["a", "b"] and len(list(md.parameters())) == 2


def test_dtype_cast_and_requires_grad():
    net = Net().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64
    assert net(cr.randn(4, 4, dtype=cr.float64)).dtype == np.float64
    net.float()
    assert net(cr.randn(4, 4)).dtype == np.float32
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_residual_wrappers():
    inner = nn.Linear(4, 4)
    res = nn.Residual(inner)
    x = cr.randn(2, 4)
    np.testing.assert_allclose(res(x)._data, (x + inner(x))._data)
    with pytest.raises(RuntimeError, match="same shape"):
        nn.Residual(nn.Linear(4, 3))(x)
    block = nn.ResidualBlock(4, hidden=8)
    assert block(x).shape == (2, 4)
    assert [n for n, _ in block.named_parameters()] == [
        "norm.weight",
        "norm.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]


def test_clip_grad_norm_matches_torch():
    import torch

    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ps = [nn.Parameter(cr.zeros(*g.shape, dtype=cr.float64)) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = cr.tensor(g)
        tp.grad = torch.tensor(g)
    for norm_type in (2.0, 1.0, float("inf")):
        total = nn.utils.clip_grad_norm_(ps, 0.5, norm_type=norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type=norm_type)
        assert abs(total.item() - ttotal.item()) < 1e-12
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad._data, tp.grad.numpy(), rtol=1e-12)
    nn.utils.clip_grad_value_(ps, 0.01)
    assert max(np.abs(p.grad._data).max() for p in ps) <= 0.01
    vec = nn.utils.parameters_to_vector(ps)
    assert vec.shape == (17,)
    nn.utils.vector_to_parameters(cr.arange(17, dtype=cr.float64), ps)
    np.testing.assert_array_equal(ps[1]._data, np.arange(12, 17))
