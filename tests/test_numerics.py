"""Numerical robustness (CONTRIBUTING.md, "Numerics"): stable functions at extreme inputs, exact edge values,
NaN/inf propagation, and no NumPy warnings from library code."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.ops.nn as F

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _grad(f, x):
    t = cr.tensor(x, requires_grad=True)
    y = f(t)
    y.sum().backward() if y.ndim else y.backward()
    return y, t.grad


@pytest.mark.parametrize("dtype,scales", [(np.float64, [1, 1e2, 1e4]), (np.float32, [1, 50, 1e3])])
def test_softmax_family_finite_at_large_logits(dtype, scales):
    base = np.array([[1.0, -2.0, 0.5, 3.0], [-1.0, -1.0, 2.0, 0.0]], dtype=dtype)
    for s in scales:
        z = base * dtype(s)
        for fn in (
            lambda t: cr.softmax(t, dim=1),
            lambda t: cr.log_softmax(t, dim=1),
            lambda t: cr.logsumexp(t, dim=1),
        ):
            y, g = _grad(
                lambda t: (
                    fn(t) * cr.tensor(np.arange(1.0, y_size(fn, z) + 1, dtype=dtype).reshape(fn(cr.tensor(z)).shape))
                ),
                z,
            )
            assert np.isfinite(y._data).all() and np.isfinite(g._data).all()
            assert y.dtype == dtype and g.dtype == dtype
        p = cr.softmax(cr.tensor(z), dim=1)._data
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-12 if dtype == np.float64 else 1e-6)
        target = np.array([3, 0])
        loss, g = _grad(lambda t: F.cross_entropy(t, target, reduction="sum"), z)
        lse = np.max(z, 1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
        np.testing.assert_allclose(loss._data, (lse - z[[0, 1], target]).sum(), rtol=1e-6)
        assert np.isfinite(g._data).all()


def y_size(fn, z):
    return int(np.prod(fn(cr.tensor(z)).shape))


def test_logsumexp_of_all_minus_inf_is_minus_inf_with_zero_gradient():
    x = cr.tensor([-np.inf, -np.inf], dtype=cr.float64, requires_grad=True)
    y = cr.logsumexp(x, dim=0)
    y.backward()
    assert y.item() == -np.inf
    np.testing.assert_array_equal(x.grad._data, [0.0, 0.0])
    assert cr.logsumexp(cr.tensor([1.0, np.inf], dtype=cr.float64), dim=0).item() == np.inf


@pytest.mark.parametrize("x", [0.0, 10.0, 40.0, 700.0, 1e4, -10.0, -40.0, -700.0, -1e4])
def test_sigmoid_at_extremes_is_exact_and_warning_free(x):
    y, g = _grad(cr.sigmoid, np.array(x))
    from scipy.special import expit

    assert y.item() == pytest.approx(expit(x), rel=1e-14, abs=1e-300)
    assert np.isfinite(g.item()) and g.item() >= 0
    if abs(x) >= 1e4:
        assert y.item() in (0.0, 1.0)


@pytest.mark.parametrize("z", [1e4, -1e4, 1000.0, -1000.0])
def test_bce_with_logits_and_softplus_are_finite(z):
    loss, g = _grad(lambda t: F.binary_cross_entropy_with_logits(t, cr.tensor(np.array([1.0]))), np.array([z]))
    assert np.isfinite(loss._data).all() and np.isfinite(g._data).all()
    from scipy.special import expit

    np.testing.assert_allclose(g._data, [expit(z) - 1], atol=1e-12)
    assert cr.softplus(cr.tensor(1e4, dtype=cr.float64)).item() == 1e4


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    p = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    loss = F.binary_cross_entropy(p, cr.tensor([1.0, 0.0], dtype=cr.float64), reduction="none")
    np.testing.assert_array_equal(loss._data, [100.0, 100.0])
    loss.sum().backward()
    assert np.isfinite(p.grad._data).all()


@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_stable_functions_at_plus_minus_1000(scale):
    z = np.array([[scale, 0.0, -scale]])
    for fn in (
        lambda t: cr.softmax(t, dim=1),
        lambda t: cr.log_softmax(t, dim=1),
        lambda t: cr.logsumexp(t, dim=1),
        cr.sigmoid,
        lambda t: cr.softplus(t),
        lambda t: F.cross_entropy(t, np.array([1])),
        lambda t: F.binary_cross_entropy_with_logits(t, cr.tensor(np.array([[1.0, 0.0, 1.0]]))),
    ):
        for dtype in (np.float32, np.float64):
            y, g = _grad(lambda t: fn(t) * 1.0, z.astype(dtype))
            assert np.isfinite(y._data).all() and np.isfinite(g._data).all()


def test_documented_values_at_kinks():
    assert _grad(cr.relu, np.array(0.0))[1].item() == 0.0
    assert _grad(cr.abs, np.array(0.0))[1].item() == 0.0
    y, g = _grad(cr.log, np.array(0.0))
    assert y.item() == -np.inf and g.item() == np.inf
    y, g = _grad(cr.sqrt, np.array(0.0))
    assert y.item() == 0.0 and g.item() == np.inf
    _, g = _grad(lambda t: cr.amax(t), np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(g._data, [0.0, 0.5, 0.5])
    a = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    cr.maximum(a, b).backward()
    assert (a.grad.item(), b.grad.item()) == (0.5, 0.5)
    _, g = _grad(lambda t: cr.norm(t), np.zeros(3))
    np.testing.assert_array_equal(g._data, 0.0)
    _, g = _grad(lambda t: t**0, np.array([0.0, 2.0]))
    np.testing.assert_array_equal(g._data, [0.0, 0.0])


def test_overflow_gives_inf_silently():
    assert cr.exp(cr.tensor(1000.0, dtype=cr.float64)).item() == np.inf
    assert cr.exp(cr.tensor(89.0)).item() == np.inf
    assert (cr.tensor(1.0) / cr.tensor(0.0)).item() == np.inf


@pytest.mark.parametrize(
    "name,fn",
    [
        ("exp", cr.exp),
        ("tanh", cr.tanh),
        ("sigmoid", cr.sigmoid),
        ("sin", cr.sin),
        ("relu", cr.relu),
        ("sum", lambda t: cr.sum(t, dim=0)),
        ("mean", lambda t: cr.mean(t, dim=0)),
        ("amax", lambda t: cr.amax(t, dim=0)),
        ("logsumexp", lambda t: cr.logsumexp(t, dim=0)),
        ("softmax", lambda t: cr.softmax(t, dim=0)),
        ("matmul", lambda t: t @ cr.tensor(np.ones((3, 2)))),
    ],
)
def test_nan_propagates_where_numpy_puts_it(name, fn):
    x = np.array([[1.0, np.nan, 0.5], [0.2, 0.3, 0.4]])
    y = fn(cr.tensor(x, requires_grad=True))
    assert np.isnan(y._data).any()
    # the column without NaN stays clean for elementwise ops
    if name in ("exp", "tanh", "sigmoid", "sin", "relu"):
        assert np.isnan(y._data).sum() == 1


def test_empty_and_zero_dim_tensors():
    e = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    s = (e * 2).sum()
    s.backward()
    assert s.item() == 0.0 and e.grad.shape == (0, 3)
    z = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    (z * z).backward()
    assert z.grad.shape == () and z.grad.item() == 4.0
    assert cr.logsumexp(cr.zeros(0, dtype=cr.float64), dim=0).item() == -np.inf


def test_no_warning_from_float32_pipeline():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = cr.tensor(np.linspace(-100, 100, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
        loss = F.cross_entropy(x, np.array([0, 1, 3])) + cr.sigmoid(x).sum() + cr.softplus(x).sum()
        loss.backward()
        assert np.isfinite(x.grad._data).all()


@pytest.mark.parametrize("gap", [0.0, 25.0, 45.0, 200.0])
def test_cross_entropy_with_rows_far_apart_keeps_float32_precision(gap):
    """The fused loss shifts by the batch maximum unless a row sits far below it (then per row)."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 5))
    logits[::2] -= gap
    target = rng.integers(0, 5, 6)
    x = cr.tensor(logits.astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, cr.from_numpy(target))
    loss.backward()
    shifted = logits - logits.max(axis=1, keepdims=True)  # the float64 reference, per row
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(loss.item(), -logp[np.arange(6), target].mean(), rtol=2e-6)
    expected = (np.exp(logp) - np.eye(5)[target]) / 6
    np.testing.assert_allclose(x.grad._data, expected, atol=2e-7)
