"""Property tests (hypothesis): broadcasting, indexing and reduction gradients on generated shapes,
checked against PyTorch and against algebraic laws."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

torch = pytest.importorskip("torch")

floats = st.floats(-3, 3, allow_nan=False, width=64)


def _pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    a = draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=floats))
    b = draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=floats))
    return a, b


@st.composite
def broadcast_pairs(draw):
    return _pair(draw)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "maximum": (cr.maximum, torch.maximum),
    "where": (lambda a, b: cr.where(a._data > 0, a, b), lambda a, b: torch.where(a > 0, a, b)),
}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(pair=broadcast_pairs())
def test_broadcasting_gradients_match_torch(op, pair):
    a, b = pair
    ours, theirs = BINARY[op]
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = ours(ta, tb), theirs(pa, pb)
    weights = np.arange(1.0, out._data.size + 1).reshape(out.shape)
    (out * cr.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    np.testing.assert_allclose(ta.grad._data, pa.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad._data, pb.grad.numpy(), rtol=1e-12, atol=1e-12)


@st.composite
def indexed(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=floats))
    kind = draw(st.sampled_from(["ints", "slice", "mask", "mixed"]))
    if kind == "ints":
        index = np.array(draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6)))
    elif kind == "slice":
        start = draw(st.integers(-shape[0], shape[0]))
        step = draw(st.sampled_from([1, 2, -1]))
        index = slice(start, None, step)
    elif kind == "mask":
        index = draw(hnp.arrays(np.bool_, shape))
    else:
        rows = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4)))
        index = (rows, Ellipsis) if len(shape) == 1 else (rows, slice(None, None, -1))
    return x, index


@given(case=indexed())
def test_indexing_gradients_match_torch(case):
    x, index = case
    t = cr.tensor(x, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    torch_index = tuple(
        torch.tensor(i) if isinstance(i, np.ndarray) else i for i in (index if isinstance(index, tuple) else (index,))
    )
    if any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in torch_index):
        # torch refuses negative steps, and so do we
        with pytest.raises(ValueError, match="step must be greater than zero"):
            p[torch_index]
        with pytest.raises(ValueError, match="step must be greater than zero"):
            t[index]
        return
    out, tout = t[index], p[torch_index]
    np.testing.assert_array_equal(out._data, tout.detach().numpy())
    w = np.arange(1.0, out._data.size + 1).reshape(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad._data, p.grad.numpy(), rtol=1e-12)


@st.composite
def reductions(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = draw(hnp.arrays(np.float64, shape, elements=floats))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    return x, tuple(sorted(dims)), draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp", "var", "amax"])
@given(case=reductions())
def test_reduction_gradients_match_torch(name, case):
    x, dims, keepdim = case
    if name == "var" and np.prod([x.shape[d] for d in dims]) < 2:
        return
    if name == "amax":
        x = x + np.arange(x.size).reshape(x.shape) * 1e-3  # no ties: torch's amax splits them too
    t = cr.tensor(x, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    out = getattr(cr, name)(t, dim=dims, keepdim=keepdim)
    tout = getattr(torch, name)(p, dim=dims, keepdim=keepdim)
    np.testing.assert_allclose(out._data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.arange(1.0, out._data.size + 1).reshape(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad._data, p.grad.numpy(), rtol=1e-10, atol=1e-12)


@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=floats), k=st.integers(1, 4))
def test_a_tensor_used_k_times_gets_k_times_the_gradient(x, k):
    t = cr.tensor(x, requires_grad=True)
    sum(t.sin() for _ in range(k)).sum().backward()
    np.testing.assert_allclose(t.grad._data, k * np.cos(x), rtol=1e-12)


@given(x=hnp.arrays(np.float64, st.integers(1, 5).map(lambda n: (n,)), elements=floats))
def test_grad_equals_jacobian_for_scalar_functions_and_hessian_is_symmetric(x):
    f = lambda v: (v.tanh() * v).sum() + v.prod() * 0.1
    np.testing.assert_allclose(cr.grad(f)(x), cr.jacobian(f)(x), rtol=1e-12)
    H = cr.hessian(f)(x)
    np.testing.assert_allclose(H, H.T, atol=1e-8)


@given(pair=broadcast_pairs())
def test_no_grad_builds_no_nodes(pair):
    a, b = pair
    ta = cr.tensor(a, requires_grad=True)
    with cr.no_grad():
        out = (ta * b + ta).exp()
    assert out.grad_fn is None and not out.requires_grad
