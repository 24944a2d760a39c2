"""Transforms (CONTRIBUTING.md, "Transforms, layers, optimizers"): grad, value_and_grad, vjp, jvp,
jacobian/jacfwd, hessian, hvp against closed forms and finite differences; argnums, has_aux, pytrees, nesting,
kinds in and out."""

import numpy as np
import pytest

import chainrule as cr


def test_grad_of_polynomial_and_a_pow_x():
    f = lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10
    assert cr.grad(f)(1.0) == pytest.approx(-14.0)
    a = 3.0
    x = 1.7
    assert cr.grad(lambda x: a**x)(x) == pytest.approx(a**x * np.log(a))


def test_gradient_at_a_point_with_argnums():
    f = lambda x, y: x**3 + 3 * x**2 * y + y**3 + 2 * x
    gx, gy = cr.grad(f, argnums=(0, 1))(1.0, 2.0)
    assert (float(gx), float(gy)) == (17.0, 15.0)
    assert float(cr.grad(f, argnums=1)(1.0, 2.0)) == 15.0
    value, (gx, gy) = cr.value_and_grad(f, argnums=(0, 1))(1.0, 2.0)
    assert float(value) == 1 + 6 + 8 + 2


def test_arrays_in_arrays_out_tensors_in_tensors_out():
    g = cr.grad(lambda x: (x * x).sum())
    out = g(np.array([1.0, 2.0]))
    assert isinstance(out, np.ndarray) and np.array_equal(out, [2.0, 4.0])
    t = cr.tensor([1.0, 2.0], dtype=cr.float64)
    out_t = g(t)
    assert isinstance(out_t, cr.Tensor) and np.array_equal(out_t._data, [2.0, 4.0])
    assert t.grad is None  # transforms never touch .grad


def test_pytrees_of_parameters():
    params = {"w": np.array([1.0, 2.0]), "b": (np.array(0.5),)}
    loss = lambda p, x: ((p["w"] * x).sum() + p["b"][0]) ** 2
    grads = cr.grad(loss)(params, np.array([3.0, 4.0]))
    s = 3 + 8 + 0.5
    np.testing.assert_allclose(grads["w"], 2 * s * np.array([3.0, 4.0]))
    np.testing.assert_allclose(grads["b"][0], 2 * s)
    assert isinstance(grads["b"], tuple)


def test_has_aux():
    f = lambda x: ((x**2).sum(), {"norm": x.norm()})
    g, aux = cr.grad(f, has_aux=True)(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [6.0, 8.0])
    assert isinstance(aux["norm"], np.ndarray) and float(aux["norm"]) == 5.0  # arrays in, arrays out (JAX)


def test_grad_requires_scalar_output():
    with pytest.raises(TypeError, match="scalar"):
        cr.grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_grad_rejects_integer_input():
    with pytest.raises(TypeError, match="floating"):
        cr.grad(lambda x: x * 2.0)(3)


def test_nested_grad_and_perturbation_confusion():
    # d/dx [x * d/dy (x y)] = d/dx x^2 = 2x
    f = lambda x: x * cr.grad(lambda y: x * y)(1.0)
    assert float(cr.grad(f)(3.0)) == 6.0
    third = cr.grad(cr.grad(cr.grad(lambda x: x**4)))
    assert float(third(2.0)) == 48.0


def test_sigmoid_and_tanh_derivative_identities():
    xs = np.linspace(-4, 4, 9)
    for x in xs:
        s = 1 / (1 + np.exp(-x))
        assert float(cr.grad(cr.sigmoid)(x)) == pytest.approx(s * (1 - s), rel=1e-12)
        assert float(cr.grad(cr.tanh)(x)) == pytest.approx(1 - np.tanh(x) ** 2, rel=1e-12)


def test_jacobian_of_softmax_is_diag_p_minus_ppT():
    z = np.array([1.0, 2.0, 3.0, -1.0, -4.0, 0.0])
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    expected = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(cr.jacobian(lambda z: cr.softmax(z, dim=0))(z), expected, atol=1e-15)
    np.testing.assert_allclose(cr.jacfwd(lambda z: cr.softmax(z, dim=0))(z), expected, atol=1e-15)


def test_jacobian_shapes_and_argnums():
    A = np.arange(6.0).reshape(2, 3)
    f = lambda W, x: W @ x
    JW, Jx = cr.jacobian(f, argnums=(0, 1))(A, np.ones(3))
    assert JW.shape == (2, 2, 3) and Jx.shape == (2, 3)
    np.testing.assert_allclose(Jx, A)
    np.testing.assert_allclose(cr.jacfwd(f, argnums=1)(A, np.ones(3)), A)


def test_jacobian_rows_are_vjps_with_basis_vectors():
    f = lambda x: cr.tanh(x) * x.sum()
    x = np.array([0.3, -0.7, 1.1])
    J = cr.jacobian(f)(x)
    _, pullback = cr.vjp(f, x)
    for i in range(3):
        e = np.eye(3)[i]
        np.testing.assert_allclose(pullback(e)[0], J[i], rtol=1e-12)


def test_hessian_of_quadratic_is_A_plus_AT():
    A = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0], [4.0, 0.0, 1.0]])
    H = cr.hessian(lambda x: x @ (A @ x))(np.array([0.5, -1.0, 2.0]))
    np.testing.assert_array_equal(H, A + A.T)


def test_hessian_is_symmetric_and_matches_finite_differences_of_grad():
    f = lambda x: (cr.sin(x) * x.exp()).sum() + (x[0] * x[1] * x[2]) ** 2
    x = np.array([0.3, -0.5, 0.8])
    H = cr.hessian(f)(x)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    g = cr.grad(f)
    eps = 1e-6
    fd = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(H, fd, atol=1e-5)


def test_hessian_of_logistic_loss_closed_form():
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2]])
    y = np.array([1.0, 0.0, 1.0])
    loss = lambda w: cr.ops.nn.binary_cross_entropy_with_logits(cr.tensor(X) @ w, cr.tensor(y), reduction="sum")
    w = np.array([0.2, -0.4])
    p = 1 / (1 + np.exp(-X @ w))
    np.testing.assert_allclose(cr.grad(loss)(w), X.T @ (p - y), rtol=1e-12)
    np.testing.assert_allclose(cr.hessian(loss)(w), X.T @ np.diag(p * (1 - p)) @ X, rtol=1e-12)


def test_vjp_and_jvp_agree_with_jacobian():
    f = lambda x: cr.stack([x[0] * x[1], x[1].sin(), x[0] ** 3])
    x = np.array([0.4, 1.3])
    J = cr.jacobian(f)(x)
    out, tangent = cr.jvp(f, (x,), (np.array([1.0, -2.0]),))
    np.testing.assert_allclose(tangent, J @ np.array([1.0, -2.0]), rtol=1e-12)
    assert isinstance(out, np.ndarray)
    _, pullback = cr.vjp(f, x)
    np.testing.assert_allclose(pullback(np.array([1.0, 2.0, 3.0]))[0], np.array([1.0, 2.0, 3.0]) @ J, rtol=1e-12)


def test_jvp_of_sin():
    out, t = cr.jvp(cr.sin, (np.array(0.5),), (np.array(1.0),))
    assert float(out) == pytest.approx(np.sin(0.5)) and float(t) == pytest.approx(np.cos(0.5))


def test_hvp_matches_hessian_times_vector():
    f = lambda x: (x**3).sum() + (x[0] * x[1]) ** 2
    x, v = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    value, hv = cr.hvp(f, (x,), (v,))
    np.testing.assert_allclose(hv, cr.hessian(f)(x) @ v, rtol=1e-12)
    assert float(value) == pytest.approx(1 + 8 + 4)


def test_grad_of_sum_of_functions_is_sum_of_grads():
    x = np.array([0.3, -1.2, 2.0])
    f = lambda x: (x.sin() * x).sum()
    g = lambda x: (x**2).exp().sum()
    np.testing.assert_allclose(cr.grad(lambda x: f(x) + g(x))(x), cr.grad(f)(x) + cr.grad(g)(x), rtol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda x: 3.5 * f(x))(x), 3.5 * cr.grad(f)(x), rtol=1e-12)


def test_forward_mode_nests_with_itself_and_with_reverse_mode():
    f = lambda x: (x**3).sum() + x[0] * x[1].sin()
    x = np.array([1.0, 2.0])
    H = cr.hessian(f)(x)
    np.testing.assert_allclose(cr.jacfwd(cr.jacfwd(f))(x), H, rtol=1e-12)  # forward over forward
    np.testing.assert_allclose(cr.jacfwd(cr.grad(f))(x), H, rtol=1e-12)  # forward over reverse
    v = np.array([0.5, -1.0])
    reverse_over_forward = cr.grad(lambda x: cr.jvp(f, (x,), (v,))[1])(x)
    np.testing.assert_allclose(reverse_over_forward, H @ v, rtol=1e-12)


def test_jvp_uses_no_reverse_pass():
    """Forward mode is a forward sweep: no node's backward rule runs for ops with jvp rules."""
    ran = []
    cr.autograd.engine.add_observer(lambda node, g, gi: ran.append(node))
    try:
        cr.jvp(lambda x: (x * 2.0).exp().sum(), (np.array([0.1, 0.2]),), (np.array([1.0, 0.0]),))
    finally:
        cr.autograd.engine._observers.clear()
    assert ran == []


def test_jvp_through_a_user_function_uses_its_transposed_vjp():
    from test_engine import Cube

    x, t = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    _, tangent = cr.jvp(Cube.apply, (x,), (t,))
    np.testing.assert_allclose(tangent, 3 * x * x * t)
