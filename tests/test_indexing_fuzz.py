"""Indexing fuzzed against PyTorch: random index expressions (ints, slices, None, Ellipsis, bools,
lists, integer and boolean tensors and arrays, 0-d tensors, in any mix) on random tensors up to 4-D.

For each expression both libraries must agree: the same refusal (both raise or neither), and
otherwise the same shape, the same values and the same gradients of a random weighted sum.
The same for setitem (gradients to the base and to the value) and for index_put_ with accumulate.
Run with -s to see how many cases ran; INDEXING_FUZZ_SCALE=10 runs ten times as many.
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr

torch = pytest.importorskip("torch")

SCALE = int(os.environ.get("INDEXING_FUZZ_SCALE", "1"))
STATS = {}


def _count(test, key):
    STATS.setdefault(test, {}).setdefault(key, 0)
    STATS[test][key] += 1


def teardown_module(module):
    for test, counts in sorted(STATS.items()):
        total = sum(counts.values())
        print(f"\n{test}: {total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def _settings(n):
    return settings(
        deadline=None,
        max_examples=n * SCALE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# ----- index expressions, described once and built in each library -----


@st.composite
def shapes(draw):
    ndim = draw(st.integers(0, 4))
    sides = st.one_of(st.integers(1, 4), st.just(0)) if draw(st.integers(0, 9)) == 0 else st.integers(1, 4)
    return tuple(draw(sides) for _ in range(ndim))


def _ints(draw, size, n):
    # mostly in range, now and then one out of range on either side
    return [
        draw(st.integers(-size - 1, size))
        if draw(st.integers(0, 15)) == 0
        else draw(st.integers(-size, size - 1))
        if size
        else 0
        for _ in range(n)
    ]


@st.composite
def items(draw, shape, allow_arrays=True):
    """A list of item descriptions: (kind, payload)."""
    n = draw(st.integers(0, len(shape) + 2))
    out, dim, ellipsis = [], 0, False
    for _ in range(n):
        size = shape[dim] if dim < len(shape) else 2
        kinds = ["int", "slice", "none", "ellipsis", "bool"]
        if allow_arrays:
            kinds += ["list", "tensor", "tensor0", "mask", "mask0", "ndarray", "tensor2d"]
        kind = draw(st.sampled_from(kinds))
        if kind == "ellipsis":
            if ellipsis:  # PyTorch's answers for two Ellipses are not consistent (docs/compat/indexing.md)
                kind = "slice"
            else:
                ellipsis = True
                out.append(("ellipsis", None))
                dim = max(dim, len(shape) - 1)  # a guess: later masks may not fit, and both must refuse
                continue
        if kind == "int":
            out.append(("int", _ints(draw, size, 1)[0]))
            dim += 1
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-5, 5))
            step = (
                draw(st.sampled_from([None, None, 1, 2, 3, -1, 0]))
                if draw(st.integers(0, 5)) == 0
                else draw(st.sampled_from([None, 1, 2]))
            )
            out.append(("slice", (draw(bound), draw(bound), step)))
            dim += 1
        elif kind in ("none", "bool", "mask0"):
            out.append((kind, draw(st.booleans())))
        elif kind in ("list", "tensor", "ndarray"):
            out.append((kind, _ints(draw, size, draw(st.integers(0, 3)))))
            dim += 1
        elif kind == "tensor2d":
            rows, cols = draw(st.integers(1, 2)), draw(st.integers(1, 3))
            out.append((kind, np.array(_ints(draw, size, rows * cols)).reshape(rows, cols)))
            dim += 1
        elif kind == "tensor0":
            out.append((kind, _ints(draw, size, 1)[0]))
            dim += 1
        else:  # a mask over the next k dimensions (now and then of a wrong shape)
            k = draw(st.integers(1, 2))
            mshape = tuple(shape[dim : dim + k]) or (size,)
            if draw(st.integers(0, 12)) == 0:
                mshape = tuple(s + 1 for s in mshape)
            mask = np.array(
                draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)), max_size=int(np.prod(mshape)))), dtype=bool
            ).reshape(mshape)
            out.append(("mask", mask))
            dim += len(mshape)
    as_tuple = len(out) != 1 or draw(st.booleans())
    return out, as_tuple


def build(desc, lib):
    """The index in torch's terms (lib=torch) or ours (lib=cr)."""
    parts, as_tuple = desc
    built = []
    for kind, v in parts:
        if kind == "int":
            built.append(v)
        elif kind == "slice":
            built.append(slice(*v))
        elif kind == "none":
            built.append(None)
        elif kind == "ellipsis":
            built.append(Ellipsis)
        elif kind == "bool":
            built.append(bool(v))
        elif kind == "list":
            built.append(list(v))
        elif kind == "ndarray":
            built.append(np.array(v, dtype=np.int64))
        elif kind in ("tensor", "tensor2d"):
            built.append(lib.tensor(np.asarray(v, dtype=np.int64).tolist(), dtype=lib.int64))
        elif kind == "tensor0":
            built.append(lib.tensor(v))
        elif kind == "mask0":
            built.append(lib.tensor(bool(v)))
        elif kind == "mask":
            built.append(lib.tensor(v))  # from the array, so an empty mask keeps its shape
    if not as_tuple and len(built) == 1:
        return built[0]
    return tuple(built)


def _run(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(), None
        except Exception as err:  # noqa: BLE001 - a refusal, compared below
            return None, err


def _same_grad(ours, theirs):
    """Gradients equal; torch's None (no dependence) counts as zeros."""
    ours = ours._data if ours is not None else 0.0
    theirs = theirs.numpy() if theirs is not None else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def _check_refusals(test, ours, theirs, what):
    (_, err), (_, t_err) = ours, theirs
    if (err is None) != (t_err is None):
        raise AssertionError(
            f"{what}: chainrule {'raised ' + repr(err) if err else 'did not raise'}, "
            f"torch {'raised ' + repr(t_err) if t_err else 'did not raise'}"
        )
    if err is not None:
        _count(test, "both refuse")
        return False
    return True


# ----- getitem -----


@st.composite
def getitem_cases(draw):
    shape = draw(shapes())
    return shape, draw(items(shape)), draw(st.integers(0, 2**31 - 1))


@_settings(400)
@given(case=getitem_cases())
def test_getitem_matches_torch(case):
    shape, desc, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    r = _run(lambda: ours[build(desc, cr)])
    t_r = _run(lambda: theirs[build(desc, torch)])
    if not _check_refusals("getitem", r, t_r, f"x{shape}[{build(desc, torch)!r}]"):
        return
    out, t_out = r[0], t_r[0]
    assert out.shape == tuple(t_out.shape), (shape, build(desc, torch))
    np.testing.assert_array_equal(out._data, t_out.detach().numpy())
    w = rng.standard_normal(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    _same_grad(ours.grad, theirs.grad)
    _count("getitem", "compared")


# ----- setitem -----


@st.composite
def setitem_cases(draw):
    shape = draw(shapes())
    desc = draw(items(shape))
    value_kind = draw(st.sampled_from(["scalar", "tensor", "tensor", "tensor", "wrong"]))
    return shape, desc, value_kind, draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 3))


def _value_shape(target, kind, rng, lead):
    """A shape that broadcasts to target (PyTorch's setitem rule), or (kind='wrong') one that may not."""
    keep = rng.integers(0, len(target) + 1)
    shape = [1 if rng.random() < 0.3 else s for s in target[len(target) - keep :]]
    shape = [1] * (lead % 2) + shape
    if kind == "wrong":
        shape = list(shape) + [rng.integers(2, 4)]
    return tuple(int(s) for s in shape)


@_settings(300)
@given(case=setitem_cases())
def test_setitem_matches_torch(case):
    shape, desc, value_kind, seed, lead = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    # the indexed shape from torch (if torch refuses getitem, the value's shape hardly matters)
    probe, _ = _run(lambda: torch.zeros(shape)[build(desc, torch)])
    target = tuple(probe.shape) if probe is not None else ()
    v = rng.standard_normal(_value_shape(target, value_kind, rng, lead)) if value_kind != "scalar" else None
    scalar = float(rng.standard_normal())
    base, t_base = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    val = cr.tensor(v, requires_grad=True) if v is not None else scalar
    t_val = torch.tensor(v, requires_grad=True) if v is not None else scalar

    def ours():
        y = base * 2
        y[build(desc, cr)] = val
        return y

    def theirs():
        y = t_base * 2
        y[build(desc, torch)] = t_val
        return y

    r, t_r = _run(ours), _run(theirs)
    if not _check_refusals("setitem", r, t_r, f"y{shape}[{build(desc, torch)!r}] = value{np.shape(v)}"):
        return
    out, t_out = r[0], t_r[0]
    if _has_repeats(desc, shape):
        # which of two writes to one place lands is unspecified in PyTorch: compare the rest only
        _count("setitem", "repeated targets (gradients compared)")
    else:
        np.testing.assert_array_equal(out._data, t_out.detach().numpy())
        _count("setitem", "compared")
    w = rng.standard_normal(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    _same_grad(base.grad, t_base.grad)
    if v is not None:
        _same_grad(val.grad, t_val.grad)


def _has_repeats(desc, shape):
    """Whether the index writes some element twice (found by indexing an arange in torch)."""
    ids = torch.arange(int(np.prod(shape))).reshape(shape)
    picked = ids[build(desc, torch)].reshape(-1)
    return picked.numel() != picked.unique().numel()


# ----- index_put_ with accumulate -----


@st.composite
def index_put_cases(draw):
    shape = draw(shapes().filter(lambda s: len(s) >= 1))
    n = draw(st.integers(1, len(shape)))
    parts, dim = [], 0
    for _ in range(n):
        if dim >= len(shape):
            break
        if draw(st.integers(0, 3)) == 0:
            k = draw(st.integers(1, min(2, len(shape) - dim)))
            mshape = shape[dim : dim + k]
            parts.append(
                (
                    "mask",
                    np.array(
                        draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)), max_size=int(np.prod(mshape)))),
                        dtype=bool,
                    ).reshape(mshape),
                )
            )
            dim += k
        else:
            length = draw(st.integers(0, 4))
            parts.append(("tensor", _ints(draw, shape[dim], length)))
            dim += 1
    return shape, (parts, True), draw(st.booleans()), draw(st.integers(0, 2**31 - 1))


@_settings(200)
@given(case=index_put_cases())
def test_index_put_accumulate_matches_torch(case):
    shape, desc, accumulate, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    probe, _ = _run(lambda: torch.zeros(shape)[build(desc, torch)])
    target = tuple(probe.shape) if probe is not None else (1,)
    v = rng.standard_normal(_value_shape(target, "tensor", rng, 0))
    base, t_base = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    val, t_val = cr.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)

    def ours():
        y = base * 2
        return y.index_put_(build(desc, cr), val, accumulate=accumulate)

    def theirs():
        y = t_base * 2
        return y.index_put_(build(desc, torch), t_val, accumulate=accumulate)

    r, t_r = _run(ours), _run(theirs)
    if not _check_refusals("index_put_", r, t_r, f"index_put_({build(desc, torch)!r}, accumulate={accumulate})"):
        return
    out, t_out = r[0], t_r[0]
    if accumulate or not _has_repeats(desc, shape):
        np.testing.assert_allclose(out._data, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
        _count("index_put_", "compared (accumulate)" if accumulate else "compared")
    else:
        _count("index_put_", "repeated targets (gradients compared)")
    w = rng.standard_normal(out.shape)
    (out * cr.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    _same_grad(base.grad, t_base.grad)
    _same_grad(val.grad, t_val.grad)
