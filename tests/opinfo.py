"""The op table: every differentiable public op described once (CONTRIBUTING.md, "The op table").

Each OpSpec names our function, a NumPy/SciPy reference, the same op in PyTorch
(where PyTorch has it), the inputs' domains and the sample cases. The generic
tests in test_ops.py run over every (spec, case) pair.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
import scipy.special as sc

import chainrule as cr
import chainrule.ops.conv as cconv
import chainrule.ops.nn as cnn
import chainrule.ops.rnn as crnn

UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 4), (1, 4)]
BINARY_SHAPES = [
    ((), ()),
    ((5,), (5,)),
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((4,), (3, 4)),
    ((2, 3, 4), ()),
    ((1, 4), (3, 1)),
]
REDUCE_CASES = [
    ((3, 4), dict(dim=None, keepdim=False)),
    ((3, 4), dict(dim=0, keepdim=False)),
    ((3, 4), dict(dim=-1, keepdim=True)),
    ((2, 3, 4), dict(dim=(0, 2), keepdim=False)),
    ((5,), dict(dim=0, keepdim=True)),
    ((2, 3, 4), dict(dim=1, keepdim=False)),
]


@dataclasses.dataclass
class OpSpec:
    """One op, described once.

    fn: our op on Tensors (positional args), with kwargs from a case.
    ref: NumPy reference on arrays (same args and kwargs), or None.
    torch_fn: PyTorch's op on torch tensors (same args and kwargs), or None.
    cases: list of (arg shapes, kwargs).
    domains: per-arg (low, high) for uniform samples.
    grad_args: indices of the differentiable args (others are constants).
    make_args: optional rng -> list of arrays, replacing shape-based sampling.
    """

    name: str
    fn: Callable
    ref: Callable | None
    torch_fn: Callable | None = None
    cases: list = dataclasses.field(default_factory=lambda: [(s, {}) for s in [(sh,) for sh in UNARY_SHAPES]])
    domains: tuple = ((-2.0, 2.0),)
    grad_args: tuple | None = None
    supports_gradgrad: bool = True
    make_args: Callable | None = None
    fwd_tol: tuple = (1e-7, 1e-10)
    f32_tol: tuple = (1e-4, 1e-5)
    keeps_dtype: bool = True
    gradcheck_kwargs: dict = dataclasses.field(default_factory=dict)
    notes: str = ""

    def sample(self, case_index, rng):
        shapes, kwargs = self.cases[case_index]
        if self.make_args is not None:
            return list(self.make_args(rng, shapes)), dict(kwargs)
        args = []
        for i, shape in enumerate(shapes):
            lo, hi = self.domains[min(i, len(self.domains) - 1)]
            args.append(rng.uniform(lo, hi, size=shape).astype(np.float64))
        return args, dict(kwargs)

    def differentiable(self, args):
        if self.grad_args is not None:
            return list(self.grad_args)
        return [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]


def unary(name, fn, ref, torch_fn=None, domain=(-2.0, 2.0), **kw):
    return OpSpec(name, fn, ref, torch_fn, cases=[((s,), {}) for s in UNARY_SHAPES], domains=(domain,), **kw)


def binary(name, fn, ref, torch_fn=None, domains=((-2.0, 2.0), (-2.0, 2.0)), **kw):
    return OpSpec(name, fn, ref, torch_fn, cases=[(s, {}) for s in BINARY_SHAPES], domains=domains, **kw)


def reduction(name, fn, ref, torch_fn=None, domain=(-2.0, 2.0), cases=REDUCE_CASES, **kw):
    return OpSpec(name, fn, ref, torch_fn, cases=[((s,), dict(k)) for s, k in cases], domains=(domain,), **kw)


def _np_axis(kwargs):
    dim = kwargs.get("dim")
    return dict(axis=dim, keepdims=kwargs.get("keepdim", False))


def _dropout_keep(shape, p=0.3, seed=0):
    """Dropout's documented rule, written out: a unit is dropped when a uniform 32-bit U < ceil(p 2^32),
    U's first byte taken from a 64-bit draw (eight per draw) and its other 24 bits drawn for ties only."""
    bits = np.random.default_rng(seed).bit_generator
    size = int(np.prod(shape))
    t = int(np.ceil(p * 2.0**32))
    first = bits.random_raw((size + 7) // 8).view(np.uint8)[:size].astype(np.uint64)
    tie = np.flatnonzero(first == t >> 24)
    u = first << np.uint64(24)
    u[tie] += bits.random_raw(tie.size) & np.uint64(0xFFFFFF)
    u[first > t >> 24] += np.uint64(0xFFFFFF)  # any low bits: only the first byte decides
    return (u >= t).reshape(shape)


def _torch_dropout_same_mask(x):
    import torch

    return x * torch.from_numpy(_dropout_keep(tuple(x.shape))).to(x.dtype) / 0.7


def _t(name):
    """torch.<name> looked up when called (torch is imported by the test that uses it)."""

    def call(*args, **kwargs):
        import torch

        obj = torch
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    return call


def _tdims(fn_name):
    """A torch reduction that takes dim=None as 'all dims'."""

    def call(x, dim=None, keepdim=False, **kw):
        import torch

        fn = getattr(torch, fn_name)
        if dim is None:
            dim = tuple(range(x.ndim))
        return fn(x, dim=dim, keepdim=keepdim, **kw)

    return call


def _torch_prod(x, dim=None, keepdim=False):
    import torch

    dims = range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    for d in sorted((d % x.ndim for d in dims), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdim)
    return x


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_log_softmax(x, dim):
    return x - sc.logsumexp(x, axis=dim, keepdims=True)


def _class_targets(n_classes_axis=1):
    def make(rng, shapes):
        (shape,) = shapes
        logits = rng.uniform(-3, 3, size=shape)
        classes = shape[n_classes_axis] if len(shape) > 1 else shape[0]
        target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
        return [logits, rng.integers(0, classes, size=target_shape).astype(np.int64)]

    return make


def _np_cross_entropy(x, t, reduction="mean", **_):
    logp = _np_log_softmax(x, 1 if x.ndim > 1 else 0)
    if x.ndim == 1:
        loss = -logp[t]
    else:
        grids = np.indices(t.shape, sparse=True)
        loss = -logp[(grids[0], t) + tuple(grids[1:])]
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


_CE_WEIGHT = np.array([0.2, 1.0, 3.0])


def _np_cross_entropy_weighted(x, t, reduction="mean", weight=_CE_WEIGHT):
    picked = -_np_log_softmax(x, 1)[np.arange(len(t)), t] * weight[t]
    return picked.sum() / weight[t].sum() if reduction == "mean" else picked.sum()


def _np_cross_entropy_ignore_smooth(x, t, label_smoothing=0.0):
    t = np.where(np.arange(len(t)) == 1, -100, t)
    keep = t != -100
    logp = _np_log_softmax(x, 1)
    nll = -logp[np.arange(len(t)), np.where(keep, t, 0)]
    smooth = -logp.mean(axis=1)
    loss = (1 - label_smoothing) * nll + label_smoothing * smooth
    return loss[keep].mean()


def _prob_targets(rng, shapes):
    (shape,) = shapes
    p = rng.uniform(0.1, 1.0, size=shape)
    return [rng.uniform(-3, 3, size=shape), p / p.sum(axis=1, keepdims=True)]


def _bce_args(rng, shapes):
    (shape,) = shapes
    return [rng.uniform(0.05, 0.95, size=shape), rng.uniform(0, 1, size=shape)]


def _bce_logits_args(rng, shapes):
    (shape,) = shapes
    return [rng.uniform(-3, 3, size=shape), rng.uniform(0, 1, size=shape)]


def _np_bce(p, t, reduction="mean"):
    loss = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def _np_bce_logits(z, t, reduction="mean", pos_weight=None):
    pw = 1.0 if pos_weight is None else pos_weight
    loss = (1 - t) * z + (1 + (pw - 1) * t) * np.logaddexp(0, -z)
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def _np_getitem(index):
    return lambda x: x[index]


def _max_dim(x, dim, keepdim=False):
    return cr.max(x, dim=dim, keepdim=keepdim).values


def _torch_max_dim(x, dim, keepdim=False):
    import torch

    return torch.max(x, dim=dim, keepdim=keepdim).values


def _min_dim(x, dim, keepdim=False):
    return cr.min(x, dim=dim, keepdim=keepdim).values


def _torch_min_dim(x, dim, keepdim=False):
    import torch

    return torch.min(x, dim=dim, keepdim=keepdim).values


def _split_weighted(x, sizes, dim=0):
    pieces = cr.split(x, sizes, dim=dim)
    return cr.cat([p * (i + 1) for i, p in enumerate(pieces)], dim=dim)


def _np_split_weighted(x, sizes, dim=0):
    bounds = np.cumsum(sizes if not isinstance(sizes, int) else [sizes] * (x.shape[dim] // sizes))[:-1]
    pieces = np.split(x, bounds, axis=dim)
    return np.concatenate([p * (i + 1) for i, p in enumerate(pieces)], axis=dim)


def _torch_split_weighted(x, sizes, dim=0):
    import torch

    pieces = torch.split(x, sizes, dim=dim)
    return torch.cat([p * (i + 1) for i, p in enumerate(pieces)], dim=dim)


def _chunk_weighted(x, chunks, dim=0):
    return cr.cat([p * (i + 1) for i, p in enumerate(cr.chunk(x, chunks, dim=dim))], dim=dim)


def _torch_chunk_weighted(x, chunks, dim=0):
    import torch

    return torch.cat([p * (i + 1) for i, p in enumerate(torch.chunk(x, chunks, dim=dim))], dim=dim)


def _np_chunk_weighted(x, chunks, dim=0):
    return np.concatenate([p * (i + 1) for i, p in enumerate(np.array_split(x, chunks, axis=dim))], axis=dim)


def _inplace_on_view(x, v):
    y = x * 2.0
    y[1:, ::2].mul_(v)
    return y


def _np_inplace_on_view(x, v):
    y = x * 2.0
    y[1:, ::2] *= v
    return y


_PUT_ROWS, _PUT_COLS = np.array([0, 2, 0]), np.array([1, 3, 2])  # distinct (row, col) pairs
_ADD_ROWS, _ADD_COLS = np.array([0, 2, 0]), np.array([1, 3, 1])  # (0, 1) twice: accumulate adds


def _index_put_fn(x, v, accumulate=False):
    rows, cols = (_ADD_ROWS, _ADD_COLS) if accumulate else (_PUT_ROWS, _PUT_COLS)
    return cr.index_put(x, (cr.tensor(rows), cr.tensor(cols)), v, accumulate=accumulate)


def _np_index_put(x, v, accumulate=False):
    out = x.copy()
    if accumulate:
        np.add.at(out, (_ADD_ROWS, _ADD_COLS), v)
    else:
        out[_PUT_ROWS, _PUT_COLS] = v
    return out


def _torch_index_put(x, v, accumulate=False):
    import torch

    rows, cols = (_ADD_ROWS, _ADD_COLS) if accumulate else (_PUT_ROWS, _PUT_COLS)
    return torch.index_put(x, (torch.tensor(rows), torch.tensor(cols)), v, accumulate=accumulate)


_MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])


def _setitem_fn(index):
    """y = 2 x; y[index] = v: gradients to the base and to the value."""

    def ours(x, v):
        y = x * 2
        y[index() if callable(index) else index] = v
        return y

    return ours


def _torch_setitem(index):
    def theirs(x, v):
        y = x * 2
        y[index(torch=True) if callable(index) else index] = v
        return y

    return theirs


def _np_setitem(np_index):
    def ref(x, v):
        y = x * 2
        y[np_index] = v
        return y

    return ref


def _np_setitem_int_then_array(x, v):
    y = x * 2
    y[0][:, [1, 3]] = v  # the int first, as PyTorch reads x[0, :, [1, 3]]
    return y


def _mask_index(torch=False):
    if torch:
        import torch as _torch

        return _torch.tensor(_MASK)
    return cr.tensor(_MASK)


_SCATTER_INDEX = np.array([[2, 0], [1, 3], [0, 1]])  # distinct targets in each row
_SCATTER_ADD_INDEX = np.array([[2, 2], [1, 3], [0, 0]])


def _np_scatter(x, src, index, add):
    out = x.copy()
    where = (np.arange(index.shape[0])[:, None], index)
    part = src[:, : index.shape[1]]
    if add:
        np.add.at(out, where, part)
    else:
        out[where] = part
    return out


def _index_select_fn(x, dim):
    return cr.index_select(x, dim, cr.tensor([2, 0, 2]))


def _torch_index_select(x, dim):
    import torch

    return torch.index_select(x, dim, torch.tensor([2, 0, 2]))


def _np_index_add(x, src, alpha=1):
    out = x.copy()
    np.add.at(out, (slice(None), np.array([3, 0, 3])), alpha * src)
    return out


def _np_pad(x, pad, value=0.0):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, widths, constant_values=value)


def _np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + sc.erf(x / np.sqrt(2)))


def _np_norm(x, p="fro", dim=None, keepdim=False):
    axis = dim
    a = np.abs(x)
    if p in ("fro", 2):
        return np.sqrt((a**2).sum(axis=axis, keepdims=keepdim))
    if p == np.inf:
        return a.max(axis=axis, keepdims=keepdim)
    if p == 1:
        return a.sum(axis=axis, keepdims=keepdim)
    return (a**p).sum(axis=axis, keepdims=keepdim) ** (1 / p)


def _torch_norm(x, p="fro", dim=None, keepdim=False):
    import torch

    if dim is None:
        dim = tuple(range(x.ndim))
    return torch.linalg.vector_norm(x, ord=2 if p == "fro" else p, dim=dim, keepdim=keepdim)


def _gather_args(rng, shapes):
    (shape,) = shapes
    x = rng.uniform(-2, 2, size=shape)
    index = rng.integers(0, shape[1], size=(shape[0], 5)).astype(np.int64)
    return [x, index]


def _np_gather(x, index, dim=1):
    return np.take_along_axis(x, index, axis=dim)


def _np_var(x, dim=None, keepdim=False, correction=1):
    return np.var(x, axis=dim, keepdims=keepdim, ddof=correction)


def _np_std(x, dim=None, keepdim=False, correction=1):
    return np.std(x, axis=dim, keepdims=keepdim, ddof=correction)


def _np_extremum(fn):
    return lambda x, dim=None, keepdim=False: fn(x, axis=dim, keepdims=keepdim)


def _np_reduce(fn):
    return lambda x, dim=None, keepdim=False: fn(x, axis=dim, keepdims=keepdim)


def _distinct(rng, shapes):
    # amax/amin samples: well-separated values, so finite differences never straddle a tie.
    args = []
    for shape in shapes:
        n = int(np.prod(shape)) if shape else 1
        args.append((rng.permutation(n).astype(np.float64) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape))
    return args


def _nonzero_uniform(lo, hi):
    def make(rng, shapes):
        out = []
        for shape in shapes:
            mag = rng.uniform(lo, hi, size=shape)
            out.append(mag * rng.choice([-1.0, 1.0], size=shape))
        return out

    return make


def _away_from_zero(rng, shapes):
    return [rng.uniform(0.2, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s) for s in shapes]


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 2)),
    ((3, 4), (4, 2)),
    ((2, 3, 4), (4, 2)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]

OP_TABLE = [
    # ----- unary elementwise -----
    unary("neg", cr.neg, np.negative, _t("neg")),
    unary("exp", cr.exp, np.exp, _t("exp")),
    unary("log", cr.log, np.log, _t("log"), domain=(0.1, 5.0)),
    unary("log1p", cr.log1p, np.log1p, _t("log1p"), domain=(-0.9, 3.0)),
    unary("expm1", cr.expm1, np.expm1, _t("expm1")),
    unary("log2", cr.log2, np.log2, _t("log2"), domain=(0.1, 5.0)),
    unary("log10", cr.log10, np.log10, _t("log10"), domain=(0.1, 5.0)),
    unary("sqrt", cr.sqrt, np.sqrt, _t("sqrt"), domain=(0.1, 5.0)),
    unary("rsqrt", cr.rsqrt, lambda x: 1 / np.sqrt(x), _t("rsqrt"), domain=(0.1, 5.0)),
    unary("square", cr.square, np.square, _t("square")),
    OpSpec(
        "reciprocal",
        cr.reciprocal,
        np.reciprocal,
        _t("reciprocal"),
        cases=[((s,), {}) for s in UNARY_SHAPES],
        make_args=_nonzero_uniform(0.5, 2.0),
    ),
    OpSpec("abs", cr.abs, np.abs, _t("abs"), cases=[((s,), {}) for s in UNARY_SHAPES], make_args=_away_from_zero),
    unary("sin", cr.sin, np.sin, _t("sin")),
    unary("cos", cr.cos, np.cos, _t("cos")),
    unary("tan", cr.tan, np.tan, _t("tan"), domain=(-1.2, 1.2)),
    unary("tanh", cr.tanh, np.tanh, _t("tanh")),
    unary("sigmoid", cr.sigmoid, sc.expit, _t("sigmoid")),
    unary("erf", cr.erf, sc.erf, _t("erf")),
    OpSpec(
        "relu",
        cr.relu,
        lambda x: np.maximum(x, 0),
        _t("relu"),
        cases=[((s,), {}) for s in UNARY_SHAPES],
        make_args=_away_from_zero,
    ),
    OpSpec(
        "leaky_relu",
        lambda x, **k: cr.leaky_relu(x, **k),
        lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
        _t("nn.functional.leaky_relu"),
        cases=[(((3, 4),), {}), (((5,),), dict(negative_slope=0.2))],
        make_args=_away_from_zero,
    ),
    OpSpec(
        "elu",
        lambda x, **k: cr.elu(x, **k),
        lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)),
        _t("nn.functional.elu"),
        cases=[(((3, 4),), {}), (((5,),), dict(alpha=0.5))],
        make_args=_away_from_zero,
    ),
    OpSpec(
        "selu",
        cr.ops.elementwise.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
        _t("nn.functional.selu"),
        cases=[(((3, 4),), {})],
        make_args=_away_from_zero,
    ),
    OpSpec(
        "gelu",
        lambda x, **k: cr.gelu(x, **k),
        _np_gelu,
        _t("nn.functional.gelu"),
        cases=[(((3, 4),), {}), (((5,),), dict(approximate="tanh")), (((),), {})],
    ),
    OpSpec(
        "softplus",
        lambda x, **k: cr.softplus(x, **k),
        lambda x, beta=1.0, threshold=20.0: np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta),
        _t("nn.functional.softplus"),
        cases=[(((3, 4),), {}), (((5,),), dict(beta=2.0)), (((2, 3),), dict(beta=1.0, threshold=1.0))],
        domains=((-3.0, 3.0),),
    ),
    unary("silu", cr.silu, lambda x: x * sc.expit(x), _t("nn.functional.silu")),
    unary("mish", cr.ops.elementwise.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), _t("nn.functional.mish")),
    OpSpec(
        "clamp",
        lambda x, **k: cr.clamp(x, **k),
        lambda x, min=None, max=None: np.clip(x, min, max),
        _t("clamp"),
        cases=[(((3, 4),), dict(min=-0.5, max=0.7)), (((5,),), dict(min=0.1)), (((2, 3),), dict(max=0.3))],
        make_args=lambda rng, shapes: [
            rng.choice([-1.5, -0.9, -0.2, 0.25, 0.5, 1.3], size=shapes[0]) + rng.uniform(-0.01, 0.01, size=shapes[0])
        ],
    ),
    OpSpec(
        "hardtanh",
        lambda x, **k: cr.nn.functional.hardtanh(x, **k),
        lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
        _t("nn.functional.hardtanh"),
        cases=[(((3, 4),), {}), (((5,),), dict(min_val=-0.5, max_val=0.7))],
        make_args=lambda rng, shapes: [
            rng.choice([-1.5, -0.9, -0.2, 0.25, 0.5, 1.3], size=shapes[0]) + rng.uniform(-0.01, 0.01, size=shapes[0])
        ],
    ),
    OpSpec(
        "clamp_tensor_bounds",
        lambda x, lo, hi: cr.clamp(x, lo, hi),
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        _t("clamp"),
        cases=[(((3, 4), (3, 4), (4,)), {}), (((5,), (), (5,)), {})],
        make_args=lambda rng, shapes: [
            rng.choice([-1.5, -0.2, 0.25, 1.3], size=shapes[0]) + rng.uniform(-0.01, 0.01, size=shapes[0]),
            rng.uniform(-1.0, -0.5, size=shapes[1]),
            rng.uniform(0.5, 1.0, size=shapes[2]),
        ],
    ),
    OpSpec("clone", cr.ops.elementwise.clone, np.copy, _t("clone")),
    OpSpec(
        "cast_f64",
        lambda x: cr.ops.elementwise.cast(x, cr.float32).double(),
        lambda x: x.astype(np.float32).astype(np.float64),
        lambda x: x.float().double(),
        fwd_tol=(1e-6, 1e-7),
        keeps_dtype=False,
        gradcheck_kwargs=dict(eps=1e-2),
        notes="float32 round trip: a coarse FD step",
    ),
    # ----- binary elementwise (broadcasting) -----
    binary("add", cr.add, np.add, _t("add")),
    binary("sub", cr.sub, np.subtract, _t("sub")),
    binary("mul", cr.mul, np.multiply, _t("mul")),
    OpSpec(
        "div",
        cr.div,
        np.divide,
        _t("div"),
        cases=[(s, {}) for s in BINARY_SHAPES],
        make_args=lambda rng, shapes: [
            rng.uniform(-2, 2, size=shapes[0]),
            _nonzero_uniform(0.5, 2.0)(rng, [shapes[1]])[0],
        ],
    ),
    binary("pow", cr.pow, np.power, _t("pow"), domains=((0.5, 2.0), (-2.0, 2.0))),
    # x / y stays in (1.1, 1.9) (floor 1): finite differences never step across a jump of x % y
    binary("remainder", lambda x, y: x % y, np.remainder, _t("remainder"), domains=((2.2, 2.8), (1.5, 2.0))),
    OpSpec(
        "pow_scalar",
        lambda x, **k: x ** k["p"],
        lambda x, p: x**p,
        lambda x, p: x**p,
        cases=[(((3, 4),), dict(p=3)), (((5,),), dict(p=0.5)), (((2, 3),), dict(p=-2)), (((),), dict(p=10))],
        domains=((0.5, 2.0),),
    ),
    OpSpec(
        "rpow",
        lambda x, **k: k["a"] ** x,
        lambda x, a: a**x,
        lambda x, a: a**x,
        cases=[(((3, 4),), dict(a=2.0)), (((),), dict(a=0.5))],
        notes="d/dx a^x = a^x ln a",
    ),
    OpSpec(
        "maximum",
        cr.maximum,
        np.maximum,
        _t("maximum"),
        cases=[(s, {}) for s in BINARY_SHAPES],
        make_args=lambda rng, shapes: [rng.uniform(-2, 2, size=shapes[0]), rng.uniform(-2, 2, size=shapes[1])],
    ),
    OpSpec(
        "minimum",
        cr.minimum,
        np.minimum,
        _t("minimum"),
        cases=[(s, {}) for s in BINARY_SHAPES],
        make_args=lambda rng, shapes: [rng.uniform(-2, 2, size=shapes[0]), rng.uniform(-2, 2, size=shapes[1])],
    ),
    OpSpec(
        "where",
        lambda c, x, y: cr.where(c, x, y),
        np.where,
        lambda c, x, y: _t("where")(c, x, y),
        cases=[(((3, 4), (3, 4), (3, 4)), {}), (((3, 4), (4,), (3, 1)), {}), (((5,), (), (5,)), {})],
        make_args=lambda rng, shapes: (
            [rng.uniform(size=shapes[0]) > 0.5] + [rng.uniform(-2, 2, size=s) for s in shapes[1:]]
        ),
        grad_args=(1, 2),
    ),
    # ----- reductions -----
    reduction("sum", cr.sum, _np_reduce(np.sum), _tdims("sum")),
    reduction("mean", cr.mean, _np_reduce(np.mean), _tdims("mean")),
    reduction("prod", cr.prod, _np_reduce(np.prod), _torch_prod, domain=(0.5, 1.5)),
    OpSpec(
        "prod_with_zero",
        lambda x, **k: cr.prod(x, **k),
        _np_reduce(np.prod),
        _torch_prod,
        cases=[(((3, 4),), dict(dim=1)), (((6,),), dict(dim=0))],
        make_args=lambda rng, shapes: [
            np.where(
                np.arange(int(np.prod(shapes[0]))).reshape(shapes[0]) % 4 == 1,
                0.0,
                rng.uniform(0.5, 1.5, size=shapes[0]),
            )
        ],
        supports_gradgrad=True,
        notes="one zero per slice: exact partials",
    ),
    OpSpec(
        "amax",
        cr.amax,
        _np_extremum(np.max),
        _tdims("amax"),
        cases=[((s,), dict(k)) for s, k in REDUCE_CASES],
        make_args=_distinct,
    ),
    OpSpec(
        "amin",
        cr.amin,
        _np_extremum(np.min),
        _tdims("amin"),
        cases=[((s,), dict(k)) for s, k in REDUCE_CASES],
        make_args=_distinct,
    ),
    OpSpec(
        "max_dim",
        _max_dim,
        lambda x, dim, keepdim=False: np.max(x, axis=dim, keepdims=keepdim),
        _torch_max_dim,
        cases=[(((3, 4),), dict(dim=1)), (((2, 3, 4),), dict(dim=0, keepdim=True))],
        make_args=_distinct,
    ),
    OpSpec(
        "min_dim",
        _min_dim,
        lambda x, dim, keepdim=False: np.min(x, axis=dim, keepdims=keepdim),
        _torch_min_dim,
        cases=[(((3, 4),), dict(dim=1)), (((2, 3, 4),), dict(dim=-1))],
        make_args=_distinct,
    ),
    reduction(
        "logsumexp",
        cr.logsumexp,
        lambda x, dim=None, keepdim=False: sc.logsumexp(x, axis=dim, keepdims=keepdim),
        _tdims("logsumexp"),
    ),
    reduction("var", cr.var, _np_var, _tdims("var")),
    reduction("std", cr.std, _np_std, _tdims("std")),
    OpSpec(
        "var_biased",
        lambda x, **k: cr.var(x, **k),
        lambda x, dim, correction: np.var(x, axis=dim, ddof=correction),
        lambda x, dim, correction: _t("var")(x, dim=dim, correction=correction),
        cases=[(((3, 4),), dict(dim=1, correction=0))],
    ),
    OpSpec(
        "norm",
        lambda x, **k: cr.norm(x, **k),
        _np_norm,
        _torch_norm,
        cases=[
            (((3, 4),), {}),
            (((3, 4),), dict(dim=1)),
            (((5,),), dict(p=1)),
            (((2, 3),), dict(p=3, dim=0)),
            (((3, 4),), dict(p=np.inf, dim=-1, keepdim=True)),
        ],
        make_args=_distinct,
    ),
    # ----- shape and indexing -----
    OpSpec(
        "reshape",
        lambda x, **k: x.reshape(k["shape"]),
        lambda x, shape: x.reshape(shape),
        lambda x, shape: x.reshape(shape),
        cases=[(((3, 4),), dict(shape=(2, 6))), (((2, 3, 4),), dict(shape=(-1,))), (((),), dict(shape=(1, 1)))],
    ),
    OpSpec(
        "flatten",
        lambda x, **k: cr.flatten(x, **k),
        lambda x, start_dim=0: x.reshape(x.shape[:start_dim] + (-1,)),
        _t("flatten"),
        cases=[(((2, 3, 4),), {}), (((2, 3, 4),), dict(start_dim=1))],
    ),
    OpSpec(
        "transpose",
        lambda x, **k: cr.transpose(x, k["dim0"], k["dim1"]),
        lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
        _t("transpose"),
        cases=[(((3, 4),), dict(dim0=0, dim1=1)), (((2, 3, 4),), dict(dim0=0, dim1=2))],
    ),
    OpSpec(
        "T",
        lambda x: x.T,
        lambda x: x.T,
        lambda x: x.permute(*reversed(range(x.ndim))),
        cases=[(((3, 4),), {}), (((5,),), {})],
    ),
    OpSpec(
        "permute",
        lambda x, **k: cr.permute(x, k["dims"]),
        lambda x, dims: np.transpose(x, dims),
        lambda x, dims: x.permute(dims),
        cases=[(((2, 3, 4),), dict(dims=(2, 0, 1)))],
    ),
    OpSpec(
        "squeeze",
        lambda x, **k: cr.squeeze(x, **k),
        lambda x, dim=None: np.squeeze(x, dim),
        _t("squeeze"),
        cases=[(((1, 4),), {}), (((3, 1, 2),), dict(dim=1))],
    ),
    OpSpec(
        "unsqueeze",
        lambda x, **k: cr.unsqueeze(x, **k),
        lambda x, dim: np.expand_dims(x, dim),
        _t("unsqueeze"),
        cases=[(((3, 4),), dict(dim=1)), (((),), dict(dim=0)), (((5,),), dict(dim=-1))],
    ),
    OpSpec(
        "expand",
        lambda x, **k: x.expand(*k["sizes"]),
        lambda x, sizes: np.broadcast_to(
            x, tuple(s if s != -1 else x.shape[i - (len(sizes) - x.ndim)] for i, s in enumerate(sizes))
        ),
        lambda x, sizes: x.expand(*sizes),
        cases=[(((3, 1),), dict(sizes=(3, 4))), (((4,),), dict(sizes=(2, -1))), (((),), dict(sizes=(2, 3)))],
    ),
    OpSpec(
        "broadcast_to",
        lambda x, **k: cr.broadcast_to(x, k["shape"]),
        lambda x, shape: np.broadcast_to(x, shape),
        lambda x, shape: _t("broadcast_to")(x, shape),
        cases=[(((1, 4),), dict(shape=(3, 4))), (((3, 1),), dict(shape=(2, 3, 5)))],
    ),
    OpSpec(
        "cat",
        lambda *xs, **k: cr.cat(xs, **k),
        lambda *xs, dim=0: np.concatenate(xs, axis=dim),
        lambda *xs, dim=0: _t("cat")(xs, dim=dim),
        cases=[(((2, 3), (4, 3)), {}), (((2, 3), (2, 1), (2, 2)), dict(dim=1)), (((5,), (1,)), {})],
    ),
    OpSpec(
        "stack",
        lambda *xs, **k: cr.stack(xs, **k),
        lambda *xs, dim=0: np.stack(xs, axis=dim),
        lambda *xs, dim=0: _t("stack")(xs, dim=dim),
        cases=[(((2, 3), (2, 3)), {}), (((4,), (4,), (4,)), dict(dim=1))],
    ),
    OpSpec(
        "split",
        lambda x, **k: _split_weighted(x, **k),
        _np_split_weighted,
        _torch_split_weighted,
        cases=[(((5, 3),), dict(sizes=[2, 3])), (((2, 6),), dict(sizes=2, dim=1))],
    ),
    OpSpec(
        "chunk",
        lambda x, **k: _chunk_weighted(x, **k),
        _np_chunk_weighted,
        _torch_chunk_weighted,
        cases=[(((6, 2),), dict(chunks=3)), (((2, 4),), dict(chunks=2, dim=1))],
    ),
    OpSpec(
        "unbind",
        lambda x: cr.stack(cr.unbind(x, 0)[::-1]),
        lambda x: x[::-1],
        lambda x: _t("stack")(_t("unbind")(x, 0)[::-1]),
        cases=[(((3, 4),), {})],
    ),
    OpSpec(
        "pad",
        lambda x, **k: cr.pad(x, **k),
        _np_pad,
        _t("nn.functional.pad"),
        cases=[(((3, 4),), dict(pad=(1, 2))), (((2, 3, 4),), dict(pad=(1, 0, 0, 2), value=1.5))],
    ),
    OpSpec(
        "flip",
        lambda x, **k: cr.flip(x, k["dims"]),
        lambda x, dims: np.flip(x, dims),
        _t("flip"),
        cases=[(((3, 4),), dict(dims=(0,))), (((2, 3, 4),), dict(dims=(0, 2)))],
    ),
    OpSpec(
        "repeat",
        lambda x, **k: x.repeat(*k["sizes"]),
        lambda x, sizes: np.tile(x, sizes),
        lambda x, sizes: x.repeat(*sizes),
        cases=[(((2, 3),), dict(sizes=(2, 1))), (((3,),), dict(sizes=(2, 2)))],
    ),
    OpSpec("getitem_basic", lambda x: x[1:, ::2], lambda x: x[1:, ::2], lambda x: x[1:, ::2], cases=[(((3, 4),), {})]),
    OpSpec("getitem_int", lambda x: x[1, 2], lambda x: x[1, 2], lambda x: x[1, 2], cases=[(((3, 4),), {})]),
    OpSpec(
        "getitem_none_ellipsis",
        lambda x: x[None, ..., 1],
        lambda x: x[None, ..., 1],
        lambda x: x[None, ..., 1],
        cases=[(((2, 3, 4),), {})],
    ),
    OpSpec(
        "getitem_array_repeats",
        lambda x: x[[0, 2, 0, 0]],
        lambda x: x[[0, 2, 0, 0]],
        lambda x: x[[0, 2, 0, 0]],
        cases=[(((3, 4),), {})],
        notes="repeated indices add up",
    ),
    OpSpec(
        "getitem_mixed",
        lambda x: x[np.array([1, 1, 0]), :, np.array([3, 0, 3])],
        lambda x: x[np.array([1, 1, 0]), :, np.array([3, 0, 3])],
        lambda x: x[[1, 1, 0], :, [3, 0, 3]],
        cases=[(((2, 3, 4),), {})],
    ),
    OpSpec(
        "getitem_mask",
        lambda x: x[np.array([[True, False, True, True]] * 3)],
        lambda x: x[np.array([[True, False, True, True]] * 3)],
        lambda x: x[_t("tensor")([[True, False, True, True]] * 3)],
        cases=[(((3, 4),), {})],
    ),
    OpSpec(
        "gather",
        lambda x, i, **k: cr.gather(x, k.get("dim", 1), i),
        _np_gather,
        lambda x, i, dim=1: _t("gather")(x, dim, i),
        cases=[(((3, 4),), {})],
        make_args=_gather_args,
        grad_args=(0,),
    ),
    OpSpec(
        "index_put",
        _index_put_fn,
        _np_index_put,
        _torch_index_put,
        cases=[
            (((3, 4), (3,)), {}),
            (((3, 4), ()), {}),
            (((3, 4), (3,)), dict(accumulate=True)),
            (((3, 4), (1,)), dict(accumulate=True)),
        ],
    ),
    OpSpec(
        "getitem_int_then_array",
        lambda x: x[0, :, [1, 2, 1, 1]],
        lambda x: x[0][:, [1, 2, 1, 1]],
        lambda x: x[0, :, [1, 2, 1, 1]],
        cases=[(((2, 3, 4),), {})],
        notes="PyTorch applies the int first: shape (3, 4), where NumPy gives (4, 3)",
    ),
    OpSpec(
        "getitem_separated_arrays",
        lambda x: x[[1, 0], :, [3, 3]],
        lambda x: x[[1, 0], :, [3, 3]],
        lambda x: x[[1, 0], :, [3, 3]],
        cases=[(((2, 3, 4),), {})],
    ),
    OpSpec(
        "getitem_bool_none_arrays",
        lambda x: x[:, True, [0, 2], None, 1:],
        lambda x: x[:, None][:, [0], [0, 2]][:, :, None, 1:],
        lambda x: x[:, True, [0, 2], None, 1:],
        cases=[(((2, 3, 4),), {})],
    ),
    OpSpec(
        "getitem_mask_and_int",
        lambda x: x[cr.tensor(_MASK[:2, :3]), 1],
        lambda x: x[:, :, 1][_MASK[:2, :3]],
        lambda x: x[_t("tensor")(_MASK[:2, :3]), 1],
        cases=[(((2, 3, 4),), {})],
    ),
    OpSpec(
        "setitem_array",
        _setitem_fn((slice(None), [0, 2])),
        _np_setitem((slice(None), [0, 2])),
        _torch_setitem((slice(None), [0, 2])),
        cases=[(((3, 4), (3, 2)), {}), (((3, 4), (2,)), {}), (((3, 4), (1, 3, 1)), {})],
    ),
    OpSpec(
        "setitem_int_then_array",
        _setitem_fn((0, slice(None), [1, 3])),
        _np_setitem_int_then_array,
        _torch_setitem((0, slice(None), [1, 3])),
        cases=[(((2, 3, 4), (3, 2)), {}), (((2, 3, 4), ()), {})],
        notes="PyTorch's order: the int first, so the value is (3, 2)",
    ),
    OpSpec(
        "setitem_basic",
        _setitem_fn((slice(1, None), 2)),
        _np_setitem((slice(1, None), 2)),
        _torch_setitem((slice(1, None), 2)),
        cases=[(((3, 4), (2,)), {}), (((3, 4), (1, 1)), {})],
    ),
    OpSpec(
        "setitem_mask",
        _setitem_fn(_mask_index),
        _np_setitem(_MASK),
        _torch_setitem(_mask_index),
        cases=[(((3, 4), (6,)), {}), (((3, 4), ()), {})],
    ),
    OpSpec(
        "index_select",
        lambda x, **k: _index_select_fn(x, **k),
        lambda x, dim: np.take(x, [2, 0, 2], axis=dim),
        _torch_index_select,
        cases=[(((3, 4),), dict(dim=0)), (((3, 4),), dict(dim=1)), (((2, 3, 4),), dict(dim=-1))],
        notes="repeated indices add up in backward",
    ),
    OpSpec(
        "masked_fill",
        lambda x, v: cr.masked_fill(x, cr.tensor(_MASK), v),
        lambda x, v: np.where(_MASK, v, x),
        lambda x, v: _t("masked_fill")(x, _t("tensor")(_MASK), v),
        cases=[(((3, 4), ()), {}), (((2, 3, 4), ()), {})],
        notes="the 0-d value gets the sum of g over the mask",
    ),
    OpSpec(
        "masked_fill_number",
        lambda x: cr.masked_fill(x, cr.tensor(_MASK[0]), -1.5),
        lambda x: np.where(_MASK[0], -1.5, x),
        lambda x: _t("masked_fill")(x, _t("tensor")(_MASK[0]), -1.5),
        cases=[(((3, 4),), {})],
    ),
    OpSpec(
        "scatter",
        lambda x, s: cr.scatter(x, 1, cr.tensor(_SCATTER_INDEX), s),
        lambda x, s: _np_scatter(x, s, _SCATTER_INDEX, add=False),
        lambda x, s: _t("scatter")(x, 1, _t("tensor")(_SCATTER_INDEX), s),
        cases=[(((3, 4), (3, 2)), {})],
    ),
    OpSpec(
        "scatter_value",
        lambda x: cr.scatter(x, 1, cr.tensor(_SCATTER_INDEX), 0.5),
        lambda x: _np_scatter(x, np.full((3, 2), 0.5), _SCATTER_INDEX, add=False),
        lambda x: _t("scatter")(x, 1, _t("tensor")(_SCATTER_INDEX), 0.5),
        cases=[(((3, 4),), {})],
    ),
    OpSpec(
        "scatter_add",
        lambda x, s: cr.scatter_add(x, 1, cr.tensor(_SCATTER_ADD_INDEX), s),
        lambda x, s: _np_scatter(x, s, _SCATTER_ADD_INDEX, add=True),
        lambda x, s: _t("scatter_add")(x, 1, _t("tensor")(_SCATTER_ADD_INDEX), s),
        cases=[(((3, 4), (3, 2)), {})],
        notes="two src entries of a row land on one place: they add up",
    ),
    OpSpec(
        "index_add",
        lambda x, s, **k: cr.index_add(x, 1, cr.tensor([3, 0, 3]), s, **k),
        _np_index_add,
        lambda x, s, **k: _t("index_add")(x, 1, _t("tensor")([3, 0, 3]), s, **k),
        cases=[(((3, 4), (3, 3)), {}), (((3, 4), (3, 3)), dict(alpha=2.5))],
    ),
    OpSpec(
        "diagonal",
        lambda x, **k: cr.diagonal(x, **k),
        lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2),
        _t("diagonal"),
        cases=[(((3, 4),), {}), (((2, 3, 4),), dict(offset=1, dim1=1, dim2=2)), (((4, 3),), dict(offset=-1))],
    ),
    OpSpec(
        "inplace_on_view",
        _inplace_on_view,
        _np_inplace_on_view,
        _inplace_on_view,
        cases=[(((3, 4), (2, 2)), {}), (((3, 4), (2,)), {})],
        domains=((-2.0, 2.0), (0.5, 1.5)),
        notes="y = 2x; y[1:, ::2] *= v; the base's history becomes CopySlices",
    ),
    # ----- linear algebra -----
    OpSpec("matmul", cr.matmul, np.matmul, _t("matmul"), cases=[(s, {}) for s in MATMUL_SHAPES]),
    OpSpec("dot", cr.dot, np.dot, _t("dot"), cases=[(((5,), (5,)), {})]),
    OpSpec("outer", cr.outer, np.outer, _t("outer"), cases=[(((3,), (4,)), {})]),
    # ----- nn -----
    OpSpec(
        "softmax",
        lambda x, **k: cr.softmax(x, **k),
        _np_softmax,
        _t("softmax"),
        cases=[(((3, 4),), dict(dim=1)), (((2, 3, 4),), dict(dim=0)), (((6,),), dict(dim=0))],
    ),
    OpSpec(
        "log_softmax",
        lambda x, **k: cr.log_softmax(x, **k),
        _np_log_softmax,
        _t("log_softmax"),
        cases=[(((3, 4),), dict(dim=1)), (((2, 3, 4),), dict(dim=-1)), (((6,),), dict(dim=0))],
    ),
    OpSpec(
        "cross_entropy",
        lambda x, t, **k: cnn.cross_entropy(x, t, **k),
        _np_cross_entropy,
        _t("nn.functional.cross_entropy"),
        cases=[
            (((4, 3),), {}),
            (((4, 3),), dict(reduction="sum")),
            (((4, 3),), dict(reduction="none")),
            (((2, 3, 2),), {}),
            (((5,),), {}),
        ],
        make_args=_class_targets(),
        grad_args=(0,),
    ),
    OpSpec(
        "cross_entropy_weighted",
        lambda x, t, **k: cnn.cross_entropy(x, t, weight=np.array([0.2, 1.0, 3.0]), **k),
        _np_cross_entropy_weighted,
        lambda x, t, **k: _t("nn.functional.cross_entropy")(
            x, t, weight=_t("tensor")([0.2, 1.0, 3.0], dtype=x.dtype), **k
        ),
        cases=[(((5, 3),), {}), (((5, 3),), dict(reduction="sum"))],
        make_args=_class_targets(),
        grad_args=(0,),
    ),
    OpSpec(
        "cross_entropy_ignore_smooth",
        lambda x, t, **k: cnn.cross_entropy(x, np.where(np.arange(len(t)) == 1, -100, t), **k),
        _np_cross_entropy_ignore_smooth,
        lambda x, t, **k: _t("nn.functional.cross_entropy")(x, _t("where")(_t("arange")(len(t)) == 1, -100, t), **k),
        cases=[(((5, 3),), {}), (((5, 3),), dict(label_smoothing=0.1))],
        make_args=_class_targets(),
        grad_args=(0,),
    ),
    OpSpec(
        "cross_entropy_probs",
        lambda x, p, **k: cnn.cross_entropy(x, p, **k),
        lambda x, p: -(p * _np_log_softmax(x, 1)).sum(1).mean(),
        _t("nn.functional.cross_entropy"),
        cases=[(((4, 3),), {})],
        make_args=_prob_targets,
        grad_args=(0, 1),
    ),
    # A generator seeded at each call: the same mask every time, so finite differences apply.
    OpSpec(
        "dropout",
        lambda x: cnn.Dropout.apply(x, p=0.3, generator=np.random.default_rng(0)),
        lambda x: x * _dropout_keep(x.shape) / 0.7,
        _torch_dropout_same_mask,
        notes="PyTorch's generator differs: torch differentiates x * mask / (1 - p) with our mask",
    ),
    OpSpec(
        "softmax_cross_entropy",
        lambda x, t, **k: cnn.SoftmaxCrossEntropy.apply(
            x, target=cr.as_tensor(t)._data, mean=k.get("reduction", "mean") == "mean"
        ),
        _np_cross_entropy,
        _t("nn.functional.cross_entropy"),
        cases=[(((4, 3),), {}), (((6, 5),), dict(reduction="sum"))],
        make_args=_class_targets(),
        grad_args=(0,),
        notes="the fused primitive behind cross_entropy's (N, C) class-index case",
    ),
    OpSpec(
        "nll_loss",
        lambda x, t, **k: cnn.nll_loss(x, t, **k),
        lambda x, t, reduction="mean": {"mean": np.mean, "sum": np.sum}[reduction](-x[np.arange(len(t)), t]),
        _t("nn.functional.nll_loss"),
        cases=[(((4, 3),), {}), (((4, 3),), dict(reduction="sum"))],
        make_args=_class_targets(),
        grad_args=(0,),
    ),
    OpSpec(
        "mse_loss",
        lambda x, y, **k: cnn.mse_loss(x, y, **k),
        lambda x, y, reduction="mean": {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]((x - y) ** 2),
        _t("nn.functional.mse_loss"),
        cases=[
            (((3, 4), (3, 4)), {}),
            (((5,), (5,)), dict(reduction="sum")),
            (((2, 3), (2, 3)), dict(reduction="none")),
        ],
    ),
    OpSpec(
        "l1_loss",
        lambda x, y, **k: cnn.l1_loss(x, y, **k),
        lambda x, y: np.abs(x - y).mean(),
        _t("nn.functional.l1_loss"),
        cases=[(((3, 4), (3, 4)), {})],
        make_args=lambda rng, shapes: [rng.uniform(-2, 2, size=shapes[0]), rng.uniform(-2, 2, size=shapes[0]) + 5.0],
    ),
    OpSpec(
        "binary_cross_entropy",
        lambda p, t, **k: cnn.binary_cross_entropy(p, t, **k),
        _np_bce,
        _t("nn.functional.binary_cross_entropy"),
        cases=[(((3, 4),), {}), (((5,),), dict(reduction="sum"))],
        make_args=_bce_args,
    ),
    OpSpec(
        "bce_with_logits",
        lambda z, t, **k: cnn.binary_cross_entropy_with_logits(z, t, **k),
        _np_bce_logits,
        _t("nn.functional.binary_cross_entropy_with_logits"),
        cases=[(((3, 4),), {}), (((5,),), dict(reduction="none"))],
        make_args=_bce_logits_args,
    ),
    OpSpec(
        "bce_with_logits_pos_weight",
        lambda z, t: cnn.binary_cross_entropy_with_logits(z, t, pos_weight=3.0),
        lambda z, t: _np_bce_logits(z, t, pos_weight=3.0),
        lambda z, t: _t("nn.functional.binary_cross_entropy_with_logits")(
            z, t, pos_weight=_t("tensor")(3.0, dtype=z.dtype)
        ),
        cases=[(((3, 4),), {})],
        make_args=_bce_logits_args,
    ),
]


def _conv_spec(name, ours, theirs, shapes_kwargs):
    return OpSpec(
        name,
        lambda *a, **k: ours(*a, **k),
        None,
        _t(theirs),
        cases=shapes_kwargs,
        domains=((-1.0, 1.0),),
        fwd_tol=(1e-12, 1e-12),
    )


def _np_max_pool1d(x, kernel_size, stride=None):
    stride = stride or kernel_size
    n = (x.shape[-1] - kernel_size) // stride + 1
    return np.stack([x[..., i * stride : i * stride + kernel_size].max(-1) for i in range(n)], -1)


def _np_avg_pool1d(x, kernel_size, stride=None):
    stride = stride or kernel_size
    n = (x.shape[-1] - kernel_size) // stride + 1
    return np.stack([x[..., i * stride : i * stride + kernel_size].mean(-1) for i in range(n)], -1)


def _np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    k = w.shape[-1]
    n = (xp.shape[-1] - dilation * (k - 1) - 1) // stride + 1
    out = np.stack(
        [
            np.einsum("nck,ock->no", xp[..., i * stride : i * stride + dilation * (k - 1) + 1 : dilation], w)
            for i in range(n)
        ],
        -1,
    )
    return out if b is None else out + b[:, None]


OP_TABLE += [
    OpSpec(
        "linear",
        cconv.linear,
        lambda x, w, b=None: x @ w.T + (0 if b is None else b),
        _t("nn.functional.linear"),
        cases=[(((2, 4), (3, 4), (3,)), {}), (((4,), (3, 4)), {}), (((2, 3, 4), (2, 4), (2,)), {})],
    ),
    OpSpec(
        "conv1d",
        cconv.conv1d,
        _np_conv1d,
        _t("nn.functional.conv1d"),
        cases=[
            (((2, 3, 7), (4, 3, 3), (4,)), {}),
            (((1, 2, 8), (3, 2, 3)), dict(stride=2, padding=1)),
            (((2, 2, 9), (2, 2, 2)), dict(dilation=2)),
        ],
        domains=((-1.0, 1.0),),
        fwd_tol=(1e-12, 1e-12),
    ),
    _conv_spec("conv1d_groups", cconv.conv1d, "nn.functional.conv1d", [(((1, 4, 6), (4, 2, 3)), dict(groups=2))]),
    _conv_spec(
        "conv2d",
        cconv.conv2d,
        "nn.functional.conv2d",
        [(((2, 3, 5, 5), (2, 3, 3, 3), (2,)), {}), (((1, 2, 5, 4), (2, 2, 3, 2)), dict(stride=2, padding=1))],
    ),
    _conv_spec(
        "conv_transpose1d",
        cconv.conv_transpose1d,
        "nn.functional.conv_transpose1d",
        [(((2, 3, 5), (3, 2, 3), (2,)), dict(stride=2, padding=1))],
    ),
    _conv_spec(
        "conv_transpose2d",
        cconv.conv_transpose2d,
        "nn.functional.conv_transpose2d",
        [(((1, 2, 3, 3), (2, 3, 2, 2)), dict(stride=2))],
    ),
    OpSpec(
        "max_pool1d",
        cconv.max_pool1d,
        _np_max_pool1d,
        _t("nn.functional.max_pool1d"),
        cases=[(((2, 3, 8),), dict(kernel_size=2)), (((1, 2, 9),), dict(kernel_size=3, stride=2))],
        make_args=_distinct,
    ),
    _conv_spec(
        "max_pool2d",
        cconv.max_pool2d,
        "nn.functional.max_pool2d",
        [(((1, 2, 4, 4),), dict(kernel_size=2)), (((2, 1, 5, 5),), dict(kernel_size=3, stride=2, padding=1))],
    ),
    OpSpec(
        "avg_pool1d",
        cconv.avg_pool1d,
        _np_avg_pool1d,
        _t("nn.functional.avg_pool1d"),
        cases=[(((2, 3, 8),), dict(kernel_size=2)), (((1, 2, 9),), dict(kernel_size=3, stride=2))],
    ),
    _conv_spec(
        "avg_pool2d",
        cconv.avg_pool2d,
        "nn.functional.avg_pool2d",
        [(((1, 2, 4, 4),), dict(kernel_size=2)), (((2, 1, 5, 5),), dict(kernel_size=3, stride=2, padding=1))],
    ),
]
OP_TABLE[-2].make_args = _distinct
OP_TABLE[-2].make_args = None
_max2d = next(s for s in OP_TABLE if s.name == "max_pool2d")
_max2d.make_args = _distinct


# ----- fused recurrences (ops/rnn.py), against torch's own cells run step by step -----


def _recurrence_args(rng, shapes):
    """gi, s0, W_hh (, b_hh) at scales that keep the gates away from saturation."""
    scales = (1.5, 1.0, 0.8, 0.5)
    return [rng.uniform(-s, s, size=shape) for s, shape in zip(scales, shapes)]


def _ours_sequence(name):
    cls = getattr(crnn, name)

    def call(gi, s0, w_hh, b_hh=None, **kwargs):
        return cls.apply(gi, s0, w_hh, b_hh, **kwargs)

    return call


def _torch_sequence(name):
    """The same recurrence from torch.gru_cell / lstm_cell / rnn_*_cell, with W_ih = I (gi is given)."""

    def call(gi, s0, w_hh, b_hh=None, reverse=False, nonlinearity="tanh"):
        import torch

        eye = torch.eye(gi.shape[2], dtype=gi.dtype)
        steps = range(gi.shape[0] - 1, -1, -1) if reverse else range(gi.shape[0])
        hs, cs = [None] * gi.shape[0], [None] * gi.shape[0]
        state = (s0[0], s0[1]) if name == "LSTMSequence" else s0
        for t in steps:
            if name == "LSTMSequence":
                state = hs[t], cs[t] = torch.lstm_cell(gi[t], state, eye, w_hh, None, b_hh)
            elif name == "GRUSequence":
                state = hs[t] = torch.gru_cell(gi[t], state, eye, w_hh, None, b_hh)
            else:
                cell = torch.rnn_tanh_cell if nonlinearity == "tanh" else torch.rnn_relu_cell
                state = hs[t] = cell(gi[t], state, eye, w_hh, None, b_hh)
        return torch.stack([torch.stack(hs), torch.stack(cs)]) if name == "LSTMSequence" else torch.stack(hs)

    return call


def _recurrence_spec(label, name, gates, cases, states=1):
    T, B, H = 3, 2, 2
    s0 = (B, H) if states == 1 else (2, B, H)
    full, no_bias = ((T, B, gates * H), s0, (gates * H, H), (gates * H,)), ((T, B, gates * H), s0, (gates * H, H))
    return OpSpec(
        label,
        _ours_sequence(name),
        lambda gi, s0, w_hh, b_hh=None, **k: crnn.unrolled(name, gi, s0, w_hh, b_hh, **k),
        _torch_sequence(name),
        cases=[(full if bias else no_bias, kwargs) for bias, kwargs in cases],
        make_args=_recurrence_args,
        fwd_tol=(1e-12, 1e-12),
    )


OP_TABLE += [
    _recurrence_spec("rnn_sequence", "RNNSequence", 1, [(True, {}), (False, dict(reverse=True))]),
    _recurrence_spec("rnn_sequence_relu", "RNNSequence", 1, [(True, dict(nonlinearity="relu", reverse=True))]),
    _recurrence_spec("gru_sequence", "GRUSequence", 3, [(True, {}), (True, dict(reverse=True)), (False, {})]),
    _recurrence_spec("lstm_sequence", "LSTMSequence", 4, [(True, {}), (False, dict(reverse=True))], states=2),
]


def _recurrence_jvp_spec(label, name, gates, bias, kwargs, states=1):
    """SequenceJVP (forward mode under create_graph): J t of the sequence at (gi, s0, W_hh[, b_hh]) along
    as many tangents, against chainrule's jvp of `unrolled` and torch.func.jvp of torch's cells."""
    from chainrule.ops.rnn_higher import SequenceJVP

    def split(args):
        n = len(args) // 2
        return args[:n], args[n:]

    def ours(*args, **k):
        (primals, tangents), pad = split(args), (None,) * (4 - len(args) // 2)
        return SequenceJVP.apply(*primals, *pad, *tangents, *pad, cell=name, **k)

    def ref(*args, **k):
        primals, tangents = split(args)
        pad = (None,) * (4 - len(primals))
        out = cr.jvp(lambda *x: crnn.unrolled(name, *x, *pad, **k), tuple(primals), tuple(tangents))[1]
        return np.asarray(getattr(out, "_data", out))

    def theirs(*args, **k):
        import torch

        primals, tangents = split(args)
        return torch.func.jvp(lambda *x: _torch_sequence(name)(*x, **k), tuple(primals), tuple(tangents))[1]

    T, B, H = 2, 1, 2  # small: gradgradcheck differentiates the unrolled graph three times over
    shapes = ((T, B, gates * H), (B, H) if states == 1 else (2, B, H), (gates * H, H)) + ((gates * H,),) * bias
    return OpSpec(
        label,
        ours,
        ref,
        theirs,
        cases=[(shapes + shapes, kwargs)],
        make_args=lambda rng, shapes: (
            _recurrence_args(rng, shapes[: len(shapes) // 2])
            + [rng.standard_normal(s) for s in shapes[len(shapes) // 2 :]]
        ),
        fwd_tol=(1e-12, 1e-12),
    )


OP_TABLE += [
    _recurrence_jvp_spec("gru_sequence_jvp", "GRUSequence", 3, True, dict(reverse=True)),
    _recurrence_jvp_spec("lstm_sequence_jvp", "LSTMSequence", 4, False, {}, states=2),
]

SPECS = {spec.name: spec for spec in OP_TABLE}


def uncovered_primitives(table):
    """Names of the registered primitives that no (spec, case) of `table` reaches, forward, backward
    or double backward. The required set is the registry's (chainrule.ops.primitives())."""
    import zlib

    from chainrule import ops

    reached = set()

    def record(node, g, grads):
        reached.add(type(node).__name__)

    cr.autograd.engine.add_observer(record)
    try:
        for spec in table:
            for i in range(len(spec.cases)):
                args, kwargs = spec.sample(i, np.random.default_rng(zlib.crc32(f"{spec.name}-{i}".encode())))
                wrt = spec.differentiable(args)
                tensors = [
                    cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) if j in wrt else np.asarray(a)
                    for j, a in enumerate(args)
                ]
                out = spec.fn(*tensors, **kwargs)
                if out.requires_grad:
                    inputs = [tensors[j] for j in wrt]
                    v = cr.ones_like(out, requires_grad=True)
                    grads = cr.autograd.grad(out, inputs, grad_outputs=v, create_graph=True)
                    live = [g.sum() for g in grads if g.requires_grad]
                    if live:
                        cr.autograd.grad(sum(live), inputs + [v], allow_unused=True)
    finally:
        cr.autograd.engine.remove_observer(record)
    return {cls.__name__ for cls in ops.primitives()} - reached


def all_cases():
    """(spec, case index) for every sample in the table, with readable ids."""
    for spec in OP_TABLE:
        for i in range(len(spec.cases)):
            yield spec, i


def case_ids():
    return [f"{spec.name}-{i}" for spec, i in all_cases()]


def product(**grid):
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


# ----- layer_norm: one primitive (ops/normalization.py), weight and bias each optional -----


def _layer_norm_with(layer_norm):
    """layer_norm(x, *present parameters, shape=, affine=(has weight, has bias), eps=) for the op table."""

    def call(x, *params, shape=None, affine=(True, True), eps=1e-5):
        w = params[0] if affine[0] else None
        b = params[-1] if affine[1] else None
        return layer_norm(x, shape, w, b, eps)

    return call


_layer_norm = _layer_norm_with(cr.nn.functional.layer_norm)
_torch_layer_norm = _layer_norm_with(_t("nn.functional.layer_norm"))


OP_TABLE += [
    OpSpec(
        "layer_norm",
        _layer_norm,
        None,
        _torch_layer_norm,
        cases=[
            (((3, 5), (5,), (5,)), dict(shape=(5,))),
            (((2, 3, 4), (3, 4), (3, 4)), dict(shape=(3, 4), eps=1e-3)),
            (((2, 4, 6), (6,)), dict(shape=(6,), affine=(True, False))),
            (((4, 6), (6,)), dict(shape=(6,), affine=(False, True))),
            (((2, 3, 7),), dict(shape=(7,), affine=(False, False))),
            (((6,), (6,), (6,)), dict(shape=(6,))),
        ],
        fwd_tol=(1e-10, 1e-12),
    ),
]


# ----- issue 16's layers: group_norm, interpolate, adaptive pooling (PyTorch is the oracle) -----


def _group_norm(x, w=None, b=None, num_groups=1, eps=1e-5):
    return cr.nn.functional.group_norm(x, num_groups, w, b, eps)


def _torch_group_norm(x, w=None, b=None, num_groups=1, eps=1e-5):
    return _t("nn.functional.group_norm")(x, num_groups, w, b, eps)


def _resample_spec(name, cases, make_args=None):
    return OpSpec(
        name,
        getattr(cr.nn.functional, name),
        None,
        _t(f"nn.functional.{name}"),
        cases=cases,
        make_args=make_args,
        fwd_tol=(1e-12, 1e-12),
    )


OP_TABLE += [
    OpSpec(
        "group_norm",
        _group_norm,
        None,
        _torch_group_norm,
        cases=[
            (((2, 6, 4), (6,), (6,)), dict(num_groups=3)),
            (((2, 4, 3, 3),), dict(num_groups=2)),
            (((3, 4, 5), (4,)), dict(num_groups=1, eps=1e-3)),
        ],
        fwd_tol=(1e-10, 1e-12),
    ),
    _resample_spec(
        "interpolate",
        [
            (((2, 3, 5),), dict(scale_factor=2, mode="nearest")),
            (((1, 2, 4),), dict(size=7, mode="linear")),
            (((1, 2, 5),), dict(scale_factor=1.7, mode="linear", align_corners=True)),
            (((1, 2, 3, 4),), dict(size=(5, 3), mode="bilinear")),
            (((1, 2, 3, 3),), dict(scale_factor=(2, 1.5), mode="bilinear", align_corners=True)),
            (((2, 1, 5, 4),), dict(size=(3, 6), mode="nearest-exact")),
            (((1, 2, 7, 5),), dict(size=(3, 2), mode="area")),
            (((1, 2, 3, 4),), dict(size=(5, 3), mode="bicubic")),
            (((1, 1, 4, 3),), dict(scale_factor=1.5, mode="bicubic", align_corners=True)),
            (((1, 1, 6, 7),), dict(size=(3, 2), mode="bicubic", antialias=True)),
            (((1, 1, 3, 2, 4),), dict(size=(4, 3, 2), mode="trilinear")),
            (((1, 2, 2, 3, 2),), dict(scale_factor=(2, 1.5, 1), mode="nearest")),
            (((1, 1, 5, 4, 3),), dict(size=(2, 3, 2), mode="area")),
        ],
    ),
    _resample_spec("adaptive_avg_pool1d", [(((2, 3, 7),), dict(output_size=3)), (((1, 2, 8),), dict(output_size=4))]),
    _resample_spec(
        "adaptive_avg_pool2d", [(((2, 2, 5, 7),), dict(output_size=(3, 4))), (((1, 3, 6, 6),), dict(output_size=2))]
    ),
    _resample_spec("adaptive_avg_pool3d", [(((1, 2, 5, 4, 3),), dict(output_size=(2, 3, None)))]),
    _resample_spec("adaptive_max_pool1d", [(((2, 3, 7),), dict(output_size=3))], make_args=_distinct),
    _resample_spec("adaptive_max_pool3d", [(((1, 2, 5, 4, 3),), dict(output_size=(2, 3, 2)))], make_args=_distinct),
    _resample_spec(
        "adaptive_max_pool2d",
        [(((2, 2, 5, 7),), dict(output_size=(3, 4))), (((1, 3, 6, 6),), dict(output_size=2))],
        make_args=_distinct,
    ),
]
SPECS.update((spec.name, spec) for spec in OP_TABLE)


# ----- einsum, batched products, triangles (issue 16) -----
EINSUM_CASES = [
    ("ij,jk->ik", (3, 4), (4, 5)),  # matmul
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),  # batched matmul
    ("i,j->ij", (3,), (4,)),  # outer
    ("ii", (3, 3)),  # trace
    ("ii->i", (3, 3)),  # diagonal
    ("ij->ji", (3, 4)),  # transpose
    ("ij->", (3, 4)),  # sum
    ("ij->i", (3, 4)),  # row sums: the gradient broadcasts back along j
    ("iij->ji", (3, 3, 2)),  # a diagonal and a transpose at once
    ("...ij,...jk", (2, 1, 2, 3), (3, 3, 2)),  # ellipsis, broadcast
    ("ij,ij->ij", (3, 1), (1, 4)),  # size-1 subscripts broadcast
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),  # three operands
    ("bn,anm,bm->ba", (2, 3), (4, 3, 3), (2, 3)),  # bilinear
    ("ij,jk", (16, 16), (16, 16)),  # large enough for the matmul route
    ("bhqd,bhkd->bhqk", (2, 2, 8, 16), (2, 2, 8, 16)),  # attention scores, matmul route with transposes
]

EXTRA_LINALG = [
    OpSpec(
        "einsum",
        lambda *xs, equation: cr.einsum(equation, *xs),
        lambda *xs, equation: np.einsum(equation, *xs),
        lambda *xs, equation: _t("einsum")(equation, *xs),
        cases=[(shapes, dict(equation=eq)) for eq, *shapes in EINSUM_CASES],
    ),
    OpSpec("bmm", cr.bmm, np.matmul, _t("bmm"), cases=[(((2, 3, 4), (2, 4, 5)), {})]),
    OpSpec(
        "baddbmm",
        cr.baddbmm,
        lambda x, a, b, beta=1, alpha=1: beta * x + alpha * np.matmul(a, b) if beta else alpha * np.matmul(a, b),
        _t("baddbmm"),
        cases=[
            (((2, 3, 5), (2, 3, 4), (2, 4, 5)), {}),
            (((5,), (2, 3, 4), (2, 4, 5)), dict(beta=0.5, alpha=2.0)),
            (((3, 1), (2, 3, 2), (2, 2, 4)), dict(alpha=-1.0)),
            (((2, 3, 5), (2, 3, 4), (2, 4, 5)), dict(beta=0.0)),
        ],
    ),
    OpSpec(
        "tril",
        cr.tril,
        lambda x, diagonal=0: np.tril(x, diagonal),
        _t("tril"),
        cases=[(((3, 4),), {}), (((2, 3, 4),), dict(diagonal=-1)), (((2, 4, 3),), dict(diagonal=1))],
    ),
    OpSpec(
        "triu",
        cr.triu,
        lambda x, diagonal=0: np.triu(x, diagonal),
        _t("triu"),
        cases=[(((3, 4),), {}), (((2, 3, 4),), dict(diagonal=-1)), (((2, 4, 3),), dict(diagonal=2))],
    ),
]
OP_TABLE += EXTRA_LINALG
SPECS.update((spec.name, spec) for spec in EXTRA_LINALG)

# Op families that live in their own modules (tests/opinfo_<family>.py, a list named OPS), imported last
# so that they can use this module's helpers.
from opinfo_scan import OPS as _SCAN_OPS  # noqa: E402

OP_TABLE += _SCAN_OPS
SPECS.update((spec.name, spec) for spec in _SCAN_OPS)
