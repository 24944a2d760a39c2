"""Indexing and the index ops against PyTorch, case by case: the rules the fuzzer
(test_indexing_fuzz.py) draws at random, here named one at a time, with their errors,
dtypes and in-place forms."""

import warnings

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _both(fn_ours, fn_theirs):
    """Run both; return (ours, theirs) results or the exceptions they raised."""
    out = []
    for fn in (fn_ours, fn_theirs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append(fn())
            except Exception as err:  # noqa: BLE001 - compared by the caller
                out.append(err)
    return out


def _same(ours, theirs):
    if isinstance(theirs, Exception):
        assert isinstance(ours, Exception), f"torch raised {theirs!r}, chainrule returned {ours!r}"
        assert isinstance(ours, type(theirs)) or type(theirs) is RuntimeError and isinstance(ours, RuntimeError), (
            ours,
            theirs,
        )
        return
    assert not isinstance(ours, Exception), f"chainrule raised {ours!r}, torch returned {theirs!r}"
    assert ours.shape == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours._data, theirs.detach().numpy())


X = np.arange(24.0).reshape(2, 3, 4)

GETITEM = {
    "int before array (the issue's example)": lambda L: (0, slice(None), [1, 2]),
    "separated arrays go first": lambda L: ([1, 0], slice(None), [3, 3]),
    "int joins adjacent arrays": lambda L: ([0, 1], 1, [0, 1]),
    "None between arrays": lambda L: ([0, 1], None, [0, 1]),
    "0-d int tensor is an int": lambda L: ([0, 1], slice(None), L.tensor(1)),
    "python True adds an indexed dim": lambda L: (slice(None), True, [0, 1]),
    "python False": lambda L: False,
    "0-d bool tensor": lambda L: (1, L.tensor(True)),
    "0-d False with an array": lambda L: (slice(None), L.tensor(False), [0, 1]),
    "mask then int": lambda L: (L.tensor([[True, False, True], [False, False, True]]), 0),
    "two masks, separated": lambda L: (L.tensor([True, True]), slice(None), L.tensor([True, False, True, False])),
    "mask of the wrong shape": lambda L: (slice(None), L.tensor([True, False])),
    "2-d index tensor": lambda L: L.tensor([[0, 1], [1, 0]]),
    "list of lists is a tuple (deprecated)": lambda L: [[0, 1], [1, 0]],
    "list with a slice is a tuple": lambda L: [0, slice(None)],
    "list of bools is a mask": lambda L: [True, False],
    "float list truncates": lambda L: [0, 1.5],
    "float tensor refused": lambda L: L.tensor([1.0]),
    "int16 tensor refused": lambda L: L.tensor([1], dtype=L.int16),
    "int32 tensor": lambda L: L.tensor([1], dtype=L.int32),
    "float scalar refused": lambda L: (0, 1.0),
    "negative step refused": lambda L: slice(None, None, -1),
    "zero step refused": lambda L: slice(None, None, 0),
    "int out of range": lambda L: (0, 5),
    "array out of range": lambda L: (slice(None), [0, 5]),
    "negative array index": lambda L: (slice(None), [-3, -1]),
    "too many indices": lambda L: (0, 0, 0, 0),
    "arrays that do not broadcast": lambda L: ([0, 1], [0, 1, 2]),
    "empty list": lambda L: [],
    "ellipsis and None": lambda L: (None, Ellipsis, None, 0),
    "two ellipses": lambda L: (Ellipsis, Ellipsis),
    "numpy array": lambda L: np.array([1, 0]),
    "numpy 0-d array": lambda L: np.array(1),
    "slice bound from a tensor": lambda L: slice(L.tensor(1), None),
    "range": lambda L: range(2),
}


@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem_matches_torch(name):
    ours, theirs = _both(lambda: cr.tensor(X)[GETITEM[name](cr)], lambda: torch.tensor(X)[GETITEM[name](torch)])
    _same(ours, theirs)


def test_the_issue_example_and_its_gradient():
    x = cr.arange(24.0).reshape(2, 3, 4).requires_grad_()
    t = torch.arange(24.0).reshape(2, 3, 4).requires_grad_()
    y, ty = x[0, :, [1, 2]], t[0, :, [1, 2]]
    assert y.shape == tuple(ty.shape) == (3, 2)
    w = np.arange(6.0).reshape(3, 2)
    (y * cr.tensor(w, dtype=cr.float32)).sum().backward()
    (ty * torch.tensor(w, dtype=torch.float32)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, t.grad.numpy())


def test_errors_name_the_op_and_shape():
    x = cr.zeros(2, 3)
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds for dimension 1 with size 3.*\(2, 3\)"):
        x[0, 5]
    with pytest.raises(ValueError, match="getitem: step must be greater than zero.*flip"):
        x[::-1]
    with pytest.raises(IndexError, match="getitem: too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, [0]]


def test_list_as_tuple_warns_as_torch():
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        cr.zeros(2, 3)[[0, slice(None)]]


SETITEM = {
    "int then array, value (3, 2)": ((0, slice(None), [1, 3]), lambda L: L.ones(3, 2)),
    "leading 1s are dropped": (0, lambda L: L.ones(1, 1, 3, 4)),
    "trailing 1 does not fit a basic index": (0, lambda L: L.ones(3, 4, 1)),
    "broadcast to an advanced index": ([0, 1], lambda L: L.ones(2, 1, 1)),
    "wrong shape": ([0, 1], lambda L: L.ones(2)),
    "python number": (([0, 1], [1, 2]), lambda L: 2.5),
    "float64 tensor into float32, basic": (0, lambda L: L.ones(3, 4, dtype=L.float64) * 0.1),
    "float64 tensor into float32, advanced: refused": ([0], lambda L: L.ones(3, 4, dtype=L.float64)),
    "int tensor into float32, advanced: refused": ([0], lambda L: L.tensor(5)),
    "bool tensor into float32, basic": (0, lambda L: L.tensor(True)),
    "mask with a number": (lambda L: L.tensor([[True, False, True]] * 3)[:2], lambda L: -1.0),
    "overflowing number refused": (0, lambda L: 1e40),
    "complex number refused": (0, lambda L: 1 + 2j),
    "list value refused": (0, lambda L: [1.0, 2.0, 3.0, 4.0]),
    "numpy value refused": (0, lambda L: np.ones(4)),
    "False index is a no-op": (False, lambda L: L.ones(4)),
    "negative step refused": (slice(None, None, -1), lambda L: 0.0),
}


@pytest.mark.parametrize("name", sorted(SETITEM))
def test_setitem_matches_torch(name):
    index, value = SETITEM[name]

    def run(L):
        x = L.tensor(np.arange(24.0).reshape(2, 3, 4), dtype=L.float32)
        x[index(L) if callable(index) else index] = value(L)
        return x

    _same(*_both(lambda: run(cr), lambda: run(torch)))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16"])
def test_setitem_casts_numbers_as_torch(dtype):
    def run(L, v):
        x = L.zeros(2, 3, dtype=getattr(L, dtype))
        x[0] = v
        return x

    for v in (1.7, -1.7, 3, True, 70000, 2**40, 1e39, float("inf"), float("nan")):
        _same(*_both(lambda: run(cr, v), lambda: run(torch, v)))


def test_setitem_gradients_reach_value_and_base():
    def run(L):
        a = L.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        v = L.tensor([[0.5], [1.5]], dtype=L.float32, requires_grad=True)
        w = L.tensor(-2.0, dtype=L.float64, requires_grad=True)
        y = a * 3
        y[1:, 1:] = v  # a float32 value into float64 by a basic index: cast as torch
        y[[0, 2], [3, 0]] = w  # by index tensors: the dtypes must match
        (y * L.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        return a.grad, v.grad, w.grad

    (ga, gv, gw), (ta, tv, tw) = run(cr), run(torch)
    np.testing.assert_allclose(ga._data, ta.numpy())
    np.testing.assert_allclose(gv._data, tv.numpy())
    np.testing.assert_allclose(gw._data, tw.numpy())
    assert gv.dtype == np.float32


def test_setitem_on_a_leaf_that_requires_grad_is_refused():
    for L in (cr, torch):
        with pytest.raises(RuntimeError, match="leaf"):
            L.zeros(3, requires_grad=True)[0] = 1.0


# ----- the index ops -----


def _L(L, a, **kw):
    return L.tensor(np.asarray(a).tolist(), **kw)


OPS = {
    "index_put": lambda L, x: L.index_put(x, (_L(L, [0, 2]), _L(L, [1, 1])), _L(L, [5.0, 6.0])),
    "index_put accumulate repeats": lambda L, x: L.index_put(
        x, (_L(L, [0, 0]), _L(L, [1, 1])), _L(L, [5.0, 6.0]), accumulate=True
    ),
    "index_put mask": lambda L, x: x.index_put((_L(L, [True, False, True]),), _L(L, 1.0)),
    "index_put 0-d index": lambda L, x: x.index_put((_L(L, 1), _L(L, [0, 2])), _L(L, [1.0, 2.0])),
    "index_put int index refused": lambda L, x: x.index_put((0,), _L(L, 1.0)),
    "index_put number value refused": lambda L, x: x.index_put((_L(L, [0]),), 1.0),
    "index_put dtype refused": lambda L, x: x.index_put((_L(L, [0]),), _L(L, 1.0, dtype=L.float64)),
    "index_put out of range": lambda L, x: x.index_put((_L(L, [5]),), _L(L, 1.0)),
    "index_put too many": lambda L, x: x.index_put((_L(L, [0]),) * 3, _L(L, 1.0)),
    "index_select": lambda L, x: L.index_select(x, 1, _L(L, [3, 0, 3])),
    "index_select 0-d index": lambda L, x: L.index_select(x, 1, _L(L, 2)),
    "index_select int32": lambda L, x: x.index_select(0, _L(L, [2], dtype=L.int32)),
    "index_select negative refused": lambda L, x: L.index_select(x, 1, _L(L, [-1])),
    "index_select out of range": lambda L, x: L.index_select(x, 1, _L(L, [4])),
    "index_select 2-d refused": lambda L, x: L.index_select(x, 1, _L(L, [[1]])),
    "index_select float refused": lambda L, x: L.index_select(x, 1, _L(L, [1.0])),
    "index_select bad dim": lambda L, x: L.index_select(x, 2, _L(L, [1])),
    "masked_fill": lambda L, x: L.masked_fill(x, _L(L, [True, False, False, True]), 2.5),
    "masked_fill mask broadcasts the result": lambda L, x: x[:, :1].masked_fill(_L(L, [[True, False]]), 1.0),
    "masked_fill 0-d tensor value": lambda L, x: x.masked_fill(_L(L, [True, False, False, True]), _L(L, 2.0)),
    "masked_fill float64 value cast": lambda L, x: x.masked_fill(
        _L(L, [True, False, False, True]), _L(L, 2.5, dtype=L.float64)
    ),
    "masked_fill 1-d value refused": lambda L, x: x.masked_fill(_L(L, [True, False, False, True]), _L(L, [2.0])),
    "masked_fill int mask refused": lambda L, x: x.masked_fill(_L(L, [1, 0, 0, 1]), 2.0),
    "masked_fill overflow refused": lambda L, x: x.masked_fill(_L(L, [True, False, False, True]), 1e40),
    "masked_fill_ cannot grow": lambda L, x: x[0].clone().masked_fill_(_L(L, [[True, False, False, True]] * 2), 1.0),
    "scatter src": lambda L, x: x.scatter(1, _L(L, [[0, 1], [2, 0]]), x * 10),
    "scatter value": lambda L, x: L.scatter(x, 1, _L(L, [[0, 1], [2, 0]]), 5.0),
    "scatter value keyword": lambda L, x: L.scatter(x, 1, _L(L, [[0, 1], [2, 0]]), value=5.0),
    "scatter reduce add": lambda L, x: x.scatter(1, _L(L, [[0, 0]]), x * 10, reduce="add"),
    "scatter reduce multiply": lambda L, x: x.scatter(1, _L(L, [[0, 0]]), x * 10, reduce="multiply"),
    "scatter bad reduce": lambda L, x: x.scatter(1, _L(L, [[0, 0]]), x, reduce="max"),
    "scatter index larger than src": lambda L, x: x.scatter(1, _L(L, [[0, 1], [2, 0]]), L.ones(1, 1)),
    "scatter index larger than self": lambda L, x: x.scatter(1, _L(L, [[0]] * 4), x.repeat(2, 1)),
    "scatter ndim mismatch": lambda L, x: x.scatter(1, _L(L, [0, 1]), x),
    "scatter negative refused": lambda L, x: x.scatter(1, _L(L, [[-1]]), x),
    "scatter out of range": lambda L, x: x.scatter(1, _L(L, [[4]]), x),
    "scatter dtype refused": lambda L, x: x.scatter(1, _L(L, [[0]]), x.double()),
    "scatter on 0-d": lambda L, x: _L(L, 1.0).scatter(0, _L(L, 0), _L(L, 5.0)),
    "scatter_add": lambda L, x: L.scatter_add(x, 1, _L(L, [[0, 0], [1, 1]]), x * 10),
    "scatter_add number refused": lambda L, x: x.scatter_add(1, _L(L, [[0]]), 1.0),
    "index_add": lambda L, x: x.index_add(1, _L(L, [0, 0]), L.ones(3, 2)),
    "index_add alpha": lambda L, x: L.index_add(x, 1, _L(L, [0, 3]), L.ones(3, 2), alpha=2),
    "index_add count mismatch": lambda L, x: x.index_add(1, _L(L, [0, 0]), L.ones(3, 3)),
    "index_add no broadcasting": lambda L, x: x.index_add(1, _L(L, [0, 0]), L.ones(1, 2)),
    "index_add negative refused": lambda L, x: x.index_add(1, _L(L, [-1]), L.ones(3, 1)),
    "index_add dtype refused": lambda L, x: x.index_add(1, _L(L, [0]), L.ones(3, 1, dtype=L.float64)),
    "gather negative refused": lambda L, x: L.gather(x, 1, _L(L, [[-1]])),
    "gather int32": lambda L, x: L.gather(x, 1, _L(L, [[1]], dtype=L.int32)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_index_ops_match_torch(name):
    x = np.arange(12.0).reshape(3, 4).astype(np.float32)
    _same(*_both(lambda: OPS[name](cr, cr.tensor(x)), lambda: OPS[name](torch, torch.tensor(x))))


def test_scatter_multiply_has_no_gradient_as_in_torch():
    x = cr.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="multiply"):
        cr.scatter(x * 1, 1, cr.tensor([[0]]), cr.ones(2, 3), reduce="multiply")
    t = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not implemented"):
        torch.scatter(t * 1, 1, torch.tensor([[0]]), torch.ones(2, 3), reduce="multiply").sum().backward()


INPLACE = {
    "index_put_": lambda L, y, v: y.index_put_((_L(L, [0, 0, 2]),), v, accumulate=True),
    "masked_fill_": lambda L, y, v: y.masked_fill_(_L(L, [True, False, True, False]), v),
    "scatter_": lambda L, y, v: y.scatter_(1, _L(L, [[3], [0], [1]]), v.expand(3, 1)),
    "scatter_add_": lambda L, y, v: y.scatter_add_(1, _L(L, [[3, 3], [0, 1], [1, 1]]), v.expand(3, 2)),
    "index_add_": lambda L, y, v: y.index_add_(1, _L(L, [3, 3]), v.expand(3, 2), alpha=-2),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_in_place_ops_match_torch_values_gradients_and_versions(name):
    def run(L):
        a = L.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        v = L.tensor(0.7, dtype=L.float64, requires_grad=True)
        y = a * 2
        before = y._version
        out = INPLACE[name](L, y, v)
        assert out is y and y._version > before
        (y * L.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        return y.detach(), a.grad, v.grad

    for ours, theirs in zip(run(cr), run(torch)):
        np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_in_place_ops_refuse_a_leaf_that_requires_grad(name):
    for L in (cr, torch):
        with pytest.raises(RuntimeError, match="leaf"):
            INPLACE[name](L, L.zeros(3, 4, dtype=L.float64, requires_grad=True), L.tensor(1.0, dtype=L.float64))


def test_index_select_and_index_add_are_each_others_transpose():
    x = cr.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    t = torch.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    cr.index_select(x, 1, cr.tensor([0, 0, 3])).sum().backward()
    torch.index_select(t, 1, torch.tensor([0, 0, 3])).sum().backward()
    np.testing.assert_array_equal(x.grad._data, t.grad.numpy())


def test_jit_replays_follow_traced_indices():
    """Index tensors computed inside a jitted function stay live in the replay (not frozen)."""

    def f(x, y):
        i = y.argmax(dim=1)
        z = x[i, :, [0, 1, 1]]
        w = x * 1
        w[0, :, i[:2]] = z[0, :2].sum()
        return (
            (w * 2).sum()
            + z.sum()
            + cr.index_select(x, 2, i).sum()
            + x.scatter_add(1, i.reshape(3, 1, 1).expand(3, 1, 5), x[:, :1]).sum()
        )

    jitted = cr.jit(f)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = cr.tensor(rng.standard_normal((3, 4, 5)))
        y = cr.tensor(rng.standard_normal((3, 3)))
        assert float(jitted(x, y)) == float(f(x, y))
