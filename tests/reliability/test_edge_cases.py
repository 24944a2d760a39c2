"""Numerical edge cases across the whole op table (issue 5; CONTRIBUTING.md, "Numerics").

Every OpSpec in tests/opinfo.py runs on inputs holding +-1000, 0, -0.0, denormals, +-inf and NaN, in
float32 and float64 (one special element, and every element special), and on empty and 0-d tensors:
- no exception except the documented ones (binary_cross_entropy refuses probabilities outside [0, 1]);
- the forward's NaN / +inf / -inf pattern is the NumPy reference's, where the spec has one;
- no RuntimeWarning from ops that promise IEEE results silently (a fixed list of known offenders is
  checked not to grow; see RELIABILITY.md);
- gradients are NaN only where the math says: never when every input and the output are finite, and
  for elementwise ops only at the positions whose input or output is not finite.
Plus very deep (100,000 ops) and very wide (10,000 inputs to one sum) graphs.
"""

import re
import sys
import warnings
import zlib

import numpy as np
import pytest

import chainrule as cr
from opinfo import OP_TABLE, SPECS

SPECIALS = {
    np.float64: [1000.0, -1000.0, 0.0, -0.0, 5e-324, 1e-310, np.inf, -np.inf, np.nan],
    np.float32: [1000.0, -1000.0, 0.0, -0.0, 1e-45, 1e-40, np.inf, -np.inf, np.nan],  # float32 denormals
}
MODES = ("one", "all")
MAX_CASES = 3  # the first cases cover 0-d, 1-d and 2-d (and broadcasting) samples; keeps the file fast

# Losses: only the prediction gets special values (a target of -inf is not an input anyone has).
TARGET_ARGS = {
    "cross_entropy_probs",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "bce_with_logits",
    "bce_with_logits_pos_weight",
}

# Documented exceptions: (spec name, exception type, message fragment).
DOCUMENTED_ERRORS = {"binary_cross_entropy": (RuntimeError, "probabilities in [0, 1]")}

# Documented forward deviations from the NumPy reference's NaN/inf pattern.
FORWARD_DEVIATIONS = {
    # PyTorch's BCELoss clamps the logs at -100, so p = 0 or 1 gives a finite loss where
    # the textbook formula's 0 * log(0) is NaN (CONTRIBUTING.md, "Numerics").
    "binary_cross_entropy": lambda value: True,
    # An infinite logit: softplus(z) - t z is inf - inf = NaN at z = +inf (the reference's form gives inf,
    # and NaN at -inf instead); garbage in, no finite answer either way.
    "bce_with_logits": lambda value: np.isinf(value),
    # A -inf logit: ours gives +inf (the true limit), the reference's -inf * 0 gives NaN.
    "cross_entropy_ignore_smooth": lambda value: value == -np.inf,
}

# Ops known to let a NumPy RuntimeWarning escape on inf/NaN inputs (the result itself is the IEEE one).
# Found by this test; see RELIABILITY.md. The list may shrink, never grow.
KNOWN_WARNING_OPS = {
    "sin",
    "cos",
    "gelu",
    "softplus",
    "silu",
    "mish",
    "sub",
    "matmul",
    "prod_with_zero",
    "var",
    "std",
    "var_biased",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "cross_entropy_weighted",
    "cross_entropy_ignore_smooth",
    "cross_entropy_probs",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "bce_with_logits",
    "bce_with_logits_pos_weight",
    "add",
    "mul",
    "div",
    "pow",
    "pow_scalar",
    "rpow",
    "norm",
    "logsumexp",
    "outer",
    "dot",
    "sum",
    "mean",
    "linear",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "softmax_cross_entropy",
    "group_norm",  # mean and variance over a group holding inf: inf - inf, as var
    "interpolate",  # linear weights of 0 against an inf: 0 * inf, torch's NaN too (tests/nn/test_layers16_torch.py)
}

# NaN gradients at finite inputs with a finite output, where the math has no finite answer either.
KNOWN_GRAD_NAN = {
    "pow": "d/dy x^y = x^y ln x is undefined for x < 0 (NaN, as in PyTorch)",
}

ELEMENTWISE = {
    spec.name
    for spec in OP_TABLE
    if all(len(shapes) == 1 for shapes, _ in spec.cases)
    and spec.name
    in {
        "neg",
        "exp",
        "log",
        "log1p",
        "expm1",
        "log2",
        "log10",
        "sqrt",
        "rsqrt",
        "square",
        "reciprocal",
        "abs",
        "sin",
        "cos",
        "tan",
        "tanh",
        "sigmoid",
        "erf",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "softplus",
        "silu",
        "mish",
        "clamp",
        "clone",
        "cast_f64",
        "pow_scalar",
        "rpow",
    }
}

RESULTS = {"runs": 0, "warned": set(), "grad_nan": set(), "by_spec": {}}


def _args(spec, case, dtype, value, mode):
    rng = np.random.default_rng(zlib.crc32(f"{spec.name}-{case}".encode()))
    base, kwargs = spec.sample(case, rng)
    wrt = spec.differentiable(base)
    special = wrt[:1] if spec.name in TARGET_ARGS else wrt
    args = []
    for j, a in enumerate(base):
        a = np.array(a)
        if j in wrt:
            a = a.astype(dtype)
            if j in special:
                if mode == "all":
                    a[...] = value
                elif a.size:
                    a.flat[0] = value
        args.append(a)
    return args, kwargs, wrt


def _pattern(a):
    a = np.asarray(a)
    return np.isnan(a), np.isposinf(a), np.isneginf(a)


def _same_pattern(a, b):
    return all(np.array_equal(x, y) for x, y in zip(_pattern(a), _pattern(b)))


def _run_one(spec, case, dtype, value, mode):
    """Check one (op, case, dtype, special value, mode); returns a list of failure strings."""
    failures = []
    args, kwargs, wrt = _args(spec, case, dtype, value, mode)
    label = f"{spec.name}[{case}] {np.dtype(dtype).name} {value!r} {mode}"
    tensors = [cr.tensor(a, requires_grad=True) if j in wrt else a for j, a in enumerate(args)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = spec.fn(*tensors, **kwargs)
        except Exception as e:  # noqa: BLE001 - classified below
            doc = DOCUMENTED_ERRORS.get(spec.name)
            if doc is None or not isinstance(e, doc[0]) or doc[1] not in str(e):
                failures.append(f"{label}: forward raised {type(e).__name__}: {e}")
            return failures
        try:
            inputs = [tensors[j] for j in wrt]
            grads = cr.autograd.grad(out, inputs, grad_outputs=cr.ones_like(out), allow_unused=True)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{label}: backward raised {type(e).__name__}: {e}")
            return failures
    if any(issubclass(w.category, RuntimeWarning) for w in caught):
        RESULTS["warned"].add(spec.name)
        if spec.name not in KNOWN_WARNING_OPS:
            failures.append(f"{label}: RuntimeWarning escaped: {caught[0].message}")
    if out.dtype != np.dtype(dtype) and spec.keeps_dtype and out.dtype.kind == "f":
        failures.append(f"{label}: output dtype {out.dtype}")
    deviation = FORWARD_DEVIATIONS.get(spec.name)
    if spec.ref is not None and not (deviation and deviation(value)):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ref = np.asarray(spec.ref(*args, **kwargs))
            except Exception:  # noqa: BLE001 - NumPy refuses too: nothing to compare
                ref = None
        if ref is not None:
            if out.shape != ref.shape:
                failures.append(f"{label}: shape {out.shape} vs reference {ref.shape}")
            elif not _same_pattern(out._data, ref):
                failures.append(f"{label}: NaN/inf pattern {out._data.ravel()[:6]} vs reference {ref.ravel()[:6]}")
    finite_in = all(np.isfinite(args[j]).all() for j in wrt)
    finite_out = np.isfinite(out._data).all()
    for j, g in zip(wrt, grads):
        if g is None:
            continue
        nan = np.isnan(g._data)
        if not nan.any():
            continue
        if finite_in and finite_out:
            RESULTS["grad_nan"].add(spec.name)
            if spec.name not in KNOWN_GRAD_NAN:
                failures.append(f"{label}: NaN gradient for finite input and output: {g._data.ravel()[:6]}")
        elif spec.name in ELEMENTWISE:
            allowed = ~np.isfinite(args[j]) | ~np.isfinite(out._data)
            if (nan & ~allowed).any():
                failures.append(f"{label}: NaN gradient at positions with finite input and output")
    return failures


@pytest.mark.parametrize("spec", OP_TABLE, ids=[s.name for s in OP_TABLE])
def test_special_values(spec):
    failures = []
    n = 0
    for case in range(min(len(spec.cases), MAX_CASES)):
        for dtype, values in SPECIALS.items():
            for value in values:
                for mode in MODES:
                    failures += _run_one(spec, case, dtype, value, mode)
                    n += 1
    RESULTS["runs"] += n
    RESULTS["by_spec"][spec.name] = n
    assert not failures, f"{len(failures)} of {n} runs failed:\n" + "\n".join(failures[:20])


def test_known_lists_name_real_specs():
    names = KNOWN_WARNING_OPS | set(KNOWN_GRAD_NAN) | set(FORWARD_DEVIATIONS) | set(DOCUMENTED_ERRORS) | TARGET_ARGS
    missing = sorted(n for n in names if n not in SPECS)
    assert not missing or all(n.startswith("conv_transpose") for n in missing), missing


def test_subgradient_zero_where_pytorch_picks_it():
    """norm at the zero vector, std of a constant slice, and x^y at 0^0 have gradient 0, not 0/0 = NaN."""
    x = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    cr.norm(x).backward()
    np.testing.assert_array_equal(x.grad._data, np.zeros(3))
    for p in (1, 3, 0.5):
        z = cr.zeros(3, dtype=cr.float64, requires_grad=True)
        cr.norm(z, p=p).backward()
        np.testing.assert_array_equal(z.grad._data, np.zeros(3))
    y = cr.full((4,), 1000.0, dtype=cr.float64, requires_grad=True)
    cr.std(y).backward()
    np.testing.assert_array_equal(y.grad._data, np.zeros(4))
    a = cr.zeros(2, dtype=cr.float64, requires_grad=True)
    b = cr.zeros(2, dtype=cr.float64, requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad._data, np.zeros(2))
    np.testing.assert_array_equal(b.grad._data, np.zeros(2))


# ----- empty and 0-d tensors -----

# Ops whose empty-input refusal is a raw NumPy message (found by this test; see RELIABILITY.md).
RAW_EMPTY_ERRORS = {}
# Backward crashes on empty inputs (found by this test; see RELIABILITY.md).
EMPTY_BACKWARD_BUGS = {}


def _shrink(shape):
    return tuple(0 if i == 0 else n for i, n in enumerate(shape))


@pytest.mark.parametrize("spec", [s for s in OP_TABLE if s.make_args is None], ids=lambda s: s.name)
def test_empty_and_zero_d(spec):
    """Empty inputs (first dim 0) and 0-d inputs: the op works where NumPy does, with NumPy's shape,
    and backward gives gradients of the input's shape; where NumPy refuses, ours raises a clear error."""
    checked = 0
    for shapes, kwargs in spec.cases:
        for variant in ("empty", "0d"):
            if variant == "empty":
                if not any(len(s) for s in shapes):
                    continue
                new = [_shrink(s) for s in shapes]
            else:
                if any(len(s) for s in shapes):
                    continue
                new = list(shapes)
            args = [np.full(s, 0.5) for s in new]
            wrt = spec.differentiable(args)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ref = np.asarray(spec.ref(*args, **kwargs)) if spec.ref is not None else None
                except Exception:  # noqa: BLE001 - NumPy's reference refusing an empty input: no shape to compare
                    ref = None
            tensors = [cr.tensor(a, requires_grad=True) if j in wrt else a for j, a in enumerate(args)]
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out = spec.fn(*tensors, **kwargs)
                if caught and spec.name not in KNOWN_WARNING_OPS:
                    raise AssertionError(f"{spec.name} {new}: RuntimeWarning escaped: {caught[0].message}")
            except (RuntimeError, ValueError, IndexError) as e:
                # Refusing an empty input is allowed (PyTorch refuses some too), but the error must be
                # ours: it names the op ("op: ..."), not a raw NumPy message.
                if spec.name not in RAW_EMPTY_ERRORS:
                    assert re.match(r"^[\w./]+( \w+)?: ", str(e)), f"{spec.name} {new}: raw error {e!r}"
                RESULTS.setdefault("empty_refused", set()).add(spec.name)
                checked += 1
                continue
            if ref is not None:
                assert out.shape == ref.shape, (spec.name, new, out.shape, ref.shape)
                assert _same_pattern(out._data, ref), (spec.name, new, out._data, ref)
            try:
                grads = cr.autograd.grad(
                    out, [tensors[j] for j in wrt], grad_outputs=cr.ones_like(out), allow_unused=True
                )
            except ValueError as e:
                assert spec.name in EMPTY_BACKWARD_BUGS, f"{spec.name} {new}: backward raised {e!r}"
                continue
            for j, g in zip(wrt, grads):
                assert g is None or g.shape == args[j].shape
            checked += 1
    RESULTS.setdefault("empty_0d", {})[spec.name] = checked


# ----- deep and wide graphs -----


def test_deep_graph_100k_ops():
    """A chain of 100,000 ops: no RecursionError, the exact gradient, under the default recursion limit."""
    limit = sys.getrecursionlimit()
    x = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0
        y = y + 0.0
    assert sys.getrecursionlimit() == limit
    y.backward()
    assert x.grad.item() == 1.0
    x.grad = None
    z = x
    for _ in range(100_000):
        z = z * 0.99999
    z.backward()
    np.testing.assert_allclose(x.grad.item(), 0.99999**100_000, rtol=1e-9)


def test_wide_graph_10k_inputs_to_one_sum():
    xs = [cr.tensor(float(i), dtype=cr.float64, requires_grad=True) for i in range(10_000)]
    total = cr.stack(xs).sum()
    total.backward()
    assert total.item() == sum(range(10_000))
    assert all(x.grad.item() == 1.0 for x in xs)
    # and as a 10,000-term Python sum (a chain of adds fanning in from 10,000 leaves)
    for x in xs:
        x.grad = None
    s = sum(x * x for x in xs)
    s.backward()
    assert all(x.grad.item() == 2.0 * i for i, x in enumerate(xs))


def test_one_tensor_used_10k_times():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    terms = [x * float(k) for k in range(10_000)]
    cr.stack(terms).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [sum(range(10_000))] * 2)


def test_huge_pooling_kernels_and_recurrent_sizes_are_refused_cleanly():
    """Found by the API fuzzer: avg_pool with ceil_mode, a kernel of 2**31 and half of it as padding built
    an 8 GiB kernel of ones; nn.GRU(hidden_size=inf) overflowed. Both are now one-line refusals."""
    import subprocess
    import sys

    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))\n"
        "import chainrule as cr, chainrule.nn.functional as F\n"
        "try:\n"
        "    F.avg_pool1d(cr.randn(1, 1, 4), 2**31, stride=1, padding=2**30, ceil_mode=True)\n"
        "except RuntimeError as e:\n"
        "    assert str(e).startswith('avg_pool1d: '), e\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr[-2000:]
    for layer in (cr.nn.GRU, cr.nn.LSTM, cr.nn.RNN):
        with pytest.raises(TypeError, match="hidden_size"):
            layer(4, float("inf"))


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_recurrent_layers_refuse_a_layer_count_past_memory_before_making_any(cls):
    # num_layers=2**31 once made layer after layer for hours (the API fuzzer's hang at seed 0): the whole
    # size is refused before the first layer is made
    with pytest.raises(RuntimeError, match="the parameters of 2147483648 layers would take"):
        getattr(cr.nn, cls)(5, 2, num_layers=2**31)
    torch = pytest.importorskip("torch")  # the estimate is exact for a size that fits
    for bias in (True, False):
        ours = getattr(cr.nn, cls)(3, 4, num_layers=3, bidirectional=True, bias=bias)
        theirs = getattr(torch.nn, cls)(3, 4, num_layers=3, bidirectional=True, bias=bias)
        assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
