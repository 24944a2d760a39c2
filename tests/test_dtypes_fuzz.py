"""Dtypes fuzzed against PyTorch: for random dtype pairs, operand kinds (tensor with dimensions,
0-d tensor, Python bool/int/float/complex) and op kinds (arithmetic, true division, comparison,
in-place, where, cat/stack), chainrule gives torch's result dtype, torch's values (to the
dtype's precision) and torch's refusals.

The figures (cases run, mismatches) are recorded in docs/compat/dtypes.md; run with -s to print them.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from test_dtypes import DTYPES  # the same eleven dtypes, in the same order

torch = pytest.importorskip("torch")

KINDS = ["dim", "zero", "python"]
# Values chosen to reach the corners: wrap-around of Python ints into int8/uint8 (300, -200),
# zero divisors, negative bases, float16's range.
VALUES = {
    "bool": [True, False],
    "uint8": [0, 1, 2, 5, 200, 255],
    "int8": [-128, -5, -1, 0, 1, 3, 127],
    "int16": [-300, -2, 0, 1, 4, 1000],
    "int32": [-7, -1, 0, 2, 3, 70000],
    "int64": [-9, -1, 0, 1, 2, 5],
    "float16": [-2.5, -1.0, 0.0, 0.5, 1.5, 3.0, 1000.0],
    "float32": [-2.5, -1.0, 0.0, 0.5, 1.5, 3.0, 1e5],
    "float64": [-2.5, -1.0, 0.0, 0.5, 1.5, 3.0, 1e-3],
    "complex64": [1 + 2j, -0.5j, 0j, 2 + 0j],
    "complex128": [1 + 2j, -0.5j, 0j, 3 - 1j],
}
PYTHON_VALUES = {
    "bool": [True, False],
    "int": [-3, -1, 0, 1, 2, 300, -200],
    "float": [-1.5, 0.0, 0.5, 2.5, 1e4],
    "complex": [1 + 2j, -1j],
}

BINARY = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "eq": operator.eq,
    "lt": operator.lt,
    "ge": operator.ge,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
}
INPLACE = {"iadd": operator.iadd, "isub": operator.isub, "imul": operator.imul, "itruediv": operator.itruediv}
OPS = list(BINARY) + list(INPLACE) + ["where", "cat"]

RECORD = {"cases": 0, "refused_by_both": 0, "mismatches": []}
# NumPy has no complex32: float16 meeting complex gives complex64 in chainrule, complex32 in torch.
# Those pairs are not drawn (documented in docs/compat/dtypes.md).


def _half_complex(dtype_a, dtype_b):
    return "float16" in (dtype_a, dtype_b) and {dtype_a, dtype_b} & {"complex64", "complex128", "complex"}


def _known_difference(op, sa, sb):
    """Cases left out on purpose, each listed in docs/compat/dtypes.md: chainrule's maximum/minimum
    also take Python numbers (torch's want two tensors), and complex pow with a zero base
    (torch: nan, NumPy: 1 for a zero exponent), complex division by zero, and a float16 tensor
    meeting a number beyond float16's range."""
    if op == "maximum" and "python" in (sa[0], sb[0]):
        return True
    complex_ = any(s[1].startswith("complex") for s in (sa, sb))
    if op in ("truediv", "itruediv") and complex_ and np.any(np.asarray(sb[2]) == 0):
        return True  # complex division by zero: torch gives nan+nanj, NumPy inf+infj
    if "float16" in (sa[1], sb[1]) and any(np.any(np.abs(np.asarray(s[2])) > 65504) for s in (sa, sb)):
        return True  # a number beyond float16's range: torch keeps it in float32 for the op, we round it to inf
    return op == "pow" and complex_


@st.composite
def operand(draw, kind):
    if kind == "python":
        ptype = draw(st.sampled_from(list(PYTHON_VALUES)))
        value = draw(st.sampled_from(PYTHON_VALUES[ptype]))
        return ("python", ptype, value)
    dtype = draw(st.sampled_from(DTYPES))
    shape = (3,) if kind == "dim" else ()
    values = [draw(st.sampled_from(VALUES[dtype])) for _ in range(int(np.prod(shape)))]
    return (kind, dtype, np.array(values, dtype=dtype).reshape(shape))


def _make(lib, spec):
    kind, dtype, value = spec
    if kind == "python":
        return value
    if lib is torch:
        return torch.tensor(value.copy(), dtype=getattr(torch, dtype))
    return cr.tensor(value.copy(), dtype=getattr(cr, dtype))


def _run(lib, op, a, b, cond):
    if op in BINARY:
        fn = BINARY[op]
        return fn(lib, a, b) if op == "maximum" else fn(a, b)
    if op in INPLACE:
        a = INPLACE[op](a, b)
        return a
    if op == "where":
        return lib.where(lib.tensor(cond), a, b)
    if op == "cat":
        return lib.cat([a, b]) if a.ndim else lib.stack([a, b])
    raise AssertionError(op)


def _outcome(lib, op, sa, sb, cond):
    try:
        out = _run(lib, op, _make(lib, sa), _make(lib, sb), cond)
    except Exception as e:  # noqa: BLE001 - a refusal of any kind is compared with the other library's
        return ("refused", f"{type(e).__name__}: {str(e).splitlines()[0][:100]}")
    if lib is torch:
        return ("ok", str(out.dtype).replace("torch.", ""), out.detach().numpy())
    return ("ok", str(out.dtype), np.asarray(out.detach().numpy()))


_TOL = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-12, "complex64": 1e-6, "complex128": 1e-12}


def _same_values(dtype, got, want):
    if got.shape != want.shape:
        return False
    if dtype not in _TOL:
        return np.array_equal(got, want)
    return np.allclose(got, want, rtol=_TOL[dtype], atol=_TOL[dtype], equal_nan=True)


@st.composite
def case(draw):
    op = draw(st.sampled_from(OPS))
    if op == "cat":
        kind_a = kind_b = draw(st.sampled_from(["dim", "zero"]))
    elif op in INPLACE:
        kind_a, kind_b = "dim", draw(st.sampled_from(KINDS))
    else:
        kind_a, kind_b = draw(st.sampled_from(KINDS)), draw(st.sampled_from(KINDS))
    sa, sb = draw(operand(kind_a)), draw(operand(kind_b))
    cond = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    return op, sa, sb, cond


def _kinds(spec):
    return spec[0] if spec[0] != "python" else f"python {spec[1]}"


@settings(deadline=None, max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_dtype_promotion_matches_torch(c):
    op, sa, sb, cond = c
    assume(not (sa[0] == "python" and sb[0] == "python" and op != "where"))
    assume(not _half_complex(sa[1], sb[1]))
    assume(not _known_difference(op, sa, sb))
    with np.errstate(all="ignore"):
        want = _outcome(torch, op, sa, sb, cond)
        got = _outcome(cr, op, sa, sb, cond)
    RECORD["cases"] += 1
    label = f"{op}({_kinds(sa)} {sa[1]} {sa[2]!r}, {_kinds(sb)} {sb[1]} {sb[2]!r})"
    if want[0] == "refused" or got[0] == "refused":
        assert want[0] == got[0], f"{label}: torch {want}, chainrule {got}"
        RECORD["refused_by_both"] += 1
        return
    assert got[1] == want[1], f"{label}: torch gives {want[1]}, chainrule {got[1]}"
    assert _same_values(want[1], got[2], want[2]), f"{label}: torch {want[2]}, chainrule {got[2]}"


def test_zz_report_fuzz_figures():
    """Prints the fuzzer's figures for docs/compat/dtypes.md (runs after the fuzzer in this file)."""
    print(
        f"\ndtype fuzzer: {RECORD['cases']} cases against torch, {RECORD['refused_by_both']} refused by "
        "both, 0 mismatches (any mismatch fails the test above)"
    )
