"""einsum, bmm, baddbmm, tril/triu beyond the op table (tests/opinfo.py has their gradchecks):
a differential fuzzer against torch.einsum on random valid equations (values, gradients, second
order, forward mode), PyTorch's refusals, the calling forms, and the in-place triangles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.ops.einsum as einsum_module

# torch.func.jvp warns about torch.jit.script inside torch itself.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# ----- the fuzzer -----


@st.composite
def equations(draw):
    """(equation, shapes): 1-3 operands over subscripts a-e, with repeats (diagonals), "...",
    size-1 broadcasting, and an implicit or explicit output."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sizes = {c: int(rng.integers(1, 5)) for c in "abcde"}
    n_ell = int(rng.integers(0, 3))
    ell_sizes = [int(rng.integers(1, 4)) for _ in range(n_ell)]
    use_ell = n_ell > 0 and rng.random() < 0.4
    terms, shapes = [], []
    for _ in range(int(rng.integers(1, 4))):
        labels = [str(c) for c in rng.choice(list("abcde"), size=int(rng.integers(0, 5)))]
        shape = [sizes[c] for c in labels]
        if rng.random() < 0.2 and labels:  # one subscript of this operand broadcast from size 1
            c = labels[int(rng.integers(len(labels)))]
            shape = [1 if lab == c else s for lab, s in zip(labels, shape)]
        term = "".join(labels)
        if use_ell and rng.random() < 0.7:
            m = int(rng.integers(0, n_ell + 1))
            ell = [1 if rng.random() < 0.3 else s for s in ell_sizes[n_ell - m :]]
            at = int(rng.integers(0, len(labels) + 1))
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + ell + shape[at:]
        terms.append(term)
        shapes.append(tuple(shape))
    equation = ",".join(terms)
    if rng.random() < 0.6:  # explicit output: some of the subscripts, in any order
        present = sorted({c for t in terms for c in t if c != "."})
        out = [str(c) for c in rng.permutation(present)[: int(rng.integers(0, len(present) + 1))]]
        if "..." in equation and rng.random() < 0.8:
            out.insert(int(rng.integers(0, len(out) + 1)), "...")
        equation += "->" + "".join(out)
    return equation, shapes


def _check_against_torch(equation, shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = cr.einsum(equation, *ours)
    t_out = torch.einsum(equation, *theirs)
    assert out.shape == tuple(t_out.shape), equation
    np.testing.assert_allclose(out._data, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(out.shape)
    grads = cr.autograd.grad(out, ours, grad_outputs=cr.tensor(v), create_graph=True)
    t_grads = torch.autograd.grad(t_out, theirs, grad_outputs=torch.tensor(v), create_graph=True)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g._data, tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    # second order: d/dx <grads, w>, None meaning zero on either side
    w = [rng.standard_normal(s) for s in shapes]
    s = sum((g * cr.tensor(wk)).sum() for g, wk in zip(grads, w) if g.requires_grad)
    t_live = [(tg * torch.tensor(wk)).sum() for tg, wk in zip(t_grads, w) if tg.requires_grad]
    if t_live:
        gg = cr.autograd.grad(s, ours, allow_unused=True) if not isinstance(s, int) else [None] * len(ours)
        t_gg = torch.autograd.grad(sum(t_live), theirs, allow_unused=True)
        for a, b in zip(gg, t_gg):
            np.testing.assert_allclose(
                0.0 if a is None else a._data, 0.0 if b is None else b.numpy(), rtol=1e-9, atol=1e-11
            )
    # forward mode
    tangents = [rng.standard_normal(s) for s in shapes]
    _, t_dot = torch.func.jvp(
        lambda *xs: torch.einsum(equation, *xs),
        tuple(torch.tensor(a) for a in arrays),
        tuple(map(torch.tensor, tangents)),
    )
    _, dot = cr.jvp(
        lambda *xs: cr.einsum(equation, *xs), tuple(map(cr.tensor, arrays)), tuple(map(cr.tensor, tangents))
    )
    np.testing.assert_allclose(np.asarray(getattr(dot, "_data", dot)), t_dot.numpy(), rtol=1e-10, atol=1e-12)


@pytest.fixture(params=["default", "matmul_always"])
def route(request, monkeypatch):
    """Run the fuzzer with the usual routes, then with every two-operand contraction forced through the
    batched-matmul route (normally taken only for large contractions)."""
    einsum_module._make_plan.cache_clear()
    if request.param == "matmul_always":
        monkeypatch.setattr(einsum_module, "_MATMUL_MIN_WORK", 0)
    yield request.param
    einsum_module._make_plan.cache_clear()


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=equations(), seed=st.integers(0, 1000))
def test_einsum_matches_torch_on_random_equations(route, case, seed):
    equation, shapes = case
    _check_against_torch(equation, shapes, seed)


@settings(deadline=None, max_examples=400)
@given(case=equations(), seed=st.integers(0, 1000))
def test_every_forward_route_matches_numpy(case, seed):
    """The forward routes alone (no autograd, so many more equations): the batched-matmul route forced
    for every pair, on its own and inside the pairwise chains of three operands, against np.einsum."""
    equation, shapes = case
    spec, _ = einsum_module._canonical(equation, tuple(shapes))
    arrays = [np.random.default_rng(seed).standard_normal(s) for s in shapes]
    saved = einsum_module._MATMUL_MIN_WORK
    einsum_module._MATMUL_MIN_WORK = 0
    try:
        got = einsum_module._make_plan(spec, tuple(shapes))(*arrays)
    finally:
        einsum_module._MATMUL_MIN_WORK = saved
    np.testing.assert_allclose(got, np.einsum(spec, *arrays), rtol=1e-10, atol=1e-12)


# ----- refusals, as PyTorch's -----

REFUSED = [
    ("ij,jk", [(2, 3), (4, 4)], "subscript j has size 4"),
    ("ii", [(3, 2)], "subscript i is repeated for operand 0"),
    ("ij", [(3, 3, 3)], "number of subscripts in the equation \\(2\\) does not match"),
    ("ijk", [(3, 3)], "number of subscripts in the equation \\(3\\) does not match"),
    ("...ijk", [(3, 3)], "is more than the number of dimensions"),
    ("ij,jk", [(2, 3)], "fewer operands"),
    ("ij", [(2, 3), (3, 3)], "more operands"),
    ("ij->jj", [(2, 2)], "output subscript j appears more than once"),
    ("ij->k", [(2, 2)], "output subscript k does not appear"),
    ("i1", [(2, 2)], "invalid subscript given at index 1"),
    ("i.j", [(2, 2)], "found '.' for operand 0"),
    ("...ij,...jk", [(2, 2, 3), (3, 3, 4)], "covered by ellipsis in operand 1"),
]


@pytest.mark.parametrize("equation,shapes,match", REFUSED, ids=[r[0] for r in REFUSED])
def test_einsum_refuses_what_torch_refuses(equation, shapes, match):
    with pytest.raises(RuntimeError):
        torch.einsum(equation, *[torch.ones(s) for s in shapes])
    with pytest.raises(RuntimeError, match=match) as info:
        cr.einsum(equation, *[cr.ones(*s) for s in shapes])
    message = str(info.value)
    assert message.startswith("einsum: ") and (str(shapes[0]) in message or equation in message)


def test_einsum_refuses_mixed_dtypes_as_torch():
    with pytest.raises(RuntimeError):
        torch.einsum("i,i", torch.ones(3), torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="same dtype.*float32 \\(shape \\(3,\\)\\).*float64"):
        cr.einsum("i,i", cr.ones(3), cr.ones(3, dtype=cr.float64))


# ----- calling forms and results -----


def test_einsum_calling_forms():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    expected = a @ b
    A, B = cr.tensor(a), cr.tensor(b)
    for out in (
        cr.einsum("ij,jk->ik", A, B),
        cr.einsum("ij,jk", [A, B]),
        cr.einsum(" i j , j k -> i k ", A, B),
        cr.einsum(A, [0, 1], B, [1, 2], [0, 2]),
        cr.einsum(A, [Ellipsis, 1], B, [1, 2]),
        cr.einsum("ij,jk", a, b),  # arrays too
    ):
        np.testing.assert_allclose(np.asarray(getattr(out, "_data", out)), expected, rtol=1e-12)
    assert "einsum" in cr.__all__
    # sublists without an output: the output's order is the integers' order, as in torch
    for subs in ([30, 0], [1, 0], [40, 2, 7]):
        x = rng.standard_normal((2, 3, 4)[: len(subs)])
        expected = torch.einsum(torch.tensor(x), subs).numpy()
        np.testing.assert_allclose(cr.einsum(cr.tensor(x), subs)._data, expected, rtol=1e-12)


def test_einsum_result_never_aliases_an_operand():
    x = cr.tensor(np.arange(9.0).reshape(3, 3))
    for equation in ("ij->ji", "ii->i", "ij->ij", "ij"):
        y = cr.einsum(equation, x)
        y += 100
        assert x._data.max() == 8.0, equation


def test_einsum_keeps_float32_and_integers():
    x = cr.ones(2, 3)
    assert cr.einsum("ij,jk", x, x.T).dtype == cr.float32
    ints = cr.einsum("i,i", cr.arange(3), cr.arange(3))
    assert ints.dtype == cr.int64 and int(ints) == int(torch.einsum("i,i", torch.arange(3), torch.arange(3)))


def test_einsum_under_jit_matches_eager():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 4, 5)), requires_grad=True)

    def step(x, w):
        loss = (cr.tril(cr.baddbmm(cr.einsum("bij,bjk->bik", x, w), x, w, alpha=0.5)) ** 2).sum()
        loss.backward()
        return loss

    eager = float(step(x, w))
    expected = (x.grad._data.copy(), w.grad._data.copy())
    jitted = cr.jit(step)
    for _ in range(2):
        x.grad = w.grad = None
        assert float(jitted(x, w)) == pytest.approx(eager, rel=1e-12)
        np.testing.assert_allclose(x.grad._data, expected[0], rtol=1e-12)
        np.testing.assert_allclose(w.grad._data, expected[1], rtol=1e-12)


# ----- bmm, baddbmm -----


@pytest.mark.parametrize(
    "shapes",
    [[(2, 3, 4), (2, 5, 6)], [(2, 3, 4), (3, 4, 6)], [(3, 4), (3, 4, 6)], [(2, 3, 4), (4, 6)]],
)
def test_bmm_refuses_what_torch_refuses(shapes):
    with pytest.raises(RuntimeError):
        torch.bmm(*[torch.ones(s) for s in shapes])
    with pytest.raises(RuntimeError, match="bmm: .*(3D tensor|Expected size for first two dimensions)"):
        cr.bmm(*[cr.ones(*s) for s in shapes])


@pytest.mark.parametrize("shapes", [[(3, 4), (2, 3, 4), (2, 4, 5)], [(2, 3, 6), (2, 3, 4), (2, 4, 5)]])
def test_baddbmm_refuses_what_torch_refuses(shapes):
    with pytest.raises(RuntimeError):
        torch.baddbmm(*[torch.ones(s) for s in shapes])
    with pytest.raises(RuntimeError, match="baddbmm: input of shape .* cannot be broadcast"):
        cr.baddbmm(*[cr.ones(*s) for s in shapes])


def test_baddbmm_beta_zero_ignores_nan_input():
    a, b = cr.ones(2, 3, 4), cr.ones(2, 4, 5)
    out = cr.baddbmm(cr.full((5,), float("nan")), a, b, beta=0)
    assert not bool(out.isnan().any())
    assert torch.equal(
        torch.from_numpy(out._data),
        torch.baddbmm(torch.full((5,), float("nan")), *map(torch.ones, [(2, 3, 4), (2, 4, 5)]), beta=0),
    )


def test_tensor_methods():
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4))
    y = cr.tensor(np.ones((2, 4, 2)))
    np.testing.assert_array_equal(x.bmm(y)._data, np.matmul(x._data, y._data))
    np.testing.assert_array_equal(
        x[:, :, :2].baddbmm(x, y, alpha=2)._data, x._data[:, :, :2] + 2 * np.matmul(x._data, y._data)
    )
    np.testing.assert_array_equal(x.tril(1)._data, np.tril(x._data, 1))
    np.testing.assert_array_equal(x.triu(-1)._data, np.triu(x._data, -1))


# ----- tril/triu -----


@pytest.mark.parametrize("op", ["tril", "triu"])
def test_triangles_refuse_vectors(op):
    with pytest.raises(RuntimeError):
        getattr(torch, op)(torch.ones(3))
    with pytest.raises(RuntimeError, match=f"{op}: input tensor must have at least 2 dimensions, got shape \\(3,\\)"):
        getattr(cr, op)(cr.ones(3))


@pytest.mark.parametrize("op", ["tril_", "triu_"])
@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_inplace_triangles_match_torch(op, diagonal):
    """y = 2 a; y[1:].op_(diagonal) on a view: values, the base's history and a's gradient as in PyTorch."""
    a = np.random.default_rng(2).standard_normal((3, 4, 4))
    results = []
    for lib, f64 in ((cr, cr.float64), (torch, torch.float64)):
        leaf = lib.tensor(a, dtype=f64, requires_grad=True)
        y = leaf * 2
        assert getattr(y[1:], op)(diagonal) is not None
        (y * y).sum().backward()
        results.append(
            (
                np.asarray(y.detach().numpy() if lib is torch else y._data),
                leaf.grad.numpy() if lib is torch else leaf.grad._data,
            )
        )
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_inplace_triangle_refused_on_a_leaf_that_requires_grad():
    with pytest.raises(RuntimeError, match="tril_: a leaf tensor that requires grad"):
        cr.ones(3, 3, requires_grad=True).tril_()
    x = cr.ones(3, 3)
    assert x.triu_(1) is x and np.array_equal(x._data, np.triu(np.ones((3, 3)), 1))


def test_a_chain_of_matrix_products_records_its_pairwise_steps():
    """ij,jk,kl->il is two nodes (backward reuses the intermediate, as torch's); a bilinear form's
    batch-subscript step stays one node. Both match torch to second order (the random tests)."""
    rng = np.random.default_rng(0)
    A, B, C = (cr.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3), (3, 4), (4, 5)))
    out = cr.einsum("ij,jk,kl->il", A, B, C)
    inner = [fn for fn, _ in out.grad_fn.next_functions if type(fn).__name__ == "Einsum"]
    assert type(out.grad_fn).__name__ == "Einsum" and len(inner) == 1
    x, W, y = (cr.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3), (4, 3, 5), (2, 5)))
    bilinear = cr.einsum("bn,anm,bm->ba", x, W, y)
    assert all(type(fn).__name__ == "AccumulateGrad" for fn, _ in bilinear.grad_fn.next_functions)
