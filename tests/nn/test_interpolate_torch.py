"""interpolate's bicubic, trilinear, 5-D and antialiased modes, the 3-D adaptive pools and the
Upsampling layers against torch: outputs, first and second derivatives, errors.

torch's own backward disagrees with its forward (its gradcheck fails) in three corners, where the
gradient here is the derivative of the forward that matches torch's; the fuzzer compares those
gradients with finite differences instead of torch's:
  - 'nearest' on 5-D inputs with a scale_factor (torch's backward takes the 2-D kernel's shortcuts);
  - bicubic and antialiased modes on an axis whose size a scale_factor leaves unchanged.
torch's CPU antialias kernel also gives every row the first row's weights when the output width
is 1 (test_antialias_to_width_one_is_the_transpose_of_torch's).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

from ._helpers import compare_with_torch, double

TF = torch.nn.functional

# ----- outputs and gradients, fixed cases -----

CASES = [
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bicubic")),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="bicubic", align_corners=True)),
    ((1, 2, 9, 8), dict(size=(4, 3), mode="bicubic")),  # downsampling: taps past both borders
    ((1, 2, 3, 4), dict(scale_factor=(1.7, 0.6), mode="bicubic", align_corners=False)),
    ((1, 2, 1, 5), dict(size=(3, 5), mode="bicubic", align_corners=True)),  # one row: every tap clamped
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((2, 1, 3, 4, 5), dict(size=(2, 6, 3), mode="trilinear", align_corners=True)),
    ((1, 2, 6, 5, 4), dict(scale_factor=(0.5, 1.5, 1.2), mode="trilinear", recompute_scale_factor=True)),
    ((1, 2, 3, 4, 5), dict(size=(5, 4, 7), mode="nearest")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 3, 4, 5), dict(size=(4, 7, 2), mode="nearest-exact")),
    ((1, 2, 7, 6, 5), dict(size=(3, 4, 2), mode="area")),
    ((1, 2, 7, 9), dict(size=(3, 4), mode="bilinear", antialias=True)),
    ((1, 2, 7, 9), dict(scale_factor=0.4, mode="bicubic", antialias=True)),
    ((1, 2, 4, 5), dict(size=(9, 7), mode="bicubic", antialias=True)),  # upsampling: the plain filter
    ((1, 2, 8, 6), dict(size=(3, 3), mode="bilinear", antialias=True, align_corners=True)),
]


def _both_ways(x, kwargs, dtype):
    """(ours, torch's): the output and the input gradient for one random output gradient."""
    x = x.astype(dtype)
    ours_x, t_x = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = F.interpolate(ours_x, **kwargs), TF.interpolate(t_x, **kwargs)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(g))
    expected.backward(torch.tensor(g))
    assert out.dtype == dtype and out.shape == tuple(expected.shape)
    return (out._data, ours_x.grad._data), (expected.detach().numpy(), t_x.grad.numpy())


@pytest.mark.parametrize("shape,kwargs", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_new_modes_match_torch(shape, kwargs, dtype):
    tol = 1e-12 if dtype == np.float64 else 2e-6
    ours, theirs = _both_ways(double(shape), kwargs, dtype)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _torch_backward_agrees(mode, spatial, sizes, kwargs):
    """False in the corners where torch's backward is not the derivative of its forward (module doc)."""
    by_scale = "scale_factor" in kwargs and not kwargs.get("recompute_scale_factor")
    if mode == "nearest" and len(spatial) == 3 and by_scale:
        return False
    unchanged = any(n == o for n, o in zip(spatial, sizes))
    return not ((mode == "bicubic" or kwargs.get("antialias")) and by_scale and unchanged)


@settings(deadline=None, max_examples=60)
@given(
    mode=st.sampled_from(["bicubic", "trilinear", "nearest", "nearest-exact", "area", "bilinear-aa", "bicubic-aa"]),
    spatial=st.lists(st.integers(1, 7), min_size=3, max_size=3),
    out=st.lists(st.integers(1, 9), min_size=3, max_size=3),
    scale=st.lists(st.floats(0.3, 3.2), min_size=3, max_size=3),
    how=st.sampled_from(["size", "scale", "one scale", "recompute"]),
    corners=st.booleans(),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_interpolate_fuzz_matches_torch(mode, spatial, out, scale, how, corners, float32, seed):
    """Random sizes, scales, modes and dtypes: outputs as torch's, and input gradients as torch's (or,
    where torch's backward is off, as finite differences)."""
    antialias = mode.endswith("-aa")
    mode = mode.removesuffix("-aa")
    d = 3 if mode in ("trilinear", "nearest", "nearest-exact", "area") else 2
    spatial, out, scale = tuple(spatial[:d]), tuple(out[:d]), tuple(scale[:d])
    kwargs = dict(mode=mode)
    if how == "size":
        kwargs["size"] = out
    else:
        kwargs["scale_factor"] = scale[0] if how == "one scale" else scale
        kwargs["recompute_scale_factor"] = True if how == "recompute" else None
    if mode in ("bicubic", "trilinear", "bilinear"):
        kwargs["align_corners"] = corners
    if antialias:
        kwargs["antialias"] = True
    factors = scale[:1] * d if how == "one scale" else scale
    sizes = out if how == "size" else tuple(int(n * s) for n, s in zip(spatial, factors))
    if 0 in sizes or (antialias and sizes[-1] == 1):  # refused by both; torch's width-1 bug (module doc)
        return
    dtype = np.float32 if float32 else np.float64
    x = np.random.default_rng(seed).standard_normal((2, 2) + spatial)
    (out_, grad), (expected, t_grad) = _both_ways(x, kwargs, dtype)
    tol = 2e-5 if float32 else 1e-11
    np.testing.assert_allclose(out_, expected, rtol=tol, atol=tol)
    if _torch_backward_agrees(mode, spatial, sizes, kwargs):
        np.testing.assert_allclose(grad, t_grad, rtol=tol, atol=tol)
    elif not float32:
        assert cr.gradcheck(lambda t: F.interpolate(t, **kwargs), (cr.tensor(x[:1, :1], requires_grad=True),))


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        # 2 -> 2 and 5 -> 5 rows: bicubic still resamples at 1 / 1.12 (torch's linear modes copy)
        ((1, 2, 2, 5), dict(scale_factor=1.12, mode="bicubic")),
        ((1, 2, 2, 5), dict(scale_factor=(1.3, 1.1), mode="bilinear", antialias=True)),
        # sizes kept and doubled: torch's 3-D nearest kernel has none of its 2-D kernel's shortcuts
        ((1, 2, 2, 3, 4), dict(scale_factor=(1.3, 2.0, 1.1), mode="nearest")),
    ],
)
def test_where_torchs_backward_is_off(shape, kwargs):
    """Outputs as torch's forward; gradients as finite differences of it (module doc)."""
    x = double(shape)
    out = F.interpolate(cr.tensor(x), **kwargs)
    np.testing.assert_allclose(out._data, TF.interpolate(torch.tensor(x), **kwargs).numpy(), rtol=1e-12, atol=1e-12)
    assert cr.gradcheck(lambda t: F.interpolate(t, **kwargs), (cr.tensor(x, requires_grad=True),))


def test_antialias_to_width_one_is_the_transpose_of_torchs():
    """torch's CPU antialias kernel repeats the first row's weights when the output width is 1; the
    result here is torch's on the transposed image, which that bug does not reach."""
    x = double((2, 3, 7, 6))
    for mode in ("bilinear", "bicubic"):
        ours = F.interpolate(cr.tensor(x), size=(3, 1), mode=mode, antialias=True)._data
        expected = TF.interpolate(torch.tensor(x).transpose(2, 3), size=(1, 3), mode=mode, antialias=True)
        np.testing.assert_allclose(ours, expected.transpose(2, 3).numpy(), rtol=1e-12, atol=1e-12)


# ----- second order and forward mode -----


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((1, 2, 4, 3), dict(size=(6, 5), mode="bicubic")),
        ((1, 2, 5, 6), dict(size=(3, 2), mode="bicubic", align_corners=True)),
        ((1, 1, 3, 2, 4), dict(size=(4, 3, 2), mode="trilinear")),
        ((1, 2, 7, 6), dict(size=(3, 4), mode="bicubic", antialias=True)),
        ((1, 1, 4, 3, 5), dict(size=(2, 5, 3), mode="area")),
    ],
)
def test_hessian_vector_products_match_torch(shape, kwargs):
    """d/dx of (d/dx sum(w * interpolate(x)^3)) . u, built with create_graph, as torch's double backward."""
    rng = np.random.default_rng(2)
    x, u = double(shape), rng.standard_normal(shape)
    w = rng.standard_normal(TF.interpolate(torch.tensor(x), **kwargs).shape)

    def hvp(lib, interpolate, tensor, grad):
        t = tensor(x, requires_grad=True)
        (g,) = grad((interpolate(t, **kwargs) ** 3 * tensor(w)).sum(), (t,), create_graph=True)
        return grad((g * tensor(u)).sum(), (t,))[0]

    ours = hvp(cr, F.interpolate, cr.tensor, cr.autograd.grad)._data
    theirs = hvp(torch, TF.interpolate, torch.tensor, torch.autograd.grad).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((1, 2, 4, 4), dict(size=(7, 3), mode="bicubic")),
        ((1, 1, 3, 4, 2), dict(scale_factor=1.5, mode="trilinear", align_corners=True)),
        ((1, 2, 8, 8), dict(size=(3, 5), mode="bilinear", antialias=True)),
    ],
)
def test_gradgradcheck_and_jvp(shape, kwargs):
    x = cr.tensor(double(shape), requires_grad=True)
    assert cr.gradgradcheck(lambda t: F.interpolate(t, **kwargs) ** 2, (x,))
    tangent = cr.tensor(double(shape, 3))
    _, jvp = cr.jvp(lambda t: F.interpolate(t, **kwargs), (x.detach(),), (tangent,))
    # linear in x: the tangent goes through the same map
    np.testing.assert_allclose(jvp._data, F.interpolate(tangent, **kwargs)._data, rtol=1e-12, atol=1e-12)


def test_bicubic_under_jit():
    def resize(t):
        return F.interpolate(t, scale_factor=1.5, mode="bicubic").sum(dim=(2, 3))

    step = cr.jit(resize)
    for seed in range(2):
        x = cr.tensor(double((1, 2, 4, 5), seed))
        np.testing.assert_array_equal(step(x)._data, resize(x)._data)


# ----- errors -----


def _refusals_alike(shape, **kwargs):
    """Both refuse with the same exception type; returns our message."""
    x = double(shape)
    with pytest.raises(Exception) as theirs:
        TF.interpolate(torch.tensor(x), **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        F.interpolate(cr.tensor(x), **kwargs)
    return str(ours.value)


def test_errors_as_torch():
    assert "trilinear mode needs 5D input" in _refusals_alike((1, 1, 4, 4), size=3, mode="trilinear")
    assert "bilinear mode needs 4D input" in _refusals_alike((1, 1, 4, 4, 4), size=3, mode="bilinear")
    assert "(got bicubic)" in _refusals_alike((1, 1, 4, 4, 4), size=3, mode="bicubic")
    assert "got 6D" in _refusals_alike((1, 1, 2, 2, 2, 2), size=3)
    assert "Anti-alias" in _refusals_alike((1, 1, 4, 4), size=3, antialias=True)
    assert "Anti-alias" in _refusals_alike((1, 1, 4, 4, 4), size=3, mode="trilinear", antialias=True)
    assert "greater than 0" in _refusals_alike((1, 1, 4, 4), size=(0, 2), mode="bicubic")
    assert "align_corners" in _refusals_alike((1, 1, 4, 4, 4), size=3, align_corners=False)
    with pytest.raises(NotImplementedError, match="lanczos.*not in chainrule"):
        F.interpolate(cr.randn(1, 1, 4, 4), size=2, mode="lanczos", antialias=True)


# ----- layers: Upsample's new modes, UpsamplingNearest2d/Bilinear2d, adaptive 3-D pools -----

LAYERS = [
    ("Upsample", dict(scale_factor=2, mode="bicubic"), (1, 2, 3, 4)),
    ("Upsample", dict(size=(5, 2), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    ("Upsample", dict(scale_factor=(1.5, 2.0, 0.5), mode="trilinear"), (1, 2, 3, 4, 4)),
    ("Upsample", dict(size=(4, 5, 6), mode="nearest"), (1, 2, 3, 4, 4)),
    ("Upsample", dict(scale_factor=0.5, mode="area"), (1, 2, 4, 6, 3)),
    ("UpsamplingNearest2d", dict(scale_factor=2), (1, 2, 3, 4)),
    ("UpsamplingNearest2d", dict(size=(5, 7)), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", dict(scale_factor=2), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", dict(size=(2, 7)), (1, 2, 3, 4)),
    ("AdaptiveAvgPool3d", dict(output_size=(2, 3, None)), (2, 2, 5, 7, 4)),
    ("AdaptiveAvgPool3d", dict(output_size=2), (3, 4, 5, 6)),  # unbatched
    ("AdaptiveMaxPool3d", dict(output_size=(3, 2, 4)), (2, 2, 5, 7, 6)),
    ("AdaptiveMaxPool3d", dict(output_size=(None, 1, 2)), (2, 3, 3, 5)),
]


@pytest.mark.parametrize("name,kwargs,shape", LAYERS)
def test_layers_match_torch(name, kwargs, shape):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    compare_with_torch(ours, theirs, double(shape), rtol=1e-12, atol=1e-12)
    assert repr(ours) == repr(theirs)


def test_adaptive_max_pool3d_indices_and_errors_as_torch():
    x = double((2, 3, 5, 6, 7))
    x[..., 0] = x[..., 1]  # ties go to the first maximum, as torch
    (out, index), (t_out, t_index) = (
        nn.AdaptiveMaxPool3d(3, return_indices=True)(cr.tensor(x)),
        torch.nn.AdaptiveMaxPool3d(3, return_indices=True)(torch.tensor(x)),
    )
    np.testing.assert_array_equal(out._data, t_out.numpy())
    np.testing.assert_array_equal(index._data, t_index.numpy())
    for name, shape, size in [("adaptive_avg_pool3d", (2, 3, 4), 2), ("adaptive_max_pool3d", (1, 2, 4, 0, 3), 2)]:
        with pytest.raises(RuntimeError) as theirs:
            getattr(TF, name)(torch.tensor(double(shape)), size)
        with pytest.raises(RuntimeError) as ours:
            getattr(F, name)(cr.tensor(double(shape)), size)
        assert ("4D or 5D" in str(ours.value)) == ("4D or 5D" in str(theirs.value))
