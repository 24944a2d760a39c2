"""Graph semantics (CONTRIBUTING.md, "Engine semantics"): reuse, diamonds, deep chains, accumulation, retain_graph,
no_grad, detach, hooks, retain_grad, in-place detection, higher order, provenance, extension."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function


def f64(values, requires_grad=True, name=None):
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad, name=name)


# ----- structure -----


def test_diamond_sums_both_paths():
    x = f64(3.0)
    a, b = x * 2, x * x
    (a * b).backward()  # d/dx 2x^3 = 6x^2
    assert x.grad.item() == pytest.approx(54.0)


def test_reused_subexpression_counts_every_use():
    x = f64([1.0, 2.0])
    y = x.exp()
    (y + y * y + y).sum().backward()  # d/dx (2e^x + e^2x) = 2e^x + 2e^2x
    np.testing.assert_allclose(x.grad._data, 2 * np.exp([1, 2]) + 2 * np.exp([2, 4]))


def test_chain_of_100000_ops_has_no_recursion_limit():
    x = f64(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_wide_sum_of_10000_inputs():
    xs = [f64(float(i)) for i in range(10_000)]
    total = cr.stack(xs).sum() * 2
    total.backward()
    assert all(x.grad.item() == 2.0 for x in xs[:50]) and xs[-1].grad.item() == 2.0


def test_grad_accumulates_until_reset():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [6.0, 6.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [3.0, 3.0])


def test_leaf_grads_never_share_a_buffer():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    (a + b).sum().backward()
    a.grad._data += 1
    np.testing.assert_array_equal(b.grad._data, [1.0, 1.0])


def test_second_backward_through_freed_graph_says_retain_graph():
    x = f64(2.0)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_another_backward_and_frees_otherwise():
    x = f64(2.0)
    y = x.exp()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * np.exp(2.0))
    assert y.grad_fn.saved is None  # freed after the last backward


def test_saved_arrays_are_released_after_backward():
    x = f64(np.ones(1000))
    y = x.exp()
    saved = weakref.ref(y.grad_fn.out_data)
    z = y.sum()
    del y
    z.backward()
    gc.collect()
    assert saved() is None


def test_backward_on_non_scalar_needs_gradient():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(cr.tensor([1.0, 10.0], dtype=cr.float64))
    np.testing.assert_array_equal(x.grad._data, [2.0, 20.0])


def test_backward_gradient_shape_is_checked():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(np.ones(3))


def test_backward_without_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        cr.tensor([1.0, 2.0]).sum().backward()


def test_backward_inputs_limits_accumulation():
    a, b = f64(1.0), f64(2.0)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


# ----- grad mode, detach -----


def test_no_grad_records_nothing_and_enable_grad_reenables():
    x = f64(1.0)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None


def test_grad_mode_decorators_and_set_grad_enabled():
    x = f64(1.0)

    @cr.no_grad()
    def double(t):
        return t * 2

    assert double(x).grad_fn is None
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()

    @cr.set_grad_enabled(False)
    def triple(t):
        return t * 3

    assert cr.is_grad_enabled()
    assert triple(x).grad_fn is None
    assert cr.is_grad_enabled()


def test_detach_and_requires_grad_false_stop_gradients():
    x = f64(2.0)
    y = (x * x).detach() * x
    y.backward()
    assert x.grad.item() == 4.0
    c = cr.tensor(3.0, dtype=cr.float64)
    (c * x).backward()
    assert c.grad is None


def test_requires_grad_on_integer_tensor_is_refused():
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2, 3], requires_grad=True)


def test_requires_grad_false_on_non_leaf_is_refused():
    y = f64(1.0) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_grad_fn_and_is_leaf():
    x = f64(1.0)
    y = x.exp()
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and repr(y.grad_fn) == "<ExpBackward>"
    assert y.grad_fn.next_functions[0][0].variable is x


# ----- hooks and retain_grad -----


def test_retain_grad_on_intermediate():
    x = f64([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad._data, [6.0, 12.0])
    z = x * 3
    (z * z).sum().backward()
    assert z.grad is None


def test_hooks_see_and_replace_gradients():
    x = f64([1.0, 2.0])
    seen = []
    y = x * 2
    y.register_hook(lambda g: seen.append(g._data.copy()))
    handle = x.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad._data, [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [2.0, 2.0])


def test_hook_on_intermediate_changes_downstream_gradient():
    x = f64(1.0)
    y = x * 2
    y.register_hook(lambda g: g * 0)
    (y * 5).backward()
    assert x.grad.item() == 0.0


# ----- in-place detection -----


def test_modifying_a_saved_tensor_in_place_is_caught():
    x = f64([1.0, 2.0])
    y = x * 1
    z = y.exp() * y  # Mul saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*Mul"):
        z.sum().backward()


def test_in_place_on_leaf_requiring_grad_is_refused_outside_no_grad():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1.0)
    with cr.no_grad():
        x.add_(1.0)
    np.testing.assert_array_equal(x._data, [2.0, 3.0])
    assert x._version == 1


def test_in_place_on_intermediate_is_differentiable():
    x = f64([1.0, 2.0])
    y = x * 2
    y.mul_(3.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [6.0, 6.0])


def test_setitem_records_graph():
    x = f64([1.0, 2.0, 3.0])
    v = f64(5.0)
    y = x * 1
    y[1] = v * 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, [1.0, 0.0, 1.0])
    assert v.grad.item() == 2.0


# ----- higher order -----


def test_create_graph_to_any_depth():
    x = f64(2.0)
    y = x**5
    grads = []
    g = y
    for _ in range(5):
        (g,) = cr.autograd.grad(g, x, create_graph=True)
        grads.append(g.item())
    assert grads == [80.0, 160.0, 240.0, 240.0, 120.0]


def test_first_order_backward_records_nothing():
    x = f64([1.0, 2.0])
    (x.sin() * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_create_graph_backward_makes_differentiable_grad():
    x = f64(3.0)
    (x**3).backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = cr.autograd.grad(x.grad, x)
    assert g2.item() == 18.0


def test_grad_of_a_gradient_taken_without_create_graph_names_the_fix():
    x = f64(2.0)
    (g,) = cr.autograd.grad(x**3, x)  # a constant: the backward pass was not recorded
    with pytest.raises(RuntimeError, match="take it with create_graph=True"):
        cr.autograd.grad(g, x)


def test_autograd_grad_leaves_dot_grad_alone_and_handles_unused():
    x, y = f64(1.0), f64(2.0)
    out = x * 3
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = cr.autograd.grad(out, [x, y], allow_unused=True)
    assert gx.item() == 3.0 and gy is None and x.grad is None


def test_autograd_grad_wrt_intermediate():
    x = f64(2.0)
    h = x * x
    out = h * 3 + h
    (gh,) = cr.autograd.grad(out, h)
    assert gh.item() == 4.0


# ----- provenance -----


def test_nodes_record_op_name_site_and_tensor_name():
    x = f64(1.0, name="x")
    import inspect

    y = x.tanh()
    line = inspect.currentframe().f_lineno - 1  # the site must be the line above, where tanh was called
    y.name = "y"
    assert y.grad_fn.op_name == "Tanh"
    assert y.grad_fn.site == (__file__, line)
    assert y.grad_fn.name == "y"
    assert "name='x'" in repr(x)


def test_wrong_gradient_shape_from_a_rule_names_the_op():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Bad.*shape"):
        Bad.apply(x).sum().backward()


# ----- extension -----


class Cube(Function):
    """y = x^3, dy/dx = 3 x^2, written the PyTorch way."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_user_function_gradcheck_and_gradgradcheck():
    x = cr.randn(4, dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(Cube.apply, (x,))
    assert cr.gradgradcheck(Cube.apply, (x,))
    assert repr(Cube.apply(x).grad_fn) == "<CubeBackward>"


def test_user_function_saved_input_is_version_checked():
    x = f64([1.0, 2.0])
    y = x * 1
    z = Cube.apply(y)
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="in-place"):
        z.sum().backward()


def test_custom_vjp():
    @cr.autograd.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x * 1, None), lambda res, g: (g.clamp(-1, 1),))
    x = f64([1.0, 2.0])
    (clip_gradient(x) * 5).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [1.0, 1.0])

    @cr.autograd.custom_vjp
    def softplus(x):
        return cr.log1p(x.exp())

    softplus.defvjp(lambda x: (cr.log1p(x.exp()), x), lambda x, g: (g * cr.sigmoid(x),))
    z = cr.randn(5, dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(softplus, (z,))
    assert cr.gradgradcheck(softplus, (z,))


def test_anomaly_mode_names_the_op_and_site():
    x = f64([0.0, 1.0])
    with cr.autograd.detect_anomaly():
        y = x.sqrt()
        with pytest.raises(RuntimeError, match=r"backward of Sqrt .*test_engine.py"):
            y.sum().backward()
        with pytest.raises(RuntimeError, match="forward of Log"):
            (x - 1).log()


def test_where_does_not_leak_nan_from_the_branch_not_taken():
    x = f64([-1.0, 4.0])
    safe = cr.where(x > 0, x, 1.0)
    y = cr.where(x > 0, safe.sqrt(), 0.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad._data, [0.0, 0.25])


def test_backward_turns_numpy_warnings_off_for_its_rules_only_and_restores_them():
    """d sqrt(x)/dx at 0 is inf with no RuntimeWarning (as torch); the caller's error settings,
    `under` included, hold inside the rules and are back after the pass, also after an error."""
    import warnings

    seen = []

    def rule_settings(g):
        seen.append(np.geterr())
        return g

    old = np.seterr(under="raise", divide="raise")
    try:
        x = cr.tensor([0.0, 4.0], requires_grad=True)
        y = cr.sqrt(x)
        y.register_hook(rule_settings)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y.sum().backward()
        assert x.grad._data[0] == np.inf
        assert seen == [{"divide": "ignore", "over": "ignore", "under": "raise", "invalid": "ignore"}]
        assert np.geterr()["divide"] == "raise"

        def failing(g):
            raise ValueError("hook failed")

        z = cr.sqrt(cr.tensor([1.0], requires_grad=True))
        z.register_hook(failing)
        with pytest.raises(ValueError, match="hook failed"):
            z.sum().backward()
        assert np.geterr() == {"divide": "raise", "over": "warn", "under": "raise", "invalid": "warn"}
    finally:
        np.seterr(**old)
