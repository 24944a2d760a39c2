"""chainrule.Value: micrograd's API and results, checked against torch (float64)."""

import numpy as np
import pytest

from chainrule import Value
from chainrule.value import to_tensor_graph

torch = pytest.importorskip("torch")


def test_sanity_check():  # micrograd's test_engine.test_sanity_check
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xmg, ymg = x, y

    x = torch.Tensor([-4.0]).double()
    x.requires_grad = True
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert ymg.data == y.data.item()
    assert xmg.grad == x.grad.item()


def test_more_ops():  # micrograd's test_engine.test_more_ops
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    amg, bmg, gmg = a, b, g

    a = torch.Tensor([-4.0]).double()
    b = torch.Tensor([2.0]).double()
    a.requires_grad = True
    b.requires_grad = True
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    tol = 1e-6
    assert abs(gmg.data - g.data.item()) < tol
    assert abs(amg.grad - a.grad.item()) < tol
    assert abs(bmg.grad - b.grad.item()) < tol


def test_lecture_neuron_tanh_exp_sigmoid_log():
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    e = (2 * n).exp()
    o = (e - 1) / (e + 1)
    o.label = "o"
    o.backward()
    t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (2.0, 0.0, -3.0, 1.0, 6.8813735870195432)]
    ot = torch.tanh(t[0] * t[2] + t[1] * t[3] + t[4])
    ot.backward()
    assert o.data == pytest.approx(ot.item(), abs=1e-12)
    for v, tv in zip((x1, x2, w1, w2, b), t):
        assert v.grad == pytest.approx(tv.grad.item(), abs=1e-9)
    s = Value(0.3)
    y = s.sigmoid() * s.log() + s.tanh()
    y.backward()
    st = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    (torch.sigmoid(st) * torch.log(st) + torch.tanh(st)).backward()
    assert s.grad == pytest.approx(st.grad.item(), rel=1e-12)


def test_attributes_and_repr():
    a = Value(2.0, label="a")
    b = Value(3.0)
    c = a * b
    assert c._op == "*" and c._prev == {a, b} and c.data == 6.0 and c.grad == 0.0
    assert repr(b) == "Value(data=3.0, grad=0.0)"
    assert (2 ** Value(3.0)).data == pytest.approx(8.0)
    with pytest.raises(TypeError):
        a**b


def test_deep_chain_has_no_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_to_tensor_and_replay():
    a = Value(1.5, label="a")
    b = Value(-2.0, label="b")
    out = ((a * b).tanh() + a**2).exp().log() + b.sigmoid() + (a - b).relu()
    out.backward()
    t_out, tensors = to_tensor_graph(out)
    t_out.backward()
    assert t_out.item() == pytest.approx(out.data)
    assert tensors[a].grad.item() == pytest.approx(a.grad)
    assert tensors[b].grad.item() == pytest.approx(b.grad)
    t = a.to_tensor()
    assert t.is_leaf and t.requires_grad and t.name == "a" and t.dtype == np.float64
