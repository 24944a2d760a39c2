"""nn.init: bounds and statistics against PyTorch's formulas; generator= and the global seed."""

import math

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init


def test_calculate_gain_matches_torch():
    for name in ("linear", "conv2d", "sigmoid", "tanh", "relu", "selu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for slope in (None, 0.2, math.sqrt(5)):
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope)
        )
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def test_fans_match_torch():
    for shape in ((5, 3), (25, 1, 5), (8, 4, 3, 3)):
        assert init._calculate_fan_in_and_fan_out(cr.zeros(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
            torch.zeros(shape)
        )
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(cr.zeros(3))


@pytest.mark.parametrize(
    "fn, kwargs, kind, scale",
    [
        (init.kaiming_uniform_, {}, "uniform", lambda fi, fo: math.sqrt(6 / fi)),
        (init.kaiming_uniform_, {"a": math.sqrt(5)}, "uniform", lambda fi, fo: 1 / math.sqrt(fi)),
        (
            init.kaiming_uniform_,
            {"mode": "fan_out", "nonlinearity": "relu"},
            "uniform",
            lambda fi, fo: math.sqrt(6 / fo),
        ),
        (init.kaiming_normal_, {"nonlinearity": "relu"}, "normal", lambda fi, fo: math.sqrt(2 / fi)),
        (
            init.kaiming_normal_,
            {"mode": "fan_out", "nonlinearity": "tanh"},
            "normal",
            lambda fi, fo: 5 / 3 / math.sqrt(fo),
        ),
        (init.xavier_uniform_, {"gain": 2.0}, "uniform", lambda fi, fo: 2 * math.sqrt(6 / (fi + fo))),
        (init.xavier_normal_, {}, "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ],
)
def test_initializer_statistics(fn, kwargs, kind, scale):
    w = cr.zeros(200, 50, 3, dtype=cr.float64)  # fan_in 150, fan_out 600, 30k entries
    fi, fo = 150, 600
    s = scale(fi, fo)
    out = fn(w, generator=np.random.default_rng(0), **kwargs)
    assert out is w
    data = w._data
    n = data.size
    if kind == "uniform":
        assert np.abs(data).max() <= s
        assert np.abs(data).max() > 0.999 * s  # the bound is reached, not a smaller one
        std = s / math.sqrt(3)
    else:
        std = s
    assert abs(data.mean()) < 4 * std / math.sqrt(n)
    assert abs(data.std() / std - 1) < 0.03


def test_torch_bounds_agree_for_default_layer_init():
    # Linear / Conv default: every weight within 1/sqrt(fan_in), as torch's layer (same formula).
    for ours, theirs in (
        (nn.Linear(30, 20), torch.nn.Linear(30, 20)),
        (nn.Conv1d(4, 6, 5), torch.nn.Conv1d(4, 6, 5)),
        (nn.Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)),
    ):
        fan_in = ours.weight._data[0].size
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(ours.weight._data).max() <= bound
        assert np.abs(ours.bias._data).max() <= bound
        assert theirs.weight.detach().abs().max().item() <= bound
        assert ours.weight.dtype == np.float32
    gru = nn.GRU(3, 16)
    for p in gru.parameters():
        assert np.abs(p._data).max() <= 0.25 and np.abs(p._data).max() > 0.2


def test_generator_and_global_seed_reproducible():
    a = init.normal_(cr.zeros(5), generator=np.random.default_rng(3))
    b = init.normal_(cr.zeros(5), generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a._data, b._data)
    cr.manual_seed(7)
    l1 = nn.Linear(4, 4)
    cr.manual_seed(7)
    l2 = nn.Linear(4, 4)
    np.testing.assert_array_equal(l1.weight._data, l2.weight._data)
    assert not np.array_equal(l1.weight._data, nn.Linear(4, 4).weight._data)


def test_simple_fills_keep_dtype_and_work_on_parameters():
    p = nn.Parameter(cr.zeros(2, 3))  # requires grad: the fill must happen under no_grad
    init.constant_(p, 0.5)
    assert p.dtype == np.float32 and np.all(p._data == 0.5) and p.requires_grad and p.grad_fn is None
    init.ones_(p)
    assert np.all(p._data == 1)
    init.zeros_(p)
    assert not p._data.any()
    init.uniform_(p, -2, -1)
    assert p._data.max() <= -1 and p._data.min() >= -2
    init.orthogonal_(p)
    np.testing.assert_allclose(p._data @ p._data.T, np.eye(2), atol=1e-6)
    assert cr.is_grad_enabled()
