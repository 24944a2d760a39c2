"""detect_anomaly(): a NaN or inf made by a forward or a backward stops at the op that made it, naming the
op and the user's file:line; `where` and the double-where idiom (CONTRIBUTING.md, "Numerics")."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import detect_anomaly, is_anomaly_enabled

pytestmark = pytest.mark.filterwarnings("error")
HERE = re.escape(__file__.rsplit("/", 1)[-1])


def _line_of(marker):
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return n
    raise AssertionError(marker)


def test_forward_nan_names_op_and_user_line():
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            cr.log(x)  # MARK-forward-log
    msg = str(info.value)
    assert "Log" in msg and "NaN" in msg
    assert f"{__file__}:{_line_of('MARK-forward-log')}" in msg, msg


def test_forward_inf_names_op():
    x = cr.tensor([1000.0], dtype=cr.float64, requires_grad=True)
    with detect_anomaly(), pytest.raises(RuntimeError, match=r"Exp.*inf"):
        cr.exp(x)


def test_backward_inf_names_op_and_user_line():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = cr.sqrt(x).sum()  # MARK-backward-sqrt
        with pytest.raises(RuntimeError) as info:
            y.backward()
    msg = str(info.value)
    assert "backward of Sqrt" in msg and "inf" in msg
    assert f"{__file__}:{_line_of('MARK-backward-sqrt')}" in msg, msg


def test_backward_nan_from_inf_times_zero():
    x = cr.tensor([0.0], dtype=cr.float64, requires_grad=True)
    with detect_anomaly():
        y = (cr.log(x + 1) * 0).sum()  # finite forward
        z = y + (x * 0 / (x + 1)).sum()  # finite forward, finite backward
        z.backward()
    assert np.isfinite(x.grad._data).all()
    x.grad = None
    with detect_anomaly():
        w = (cr.sqrt(x) * 0.0).sum()  # forward fine; backward of Sqrt gives 0 * inf = NaN
        with pytest.raises(RuntimeError, match="backward of Sqrt.*(NaN|inf)"):
            w.backward()


def test_without_anomaly_mode_ieee_results_and_no_warning():
    x = cr.tensor([0.0, -1.0], dtype=cr.float64, requires_grad=True)
    y = cr.log(x)
    assert y._data[0] == -np.inf and np.isnan(y._data[1])
    y.sum().backward()
    assert x.grad._data[0] == np.inf and x.grad._data[1] == -1.0


def test_check_nan_false_is_silent_and_state_is_restored():
    assert not is_anomaly_enabled()
    with detect_anomaly(check_nan=False):
        assert is_anomaly_enabled()
        cr.log(cr.tensor([-1.0], requires_grad=True)).sum().backward()
    assert not is_anomaly_enabled()


def test_decorator_form_and_restore_after_error():
    @detect_anomaly()
    def f(x):
        return cr.log(x)

    with pytest.raises(RuntimeError, match="Log"):
        f(cr.tensor([-1.0], requires_grad=True))
    assert not is_anomaly_enabled()


def test_anomaly_in_user_function_backward():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = cr.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        y = Bad.apply(x).sum()
        with pytest.raises(RuntimeError, match="backward of Bad.*NaN"):
            y.backward()


# ----- where: no NaN from the branch not taken -----


def test_where_sends_exact_zeros_to_the_branch_not_taken():
    """where's own VJP: the branch not taken gets exactly 0 even where its value is NaN or inf."""
    x = cr.tensor([-1.0, 2.0, 0.0], dtype=cr.float64, requires_grad=True)
    a = x * 1
    bad = cr.log(x)  # NaN, finite, -inf
    y = cr.where(x > 0, bad, a)
    ga, gbad = cr.autograd.grad(y.sum(), [a, bad])
    np.testing.assert_array_equal(ga._data, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gbad._data, [0.0, 1.0, 0.0])


def test_plain_where_leaks_nan_like_pytorch():
    """where(x > 0, sqrt(x), 0): sqrt's backward sees 0 * inf (at 0) and 0 * NaN (x < 0): NaN.
    This is IEEE arithmetic and PyTorch gives the same (pytorch/pytorch#23395, #10729): we document it."""
    torch = pytest.importorskip("torch")
    values = [-1.0, 0.0, 4.0]
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    cr.where(x > 0, cr.sqrt(x), cr.zeros_like(x)).sum().backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    torch.where(tx > 0, torch.sqrt(tx), torch.zeros_like(tx)).sum().backward()
    np.testing.assert_array_equal(x.grad._data, tx.grad.numpy())
    assert np.isnan(x.grad._data[:2]).all() and x.grad._data[2] == 0.25


@pytest.mark.parametrize("fn,dfn", [(cr.sqrt, lambda v: 0.5 / np.sqrt(v)), (cr.log, lambda v: 1 / v)])
def test_double_where_gives_finite_gradients(fn, dfn):
    """The double where: safe = where(m, x, 1); where(m, f(safe), 0). Gradient is exact where taken, 0 elsewhere."""
    values = np.array([-1.0, 0.0, 4.0, 0.5])
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    m = x > 0
    safe = cr.where(m, x, cr.ones_like(x))
    y = cr.where(m, fn(safe), cr.zeros_like(x))
    with detect_anomaly():  # nothing non-finite anywhere, forward or backward
        y = cr.where(m, fn(cr.where(m, x, cr.ones_like(x))), cr.zeros_like(x))
        y.sum().backward()
    expected = np.where(values > 0, dfn(np.where(values > 0, values, 1.0)), 0.0)
    np.testing.assert_allclose(x.grad._data, expected, rtol=1e-15)


def test_double_where_second_order_is_finite():
    x = cr.tensor([-1.0, 0.0, 4.0], dtype=cr.float64, requires_grad=True)
    m = x > 0
    y = cr.where(m, cr.sqrt(cr.where(m, x, cr.ones_like(x))), cr.zeros_like(x)).sum()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h._data, [0.0, 0.0, -0.25 * 4.0**-1.5], rtol=1e-15)
