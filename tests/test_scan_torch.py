"""cumsum, cumprod, cummax, cummin, sort and argsort against torch: values, indices (exact), dtypes,
gradients of both orders (with ties, zeros and NaNs) and refusals."""

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _ties_and_nans(shape, rng, nans=True):
    """Small integers (many ties), signed zeros, infinities and (optionally) NaNs, as float64."""
    values = rng.integers(-3, 4, size=shape).astype(np.float64)
    flat = values.reshape(-1)
    specials = [0.0, -0.0, np.inf, -np.inf] + ([np.nan, np.nan] if nans else [])
    for position, special in zip(rng.choice(flat.size, size=min(len(specials), flat.size), replace=False), specials):
        flat[position] = special
    return values


def _pair(values, requires_grad=False):
    return cr.tensor(values, requires_grad=requires_grad), torch.tensor(values, requires_grad=requires_grad)


def _same(ours, theirs, exact=True):
    assert str(ours.dtype).removeprefix("chainrule.") == str(theirs.dtype).removeprefix("torch."), (
        ours.dtype,
        theirs.dtype,
    )
    assert tuple(ours.shape) == tuple(theirs.shape)
    expected = theirs.detach().numpy()
    if exact:
        np.testing.assert_array_equal(np.asarray(ours._data), expected)
    else:
        np.testing.assert_allclose(np.asarray(ours._data), expected, rtol=1e-10, atol=1e-12)


def _grads_of_both_orders(ours_fn, torch_fn, values, seed=1):
    """First and second order gradients of <fn(x), v> and of <grad, w> against torch."""
    x, xt = _pair(values, requires_grad=True)
    out, out_t = ours_fn(x), torch_fn(xt)
    v = np.random.default_rng(seed).standard_normal(out.shape)
    (g,) = cr.autograd.grad(out, [x], grad_outputs=cr.tensor(v), create_graph=True)
    (gt,) = torch.autograd.grad(out_t, [xt], grad_outputs=torch.tensor(v), create_graph=True)
    np.testing.assert_allclose(g._data, gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(seed + 1).standard_normal(g.shape)
    with np.errstate(invalid="ignore"):  # an infinite input's gradient terms: inf - inf
        gg = cr.autograd.grad((g * cr.tensor(w)).sum(), [x], allow_unused=True)[0] if g.requires_grad else None
    ggt = torch.autograd.grad((gt * torch.tensor(w)).sum(), [xt], allow_unused=True)[0] if gt.requires_grad else None
    ours = np.zeros(values.shape) if gg is None else gg._data
    theirs = np.zeros(values.shape) if ggt is None else ggt.numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


SHAPES_DIMS = [((7,), 0), ((7,), -1), ((4, 6), 0), ((4, 6), 1), ((2, 3, 5), 1), ((2, 3, 5), -1), ((), 0), ((0, 3), 1)]


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_cummax_cummin_values_and_indices_with_ties_and_nans(shape, dim):
    rng = np.random.default_rng(hash((shape, dim)) % 2**32)
    for _ in range(3):
        values = _ties_and_nans(shape, rng) if np.prod(shape) > 6 else rng.integers(-2, 3, size=shape) * 1.0
        x, xt = _pair(values)
        for name in ("cummax", "cummin"):
            ours, theirs = getattr(cr, name)(x, dim), getattr(torch, name)(xt, dim)
            _same(ours.values, theirs.values)
            _same(ours.indices, theirs.indices)
            method = getattr(x, name)(dim)
            _same(method.indices, theirs.indices)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending,stable", list(itertools.product([False, True], [False, True])))
def test_sort_and_argsort_with_ties_and_nans(shape, dim, descending, stable):
    rng = np.random.default_rng(hash((shape, dim, descending)) % 2**32)
    values = _ties_and_nans(shape, rng) if np.prod(shape) > 6 else rng.integers(-2, 3, size=shape) * 1.0
    x, xt = _pair(values)
    ours = cr.sort(x, dim, descending=descending, stable=stable)
    theirs = torch.sort(xt, stable=stable, dim=dim, descending=descending)
    _same(ours.values, theirs.values)
    _same(ours.indices, theirs.indices)
    _same(x.sort(dim=dim, descending=descending).indices, theirs.indices)
    _same(
        cr.argsort(x, dim, descending=descending, stable=stable),
        torch.argsort(xt, dim=dim, descending=descending, stable=stable),
    )
    _same(x.argsort(dim=dim, descending=descending), torch.argsort(xt, dim=dim, descending=descending))


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool", "float32", "float16"])
def test_dtypes_of_every_op(dtype):
    values = np.array([[3, 1, 2, 0, 2], [1, 1, 0, 3, 2]]).astype(dtype)
    x, xt = cr.tensor(values), torch.tensor(values)
    for dim in (0, 1):
        _same(cr.cumsum(x, dim), torch.cumsum(xt, dim))
        _same(x.cumprod(dim), xt.cumprod(dim))
        for name in ("cummax", "cummin"):
            ours, theirs = getattr(cr, name)(x, dim), getattr(torch, name)(xt, dim)
            _same(ours.values, theirs.values)
            _same(ours.indices, theirs.indices)
        for descending in (False, True):
            ours, theirs = cr.sort(x, dim, descending), torch.sort(xt, stable=True, dim=dim, descending=descending)
            _same(ours.values, theirs.values)
            _same(ours.indices, theirs.indices)
        for out_dtype in ("float32", "float64", "int64", "int32"):
            _same(
                cr.cumsum(x, dim, dtype=getattr(cr, out_dtype)),
                torch.cumsum(xt, dim, dtype=getattr(torch, out_dtype)),
                exact=False,
            )
            _same(
                x.cumprod(dim, dtype=getattr(cr, out_dtype)),
                xt.cumprod(dim, dtype=getattr(torch, out_dtype)),
                exact=False,
            )


def test_float16_cumsum_adds_in_float32():
    values = np.full(3000, 0.1, dtype=np.float16)
    _same(cr.cumsum(cr.tensor(values), 0), torch.cumsum(torch.tensor(values), 0))


@pytest.mark.parametrize("shape,dim", [((8,), 0), ((3, 7), 1), ((6, 3), 0), ((2, 5, 4), 1)])
def test_cumprod_gradients_with_zeros(shape, dim):
    rng = np.random.default_rng(len(shape) * 10 + dim)
    for zero_fraction in (0.0, 0.15, 0.4):
        values = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        values[rng.uniform(size=shape) < zero_fraction] = 0.0
        _grads_of_both_orders(lambda a: cr.cumprod(a, dim), lambda a: torch.cumprod(a, dim), values)


def test_cumprod_gradient_without_a_graph_is_exact_with_zeros():
    values = np.array([[2.0, 0.0, 3.0, 0.0, 0.5], [0.0, 1.5, 2.0, -1.0, 4.0], [1.0, 2.0, 3.0, 4.0, 0.0]])
    x, xt = _pair(values, requires_grad=True)
    cr.cumprod(x, 1).sum().backward()
    torch.cumprod(xt, 1).sum().backward()
    np.testing.assert_allclose(x.grad._data, xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_gradients(dim):
    values = np.random.default_rng(dim + 5).standard_normal((3, 4, 2))
    _grads_of_both_orders(lambda a: cr.cumsum(a, dim), lambda a: torch.cumsum(a, dim), values)
    _grads_of_both_orders(lambda a: a.cumsum(dim) ** 2, lambda a: a.cumsum(dim) ** 2, values)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1])
def test_running_extremum_gradients_go_to_torchs_index_on_ties_and_nans(name, dim):
    rng = np.random.default_rng(3 + dim)
    for nans in (False, True):
        values = _ties_and_nans((5, 6), rng, nans=nans)
        _grads_of_both_orders(
            lambda a: getattr(cr, name)(a, dim).values ** 2, lambda a: getattr(torch, name)(a, dim).values ** 2, values
        )


@pytest.mark.parametrize("descending", [False, True])
def test_sort_gradients_with_ties_and_nans(descending):
    rng = np.random.default_rng(11)
    for dim in (0, 1, -1):
        values = _ties_and_nans((4, 5, 3), rng)
        _grads_of_both_orders(
            lambda a: cr.sort(a, dim, descending).values * cr.sort(a, dim, descending).values,
            lambda a: torch.sort(a, stable=True, dim=dim, descending=descending).values ** 2,
            values,
        )


def test_jvp_matches_torchs_forward_mode():
    import torch.autograd.forward_ad as fwad

    values = np.array([[2.0, 0.0, 3.0, 0.0, 0.5], [0.0, 1.5, 2.0, -1.0, 4.0], [1.0, 2.0, 3.0, 4.0, 2.0]])
    tangent = np.random.default_rng(2).standard_normal(values.shape)
    cases = [
        (lambda a: cr.cumprod(a, 1), lambda a: torch.cumprod(a, 1)),
        (lambda a: cr.cumsum(a, 0), lambda a: torch.cumsum(a, 0)),
        (lambda a: cr.cummax(a, 1).values, lambda a: torch.cummax(a, 1).values),
        (lambda a: cr.cummin(a, 0).values, lambda a: torch.cummin(a, 0).values),
        (lambda a: cr.sort(a, 1, True).values, lambda a: torch.sort(a, stable=True, dim=1, descending=True).values),
    ]
    for ours_fn, torch_fn in cases:
        _, ours = cr.jvp(ours_fn, (cr.tensor(values),), (cr.tensor(tangent),))
        with fwad.dual_level():
            theirs = fwad.unpack_dual(torch_fn(fwad.make_dual(torch.tensor(values), torch.tensor(tangent)))).tangent
        np.testing.assert_allclose(np.asarray(getattr(ours, "_data", ours)), theirs.numpy(), rtol=1e-12, atol=1e-14)


def _outcome(fn):
    try:
        fn()
    except Exception as error:
        return type(error)
    return None


REFUSALS = [
    ("cumsum dim out of range", lambda m, x: m.cumsum(x, 2)),
    ("cumsum dim below range", lambda m, x: m.cumsum(x, -3)),
    ("cumprod dim out of range", lambda m, x: m.cumprod(x, 5)),
    ("cummax dim out of range", lambda m, x: m.cummax(x, 2)),
    ("cummin float dim", lambda m, x: m.cummin(x, 1.0)),
    ("sort dim out of range", lambda m, x: m.sort(x, 3)),
    ("argsort dim out of range", lambda m, x: m.argsort(x, -3)),
    ("cumsum without dim", lambda m, x: m.cumsum(x)),
    ("cumsum of a list", lambda m, x: m.cumsum([1.0, 2.0], 0)),
    ("sort of complex", lambda m, x: m.sort(m.tensor([1 + 1j, 2 + 0j]))),
    ("cummax of complex", lambda m, x: m.cummax(m.tensor([1 + 1j, 2 + 0j]), 0)),
    ("0-d cumsum dim 1", lambda m, x: m.cumsum(m.tensor(2.0), 1)),
    ("0-d sort dim -1", lambda m, x: m.sort(m.tensor(2.0), -1)),
    ("0-d cummax dim 0", lambda m, x: m.cummax(m.tensor(2.0), 0)),
]


@pytest.mark.parametrize("name,call", REFUSALS, ids=[name for name, _ in REFUSALS])
def test_refusals_agree_with_torch(name, call):
    values = np.arange(6.0).reshape(2, 3)
    ours = _outcome(lambda: call(cr, cr.tensor(values)))
    theirs = _outcome(lambda: call(torch, torch.tensor(values)))
    assert (ours is None) == (theirs is None), (ours, theirs)


def test_errors_name_the_op_and_the_fix():
    with pytest.raises(IndexError, match=r"cumsum: dimension 2 is out of range.*2 dimensions"):
        cr.cumsum(cr.ones(2, 3), 2)
    with pytest.raises(RuntimeError, match=r"sort: complex tensors have no order.*x.real"):
        cr.sort(cr.tensor([1 + 1j]))
