"""Fuzzer: random sequences of view ops and in-place ops, run in PyTorch (float64) and chainrule.

Each case starts from a leaf `a` (requires grad), a tensor computed from it, and a second
leaf `z` that supplies operands. Steps, drawn by hypothesis, make views (basic indexing,
transpose, permute, T/mT, view/reshape, flatten, squeeze/unsqueeze, expand, diagonal,
narrow/select, unbind/split/chunk, detach, .data), out-of-place results, or apply an in-place
op (add_, sub_, mul_, div_, pow_, clamp_, copy_, fill_, zero_, setitem, +=, activations), some
under no_grad. After every step both libraries must agree on whether it was refused; at the
end every live tensor's values must agree, and so must the gradients of `a` and `z` after
the backward of a random weighted sum (or the refusal of that backward).

The number of cases and mismatches is printed (the figures in docs/compat/views.md).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

CASES = int(os.environ.get("VIEWS_FUZZ_CASES", "1000"))
STATS = {"cases": 0, "steps": 0, "refused_steps": 0, "mismatches": 0}


class Lib:
    def __init__(self, mod, f64):
        self.mod, self.f64 = mod, f64

    def tensor(self, array, requires_grad=False):
        return self.mod.tensor(np.array(array), dtype=self.f64, requires_grad=requires_grad)


TORCH = Lib(torch, torch.float64)
CR = Lib(cr, cr.float64)


def _values(t):
    return np.array(t.data.numpy() if hasattr(t.data, "numpy") else t.data, dtype=np.float64)


class Entry:
    """A live tensor in both libraries.

    ng: a view made under no_grad (or derived from one); multi: an output of unbind/split/chunk
    (or a view of one). After an in-place op recorded on their base, PyTorch refuses any use of
    such views (chainrule keeps them usable, see docs/compat/views.md), so the fuzzer then only
    modifies them in place or reads their values ("frozen").
    """

    def __init__(self, pair, ng=False, multi=False):
        self.pair = pair
        self.ng = ng
        self.multi = multi
        self.frozen = ng

    @property
    def shape(self):
        return tuple(self.pair[0].shape)


def _basic_index(draw, shape):
    index = []
    for n in shape:
        kind = draw(st.integers(0, 4))
        if kind == 0 and n > 0:
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == 1:
            start = draw(st.integers(0, max(n - 1, 0)))
            stop = draw(st.integers(start, n))
            index.append(slice(start, stop, draw(st.sampled_from([1, 1, 2]))))
        elif kind == 2:
            index.append(None)
            index.append(slice(None))
        else:
            index.append(slice(None))
    if index and draw(st.booleans()):
        cut = draw(st.integers(0, len(index) - 1))
        index = index[:cut] + [Ellipsis]
    return tuple(index)


def _reshape_target(draw, shape):
    n = int(np.prod(shape))
    options = [(n,), (-1,), tuple(shape) + (1,), (1,) + tuple(shape)]
    if len(shape) >= 2:
        options.append(tuple(shape[:-2]) + (shape[-2] * shape[-1],))
    for d in (2, 3):
        if n % d == 0 and n:
            options.append((d, n // d))
    return draw(st.sampled_from(options))


def _view_step(draw, shape):
    """(name, fn(t) -> tensor or tuple choice) for a view op valid on `shape`."""
    ndim = len(shape)
    ops = ["getitem", "reshape", "view", "flatten", "unsqueeze", "detach", "data", "expand"]
    if ndim >= 1:
        ops += ["squeeze", "unbind", "split", "chunk", "narrow", "select"]
    if ndim >= 2:
        ops += ["transpose", "permute", "mT", "diagonal"]
    if ndim == 2:
        ops += ["T"]
    name = draw(st.sampled_from(ops))
    if name == "getitem":
        idx = _basic_index(draw, shape)
        return name, lambda t: t[idx]
    if name in ("reshape", "view"):
        target = _reshape_target(draw, shape)
        return name, lambda t: getattr(t, name)(*target)
    if name == "flatten":
        return name, lambda t: t.flatten()
    if name == "unsqueeze":
        d = draw(st.integers(-ndim - 1, ndim))
        return name, lambda t: t.unsqueeze(d)
    if name == "detach":
        return name, lambda t: t.detach()
    if name == "data":
        return name, lambda t: t.data
    if name == "expand":
        if ndim and 1 in shape and draw(st.booleans()):
            sizes = tuple(3 if n == 1 else -1 for n in shape)
            return name, lambda t: t.expand(*sizes)
        return name, lambda t: t.expand(2, *shape)
    d = draw(st.integers(0, ndim - 1)) if ndim else 0
    if name == "squeeze":
        return name, (lambda t: t.squeeze()) if draw(st.booleans()) else (lambda t: t.squeeze(d))
    if name == "unbind":
        if shape[d] == 0:
            return name, lambda t: t.detach()
        k = draw(st.integers(0, shape[d] - 1))
        return name, lambda t: t.unbind(d)[k]
    if name in ("split", "chunk"):
        size = draw(st.integers(1, max(shape[d], 1)))
        pieces = -(-shape[d] // size) if name == "split" else None
        if name == "chunk":
            pieces = len(np.array_split(np.empty(shape[d]), size)) if shape[d] else size
            k = draw(st.integers(0, max(min(pieces, shape[d]) - 1, 0)))
        else:
            k = draw(st.integers(0, max(pieces - 1, 0)))
        return name, lambda t: getattr(t, name)(size, d)[k]
    if name == "narrow":
        start = draw(st.integers(0, shape[d]))
        length = draw(st.integers(0, shape[d] - start))
        return name, lambda t: t.narrow(d, start, length)
    if name == "select":
        if shape[d] == 0:
            return name, lambda t: t.detach()
        i = draw(st.integers(-shape[d], shape[d] - 1))
        return name, lambda t: t.select(d, i)
    if name == "transpose":
        d0, d1 = draw(st.integers(0, ndim - 1)), draw(st.integers(0, ndim - 1))
        return name, lambda t: t.transpose(d0, d1)
    if name == "permute":
        perm = tuple(draw(st.permutations(range(ndim))))
        return name, lambda t: t.permute(*perm)
    if name == "mT":
        return name, lambda t: t.mT
    if name == "T":
        return name, lambda t: t.T
    if name == "diagonal":
        d0, d1 = draw(st.sampled_from([(0, 1), (-2, -1), (1, 0)] if ndim >= 2 else [(0, 1)]))
        off = draw(st.integers(-1, 1))
        return name, lambda t: t.diagonal(off, d0, d1)
    raise AssertionError(name)


SCALARS = [0.5, 1.5, -0.75, 2.0]


def _operand(draw, target_shape, rng_seed):
    """An operand broadcastable to target_shape: ('z', shape) from leaf z, ('c', shape) a constant."""
    kind = draw(st.sampled_from(["z", "z", "c", "scalar", "self"]))
    if kind == "scalar":
        return ("scalar", draw(st.sampled_from(SCALARS)))
    if kind == "self":
        return ("self", None)
    shape = target_shape
    if shape and draw(st.booleans()):
        shape = shape[-1:]
    return (kind, shape)


def _make_operand(lib, z, op, seed):
    kind, arg = op
    if kind == "scalar":
        return arg
    n = int(np.prod(arg))
    if kind == "z":
        return z[:n].reshape(arg) * 0.5 + 1.0
    values = np.random.default_rng(seed).uniform(0.5, 1.5, n).reshape(arg)
    return lib.tensor(values)


INPLACE = [
    "add_",
    "sub_",
    "mul_",
    "div_",
    "pow_",
    "clamp_",
    "copy_",
    "fill_",
    "zero_",
    "setitem",
    "iadd",
    "imul",
    "tanh_",
    "sigmoid_",
    "relu_",
    "neg_",
    "exp_",
]


def _run(lib, fn, *args):
    try:
        return fn(lib, *args), None
    except Exception as e:  # noqa: BLE001 - any refusal counts; both must refuse
        return None, e


@settings(deadline=None, max_examples=CASES, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_views_and_inplace_match_torch(data):
    draw = data.draw
    STATS["cases"] += 1
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = draw(st.sampled_from([(3, 4), (2, 3, 4), (4,), (3, 1, 2), (2, 2)]))
    a0 = rng.uniform(-1, 1, shape)
    z0 = rng.uniform(-1, 1, 64)
    libs = (TORCH, CR)
    a = [lib.tensor(a0, requires_grad=True) for lib in libs]
    z = [lib.tensor(z0, requires_grad=True) for lib in libs]
    live = [Entry(tuple(t * 1.5 + 0.1 for t in a)), Entry(tuple(a))]
    n_steps = draw(st.integers(1, 8))
    for step in range(n_steps):
        _regenerate_torch_views(live)
        STATS["steps"] += 1
        i = draw(st.integers(0, len(live) - 1))
        entry = live[i]
        no_grad = draw(st.integers(0, 5)) == 0
        if entry.frozen and not no_grad:
            kind = "inplace"  # a no_grad view is only modified in grad mode (both refuse when recorded)
        else:
            kind = draw(st.sampled_from(["view", "view", "inplace", "inplace", "inplace", "compute"]))
        shape = entry.shape
        if kind == "view":
            name, fn = _view_step(draw, shape)
            new_ng = entry.ng or (no_grad and name not in ("detach", "data"))
            outcome = []
            for lib, t in zip(libs, entry.pair):
                with lib.mod.no_grad() if no_grad else _null():
                    outcome.append(_run(lib, lambda lib, t: fn(t), t))
            _same_refusal(outcome, f"view {name} on {shape}")
            if outcome[0][1] is None:
                new = Entry(
                    (outcome[0][0], outcome[1][0]), ng=new_ng, multi=entry.multi or name in ("unbind", "split", "chunk")
                )
                new.frozen = new.frozen or entry.frozen
                live.append(new)
            continue
        if kind == "compute":
            which = draw(st.sampled_from(["scale", "exp", "sin", "mulz"]))
            seed = step

            def compute(lib, t, zz):
                if which == "scale":
                    return t * 0.75
                if which == "exp":
                    return t.exp()
                if which == "sin":
                    return t.sin()
                return t * _make_operand(lib, zz, ("z", tuple(t.shape)), seed)

            outcome = []
            for lib, t, zz in zip(libs, entry.pair, z):
                with lib.mod.no_grad() if no_grad else _null():
                    outcome.append(_run(lib, compute, t, zz))
            _same_refusal(outcome, f"compute {which}")
            if outcome[0][1] is None:
                live.append(Entry((outcome[0][0], outcome[1][0])))
            continue
        # an in-place op
        name = draw(st.sampled_from(INPLACE))
        operand = _operand(draw, shape, step)
        if entry.frozen and operand[0] == "z" and not no_grad:
            operand = ("scalar", 0.5)
        if name == "setitem":
            idx = _basic_index(draw, shape) if shape else (Ellipsis,)
            region = np.empty(shape)[idx].shape
            operand = _operand(draw, region, step)
            if operand[0] == "self":
                operand = ("scalar", 1.25)
        lo, hi = sorted(draw(st.sampled_from(SCALARS)) for _ in range(2))

        def inplace(lib, t, zz):
            other = t if operand[0] == "self" else _make_operand(lib, zz, operand, step)
            if name == "setitem":
                t[idx] = other
            elif name == "iadd":
                t += other
            elif name == "imul":
                t *= other
            elif name in ("add_", "sub_", "mul_", "div_", "copy_"):
                if name == "copy_" and not isinstance(other, (lib.mod.Tensor,)):
                    other = lib.tensor(np.full(shape, other))
                getattr(t, name)(other)
            elif name == "pow_":
                t.pow_(2)
            elif name == "clamp_":
                t.clamp_(lo, hi)
            elif name == "fill_":
                t.fill_(lo)
            else:
                getattr(t, name)()
            return t

        outcome = []
        for lib, t, zz in zip(libs, entry.pair, z):
            with lib.mod.no_grad() if no_grad else _null():
                outcome.append(_run(lib, inplace, t, zz))
        _same_refusal(outcome, f"{name} with {operand} on {shape} ({'no_grad' if no_grad else 'grad'})")
        if outcome[0][1] is None:
            for other in live:
                if other.multi:
                    other.frozen = True
    # Values of every live tensor.
    for k, entry in enumerate(live):
        t_vals, c_vals = _values(entry.pair[0]), _values(entry.pair[1])
        _check(
            np.allclose(t_vals, c_vals, rtol=1e-9, atol=1e-12, equal_nan=True) and t_vals.shape == c_vals.shape,
            f"values of live tensor {k}: torch {t_vals} chainrule {c_vals}",
        )
        if not entry.frozen:
            _check(
                entry.pair[0].requires_grad == entry.pair[1].requires_grad,
                f"requires_grad of live tensor {k}: torch {entry.pair[0].requires_grad}",
            )
    # Gradients of a weighted sum of the live tensors that require grad.
    terms = [[], []]
    for k, entry in enumerate(live):
        if entry.frozen or not entry.pair[0].requires_grad:
            continue
        w = np.random.default_rng(k).uniform(-1, 1, entry.shape)
        for j, lib in enumerate(libs):
            terms[j].append((entry.pair[j] * lib.tensor(w)).sum())
    if not terms[0]:
        return
    outcome = []
    for lib, ts in zip(libs, terms):

        def backward(lib, ts=ts):
            total = ts[0]
            for t in ts[1:]:
                total = total + t
            total.backward()

        outcome.append(_run(lib, backward))
    _same_refusal(outcome, "backward")
    if outcome[0][1] is None:
        for name, (t_leaf, c_leaf) in (("a", a), ("z", z)):
            tg, cg = t_leaf.grad, c_leaf.grad
            _check((tg is None) == (cg is None), f"grad of {name}: torch {tg} chainrule {cg}")
            if tg is not None and cg is not None:
                _check(
                    np.allclose(tg.numpy(), cg.numpy(), rtol=1e-9, atol=1e-12, equal_nan=True),
                    f"grad of {name}: torch {tg.numpy()} chainrule {cg.numpy()}",
                )


def _regenerate_torch_views(live):
    """Read grad_fn of every live torch tensor, so PyTorch regenerates stale views' history now.

    PyTorch does it lazily, when grad_fn is read; an in-place op on a view whose base gained a
    history after the view was made is refused as "a leaf" unless something read the view's
    grad_fn first. chainrule regenerates eagerly, which is PyTorch's answer after such a read.
    """
    for entry in live:
        if not entry.frozen:
            try:
                _ = entry.pair[0].grad_fn  # reading it raises once the view's base was modified in place
            except RuntimeError:
                entry.frozen = True


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _check(ok, message):
    if not ok:
        STATS["mismatches"] += 1
        raise AssertionError(message)


def _same_refusal(outcome, what):
    (_, t_err), (_, c_err) = outcome
    if t_err is not None:
        STATS["refused_steps"] += 1
    _check(
        (t_err is None) == (c_err is None),
        f"{what}: torch {'raised ' + repr(t_err)[:300] if t_err else 'ran'}, "
        f"chainrule {'raised ' + repr(c_err)[:300] if c_err else 'ran'}",
    )


def test_report_fuzz_figures():
    print(f"\nviews fuzzer: {STATS}")
    assert STATS["mismatches"] == 0
