"""The gradient checker is an oracle, so it is tested too (CONTRIBUTING.md, "The gradient checker"): it must
catch planted bugs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.autograd.gradcheck import GradcheckError
from chainrule.ops._util import unbroadcast


class ExpOffByOnePercent(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.exp() * 1.01


class MulMissingUnbroadcast(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return unbroadcast(g * y, x.shape), g * x  # y's broadcast axes not summed back


class SinWithWrongSecondDerivative(Function):
    """First derivative right (cos), but written with a detached cos so d2 is lost."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * cr.tensor(np.cos(x._data))


def x64(*shape, seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_passes_a_correct_rule():
    assert cr.gradcheck(lambda x: x.exp(), (x64(3),))


def test_catches_a_one_percent_error_and_reports_the_worst_entry():
    with pytest.raises(GradcheckError) as info:
        cr.gradcheck(ExpOffByOnePercent.apply, (x64(3),))
    message = str(info.value)
    assert "worst entry" in message and "analytical" in message and "numerical" in message
    assert "input 0" in message
    assert not cr.gradcheck(ExpOffByOnePercent.apply, (x64(3),), raise_exception=False)


def test_catches_a_missing_unbroadcast():
    with pytest.raises((GradcheckError, RuntimeError)):
        cr.gradcheck(MulMissingUnbroadcast.apply, (x64(3, 4), x64(1, 4, seed=1)))


def test_gradgradcheck_catches_a_lost_second_derivative():
    x = x64(4)
    assert cr.gradcheck(SinWithWrongSecondDerivative.apply, (x,))
    with pytest.raises(GradcheckError):
        cr.gradgradcheck(SinWithWrongSecondDerivative.apply, (x,))


def test_warns_on_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        cr.gradcheck(lambda x: x * 2, (x,), raise_exception=False)


def test_fast_mode_catches_errors_too():
    with pytest.raises(GradcheckError, match="fast mode"):
        cr.gradcheck(ExpOffByOnePercent.apply, (x64(5),), fast_mode=True)
    assert cr.gradcheck(lambda x: x.sin(), (x64(5),), fast_mode=True)


def test_multiple_inputs_and_outputs():
    a, b = x64(2, 3), x64(3, seed=2)
    assert cr.gradcheck(lambda a, b: (a @ b, (a * 2).sum()), (a, b))


def test_accepts_numpy_inputs_and_constant_arguments():
    assert cr.gradcheck(lambda x, k: x * k, (np.array([1.0, 2.0]), 3))


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires grad"):
        cr.gradcheck(lambda x: x * 2, (cr.tensor([1.0], dtype=cr.float64),))


def _noncontiguous_inputs(lib):
    rng = np.random.default_rng(3)
    base = lib.tensor(rng.uniform(0.5, 2.0, (4, 6)), dtype=lib.float64)
    return {"transposed": base.T, "strided": base[:, ::2], "row": base[1:3, 1:5]}


@pytest.mark.parametrize("kind", ["transposed", "strided", "row"])
def test_non_contiguous_inputs_are_checked_as_torch_checks_them(kind):
    import torch

    def f(lib):
        return lambda t: (t.exp() * t).sum(-1)

    x = _noncontiguous_inputs(cr)[kind].detach().requires_grad_()
    tx = _noncontiguous_inputs(torch)[kind].detach().requires_grad_()
    assert torch.autograd.gradcheck(f(torch), (tx,)) and cr.gradcheck(f(cr), (x,))
    assert cr.gradgradcheck(f(cr), (x,)) and torch.autograd.gradgradcheck(f(torch), (tx,))
    # and a planted error is still caught on such an input
    with pytest.raises(GradcheckError):
        cr.gradcheck(lambda t: ExpOffByOnePercent.apply(t), (x,))


def test_expanded_inputs_are_refused_as_torch_refuses_them():
    import torch

    tx = torch.rand(3, dtype=torch.float64).expand(2, 3).requires_grad_()
    with pytest.raises(RuntimeError, match="stride 0"):
        torch.autograd.gradcheck(lambda t: t * 2, (tx,))
    x = cr.rand(3, dtype=cr.float64).expand(2, 3).requires_grad_()
    with pytest.raises(RuntimeError, match="stride 0"):
        cr.gradcheck(lambda t: t * 2, (x,))
