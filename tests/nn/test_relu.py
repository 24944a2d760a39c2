"""ReLU's forward takes the maximum against an array of zeros (NumPy's vectorized loop); it must give
exactly np.maximum(x, 0): same values (NaN kept, -0.0 and -inf to 0), dtype, type and layout-independence."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.function import _NULL_CTX
from chainrule.ops.elementwise import Relu


@pytest.mark.parametrize(
    "x",
    [
        np.array([[-1.5, 0.0, -0.0], [2.0, np.nan, -np.inf]], np.float32),
        np.array([3.0, -np.inf, np.inf, np.nan]),
        np.arange(-3, 4).astype(np.float16),
        np.arange(-3, 4),
        np.array([True, False]),
        np.asfortranarray(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)),
        np.random.default_rng(1).normal(size=(6, 8))[::2, 1::3],
        np.float32(-2.0),
        -2.0,
        3,
        [1.0, -2.0],
    ],
)
def test_forward_is_maximum_with_zero(x):
    ours = Relu.forward(_NULL_CTX, x)
    expected = np.maximum(x, 0)
    assert type(ours) is type(expected) and np.asarray(ours).dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(ours, expected)


def test_float32_tensor_forward_and_backward_keep_float32():
    x = cr.tensor(np.array([[-1.0, 2.0], [0.0, 3.0]], np.float32), requires_grad=True)
    y = cr.relu(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad._data, [[0, 1], [0, 1]])
