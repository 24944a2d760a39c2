"""Table-driven op tests (CONTRIBUTING.md, "Checks per op"): forward vs NumPy, gradcheck and gradgradcheck in float64,
forward/backward/double backward vs PyTorch, float32 behaviour, linearity and determinism of backward.
"""

import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from opinfo import OP_TABLE, SPECS, all_cases, case_ids, uncovered_primitives

torch = pytest.importorskip("torch")

CASES = list(all_cases())
IDS = case_ids()


def _rng(spec, i):
    return np.random.default_rng(zlib.crc32(f"{spec.name}-{i}".encode()))


def _tensors(spec, args, dtype=np.float64):
    wrt = spec.differentiable(args)
    out = []
    for j, a in enumerate(args):
        a = np.asarray(a)
        if j in wrt:
            out.append(cr.tensor(a.astype(dtype), requires_grad=True))
        else:
            out.append(a)
    return out, wrt


def _torch_args(spec, args, wrt, dtype=torch.float64):
    out = []
    for j, a in enumerate(args):
        a = np.asarray(a)
        if j in wrt:
            out.append(torch.tensor(a, dtype=dtype, requires_grad=True))
        elif a.dtype == np.bool_:
            out.append(torch.tensor(a))
        elif a.dtype.kind in "iu":
            out.append(torch.tensor(a, dtype=torch.int64))
        else:
            out.append(torch.tensor(a, dtype=dtype))
    return out


def _call(spec, tensors, kwargs):
    return spec.fn(*tensors, **kwargs)


def test_op_table_size():
    assert len(OP_TABLE) >= 60, len(OP_TABLE)


def test_every_primitive_is_exercised():
    """Coverage is a test: every registered primitive is reached by some table entry (see
    opinfo.uncovered_primitives; the required set comes from the registry alone)."""
    missing = uncovered_primitives(OP_TABLE)
    assert not missing, f"primitives with no op-table entry: {sorted(missing)}"


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_forward_matches_reference(spec, i):
    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    out = _call(spec, tensors, kwargs)
    if spec.ref is not None:
        expected = spec.ref(*[np.asarray(a) for a in args], **kwargs)
    else:  # no NumPy reference: PyTorch is the oracle
        expected = spec.torch_fn(*_torch_args(spec, args, wrt), **kwargs).detach().numpy()
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out._data, expected, rtol=spec.fwd_tol[0], atol=spec.fwd_tol[1])


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_gradcheck(spec, i):
    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    assert cr.gradcheck(lambda *xs: _call(spec, xs, kwargs), tuple(tensors), **spec.gradcheck_kwargs)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_gradgradcheck(spec, i):
    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    if not spec.supports_gradgrad:
        with pytest.raises(RuntimeError):
            cr.gradgradcheck(lambda *xs: _call(spec, xs, kwargs), tuple(tensors))
        return
    assert cr.gradgradcheck(lambda *xs: _call(spec, xs, kwargs), tuple(tensors), **spec.gradcheck_kwargs)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_matches_torch(spec, i):
    """Forward, backward and double backward agree with PyTorch in float64."""
    if spec.torch_fn is None:
        pytest.skip(f"PyTorch has no direct equivalent of {spec.name}")
    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    t_args = _torch_args(spec, args, wrt)
    out = _call(spec, tensors, kwargs)
    t_out = spec.torch_fn(*t_args, **kwargs)
    np.testing.assert_allclose(out._data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(out.shape)
    grads = cr.autograd.grad(out, [tensors[j] for j in wrt], grad_outputs=cr.tensor(v), create_graph=True)
    t_grads = torch.autograd.grad(t_out, [t_args[j] for j in wrt], grad_outputs=torch.tensor(v), create_graph=True)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g._data, tg.detach().numpy(), rtol=1e-9, atol=1e-11)
    # double backward: d/dx <grad, w>
    w = [np.random.default_rng(2 + k).standard_normal(g.shape) for k, g in enumerate(grads)]
    live = [k for k, g in enumerate(grads) if g.requires_grad and t_grads[k].requires_grad]
    if not live:
        return
    s = sum((grads[k] * cr.tensor(w[k])).sum() for k in live)
    t_s = sum((t_grads[k] * torch.tensor(w[k])).sum() for k in live)
    gg = cr.autograd.grad(s, [tensors[j] for j in wrt], allow_unused=True)
    t_gg = torch.autograd.grad(t_s, [t_args[j] for j in wrt], allow_unused=True)
    for a, b in zip(gg, t_gg):
        # None means "no dependence", i.e. zeros, on either side
        ours = 0.0 if a is None else a._data
        theirs = 0.0 if b is None else b.numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_float32_stays_float32_and_agrees(spec, i):
    args, kwargs = spec.sample(i, _rng(spec, i))
    t64, wrt = _tensors(spec, args)
    t32, _ = _tensors(spec, args, dtype=np.float32)
    out64 = _call(spec, t64, kwargs)
    out32 = _call(spec, t32, kwargs)
    if spec.keeps_dtype:
        assert out32.dtype == np.float32, f"{spec.name} upcast float32 to {out32.dtype}"
    np.testing.assert_allclose(out32._data, out64._data, rtol=1e-5, atol=1e-5)
    v = np.random.default_rng(1).standard_normal(out64.shape)
    g64 = cr.autograd.grad(out64, [t64[j] for j in wrt], grad_outputs=v)
    g32 = cr.autograd.grad(out32, [t32[j] for j in wrt], grad_outputs=v.astype(np.float32))
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32, f"{spec.name}: a float32 input got a {a.dtype} gradient"
        np.testing.assert_allclose(
            a._data, b._data, rtol=spec.f32_tol[0], atol=spec.f32_tol[1] * max(1, np.abs(v).max())
        )


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_backward_linear_and_deterministic(spec, i):
    """backward(2 g) == 2 backward(g) exactly, and two runs are bitwise equal."""
    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    out = _call(spec, tensors, kwargs)
    v = np.random.default_rng(3).standard_normal(out.shape)
    inputs = [tensors[j] for j in wrt]
    g1 = cr.autograd.grad(out, inputs, grad_outputs=v, retain_graph=True)
    g2 = cr.autograd.grad(out, inputs, grad_outputs=2 * v, retain_graph=True)
    g3 = cr.autograd.grad(out, inputs, grad_outputs=v)
    for a, b, c in zip(g1, g2, g3):
        np.testing.assert_allclose(b._data, 2 * a._data, rtol=1e-14, atol=1e-300)
        assert np.array_equal(a._data, c._data, equal_nan=True)


def test_spec_names_unique():
    assert len(SPECS) == len(OP_TABLE)


EMPTY_UNARY = [
    "neg",
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "tanh",
    "sigmoid",
    "relu",
    "gelu",
    "softplus",
    "silu",
    "clamp",
    "clone",
]


@pytest.mark.parametrize("name", EMPTY_UNARY)
def test_empty_inputs_keep_their_shape(name):
    spec = SPECS[name]
    kwargs = spec.cases[0][1]
    x = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    out = spec.fn(x, **kwargs)
    assert out.shape == spec.ref(np.zeros((0, 3)), **kwargs).shape
    out.sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["add", "mul", "div", "maximum", "matmul"])
def test_empty_binary_inputs(name):
    a = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    b = cr.ones(3, 3 if name == "matmul" else 3, dtype=cr.float64, requires_grad=True)
    b_in = b if name == "matmul" else b[0]
    out = SPECS[name].fn(a, b_in)
    assert out.shape == (0, 3)
    out.sum().backward()
    assert a.grad.shape == (0, 3) and np.array_equal(b.grad._data, np.zeros((3, 3)))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "logsumexp"])
def test_empty_reductions_give_numpys_identity(name):
    x = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    out = getattr(cr, name)(x, dim=0)
    expected = {"sum": 0.0, "mean": np.nan, "prod": 1.0, "logsumexp": -np.inf}[name]
    np.testing.assert_array_equal(out._data, np.full(3, expected))
    out.sum().backward()
    assert x.grad.shape == (0, 3)


def test_empty_max_is_refused_with_the_reason():
    with pytest.raises(RuntimeError, match="empty"):
        cr.amax(cr.zeros(0, 3), dim=0)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_forward_mode_matches_reverse_mode(spec, i):
    """J t by forward mode equals J t assembled from reverse-mode VJPs, for a random tangent t."""
    from chainrule.autograd.forward import forward_tangents

    args, kwargs = spec.sample(i, _rng(spec, i))
    tensors, wrt = _tensors(spec, args)
    out = _call(spec, tensors, kwargs)
    rng = np.random.default_rng(4)
    tangents = [rng.standard_normal(tensors[j].shape) for j in wrt]
    (t_out,) = forward_tangents([out], [tensors[j] for j in wrt], tangents)
    expected = np.zeros(out.shape)
    for k in range(out._data.size):
        e = np.zeros(out._data.size)
        e[k] = 1
        rows = cr.autograd.grad(
            out, [tensors[j] for j in wrt], grad_outputs=e.reshape(out.shape), retain_graph=True, allow_unused=True
        )
        expected.reshape(-1)[k] = sum((r._data * t).sum() for r, t in zip(rows, tangents) if r is not None)
    assert t_out.shape == out.shape
    rtol = 1e-10 if spec.keeps_dtype else 1e-6  # a float32 round trip inside: float32 tangents
    np.testing.assert_allclose(t_out, expected, rtol=rtol, atol=1e-12)


def test_every_primitive_has_a_forward_mode_rule():
    """jvp rules sit beside forward and backward; only user Functions use the transposed-VJP fallback."""
    missing = [
        cls.__name__
        for cls in ops.primitives()
        if getattr(cls, "jvp", None) is None and not getattr(cls, "jvp_is_vjp", False)
    ]
    assert not missing, f"primitives without a jvp rule: {missing}"
