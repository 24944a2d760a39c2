"""Errors that teach (issue 5): each mistake a user makes raises an error that names the op (and the
layer), the shapes involved and the fix. One test per mistake; the messages are matched loosely
(key words, shapes), so rewording stays free but dropping the information does not.
"""

import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

pytestmark = pytest.mark.filterwarnings("error")


def _raises(exc, *needles, fn):
    """Call fn; assert it raises exc and the message contains every needle (case-insensitive)."""
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle.lower() in message.lower(), f"{needle!r} missing from: {message}"
    return message


# ----- shapes -----


def test_matmul_mismatch_names_op_shapes_and_fix():
    a, b = cr.randn(3, 4, requires_grad=True), cr.randn(5, 2)
    _raises(RuntimeError, "matmul", "(3, 4)", "(5, 2)", "transpose", fn=lambda: a @ b)


def test_matmul_batch_mismatch():
    _raises(RuntimeError, "matmul", "(2, 3, 4)", "(3, 4, 5)", fn=lambda: cr.randn(2, 3, 4) @ cr.randn(3, 4, 5))


@pytest.mark.parametrize(
    "name,fn",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("maximum", cr.maximum),
        ("minimum", cr.minimum),
    ],
)
@pytest.mark.parametrize("grad", [True, False])
def test_broadcast_mismatch_names_op_shapes_and_fix(name, fn, grad):
    a = cr.rand(3, 4, requires_grad=grad) + 0.5 if grad else cr.rand(3, 4) + 0.5
    b = cr.rand(5) + 0.5
    msg = _raises(RuntimeError, name, "(3, 4)", "(5,)", "broadcast", fn=lambda: fn(a, b))
    # the offending dimension and a fix
    assert "4" in msg and "5" in msg and ("reshape" in msg or "unsqueeze" in msg), msg


def test_broadcast_mismatch_in_comparisons_and_where():
    _raises(RuntimeError, "(3, 4)", "(5,)", "broadcast", fn=lambda: cr.randn(3, 4) > cr.randn(5))
    _raises(
        RuntimeError,
        "where",
        "(2,)",
        "(3,)",
        "broadcast",
        fn=lambda: cr.where(cr.tensor([True, False]), cr.randn(3, requires_grad=True), cr.randn(3)),
    )


def test_broadcast_error_is_also_a_valueerror_for_numpy_habits():
    """Code written against NumPy catches ValueError; it keeps working."""
    with pytest.raises(ValueError):
        cr.randn(3, 4) + cr.randn(5)


def test_cat_and_stack_mismatch():
    _raises(RuntimeError, "cat", "(2, 5)", "(3, 4)", "dim", fn=lambda: cr.cat([cr.randn(3, 4), cr.randn(2, 5)]))
    _raises(RuntimeError, "stack", "(3,)", "(4,)", fn=lambda: cr.stack([cr.randn(3), cr.randn(4)]))


def test_reshape_and_expand_mismatch():
    _raises(RuntimeError, "reshape", "(5, 3)", "(3, 4)", "-1", fn=lambda: cr.randn(3, 4).reshape(5, 3))
    _raises(RuntimeError, "expand", "(3, 4)", "(5, 3)", fn=lambda: cr.randn(3, 4).expand(5, 3))


# ----- layers: the layer, the shape and the fix -----


def test_linear_wrong_features():
    _raises(RuntimeError, "Linear(in_features=4", "(2, 5)", "in_features=5", fn=lambda: nn.Linear(4, 3)(cr.randn(2, 5)))


def test_linear_inside_sequential_names_the_layer():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(7, 2))
    _raises(RuntimeError, "Linear(in_features=7", "8 features", fn=lambda: model(cr.randn(2, 4)))


@pytest.mark.parametrize(
    "layer,x,needles",
    [
        (lambda: nn.Conv2d(3, 8, 3), (2, 4, 8, 8), ["Conv2d(3, 8", "4 channels", "in_channels=4"]),
        (lambda: nn.Conv1d(3, 8, 3), (2, 4, 8), ["Conv1d(3, 8", "4 channels", "in_channels=4"]),
        (lambda: nn.BatchNorm1d(3), (2, 4), ["BatchNorm1d(3", "4 channels", "num_features=4"]),
        (lambda: nn.BatchNorm2d(3), (2, 4, 5, 5), ["BatchNorm2d(3", "4 channels", "num_features=4"]),
        (lambda: nn.LayerNorm(3), (2, 4), ["LayerNorm", "(2, 4)", "normalized_shape=(4,)"]),
        (lambda: nn.GRU(4, 8), (5, 2, 3), ["GRU(4, 8)", "(5, 2, 3)", "input_size = 4"]),
        (lambda: nn.LSTM(4, 8), (5, 2, 3), ["LSTM(4, 8)", "(5, 2, 3)"]),
        (lambda: nn.MaxPool2d(2), (2, 3), ["max_pool2d", "(2, 3)", "4-D"]),
        (lambda: nn.Conv2d(3, 8, 5), (1, 3, 3, 3), ["conv2d", "(3, 3)", "kernel"]),
    ],
)
def test_layer_wrong_channels_or_features(layer, x, needles):
    _raises(RuntimeError, *needles, fn=lambda: layer()(cr.randn(*x)))


def test_embedding_index_out_of_range():
    _raises(IndexError, "embedding", "3 rows", "num_embeddings", fn=lambda: nn.Embedding(3, 4)(cr.tensor([5])))


def test_mse_shape_mismatch_is_not_broadcast_silently():
    _raises(
        RuntimeError, "mse_loss", "(3, 4)", "(4, 3)", "reshape", fn=lambda: F.mse_loss(cr.randn(3, 4), cr.randn(4, 3))
    )


# ----- autograd -----


def test_backward_on_non_scalar_without_gradient():
    y = cr.randn(3, 4, requires_grad=True) * 2
    _raises(RuntimeError, "backward", "scalar", "(3, 4)", "gradient=", "sum()", fn=y.backward)


def test_backward_with_wrong_gradient_shape():
    y = cr.randn(3, 4, requires_grad=True) * 2
    _raises(RuntimeError, "gradient has shape (4, 3)", "(3, 4)", fn=lambda: y.backward(cr.ones(4, 3)))


def test_backward_on_tensor_without_grad():
    _raises(RuntimeError, "requires_grad=True", fn=cr.randn(3).sum().backward)


def test_second_backward_through_freed_graph():
    x = cr.randn(3, requires_grad=True)
    y = x.exp().sum()
    y.backward()
    msg = _raises(RuntimeError, "Exp", "second time", "retain_graph=True", fn=y.backward)
    assert re.search(r"test_errors\.py:\d+", msg), msg  # where the op was created


def test_retain_graph_allows_second_backward():
    x = cr.randn(3, requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad._data, 2 * np.exp(x._data), rtol=1e-6)


def test_inplace_change_of_a_saved_input_names_the_op_that_saved_it():
    a = cr.randn(3, requires_grad=True)
    b = a * 1
    c = b.log()
    b[0] = 5.0
    msg = _raises(RuntimeError, "Log", "in-place", "version", ".clone()", fn=c.sum().backward)
    assert re.search(r"test_errors\.py:\d+", msg), msg


def test_inplace_mul_of_a_saved_input():
    a = cr.randn(3, requires_grad=True)
    b = a * 1
    c = b * b
    b.mul_(2)
    _raises(RuntimeError, "Mul", "in-place", fn=c.sum().backward)


@pytest.mark.parametrize("op", ["exp", "sigmoid", "tanh", "sqrt"])
def test_inplace_change_of_a_saved_output_is_caught(op):
    """exp/sigmoid/tanh/sqrt save their output; changing it in place must not give a silently wrong gradient."""
    a = cr.rand(3, dtype=cr.float64, requires_grad=True)
    b = a * 1
    c = getattr(cr, op)(b)
    c += 1
    _raises(RuntimeError, op.capitalize(), "in-place", fn=c.sum().backward)


def test_inplace_on_a_leaf_that_requires_grad():
    a = cr.randn(3, requires_grad=True)

    def go():
        a.add_(1)

    _raises(RuntimeError, "add_", "leaf", "no_grad", fn=go)


def test_requires_grad_on_integer_tensors():
    _raises(RuntimeError, "floating point", "int64", "float()", fn=lambda: cr.tensor([1, 2], requires_grad=True))
    _raises(RuntimeError, "floating point", fn=lambda: cr.tensor([1, 2]).requires_grad_())
    _raises(RuntimeError, "floating point", "bool", fn=lambda: cr.tensor([True]).requires_grad_())


# ----- losses -----

LOGITS = (4, 3)


def test_cross_entropy_float_labels_say_to_use_long():
    logits = cr.randn(*LOGITS, requires_grad=True)
    _raises(
        RuntimeError,
        "cross_entropy",
        "(4, 3)",
        "(4,)",
        "long()",
        fn=lambda: F.cross_entropy(logits, cr.tensor([0.0, 1.0, 2.0, 1.0])),
    )


def test_cross_entropy_bool_labels():
    logits = cr.randn(*LOGITS, requires_grad=True)
    _raises(RuntimeError, "integers", "bool", "long()", fn=lambda: F.cross_entropy(logits, cr.tensor([True] * 4)))


@pytest.mark.parametrize("target", [[0, 1, 2], [[0, 1], [2, 1]]])
def test_cross_entropy_label_shape(target):
    logits = cr.randn(*LOGITS, requires_grad=True)
    _raises(
        RuntimeError,
        "(4, 3)",
        "(4,)",
        "one class index per sample",
        fn=lambda: F.cross_entropy(logits, cr.tensor(target)),
    )


@pytest.mark.parametrize("target,lo,hi", [([0, 1, 3, 1], 0, 3), ([0, -1, 2, 1], -1, 2)])
def test_cross_entropy_label_range(target, lo, hi):
    logits = cr.randn(*LOGITS, requires_grad=True)
    _raises(
        IndexError, "[0, 3)", "3 classes", f"from {lo} to {hi}", fn=lambda: F.cross_entropy(logits, cr.tensor(target))
    )


def test_cross_entropy_module_same_errors():
    logits = cr.randn(*LOGITS, requires_grad=True)
    _raises(IndexError, "3 classes", fn=lambda: nn.CrossEntropyLoss()(logits, cr.tensor([0, 1, 7, 1])))


# ----- optimizers -----


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_without_parameters(opt):
    _raises(
        ValueError,
        opt,
        "empty parameter list",
        "model.parameters()",
        fn=lambda: getattr(cr.optim, opt)(nn.Sequential().parameters(), lr=0.1),
    )


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_optimizer_given_a_non_leaf(opt):
    x = cr.randn(3, 4, requires_grad=True)
    _raises(
        ValueError, opt, "not a leaf", "(3, 4)", "Mul", "detach()", fn=lambda: getattr(cr.optim, opt)([x * 2], lr=0.1)
    )


# ----- state dicts: list every problem, load nothing -----


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def _snapshot(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


def _unchanged(model, before):
    after = _snapshot(model)
    return after.keys() == before.keys() and all(np.array_equal(after[k], before[k]) for k in after)


def test_load_state_dict_lists_every_problem_and_loads_nothing():
    model = _model()
    before = _snapshot(model)
    other = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)).state_dict()
    bad = {k: v for k, v in other.items() if k != "2.bias"}
    bad["extra.weight"] = cr.ones(2)
    bad["also.unexpected"] = cr.ones(1)
    msg = _raises(
        RuntimeError,
        "nothing was loaded",
        "Missing key(s)",
        '"2.bias"',
        "Unexpected key(s)",
        '"extra.weight"',
        '"also.unexpected"',
        "Size mismatch",
        fn=lambda: model.load_state_dict(bad),
    )
    for key in ["0.weight", "0.bias", "1.weight", "1.running_mean", "2.weight"]:
        assert key in msg, (key, msg)
    assert "(5, 4)" in msg and "(3, 4)" in msg
    assert _unchanged(model, before)


def test_load_state_dict_strict_false_still_refuses_shape_mismatch():
    model = _model()
    before = _snapshot(model)
    sd = dict(model.state_dict())
    sd["0.weight"] = cr.ones(9, 9)
    _raises(RuntimeError, "0.weight", "(9, 9)", fn=lambda: model.load_state_dict(sd, strict=False))
    assert _unchanged(model, before)


@pytest.mark.parametrize("value", ["hello", None, np.array(1 + 2j), {"a": 1}])
def test_load_state_dict_with_a_value_of_the_wrong_kind_loads_nothing(value):
    """A value that cannot become the parameter's dtype is refused up front: no partial load."""
    model = _model()
    before = _snapshot(model)
    sd = {k: cr.ones(*v.shape) * 7 for k, v in model.state_dict().items()}
    sd["1.num_batches_tracked"] = value
    with pytest.raises((RuntimeError, ValueError, TypeError)) as info:
        model.load_state_dict(sd)
    assert "1.num_batches_tracked" in str(info.value)
    assert _unchanged(model, before)


def test_load_state_dict_good_round_trip():
    model, other = _model(), nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    result = other.load_state_dict(model.state_dict())
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert _unchanged(other, _snapshot(model))
