"""Issue 16's layers against torch: GroupNorm, ConvTranspose1d/2d, Upsample (F.interpolate),
AdaptiveAvgPool1d/2d and AdaptiveMaxPool1d/2d.

Each case builds both layers with the same options, copies the weights into torch's, runs both on
one input in float64 and compares the outputs, the input gradient and every parameter's gradient
(tests/nn/_helpers.py); then the reprs, the initialization and torch's errors.
"""

import math

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


def _both(name, *args, **kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


def _both64(name, *args, **kwargs):
    """The two layers in float64, torch's weights copied into ours."""
    ours = getattr(nn, name)(*args, **kwargs, dtype=cr.float64)
    theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=torch.float64)
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _errors_alike(ours, theirs):
    """Both raise, the same exception type; returns our message."""
    with pytest.raises(Exception) as their_error:
        theirs()
    with pytest.raises(type(their_error.value)) as our_error:
        ours()
    return str(our_error.value)


# ----- GroupNorm -----


@pytest.mark.parametrize(
    "groups,channels,shape,options",
    [
        (3, 6, (2, 6, 5), {}),
        (2, 4, (3, 4, 3, 3), {}),
        (1, 4, (2, 4, 6), dict(eps=1e-3)),
        (4, 4, (2, 4, 2, 3), dict(affine=False)),
        (2, 6, (6,), {}),
        (2, 6, (2, 6), dict(bias=False)),
    ],
)
def test_group_norm_matches_torch(groups, channels, shape, options):
    ours, theirs = _both64("GroupNorm", groups, channels, **options)
    with torch.no_grad():  # not the trivial 1 and 0, so that the affine part is tested
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    if len(shape) < 2:
        _errors_alike(lambda: ours(cr.tensor(double(shape))), lambda: theirs(torch.tensor(double(shape))))
        return
    compare_with_torch(ours, theirs, double(shape), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


def test_group_norm_same_in_eval_and_float32():
    gn = nn.GroupNorm(2, 4)
    x = cr.randn(3, 4, 5)
    out = gn(x)
    np.testing.assert_allclose(gn.eval()(x)._data, out._data)  # no running statistics
    assert gn(x.float()).dtype == cr.float32


def test_group_norm_errors_as_torch():
    message = _errors_alike(lambda: nn.GroupNorm(4, 6), lambda: torch.nn.GroupNorm(4, 6))
    assert "divisible by num_groups" in message
    x = double((2, 6, 4))
    message = _errors_alike(lambda: F.group_norm(cr.tensor(x), 4), lambda: TF.group_norm(torch.tensor(x), 4))
    assert "[2, 6, 4]" in message and "num_groups=4" in message
    message = _errors_alike(
        lambda: F.group_norm(cr.tensor(x), 3, cr.ones(5)), lambda: TF.group_norm(torch.tensor(x), 3, torch.ones(5))
    )
    assert "weight" in message and "[5]" in message
    _errors_alike(lambda: nn.GroupNorm(2, 4)(cr.randn(2, 6, 3)), lambda: torch.nn.GroupNorm(2, 4)(torch.randn(2, 6, 3)))


# ----- ConvTranspose1d / ConvTranspose2d -----

TRANSPOSE_CASES = [
    ("ConvTranspose1d", (3, 2, 3), {}, (2, 3, 6)),
    ("ConvTranspose1d", (4, 6, 4), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5)),
    ("ConvTranspose1d", (2, 3, 3), dict(stride=3, dilation=2, bias=False, output_padding=2), (1, 2, 4)),
    ("ConvTranspose1d", (2, 3, 2), dict(stride=2), (2, 5)),  # unbatched
    ("ConvTranspose2d", (3, 2, 3), {}, (2, 3, 4, 4)),
    ("ConvTranspose2d", (4, 2, (2, 3)), dict(stride=(2, 1), padding=(0, 1), output_padding=(1, 0)), (1, 4, 3, 5)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2, dilation=2, bias=False), (2, 4, 3, 3)),
    ("ConvTranspose2d", (2, 2, 2), dict(stride=2), (2, 3, 3)),  # unbatched
]


@pytest.mark.parametrize("name,args,options,shape", TRANSPOSE_CASES)
def test_conv_transpose_matches_torch(name, args, options, shape):
    ours, theirs = _both64(name, *args, **options)
    compare_with_torch(ours, theirs, double(shape), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "name,shape,output_size", [("ConvTranspose1d", (1, 2, 5), [10]), ("ConvTranspose2d", (1, 2, 3, 4), (1, 3, 6, 7))]
)
def test_conv_transpose_output_size_as_torch(name, shape, output_size):
    ours, theirs = _both64(name, 2, 3, 3, stride=2, padding=1)
    x = double(shape)
    out, t_out = ours(cr.tensor(x), output_size=output_size), theirs(torch.tensor(x), output_size=output_size)
    assert tuple(out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(out._data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    too_big = [s + 2 for s in output_size[-len(shape) + 2 :]]
    message = _errors_alike(
        lambda: ours(cr.tensor(x), output_size=too_big), lambda: theirs(torch.tensor(x), output_size=too_big)
    )
    assert "valid sizes range" in message
    _errors_alike(lambda: ours(cr.tensor(x), output_size=[5] * 7), lambda: theirs(torch.tensor(x), output_size=[5] * 7))


def test_conv_transpose_init_as_torch():
    """torch's init: kaiming_uniform(a=sqrt(5)) on the (in, out/groups, *k) weight, so the bound is
    1/sqrt(fan_in) with fan_in = out/groups * prod(k), the bias's bound too."""
    layer = nn.ConvTranspose2d(8, 64, (3, 2), groups=2, generator=cr.Generator().manual_seed(0))
    assert tuple(layer.weight.shape) == tuple(torch.nn.ConvTranspose2d(8, 64, (3, 2), groups=2).weight.shape)
    bound = 1 / math.sqrt(32 * 3 * 2)
    for p in (layer.weight, layer.bias):
        assert np.abs(p._data).max() <= bound
        assert np.abs(p._data).max() > 0.9 * bound


def test_conv_transpose_errors_as_torch():
    _errors_alike(
        lambda: nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect"),
        lambda: torch.nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect"),
    )
    _errors_alike(lambda: nn.ConvTranspose1d(2, 3, 3, groups=2), lambda: torch.nn.ConvTranspose1d(2, 3, 3, groups=2))
    x, w = double((1, 2, 5)), double((2, 3, 3))
    message = _errors_alike(
        lambda: F.conv_transpose1d(cr.tensor(x), cr.tensor(w), stride=2, output_padding=2),
        lambda: TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=2, output_padding=2),
    )
    assert "output padding must be smaller than either stride or dilation" in message
    # output_padding below the dilation is allowed, as torch
    out = F.conv_transpose1d(cr.tensor(x), cr.tensor(w), dilation=2, output_padding=1)
    t_out = TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), dilation=2, output_padding=1)
    np.testing.assert_allclose(out._data, t_out.numpy(), rtol=1e-10, atol=1e-12)
    _errors_alike(
        lambda: nn.ConvTranspose1d(3, 2, 3)(cr.randn(1, 2, 5)),
        lambda: torch.nn.ConvTranspose1d(3, 2, 3)(torch.randn(1, 2, 5)),
    )


# ----- Upsample / interpolate -----

UPSAMPLE_CASES = [
    ((2, 3, 5), dict(scale_factor=2)),
    ((2, 3, 5), dict(scale_factor=2.5, mode="nearest")),
    ((2, 3, 5), dict(size=8, mode="nearest-exact")),
    ((1, 2, 4), dict(scale_factor=1.7, mode="linear")),
    ((1, 2, 4), dict(size=9, mode="linear", align_corners=True)),
    ((1, 2, 9), dict(size=4, mode="linear")),  # downsampling
    ((2, 2, 3, 4), dict(scale_factor=2, mode="nearest")),
    ((2, 2, 3, 4), dict(scale_factor=(1.5, 2.2), mode="nearest")),
    ((2, 2, 3, 4), dict(size=(5, 7), mode="nearest-exact")),
    ((1, 3, 4, 4), dict(scale_factor=2, mode="bilinear")),
    ((1, 3, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 5), dict(scale_factor=0.6, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 7, 6), dict(size=(3, 4), mode="area")),
    ((1, 2, 3, 3), dict(size=1, mode="bilinear", align_corners=True)),
]


@pytest.mark.parametrize("shape,options", UPSAMPLE_CASES)
def test_upsample_matches_torch(shape, options):
    ours, theirs = _both("Upsample", **options)
    compare_with_torch(ours, theirs, double(shape), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


def test_interpolate_sizes_and_positions_as_torch():
    """A grid of sizes and scale factors, float64 and float32: output sizes and values as torch's
    (its 1-D and 2-D nearest kernels differ on unchanged and doubled sizes; both are followed)."""
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        for length in (1, 2, 3, 5, 8):
            x = rng.standard_normal((1, 2, length)).astype(dtype)
            x2 = rng.standard_normal((1, 2, length, 3)).astype(dtype)
            for mode, corners in (("nearest", None), ("nearest-exact", None), ("linear", False), ("linear", True)):
                for kwargs in [dict(size=o) for o in (1, 2, 3, 7, 11)] + [
                    dict(scale_factor=s, recompute_scale_factor=r)
                    for s in (0.5, 1.3, 2.0, 2.2, 1 / 3)
                    for r in (None, True)
                ]:
                    for ours_in, their_in, mode_d in ((x, x, mode), (x2, x2, "bilinear" if mode == "linear" else mode)):
                        kw = dict(kwargs, mode=mode_d, align_corners=corners)
                        try:
                            expected = TF.interpolate(torch.tensor(their_in), **kw).numpy()
                        except (RuntimeError, ValueError) as error:
                            with pytest.raises(type(error)):
                                F.interpolate(cr.tensor(ours_in), **kw)
                            continue
                        out = F.interpolate(cr.tensor(ours_in), **kw)
                        assert out.shape == expected.shape, kw
                        assert out.dtype == dtype
                        np.testing.assert_allclose(out._data, expected, rtol=tol, atol=tol, err_msg=str(kw))


def test_interpolate_errors_as_torch():
    x = double((1, 2, 4, 4))

    def both(**kwargs):
        return _errors_alike(
            lambda: F.interpolate(cr.tensor(x), **kwargs), lambda: TF.interpolate(torch.tensor(x), **kwargs)
        )

    assert "align_corners" in both(scale_factor=2, mode="nearest", align_corners=True)
    assert "only one of size or scale_factor" in both(size=3, scale_factor=2)
    assert "either size or scale_factor" in both()
    assert "same number of spatial dimensions" in both(size=(2, 3, 4))
    assert "same number of spatial dimensions" in both(scale_factor=(2.0,))
    assert "linear mode needs 3D input" in both(size=3, mode="linear")
    assert "recompute_scale_factor" in both(size=3, recompute_scale_factor=True)
    x = double((1, 2, 4))
    assert "bilinear mode needs 4D input" in both(size=3, mode="bilinear")
    x = double((4, 4))
    both(size=3)


def test_interpolate_under_jit_and_forward_mode():
    x = cr.randn(1, 2, 3, 4)
    step = cr.jit(lambda t: F.interpolate(t, scale_factor=2, mode="bilinear").sum())
    np.testing.assert_allclose(step(x).item(), F.interpolate(x, scale_factor=2, mode="bilinear").sum().item())
    tangent = cr.randn(1, 2, 3, 4)
    _, jvp = cr.jvp(lambda t: F.interpolate(t, size=(5, 6), mode="bilinear"), (x,), (tangent,))
    # linear in x: the tangent goes through the same map
    np.testing.assert_allclose(jvp._data, F.interpolate(tangent, size=(5, 6), mode="bilinear")._data, atol=1e-6)


# ----- adaptive pooling -----

ADAPTIVE_CASES = [
    ("AdaptiveAvgPool1d", 3, (2, 3, 7)),
    ("AdaptiveAvgPool1d", 4, (2, 3, 8)),
    ("AdaptiveAvgPool1d", 5, (3, 3)),  # unbatched, more bins than positions
    ("AdaptiveAvgPool2d", 1, (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d", (3, None), (2, 3, 10, 7)),
    ("AdaptiveAvgPool2d", (4, 3), (3, 5, 6)),
    ("AdaptiveMaxPool1d", 3, (2, 3, 7)),
    ("AdaptiveMaxPool2d", (3, 4), (2, 2, 5, 7)),
    ("AdaptiveMaxPool2d", (None, 2), (2, 6, 5)),
]


@pytest.mark.parametrize("name,output_size,shape", ADAPTIVE_CASES)
def test_adaptive_pool_matches_torch(name, output_size, shape):
    ours, theirs = _both(name, output_size)
    compare_with_torch(ours, theirs, double(shape), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("d", [1, 2])
def test_adaptive_max_pool_indices_as_torch(d):
    name = f"AdaptiveMaxPool{d}d"
    ours, theirs = _both(name, (3,) * d, return_indices=True)
    x = double((2, 3) + (7, 5)[:d])
    x[..., 0] = x[..., 1]  # ties go to the first maximum, as torch
    (out, index), (t_out, t_index) = ours(cr.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_array_equal(out._data, t_out.numpy())
    np.testing.assert_array_equal(index._data, t_index.numpy())


def test_adaptive_avg_pool_inf_stays_in_its_bin():
    x = np.zeros((1, 1, 7))
    x[0, 0, 0] = np.inf
    out = F.adaptive_avg_pool1d(cr.tensor(x), 3)
    np.testing.assert_array_equal(out._data, TF.adaptive_avg_pool1d(torch.tensor(x), 3).numpy())


def test_adaptive_pool_errors_as_torch():
    def both(name, shape, *args):
        return _errors_alike(
            lambda: getattr(F, name)(cr.tensor(double(shape)), *args),
            lambda: getattr(TF, name)(torch.tensor(double(shape)), *args),
        )

    assert "non-zero size" in both("adaptive_avg_pool2d", (1, 2, 0, 3), 2)
    assert "3D or 4D" in both("adaptive_avg_pool2d", (2, 3), 2)
    assert "one int" in both("adaptive_avg_pool1d", (1, 2, 5), (2, 3))
    assert "output_size must be 2" in both("adaptive_avg_pool2d", (1, 2, 5, 5), (2, 3, 4))
    assert "greater than or equal to 0" in both("adaptive_avg_pool2d", (1, 2, 5, 5), -1)
    both("adaptive_avg_pool1d", (2, 5, 5, 5), 2)
    both("adaptive_max_pool2d", (1, 2, 5, 5), -1)


def test_adaptive_max_pool_under_jit_follows_new_winners():
    """The winners are found in the primitive's forward, so a replay on new data picks new ones."""
    step = cr.jit(lambda t: F.adaptive_max_pool2d(t, (2, 3), return_indices=True))
    for seed in range(3):
        x = cr.tensor(double((2, 3, 5, 7), seed))
        (out, index), (expected, t_index) = step(x), TF.adaptive_max_pool2d(torch.tensor(x._data), (2, 3), True)
        np.testing.assert_array_equal(out._data, expected.numpy())
        np.testing.assert_array_equal(index._data, t_index.numpy())


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("interpolate", dict(size=5)),
        ("interpolate", dict(size=5, mode="linear")),
        ("adaptive_avg_pool1d", dict(output_size=5)),
        ("adaptive_max_pool1d", dict(output_size=5)),
        ("group_norm", dict(num_groups=1)),
    ],
)
def test_integer_inputs_refused_as_torch(name, kwargs):
    x = np.arange(12).reshape(1, 1, 12)
    message = _errors_alike(
        lambda: getattr(F, name)(cr.tensor(x), **kwargs), lambda: getattr(TF, name)(torch.tensor(x), **kwargs)
    )
    assert ".float()" in message


def test_empty_sizes_as_torch():
    assert F.group_norm(cr.randn(0, 4, 3), 2).shape == tuple(TF.group_norm(torch.randn(0, 4, 3), 2).shape)
    x = double((1, 2, 5, 5))
    assert F.adaptive_avg_pool2d(cr.tensor(x), (None, 0)).shape == (1, 2, 5, 0)
    assert tuple(TF.adaptive_avg_pool2d(torch.tensor(x), (5, 0)).shape) == (1, 2, 5, 0)


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((1, 2, 5), dict(size=7, mode="linear")),
        ((1, 2, 5), dict(size=9, mode="linear", align_corners=True)),
        ((1, 2, 4, 4), dict(size=(7, 9), mode="bilinear")),
        ((1, 2, 4, 4), dict(size=(3, 3), mode="area")),
        ((1, 2, 4, 4), dict(size=(7, 9), mode="bicubic")),
        ((1, 2, 4, 4, 3), dict(size=(7, 9, 4), mode="trilinear")),
        ((1, 2, 6, 6), dict(size=(3, 4), mode="bilinear", antialias=True)),
        ((1, 2, 4, 4), dict(size=(7, 9), mode="bicubic", antialias=True)),
    ],
)
def test_interpolate_inf_pattern_as_torch(shape, kwargs):
    """An inf spreads as far as torch's (a 0 weight against it is NaN there too), no further; outside
    an antialiasing window it is not read at all, as torch."""
    x = double(shape)
    x[0, 0, 2] = np.inf
    x[0, 1, 1] = -np.inf
    with np.errstate(invalid="ignore"):
        out = F.interpolate(cr.tensor(x), **kwargs)._data
    expected = TF.interpolate(torch.tensor(x), **kwargs).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-12)
    np.testing.assert_array_equal(out[~finite & ~np.isnan(expected)], expected[~finite & ~np.isnan(expected)])


@settings(deadline=None, max_examples=40)
@given(
    spatial=st.lists(st.integers(1, 9), min_size=1, max_size=2),
    mode=st.sampled_from(["nearest", "nearest-exact", "linear", "area", "adaptive_max"]),
    corners=st.booleans(),
    by_scale=st.booleans(),
    scale=st.floats(0.3, 3.5),
    out=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_resampling_fuzz_matches_torch(spatial, mode, corners, by_scale, scale, out, seed):
    """Random sizes, scales and modes: outputs and input gradients as torch's, float64."""
    d = len(spatial)
    x = np.random.default_rng(seed).standard_normal((2, 2) + tuple(spatial))
    if mode == "adaptive_max":
        name, kwargs = f"adaptive_max_pool{d}d", dict(output_size=(out,) * d)
    else:
        name = "interpolate"
        kwargs = dict(scale_factor=scale) if by_scale else dict(size=(out,) * d)
        if mode == "linear":
            kwargs.update(mode="linear" if d == 1 else "bilinear", align_corners=corners)
        else:
            kwargs.update(mode=mode)
    try:
        t_x = torch.tensor(x, requires_grad=True)
        expected = getattr(TF, name)(t_x, **kwargs)
    except RuntimeError:  # an empty output: both refuse
        with pytest.raises(RuntimeError):
            getattr(F, name)(cr.tensor(x), **kwargs)
        return
    ours_x = cr.tensor(x, requires_grad=True)
    out_ = getattr(F, name)(ours_x, **kwargs)
    np.testing.assert_allclose(out_._data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not expected.numel():  # area to a size of 0: torch's backward refuses an empty gradient
        return
    g = np.random.default_rng(seed + 1).standard_normal(out_.shape)
    out_.backward(cr.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(ours_x.grad._data, t_x.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(deadline=None, max_examples=25)
@given(
    d=st.sampled_from([1, 2]),
    groups=st.sampled_from([1, 2]),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    extra=st.integers(0, 2),
    bias=st.booleans(),
    length=st.integers(1, 5),
)
def test_conv_transpose_fuzz_matches_torch(d, groups, kernel, stride, padding, dilation, extra, bias, length):
    """Random ConvTranspose options: outputs and every gradient as torch's, or the same refusal."""
    output_padding = min(extra, max(stride, dilation) - 1)
    options = dict(
        stride=stride, padding=padding, dilation=dilation, output_padding=output_padding, groups=groups, bias=bias
    )
    ours, theirs = _both64(f"ConvTranspose{d}d", 2 * groups, 2 * groups, kernel, **options)
    x = double((2, 2 * groups) + (length,) * d)
    try:
        theirs(torch.tensor(x))
    except RuntimeError:  # the output would be empty or negative
        with pytest.raises(RuntimeError):
            ours(cr.tensor(x))
        return
    compare_with_torch(ours, theirs, x, rtol=1e-10, atol=1e-12)


def _decoder(seed):
    """A small encoder-decoder built from this file's layers (and Conv2d)."""
    cr.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.GroupNorm(2, 4),
        nn.AdaptiveMaxPool2d((3, 4)),
        nn.ConvTranspose2d(4, 4, 2, stride=2),
        nn.Upsample(size=(8, 9), mode="bilinear"),
        nn.AdaptiveAvgPool2d((5, None)),
        nn.Conv2d(4, 1, 1),
    )


def test_new_layers_train_the_same_under_jit():
    """Three SGD steps eagerly and through jit: the same losses and weights, bit for bit."""
    rng = np.random.default_rng(0)
    batches = [
        (cr.tensor(rng.standard_normal((2, 2, 7, 6))), cr.tensor(rng.standard_normal((2, 1, 5, 9)))) for _ in range(3)
    ]
    results = []
    for use_jit in (False, True):
        model = _decoder(0)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = cr.jit(step) if use_jit else step
        losses = [step(x, y)._data for x, y in batches]
        results.append((losses, model.state_dict()))
    (eager_losses, eager_state), (jit_losses, jit_state) = results
    np.testing.assert_array_equal(eager_losses, jit_losses)
    for name in eager_state:
        np.testing.assert_array_equal(eager_state[name]._data, jit_state[name]._data, err_msg=name)
