"""ops.conv primitives: convolution (1-D, 2-D, stride, padding, dilation, groups), its transposes,
pooling and the fused linear: gradcheck, gradgradcheck, and PyTorch for values and gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.ops import conv as ops_conv


def leaf(shape, seed):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def torch_grads(fn, arrays, g):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def ours_grads(fn, arrays, g):
    ts = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(cr.tensor(g))
    return out._data, [t.grad._data for t in ts]


CONV_CASES = [
    # (d, N, C, spatial, O, k, stride, padding, dilation, groups)
    (1, 2, 3, (9,), 4, 3, 1, 0, 1, 1),
    (1, 2, 3, (9,), 4, 3, 2, 1, 1, 1),
    (1, 2, 4, (11,), 6, 3, 2, 2, 2, 2),
    (1, 3, 1, (40,), 25, 5, 2, 2, 1, 1),  # the MNIST-1D stem
    (2, 2, 3, (5, 5), 4, 3, 1, 0, 1, 1),
    (2, 2, 3, (5, 5), 4, 3, 2, 1, 1, 1),
    (2, 2, 3, (6, 5), 4, (2, 3), (2, 1), (1, 0), 1, 1),
    (2, 1, 4, (7, 7), 4, 3, 1, 2, 2, 4),  # depthwise, dilated
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_torch_float64(case):
    d, n, c, spatial, o, k, stride, padding, dilation, groups = case
    ks = (k,) * d if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c) + spatial)
    w = rng.standard_normal((o, c // groups) + ks)
    b = rng.standard_normal(o)
    ours_fn, torch_fn = (F.conv1d, TF.conv1d) if d == 1 else (F.conv2d, TF.conv2d)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref, ref_grads = torch_grads(
        lambda *a: torch_fn(*a, **kw),
        [x, w, b],
        g := rng.standard_normal(torch_fn(torch.tensor(x), torch.tensor(w), **kw).shape),
    )
    out, grads = ours_grads(lambda *a: ours_fn(*a, **kw), [x, w, b], g)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10)


def test_conv_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal((4, 5, 4, 4)).astype(np.float32)
    ref, ref_grads = torch_grads(lambda *a: TF.conv2d(*a, stride=2, padding=1), [x, w, b], g)
    out, grads = ours_grads(lambda *a: F.conv2d(*a, stride=2, padding=1), [x, w, b], g)
    assert out.dtype == np.float32 and all(gr.dtype == np.float32 for gr in grads)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_conv2d_gradcheck(stride, padding):
    x, w, b = leaf((2, 3, 5, 5), 0), leaf((2, 3, 3, 3), 1), leaf((2,), 2)
    assert cr.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), (x, w, b))


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_conv1d_gradcheck(stride, padding, dilation):
    x, w, b = leaf((2, 3, 7), 0), leaf((4, 3, 3), 1), leaf((4,), 2)
    assert cr.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation), (x, w, b))


@pytest.mark.parametrize("d, stride, padding, groups", [(1, 2, 1, 1), (2, 1, 1, 1), (2, 2, 0, 2), (1, 1, 0, 2)])
def test_conv_gradgradcheck(d, stride, padding, groups):
    fn = F.conv1d if d == 1 else F.conv2d
    spatial = (6,) if d == 1 else (4, 4)
    x = leaf((1, 2) + spatial, 0)
    w = leaf((2, 2 // groups) + (3,) * d, 1)
    b = leaf((2,), 2)
    assert cr.gradgradcheck(lambda x, w, b: fn(x, w, b, stride=stride, padding=padding, groups=groups), (x, w, b))


def test_conv_double_backward_matches_torch():
    # d/dx of <grad_w(x), v>: exercises ConvWeightGrad's backward (ConvInputGrad) and Conv's.
    rng = np.random.default_rng(3)
    x0, w0 = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3))

    def ours():
        x, w = cr.tensor(x0, requires_grad=True), cr.tensor(w0, requires_grad=True)
        y = F.conv1d(x, w, stride=2, padding=1)
        gx, gw = cr.autograd.engine.grad([(y * y).sum()], [x, w], create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        return x.grad._data, w.grad._data

    def theirs():
        x, w = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
        y = TF.conv1d(x, w, stride=2, padding=1)
        gx, gw = torch.autograd.grad((y * y).sum(), [x, w], create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        return x.grad.numpy(), w.grad.numpy()

    for mine, ref in zip(ours(), theirs()):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-10)


def test_conv_transpose_matches_torch():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(3)
    kw = dict(stride=2, padding=1, output_padding=1)
    g = rng.standard_normal(TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw).shape)
    ref, ref_grads = torch_grads(lambda *a: TF.conv_transpose2d(*a, **kw), [x, w, b], g)
    out, grads = ours_grads(lambda *a: F.conv_transpose2d(*a, **kw), [x, w, b], g)
    np.testing.assert_allclose(out, ref, atol=1e-10)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine, theirs, atol=1e-10)
    x1, w1 = leaf((1, 2, 4), 5), leaf((2, 3, 3), 6)
    assert cr.gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2), (x1, w1))


POOL_CASES = [
    ("max", 1, (2, 3, 8), 2, None, 0),
    ("max", 1, (2, 3, 9), 3, 2, 1),
    ("max", 2, (2, 3, 6, 6), 2, None, 0),
    ("max", 2, (2, 2, 5, 5), 3, 2, 1),
    ("avg", 1, (2, 3, 8), 2, None, 0),
    ("avg", 1, (2, 3, 9), 3, 2, 1),
    ("avg", 2, (2, 3, 6, 6), 2, None, 0),
    ("avg", 2, (2, 2, 5, 5), 3, 2, 1),
]


def _pool_fns(kind, d):
    ours = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("avg", 1): F.avg_pool1d, ("avg", 2): F.avg_pool2d}
    theirs = {
        ("max", 1): TF.max_pool1d,
        ("max", 2): TF.max_pool2d,
        ("avg", 1): TF.avg_pool1d,
        ("avg", 2): TF.avg_pool2d,
    }
    return ours[kind, d], theirs[kind, d]


@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_matches_torch_and_gradchecks(case):
    kind, d, shape, k, stride, padding = case
    ours_fn, torch_fn = _pool_fns(kind, d)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    ref_out = torch_fn(torch.tensor(x), k, stride, padding)
    g = rng.standard_normal(ref_out.shape)
    ref, (ref_grad,) = torch_grads(lambda t: torch_fn(t, k, stride, padding), [x], g)
    out, (grad,) = ours_grads(lambda t: ours_fn(t, k, stride, padding), [x], g)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, atol=1e-12)
    xt = cr.tensor(x, requires_grad=True)
    assert cr.gradcheck(lambda t: ours_fn(t, k, stride, padding), (xt,))
    small = cr.tensor(x[:1, :1], requires_grad=True)
    assert cr.gradgradcheck(lambda t: ours_fn(t, k, stride, padding), (small,))


def test_avg_pool_count_include_pad_false_and_float32():
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 7)).astype(np.float32)
    ref = TF.avg_pool2d(torch.tensor(x), 3, 2, 1, count_include_pad=False).numpy()
    out = F.avg_pool2d(cr.tensor(x), 3, 2, 1, count_include_pad=False)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out._data, ref, rtol=1e-6, atol=1e-6)
    out32 = F.max_pool1d(cr.tensor(x[:, 0]), 2)
    assert out32.dtype == np.float32


def test_max_pool_ties_and_indices():
    x = cr.tensor([[[1.0, 1.0, 0.0, 2.0]]], requires_grad=True)
    out, idx = F.max_pool1d(x, 2, return_indices=True)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [[[1.0, 0.0, 0.0, 1.0]]])  # first maximum wins, as torch
    np.testing.assert_array_equal(idx._data, [[[0, 3]]])
    _, tidx = TF.max_pool1d(torch.tensor(x._data), 2, return_indices=True)
    np.testing.assert_array_equal(idx._data, tidx.numpy())


def test_linear_primitive_gradcheck_gradgradcheck_and_torch():
    x, w, b = leaf((2, 4), 0), leaf((3, 4), 1), leaf((3,), 2)
    assert cr.gradcheck(F.linear, (x, w, b))
    assert cr.gradgradcheck(F.linear, (x, w, b))
    x3 = leaf((2, 2, 4), 3)
    assert cr.gradcheck(lambda x, w: F.linear(x, w), (x3, w))
    g = np.random.default_rng(5).standard_normal((2, 2, 3))
    ref, ref_grads = torch_grads(TF.linear, [x3._data, w._data, b._data], g)
    out, grads = ours_grads(F.linear, [x3._data, w._data, b._data], g)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine, theirs, atol=1e-12)


def test_first_order_backward_records_nothing():
    # The backward rules run on plain arrays when create_graph is off: no Tensor reaches them.
    x, w = leaf((2, 3, 6), 0), leaf((4, 3, 3), 1)
    y = F.conv1d(x, w, padding=1)
    seen = []
    original = ops_conv.ConvInputGrad.forward

    def spy(ctx, g, *args, **kwargs):
        seen.append((type(g), bool(ctx.needs_input_grad)))  # the null context: nothing recorded
        return original(ctx, g, *args, **kwargs)

    ops_conv.ConvInputGrad.forward = staticmethod(spy)
    try:
        y.sum().backward()
    finally:
        ops_conv.ConvInputGrad.forward = staticmethod(original)
    assert seen == [(np.ndarray, False)]


def test_conv_errors_teach():
    with pytest.raises(RuntimeError, match=r"input has 2 channels.*expects 3"):
        F.conv2d(cr.zeros(1, 2, 5, 5), cr.zeros(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="smaller than the dilated kernel"):
        F.conv1d(cr.zeros(1, 1, 2), cr.zeros(1, 1, 3))
    with pytest.raises(RuntimeError, match="expected a 3-D input"):
        F.conv1d(cr.zeros(5), cr.zeros(1, 1, 3))
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(cr.zeros(1, 1, 4, 4), 2, padding=2)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv_same_padding_and_unbatched():
    x = np.random.default_rng(0).standard_normal((3, 10))
    w = np.random.default_rng(1).standard_normal((2, 3, 4))
    out = F.conv1d(cr.tensor(x), cr.tensor(w), padding="same")
    ref = TF.conv1d(torch.tensor(x), torch.tensor(w), padding="same").numpy()
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out._data, ref, atol=1e-12)
