"""Dtypes against PyTorch: promotion (result_type, promote_types, can_cast), in-place casts,
out-of-range ints at construction, the legacy constructors and float16 reductions.

Each case is an expression written once with `L` for the library and run with L = torch and
L = chainrule: same dtype, same values, or both refuse.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


def _run(lib, expr):
    try:
        out = eval(expr, {"L": lib, "np": np})
    except Exception as e:  # noqa: BLE001 - compared with the other library's refusal
        return ("refused", f"{type(e).__name__}: {e}")
    if isinstance(out, (bool, str)) or out is None:
        return ("ok", type(out).__name__, out)
    if lib is torch:
        return ("ok", str(out.dtype).replace("torch.", ""), out.detach().numpy())
    return ("ok", str(out.dtype), np.asarray(out.detach().numpy()))


def assert_like_torch(expr, rtol=1e-6):
    want, got = _run(torch, expr), _run(cr, expr)
    assert want[0] == got[0], f"{expr}: torch {want}, chainrule {got}"
    if want[0] == "refused":
        return got[1]
    assert got[1] == want[1], f"{expr}: torch gives {want[1]}, chainrule {got[1]}"
    if isinstance(want[2], np.ndarray):
        assert got[2].shape == want[2].shape, f"{expr}: shapes {want[2].shape} vs {got[2].shape}"
        if want[2].dtype.kind in "fc":
            np.testing.assert_allclose(got[2].astype(want[2].dtype), want[2], rtol=rtol, atol=rtol, err_msg=expr)
        else:
            np.testing.assert_array_equal(got[2], want[2], err_msg=expr)
    else:
        assert got[2] == want[2], expr
    return None


# ----- promotion -----

PROMOTION = [
    # the examples: NumPy's rules made all three float64
    "L.tensor([1., 2.]) * L.tensor(2.0, dtype=L.float64)",
    "L.tensor([1, 2]) / 2",
    "L.tensor(3) * 2.5",
    "L.tensor([1, 2]) + L.tensor([1.5, 2.5])",
    "L.tensor([1, 2], dtype=L.int32) + L.tensor(1.0, dtype=L.float64)",
    "L.tensor([1, 2], dtype=L.int8) + L.tensor(1000)",
    "L.tensor([1, 2], dtype=L.int8) + 1000",
    "L.tensor([1, 2], dtype=L.uint8) - 5",
    "L.tensor([44, 1], dtype=L.int8) == 300",
    "L.tensor([1, 2], dtype=L.int8) < 1000",
    "L.tensor([1], dtype=L.uint8) + L.tensor([1], dtype=L.int8)",
    "L.tensor([1], dtype=L.uint8) + L.tensor(1, dtype=L.int8)",
    "L.tensor(1.0) + L.tensor(1.0, dtype=L.float64)",
    "L.tensor(1) + L.tensor(1.0, dtype=L.float16)",
    "L.tensor([1]) + 1j",
    "L.tensor([1.], dtype=L.float64) + 1j",
    "L.tensor([1., 2.], dtype=L.float64) + L.tensor(1j)",
    "L.tensor([True]) * 2.5",
    "L.tensor([True]) + L.tensor([True])",
    "L.tensor([True]) - 1",
    "L.tensor([1]) - True",
    "L.tensor([5], dtype=L.int32) // 2",
    "L.tensor([5], dtype=L.int32) // 2.0",
    "L.tensor([5]) % L.tensor(2.0, dtype=L.float64)",
    "7 % L.tensor([3, -2])",
    "7.5 // L.tensor([2, 3])",
    "L.tensor([5]) // 0",
    "L.tensor([5.]) // 0",
    "L.tensor([5]) ** -1",
    "L.tensor([0, 1, -1, 2]) ** L.tensor([-1, -1, -3, -2])",
    "L.tensor([5]) ** 2.0",
    "2 ** L.tensor([5])",
    "L.tensor([True]) ** False",
    "L.tensor([True]) ** L.tensor([True])",
    "L.where(L.tensor([True, False]), 1.0, L.tensor([1, 2]))",
    "L.where(L.tensor([True, False]), L.tensor(1.0, dtype=L.float64), L.tensor([1., 2.]))",
    "L.where(L.tensor([True, False]), 1, 2)",
    "L.where(L.tensor([True, False]), L.tensor([1, 2], dtype=L.int8), 300)",
    "L.maximum(L.tensor([1, 4]), L.tensor(2.5))",
    "L.minimum(L.tensor([1., 4.]), L.tensor([2, 3]))",
    "L.maximum(L.tensor([1j]), L.tensor([2j]))",
    "L.tensor([1j]) < L.tensor([2j])",
    "L.clamp(L.tensor([1, 5]), min=2.5)",
    "L.clamp(L.tensor([1, 5]), min=L.tensor([2.]))",
    "L.clamp(L.tensor([1., 5.]), min=L.tensor(2, dtype=L.float64))",
    "L.clamp(L.tensor([1., 5.]), min=L.tensor([2.], dtype=L.float64))",
    "L.clamp(L.tensor([1, 5]), min=L.tensor([2], dtype=L.int32), max=L.tensor(4.0, dtype=L.float64))",
    "L.tensor([[1.]]) @ L.tensor([[1.]], dtype=L.float64)",
    "L.tensor([[1]]) @ L.tensor([[1.]])",
    "L.cat([L.tensor([1]), L.tensor([1.5])])",
    "L.cat([L.tensor([1.]), L.tensor([1.], dtype=L.float64)])",
    "L.cat([L.tensor([1], dtype=L.int8), L.tensor([1], dtype=L.uint8)])",
    "L.stack([L.tensor(1), L.tensor(1.5)])",
]


@pytest.mark.parametrize("expr", PROMOTION)
def test_promotion_like_torch(expr):
    assert_like_torch(expr)


def test_promote_types_and_can_cast_like_torch():
    for a, b in itertools.product(DTYPES, repeat=2):
        want = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "")
        assert str(cr.promote_types(getattr(cr, a), getattr(cr, b))) == want, (a, b)
        assert cr.can_cast(getattr(cr, a), getattr(cr, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b)), (
            a,
            b,
        )


def _operands():
    """(torch operand, chainrule operand) for each dtype as a tensor with dims and as a 0-d tensor,
    and each kind of Python number."""
    out = []
    for shape in ((2,), ()):
        for d in DTYPES:
            out.append((torch.ones(shape, dtype=getattr(torch, d)), cr.ones(*shape, dtype=getattr(cr, d))))
    out += [(v, v) for v in (True, 3, 1.5, 2j)]
    return out


def test_result_type_like_torch_for_every_operand_pair():
    checked = 0
    for (ta, ca), (tb, cb) in itertools.product(_operands(), repeat=2):
        want = str(torch.result_type(ta, tb)).replace("torch.", "")
        if want == "complex32":  # NumPy has no complex32 (documented in docs/compat/dtypes.md)
            continue
        assert str(cr.result_type(ca, cb)) == want, (ta, tb)
        checked += 1
    assert checked > 600


def test_default_dtype_decides_python_floats():
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert_like_torch("L.tensor([1, 2]) / 2")
        assert_like_torch("L.tensor([1, 2]) * 2.5")
        assert_like_torch("L.tensor([1, 2]) + 1j")
    finally:
        cr.set_default_dtype(cr.float32)
        torch.set_default_dtype(torch.float32)


def test_gradients_keep_each_leafs_dtype_through_promotion():
    grads = []
    for lib in (torch, cr):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        s = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
        y = x * s
        y.sum().backward()
        grads.append((str(y.dtype), str(x.grad.dtype), str(s.grad.dtype), x.grad.tolist(), s.grad.item()))
    want, got = grads
    assert got[0] == want[0].replace("torch.", "") == "float32"
    assert got[1:3] == tuple(d.replace("torch.", "") for d in want[1:3])
    assert got[3:] == want[3:]


# ----- in-place -----

INPLACE = [
    "L.tensor([1, 2]).add_(0.5)",
    "L.tensor([1, 2]).mul_(L.tensor(0.5))",
    "L.tensor([1, 2]).div_(2)",
    "L.tensor([1, 2]).pow_(0.5)",
    "L.tensor([1, 2]).clamp_(min=0.5)",
    "L.tensor([True]).add_(1)",
    "L.tensor([1., 2.]).add_(1j)",
    "L.tensor([1., 2.]).add_(L.tensor([1, 2]))",
    "L.tensor([1., 2.]).add_(L.tensor([1., 2.], dtype=L.float64))",
    "L.tensor([1, 2], dtype=L.int32).add_(L.tensor([1, 2]))",
    "L.tensor([1., 2.]).pow_(L.tensor([2]))",
    "L.tensor([1., 2.], dtype=L.float16).mul_(3.5)",
    "L.tensor([True]).mul_(L.tensor([True]))",
    "L.tensor(1).add_(L.tensor([1, 2]))",
]


@pytest.mark.parametrize("expr", INPLACE)
def test_inplace_like_torch(expr):
    assert_like_torch(expr)


def test_inplace_operators_refuse_unsafe_casts_naming_op_dtypes_and_fix():
    for stmt in ("x += 0.5", "x /= 2", "x //= 2.0", "x -= cr.tensor([0.5, 0.5])"):
        x = cr.tensor([1, 2])
        with pytest.raises(RuntimeError) as info:
            exec(stmt, {"x": x, "cr": cr})
        message = str(info.value)
        assert "float32" in message and "int64" in message and "out-of-place" in message, message
        with pytest.raises(RuntimeError):  # torch refuses the same statement
            exec(stmt.replace("cr.", "torch."), {"x": torch.tensor([1, 2]), "torch": torch})
    x = cr.tensor([1.0, 2.0])
    x += cr.tensor([1, 2])
    assert x.dtype == cr.float32 and x.tolist() == [2.0, 4.0]


def test_inplace_cast_back_keeps_the_graph():
    for lib in (torch, cr):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        y = a * 1
        y += lib.tensor([1.0, 1.0], dtype=lib.float64)
        y.sum().backward()
        assert str(y.dtype).endswith("float32") and a.grad.tolist() == [1.0, 1.0]


# ----- construction -----

CONSTRUCTION = [
    "L.tensor(2**63)",
    "L.tensor([1, 2**64])",
    "L.tensor([1, 2**63])",
    "L.tensor(2**63 - 1)",
    "L.tensor(-2**63)",
    "L.tensor([2**64, 1.5])",
    "L.tensor(2**64, dtype=L.float32)",
    "L.tensor(2**64, dtype=L.bool)",
    "L.tensor(300, dtype=L.uint8)",
    "L.tensor(-1, dtype=L.uint8)",
    "L.tensor([-255], dtype=L.uint8)",
    "L.tensor([-300], dtype=L.uint8)",
    "L.tensor([128], dtype=L.int8)",
    "L.tensor(-128, dtype=L.int8)",
    "L.tensor(2**40, dtype=L.int32)",
    "L.tensor(1e10, dtype=L.int32)",
    "L.tensor(float('nan'), dtype=L.int32)",
    "L.tensor(2.5, dtype=L.int32)",
    "L.tensor(-2.5, dtype=L.uint8)",
    "L.tensor(1e40, dtype=L.float32)",
    "L.tensor(1e5, dtype=L.float16)",
    "L.tensor(np.array([300]), dtype=L.uint8)",
    "L.tensor([1.5, True])",
    "L.tensor([1, True])",
    "L.tensor([1, 1j])",
]


@pytest.mark.parametrize("expr", CONSTRUCTION)
def test_construction_like_torch(expr):
    assert_like_torch(expr)


LEGACY = [
    "L.Tensor([1, 2])",
    "L.Tensor([True])",
    "L.Tensor(np.array([1, 2]))",
    "L.Tensor(np.array([1., 2.]))",
    "L.Tensor(L.tensor([1, 2]))",
    "L.Tensor()",
    "L.Tensor((2, 3))",
    "L.Tensor(0)",
    "L.Tensor(-1)",
    "L.Tensor(2.5)",
    "L.Tensor(2, 3).shape == (2, 3)",
    "L.Tensor(2, 3).dtype == L.float32",
    "L.Tensor(3).shape == (3,)",
    "L.LongTensor([1.5, 2])",
    "L.LongTensor(2, 3).shape == (2, 3)",
    "L.LongTensor(L.tensor([1.5]))",
    "L.FloatTensor([1, 2])",
    "L.DoubleTensor([1])",
    "L.HalfTensor([1])",
    "L.IntTensor([1])",
    "L.ShortTensor(2, 2).dtype == L.int16",
    "L.CharTensor([1, -1])",
    "L.ByteTensor([1, 300])",
    "L.ByteTensor([1, 2])",
    "L.BoolTensor([1, 0])",
    "isinstance(L.tensor([1.]), L.FloatTensor)",
    "isinstance(L.tensor([1]), L.FloatTensor)",
    "isinstance(L.tensor([1]), L.LongTensor)",
]


@pytest.mark.parametrize("expr", LEGACY)
def test_legacy_constructors_like_torch(expr):
    assert_like_torch(expr)


def test_legacy_tensor_shares_a_tensors_storage():
    t = cr.tensor([1.0, 2.0])
    alias = cr.Tensor(t)
    alias[0] = 5.0
    assert t.tolist() == [5.0, 2.0]


# ----- float16 reductions accumulate in float32 -----

HALF = [
    "L.tensor(np.linspace(-3, 3, 4001), dtype=L.float16).{}",
    "L.tensor([60000., 60000.], dtype=L.float16).{}",
]
REDUCTIONS = [
    "sum()",
    "mean()",
    "var()",
    "std()",
    "norm()",
    "logsumexp(0)",
    "softmax(0)",
    "log_softmax(0)",
    "prod()",
    "sum(0)",
    "mean(0, keepdim=True)",
]


@pytest.mark.parametrize("expr", [h.format(r) for h in HALF for r in REDUCTIONS])
def test_float16_reductions_like_torch(expr):
    if "linspace" in expr and "prod" in expr:
        expr = expr.replace("np.linspace(-3, 3, 4001)", "np.linspace(0.9, 1.1, 301)")
    assert_like_torch(expr, rtol=1e-3)


def test_float16_mean_does_not_overflow_in_its_sum():
    # Summed in float16 first (the old behaviour), 60000 + 60000 is inf before the division.
    got = cr.tensor([60000.0, 60000.0], dtype=cr.float16).mean()
    assert got.dtype == cr.float16 and float(got) == float(torch.tensor([60000.0, 60000.0], dtype=torch.float16).mean())
