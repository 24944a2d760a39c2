"""The autograd engine's user-visible semantics against PyTorch (float64): `.grad` accumulation,
retain_grad and tensor hooks across in-place ops, `backward(inputs=...)` with intermediates,
`autograd.grad`'s grad_outputs pairing and materialize_grads, `requires_grad` assignment, grad
mode decorators on generators, refusals of in-place changes to saved tensors, and gradient dtypes.

Each program runs unchanged with `m` = chainrule or torch; the test compares what it returns
(values, dtypes, None versus a tensor, flags) and whether both raised.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _t(m, values, requires_grad=False, dtype=np.float64):
    return m.tensor(np.array(values, dtype=dtype), requires_grad=requires_grad)


def _plain(value):
    """What a user sees: arrays with their dtype names, None, flags, nested in lists."""
    if isinstance(value, (torch.Tensor, cr.Tensor)):
        array = value.detach().numpy()
        return ("tensor", str(array.dtype), np.array(array))
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _run(program, m):
    try:
        return _plain(program(m)), None
    except Exception as e:  # noqa: BLE001 - any refusal counts; both sides must refuse
        return None, e


def _assert_equal(c, t, where="result"):
    if isinstance(t, list):
        assert isinstance(c, list) and len(c) == len(t), f"{where}: chainrule {c!r}, torch {t!r}"
        for i, (a, b) in enumerate(zip(c, t)):
            _assert_equal(a, b, f"{where}[{i}]")
    elif isinstance(t, tuple) and t[0] == "tensor":
        assert isinstance(c, tuple) and c[0] == "tensor", f"{where}: chainrule {c!r}, torch a tensor"
        assert c[1] == t[1], f"{where}: dtype {c[1]} vs torch {t[1]}"
        np.testing.assert_allclose(c[2], t[2], rtol=1e-12, atol=1e-12, err_msg=where)
    else:
        assert c == t, f"{where}: chainrule {c!r}, torch {t!r}"


def same_as_torch(program):
    """Run program(m) with chainrule and torch: both raise, or both return the same thing."""
    (c_out, c_err), (t_out, t_err) = _run(program, cr), _run(program, torch)
    assert (c_err is None) == (t_err is None), f"chainrule: {c_err!r}, torch: {t_err!r}"
    if t_err is None:
        _assert_equal(c_out, t_out)
    return c_err


# ----- retain_grad and hooks when the tensor is changed in place -----


def test_retained_grad_is_the_gradient_of_the_value_after_an_inplace_op():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 2
        y.retain_grad()
        y.mul_(3)
        (y * y).sum().backward()
        return y.grad, x.grad

    same_as_torch(program)


def test_retained_grad_after_an_inplace_op_through_a_view():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 1
        y.retain_grad()
        y[0].mul_(3)
        (y * y).sum().backward()
        return y.grad, x.grad

    same_as_torch(program)


@pytest.mark.parametrize("through_view", [False, True])
def test_hooks_before_an_inplace_op_see_the_old_value_once_hooks_after_see_the_new(through_view):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 2
        log = []
        y.register_hook(lambda g: log.append(("before", g.numpy().tolist())))
        if through_view:
            y[1:].mul_(3)
        else:
            y.mul_(3)
        y.register_hook(lambda g: log.append(("after", g.numpy().tolist())))
        (y * y).sum().backward()
        return x.grad, log

    same_as_torch(program)


def test_a_replacing_hook_before_an_inplace_op_applies_once():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 2
        y.register_hook(lambda g: g * 10)
        y.mul_(3)
        (y * y).sum().backward()
        return x.grad

    same_as_torch(program)


def test_a_hook_registered_before_an_inplace_op_can_still_be_removed():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 2
        handle = y.register_hook(lambda g: g * 10)
        y.mul_(3)
        handle.remove()
        (y * y).sum().backward()
        return x.grad

    same_as_torch(program)


def test_hooks_and_retain_grad_on_a_tensor_changed_twice_in_place():
    def program(m):
        x = _t(m, [1.0, -2.0], True)
        y = x * 1
        log = []
        y.register_hook(lambda g: log.append(g.numpy().tolist()))
        y.add_(1)
        y.retain_grad()
        y.register_hook(lambda g: log.append(g.numpy().tolist()) or g * 2)
        y.mul_(y.detach())
        (y * x).sum().backward()
        return x.grad, y.grad, log

    same_as_torch(program)


@pytest.mark.parametrize("case", ["view_then_base", "other_view", "base_then_view", "setitem"])
def test_hooks_and_retained_grads_around_views_changed_in_place(case):
    def program(m):
        x = _t(m, [[1.0, 2.0], [3.0, 4.0]], True)
        b = x * 1
        before, after = [], []
        watched = b if case in ("base_then_view", "setitem") else b[1] if case == "view_then_base" else b[0]
        watched.retain_grad()
        watched.register_hook(lambda g: before.append(g.numpy().tolist()) or g * 3)
        if case == "view_then_base":
            b.mul_(2)
        elif case in ("other_view", "base_then_view"):
            b[1].mul_(2)
        else:
            b[0, 1] = 5.0
        watched.register_hook(lambda g: after.append(g.numpy().tolist()))
        (watched * watched).sum().backward()
        # torch never calls a hook registered on a view after its base changed (docs/compat/hunt.md)
        return x.grad, watched.grad, before, after if watched is b else []

    same_as_torch(program)


def test_hook_order_with_retain_grad_and_replacement():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = x * 2
        log = []
        y.register_hook(lambda g: log.append(("a", g.numpy().tolist())) or g * 2)
        y.retain_grad()
        y.register_hook(lambda g: log.append(("b", g.numpy().tolist())) or g + 1)
        (y * y).sum().backward()
        return x.grad, y.grad, log

    same_as_torch(program)


# ----- backward(inputs=...) -----


@pytest.mark.parametrize("retain", [False, True])
def test_backward_inputs_may_name_an_intermediate(retain):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        h = x * 2
        if retain:
            h.retain_grad()
        (h * h).sum().backward(inputs=[h])
        return h.grad, x.grad

    same_as_torch(program)


def test_backward_inputs_intermediate_accumulates_and_sees_its_hooks():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        w = _t(m, [3.0, 4.0], True)
        h = x * w
        h.register_hook(lambda g: g * 10)
        y = (h * h).sum()
        y.backward(inputs=[h, w], retain_graph=True)
        y.backward(inputs=h)
        return h.grad, w.grad, x.grad

    same_as_torch(program)


@pytest.mark.parametrize("inputs", ["empty", "no_grad"])
def test_backward_inputs_refusals(inputs):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        other = [] if inputs == "empty" else [_t(m, [1.0, 1.0])]
        (x * x).sum().backward(inputs=other)
        return x.grad

    err = same_as_torch(program)
    assert "inputs" in str(err)


# ----- autograd.grad and backward: vectors of the product, materialize_grads -----


@pytest.mark.parametrize("api", ["grad", "backward"])
@pytest.mark.parametrize("vectors", ["fewer", "one_for_two", "more"])
def test_vectors_must_cover_every_output(api, vectors):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        outs = [x * x, x * 2]
        v = _t(m, [1.0, 2.0])
        given = {"fewer": [v], "one_for_two": v, "more": [v, v, v]}[vectors]
        if api == "grad":
            return m.autograd.grad(outs, x, grad_outputs=given)
        m.autograd.backward(outs, given)
        return x.grad

    err = same_as_torch(program)
    if err is not None:
        assert "2 tensors and 1 gradients" in str(err)


@pytest.mark.parametrize("allow_unused", [None, True, False])
def test_materialize_grads_gives_zeros_for_unused_inputs(allow_unused):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        w = _t(m, [[1.0], [2.0]], True, dtype=np.float32)
        kwargs = {} if allow_unused is None else {"allow_unused": allow_unused}
        return m.autograd.grad((x * x).sum(), [x, w], materialize_grads=True, **kwargs)

    same_as_torch(program)


@pytest.mark.parametrize(
    "case",
    ["allow_unused", "unused", "list_outputs", "mixed_none", "intermediate", "twice", "twice_retained", "self"],
)
def test_autograd_grad_structure(case):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        w = _t(m, [1.0, 2.0], True)
        grad = m.autograd.grad
        if case == "allow_unused":
            return grad((x * x).sum(), [x, w], allow_unused=True)
        if case == "unused":
            return grad((x * x).sum(), [x, w])
        if case == "list_outputs":
            return grad([(x * x).sum(), (x * 3).sum()], x)
        if case == "mixed_none":
            return grad([x * w, (x * 3).sum()], [x, w], grad_outputs=[_t(m, [1.0, 2.0]), None])
        if case == "intermediate":
            h = x * 2
            return grad((h * h).sum(), [h, x])
        if case == "self":
            return grad(x, x, grad_outputs=_t(m, [2.0, 3.0]))
        y = ((x * 2) ** 2).sum()
        grad(y, x, retain_graph=case == "twice_retained")
        return grad(y, x)

    same_as_torch(program)


# ----- requires_grad -----


@pytest.mark.parametrize("case", ["non_leaf_false", "non_leaf_true", "int_leaf", "float_leaf", "leaf_off"])
def test_requires_grad_assignment(case):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        if case == "non_leaf_false":  # torch refuses: the gradient through y would silently stop
            y = x * 2
            y.requires_grad = False
            (y * x).sum().backward()
            return x.grad
        if case == "non_leaf_true":
            y = x * 2
            y.requires_grad = True
            return y.requires_grad
        if case == "int_leaf":
            n = m.tensor([1, 2])
            n.requires_grad = True
            return n.requires_grad
        if case == "leaf_off":
            x.requires_grad = False
            return (x * 2).requires_grad, x.requires_grad
        f = _t(m, [1.0, 2.0])
        f.requires_grad = True
        (f * f).sum().backward()
        return f.grad

    err = same_as_torch(program)
    if err is not None:
        assert "requires_grad" in str(err)


def test_outputs_that_are_never_differentiable():
    def program(m):
        x = _t(m, [1.5, -2.5, 0.5], True)
        outs = [x > 1, x == x, x.argmax(), x.max(0)[1], x.topk(1)[1], (x * 2).long(), x.int(), x.bool(), m.isnan(x)]
        return [(str(o.dtype).replace("torch.", ""), o.requires_grad) for o in outs]

    same_as_torch(program)


# ----- grad mode -----


@pytest.mark.parametrize("mode", ["no_grad", "enable_grad", "set_grad_enabled_off"])
def test_grad_mode_decorator_on_a_generator_holds_inside_its_body_only(mode):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        deco = {
            "no_grad": m.no_grad,
            "enable_grad": m.enable_grad,
            "set_grad_enabled_off": lambda: m.set_grad_enabled(False),  # sets the mode when made
        }[mode]()

        @deco
        def gen():
            got = yield x * 2
            yield x * got, m.is_grad_enabled()
            return "done"

        outside = m.no_grad() if mode == "enable_grad" else m.enable_grad()
        with outside:
            g = gen()
            first = next(g)
            between = m.is_grad_enabled(), (x * 3).requires_grad
            second, inside = g.send(4.0)
            with pytest.raises(StopIteration) as stop:
                next(g)
        return first.requires_grad, between, second.requires_grad, inside, stop.value.value

    same_as_torch(program)


def test_exception_thrown_into_a_no_grad_generator_is_handled_in_its_mode():
    def program(m):
        x = _t(m, [1.0, 2.0], True)

        @m.no_grad()
        def gen():
            try:
                yield 1
            except ValueError:
                yield (x * 2).requires_grad

        g = gen()
        next(g)
        caught = g.throw(ValueError("stop"))
        g.close()
        return caught, m.is_grad_enabled()

    same_as_torch(program)


@pytest.mark.parametrize("mode", ["no_grad", "enable_grad"])
def test_grad_mode_as_a_decorator_without_parentheses(mode):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        deco = getattr(m, mode)

        @deco
        def double(a):
            return a * 2

        with m.set_grad_enabled(mode == "no_grad"):
            return double(x).requires_grad, double.__name__

    same_as_torch(program)


# ----- in-place changes of tensors saved for backward -----

_SAVING = {
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / b,
    "pow": lambda m, a, b: a**b,
    "exp": lambda m, a, b: a.exp(),
    "sigmoid": lambda m, a, b: a.sigmoid(),
    "tanh": lambda m, a, b: a.tanh(),
    "sqrt": lambda m, a, b: a.sqrt(),
    "log": lambda m, a, b: a.log(),
    "relu": lambda m, a, b: a.relu(),
    "matmul": lambda m, a, b: a @ b.T,
    "matmul_T": lambda m, a, b: a.T @ b,
    "softmax": lambda m, a, b: m.softmax(a, 1),
    "log_softmax": lambda m, a, b: m.log_softmax(a, 1),
    "index": lambda m, a, b: a[[0, 2]] * b[[0, 2]],
    "maximum": lambda m, a, b: m.maximum(a, b),
    "where": lambda m, a, b: m.where(a > 1, a * b, b),
    "norm": lambda m, a, b: a.norm(),
    "max": lambda m, a, b: a.max(),
    "expand": lambda m, a, b: a[:1].expand(3, 4) * b,
    "einsum": lambda m, a, b: m.einsum("ij,ij->i", a, b),
    "stack": lambda m, a, b: m.stack([a, b]) * m.stack([b, a]),
}


@pytest.mark.parametrize("changed", ["a", "b", "out", "a_row", "a_T"])
@pytest.mark.parametrize("op", sorted(_SAVING))
def test_inplace_change_of_a_saved_tensor_is_refused_as_torch(op, changed):
    rng = np.random.default_rng(0)
    a_values, b_values = rng.uniform(0.5, 1.5, (3, 4)), rng.uniform(0.5, 1.5, (3, 4))

    def program(m):
        a0, b0 = _t(m, a_values, True), _t(m, b_values, True)
        a, b = a0 * 1, b0 * 1
        out = _SAVING[op](m, a, b)
        if changed == "a":
            a.mul_(1.5)
        elif changed == "b":
            b.add_(0.25)
        elif changed == "out":
            out.mul_(1.5)
        elif changed == "a_row":
            a[1].mul_(1.5)
        else:
            a.T.add_(0.1)
        out.sum().backward()
        return a0.grad, b0.grad

    err = same_as_torch(program)
    if err is not None:
        assert "in-place" in str(err) and "version" in str(err)


# ----- gradient dtypes, broadcasting, expand, accumulation -----


@pytest.mark.parametrize(
    "case", ["f32_leaf_f64_chain", "f64_leaf_f32_chain", "f32_vector_for_f64", "f64_vector_for_f32", "grad_f32"]
)
def test_gradient_dtypes(case):
    def program(m):
        if case == "f32_leaf_f64_chain":
            x = _t(m, [1.0, 2.0], True, np.float32)
            (x.double() * _t(m, [1.0, 3.0])).sum().backward()
            return x.grad
        if case == "f64_leaf_f32_chain":
            x = _t(m, [1.0, 2.0], True)
            (x.float() * 3).sum().backward()
            return x.grad
        if case == "grad_f32":
            x = _t(m, [1.0, 2.0], True, np.float32)
            return m.autograd.grad((x.double() ** 2).sum(), x)
        dtype = np.float32 if case == "f32_vector_for_f64" else np.float64
        x = _t(m, [1.0, 2.0], True, np.float64 if dtype == np.float32 else np.float32)
        (x * 2).backward(_t(m, [1.0, 2.0], dtype=dtype))
        return x.grad

    same_as_torch(program)


def test_broadcast_expand_and_view_gradients_are_summed_to_each_shape():
    def program(m):
        x = _t(m, [[1.0, 2.0]], True)
        b = _t(m, [[1.0], [2.0], [3.0]], True)
        s = _t(m, 3.0, True)
        v = _t(m, [1.0, 2.0], True)
        w = _t(m, np.arange(6.0).reshape(3, 2))
        ((x * b).sum() + (s.expand(3, 2) * w).sum() + ((v * 2).view(2, 1).expand(2, 3) ** 2).sum()).backward()
        return x.grad, b.grad, s.grad, v.grad

    same_as_torch(program)


@pytest.mark.filterwarnings("ignore:Using backward.. with create_graph=True")
def test_grad_accumulates_across_backward_calls_and_create_graph_orders():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        (x * x).sum().backward()
        (x * 3).sum().backward()
        first = x.grad.clone()
        y = (x**3).sum()
        y.backward(create_graph=True)
        dx = x.grad
        x.grad = None
        dx.sum().backward()
        second = x.grad.clone()
        (g,) = m.autograd.grad((x**3).sum(), x, create_graph=True)
        g.sum().backward()
        return first, dx, second, x.grad, g.requires_grad

    same_as_torch(program)


def test_retain_graph_and_freed_graph():
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        kept = x.grad.clone()
        try:
            y.backward()
        except RuntimeError:
            return kept, "refused"
        return kept, "ran"

    same_as_torch(program)


# Ops whose backward reads a private copy (or nothing) where torch reads the changed tensor: torch refuses
# the backward, chainrule runs it; its gradient must then be that of the values the forward used.
_PRIVATE_COPIES = [
    ("prod", "out", lambda m, a, b: a.prod()),
    ("rsqrt", "out", lambda m, a, b: a.rsqrt()),
    ("reciprocal", "out", lambda m, a, b: a.reciprocal()),
    ("gather", "a", lambda m, a, b: a.gather(1, m.tensor([[0], [1], [2]]))),
    ("gelu", "a", lambda m, a, b: m.nn.functional.gelu(a)),
    ("mse_loss", "a", lambda m, a, b: m.nn.functional.mse_loss(a, b)),
    ("mse_loss", "b", lambda m, a, b: m.nn.functional.mse_loss(a, b)),
    ("leaky_relu", "a", lambda m, a, b: m.nn.functional.leaky_relu(a, 0.1)),
]


@pytest.mark.parametrize(("op", "changed", "f"), _PRIVATE_COPIES, ids=[f"{o}-{c}" for o, c, _ in _PRIVATE_COPIES])
def test_no_refusal_means_the_gradient_of_the_values_used(op, changed, f):
    rng = np.random.default_rng(1)
    a_values, b_values = rng.uniform(0.5, 1.5, (3, 4)), rng.uniform(0.5, 1.5, (3, 4))

    def program(m, change):
        a0, b0 = _t(m, a_values, True), _t(m, b_values, True)
        a, b = a0 * 1, b0 * 1
        out = f(m, a, b)
        if changed == "out":
            if change:
                out.mul_(1.5)
            else:
                out = out * 1.5
        elif change:
            (a if changed == "a" else b).add_(0.25)
        out.sum().backward()
        return [a0.grad, b0.grad]

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(torch, change=True)
    _assert_equal(_plain(program(cr, change=True)), _plain(program(torch, change=False)))


def _backward_into_intermediate(x, w):
    h = x * w
    (h * h).sum().backward(inputs=[h, w])
    return h.grad


def test_jit_replays_backward_into_an_intermediate_named_by_inputs():
    step = cr.jit(_backward_into_intermediate)
    for values in ([1.0, 2.0], [3.0, 4.0], [5.0, -6.0]):  # the first call traces, the others replay
        results = []
        for m, fn in ((cr, step), (torch, _backward_into_intermediate)):
            x, w = _t(m, values, True), _t(m, [1.0, 0.5], True)
            results.append(_plain([fn(x, w), w.grad, x.grad]))
        _assert_equal(*results)


@pytest.mark.parametrize("case", ["int_on_grad", "int_on_plain", "float32_on_grad", "new_shape", "after_forward"])
def test_data_assignment(case):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        if case == "int_on_grad":  # torch refuses: an integer tensor would claim a gradient
            x.data = m.tensor([1, 2])
            return x.requires_grad
        if case == "int_on_plain":
            p = _t(m, [1.0, 2.0])
            p.data = m.tensor([1, 2])
            return p
        if case == "after_forward":  # .data is outside autograd: the saved value is the old one, as torch
            y = x * x
            x.data = _t(m, [5.0, 6.0])
            y.sum().backward()
            return x.grad
        x.data = _t(m, [1.0, 2.0, 3.0], dtype=np.float32 if case == "float32_on_grad" else np.float64)
        (x * x).sum().backward()
        return x.grad

    err = same_as_torch(program)
    if err is not None:
        assert "requires grad" in str(err) and "int64" in str(err)


# ----- only the part of the graph that leads to the wanted tensors runs -----


@pytest.mark.parametrize("api", ["grad", "backward_inputs"])
def test_hooks_and_retained_grads_off_the_paths_to_the_inputs_stay_untouched(api):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        w = _t(m, [3.0, 4.0], True)
        z = w * 3
        z.retain_grad()
        log = []
        z.register_hook(lambda g: log.append(("z", g.numpy().tolist())))
        w.register_hook(lambda g: log.append(("w", g.numpy().tolist())))
        loss = (x * z).sum()
        got = m.autograd.grad(loss, x) if api == "grad" else loss.backward(inputs=[x])
        return got, x.grad, z.grad, w.grad, log

    same_as_torch(program)


@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")
@pytest.mark.parametrize("api", ["grad", "backward_inputs"])
def test_nothing_below_a_wanted_intermediate_runs(api):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        h = x * 2
        h.retain_grad()
        z = h * 3
        log = []
        x.register_hook(lambda g: log.append(("x", g.numpy().tolist())))
        loss = (z * z).sum()
        got = m.autograd.grad(loss, z) if api == "grad" else loss.backward(inputs=[z])
        return got, z.grad, h.grad, x.grad, log

    same_as_torch(program)


@pytest.mark.parametrize("case", ["grad_off_path", "backward_inputs_off_path", "below_wanted"])
def test_nodes_that_did_not_run_keep_their_saved_values(case):
    def program(m):
        x = _t(m, [1.0, 2.0], True)
        w = _t(m, [3.0, 4.0], True)
        if case == "below_wanted":
            h = x * x
            z = h * 3
            got = m.autograd.grad((z * z).sum(), z)
            h.sum().backward()  # through x * x, which the first pass did not run
            return got, x.grad
        z = w * w
        loss = (x * z).sum()
        got = m.autograd.grad(loss, x) if case == "grad_off_path" else loss.backward(inputs=[x])
        z.sum().backward()  # through w * w, which the first pass did not run
        return got, x.grad, w.grad

    same_as_torch(program)
