"""SGD's in-place update (one BLAS axpy pass where it can): same values as torch.optim.SGD, dtype and
layout kept, the gradient never written, and the NumPy fallback for everything BLAS cannot take."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import _blas

torch = pytest.importorskip("torch")

W0 = np.random.default_rng(0).normal(size=(256, 160)).astype(np.float32)  # above BLAS_MIN_SIZE
# Prescribed gradients, so that the trajectories differ only by the updates.
GRADS = np.random.default_rng(1).normal(size=(5, 256, 160)).astype(np.float32)


def _trajectory(make_param, kwargs):
    w = make_param()
    opt = optim.SGD([w], **kwargs)
    data = []
    for g in GRADS:
        w.grad = cr.tensor(g)
        opt.step()
        data.append(w._data.copy())
    return w, np.array(data)


def _torch_trajectory(kwargs):
    w = torch.tensor(W0, requires_grad=True)
    opt = torch.optim.SGD([w], **kwargs)
    data = []
    for g in GRADS:
        w.grad = torch.tensor(g)
        opt.step()
        data.append(w.detach().numpy().copy())
    return np.array(data)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=0.1),
        dict(lr=0.1, momentum=0.9, dampening=0.2),
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        dict(lr=0.1, maximize=True),
    ],
)
def test_float32_matches_torch_and_stays_float32(kwargs):
    w, ours = _trajectory(lambda: cr.tensor(W0, requires_grad=True), kwargs)
    theirs = _torch_trajectory(kwargs)
    assert w.dtype == np.float32 and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_non_contiguous_parameter_updates_like_contiguous(layout):
    def make():
        if layout == "fortran":
            return cr.tensor(np.asfortranarray(W0), requires_grad=True)
        w = cr.tensor(W0, requires_grad=True)
        w._data = np.repeat(W0, 2, axis=1)[:, ::2]  # a strided view as the parameter's storage
        return w

    w, ours = _trajectory(make, dict(lr=0.1, momentum=0.5))
    _, reference = _trajectory(lambda: cr.tensor(W0, requires_grad=True), dict(lr=0.1, momentum=0.5))
    assert not (w._data.flags.c_contiguous)
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)


def test_update_is_in_place_and_never_writes_the_gradient():
    w = cr.tensor(W0, requires_grad=True)
    storage, version = w._data, w._version
    (w * w).sum().backward()
    grad = w.grad._data.copy()
    optim.SGD([w], lr=0.5).step()
    assert w._data is storage and w._version == version + 1
    np.testing.assert_array_equal(w.grad._data, grad)
    np.testing.assert_allclose(w._data, W0 - np.float32(0.5) * grad, rtol=1e-6, atol=1e-7)


def test_axpy_matches_numpy_on_every_path(monkeypatch):
    rng = np.random.default_rng(2)
    big = (256, _blas.BLAS_MIN_SIZE // 256 + 1)  # large enough for the BLAS path
    cases = [
        (rng.normal(size=big).astype(np.float32), rng.normal(size=big).astype(np.float32)),
        (rng.normal(size=big), rng.normal(size=big)),  # float64
        (rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)),  # small
        (rng.normal(size=big).astype(np.float32), rng.normal(size=big)),  # mixed dtypes
        (rng.normal(size=big).astype(np.float16), rng.normal(size=big).astype(np.float16)),
        (np.asfortranarray(rng.normal(size=big)), rng.normal(size=big)),  # layouts differ
        (rng.normal(size=()), rng.normal(size=())),  # 0-d
        (np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)),  # empty
        (rng.normal(size=big).astype(np.complex64), rng.normal(size=big).astype(np.complex64)),
    ]
    for found in (None, {}):  # NumPy's BLAS, then the plain NumPy fallback
        if found is not None:
            monkeypatch.setattr(_blas, "_routines", found)
        for y, x in cases:
            expected = y + (-0.25) * x
            out = y.copy(order="K")
            _blas.axpy(out, -0.25, x)
            assert out.dtype == y.dtype
            np.testing.assert_allclose(out, expected, rtol=2e-3 if y.dtype == np.float16 else 1e-6)


def test_blas_path_is_taken_for_large_contiguous_arrays(monkeypatch):
    routines = _blas._numpy_blas_axpy()
    if "f" not in routines:
        pytest.skip("NumPy's BLAS here is not an OpenBLAS that the lookup knows")
    calls = []
    fn, largest = routines["f"]
    monkeypatch.setattr(_blas, "_routines", {"f": (lambda *args: (calls.append(args[0]), fn(*args)), largest)})
    y = np.ones(_blas.BLAS_MIN_SIZE, np.float32)
    _blas.axpy(y, 2.0, np.full_like(y, 0.5))
    np.testing.assert_array_equal(y, 2.0)
    assert calls == [y.size]


def test_axpy_with_an_aliased_or_read_only_target():
    n = _blas.BLAS_MIN_SIZE
    y = np.arange(n, dtype=np.float32)
    _blas.axpy(y, 0.5, y)  # x is y: the product is taken before the update, as in NumPy
    np.testing.assert_array_equal(y, np.arange(n, dtype=np.float32) * 1.5)
    y = np.arange(n + 1, dtype=np.float32)
    expected = y[1:].copy() + 2 * y[:-1]
    _blas.axpy(y[1:], 2.0, y[:-1])  # overlapping views go through NumPy, which buffers
    np.testing.assert_array_equal(y[1:], expected)
    frozen = np.ones(n, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError):
        _blas.axpy(frozen, 1.0, np.ones(n, np.float32))
    np.testing.assert_array_equal(frozen, 1)


def test_plain_group_beside_momentum_group_matches_torch():
    # Plain SGD takes its own per-group loop; a parameter without a gradient is left alone
    # (and not counted as changed), as in torch.
    rng = np.random.default_rng(3)
    starts = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)]
    grads = [[rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)] for _ in range(3)]
    ours = [cr.tensor(s, requires_grad=True) for s in starts]
    theirs = [torch.tensor(s, requires_grad=True) for s in starts]
    opt = optim.SGD([{"params": ours[:2]}, {"params": ours[2:], "momentum": 0.9}], lr=0.1)
    topt = torch.optim.SGD([{"params": theirs[:2]}, {"params": theirs[2:], "momentum": 0.9}], lr=0.1)
    for step in grads:
        for p, tp, g in zip(ours, theirs, step):
            p.grad, tp.grad = cr.tensor(g), torch.tensor(g)
        ours[1].grad = theirs[1].grad = None
        versions = [p._version for p in ours]
        opt.step()
        topt.step()
        assert [p._version - v for p, v in zip(ours, versions)] == [1, 0, 1]
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ours[1]._data, starts[1])
