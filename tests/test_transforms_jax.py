"""The transforms against JAX (float64): a table of functions (the README's coursework among
them) x each transform x argnums variants. Same pytree structure (jax.tree_util), same leaf
shapes and dtypes, same values (rtol 1e-10); same refusals. JAX runs un-jitted (op by op)."""

import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr

jax.config.update("jax_enable_x64", True)

CR = types.SimpleNamespace(
    tanh=cr.tanh,
    sin=cr.sin,
    exp=cr.exp,
    stack=cr.stack,
    softmax=lambda z: cr.softmax(z, dim=0),
    grad=cr.grad,
    value_and_grad=cr.value_and_grad,
    jacrev=cr.jacrev,
    jacfwd=cr.jacfwd,
    hessian=cr.hessian,
    vjp=cr.vjp,
    jvp=cr.jvp,
)
JX = types.SimpleNamespace(
    tanh=jnp.tanh,
    sin=jnp.sin,
    exp=jnp.exp,
    stack=jnp.stack,
    softmax=lambda z: jax.nn.softmax(z, axis=0),
    grad=jax.grad,
    value_and_grad=jax.value_and_grad,
    jacrev=jax.jacrev,
    jacfwd=jax.jacfwd,
    hessian=jax.hessian,
    vjp=jax.vjp,
    jvp=jax.jvp,
)

A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0], [4.0, 0.0, 1.0]])
X3 = np.array([0.5, -1.0, 2.0])
Z6 = np.array([1.0, 2.0, 3.0, -1.0, -4.0, 0.0])
W23 = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]])
PARAMS = {"w": W23, "b": np.array([0.1, -0.3])}


class Case(types.SimpleNamespace):
    """make(m) builds the function from a namespace (CR or JX); scalar: its output is a scalar."""


CASES = [
    Case(
        name="polynomial",
        make=lambda m: lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10,
        args=(1.0,),
        argnums=[0],
        scalar=True,
    ),
    Case(name="3_pow_a", make=lambda m: lambda a: 3.0**a, args=(2.0,), argnums=[0], scalar=True),
    Case(name="a_pow_x", make=lambda m: lambda a, x: a**x, args=(3.0, 1.7), argnums=[1, (0, 1)], scalar=True),
    Case(
        name="coursework_xy",
        make=lambda m: lambda x, y: x**3 + 3 * x**2 * y + y**3 + 2 * x,
        args=(1.0, 2.0),
        argnums=[0, (0, 1), (1, 0), -1],
        scalar=True,
    ),
    Case(name="tanh", make=lambda m: m.tanh, args=(0.5,), argnums=[0], scalar=True),
    Case(name="tanh_second_derivative", make=lambda m: m.grad(m.grad(m.tanh)), args=(0.5,), argnums=[0], scalar=True),
    Case(
        name="perturbation_confusion",
        make=lambda m: lambda x: x * m.grad(lambda y: x * y)(x),
        args=(3.0,),
        argnums=[0],
        scalar=True,
    ),
    Case(name="quadratic_xAx", make=lambda m: lambda x: x @ (A @ x), args=(X3,), argnums=[0], scalar=True),
    Case(name="softmax", make=lambda m: m.softmax, args=(Z6,), argnums=[0], scalar=False),
    Case(
        name="tuple_out",
        make=lambda m: lambda x, y: (x * y, m.sin(x).sum()),
        args=(X3, 0.7),
        argnums=[1, (0, 1)],
        scalar=False,
    ),
    Case(
        name="dict_out",
        make=lambda m: lambda x: {"sq": x**2, "rest": [x.sum(), m.exp(x[:2])]},
        args=(X3,),
        argnums=[0],
        scalar=False,
    ),
    Case(
        name="constant_and_unrelated_outputs",
        make=lambda m: lambda x, y: ((x * 2.0, y), 3.0),
        args=(X3, 1.5),
        argnums=[0, (0, 1)],
        scalar=False,
    ),
    Case(
        name="pytree_in_scalar_out",
        make=lambda m: lambda p, x: (m.tanh(p["w"] @ x + p["b"]) ** 2).sum(),
        args=(PARAMS, X3),
        argnums=[0, (0, 1)],
        scalar=True,
    ),
    Case(
        name="pytree_in_vector_out",
        make=lambda m: lambda p, x: m.tanh(p["w"] @ x + p["b"]),
        args=(PARAMS, X3),
        argnums=[0, (1, 0)],
        scalar=False,
    ),
    Case(
        name="list_and_nested_tuple_in",
        make=lambda m: lambda xs, t: xs[0] * xs[1] + t[0] ** 2 * t[1][0],
        args=([1.5, -0.5], (0.3, [2.0])),
        argnums=[1, (0, 1)],
        scalar=True,
    ),
    Case(name="matrix_in_matrix_out", make=lambda m: lambda W: m.tanh(W @ W.T), args=(W23,), argnums=[0], scalar=False),
]

SCALAR_TRANSFORMS = ["grad", "value_and_grad", "jacrev", "jacfwd", "hessian"]
VECTOR_TRANSFORMS = ["jacrev", "jacfwd", "hessian"]


def _leaves_np(tree):
    return jax.tree_util.tree_map(lambda leaf: leaf._data if isinstance(leaf, cr.Tensor) else leaf, tree)


def assert_like_jax(ours, theirs, rtol=1e-10, atol=1e-12, kind=np.ndarray):
    """Same pytree structure, and per leaf the same kind (arrays in, arrays out), shape, dtype and values."""
    ours_np = _leaves_np(ours)
    s_ours, s_jax = jax.tree_util.tree_structure(ours_np), jax.tree_util.tree_structure(theirs)
    assert s_ours == s_jax, f"structure {s_ours} != JAX's {s_jax}"
    for a, a_np, b in zip(
        jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ours_np), jax.tree_util.tree_leaves(theirs)
    ):
        if isinstance(b, jax.Array):
            assert isinstance(a, kind), f"{type(a).__name__} returned, expected {kind}"
        a_np, b = np.asarray(a_np), np.asarray(b)
        assert a_np.shape == b.shape, f"shape {a_np.shape} != JAX's {b.shape}"
        assert a_np.dtype == b.dtype, f"dtype {a_np.dtype} != JAX's {b.dtype}"
        np.testing.assert_allclose(a_np, b, rtol=rtol, atol=atol)


def _random_like(tree, seed):
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda leaf: rng.standard_normal(np.shape(leaf)), tree)


def _params():
    out = []
    for case in CASES:
        names = SCALAR_TRANSFORMS if case.scalar else VECTOR_TRANSFORMS
        for name in names:
            for argnums in case.argnums:
                out.append(pytest.param(case, name, argnums, id=f"{case.name}-{name}-argnums={argnums}"))
    return out


@pytest.mark.parametrize("case, transform, argnums", _params())
def test_transform_matches_jax(case, transform, argnums):
    ours = getattr(CR, transform)(case.make(CR), argnums=argnums)(*case.args)
    # jitted: one XLA compilation costs less than compiling each primitive on its first eager call
    theirs = jax.jit(getattr(JX, transform)(case.make(JX), argnums=argnums))(*case.args)
    assert_like_jax(ours, theirs)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_vjp_and_jvp_match_jax(case):
    f_cr, f_jx = case.make(CR), case.make(JX)
    out, pullback = cr.vjp(f_cr, *case.args)
    cotangent = _random_like(_leaves_np(out), seed=1)
    tangents = _random_like(case.args, seed=2)

    @jax.jit
    def reference(args, cotangent, tangents):
        j_out, j_pullback = jax.vjp(f_jx, *args)
        return j_out, j_pullback(cotangent), jax.jvp(f_jx, args, tangents)

    j_out, j_cotangents, j_jvp = reference(case.args, cotangent, tangents)
    assert_like_jax(out, j_out)
    assert_like_jax(pullback(cotangent), j_cotangents)
    assert_like_jax(cr.jvp(f_cr, case.args, tangents), j_jvp)


@pytest.mark.parametrize("case", [c for c in CASES if c.scalar], ids=[c.name for c in CASES if c.scalar])
def test_hvp_matches_jvp_of_grad(case):
    tangents = _random_like(case.args, seed=3)
    value, hv = cr.hvp(case.make(CR), case.args, tangents)
    everything = tuple(range(len(case.args)))
    j_hv = jax.jit(lambda args, tangents: jax.jvp(jax.grad(case.make(JX), argnums=everything), args, tangents)[1])(
        case.args, tangents
    )
    assert_like_jax(hv, j_hv[0] if len(case.args) == 1 else j_hv)
    assert_like_jax(value, jax.jit(case.make(JX))(*case.args))


def _with_aux(m):
    def f(x, y):
        loss = (m.tanh(x) * y).sum()
        return loss, {"y2": y * 2.0, "norm2": (x**2).sum()}

    return f


def _vector_with_aux(m):
    return lambda x, y: (m.sin(x) * y, [x.sum(), y])


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacrev", "jacfwd", "hessian"])
@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_has_aux_matches_jax(transform, argnums):
    args = (X3, 0.8)
    makers = [_with_aux] + ([_vector_with_aux] if transform in ("jacrev", "jacfwd", "hessian") else [])
    for make in makers:
        ours = getattr(CR, transform)(make(CR), argnums=argnums, has_aux=True)(*args)
        theirs = jax.jit(getattr(JX, transform)(make(JX), argnums=argnums, has_aux=True))(*args)
        assert_like_jax(ours, theirs, kind=(np.ndarray, float))  # aux from y, not differentiated, stays a float


def test_vjp_and_jvp_with_aux_match_jax():
    """Eager JAX here: a Python number in aux comes back as it is."""
    f = lambda m: lambda x, y: (m.sin(x) * y, [x.sum(), 7])
    args, tangents = (X3, 0.8), (np.array([1.0, -0.5, 0.25]), 2.0)
    out, pullback, aux = cr.vjp(f(CR), *args, has_aux=True)
    j_out, j_pullback, j_aux = jax.vjp(f(JX), *args, has_aux=True)
    assert_like_jax((out, aux), (j_out, j_aux))
    ct = np.array([0.3, 0.2, -1.0])
    assert_like_jax(pullback(ct), j_pullback(jnp.asarray(ct)))
    assert_like_jax(cr.jvp(f(CR), args, tangents, has_aux=True), jax.jvp(f(JX), args, tangents, has_aux=True))


def test_none_in_outputs_and_inputs_is_an_empty_subtree():
    f = lambda x, rest: (x * rest[0], None)
    args = (X3, (2.0, None))
    for name in ("jacrev", "jacfwd"):
        assert_like_jax(
            getattr(CR, name)(f, argnums=(0, 1))(*args), jax.jit(getattr(JX, name)(f, argnums=(0, 1)))(*args)
        )
    g = lambda x, rest: (x * rest[0]).sum()
    assert_like_jax(cr.grad(g, argnums=1)(*args), jax.jit(jax.grad(g, argnums=1))(*args))


def test_tensors_in_tensors_out_and_a_tensor_passed_twice():
    x = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    f = lambda a, b: a * b**2
    # the same Tensor as both arguments: each argument gets its own partial derivative
    assert_like_jax(cr.grad(f, argnums=(0, 1))(x, x), jax.jit(jax.grad(f, argnums=(0, 1)))(3.0, 3.0), kind=cr.Tensor)
    assert_like_jax(
        cr.hessian(f, argnums=(0, 1))(x, x), jax.jit(jax.hessian(f, argnums=(0, 1)))(3.0, 3.0), kind=cr.Tensor
    )
    p = {k: cr.tensor(v, dtype=cr.float64) for k, v in PARAMS.items()}
    g = lambda p, x: cr.tanh(p["w"] @ x + p["b"])
    assert_like_jax(
        cr.jacobian(g)(p, cr.tensor(X3)),
        jax.jit(jax.jacrev(lambda p, x: jnp.tanh(p["w"] @ x + p["b"])))(PARAMS, X3),
        kind=cr.Tensor,
    )
    assert x.grad is None  # transforms never touch .grad


def test_float32_inputs_keep_jax_dtypes():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    f_cr, f_jx = (lambda m: lambda x: (m.tanh(x) * x).sum()), (lambda m: lambda x: m.sin(x) * 2.0)
    for name in ("grad", "hessian"):
        assert_like_jax(getattr(CR, name)(f_cr(CR))(x), jax.jit(getattr(JX, name)(f_cr(JX)))(x), rtol=1e-5, atol=1e-6)
    for name in ("jacrev", "jacfwd"):
        assert_like_jax(getattr(CR, name)(f_jx(CR))(x), jax.jit(getattr(JX, name)(f_jx(JX)))(x), rtol=1e-5, atol=1e-6)


def test_coursework_answers():
    f = lambda x, y: x**3 + 3 * x**2 * y + y**3 + 2 * x
    H = cr.hessian(f, argnums=(0, 1))(1.0, 2.0)
    assert jax.tree_util.tree_map(float, H) == ((18.0, 6.0), (6.0, 12.0))
    assert jax.tree_util.tree_map(float, cr.grad(f, argnums=(0, 1))(1.0, 2.0)) == (17.0, 15.0)


# ----- refusals: where JAX raises, chainrule raises the same class, naming the transform -----


def _scalar(m):
    return lambda x: (x**2).sum()


ERRORS = [
    ("grad of a vector output", lambda m: m.grad(lambda x: x * 2.0)(X3), TypeError, "scalar"),
    ("grad of a shape (1,) output", lambda m: m.grad(lambda x: x * 2.0)(np.ones(1)), TypeError, "scalar"),
    ("grad of a tuple output", lambda m: m.grad(lambda x: (x, x))(1.0), TypeError, "scalar"),
    ("grad of an integer output", lambda m: m.grad(lambda x: 2)(1.0), TypeError, "floating"),
    (
        "jacrev of an integer output",
        lambda m: m.jacrev(lambda x: np.ones(2, dtype=np.int64))(X3),
        TypeError,
        "floating",
    ),
    ("grad wrt an integer", lambda m: m.grad(lambda x: x * 2.0)(3), TypeError, "floating"),
    ("jacfwd wrt an integer", lambda m: m.jacfwd(lambda x: x * 2.0)(np.arange(3)), TypeError, "floating"),
    ("argnums out of range", lambda m: m.grad(lambda x: x * 2.0, argnums=1)(3.0), TypeError, "argnums"),
    (
        "argnums tuple out of range",
        lambda m: m.grad(lambda x, y: x * y, argnums=(0, 2))(3.0, 1.0),
        TypeError,
        "argnums",
    ),
    (
        "jacrev argnums out of range",
        lambda m: m.jacrev(lambda x, y: x * y, argnums=(0, 2))(3.0, 1.0),
        ValueError,
        "argnums",
    ),
    (
        "negative argnums out of range",
        lambda m: m.grad(lambda x, y: x * y, argnums=-3)(3.0, 1.0),
        ValueError,
        "argnums",
    ),
    ("argnums not an int", lambda m: m.grad(lambda x, y: x * y, argnums=1.0)(3.0, 2.0), TypeError, "argnums"),
    ("argnums empty", lambda m: m.grad(lambda x, y: x * y, argnums=())(3.0, 2.0), ValueError, "argnums"),
    ("has_aux without a pair", lambda m: m.grad(lambda x: x * 2.0, has_aux=True)(3.0), TypeError, "has_aux"),
    ("has_aux with a triple", lambda m: m.jacrev(lambda x: (x, 1, 2), has_aux=True)(3.0), TypeError, "has_aux"),
    ("jacfwd has_aux without a pair", lambda m: m.jacfwd(lambda x: x * 2.0, has_aux=True)(X3), TypeError, "has_aux"),
    ("jvp with array primals", lambda m: m.jvp(lambda x: x, X3, X3), TypeError, "tuples or lists"),
    ("jvp structure mismatch", lambda m: m.jvp(lambda x: x, ((1.0, 2.0),), ([1.0, 2.0],)), TypeError, "structure"),
    ("jvp too few tangents", lambda m: m.jvp(lambda x: x, (X3,), ()), TypeError, "structure"),
    ("jvp shape mismatch", lambda m: m.jvp(lambda x: x, (X3,), (np.ones(2),)), ValueError, "shape"),
    ("vjp cotangent shape", lambda m: m.vjp(lambda x: x * 2.0, X3)[1](np.ones(2)), ValueError, "shape"),
    ("vjp cotangent structure", lambda m: m.vjp(lambda x: {"o": x * 2.0}, X3)[1](X3), ValueError, "structure"),
    (
        "np.asarray of a traced value",
        lambda m: m.jacrev(lambda x: np.array([x[0] ** 2, x[1]]))(X3),
        TypeError,
        "np.asarray",
    ),
    ("float() of a traced value", lambda m: m.grad(lambda x: math.exp(x))(1.0), TypeError, "float"),
]


@pytest.mark.parametrize("what, call, error, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_refuses_where_jax_refuses(what, call, error, words):
    with pytest.raises(error):
        call(JX)
    with pytest.raises(error, match=words) as info:
        call(CR)
    message = str(info.value)  # names the transform (or the conversion) first
    assert message.split(":")[0] in {"grad", "jacobian", "jacfwd", "vjp", "jvp"} or message.startswith(
        ("np.asarray()", "float()")
    ), message


def test_duplicate_argnums_refused():
    with pytest.raises(ValueError, match="twice"):
        cr.grad(lambda x, y: x * y, argnums=(0, 0))(3.0, 2.0)


def test_a_transform_in_another_thread_is_not_nested():
    """The nesting depth is per thread: a transform running in one thread leaves another's results plain."""
    import threading

    inside, done = threading.Event(), threading.Event()

    def slow(x):
        inside.set()
        assert done.wait(10)
        return x * 2.0

    worker = threading.Thread(target=lambda: cr.grad(slow)(1.0))
    worker.start()
    try:
        assert inside.wait(10)
        g = cr.grad(lambda x: (x**2).sum())(X3)
    finally:
        done.set()
        worker.join()
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(g, 2 * X3)
