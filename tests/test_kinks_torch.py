"""Derivatives at kinks and ties: chainrule's choice is PyTorch's, op by op, point by point.

Every op with a kink (relu at 0, clamp at its bounds, norms at 0...) or a tie (max of equal
entries, maximum(x, x)...) is evaluated in float64 at the kink itself and just around it, in
both libraries: the value, the first derivative (a VJP with a random cotangent, for every
differentiable input), the second derivative where PyTorch has one (the VJP of that VJP),
and the forward-mode derivative (cr.jvp against torch.func.jvp). PyTorch is the oracle:
nothing here hard-codes an expected number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as CF

EPS = 1e-3  # "just around" a kink: far enough that float64 sees the side, near enough to be local


class K:
    """One row of the table: `fn(lib, F, *inputs)` spelled the same way for both libraries.

    points: tuples of float64 inputs (one array per argument); `grad_args` are the inputs
    differentiated (the others are constants, e.g. a clamp bound given as a tensor that does
    not require grad); `second` is False where PyTorch has no second derivative to compare.
    `jvp`: True compares forward mode with torch.func.jvp, "reverse" with the J t of PyTorch's
    reverse mode (where its two modes disagree at a tie), False skips it.
    """

    def __init__(self, name, fn, points, grad_args=None, second=True, jvp=True):
        self.name, self.fn, self.points = name, fn, points
        self.grad_args, self.second, self.jvp = grad_args, second, jvp


def around(*kinks):
    """The kink points and the points EPS on either side."""
    out = []
    for k in kinks:
        out += [k - EPS, k, k + EPS]
    return np.array(out, dtype=np.float64)


def _pts(*arrays):
    return [tuple(np.asarray(a, dtype=np.float64) for a in arrays)]


A = around(0.0)  # the kink at 0 and its neighbourhood
ALPHAS = (1.0, 0.5, 2.0)

# A 2x4 matrix with ties in rows and columns, and an all-tied row.
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5]])
TIES3 = np.array([[[2.0, 2.0], [1.0, 2.0]], [[0.0, -1.0], [0.0, 0.0]]])
ZEROS = np.zeros((2, 3))
PART_ZERO = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, -4.0]])
ABS_TIES = np.array([[2.0, -2.0, 1.0], [0.0, 0.0, 0.0]])


TABLE = [
    # ----- elementwise kinks -----
    K("relu", lambda L, F, x: L.relu(x), [(A,)]),
    K("F.relu", lambda L, F, x: F.relu(x), [(A,)]),
    K("abs", lambda L, F, x: L.abs(x), [(A,)]),
    K("sign", lambda L, F, x: L.sign(x) * x, [(A,)]),
    # PyTorch's forward mode multiplies sign's zero tangent by x: inf * 0 = NaN; its reverse mode does not.
    K("sign at nan, inf", lambda L, F, x: L.sign(x) * x, _pts([np.nan, np.inf, -np.inf]), jvp="reverse"),
    K("floor", lambda L, F, x: L.floor(x) + x, [(around(0.0, 1.0, -1.5),)]),
    K("ceil", lambda L, F, x: L.ceil(x) + x, [(around(0.0, 1.0, -1.5),)]),
    K("round", lambda L, F, x: L.round(x) + x, [(around(0.5, 1.5, -0.5, 0.0),)]),
    K("trunc", lambda L, F, x: L.trunc(x) + x, [(around(0.0, 1.0),)]),
    K("hardtanh", lambda L, F, x: F.hardtanh(x), [(around(-1.0, 1.0),)]),
    K("hardtanh(-2, 0.5)", lambda L, F, x: F.hardtanh(x, -2.0, 0.5), [(around(-2.0, 0.5),)]),
    K("clamp(-1, 2)", lambda L, F, x: L.clamp(x, -1.0, 2.0), [(around(-1.0, 2.0),)]),
    K("clamp(min=0)", lambda L, F, x: L.clamp(x, min=0.0), [(A,)]),
    K("clamp(max=0)", lambda L, F, x: L.clamp(x, max=0.0), [(A,)]),
    K("clamp(1, 1)", lambda L, F, x: L.clamp(x, 1.0, 1.0), [(around(1.0),)]),
    K("clip(-1, 2)", lambda L, F, x: L.clip(x, -1.0, 2.0), [(around(-1.0, 2.0),)]),
    K("Tensor.clamp", lambda L, F, x: x.clamp(-1.0, 2.0), [(around(-1.0, 2.0),)]),
    K(
        "clamp(tensor bounds)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts(around(-1.0, 2.0), np.full(6, -1.0), np.full(6, 2.0)),
    ),
    # PyTorch's forward mode gives a one-sided clamp's tie x == bound to the bound, its reverse mode to x;
    # with lo == hi, or a NaN, its forward mode passes a tangent where its reverse mode passes no gradient.
    K("clamp(min=tensor)", lambda L, F, x, lo: L.clamp(x, min=lo), _pts(A, np.zeros(3)), jvp="reverse"),
    K("clamp(max=tensor)", lambda L, F, x, hi: L.clamp(x, max=hi), _pts(A, np.zeros(3)), jvp="reverse"),
    K(
        "clamp(min > max)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts([-3.0, 0.0, 1.0, 2.0, 3.0], np.full(5, 1.0), np.full(5, 0.0)),
    ),
    K(
        "clamp(tensor lo == hi)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts([-1.0, 0.0, 1.0], np.zeros(3), np.zeros(3)),
        jvp="reverse",
    ),
    K(
        "clamp(NaN anywhere)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts([np.nan, 0.0, 0.0, 0.5, -1.0], [0.0, np.nan, 0.0, np.nan, -2.0], [1.0, 1.0, np.nan, 1.0, np.nan]),
        jvp="reverse",
    ),
    K(
        "clamp(broadcast bounds)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts([[-1.0, 0.0, 1.0], [2.0, 0.5, -0.5]], [[-0.5], [0.5]], [0.5, 1.0, 0.0]),
    ),
    K(
        "clamp(tensor bounds, const)",
        lambda L, F, x, lo, hi: L.clamp(x, lo, hi),
        _pts(around(-1.0, 2.0), np.full(6, -1.0), np.full(6, 2.0)),
        grad_args=(0,),
    ),
    *[K(f"elu(alpha={a})", lambda L, F, x, a=a: F.elu(x, a), [(A,)]) for a in ALPHAS],
    K("elu", lambda L, F, x: L.elu(x) if L is cr else TF.elu(x), [(A,)]),
    K("selu", lambda L, F, x: F.selu(x), [(A,)]),
    *[K(f"leaky_relu({s})", lambda L, F, x, s=s: F.leaky_relu(x, s), [(A,)]) for s in (0.01, 0.2, 1.0, -0.5, 2.0)],
    K("leaky_relu", lambda L, F, x: F.leaky_relu(x), [(A,)]),
    K("gelu", lambda L, F, x: F.gelu(x), [(A,)]),
    K("gelu(tanh)", lambda L, F, x: F.gelu(x, approximate="tanh"), [(A,)]),
    K("softplus", lambda L, F, x: F.softplus(x), [(around(0.0, 20.0),)]),
    K("softplus(beta=2, threshold=3)", lambda L, F, x: F.softplus(x, beta=2.0, threshold=3.0), [(around(0.0, 1.5),)]),
    K("silu", lambda L, F, x: F.silu(x), [(A,)]),
    K("mish", lambda L, F, x: F.mish(x), [(A,)]),
    K("sqrt", lambda L, F, x: L.sqrt(x), _pts([0.0, EPS, 1.0])),
    K("pow(x, 2)", lambda L, F, x: x**2, [(A,)]),
    K("pow(x, 0.5)", lambda L, F, x: x**0.5, _pts([0.0, EPS])),
    K("pow(x, 1)", lambda L, F, x: x**1, [(A,)]),
    K("pow(x, 1.0)", lambda L, F, x: x**1.0, [(A,)]),
    K("pow(x, 3)", lambda L, F, x: x**3, [(A,)]),
    K("pow(x, 0)", lambda L, F, x: x**0, [(A,)]),
    K("pow(x, 1.5)", lambda L, F, x: x**1.5, _pts([0.0, EPS])),
    K("pow(0, y)", lambda L, F, x, y: L.pow(x, y), _pts([0.0, 0.0, 0.0, 0.0, EPS], [2.0, 0.5, 0.0, -1.0, 2.0])),
    K("pow(x, y) at 0", lambda L, F, x, y: L.pow(x, y), _pts([0.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, 3.0])),
    K("where", lambda L, F, x, y: L.where(x > 0, x, y * 2), _pts(A, around(1.0))),
    K("where(x > 0, x, 0)", lambda L, F, x: L.where(x > 0, x, L.zeros_like(x)), [(A,)]),
    # ----- the same ops at NaN and +-inf (no kink, but a branch each) -----
    *[
        K(f"{name} at nan, inf", fn, _pts([np.nan, np.inf, -np.inf]), second=False)
        for name, fn in [
            ("relu", lambda L, F, x: L.relu(x)),
            ("abs", lambda L, F, x: L.abs(x)),
            ("elu", lambda L, F, x: F.elu(x, 0.5)),
            ("selu", lambda L, F, x: F.selu(x)),
            ("leaky_relu", lambda L, F, x: F.leaky_relu(x, 0.2)),
            ("hardtanh", lambda L, F, x: F.hardtanh(x)),
            ("clamp", lambda L, F, x: L.clamp(x, -1.0, 1.0)),
            ("softplus", lambda L, F, x: F.softplus(x)),
        ]
    ],
    # ----- ties between two tensors -----
    K("maximum", lambda L, F, x, y: L.maximum(x, y), _pts([0.0, 1.0, -2.0, 1.0], [0.0, 1.0, -2.0, 2.0])),
    K("minimum", lambda L, F, x, y: L.minimum(x, y), _pts([0.0, 1.0, -2.0, 1.0], [0.0, 1.0, -2.0, 2.0])),
    K("max(x, other)", lambda L, F, x, y: L.max(x, y), _pts([0.0, 1.0, 3.0], [0.0, 1.0, 2.0])),
    K("min(x, other)", lambda L, F, x, y: L.min(x, y), _pts([0.0, 1.0, 3.0], [0.0, 1.0, 2.0])),
    K("maximum(x, x)", lambda L, F, x: L.maximum(x, x), [(A,)]),
    K("maximum broadcast", lambda L, F, x, y: L.maximum(x, y), _pts([[1.0, 2.0], [2.0, 0.0]], [2.0, 0.0])),
    K("minimum broadcast", lambda L, F, x, y: L.minimum(x, y), _pts([[1.0, 2.0], [2.0, 0.0]], [2.0, 0.0])),
    # ----- reductions with ties -----
    K("max()", lambda L, F, x: L.max(x), _pts(TIES)),
    K("min()", lambda L, F, x: L.min(x), _pts(TIES)),
    K("Tensor.max()", lambda L, F, x: x.max(), _pts(TIES3)),
    K("amax()", lambda L, F, x: L.amax(x), _pts(TIES)),
    K("amin()", lambda L, F, x: L.amin(x), _pts(TIES)),
    *[K(f"amax(dim={d})", lambda L, F, x, d=d: L.amax(x, dim=d), _pts(TIES)) for d in (0, 1, -1)],
    *[K(f"amin(dim={d})", lambda L, F, x, d=d: L.amin(x, dim=d), _pts(TIES)) for d in (0, 1)],
    K("amax(dim=(0, 2))", lambda L, F, x: L.amax(x, dim=(0, 2)), _pts(TIES3)),
    K("amax(keepdim)", lambda L, F, x: L.amax(x, dim=1, keepdim=True), _pts(TIES)),
    *[K(f"max(dim={d})", lambda L, F, x, d=d: L.max(x, dim=d).values, _pts(TIES)) for d in (0, 1)],
    *[K(f"min(dim={d})", lambda L, F, x, d=d: L.min(x, dim=d).values, _pts(TIES)) for d in (0, 1)],
    K("max(dim, keepdim)", lambda L, F, x: L.max(x, dim=2, keepdim=True)[0], _pts(TIES3)),
    K("Tensor.max(dim)", lambda L, F, x: x.max(dim=1)[0], _pts(TIES3)),
    K("amax with NaN", lambda L, F, x: L.amax(x, dim=1), _pts([[np.nan, 1.0, np.nan], [2.0, np.nan, 2.0]])),
    K("amax() with NaN", lambda L, F, x: L.amax(x), _pts([[np.nan, 1.0, np.nan], [2.0, 3.0, 2.0]])),
    # PyTorch's forward mode of max() gives NaN where its reverse mode splits among the NaN entries.
    K("max() with NaN", lambda L, F, x: L.max(x), _pts([[np.nan, 1.0, np.nan], [2.0, 3.0, 2.0]]), jvp="reverse"),
    K("min() with NaN", lambda L, F, x: L.min(x), _pts([[np.nan, 1.0, np.nan], [2.0, 3.0, 2.0]]), jvp="reverse"),
    K("amin with NaN", lambda L, F, x: L.amin(x, dim=0), _pts([[np.nan, 1.0, np.nan], [2.0, np.nan, 2.0]])),
    K("max(dim) with NaN", lambda L, F, x: L.max(x, dim=1)[0], _pts([[1.0, np.nan, np.nan], [2.0, 2.0, 1.0]])),
    K(
        "logsumexp with -inf",
        lambda L, F, x: L.logsumexp(x, dim=1),
        _pts([[-np.inf, -np.inf, 0.0], [1.0, 1.0, -np.inf]]),
    ),
    # ----- norms at 0 and at ties -----
    K("norm()", lambda L, F, x: L.norm(x), _pts(ZEROS)),
    K("norm(p=2, dim=1)", lambda L, F, x: L.norm(x, p=2, dim=1), _pts(PART_ZERO)),
    K("norm(fro)", lambda L, F, x: L.norm(x, p="fro"), _pts(ZEROS)),
    K("norm(p=1)", lambda L, F, x: L.norm(x, p=1), _pts(PART_ZERO)),
    K("norm(p=1, dim=1)", lambda L, F, x: L.norm(x, p=1, dim=1), _pts(PART_ZERO)),
    *[
        K(f"norm(p={p}, dim=1)", lambda L, F, x, p=p: L.norm(x, p=p, dim=1), _pts(PART_ZERO), second=p >= 2)
        for p in (3, 0.5, 1.5, 4.0)
    ],
    K("norm(p=3) at 0", lambda L, F, x: L.norm(x, p=3), _pts(ZEROS)),
    K("norm(p=inf)", lambda L, F, x: L.norm(x, p=math.inf), _pts(ABS_TIES)),
    K("norm(p=inf, dim=1)", lambda L, F, x: L.norm(x, p=math.inf, dim=1), _pts(ABS_TIES)),
    K("norm(p=-inf, dim=1)", lambda L, F, x: L.norm(x, p=-math.inf, dim=1), _pts(ABS_TIES)),
    K("Tensor.norm()", lambda L, F, x: x.norm(), _pts(ZEROS)),
    K("std (constant)", lambda L, F, x: L.std(x, dim=1), _pts(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]))),
    K("normalize at 0", lambda L, F, x: F.normalize(x, dim=1), _pts(PART_ZERO)),
    K("prod with zeros", lambda L, F, x: L.prod(x, dim=1), _pts([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0]])),
    K("prod() one zero", lambda L, F, x: L.prod(x), _pts([[1.5, 2.0, 0.0], [-1.0, 0.5, 2.0]])),
    K("max_pool1d ties", lambda L, F, x: F.max_pool1d(x, 2), _pts([[[1.0, 1.0, 0.0, 2.0, 3.0, 3.0]]])),
    K("max_pool1d overlapping ties", lambda L, F, x: F.max_pool1d(x, 3, stride=1), _pts([[[1.0, 2.0, 2.0, 0.0, 2.0]]])),
    K("max_pool2d ties", lambda L, F, x: F.max_pool2d(x, 2), _pts(np.ones((1, 1, 4, 4)))),
    K("nn.ELU", lambda L, F, x: L.nn.ELU(alpha=0.7)(x), [(A,)]),
    K("nn.ReLU", lambda L, F, x: L.nn.ReLU()(x), [(A,)]),
    K("nn.LeakyReLU", lambda L, F, x: L.nn.LeakyReLU(0.3)(x), [(A,)]),
    K("nn.Softplus", lambda L, F, x: L.nn.Softplus(beta=1.0, threshold=0.0)(x), [(A,)]),
    # ----- losses with a kink -----
    K("l1_loss", lambda L, F, x, y: F.l1_loss(x, y), _pts([0.0, 1.0, -1.0], [0.0, 1.0, 2.0])),
    K("mse_loss", lambda L, F, x, y: F.mse_loss(x, y), _pts([0.0, 1.0, -1.0], [0.0, 1.0, 2.0])),
    K("l1_loss(none)", lambda L, F, x, y: F.l1_loss(x, y, reduction="none"), _pts([0.0, 1.0, -1.0], [0.0, 1.0, 2.0])),
    K(
        "binary_cross_entropy at 0 and 1",
        lambda L, F, p, y: F.binary_cross_entropy(p, y, reduction="none"),
        _pts([0.0, 1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 0.0, 1.0]),
        grad_args=(0,),
        second=False,
    ),
    K("Tensor.abs, relu", lambda L, F, x: x.abs() + x.relu(), [(A,)]),
]


# ----- evaluation -----


def _tensors(lib, point, grad_args):
    return [
        lib.tensor(p, dtype=lib.float64, requires_grad=(grad_args is None or i in grad_args))
        for i, p in enumerate(point)
    ]


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True).astype(np.float64)  # force: torch may hand back a ZeroTensor
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def _derivatives(lib, F, k, point, cot, cot2):
    """value, first derivatives (one per differentiated input), second derivatives or None."""
    xs = _tensors(lib, point, k.grad_args)
    wrt = [x for x in xs if x.requires_grad]
    y = k.fn(lib, F, *xs)
    value = _np(y)
    firsts = lib.autograd.grad((y * lib.tensor(cot)).sum(), wrt, create_graph=True, allow_unused=True)
    seconds = None
    if k.second:
        live = [g for g in firsts if g is not None and g.requires_grad]
        if live:
            total = sum((g * lib.tensor(c)).sum() for g, c in zip(firsts, cot2) if g is not None and g.requires_grad)
            seconds = lib.autograd.grad(total, wrt, allow_unused=True)
        else:
            seconds = [None] * len(wrt)
    return value, [_np(g) for g in firsts], None if seconds is None else [_np(g) for g in seconds]


def _same(ours, theirs, what):
    if theirs is None:
        theirs = 0.0
    if ours is None:
        ours = np.zeros_like(theirs)
    np.testing.assert_allclose(ours, np.broadcast_to(theirs, np.shape(ours)), rtol=1e-12, atol=1e-14, err_msg=what)


def _cases():
    for k in TABLE:
        for i, point in enumerate(k.points):
            yield pytest.param(k, point, id=f"{k.name}-{i}" if len(k.points) > 1 else k.name)


@pytest.mark.parametrize("k, point", list(_cases()))
def test_derivatives_at_kinks_match_torch(k, point):
    rng = np.random.default_rng(0)
    out_shape = np.shape(k.fn(torch, TF, *[torch.tensor(p) for p in point]).detach())
    cot = rng.uniform(0.5, 1.5, out_shape)
    wrt = [p for i, p in enumerate(point) if k.grad_args is None or i in k.grad_args]
    cot2 = [rng.uniform(0.5, 1.5, np.shape(p)) for p in wrt]
    ours = _derivatives(cr, CF, k, point, cot, cot2)
    theirs = _derivatives(torch, TF, k, point, cot, cot2)
    _same(ours[0], theirs[0], f"{k.name}: value at {point}")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
        _same(a, b, f"{k.name}: first derivative in input {i} at {point}")
    if theirs[2] is not None:
        for i, (a, b) in enumerate(zip(ours[2], theirs[2])):
            # NOTE: where PyTorch's second derivative is NaN (0/0 or 0 * inf inside its masked
            # first-derivative formula: norms at 0, pow at base 0) it gives no value to match;
            # docs/compat/kinks-threads.md lists those points. Everywhere else it must be equal.
            if b is not None and np.isnan(b).any():
                keep = ~np.isnan(np.broadcast_to(b, np.shape(a) if a is not None else np.shape(b)))
                a = np.zeros(keep.shape) if a is None else np.broadcast_to(a, keep.shape)
                a, b = a[keep], np.broadcast_to(b, keep.shape)[keep]
            _same(a, b, f"{k.name}: second derivative in input {i} at {point}")


def _jvp_cases():
    return [c for c in _cases() if c.values[0].jvp]


@pytest.mark.parametrize("k, point", _jvp_cases())
def test_forward_mode_at_kinks_matches_torch(k, point):
    """cr.jvp against torch.func.jvp; where PyTorch's forward mode disagrees with its own reverse
    mode at a tie (listed in the table with jvp="reverse"), against the reverse mode's J t."""
    rng = np.random.default_rng(1)
    consts = {i for i in range(len(point)) if k.grad_args is not None and i not in k.grad_args}
    tangents = [rng.uniform(0.5, 1.5, np.shape(p)) for i, p in enumerate(point) if i not in consts]

    def split(lib, F):
        def f(*live):
            it = iter(live)
            args = [lib.tensor(p) if i in consts else next(it) for i, p in enumerate(point)]
            return k.fn(lib, F, *args)

        return f

    live = [p for i, p in enumerate(point) if i not in consts]
    t_live, t_tangents = tuple(torch.tensor(p) for p in live), tuple(torch.tensor(t) for t in tangents)
    _, ours = cr.jvp(split(cr, CF), tuple(live), tuple(tangents))
    _, forward = torch.func.jvp(split(torch, TF), t_live, t_tangents)
    _, reverse = torch.autograd.functional.jvp(split(torch, TF), t_live, t_tangents)
    ours = _np(ours) if isinstance(ours, cr.Tensor) else np.asarray(ours)
    if k.jvp == "reverse":
        assert not np.allclose(forward.numpy(), reverse.numpy(), equal_nan=True), (
            f"{k.name}: torch's two modes agree now; drop jvp='reverse' from the table"
        )
        _same(ours, reverse.numpy(), f"{k.name}: jvp at {point} (torch's reverse mode)")
    else:
        _same(ours, forward.numpy(), f"{k.name}: jvp at {point}")


# ----- a fuzzer over tie-heavy inputs -----

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Values that sit on the kinks of the ops below (0, +-1, the clamp bounds) and make ties likely.
KINK_VALUES = [-2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0]

FUZZ_UNARY = {
    "relu": lambda L, F, x, d: L.relu(x),
    "abs": lambda L, F, x, d: L.abs(x),
    "hardtanh": lambda L, F, x, d: F.hardtanh(x),
    "clamp(-0.5, 1)": lambda L, F, x, d: L.clamp(x, -0.5, 1.0),
    "elu(0.5)": lambda L, F, x, d: F.elu(x, 0.5),
    "selu": lambda L, F, x, d: F.selu(x),
    "leaky_relu(0.2)": lambda L, F, x, d: F.leaky_relu(x, 0.2),
    "softplus(threshold=1)": lambda L, F, x, d: F.softplus(x, beta=2.0, threshold=1.0),
    "x**2 + x**1.0": lambda L, F, x, d: x**2 + x**1.0,
    "max()": lambda L, F, x, d: L.max(x),
    "amin()": lambda L, F, x, d: L.amin(x),
    "amax(dim)": lambda L, F, x, d: L.amax(x, dim=d),
    "max(dim)": lambda L, F, x, d: L.max(x, dim=d)[0],
    "min(dim, keepdim)": lambda L, F, x, d: L.min(x, dim=d, keepdim=True)[0],
    "norm(dim)": lambda L, F, x, d: L.norm(x, dim=d),
    "norm(p=1, dim)": lambda L, F, x, d: L.norm(x, p=1, dim=d),
    "norm(p=3, dim)": lambda L, F, x, d: L.norm(x, p=3, dim=d),
    "norm(p=inf, dim)": lambda L, F, x, d: L.norm(x, p=math.inf, dim=d),
    "prod(dim)": lambda L, F, x, d: L.prod(x, dim=d),
    "std(dim)": lambda L, F, x, d: L.std(x, dim=d),
    "normalize(dim)": lambda L, F, x, d: F.normalize(x, dim=d),
}
FUZZ_BINARY = {
    "maximum": lambda L, F, x, y: L.maximum(x, y),
    "minimum": lambda L, F, x, y: L.minimum(x, y),
    "clamp(x, min=y)": lambda L, F, x, y: L.clamp(x, min=y),
    "clamp(x, y, y + 1)": lambda L, F, x, y: L.clamp(x, y, y + 1),
    "clamp(x, y + 1, y)": lambda L, F, x, y: L.clamp(x, y + 1, y),
    "clamp(x, y, y)": lambda L, F, x, y: L.clamp(x, y, y * 1.0),
    "where(x > y)": lambda L, F, x, y: L.where(x > y, x * y, y),
    "pow(|x|, y)": lambda L, F, x, y: L.pow(L.abs(x), y),
}
FUZZ_RUNS = {"cases": 0}


@st.composite
def _fuzz_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    size = int(np.prod(shape))
    x = np.array(draw(st.lists(st.sampled_from(KINK_VALUES), min_size=size, max_size=size))).reshape(shape)
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(FUZZ_UNARY)))
        d = draw(st.integers(-len(shape), len(shape) - 1))
        return K(name, lambda L, F, x, fn=FUZZ_UNARY[name], d=d: fn(L, F, x, d), [(x,)]), (x,)
    name = draw(st.sampled_from(sorted(FUZZ_BINARY)))
    y_shape = shape[draw(st.integers(0, len(shape))) :]  # a trailing part: broadcasting
    y = np.array(
        draw(st.lists(st.sampled_from(KINK_VALUES), min_size=int(np.prod(y_shape)), max_size=int(np.prod(y_shape))))
    ).reshape(y_shape)
    return K(name, FUZZ_BINARY[name], [(x, y)]), (x, y)


@settings(deadline=None, max_examples=300)
@given(_fuzz_case())
def test_fuzz_tie_heavy_inputs_match_torch(case):
    k, point = case
    FUZZ_RUNS["cases"] += 1
    with np.errstate(all="ignore"):
        test_derivatives_at_kinks_match_torch(k, point)
