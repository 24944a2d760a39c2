"""Views and in-place ops, one rule at a time, each checked against PyTorch (float64).

Each program runs unchanged in both libraries (`m` is torch or chainrule); the test
compares what it returns (values, gradients, flags) and whether it raised.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _t(m, values, requires_grad=False):
    return m.tensor(np.array(values, dtype=np.float64), dtype=m.float64, requires_grad=requires_grad)


def _plain(value):
    if isinstance(value, (torch.Tensor, cr.Tensor)):
        return np.array(value.data.numpy() if isinstance(value, cr.Tensor) else value.detach().numpy())
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _run(program, m):
    try:
        return _plain(program(m)), None
    except Exception as e:  # noqa: BLE001
        return None, e


def same_as_torch(program):
    """Run program(m) with torch and chainrule; both raise, or both return equal results."""
    (t_out, t_err), (c_out, c_err) = _run(program, torch), _run(program, cr)
    assert (t_err is None) == (c_err is None), f"torch: {t_err!r}, chainrule: {c_err!r}"
    if t_err is None:
        _assert_equal(t_out, c_out)
    return t_err, c_err


def _assert_equal(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_equal(x, y)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert a is not None and b is not None, (a, b)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    else:
        assert a == b, (a, b)


def grads(m, *leaves):
    return tuple(leaf.grad for leaf in leaves)


# ----- the example and CopySlices -----


def test_inplace_on_a_slice_rewrites_the_base_history():
    def program(m):
        a = _t(m, [1.0, 1.0, 1.0], requires_grad=True)
        x = a * 2
        x[0:2].mul_(3)
        x.sum().backward()
        return a.grad  # torch: [6, 6, 2]; chainrule gave [2, 2, 2] before views shared history

    same_as_torch(program)


@pytest.mark.parametrize(
    "view",
    [
        lambda y: y[1:, ::2],
        lambda y: y[1],
        lambda y: y.T[2],
        lambda y: y.view(12)[3:7],
        lambda y: y.diagonal(),
        lambda y: y.narrow(1, 1, 2),
        lambda y: y.select(1, 3),
        lambda y: y[None, ..., 2],
        lambda y: y.unsqueeze(0)[0],
        lambda y: y.reshape(2, 6)[1],
        lambda y: y.permute(1, 0)[1:3],
        lambda y: y[0].expand(1, 4)[0],
        lambda y: y.mT.transpose(0, 1)[2],
    ],
)
@pytest.mark.parametrize("op", ["mul_z", "add_", "copy_", "setitem", "clamp_", "pow_", "zero_", "div_z", "sigmoid_"])
def test_inplace_through_each_view_op(view, op):
    def program(m):
        a = _t(m, np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        z = _t(m, np.linspace(0.5, 1.5, 4), requires_grad=True)
        y = a * 1.5 + 0.25
        v = view(y)
        other = z[: v.shape[-1]] if v.dim() else z[0]
        if op == "mul_z":
            v.mul_(other)
        elif op == "div_z":
            v.div_(other)
        elif op == "add_":
            v.add_(other, alpha=2.0)
        elif op == "copy_":
            v.copy_(other * 3)
        elif op == "setitem":
            v[...] = other
        elif op == "clamp_":
            v.clamp_(-0.5, 0.75)
        elif op == "pow_":
            v.pow_(2)
        elif op == "zero_":
            v.zero_()
        else:
            v.sigmoid_()
        w = _t(m, np.linspace(-2, 2, 12).reshape(3, 4))
        (y * w).sum().backward(retain_graph=True)
        ga, gz = a.grad, z.grad
        a.grad = None
        z.grad = None
        (v * 2).sum().backward()
        return y, v, ga, gz, a.grad, z.grad, v._is_view(), y._version == v._version

    same_as_torch(program)


def test_other_views_see_the_new_history():
    def program(m):
        a = _t(m, np.arange(6.0).reshape(2, 3), requires_grad=True)
        y = a * 1.0
        row0, col1, flat = y[0], y[:, 1], y.view(6)
        y[0, 1:].mul_(10)  # through one view...
        flat[5:].add_(100)  # ...and another: the earlier views are regenerated
        (row0.sum() + 2 * col1.sum() + 3 * flat.sum()).backward()
        return row0, col1, flat, a.grad, type(row0.grad_fn) is not type(None)

    same_as_torch(program)


def test_inplace_on_the_base_updates_its_views():
    def program(m):
        a = _t(m, [1.0, 2.0, 3.0, 4.0], requires_grad=True)
        y = a * 1.0
        v = y[1:3]
        y.mul_(a)
        (v * _t(m, [1.0, 10.0])).sum().backward()
        return v, a.grad

    same_as_torch(program)


def test_inplace_with_a_grad_operand_on_a_plain_base():
    def program(m):
        b = _t(m, np.zeros(4))
        z = _t(m, [2.0, 3.0], requires_grad=True)
        v = b[1:3]
        v.add_(z * z)
        b.sum().backward()
        return b, z.grad, b.requires_grad, b.is_leaf

    same_as_torch(program)


def test_higher_order_through_copyslices():
    def program(m):
        a = _t(m, [0.5, -1.0, 2.0], requires_grad=True)
        y = a * a
        y[1:].mul_(a[1:])  # y = [a0^2, a1^3, a2^3]
        (g,) = m.autograd.grad(y.sum(), a, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), a)
        return g, h

    same_as_torch(program)


# ----- what is shared: storage, version counter, _base -----


def test_views_share_storage_and_version_detach_too_data_not():
    def program(m):
        a = _t(m, np.arange(6.0), requires_grad=True)
        y = a * 1.0
        v, vv, d, dd = y[1:], y[1:][::2], y.detach(), y.data
        with m.no_grad():
            vv.mul_(10)
        d[0] = -1.0
        dd[5] = 7.0
        return (
            y,
            v,
            vv,
            d,
            dd,
            [t._version for t in (y, v, vv, d, dd)],
            v._base is y,
            vv._base is y,
            d._base is None,
            dd._base is None,
            v._is_view(),
            d._is_view(),
            dd._is_view(),
        )

    same_as_torch(program)


def test_view_ness_of_each_op():
    def program(m):
        x = _t(m, np.ones((3, 4)))
        return [
            t._is_view()
            for t in (
                x[0],
                x[0, 1],
                x[...],
                x[None],
                x[1:],
                x.view(12),
                x.reshape(12),
                x.T.reshape(12),
                x.T,
                x.mT,
                x.transpose(0, 1),
                x.permute(1, 0),
                x.expand(2, 3, 4),
                x.diagonal(),
                x.narrow(0, 1, 1),
                x.select(1, 2),
                x.unsqueeze(0),
                x[None].squeeze(0),
                x.flatten(),
                x.split(2)[0],
                x.chunk(2, 1)[1],
                x.unbind()[0],
                x.repeat(1, 1),
                x.flip(0),
                x[[0, 1]],
                x.clone(),
                x.movedim(0, 1),
                x.reshape(3, 4),
            )
        ]

    same_as_torch(program)


def test_view_refuses_incompatible_strides():
    same_as_torch(lambda m: _t(m, np.ones((3, 4))).T.view(12))


# ----- refusals -----


@pytest.mark.parametrize(
    "case",
    [
        "leaf",
        "view_of_leaf",
        "setitem_leaf",
        "leaf_no_grad_ok",
        "unbind",
        "split",
        "chunk",
        "view_of_unbind",
        "iter_rows",
        "no_grad_view",
        "no_grad_view_plain_base",
        "unbind_plain_nograd_op",
    ],
)
def test_refusals_match_torch(case):
    def program(m):
        a = _t(m, np.arange(4.0), requires_grad=True)
        y = a * 2
        if case == "leaf":
            a.mul_(2)
        elif case == "view_of_leaf":
            a[1:].add_(1)
        elif case == "setitem_leaf":
            a[0] = 5.0
        elif case == "leaf_no_grad_ok":
            with m.no_grad():
                a[1:].mul_(2)
                a.add_(1)
            (a * a).sum().backward()
            return a, a.grad
        elif case == "unbind":
            y.unbind()[0].mul_(2)
        elif case == "split":
            y.split(2)[1].add_(1)
        elif case == "chunk":
            y.chunk(2)[0].zero_()
        elif case == "view_of_unbind":
            y.unbind()[1].view(1).mul_(2)
        elif case == "iter_rows":
            for row in y.view(2, 2):
                row.mul_(2)
        elif case == "no_grad_view":
            with m.no_grad():
                v = y[1:]
            v.mul_(2)
        elif case == "no_grad_view_plain_base":
            b = _t(m, np.zeros(4))
            with m.no_grad():
                v = b[1:3]
            v.mul_(_t(m, [1.0, 2.0], requires_grad=True))
        elif case == "unbind_plain_nograd_op":
            b = _t(m, np.zeros(4))
            b.unbind()[0].mul_(2)
            return b
        return y

    t_err, c_err = same_as_torch(program)
    if c_err is not None:
        message = str(c_err)
        assert __file__.split("/")[-1] in message, message  # the user's line is named
        assert "shape" in message, message


@pytest.mark.parametrize(
    "case",
    [
        "exp_then_view",
        "exp_then_detach",
        "exp_then_data",
        "mul_self",
        "div_self",
        "sigmoid_then_mul_",
        "saved_view_then_base",
        "pow_then_pow_",
        "tanh_then_data",
        "zero_d_exp_then_add_",
    ],
)
def test_saved_tensors_changed_through_aliases(case):
    def program(m):
        a = _t(m, [0.5, 1.0, 1.5], requires_grad=True)
        if case == "exp_then_view":
            y = a.exp()
            y[0:2].mul_(2)
        elif case == "exp_then_detach":
            y = a.exp()
            y.detach()[1] = 0.0
        elif case == "exp_then_data":  # .data has its own counter: not caught, as in torch
            y = a.exp()
            y.data.mul_(2)
        elif case == "mul_self":
            y = a * 2
            y.mul_(y)
        elif case == "div_self":
            y = a * 2
            y.div_(y)
        elif case == "sigmoid_then_mul_":
            y = a * 2
            y.sigmoid_()
            y.mul_(2)
        elif case == "zero_d_exp_then_add_":  # a 0-d output (NumPy returns a scalar) is checked too
            y = a[1].exp()
            with m.no_grad():
                y.add_(1)
        elif case == "tanh_then_data":  # the saved result lives in y's storage: read back changed, as torch
            y = a * 2
            y.tanh_()
            y.data.mul_(3)
        elif case == "saved_view_then_base":
            b = a * 1.0
            y = b[1:] * b[1:]  # saves the view b[1:]
            b.add_(1)
        else:
            y = a * 2
            y.pow_(2)
            y.pow_(2)
        y.sum().backward()
        return a.grad

    t_err, c_err = same_as_torch(program)
    if c_err is not None:
        assert "in-place" in str(c_err) and "version" in str(c_err)


@pytest.mark.parametrize(
    "case",
    [
        "add_",
        "copy_",
        "clamp_",
        "fill_",
        "zero_",
        "row_mul_",
        "col_mul_",
        "setitem_row",
        "setitem_col",
        "setitem_all",
        "fill_grad",
        "zero_grad",
        "partial_add_",
        "partial_copy_",
        "self_add_",
        "strided_add_",
        "transpose_add_",
        "empty_add_",
        "copy_onto_itself",
    ],
)
def test_memory_overlap_refusals(case):
    def program(m):
        x = _t(m, [1.0, 2.0, 3.0])
        e = x.expand(2, 3)
        s = _t(m, np.arange(6.0))
        q = _t(m, np.arange(9.0)).view(3, 3)
        if case == "add_":
            e.add_(1)
        elif case == "copy_":
            e.copy_(_t(m, np.zeros((2, 3))))
        elif case == "clamp_":
            e.clamp_(0, 1)
        elif case == "fill_":
            e.fill_(2)
        elif case == "zero_":
            e.zero_()
        elif case == "row_mul_":
            e[0].mul_(2)
        elif case == "col_mul_":
            e[:, 0].mul_(2)
        elif case == "setitem_row":
            e[0] = _t(m, [7.0, 8.0, 9.0])
        elif case == "setitem_col":
            e[:, 0] = 7.0
        elif case == "setitem_all":
            e[:] = _t(m, [7.0, 8.0, 9.0])
        elif case in ("fill_grad", "zero_grad"):
            a = _t(m, [1.0, 2.0, 3.0], requires_grad=True)
            g = (a * 1).expand(2, 3)
            g.fill_(2) if case == "fill_grad" else g.zero_()
            g.sum().backward()  # torch refuses here, not at fill_/zero_
            return g
        elif case == "partial_add_":
            s[1:].add_(s[:-1])
        elif case == "partial_copy_":
            s[1:].copy_(s[:-1])
        elif case == "self_add_":
            s.add_(s)
        elif case == "copy_onto_itself":
            e.copy_(e)
        elif case == "empty_add_":  # NumPy gives an empty slice zero strides: not an overlap
            (q.narrow(0, 3, 0) * 0.75).add_(1)
        elif case == "strided_add_":
            s[2::2].add_(s[0:-2:2])
        else:
            q.add_(q.T)
        return x, e, s, q

    t_err, c_err = same_as_torch(program)
    if c_err is not None:
        assert "memory location" in str(c_err)


def test_inplace_results_match_torch_for_dtype_and_broadcast():
    def program(m):
        a = _t(m, np.ones((2, 3)), requires_grad=True)
        y = a * 1.0
        y.add_(_t(m, [1.0, 2.0, 3.0]))
        y.sub_(0.5, alpha=2) if m is torch else y.sub_(0.5, alpha=2)
        y /= 2
        y *= _t(m, [[2.0], [3.0]])
        y.sum().backward()
        return y, a.grad

    same_as_torch(program)


def test_inplace_broadcast_to_a_larger_shape_is_refused():
    same_as_torch(lambda m: (_t(m, np.ones(3)) * 1).add_(_t(m, np.ones((2, 3)))))


def test_jit_replays_an_inplace_op_on_a_view():
    def program(m, values):
        a = _t(m, values, requires_grad=True)
        y = a * 2
        y[0:2].mul_(a[1:])
        y.sum().backward()
        return y, a.grad

    jitted = cr.jit(lambda a: _program_body(a))
    for values in ([1.0, 1.0, 1.0], [0.5, -2.0, 3.0], [2.0, 0.25, -1.0]):
        a = _t(cr, values, requires_grad=True)
        y = jitted(a)
        t_y, t_grad = _plain(program(torch, values))
        np.testing.assert_allclose(y.data.numpy(), t_y)
        np.testing.assert_allclose(a.grad.numpy(), t_grad)


def _program_body(a):
    y = a * 2
    y[0:2].mul_(a[1:])
    y.sum().backward()
    return y
