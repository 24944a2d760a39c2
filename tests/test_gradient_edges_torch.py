"""Gradients at the classic edge cases where autodiff libraries go silently wrong, against PyTorch in float64.

Each case runs one program in chainrule and in torch through `_differential.compare`: outputs (structure,
shape, dtype, value), the gradient of a random weighted sum of the outputs, and (where `second`) the second-order
gradient. Edge cases: zeros in prod, the zero vector in norms, pow at base 0 and negative bases, log1p/expm1
at tiny values, -inf in logsumexp/softmax, saturated sigmoid/tanh, ties in max/amax/topk, clamp with min > max, where
with inf/NaN in the branch not taken, var/std with one element or constant input, empty reductions, division by
(nearly) zero, scatter/gather/index with repeated indices, and integer/bool operands.

Known, documented differences left out: second derivatives where PyTorch's is NaN from its masked formulas
(the 2-norm at 0, pow at base 0; docs/compat/kinks-threads.md), logsumexp of an all -inf slice (chainrule's
gradient is 0, torch's NaN; tests/test_numerics.py), and topk's choice among tied entries (torch's is its
partial sort's, undocumented; checked here only as a valid choice).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
from _differential import compare  # noqa: E402

inf, nan = np.inf, np.nan


def A(*v):
    return np.array(v, dtype=np.float64)


M = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0], [3.0, 4.0, 5.0]])
TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])

# name: (program(L, F, *tensors), [(array, requires_grad)], second-order?)
CASES = {
    # ----- prod with zeros -----
    "prod one zero": (lambda L, F, x: L.prod(x), [(A(2.0, 0.0, 3.0), True)], True),
    "prod two zeros": (lambda L, F, x: L.prod(x), [(A(2.0, 0.0, 0.0, 3.0), True)], True),
    "prod all zeros": (lambda L, F, x: L.prod(x), [(A(0.0, 0.0, 0.0), True)], True),
    "prod(dim=0) zeros": (lambda L, F, x: L.prod(x, dim=0), [(M, True)], True),
    "prod(dim=1, keepdim)": (lambda L, F, x: L.prod(x, 1, keepdim=True), [(M, True)], True),
    "Tensor.prod zeros": (lambda L, F, x: x.prod(), [(A(0.0, 0.0), True)], True),
    "prod 0-d zero": (lambda L, F, x: x.prod(), [(np.array(0.0), True)], True),
    "prod empty": (lambda L, F, x: L.prod(x), [(np.zeros((0,)), True)], True),
    "prod(dim) empty": (lambda L, F, x: L.prod(x, 0), [(np.zeros((0, 2)), True)], True),
    # ----- norms and roots at 0 -----
    "norm() zero vector": (lambda L, F, x: L.norm(x), [(A(0.0, 0.0, 0.0), True)], False),
    "norm() one zero entry": (lambda L, F, x: L.norm(x), [(A(0.0, 3.0, 4.0), True)], True),
    "norm(p=1) zero": (lambda L, F, x: L.norm(x, p=1), [(A(0.0, 0.0, 0.0), True)], True),
    "norm(p=inf) zero": (lambda L, F, x: L.norm(x, p=math.inf), [(A(0.0, 0.0, 0.0), True)], True),
    "norm(p=0.5) zero": (lambda L, F, x: L.norm(x, p=0.5), [(A(0.0, 0.0, 0.0), True)], False),
    "norm(p=0.5) one zero": (lambda L, F, x: L.norm(x, p=0.5), [(A(0.0, 1.0, 2.0), True)], False),
    "norm(p=0)": (lambda L, F, x: L.norm(x, p=0), [(A(0.0, 1.0, -2.0), True)], True),
    "norm(p=3) tiny": (lambda L, F, x: L.norm(x, p=3), [(A(1e-120, 2e-120), True)], True),
    "norm huge": (lambda L, F, x: L.norm(x), [(A(1e200, 1e200), True)], True),
    "sqrt at 0": (lambda L, F, x: L.sqrt(x), [(A(0.0, 1e-320), True)], True),
    "x ** 0.5 at 0": (
        lambda L, F, x: x**0.5,
        [
            (
                A(
                    0.0,
                ),
                True,
            )
        ],
        True,
    ),
    # ----- pow -----
    "pow(0, y) grad both": (
        lambda L, F, x, y: L.pow(x, y),
        [(A(0.0, 0.0, 0.0, 0.0), True), (A(0.0, 2.0, -1.0, 0.5), True)],
        False,
    ),
    "pow(0, y < 0)": (lambda L, F, x, y: L.pow(x, y), [(A(0.0, 0.0), True), (A(-2.0, -0.5), True)], True),
    "pow negative base, integer y": (
        lambda L, F, x, y: L.pow(x, y),
        [(A(-2.0, -3.0, -1.5), True), (A(2.0, 3.0, -1.0), True)],
        True,
    ),
    "pow negative base, y = 0.5": (
        lambda L, F, x, y: L.pow(x, y),
        [
            (
                A(
                    -2.0,
                ),
                True,
            ),
            (
                A(
                    0.5,
                ),
                True,
            ),
        ],
        True,
    ),
    "x ** 2 negative": (lambda L, F, x: x**2, [(A(-3.0, -0.5), True)], True),
    "x ** -2.0 at +-0": (lambda L, F, x: x**-2.0, [(A(0.0, -0.0), True)], True),
    "x ** -1.0 tiny, huge": (lambda L, F, x: x**-1.0, [(A(1e-200, 1e200), True)], True),
    "2 ** x": (lambda L, F, x: 2.0**x, [(A(0.0, -1.0), True)], True),
    "(-2) ** x": (lambda L, F, x: (-2.0) ** x, [(A(2.0, 3.0), True)], True),
    "int tensor ** x": (lambda L, F, x: L.tensor([0, 2]) ** x, [(A(1.0, 2.0), True)], False),
    "x ** int tensor": (lambda L, F, x: x ** L.tensor([0, 2]), [(A(1.0, -2.0), True)], True),
    # ----- log1p, expm1 (chainrule has no atan2) -----
    "log1p tiny": (lambda L, F, x: L.log1p(x), [(A(1e-20, -1e-20, 1e-300, -1.0), True)], True),
    "expm1 tiny": (lambda L, F, x: L.expm1(x), [(A(1e-20, -1e-20, 1e-300), True)], True),
    "log at 0 and < 0": (lambda L, F, x: L.log(x), [(A(0.0, -1.0), True)], True),
    # ----- -inf in logsumexp and softmax -----
    "logsumexp one -inf": (lambda L, F, x: L.logsumexp(x, 0), [(A(-inf, 1.0, 2.0), True)], True),
    "logsumexp +inf": (lambda L, F, x: L.logsumexp(x, 0), [(A(inf, 1.0), True)], True),
    "logsumexp far apart": (lambda L, F, x: L.logsumexp(x, 0), [(A(1000.0, -1000.0, 1000.0), True)], True),
    "softmax all -inf row": (lambda L, F, x: L.softmax(x, 1), [(np.array([[-inf, -inf], [0.0, -inf]]), True)], True),
    "log_softmax all -inf row": (
        lambda L, F, x: L.log_softmax(x, 1),
        [(np.array([[-inf, -inf], [0.0, -inf]]), True)],
        True,
    ),
    "F.softmax one -inf": (lambda L, F, x: F.softmax(x, dim=1), [(np.array([[-inf, 1.0], [0.0, -inf]]), True)], True),
    "F.log_softmax one -inf": (
        lambda L, F, x: F.log_softmax(x, dim=1),
        [(np.array([[-inf, 1.0], [0.0, -inf]]), True)],
        True,
    ),
    "softmax +inf": (lambda L, F, x: F.softmax(x, dim=0), [(A(inf, 1.0), True)], True),
    "cross_entropy with -inf logits": (
        lambda L, F, x: F.cross_entropy(x, L.tensor([0, 1])),
        [(np.array([[0.0, -inf], [-inf, 0.0]]), True)],
        True,
    ),
    # ----- saturation -----
    "sigmoid +-1000": (lambda L, F, x: L.sigmoid(x), [(A(1000.0, -1000.0, 800.0, -40.0), True)], True),
    "tanh +-1000": (lambda L, F, x: L.tanh(x), [(A(1000.0, -1000.0, 20.0), True)], True),
    "softplus +-1000": (lambda L, F, x: F.softplus(x), [(A(1000.0, -1000.0, -40.0), True)], True),
    "silu +-800": (lambda L, F, x: F.silu(x), [(A(-800.0, 800.0), True)], True),
    "gelu +-800": (lambda L, F, x: F.gelu(x), [(A(-800.0, 800.0, -40.0), True)], True),
    "gelu(tanh) +-800": (lambda L, F, x: F.gelu(x, approximate="tanh"), [(A(-800.0, 800.0, -40.0), True)], True),
    "erf far out": (lambda L, F, x: L.erf(x), [(A(0.0, 10.0, -30.0), True)], True),
    "exp overflow": (lambda L, F, x: L.exp(x), [(A(710.0, -800.0, -inf), True)], True),
    # ----- ties -----
    "amax() ties": (lambda L, F, x: L.amax(x), [(A(1.0, 3.0, 3.0, 3.0), True)], True),
    "max(dim) ties": (lambda L, F, x: L.max(x, 1), [(TIES, True)], True),
    "min(dim) ties": (lambda L, F, x: L.min(x, 1), [(np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 2.0]]), True)], True),
    "max(dim) NaN": (lambda L, F, x: L.max(x, 0), [(A(1.0, nan, 3.0, nan), True)], True),
    "amax -0 and 0": (lambda L, F, x: L.amax(x), [(A(-0.0, 0.0), True)], True),
    "argmax ties": (lambda L, F, x: L.argmax(x, 1), [(TIES, False)], False),
    "argmin ties, flat": (lambda L, F, x: L.argmin(x), [(TIES, False)], False),
    "argmax NaN": (lambda L, F, x: L.argmax(x), [(A(1.0, nan, 3.0, nan), False)], False),
    # ----- clamp and kinks -----
    "clamp min > max": (lambda L, F, x: L.clamp(x, 2.0, 1.0), [(A(0.0, 1.0, 1.5, 2.0, 3.0), True)], True),
    "clamp(-inf, inf) with inf, NaN": (lambda L, F, x: L.clamp(x, -inf, inf), [(A(1.0, inf, nan), True)], True),
    "hardtanh at the bounds": (lambda L, F, x: F.hardtanh(x), [(A(-1.0, 1.0), True)], True),
    "abs at +-0": (lambda L, F, x: L.abs(x), [(A(0.0, -0.0), True)], True),
    "leaky_relu at 0": (
        lambda L, F, x: F.leaky_relu(x, 0.1),
        [
            (
                A(
                    0.0,
                ),
                True,
            )
        ],
        True,
    ),
    "maximum -0 vs 0": (lambda L, F, x, y: L.maximum(x, y), [(A(-0.0, 0.0), True), (A(0.0, -0.0), True)], True),
    # ----- where with inf / NaN in the branch not taken -----
    "where(x > 0, sqrt(x), 0)": (
        lambda L, F, x: L.where(x > 0, L.sqrt(x), L.zeros_like(x)),
        [(A(-1.0, 0.0, 4.0), True)],
        True,
    ),
    "where(x > 0, log(x), x)": (lambda L, F, x: L.where(x > 0, L.log(x), x), [(A(-1.0, 0.0, 4.0), True)], True),
    "where(x != 0, 1 / x, x)": (lambda L, F, x: L.where(x != 0, 1 / x, x), [(A(0.0, 2.0), True)], True),
    "where with inf, NaN operand": (
        lambda L, F, x, y: L.where(x > 0, x, y),
        [(A(-1.0, 1.0), True), (A(inf, nan), True)],
        True,
    ),
    "where with NaN condition input": (
        lambda L, F, x, y: L.where(x > y, x, y),
        [(A(nan, 1.0), True), (A(1.0, nan), True)],
        True,
    ),
    # ----- var / std / mean -----
    "var of one": (
        lambda L, F, x: L.var(x),
        [
            (
                A(
                    3.0,
                ),
                True,
            )
        ],
        True,
    ),
    "std of one": (
        lambda L, F, x: L.std(x),
        [
            (
                A(
                    3.0,
                ),
                True,
            )
        ],
        True,
    ),
    "std constant": (lambda L, F, x: L.std(x), [(A(3.0, 3.0, 3.0), True)], True),
    "std constant, correction=0": (lambda L, F, x: L.std(x, correction=0), [(A(3.0, 3.0, 3.0), True)], True),
    "var(dim) of one": (lambda L, F, x: L.var(x, 1), [(np.ones((2, 1)), True)], True),
    "Tensor.std(dim) of one": (lambda L, F, x: x.std(1), [(np.ones((2, 1)), True)], True),
    "var 0-d": (lambda L, F, x: L.var(x), [(np.array(2.0), True)], True),
    "var with NaN": (lambda L, F, x: L.var(x), [(A(1.0, nan), True)], True),
    "std with inf": (lambda L, F, x: L.std(x), [(A(1.0, inf), True)], True),
    "std tiny": (lambda L, F, x: L.std(x), [(A(1e-200, 2e-200, 4e-200), True)], True),
    "mean empty": (lambda L, F, x: L.mean(x), [(np.zeros((0,)), True)], True),
    "mean(dim) empty": (lambda L, F, x: L.mean(x, 1), [(np.zeros((2, 0)), True)], True),
    "var empty": (lambda L, F, x: L.var(x), [(np.zeros((0,)), True)], True),
    "sum empty": (lambda L, F, x: L.sum(x), [(np.zeros((0,)), True)], True),
    "logsumexp empty": (lambda L, F, x: L.logsumexp(x, 0), [(np.zeros((0,)), True)], True),
    "norm empty": (lambda L, F, x: L.norm(x), [(np.zeros((0,)), True)], True),
    "layer_norm constant row": (
        lambda L, F, x: F.layer_norm(x, (3,)),
        [(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]), True)],
        True,
    ),
    # ----- division -----
    "x / 0": (lambda L, F, x, y: x / y, [(A(1.0, 0.0, -1.0), True), (A(0.0, 0.0, 0.0), True)], True),
    "x / x at 0": (lambda L, F, x: x / x, [(A(0.0, 1.0), True)], True),
    # regression: d(x/y)/dy was -(g x)/(y y): y y underflows to 0 (-inf) or overflows (-0) where x/y/y does not
    "x / y, y tiny or huge": (
        lambda L, F, x, y: x / y,
        [(A(1e-300, 1e300, 1.0, 3.0), True), (A(1e-200, 1e200, 1e-170, 1e170), True)],
        True,
    ),
    "3 / x, x tiny or huge": (lambda L, F, x: 3.0 / x, [(A(1e-170, 1e170), True)], True),
    # regression: the second derivative of 1/x at +-0 was NaN (0 * inf); it is +-inf
    "1 / x at +-0": (lambda L, F, x: 1 / x, [(A(0.0, -0.0), True)], True),
    "reciprocal at +-0": (lambda L, F, x: L.reciprocal(x), [(A(0.0, -0.0), True)], True),
    "reciprocal tiny, huge": (lambda L, F, x: L.reciprocal(x), [(A(1e-170, 1e170), True)], True),
    # ----- masked_fill, scatter, gather, indexing with repeated indices -----
    "masked_fill": (lambda L, F, x: x.masked_fill(x > 0, 0.0), [(A(-1.0, 1.0, 0.0), True)], True),
    "masked_fill NaN": (
        lambda L, F, x: x.masked_fill(L.tensor([True, False, True]), nan),
        [(A(1.0, 2.0, 3.0), True)],
        True,
    ),
    "index_put accumulate, repeated": (
        lambda L, F, x, v: x.index_put((L.tensor([0, 0, 2]),), v, accumulate=True),
        [(A(1.0, 2.0, 3.0), True), (A(1.0, 2.0, 3.0), True)],
        True,
    ),
    "index_put distinct": (
        lambda L, F, x, v: x.index_put((L.tensor([0, 2]),), v),
        [(A(1.0, 2.0, 3.0), True), (A(1.0, 2.0), True)],
        True,
    ),
    "index_put bool mask": (
        lambda L, F, x, v: x.index_put((x > 1,), v),
        [(A(1.0, 2.0, 3.0), True), (A(5.0), True)],
        True,
    ),
    "scatter_add repeated": (
        lambda L, F, x, v: x.scatter_add(0, L.tensor([0, 0, 2]), v),
        [(A(1.0, 2.0, 3.0), True), (A(1.0, 2.0, 3.0), True)],
        True,
    ),
    "index_add repeated": (
        lambda L, F, x, v: x.index_add(0, L.tensor([0, 0, 2]), v),
        [(A(1.0, 2.0, 3.0), True), (A(1.0, 2.0, 3.0), True)],
        True,
    ),
    "gather repeated": (lambda L, F, x: L.gather(x, 0, L.tensor([0, 0, 2, 0])), [(A(1.0, 2.0, 3.0), True)], True),
    "x[idx] repeated": (lambda L, F, x: x[L.tensor([0, 0, 1])], [(A(1.0, 2.0, 3.0), True)], True),
    "index_select repeated": (
        lambda L, F, x: L.index_select(x, 0, L.tensor([0, 0, 1])),
        [(A(1.0, 2.0, 3.0), True)],
        True,
    ),
    "expand then sum": (lambda L, F, x: x.expand(3, 2).sum(0), [(np.array([[1.0, 2.0]]), True)], True),
    "expand times expand": (lambda L, F, x: x.expand(3, 2) * x.expand(3, 2), [(np.array([[1.0, 2.0]]), True)], True),
    # ----- integer and bool operands -----
    "float + int tensor": (lambda L, F, x: x + L.tensor([1, 2]), [(A(1.0, 2.0), True)], True),
    "float * bool tensor": (lambda L, F, x: x * L.tensor([True, False]), [(A(1.0, 2.0), True)], True),
    "int tensor / float": (lambda L, F, x: L.tensor([1, 2]) / x, [(A(0.0, 2.0), True)], True),
    "int / int": (lambda L, F: L.tensor([3, 4]) / L.tensor([2, 0]), [], False),
    "int // int": (lambda L, F: L.tensor([3, -4]) // L.tensor([2, 3]), [], False),
    "int + 1.5": (lambda L, F: L.tensor([2, 3]) + 1.5, [], False),
    "bool + bool": (lambda L, F: L.tensor([True, False]) + L.tensor([True, True]), [], False),
    "int32 + 5": (lambda L, F: L.tensor([1], dtype=L.int32) + 5, [], False),
    "int tensor + float64 0-d": (lambda L, F: L.tensor([1]) + L.tensor(1.0, dtype=L.float64), [], False),
    "uint8 - 1": (lambda L, F: L.tensor([0], dtype=L.uint8) - 1, [], False),
    "int / 0": (lambda L, F: L.tensor([1, 0]) / 0, [], False),
    "int clamp(0.5, 2.5)": (lambda L, F: L.tensor([1, 3]).clamp(0.5, 2.5), [], False),
    "bool prod": (lambda L, F: L.tensor([True, True]).prod(), [], False),
    "int32 sum": (lambda L, F: L.tensor([1, 2], dtype=L.int32).sum(), [], False),
    # in-place ops that would change the dtype: refused by both
    "int.add_(float)": (lambda L, F: L.tensor([1, 2]).add_(L.tensor([0.5, 0.5])), [], False),
    "int.mul_(1.5)": (lambda L, F: L.tensor([1, 2]).mul_(1.5), [], False),
    "int.div_(2)": (lambda L, F: L.tensor([1, 2]).div_(2), [], False),
    "bool.add_(int)": (lambda L, F: L.tensor([True]).add_(L.tensor([1])), [], False),
    "int += 1.0": (lambda L, F: L.tensor([1]).add_(1.0), [], False),
    "int.clamp_(0.5, 2.5)": (lambda L, F: L.tensor([1]).clamp_(0.5, 2.5), [], False),
    "float.add_(int)": (lambda L, F: L.tensor([1.0, 2.0]).add_(L.tensor([1, 1])), [], False),
    "float32.add_(float64)": (lambda L, F: L.tensor([1.0], dtype=L.float32).add_(L.tensor([1e-10])), [], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_edge_matches_torch(name):
    program, inputs, second = CASES[name]
    compare(program, inputs, second=second)


# regression: exp/log/sqrt/sin/cos/tan/tanh/sigmoid/log1p/expm1/erf of an integer tensor gave float64 and of a
# bool tensor float16 (NumPy's promotion: exp(True) = 2.719 in float16); torch gives the default dtype, float32.
# sigmoid and erf of float16 gave float64.
UNARY = ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "erf", "log2"]


@pytest.mark.parametrize("fn", UNARY)
@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1, 2, 0], "int64"),
        ([1, 2, 0], "int32"),
        ([1, 2, 0], "uint8"),
        ([True, False], "bool"),
        ([0.5, 2.0], "float16"),
    ],
)
def test_unary_float_ops_on_integer_bool_and_half_inputs_match_torch(fn, data, dtype):
    compare(lambda L, F: getattr(L, fn)(L.tensor(data, dtype=getattr(L, dtype))), [], grad=False, rtol=1e-3)


def test_unary_float_op_of_int_follows_the_default_dtype():
    old = cr.get_default_dtype()
    try:
        cr.set_default_dtype(cr.float64)
        torch.set_default_dtype(torch.float64)
        compare(lambda L, F: L.exp(L.tensor([1, 2])), [], grad=False)
    finally:
        cr.set_default_dtype(old)
        torch.set_default_dtype(torch.float32)


def test_float16_sigmoid_gradient_stays_float16():
    compare(lambda L, F, x: L.sigmoid(x.half()), [(A(0.5, -3.0), True)], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_with_ties_picks_tied_entries_and_routes_the_gradient_there(largest):
    """torch's choice among ties is its partial sort's (undocumented); any tied entry is a valid choice, and the
    gradient must reach exactly the entries chosen."""
    x = np.array([[3.0, 1.0, 1.0, 3.0], [5.0, 5.0, 5.0, 5.0]])
    t = torch.tensor(x, requires_grad=True)
    c = cr.tensor(x, requires_grad=True)
    tv, _ = torch.topk(t, 2, 1, largest=largest)
    cv, ci = cr.topk(c, 2, 1, largest=largest)
    np.testing.assert_array_equal(cv.detach().numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(np.take_along_axis(x, ci.numpy(), 1), cv.detach().numpy())
    w = np.array([[1.0, 10.0], [100.0, 1000.0]])
    (cv * cr.tensor(w)).sum().backward()
    expect = np.zeros_like(x)
    np.put_along_axis(expect, ci.numpy(), w, 1)
    np.testing.assert_array_equal(c.grad.numpy(), expect)


@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("dim", [0, 1])
def test_var_std_with_correction_n_give_torchs_infinite_gradient(fn, dim):
    # N = 3 along both dims; the middle column and row hold a value equal to their mean (0 * inf = nan there)
    x = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [7.0, 2.0, 0.0]])
    compare(lambda L, F, x: getattr(L, fn)(x, dim=dim, correction=3), [(x, True)])


@pytest.mark.parametrize("correction", [4, 5])
@pytest.mark.parametrize("dim", [None, 0])
def test_var_with_correction_at_least_n_keeps_the_sign_of_x_minus_mean(correction, dim):
    # The value is inf (N - correction clamped at 0, as torch), and the gradient 2 (x - mean) / 0. torch agrees
    # for dim=0 with correction = N, but its full reduction gives +inf for every entry (losing the sign), and
    # for correction > N its dim= path divides by the negative N - correction: a finite gradient of an
    # infinite value (docs/compat/hunt.md)
    x = cr.tensor([1.0, 2.0, 3.0, 10.0], dtype=cr.float64, requires_grad=True)
    v = cr.var(x, dim=dim, correction=correction)
    v.backward()
    assert v.item() == np.inf
    np.testing.assert_array_equal(x.grad.numpy(), [-np.inf, -np.inf, -np.inf, np.inf])
