"""Differential fuzzer: random float64 inputs and random argument combinations, run in chainrule and in torch.

Each case compares forward values, output structure/shapes/dtypes, the gradients of a random weighted sum of
the outputs (and the second-order gradient where cheap) and refusals (both raise or neither); see
tests/_differential.py. Optimizers, schedulers and clip_grad_norm_ are compared step by step; the Module API
by its lists of names. The suite runs twice the listed max_examples; set HUNT_EXAMPLES=<factor> to change
that (docs/compat/hunt.md records a long run).

Deliberate differences are not drawn (each is listed in docs/compat/hunt.md): mse_loss/l1_loss refuse a
target that only broadcasts; logsumexp accepts dim=None and prod a tuple of dims (torch refuses both); a
class weight may require grad; pad supports only mode='constant' with non-negative widths; var/std with
correction >= the count give nan gradients where torch gives +-inf.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from _differential import OUTCOMES, Mismatch, compare

SCALE = float(os.environ.get("HUNT_EXAMPLES", "2"))
CASES = {}


def fuzz(n):
    return settings(
        deadline=None,
        max_examples=max(1, int(n * SCALE)),
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _count(name):
    CASES[name] = CASES.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report_cases():
    yield
    print(
        f"\ntorch differential fuzzer: {sum(CASES.values())} fuzzed cases ("
        + ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
        + f"); {OUTCOMES['ok'] + OUTCOMES['refused']} comparisons with torch, {OUTCOMES['refused']} of them "
        "refused by both"
    )


shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


def _data(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


# ----- reductions -----


def _dim_forms(draw, ndim):
    forms = [None, ()]
    if ndim:
        forms += list(range(-ndim, ndim))
        forms.append(tuple(draw(st.sets(st.integers(0, ndim - 1), min_size=1, max_size=ndim))))
        forms.append(list(draw(st.sets(st.integers(-ndim, -1), min_size=1, max_size=ndim))))
    else:
        forms += [0, -1]
    return draw(st.sampled_from(forms))


SMOOTH = {"sum", "mean", "prod", "logsumexp", "var", "std"}


@st.composite
def reduction_case(draw):
    shape = draw(shapes)
    op = draw(
        st.sampled_from(
            [
                "sum",
                "mean",
                "prod",
                "amax",
                "amin",
                "logsumexp",
                "var",
                "std",
                "norm",
                "max",
                "min",
                "argmax",
                "argmin",
                "all",
                "any",
            ]
        )
    )
    dim = _dim_forms(draw, len(shape))
    keepdim = draw(st.booleans())
    extra = {}
    n_reduced = (
        int(np.prod(shape))
        if dim in (None, ())
        else int(np.prod([shape[d] for d in ((dim,) if isinstance(dim, int) else dim)]))
        if shape
        else 1
    )
    if op in ("var", "std"):
        form = draw(st.sampled_from(["default", "unbiased", "correction"]))
        if form == "unbiased":
            extra["unbiased"] = draw(st.booleans()) if n_reduced > 1 else False
        elif form == "correction":
            extra["correction"] = draw(st.integers(0, max(0, n_reduced - 1)))
        elif n_reduced <= 1:
            extra["correction"] = 0
    if op == "norm":
        extra["p"] = draw(st.sampled_from([1, 2, 3, 0.5, 0, math.inf, -math.inf, "fro"]))
    if op in ("var", "std") and dim == ():
        dim = None  # torch's backward of var(dim=()) divides by N - correction with N = 1: +-inf gradients
    if op == "logsumexp" and dim in (None, ()):
        dim = tuple(range(len(shape)))  # torch refuses dim=None, and fails on dim=() (a shape error)
    if op == "prod" and isinstance(dim, (tuple, list)):
        dim = None if not dim or len(shape) == 0 else dim[0]  # torch's prod takes one int dim
    if op in ("argmax", "argmin", "max", "min") and isinstance(dim, (tuple, list)):
        dim = None if not dim or op in ("argmax", "argmin") else dim[0]
    return shape, op, dim, keepdim, extra


def _reduce(lib, x, op, dim, keepdim, extra, method):
    arg = x > 0 if op in ("all", "any") else x
    if dim is None and op not in ("norm", "var", "std"):
        return getattr(arg, op)() if method else getattr(lib, op)(arg)
    if op == "norm":
        return x.norm(extra["p"], dim, keepdim) if method else lib.norm(x, p=extra["p"], dim=dim, keepdim=keepdim)
    kw = dict(extra)
    return (
        getattr(arg, op)(dim, keepdim=keepdim, **kw)
        if method
        else getattr(lib, op)(arg, dim=dim, keepdim=keepdim, **kw)
    )


@fuzz(220)
@given(reduction_case(), seeds, st.booleans())
def test_reductions_match_torch(case, seed, method):
    shape, op, dim, keepdim, extra = case
    x = _data(seed, shape)
    _count("reductions")
    second = op in SMOOTH or (op == "norm" and extra["p"] in (2, 3, "fro"))
    compare(lambda lib, F, x: _reduce(lib, x, op, dim, keepdim, extra, method), [(x, True)], seed=seed, second=second)


@fuzz(40)
@given(shapes.filter(len), seeds, st.data())
def test_softmax_log_softmax_match_torch(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    op = data.draw(st.sampled_from(["softmax", "log_softmax"]))
    form = data.draw(st.sampled_from(["F", "lib", "method"]))
    x = _data(seed, shape) * 3
    _count("softmax")

    def program(lib, F, x):
        if form == "F":
            return getattr(F, op)(x, dim=dim)
        return getattr(lib, op)(x, dim) if form == "lib" else getattr(x, op)(dim)

    compare(program, [(x, True)], seed=seed, second=True)


# ----- shape ops -----


@st.composite
def shape_program(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple))
    nd = len(shape)
    d = st.integers(-nd, nd - 1)
    kind = draw(
        st.sampled_from(
            [
                "reshape",
                "flatten",
                "squeeze",
                "unsqueeze",
                "transpose",
                "permute",
                "movedim",
                "repeat",
                "flip",
                "cat",
                "stack",
                "split",
                "chunk",
                "unbind",
                "pad",
                "gather",
                "expand",
            ]
        )
    )
    if kind == "reshape":
        n = int(np.prod(shape))
        divs = [k for k in range(1, n + 1) if n % k == 0]
        a = draw(st.sampled_from(divs))
        new = draw(st.sampled_from([(-1,), (a, -1), (-1, a), (a, n // a), (1, -1, a)]))
        method = draw(st.booleans())
        return shape, lambda lib, F, x: x.reshape(*new) if method else lib.reshape(x, new)
    if kind == "flatten":
        a, b = draw(d), draw(d)
        return shape, lambda lib, F, x: lib.flatten(x, a, b)
    if kind == "squeeze":
        dim = draw(st.one_of(st.none(), d, st.lists(d, max_size=2, unique=True).map(tuple)))
        return shape, lambda lib, F, x: x.squeeze() if dim is None else lib.squeeze(x, dim)
    if kind == "unsqueeze":
        dim = draw(st.integers(-nd - 1, nd))
        return shape, lambda lib, F, x: lib.unsqueeze(x, dim)
    if kind == "transpose":
        a, b = draw(d), draw(d)
        return shape, lambda lib, F, x: x.transpose(a, b)
    if kind == "permute":
        perm = draw(st.permutations(range(nd)))
        perm = [p - nd if draw(st.booleans()) else p for p in perm]
        return shape, lambda lib, F, x: x.permute(*perm)
    if kind == "movedim":
        k = draw(st.integers(1, nd))
        src = draw(st.lists(st.integers(0, nd - 1), min_size=k, max_size=k, unique=True))
        dst = draw(st.lists(st.integers(-nd, -1), min_size=k, max_size=k, unique_by=lambda v: v % nd))
        if k == 1 and draw(st.booleans()):
            src, dst = src[0], dst[0]
        return shape, lambda lib, F, x: lib.movedim(x, src, dst)
    if kind == "repeat":
        reps = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd + 1))
        return shape, lambda lib, F, x: x.repeat(*reps)
    if kind == "flip":
        dims = draw(st.lists(d, min_size=1, max_size=nd, unique_by=lambda v: v % nd))
        method = draw(st.booleans())
        return shape, lambda lib, F, x: x.flip(*dims) if method else lib.flip(x, dims)
    if kind in ("cat", "stack"):
        dim = draw(d) if kind == "cat" else draw(st.integers(-nd - 1, nd))
        return shape, lambda lib, F, x: getattr(lib, kind)([x, x * 2, -x], dim=dim)
    if kind == "split":
        dim = draw(d)
        n = shape[dim]
        size = draw(
            st.one_of(
                st.integers(1, n + 1), st.lists(st.integers(0, n), min_size=1, max_size=3).filter(lambda v: sum(v) == n)
            )
        )
        return shape, lambda lib, F, x: lib.split(x, size, dim)
    if kind == "chunk":
        dim, c = draw(d), draw(st.integers(1, 5))
        return shape, lambda lib, F, x: x.chunk(c, dim=dim)
    if kind == "unbind":
        dim = draw(d)
        return shape, lambda lib, F, x: lib.unbind(x, dim)
    if kind == "pad":
        widths = draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * nd).filter(lambda v: len(v) % 2 == 0))
        value = draw(st.sampled_from([0.0, 1.5]))
        return shape, lambda lib, F, x: F.pad(x, widths, value=value)
    if kind == "expand":
        sizes = [draw(st.sampled_from([-1, 3])) if s == 1 else draw(st.sampled_from([-1, s])) for s in shape]
        lead = draw(st.lists(st.integers(1, 2), max_size=1))
        return shape, lambda lib, F, x: x.expand(*lead, *sizes)
    dim = draw(d)
    idx_shape = tuple(draw(st.integers(1, s)) for s in shape)
    idx = np.random.default_rng(draw(seeds)).integers(0, shape[dim], size=idx_shape)
    return shape, lambda lib, F, x: lib.gather(x, dim, lib.tensor(idx))


@fuzz(250)
@given(shape_program(), seeds)
def test_shape_ops_match_torch(case, seed):
    shape, program = case
    _count("shape ops")
    compare(program, [(_data(seed, shape), True)], seed=seed)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (1, 3, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2,), (3,)),
    ((2, 3), (4, 3)),
]


@fuzz(40)
@given(st.sampled_from(MATMUL_SHAPES), seeds, st.sampled_from(["matmul", "@", "mm", "dot", "outer"]))
def test_matmul_shapes_match_torch(shapes_, seed, op):
    a, b = shapes_
    A, B = _data(seed, a), _data(seed + 1, b)
    _count("matmul")
    programs = {
        "matmul": lambda lib, F, A, B: lib.matmul(A, B),
        "@": lambda lib, F, A, B: A @ B,
        "mm": lambda lib, F, A, B: lib.mm(A, B),
        "dot": lambda lib, F, A, B: lib.dot(A, B),
        "outer": lambda lib, F, A, B: lib.outer(A, B),
    }
    compare(programs[op], [(A, True), (B, True)], seed=seed, second=True)


# ----- losses -----


@st.composite
def loss_case(draw):
    kind = draw(
        st.sampled_from(
            [
                "cross_entropy",
                "cross_entropy_probs",
                "nll_loss",
                "mse_loss",
                "l1_loss",
                "binary_cross_entropy",
                "binary_cross_entropy_with_logits",
            ]
        )
    )
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    module = draw(st.booleans())
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    if kind in ("cross_entropy", "cross_entropy_probs", "nll_loss"):
        C = draw(st.integers(2, 4))
        shape = draw(st.sampled_from([(C,), (3, C), (2, C, 3), (2, C, 2, 2)]))
        x = rng.standard_normal(shape) * 2
        tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
        weight = rng.random(C) + 0.1 if draw(st.booleans()) else None
        if kind == "cross_entropy_probs":
            p = rng.random(shape)
            target = p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
            ls = draw(st.sampled_from([0.0, 0.1, 0.5]))
            kw = dict(weight=weight, reduction=reduction, label_smoothing=ls)
            return kind, module, kw, [(x, True), (target, True)], seed
        target = rng.integers(0, C, size=tshape)
        ignore = draw(st.sampled_from([-100, 0, 1]))
        if draw(st.integers(0, 5)) == 0:
            target = np.full(tshape, ignore if ignore >= 0 else 0)  # every target ignored
        kw = dict(weight=weight, reduction=reduction, ignore_index=ignore)
        if kind == "cross_entropy":
            kw["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.7]))
        return kind, module, kw, [(x, True), (target, False)], seed
    shape = draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    x = rng.standard_normal(shape)
    if kind in ("mse_loss", "l1_loss"):
        return kind, module, dict(reduction=reduction), [(x, True), (rng.standard_normal(shape), True)], seed
    target = rng.random(shape)
    side = shape[-1:] if shape else ()
    weight = rng.random(draw(st.sampled_from([side, shape]))) if draw(st.booleans()) else None
    if kind == "binary_cross_entropy":
        p = rng.random(shape) * 0.98 + 0.01
        return kind, module, dict(weight=weight, reduction=reduction), [(p, True), (target, True)], seed
    pos = rng.random(draw(st.sampled_from([side, shape]))) + 0.5 if draw(st.booleans()) else None
    return kind, module, dict(weight=weight, reduction=reduction, pos_weight=pos), [(x * 3, True), (target, True)], seed


MODULES = {
    "cross_entropy": "CrossEntropyLoss",
    "cross_entropy_probs": "CrossEntropyLoss",
    "nll_loss": "NLLLoss",
    "mse_loss": "MSELoss",
    "l1_loss": "L1Loss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
}


@fuzz(250)
@given(loss_case())
def test_losses_match_torch(case):
    kind, module, kw, inputs, seed = case
    _count("losses")

    def program(lib, F, x, t):
        args = {
            k: (lib.tensor(np.asarray(v)) if isinstance(v, (np.ndarray, np.floating)) else v) for k, v in kw.items()
        }
        if kind == "nll_loss":
            x = F.log_softmax(x, dim=1 if x.ndim > 1 else 0)
        if module:
            return getattr(lib.nn, MODULES[kind])(**args)(x, t)
        return getattr(F, kind.replace("_probs", ""))(x, t, **args)

    compare(program, inputs, seed=seed, second=not module)


# ----- activations (argument forms; the kinks themselves are tested elsewhere) -----

ACTIVATIONS = [
    ("elu", "ELU", dict(alpha=0.5)),
    ("elu", "ELU", dict(alpha=2.0)),
    ("leaky_relu", "LeakyReLU", dict(negative_slope=0.2)),
    ("leaky_relu", "LeakyReLU", dict(negative_slope=-0.5)),
    ("hardtanh", "Hardtanh", dict(min_val=-0.5, max_val=2.0)),
    ("softplus", "Softplus", dict(beta=2.0, threshold=1.0)),
    ("softplus", "Softplus", dict(beta=0.5)),
    ("gelu", "GELU", dict(approximate="tanh")),
    ("gelu", "GELU", {}),
    ("selu", "SELU", {}),
    ("silu", "SiLU", {}),
    ("mish", "Mish", {}),
    ("sigmoid", "Sigmoid", {}),
    ("tanh", "Tanh", {}),
    ("relu", "ReLU", {}),
]


@fuzz(30)
@given(st.sampled_from(ACTIVATIONS), shapes, seeds, st.booleans())
def test_activations_match_torch(act, shape, seed, module):
    fn, cls, kw = act
    _count("activations")
    program = (
        (lambda lib, F, x: getattr(lib.nn, cls)(**kw)(x)) if module else (lambda lib, F, x: getattr(F, fn)(x, **kw))
    )
    compare(program, [(_data(seed, shape) * 3, True)], seed=seed, second=not module)


@fuzz(20)
@given(
    st.sampled_from([(4,), (3, 4), (2, 3, 4)]),
    st.booleans(),
    st.sampled_from([0, 1, -1]),
    st.sampled_from([1, 2, 3, 0.5]),
    seeds,
)
def test_linear_and_normalize_match_torch(shape, bias, dim, p, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((5, 4)), rng.standard_normal(5)
    _count("linear/normalize")
    compare(
        lambda lib, F, x, w, b: F.linear(x, w, b if bias else None),
        [(x, True), (w, True), (b, True)],
        seed=seed,
        second=True,
    )
    compare(
        lambda lib, F, x: F.normalize(x, p=p, dim=dim if len(shape) > 1 else 0), [(x, True)], seed=seed, second=True
    )


# ----- convolution and pooling -----


@st.composite
def conv_case(draw):
    d = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = 2 * groups, groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = draw(st.one_of(st.sampled_from(["same", "valid"]), st.tuples(*[st.integers(0, 2)] * d)))
    if padding == "same":
        stride = (1,) * d
    size = tuple(draw(st.integers(4, 7)) for _ in range(d))
    n = draw(st.integers(1, 2))
    bias = draw(st.booleans())
    return (
        d,
        (n, cin) + size,
        (cout, cin // groups) + k,
        dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
        bias,
    )


@fuzz(60)
@given(conv_case(), seeds)
def test_conv_matches_torch(case, seed):
    d, xs, ws, kw, bias = case
    rng = np.random.default_rng(seed)
    _count("conv")
    program = lambda lib, F, x, w, b: getattr(F, f"conv{d}d")(x, w, b if bias else None, **kw)  # noqa: E731
    compare(
        program,
        [(rng.standard_normal(xs), True), (rng.standard_normal(ws), True), (rng.standard_normal(ws[0]), True)],
        seed=seed,
        second=seed % 4 == 0,
    )


@fuzz(40)
@given(
    st.sampled_from([1, 2]),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from([1, 2]),
    st.integers(1, 2),
    seeds,
)
def test_conv_transpose_matches_torch(d, stride, padding, output_padding, groups, dilation, seed):
    output_padding = output_padding % max(stride, dilation)  # torch: output_padding < max(stride, dilation)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2 * groups) + (4,) * d)
    w = rng.standard_normal((2 * groups, 2) + (3,) * d)
    b = rng.standard_normal(2 * groups)
    _count("conv_transpose")
    compare(
        lambda lib, F, x, w, b: getattr(F, f"conv_transpose{d}d")(
            x, w, b, stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation
        ),
        [(x, True), (w, True), (b, True)],
        seed=seed,
        second=seed % 3 == 0,
    )


@st.composite
def pool_case(draw):
    d = draw(st.sampled_from([1, 2]))
    kind = draw(st.sampled_from(["max", "avg"]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * d)))
    padding = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    size = tuple(draw(st.integers(3, 8)) for _ in range(d))
    kw = dict(kernel_size=k, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if kind == "max":
        kw["dilation"] = tuple(draw(st.integers(1, 2)) for _ in range(d))
    else:
        kw["count_include_pad"] = draw(st.booleans())
        if d == 2 and draw(st.integers(0, 3)) == 0:
            kw["divisor_override"] = draw(st.integers(1, 5))
    return d, kind, (2, 2) + size, kw, draw(st.booleans())


@fuzz(120)
@given(pool_case(), seeds)
def test_pooling_matches_torch(case, seed):
    d, kind, xs, kw, module = case
    _count("pooling")

    def program(lib, F, x):
        if module:
            return getattr(lib.nn, f"{kind.capitalize()}Pool{d}d")(**kw)(x)
        return getattr(F, f"{kind}_pool{d}d")(x, **kw)

    compare(program, [(_data(seed, xs), True)], seed=seed)


# ----- normalization, embedding, dropout -----


@fuzz(40)
@given(
    st.sampled_from([(4, 3), (4, 3, 5), (2, 3, 2, 3)]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0.1, 0.5, None]),
    seeds,
)
def test_batch_norm_modules_match_torch(shape, affine, track, momentum, seed):
    x = _data(seed, shape)
    cls = "BatchNorm2d" if len(shape) == 4 else "BatchNorm1d"
    _count("batch_norm")

    def program(lib, F, x):
        m = getattr(lib.nn, cls)(3, momentum=momentum, affine=affine, track_running_stats=track).double()
        if affine:
            with lib.no_grad():
                m.weight.copy_(lib.tensor([1.5, -0.5, 2.0], dtype=lib.float64))
        outs = [m(x * (i + 1) + i) for i in range(3)]
        # NOTE: eval last: torch's eval-mode backward reads the running statistics as they are at backward
        # time (a later training step changes them); chainrule uses the values of the forward pass.
        m.eval()
        outs.append(m(x))
        return outs, [b.clone() for b in m.buffers()], [k for k in m.state_dict()]

    compare(program, [(x, True)], seed=seed)


@fuzz(40)
@given(st.sampled_from([(4, 3), (4, 3, 5), (2, 3, 2, 3)]), st.booleans(), st.integers(1, 3), seeds)
def test_functional_norms_match_torch(shape, training, k, seed):
    rng = np.random.default_rng(seed)
    x, rm, rv = rng.standard_normal(shape), rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    ns = shape[-min(k, len(shape) - 1) :]
    lw, lb = rng.standard_normal(ns), rng.standard_normal(ns)
    _count("batch_norm/layer_norm")
    compare(
        lambda lib, F, x, rm, rv, w, b: (
            F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-3),
            rm.clone(),
            rv.clone(),
        ),
        [(x, True), (rm, False), (rv, False), (w, True), (b, True)],
        seed=seed,
        second=True,
    )
    compare(
        lambda lib, F, x, w, b: F.layer_norm(x, ns, w, b, eps=1e-3),
        [(x, True), (lw, True), (lb, True)],
        seed=seed,
        second=True,
    )


@fuzz(40)
@given(
    st.sampled_from([None, 0, 2, -1]),
    st.sampled_from([None, 0.5, 1.0, 3.0]),
    st.sampled_from([1.0, 2.0, 3.0]),
    st.booleans(),
    seeds,
)
def test_embedding_matches_torch(padding_idx, max_norm, norm_type, module, seed):
    rng = np.random.default_rng(seed)
    W, idx = rng.standard_normal((6, 3)), rng.integers(0, 6, size=(2, 3))
    _count("embedding")

    def program(lib, F, i, W):
        if module:
            m = lib.nn.Embedding.from_pretrained(
                W.detach().clone(), freeze=False, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type
            )
            return m(i), m(i[:1]), m.weight.detach().clone()
        return F.embedding(i, W, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type), W.detach() * 1

    compare(program, [(idx, False), (W, True)], seed=seed)


@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_extreme_p_matches_torch(p, training):
    x = _data(0, (3, 4))
    compare(lambda lib, F, x: F.dropout(x, p, training=training), [(x, True)])
    compare(lambda lib, F, x: lib.nn.Dropout(p).train(training)(x), [(x, True)])
    compare(lambda lib, F, x: F.dropout(x, 1.5), [(x, True)])


# ----- optimizers and schedulers -----

P1, P2, COEF = _data(1, 3), _data(2, (2, 2)), _data(3, 3)


def _trajectory(lib, make_opt, steps, make_sched=None, metrics=None):
    p1 = lib.tensor(P1.copy(), requires_grad=True)
    p2 = lib.tensor(P2.copy(), requires_grad=True)
    opt = make_opt(lib, [p1, p2])
    sched = make_sched(lib, opt) if make_sched else None
    out = []
    for s in range(steps):
        opt.zero_grad()
        loss = (lib.sin(p1) * lib.tensor(COEF)).sum() + (lib.tanh(p2) ** 2).sum() + 0.1 * p2.sum() ** 2
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(metrics[s]) if metrics is not None else sched.step()
        out.append((p1.detach().numpy().copy(), p2.detach().numpy().copy(), [g["lr"] for g in opt.param_groups]))
    return out


def _same_trajectory(make_opt, steps=12, make_sched=None, metrics=None):
    ours = _trajectory(cr, make_opt, steps, make_sched, metrics)
    theirs = _trajectory(torch, make_opt, steps, make_sched, metrics)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for u, v in zip(a[:2], b[:2]):
            if not np.allclose(u, v, rtol=1e-9, atol=1e-12, equal_nan=True):
                raise Mismatch(f"step {step}: parameters {u} vs torch {v}")
        if not np.allclose(a[2], b[2], rtol=1e-12):
            raise Mismatch(f"step {step}: lr {a[2]} vs torch {b[2]}")


@st.composite
def optimizer_case(draw):
    name = draw(st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]))
    b, f = st.booleans(), st.sampled_from
    kw = dict(weight_decay=draw(f([0.0, 0.1])), maximize=draw(b))
    if name == "SGD":
        kw.update(lr=draw(f([0.01, 0.1])), momentum=draw(f([0.0, 0.5, 0.9])), dampening=draw(f([0.0, 0.3])))
        kw["nesterov"] = kw["momentum"] > 0 and kw["dampening"] == 0 and draw(b)
    elif name in ("Adam", "AdamW"):
        kw.update(
            lr=0.05, amsgrad=draw(b), betas=draw(f([(0.9, 0.999), (0.5, 0.6), (0.0, 0.9)])), eps=draw(f([1e-8, 1e-3]))
        )
    elif name == "RMSprop":
        kw.update(lr=0.01, alpha=draw(f([0.99, 0.5])), centered=draw(b), momentum=draw(f([0.0, 0.7])))
    else:
        kw.update(lr=0.1, lr_decay=draw(f([0.0, 0.1])), initial_accumulator_value=draw(f([0.0, 0.5])))
    groups = draw(b)
    return name, kw, groups


@fuzz(60)
@given(optimizer_case())
def test_optimizer_trajectories_match_torch(case):
    name, kw, groups = case
    _count("optimizers")

    def make(lib, ps):
        if groups:  # the second group overrides lr and weight_decay
            return getattr(lib.optim, name)(
                [{"params": [ps[0]]}, {"params": [ps[1]], "lr": kw["lr"] / 3, "weight_decay": 0.05}], **kw
            )
        return getattr(lib.optim, name)(ps, **kw)

    _same_trajectory(make)


@st.composite
def scheduler_case(draw):
    name = draw(st.sampled_from(["StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR", "ReduceLROnPlateau"]))
    f = st.sampled_from
    if name == "StepLR":
        return name, dict(step_size=draw(f([1, 3])), gamma=draw(f([0.1, 0.5]))), None
    if name == "ExponentialLR":
        return name, dict(gamma=draw(f([0.9, 0.5]))), None
    if name == "CosineAnnealingLR":
        return name, dict(T_max=draw(f([1, 5, 10])), eta_min=draw(f([0.0, 0.01]))), None
    if name == "LambdaLR":
        return (
            name,
            dict(lr_lambda=draw(f([lambda e: 0.95**e, lambda e: 1 / (e + 1), lambda e: 1.0 if e < 5 else 0.1]))),
            None,
        )
    kw = dict(
        mode=draw(f(["min", "max"])),
        factor=draw(f([0.5, 0.1])),
        patience=draw(f([0, 2, 5])),
        threshold=draw(f([1e-4, 0.1])),
        threshold_mode=draw(f(["rel", "abs"])),
        cooldown=draw(f([0, 3])),
        min_lr=draw(f([0.0, 0.005])),
        eps=draw(f([1e-8, 1e-3])),
    )
    kind = draw(f(["random", "step", "slow"]))
    rng = np.random.default_rng(draw(seeds))
    metrics = {"random": list(rng.random(40)), "step": [1.0] * 20 + [0.5] * 20, "slow": list(np.linspace(1, 0.99, 40))}[
        kind
    ]
    return name, kw, metrics


@fuzz(50)
@given(scheduler_case())
def test_lr_schedulers_match_torch(case):
    name, kw, metrics = case
    _count("schedulers")
    _same_trajectory(
        lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
        steps=40,
        make_sched=lambda lib, opt: getattr(lib.optim.lr_scheduler, name)(opt, **kw),
        metrics=metrics,
    )


def test_lambda_lr_with_one_function_per_group_matches_torch():
    _same_trajectory(
        lambda lib, ps: lib.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.01}], lr=0.1),
        steps=20,
        make_sched=lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, [lambda e: 0.9**e, lambda e: e + 1]),
    )


# ----- clip_grad_norm_, init, Module API -----


def _clip(lib, norm_type, max_norm, bad, error):
    ps = [
        lib.tensor(np.arange(3.0) + 1, requires_grad=True),
        lib.tensor(-np.ones((2, 2)), requires_grad=True),
        lib.tensor([1.0], requires_grad=True),
    ]
    ps[0].grad = lib.tensor(np.array([0.5, -2.0, 3.0]))
    ps[1].grad = lib.tensor(np.array([[1.0, -1.0], [0.0, 4.0]]))
    if bad is not None:
        ps[0].grad[1] = bad
    total = lib.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type, error_if_nonfinite=error)
    return total, ps[0].grad, ps[1].grad


@pytest.mark.parametrize("norm_type", [1, 2, 3.5, 0.5, 0, math.inf, -math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 100.0])
@pytest.mark.parametrize("bad", [None, math.nan, math.inf])
@pytest.mark.parametrize("error", [False, True])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, bad, error):
    outcome = compare(lambda lib, F: _clip(lib, norm_type, max_norm, bad, error), [])
    assert outcome == "ok" or (error and bad is not None)  # both refused: a non-finite norm with the check on


INITS = [
    ("kaiming_uniform_", dict(a=0.2, mode="fan_out", nonlinearity="leaky_relu")),
    ("kaiming_uniform_", dict(mode="fan_in", nonlinearity="relu")),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="tanh")),
    ("kaiming_normal_", dict(a=0.0, mode="fan_in", nonlinearity="selu")),
    ("xavier_uniform_", dict(gain=5 / 3)),
    ("xavier_normal_", dict(gain=0.5)),
    ("orthogonal_", dict(gain=2.0)),
    ("trunc_normal_", dict(mean=0.5, std=2.0, a=-1.0, b=3.0)),
    ("uniform_", dict(a=-2.0, b=5.0)),
    ("normal_", dict(mean=3.0, std=0.5)),
]


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("name,kw", INITS)
def test_init_statistics_match_torch(name, kw, shape):
    def stats(lib):
        t = lib.empty(*shape, dtype=lib.float64)
        getattr(lib.nn.init, name)(t, **kw)
        a = t.detach().numpy()
        return a.mean(), a.std(), a.min(), a.max()

    (m, s, lo, hi), (tm, ts, tlo, thi) = stats(cr), stats(torch)
    assert abs(s - ts) < 0.05 * ts, (s, ts)
    assert abs(m - tm) < 6 * ts / math.sqrt(np.prod(shape)), (m, tm)
    if "uniform" in name or "trunc" in name:
        assert abs(lo - tlo) < 0.02 * abs(tlo) + 1e-3 and abs(hi - thi) < 0.02 * abs(thi) + 1e-3


@pytest.mark.parametrize(
    "nonlinearity", ["linear", "conv1d", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
)
def test_calculate_gain_matches_torch(nonlinearity):
    for param in (None, 0.3):
        assert cr.nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12
        )


def _net(lib):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("tmp", lib.zeros(2), persistent=False)
            self.bn = nn.BatchNorm1d(3)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.lin(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.blocks = nn.ModuleList([Block(), Block()])
            self.head = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False))
            self.shared = self.head[0]  # the same module under a second name
            self.d = nn.ModuleDict({"b": nn.Linear(2, 2), "a": nn.Identity()})
            self.alpha = nn.Parameter(lib.ones(1))
            self.register_parameter("maybe", None)

        def forward(self, i):
            x = self.emb(i)
            for b in self.blocks:
                x = b(x)
            return self.d["b"](self.head(x)) * self.alpha

    return Net()


def _names(pairs):
    return [k for k, _ in pairs]


def _tied(lib):
    s = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.Linear(3, 3))
    s[1].weight = s[0].weight
    return s


def _grads_after(lib, clear):
    m = _net(lib)
    m(lib.tensor([0, 1, 2, 3])).sum().backward()
    clear(m)
    return [None if p.grad is None else float(p.grad.abs().sum()) for p in m.parameters()]


def _flags(lib):
    m = _net(lib)
    out = [[x.training for x in m.modules()]]
    m.eval()
    out.append([x.training for x in m.modules()])
    m.blocks.train()
    out.append([x.training for x in m.modules()])
    out.append(m.train(False) is m)
    m.requires_grad_(False)
    m.head.requires_grad_()
    return out + [[p.requires_grad for p in m.parameters()]]


MODULE_API = {
    "named_parameters": lambda lib: _names(_net(lib).named_parameters()),
    "named_parameters(remove_duplicate=False)": lambda lib: _names(_net(lib).named_parameters(remove_duplicate=False)),
    "named_parameters(prefix, recurse=False)": lambda lib: _names(_net(lib).named_parameters("p", recurse=False)),
    "named_modules": lambda lib: _names(_net(lib).named_modules()),
    "named_modules(remove_duplicate=False)": lambda lib: _names(_net(lib).named_modules(remove_duplicate=False)),
    "named_children": lambda lib: _names(_net(lib).named_children()),
    "named_buffers": lambda lib: _names(_net(lib).named_buffers()),
    "state_dict keys": lambda lib: list(_net(lib).state_dict()),
    "state_dict(prefix) keys": lambda lib: list(_net(lib).state_dict(prefix="x.")),
    "state_dict(keep_vars) requires_grad": lambda lib: [
        v.requires_grad for v in _net(lib).state_dict(keep_vars=True).values()
    ],
    "parameters of a module used twice": lambda lib: (
        lambda a: (
            len(list(lib.nn.Sequential(a, lib.nn.ReLU(), a).parameters())),
            list(lib.nn.Sequential(a, lib.nn.ReLU(), a).state_dict()),
        )
    )(lib.nn.Linear(2, 2)),
    "tied weight": lambda lib: (
        len(list(_tied(lib).parameters())),
        _names(_tied(lib).named_parameters()),
        list(_tied(lib).state_dict()),
    ),
    "loss modules' weight buffers": lambda lib: [
        list(m.state_dict())
        for m in (
            lib.nn.CrossEntropyLoss(weight=lib.ones(3)),
            lib.nn.NLLLoss(weight=lib.ones(3)),
            lib.nn.BCELoss(weight=lib.ones(3)),
            lib.nn.BCEWithLogitsLoss(weight=lib.ones(3), pos_weight=lib.ones(3)),
            lib.nn.CrossEntropyLoss(),
        )
    ],
    "apply order": lambda lib: (lambda seen: (_net(lib).apply(lambda m: seen.append(type(m).__name__)), seen)[1])([]),
    "train/eval/requires_grad_": _flags,
    "zero_grad()": lambda lib: _grads_after(lib, lambda m: m.zero_grad()),
    "zero_grad(set_to_none=False)": lambda lib: _grads_after(lib, lambda m: m.zero_grad(set_to_none=False)),
    "optimizer.zero_grad()": lambda lib: _grads_after(lib, lambda m: lib.optim.SGD(m.parameters()).zero_grad()),
    "load_state_dict(strict=False)": lambda lib: (
        lambda sd: tuple(
            map(
                list,
                _net(lib).load_state_dict(
                    {**{k: v for k, v in sd.items() if k != "alpha"}, "extra": lib.zeros(1)}, strict=False
                ),
            )
        )
    )(_net(lib).state_dict()),
}


@pytest.mark.parametrize("what", list(MODULE_API))
def test_module_api_matches_torch(what):
    assert repr(MODULE_API[what](cr)) == repr(MODULE_API[what](torch))


@pytest.mark.parametrize("edit", ["missing key", "wrong shape"])
def test_load_state_dict_refusals_match_torch(edit):
    for lib in (cr, torch):
        sd = _net(lib).state_dict()
        if edit == "missing key":
            del sd["alpha"]
        else:
            sd["alpha"] = lib.zeros(2)
        with pytest.raises(RuntimeError):
            _net(lib).load_state_dict(sd)


# ----- regressions: each failed against torch before the fix named in docs/compat/hunt.md -----


def _x(shape, seed=0):
    return _data(seed, shape)


REGRESSIONS = {
    "sum(dim=()) reduces every dim": (
        lambda lib, F, x: (x.sum(dim=()), lib.mean(x, ()), lib.amax(x, dim=()), lib.norm(x, dim=())),
        [(_x((2, 3)), True)],
    ),
    "max(dim) of a 0-d tensor": (lambda lib, F, x: (lib.max(x, 0), lib.min(x, -1, keepdim=True)), [(_x(()), True)]),
    "norm p=0 counts nonzeros": (lambda lib, F, x: lib.norm(x * (x > 0), p=0, dim=1), [(_x((3, 4)), True)]),
    "x.flip(0, 1): dims as separate arguments": (lambda lib, F, x: x.flip(0, 1), [(_x((2, 3)), True)]),
    "movedim with sequences": (lambda lib, F, x: lib.movedim(x, (0, 2), (-1, 0)), [(_x((2, 3, 4)), True)]),
    "flatten start after end refused": (lambda lib, F, x: lib.flatten(x, 2, 1), [(_x((2, 3, 4)), True)]),
    "outer of 2-D refused": (lambda lib, F, x: lib.outer(x, x), [(_x((2, 3)), True)]),
    "cross_entropy label_smoothing with weight": (
        lambda lib, F, x, t, w: [
            F.cross_entropy(x, t, weight=w, label_smoothing=0.3, reduction=r, ignore_index=1)
            for r in ("mean", "sum", "none")
        ],
        [(_x((5, 4)), True), (np.array([0, 1, 2, 3, 2]), False), (np.array([0.2, 1.0, 2.0, 0.5]), False)],
    ),
    "cross_entropy probability targets: weight gradient": (
        lambda lib, F, x, t, w: F.cross_entropy(x, t, weight=w),
        [(_x((3, 4)), True), (np.full((3, 4), 0.25), True), (np.array([0.2, 1.0, 2.0, 0.5]), True)],
    ),
    "every target ignored: nan loss, zero gradient": (
        lambda lib, F, x, t: [
            F.cross_entropy(x, t, ignore_index=2),
            F.nll_loss(x, t, ignore_index=2),
            F.cross_entropy(
                x, t, ignore_index=2, label_smoothing=0.2, weight=lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)
            ),
        ],
        [(_x((3, 4)), True), (np.array([2, 2, 2]), False)],
    ),
    "binary_cross_entropy target gradient at p in {0, 1}": (
        lambda lib, F, p, t: F.binary_cross_entropy(p, t, reduction="none"),
        [(np.array([0.0, 1.0, 0.5, 1e-20]), False), (np.array([0.0, 1.0, 1.0, 1.0]), True)],
    ),
    "max_pool/avg_pool ceil_mode": (
        lambda lib, F, x: (
            F.max_pool2d(x, 2, 2, ceil_mode=True),
            F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
            F.avg_pool1d(x[0], 2, 3, 1, ceil_mode=True, count_include_pad=False),
        ),
        [(_x((1, 2, 5, 7)), True)],
    ),
    "conv_transpose output_padding >= stride (dilation 2): backward": (
        lambda lib, F, x, w: F.conv_transpose1d(x, w, stride=1, output_padding=1, dilation=2),
        [(_x((1, 2, 5)), True), (_x((2, 3, 3), 1), True)],
    ),
    "embedding max_norm": (
        lambda lib, F, i, W: (F.embedding(i, W, max_norm=1.0), W.detach() * 1),
        [(np.array([[0, 2], [2, 5]]), False), (_x((6, 3)) * 2, True)],
    ),
}


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_regressions_match_torch(name):
    program, inputs = REGRESSIONS[name]
    outcome = compare(program, inputs, second=not name.startswith(("binary", "max_pool")))
    assert outcome == ("refused" if "refused" in name else "ok")
