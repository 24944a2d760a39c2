"""More of the transforms against JAX (float64), beyond tests/test_transforms_jax.py: argnums spelled as
a negative int, a 1-tuple, an unsorted tuple or a list; aux pytrees mixing tensors and plain values;
None, empty and leafless subtrees, 0-d and empty (0,) / (2, 0) arrays; Jacobians of dict- and
list-valued functions for several argnums (non-square); vjp with a cotangent pytree, called again;
refusals of mismatched tangents and cotangents; higher order (grad of grad, jacfwd of jacrev, hessian
and hvp of two arguments); kinks; and chainrule.nn functional ops and layers under the transforms.
Same structure, shapes, dtypes and values (rtol 1e-10) as JAX, run eagerly (op by op)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from test_transforms_jax import _leaves_np, _random_like, assert_like_jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

X3 = np.array([0.5, -1.0, 2.0])
Y2 = np.array([0.3, 0.7])
RNG = np.random.default_rng(20261201)
Z34 = RNG.standard_normal((3, 4))

TRANSFORMS = {
    "grad": (cr.grad, jax.grad),
    "value_and_grad": (cr.value_and_grad, jax.value_and_grad),
    "jacrev": (cr.jacrev, jax.jacrev),
    "jacfwd": (cr.jacfwd, jax.jacfwd),
    "hessian": (cr.hessian, jax.hessian),
}
JACOBIANS = ["jacrev", "jacfwd", "hessian"]


def _jax_all(functions, *args):
    """Every function of `functions` on args, in one jitted JAX program: one compilation per test costs
    less than compiling each primitive on its first eager call (the chainrule side runs eagerly)."""
    return jax.jit(lambda *a: tuple(f(*a) for f in functions))(*args)


def _ours_all(functions, *args):
    return tuple(f(*args) for f in functions)


def _sin(m):
    return cr.sin if m is cr else jnp.sin


def _tanh(m):
    return cr.tanh if m is cr else jnp.tanh


# ----- argnums spellings, over a function of three pytree arguments -----


def _three_args(m):
    def f(p, s, v):
        return (_tanh(m)(p["w"] @ v + p["b"][0]) ** 2).sum() * s + (_sin(m)(v) * s**2).sum()

    return f


THREE = ({"w": np.arange(6.0).reshape(2, 3) / 5, "b": [np.array([0.1, -0.2])]}, 1.3, X3)
ARGNUMS = [0, 1, 2, -1, -3, (1,), (2, 0), (0, 1, 2), (2, 1, 0), [1, 2], (-1, 0)]


@pytest.mark.parametrize("argnums", ARGNUMS, ids=repr)
def test_argnums_spellings_match_jax(argnums):
    ours = _ours_all([cr_t(_three_args(cr), argnums=argnums) for cr_t, _ in TRANSFORMS.values()], *THREE)
    theirs = _jax_all([jax_t(_three_args(jnp), argnums=argnums) for _, jax_t in TRANSFORMS.values()], *THREE)
    assert_like_jax(ours, theirs)


def test_a_one_tuple_argnums_gives_a_one_tuple():
    g = cr.grad(_three_args(cr), argnums=(2,))(*THREE)
    assert type(g) is tuple and len(g) == 1 and g[0].shape == (3,)
    H = cr.hessian(_three_args(cr), argnums=(1,))(*THREE)
    assert type(H) is tuple and type(H[0]) is tuple and H[0][0].shape == ()


def test_repeated_argnums_are_refused_as_jax_refuses():
    f = lambda x, y: x * y**2
    with pytest.raises(TypeError):
        jax.grad(f, argnums=(1, 1))(3.0, 2.0)
    for transform in ("grad", "jacrev", "jacfwd", "hessian"):
        with pytest.raises(ValueError, match="twice"):
            getattr(cr, transform)(f, argnums=(1, -1))(3.0, 2.0)  # -1 is 1 again


# ----- has_aux with an aux pytree of tensors, numbers and None -----


def _with_aux(m):
    def f(x, y):
        aux = {"t": _tanh(m)(x), "n": 3, "l": [y * 2.0, None, (x[0], 1.5)]}
        return (_sin(m)(x) * y).sum(), aux

    return f


def _vector_with_aux(m):
    return lambda x, y: ({"s": _sin(m)(x) * y, "p": [x[:2] * y]}, (x.sum(), None, [y]))


@pytest.mark.parametrize("argnums", [0, 1, (1, 0)], ids=repr)
def test_has_aux_pytree_matches_jax(argnums):
    """JAX jitted: its aux numbers come back as arrays, chainrule's as they were (3, 1.6) when not computed from
    a differentiated argument; the values are compared."""
    cases = [(cr_t, jax_t, _with_aux) for cr_t, jax_t in TRANSFORMS.values()]
    cases += [(*TRANSFORMS[name], _vector_with_aux) for name in JACOBIANS]
    ours = _ours_all([cr_t(make(cr), argnums=argnums, has_aux=True) for cr_t, _, make in cases], X3, 0.8)
    theirs = _jax_all([jax_t(make(jnp), argnums=argnums, has_aux=True) for _, jax_t, make in cases], X3, 0.8)
    assert_like_jax(ours, theirs, kind=(np.ndarray, float, int))


@pytest.mark.parametrize("which", ["vjp", "jvp"])
def test_vjp_and_jvp_aux_pytree_match_jax(which):
    if which == "vjp":
        out, pullback, aux = cr.vjp(_with_aux(cr), X3, 0.8, has_aux=True)
        j_out, j_pullback, j_aux = jax.vjp(_with_aux(jnp), X3, 0.8, has_aux=True)
        assert_like_jax((out, aux, pullback(np.array(1.5))), (j_out, j_aux, j_pullback(1.5)), kind=(np.ndarray, float))
    else:
        tangents = (np.array([1.0, -0.5, 0.25]), 2.0)
        ours = cr.jvp(_with_aux(cr), (X3, 0.8), tangents, has_aux=True)
        assert_like_jax(ours, jax.jvp(_with_aux(jnp), (X3, 0.8), tangents, has_aux=True), kind=(np.ndarray, float))


# ----- pytrees: None leaves, dicts in unsorted key order, 0-d, Python floats, empty arrays -----


def _pytree_fn(m):
    def f(d, s):
        h = _tanh(m)(d["z"] * s + d["m"][0].sum())
        return {"y": h * d["a"], "b": [d["m"][0] * s, None], "c": (h.sum(),)}

    return f


PYTREE = ({"z": X3, "a": np.array(2.0), "m": [Y2, None]}, 0.6)


@pytest.mark.parametrize("argnums", [0, 1, (1, 0)], ids=repr)
def test_pytree_in_pytree_out_matches_jax(argnums):
    ours = _ours_all([TRANSFORMS[t][0](_pytree_fn(cr), argnums=argnums) for t in JACOBIANS], *PYTREE)
    theirs = _jax_all([TRANSFORMS[t][1](_pytree_fn(jnp), argnums=argnums) for t in JACOBIANS], *PYTREE)
    assert_like_jax(ours, theirs)


def test_dict_results_pair_each_key_with_its_block():
    """Rebuilt in the dict's own key order (JAX sorts them): the key-block pairs must be JAX's."""
    J = cr.jacrev(_pytree_fn(cr))(*PYTREE)
    J_jax = jax.jit(jax.jacrev(_pytree_fn(jnp)))(*PYTREE)
    assert list(J) == ["y", "b", "c"] and list(J["y"]) == ["z", "a", "m"]
    for out_block, jax_block in [(J["y"], J_jax["y"]), (J["c"][0], J_jax["c"][0]), (J["b"][0], J_jax["b"][0])]:
        for key in ("z", "a"):
            np.testing.assert_allclose(out_block[key], jax_block[key], rtol=1e-10, atol=1e-12)
        assert out_block["m"][1] is None


EMPTY_SHAPES = [(0,), (2, 0)]


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
def test_empty_inputs_match_jax(shape):
    scalar = lambda x, y: (x * 2.0).sum() + (y**2).sum()
    vector = lambda x, y: (x * 3.0, y * x.sum())
    cases = [(*TRANSFORMS[t], scalar) for t in TRANSFORMS] + [(*TRANSFORMS[t], vector) for t in JACOBIANS]
    args = (np.ones(shape), Y2)
    ours = _ours_all([cr_t(f, argnums=(0, 1)) for cr_t, _, f in cases], *args)
    assert_like_jax(ours, _jax_all([jax_t(f, argnums=(0, 1)) for _, jax_t, f in cases], *args))


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
def test_empty_vjp_jvp_hvp_match_jax(shape):
    x, t = np.ones(shape), np.full(shape, 2.0)
    f = lambda x: x**3
    g = lambda x: (x**3).sum()
    ours = (cr.vjp(f, x)[1](t), cr.jvp(f, (x,), (t,)), cr.hvp(g, (x,), (t,))[1])
    theirs = jax.jit(lambda x, t: (jax.vjp(f, x)[1](t), jax.jvp(f, (x,), (t,)), jax.jvp(jax.grad(g), (x,), (t,))[1]))
    assert_like_jax(ours, theirs(x, t))


def test_zero_d_and_python_float_arguments_match_jax():
    stack = lambda m: cr.stack if m is cr else jnp.stack
    f = lambda m: lambda x, s: stack(m)([x * s, x**2, (x * s) ** 3])
    g = lambda m: lambda x, s: x * s**3
    args = (np.array(0.7), 1.5)
    ours = _ours_all([TRANSFORMS[t][0](f(cr), argnums=(1, 0)) for t in JACOBIANS], *args)
    ours += _ours_all([cr_t(g(cr), argnums=1) for cr_t, _ in TRANSFORMS.values()], *args)
    theirs = _jax_all([TRANSFORMS[t][1](f(jnp), argnums=(1, 0)) for t in JACOBIANS], *args)
    theirs += _jax_all([jax_t(g(jnp), argnums=1) for _, jax_t in TRANSFORMS.values()], *args)
    assert_like_jax(ours, theirs)


@pytest.mark.parametrize("empty", [None, {"a": None}, [None, ()]], ids=repr)
def test_gradient_with_respect_to_a_leafless_argument_matches_jax(empty):
    """(jax.jacrev and jax.jacfwd fail inside JAX on a leafless argument: not compared.)"""
    f = lambda x, e: (x * 2.0).sum()
    names = [("grad", 1), ("grad", (0, 1)), ("value_and_grad", 1), ("value_and_grad", (0, 1))]
    ours = _ours_all([TRANSFORMS[t][0](f, argnums=a) for t, a in names], X3, empty)
    assert_like_jax(ours, _jax_all([TRANSFORMS[t][1](f, argnums=a) for t, a in names], X3, empty))


def test_none_primals_in_vjp_jvp_hvp_match_jax():
    f = lambda x, e: (x**3).sum()
    ours = (cr.vjp(f, X3, None)[1](1.0), cr.jvp(f, (X3, None), (X3, None)), cr.hvp(f, (X3, None), (X3, None))[1])
    theirs = jax.jit(
        lambda x: (
            jax.vjp(f, x, None)[1](1.0),
            jax.jvp(f, (x, None), (x, None)),
            jax.jvp(jax.grad(f, argnums=(0, 1)), (x, None), (x, None))[1],
        )
    )(X3)
    assert_like_jax(ours, theirs)


# ----- integer arguments and outputs -----


def test_integer_arguments_not_differentiated_and_integer_outputs_match_jax():
    f = lambda x, n, flags: (x * n * flags[0], np.arange(2))
    args = (X3, np.arange(3), (2.0, True))
    for name in ("jacrev", "jacfwd"):
        ours = getattr(cr, name)(lambda *a: f(*a)[0], argnums=0)(*args)
        assert_like_jax(ours, getattr(jax, name)(lambda *a: f(*a)[0], argnums=0)(*args))
    # jacfwd of an integer output: zeros of its dtype, as JAX
    assert_like_jax(cr.jacfwd(lambda x: (x * 2.0).long())(X3), jax.jacfwd(lambda x: (x * 2.0).astype(np.int64))(X3))


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_integer_leaf_in_a_differentiated_pytree_is_refused_as_jax(transform):
    ours, theirs = TRANSFORMS[transform]
    f = lambda p: p[0] * 2.0
    with pytest.raises(TypeError):
        theirs(f)((2.0, 3))
    with pytest.raises(TypeError, match="int64"):
        ours(f)((2.0, 3))


# ----- vjp: a cotangent pytree, and the pullback called again -----


def _vjp_fn(m):
    return lambda x, y: {"b": [_sin(m)(x) * y, None], "a": (x.sum() * y, x[:2] * x[1:])}


def test_vjp_cotangent_pytree_and_repeated_pullbacks_match_jax():
    out, pullback = cr.vjp(_vjp_fn(cr), X3, 0.8)
    j_out = jax.jit(_vjp_fn(jnp))(X3, 0.8)
    j_pullback = jax.jit(lambda ct: jax.vjp(_vjp_fn(jnp), X3, 0.8)[1](ct))
    assert_like_jax(out, j_out)
    cotangents = [_random_like(_leaves_np(out), seed=s) for s in (1, 1, 2, 3)]
    results = [pullback(ct) for ct in cotangents]  # all before comparing: no call disturbs another
    for ct, ours in zip(cotangents, results):
        assert_like_jax(ours, j_pullback(ct))
    for ct in cotangents[:2]:  # and once more after the others, a float32 cotangent cast as documented
        assert_like_jax(pullback(jax.tree_util.tree_map(lambda c: c.astype(np.float32), ct)), j_pullback(ct), rtol=1e-6)


def test_nested_vjp_pullback_twice_is_differentiable():
    def f(m):
        def inner(x):
            vjp = cr.vjp if m is cr else jax.vjp
            _, pb = vjp(lambda z: _tanh(m)(z) * x, x)
            return (pb(x)[0] * pb(x * x)[0]).sum()

        return inner

    assert_like_jax(cr.grad(f(cr))(X3), jax.jit(jax.grad(f(jnp)))(X3))


# ----- refusals: mismatched tangents and cotangents, complex values -----

MISMATCHES = [
    ("jvp tangent (1,) for (3,)", lambda m: m.jvp(lambda x: x * 2.0, (X3,), (np.ones(1),)), ValueError),
    ("jvp tangent (1, 3) for (3,)", lambda m: m.jvp(lambda x: x * 2.0, (X3,), (np.ones((1, 3)),)), ValueError),
    ("jvp tangent () for (3,)", lambda m: m.jvp(lambda x: x * 2.0, (X3,), (1.0,)), ValueError),
    ("jvp tangent in a dict", lambda m: m.jvp(lambda d: d["a"], ({"a": X3},), ({"a": np.ones(2)},)), ValueError),
    ("jvp complex tangent", lambda m: m.jvp(lambda x: x * 2.0, (X3,), (X3 + 1j,)), TypeError),
    ("vjp cotangent (1, 3) for (3,)", lambda m: m.vjp(lambda x: x * 2.0, X3)[1](np.ones((1, 3))), ValueError),
    ("vjp complex cotangent", lambda m: m.vjp(lambda x: x * 2.0, X3)[1](X3 + 1j), ValueError),
    ("vjp cotangent list for tuple", lambda m: m.vjp(lambda x: (x, x), X3)[1]([X3, X3]), ValueError),
    ("grad of a complex output", lambda m: m.grad(lambda x: (x * (1 + 2j)).sum())(X3), TypeError),
    ("jacrev of a complex output", lambda m: m.jacrev(lambda x: x * (1 + 2j))(X3), TypeError),
    ("jacfwd of a complex input", lambda m: m.jacfwd(lambda z: z * 2.0)(X3 + 1j), TypeError),
]


@pytest.mark.parametrize("what, call, jax_error", MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_mismatched_tangents_cotangents_and_complex_values_refused_as_jax(what, call, jax_error):
    with pytest.raises(jax_error):
        call(jax)
    with pytest.raises((TypeError, ValueError), match="shape|structure|complex|imaginary|real"):
        call(cr)


def test_dict_keys_of_mixed_types_never_pair_a_cotangent_with_another_key():
    """Regression: keys that cannot be sorted (1 and "a") were walked in each dict's own order, and two
    dicts with the same keys compared equal, so a cotangent {"a": 10, 1: 100} for the output {1: ..,
    "a": ..} reached the wrong outputs: vjp gave {1: 20, "a": 300} instead of {1: 200, "a": 30}, and jvp
    the same swap. JAX refuses such dicts; chainrule now refuses a different key order."""
    f = lambda d: {1: d[1] * 2.0, "a": d["a"] * 3.0}
    d = {1: np.array(1.0), "a": np.array(2.0)}
    swapped = {"a": np.array(10.0), 1: np.array(100.0)}
    with pytest.raises(ValueError):
        jax.vjp(f, d)
    with pytest.raises(ValueError, match="structure"):
        cr.vjp(f, d)[1](swapped)
    with pytest.raises(TypeError, match="structure"):
        cr.jvp(f, (d,), (swapped,))
    in_order = {1: np.array(100.0), "a": np.array(10.0)}
    (g,) = cr.vjp(f, d)[1](in_order)
    assert float(g[1]) == 200.0 and float(g["a"]) == 30.0
    _, t = cr.jvp(f, (d,), (in_order,))
    assert float(t[1]) == 200.0 and float(t["a"]) == 30.0


COMPLEX_REFUSED = [
    ("grad of abs at 3+4j", lambda: cr.grad(lambda z: z.abs())(np.array(3 + 4j))),
    ("vjp of abs at 3+4j", lambda: cr.vjp(lambda z: z.abs(), np.array(3 + 4j))),
    ("jvp of abs at 3+4j", lambda: cr.jvp(lambda z: z.abs(), (np.array(3 + 4j),), (np.array(1j),))),
    ("hessian of abs at 3+4j", lambda: cr.hessian(lambda z: z.abs())(np.array(3 + 4j))),
    ("hvp with a complex primal", lambda: cr.hvp(lambda z: z.abs(), (np.array(3 + 4j),), (np.array(1j),))),
    ("grad of sum(x (1+2j))", lambda: cr.grad(lambda x: (x * cr.tensor(np.array(1 + 2j))).sum())(X3)),
    ("jacrev of x (1+2j)", lambda: cr.jacrev(lambda x: x * cr.tensor(np.array(1 + 2j)))(X3)),
    ("jvp with a complex tangent", lambda: cr.jvp(cr.sin, (X3,), (X3 + 1j,))),
    ("hvp with a complex tangent", lambda: cr.hvp(lambda x: (x**3).sum(), (X3,), (X3 + 1j,))),
    ("vjp with a complex cotangent", lambda: cr.vjp(cr.sin, X3)[1](X3 + 1j)),
]


@pytest.mark.parametrize("what, call", COMPLEX_REFUSED, ids=[c[0] for c in COMPLEX_REFUSED])
def test_complex_differentiation_is_refused_not_answered_wrong(what, call):
    """Regression. Before: grad of |z| at 3+4j gave 0.6+0.8j (JAX: 0.6-0.8j), the jvp of |z| along 1j gave
    the complex tangent -0.8+0.6j for a real output (JAX: 0.8), the Hessian of |z| was 0; a real-input,
    complex-output grad or jacrev kept only the real part; complex tangents and cotangents lost their
    imaginary part in a cast. Each now raises a TypeError naming the complex dtype."""
    with pytest.raises(TypeError, match="complex"):
        call()


@pytest.mark.filterwarnings("ignore:Casting complex values to real")  # the vjp's real part, as JAX's
def test_real_input_complex_output_forward_mode_and_vjp_still_match_jax():
    c = np.array(1 + 2j)
    f = lambda m: (lambda x: cr.exp(x * cr.tensor(c))) if m is cr else (lambda x: jnp.exp(x * c))
    t, ct = np.ones(2), np.array([1 + 1j, 2 - 1j])
    ours = (cr.jacfwd(f(cr))(Y2), cr.jvp(f(cr), (Y2,), (t,)), cr.vjp(f(cr), Y2)[1](ct))
    theirs = jax.jit(lambda x: (jax.jacfwd(f(jnp))(x), jax.jvp(f(jnp), (x,), (t,)), jax.vjp(f(jnp), x)[1](ct)))
    assert_like_jax(ours, theirs(Y2))


# ----- higher order -----


def _two(m):
    return lambda x, y: (_sin(m)(x) ** 2).sum() * (y**3).sum() + (x[:2] * y).sum() ** 2


COMPOSITIONS = {
    "hessian": (lambda f, a: cr.hessian(f, argnums=a), lambda f, a: jax.hessian(f, argnums=a)),
    "jacfwd(jacrev)": (
        lambda f, a: cr.jacfwd(cr.jacrev(f, argnums=a), argnums=a),
        lambda f, a: jax.jacfwd(jax.jacrev(f, argnums=a), argnums=a),
    ),
    "jacrev(jacfwd)": (
        lambda f, a: cr.jacrev(cr.jacfwd(f, argnums=a), argnums=a),
        lambda f, a: jax.jacrev(jax.jacfwd(f, argnums=a), argnums=a),
    ),
    "jacfwd(jacfwd)": (
        lambda f, a: cr.jacfwd(cr.jacfwd(f, argnums=a), argnums=a),
        lambda f, a: jax.jacfwd(jax.jacfwd(f, argnums=a), argnums=a),
    ),
}


@pytest.mark.parametrize("argnums", [1, (0, 1), (1, 0)], ids=repr)
def test_second_derivatives_of_two_arguments_match_jax(argnums):
    """hessian, jacfwd(jacrev), jacrev(jacfwd), jacfwd(jacfwd), in that order."""
    ours = _ours_all([cr_c(_two(cr), argnums) for cr_c, _ in COMPOSITIONS.values()], X3, Y2)
    assert_like_jax(ours, _jax_all([jax_c(_two(jnp), argnums) for _, jax_c in COMPOSITIONS.values()], X3, Y2))


def test_third_derivatives_match_jax():
    f = lambda m: lambda x: _sin(m)(x) * x**3
    g = lambda m: lambda x: (_sin(m)(x) * x.prod()).sum()
    ours = (cr.grad(cr.grad(cr.grad(f(cr))))(0.7), cr.jacfwd(cr.hessian(g(cr)))(X3))
    theirs = jax.jit(lambda s, x: (jax.grad(jax.grad(jax.grad(f(jnp))))(s), jax.jacfwd(jax.hessian(g(jnp)))(x)))
    assert_like_jax(ours, theirs(0.7, X3))


def test_reverse_over_forward_and_reverse_over_vjp_match_jax():
    def over_jacfwd(m):
        jacfwd = cr.jacfwd if m is cr else jax.jacfwd
        return lambda x: jacfwd(lambda z: _tanh(m)(z) * z.sum())(x).sum()

    v = np.array([0.2, -1.0, 0.5])
    over_jvp = lambda x: cr.jvp(lambda z: (cr.sin(z) * z).sum(), (x,), (v,))[1]
    j_over_jvp = lambda x: jax.jvp(lambda z: (jnp.sin(z) * z).sum(), (x,), (v,))[1]
    ours = (cr.grad(over_jacfwd(cr))(X3), cr.grad(over_jvp)(X3))
    assert_like_jax(ours, _jax_all([jax.grad(over_jacfwd(jnp)), jax.grad(j_over_jvp)], X3))


HVP_CASES = {
    "two arguments": (_two, (X3, Y2)),
    "partly linear": (lambda m: lambda x, y: (x * 2.0).sum() + (y**3).sum(), (X3, Y2)),
    "pytree": (
        lambda m: lambda p: (_tanh(m)(p["w"] @ X3 + p["b"][0]) ** 2).sum() * p["b"][1],
        ({"w": np.arange(6.0).reshape(2, 3) / 4, "b": [np.array([0.1, -0.2]), 0.5]},),
    ),
    "float argument": (lambda m: lambda s, x: (_sin(m)(x * s) * s).sum(), (0.9, X3)),
}


@pytest.mark.parametrize("case", list(HVP_CASES))
def test_hvp_matches_forward_over_reverse(case):
    make, primals = HVP_CASES[case]
    tangents = _random_like(primals, seed=7)
    value, hv = cr.hvp(make(cr), primals, tangents)
    everything = tuple(range(len(primals)))
    j_value, j_hv = jax.jit(lambda p, t: (make(jnp)(*p), jax.jvp(jax.grad(make(jnp), argnums=everything), p, t)[1]))(
        primals, tangents
    )
    assert_like_jax(hv, j_hv[0] if len(primals) == 1 else j_hv)
    assert_like_jax(value, j_value)
    # and forward over reverse in chainrule itself: jvp of grad
    assert_like_jax(cr.jvp(cr.grad(make(cr), argnums=everything), primals, tangents)[1], j_hv)


# ----- kinks: where JAX and PyTorch agree, chainrule gives that; where they differ, PyTorch's -----

KINK_POINTS = np.array([0.0, -0.0, 1.0, -1.0, 2.0])
TIES = np.array([0.0, 1.0, 1.0, -2.0, 2.0])

KINKS_AS_JAX = {
    "relu": (F.relu, jax.nn.relu),
    "where": (lambda x: cr.where(x > 0, x, x * 3.0), lambda x: jnp.where(x > 0, x, x * 3.0)),
    "maximum tie": (lambda x: cr.maximum(x, cr.tensor(TIES)), lambda x: jnp.maximum(x, TIES)),
    "minimum tie": (lambda x: cr.minimum(x, cr.tensor(TIES)), lambda x: jnp.minimum(x, TIES)),
    "max and min reductions with ties": (
        lambda x: cr.stack([cr.cat([x, x[2:3]]).max(), x.min()]),
        lambda x: jnp.stack([jnp.concatenate([x, x[2:3]]).max(), x.min()]),
    ),
    "sign": (lambda x: x.sign() * x, lambda x: jnp.sign(x) * x),
}


def _kink_transforms(f, m):
    sq = lambda x: (f(x) ** 2).sum()
    return [m.jacrev(f), m.jacfwd(f), m.hessian(sq)]


def test_kinks_where_jax_and_torch_agree_match_jax():
    """jacrev, jacfwd and the Hessian of the sum of squares at the kinks, every op in one JAX program."""
    ours = {name: _ours_all(_kink_transforms(f, cr), KINK_POINTS) for name, (f, _) in KINKS_AS_JAX.items()}
    theirs = jax.jit(
        lambda x: {name: tuple(t(x) for t in _kink_transforms(f, jax)) for name, (_, f) in KINKS_AS_JAX.items()}
    )
    theirs = theirs(KINK_POINTS)
    for name in KINKS_AS_JAX:
        try:
            assert_like_jax(ours[name], theirs[name])
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


# (op, chainrule's derivative at each point of KINK_POINTS = PyTorch's, JAX's): docs/compat/kinks-threads.md
KINKS_AS_TORCH = {
    "abs": (lambda x: x.abs(), jnp.abs, [0.0, 0.0, 1.0, -1.0, 1.0]),
    "leaky_relu(0.2)": (
        lambda x: F.leaky_relu(x, 0.2),
        lambda x: jax.nn.leaky_relu(x, 0.2),
        [0.2, 0.2, 1.0, 0.2, 1.0],
    ),
    "clamp(-1, 1)": (lambda x: x.clamp(-1.0, 1.0), lambda x: jnp.clip(x, -1.0, 1.0), [1.0, 1.0, 1.0, 1.0, 0.0]),
}


@pytest.mark.parametrize("name", list(KINKS_AS_TORCH))
def test_kinks_where_jax_and_torch_differ_follow_torch(name):
    ours, theirs, torch_derivative = KINKS_AS_TORCH[name]
    for transform in (cr.jacrev, cr.jacfwd):
        np.testing.assert_array_equal(np.diag(transform(ours)(KINK_POINTS)), torch_derivative)
    jax_derivative = np.diag(jax.jit(jax.jacrev(theirs))(KINK_POINTS))
    away = np.abs(np.abs(KINK_POINTS) - 1.0 * (name == "clamp(-1, 1)")) > 0  # off the kink: all agree
    np.testing.assert_array_equal(np.asarray(torch_derivative)[away], jax_derivative[away])


# ----- chainrule.nn functional ops and layers, against jax.nn and hand-written jax.numpy -----

T3 = np.array([1, 0, 3])
GAMMA, BETA = RNG.standard_normal(4), RNG.standard_normal(4)


def _jax_layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps) * g + b


def _jax_cross_entropy(z, t, smoothing=0.0):
    onehot = jax.nn.one_hot(t, z.shape[-1]) * (1 - smoothing) + smoothing / z.shape[-1]
    return -(onehot * jax.nn.log_softmax(z, axis=-1)).sum(-1).mean()


NN_OPS = {
    "softmax(dim=1)": (lambda z: cr.softmax(z, dim=1), lambda z: jax.nn.softmax(z, axis=1)),
    "softmax(dim=0)": (lambda z: cr.softmax(z, dim=0), lambda z: jax.nn.softmax(z, axis=0)),
    "log_softmax": (lambda z: cr.log_softmax(z, dim=-1), lambda z: jax.nn.log_softmax(z, axis=-1)),
    "logsumexp": (lambda z: cr.logsumexp(z, dim=1), lambda z: jax.scipy.special.logsumexp(z, axis=1)),
    "logsumexp keepdim": (
        lambda z: cr.logsumexp(z, dim=(0, 1), keepdim=True),
        lambda z: jax.scipy.special.logsumexp(z, axis=(0, 1), keepdims=True),
    ),
    "layer_norm": (
        lambda z: F.layer_norm(z, (4,), cr.tensor(GAMMA), cr.tensor(BETA)),
        lambda z: _jax_layer_norm(z, GAMMA, BETA),
    ),
    "layer_norm no affine": (lambda z: F.layer_norm(z, 4), lambda z: _jax_layer_norm(z, 1.0, 0.0)),
    "cross_entropy": (lambda z: F.cross_entropy(z, cr.tensor(T3)), lambda z: _jax_cross_entropy(z, T3)),
    "cross_entropy label_smoothing": (
        lambda z: F.cross_entropy(z, cr.tensor(T3), label_smoothing=0.1),
        lambda z: _jax_cross_entropy(z, T3, 0.1),
    ),
    "gelu": (F.gelu, lambda z: jax.nn.gelu(z, approximate=False)),
    "silu": (F.silu, jax.nn.silu),
    "softplus": (F.softplus, jax.nn.softplus),
    "binary_cross_entropy_with_logits": (
        lambda z: F.binary_cross_entropy_with_logits(z, cr.tensor((Z34 > 0) * 1.0)),
        lambda z: jnp.mean(jnp.maximum(z, 0) - z * (Z34 > 0) + jnp.log1p(jnp.exp(-jnp.abs(z)))),
    ),
}


@pytest.mark.parametrize("name", list(NN_OPS))
def test_nn_functional_ops_under_transforms_match_jax(name):
    ours, theirs = NN_OPS[name]
    t = Z34[::-1] * 0.5
    mine = _ours_all([TRANSFORMS[tr][0](ours) for tr in JACOBIANS] + [lambda z: cr.jvp(ours, (z,), (t,))], Z34)
    jaxs = _jax_all([TRANSFORMS[tr][1](theirs) for tr in JACOBIANS] + [lambda z: jax.jvp(theirs, (z,), (t,))], Z34)
    assert_like_jax(mine, jaxs)


def test_layer_norm_derivatives_in_its_parameters_match_jax():
    ln = lambda x, g, b: F.layer_norm(x, (4,), g, b)
    cube = lambda f: lambda x, g, b: (f(x, g, b) ** 3).sum()
    args = (Z34, GAMMA, BETA)
    ours = _ours_all([cr.jacrev(ln, argnums=(0, 1, 2)), cr.hessian(cube(ln), argnums=(1, 0))], *args)
    theirs = _jax_all(
        [jax.jacrev(_jax_layer_norm, argnums=(0, 1, 2)), jax.hessian(cube(_jax_layer_norm), argnums=(1, 0))], *args
    )
    assert_like_jax(ours, theirs)


CONV = [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": 2}]


@pytest.mark.parametrize("kw", CONV, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "plain")
def test_conv1d_jacobians_in_every_argument_match_jax(kw):
    x, w, b = RNG.standard_normal((2, 3, 6)), RNG.standard_normal((2, 3, 3)), RNG.standard_normal(2)

    def conv_jax(x, w, b):
        pad = kw.get("padding", 0)
        out = jax.lax.conv_general_dilated(
            x,
            w,
            (kw.get("stride", 1),),
            [(pad, pad)],
            rhs_dilation=(kw.get("dilation", 1),),
            dimension_numbers=("NCH", "OIH", "NCH"),
        )
        return out + b[None, :, None]

    conv = lambda x, w, b: F.conv1d(x, w, b, **kw)
    sq = lambda f: lambda x, w, b: (f(x, w, b) ** 2).sum()
    transforms = lambda m, f: [m.jacrev(f, argnums=(0, 1, 2)), m.jacfwd(f, argnums=(0, 1, 2)), m.hessian(sq(f), (1, 2))]
    assert_like_jax(_ours_all(transforms(cr, conv), x, w, b), _jax_all(transforms(jax, conv_jax), x, w, b))


def test_a_linear_layer_under_transforms_matches_jax_and_keeps_its_grad():
    layer = cr.nn.Linear(3, 2).double()
    W, b = layer.weight._data.copy(), layer.bias._data.copy()
    ours = lambda x: cr.tanh(layer(x))
    theirs = lambda x: jnp.tanh(x @ W.T + b)
    sq = lambda f: lambda x: (f(x) ** 2).sum()
    both = lambda m, f: lambda x: (m.jacrev(f)(x), m.hessian(sq(f))(x[0]))
    assert_like_jax(both(cr, ours)(Z34[:, :3]), jax.jit(both(jax, theirs))(Z34[:, :3]))
    assert layer.weight.grad is None and layer.bias.grad is None  # transforms never touch .grad
