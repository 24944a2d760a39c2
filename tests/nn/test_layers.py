"""Every layer: gradcheck in float64, and the same layer in PyTorch (same weights) gives the same
outputs, input gradients and parameter gradients (float64 at 1e-10, float32 at 1e-5)."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import functional as F

from ._helpers import compare_with_torch, double

F64 = cr.float64


def check_layer(layer, x_np, extra=()):
    """gradcheck of layer(x) with respect to x and every parameter."""
    x = cr.tensor(x_np, requires_grad=True)
    params = list(layer.parameters())
    assert cr.gradcheck(lambda x, *ps: _sum_outputs(layer(x)), (x, *params))


def _sum_outputs(out):
    if isinstance(out, (tuple, list)):
        parts = [o for item in out for o in (item if isinstance(item, (tuple, list)) else (item,))]
        weights = [float(i + 1) for i in range(len(parts))]
        return tuple(p * w for p, w in zip(parts, weights))
    return out


# ----- Linear -----


def test_linear_gradcheck_and_torch():
    layer = nn.Linear(4, 3, dtype=F64)
    check_layer(layer, double((2, 4)))
    assert cr.gradgradcheck(
        lambda x, w, b: layer(x), (cr.tensor(double((2, 4)), requires_grad=True), layer.weight, layer.bias)
    )
    compare_with_torch(layer, torch.nn.Linear(4, 3, dtype=torch.float64), double((2, 4)), 1e-10, 1e-10)
    compare_with_torch(
        nn.Linear(4, 3, bias=False, dtype=F64),
        torch.nn.Linear(4, 3, bias=False, dtype=torch.float64),
        double((2, 5, 4)),
        1e-10,
        1e-10,
    )


def test_linear_float32():
    out = compare_with_torch(nn.Linear(6, 5), torch.nn.Linear(6, 5), double((4, 6)).astype(np.float32), 1e-5, 1e-5)
    assert out[0].dtype == np.float32


def test_linear_error_names_layer_shapes_and_fix():
    with pytest.raises(RuntimeError) as info:
        nn.Linear(4, 3)(cr.zeros(2, 5))
    assert str(info.value).startswith(
        "Linear(in_features=4, out_features=3, bias=True): input has 5 features in its last dimension "
        "(shape (2, 5)); expected 4"
    )


# ----- Conv -----


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_layer(stride, padding):
    layer = nn.Conv2d(3, 2, 3, stride=stride, padding=padding, dtype=F64)
    x = double((2, 3, 5, 5))
    check_layer(layer, x)
    compare_with_torch(
        layer, torch.nn.Conv2d(3, 2, 3, stride=stride, padding=padding, dtype=torch.float64), x, 1e-10, 1e-10
    )


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 1, 2)])
def test_conv1d_layer(stride, padding, dilation):
    layer = nn.Conv1d(3, 4, 3, stride=stride, padding=padding, dilation=dilation, dtype=F64)
    x = double((2, 3, 8))
    check_layer(layer, x)
    compare_with_torch(
        layer,
        torch.nn.Conv1d(3, 4, 3, stride=stride, padding=padding, dilation=dilation, dtype=torch.float64),
        x,
        1e-10,
        1e-10,
    )


def test_conv_layers_float32():
    compare_with_torch(
        nn.Conv1d(1, 25, 5), torch.nn.Conv1d(1, 25, 5), double((8, 1, 40)).astype(np.float32), 1e-5, 1e-5
    )
    compare_with_torch(
        nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1),
        torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
        double((2, 3, 7, 7)).astype(np.float32),
        1e-5,
        1e-5,
    )


def test_mnist1d_cnn_matches_torch():
    ours = nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, 2, 1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, 2, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(125, 10),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv1d(1, 25, 5, stride=2, padding=2),
        torch.nn.ReLU(),
        torch.nn.Conv1d(25, 25, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.Conv1d(25, 25, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(125, 10),
    )
    compare_with_torch(ours, theirs, double((16, 1, 40)).astype(np.float32), 1e-5, 1e-5)


def test_conv_layer_error():
    with pytest.raises(RuntimeError) as info:
        nn.Conv1d(3, 4, 3)(cr.zeros(2, 1, 10))
    msg = str(info.value)
    assert "Conv1d(3, 4, kernel_size=(3,), stride=(1,))" in msg
    assert "input has 1 channels" in msg and "expected 3" in msg and "in_channels=1" in msg


# ----- pooling -----


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (nn.MaxPool1d(2), torch.nn.MaxPool1d(2), (2, 3, 6)),
        (nn.MaxPool2d(2, stride=1), torch.nn.MaxPool2d(2, stride=1), (2, 3, 5, 5)),
        (nn.AvgPool1d(3, stride=2, padding=1), torch.nn.AvgPool1d(3, stride=2, padding=1), (2, 3, 7)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2), (2, 3, 4, 4)),
    ],
)
def test_pool_layers(ours, theirs, shape):
    x = double(shape)
    check_layer(ours, x)
    assert cr.gradgradcheck(ours, (cr.tensor(x[:1, :2], requires_grad=True),))
    compare_with_torch(ours, theirs, x, 1e-12, 1e-12)
    compare_with_torch(ours, theirs, x.astype(np.float32), 1e-6, 1e-6)


def test_pool_stride_defaults_to_kernel():
    assert nn.MaxPool2d(3).stride == 3 and nn.AvgPool1d(2).stride == 2
    assert nn.MaxPool2d(2)(cr.zeros(1, 1, 6, 6)).shape == (1, 1, 3, 3)


# ----- normalization -----


@pytest.mark.parametrize(
    "ours_cls, theirs_cls, shape",
    [
        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (5, 3)),
        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 2)),
        (nn.BatchNorm2d, torch.nn.BatchNorm2d, (2, 3, 3, 3)),
    ],
)
def test_batchnorm_train_and_eval_match_torch(ours_cls, theirs_cls, shape):
    ours = ours_cls(3, momentum=0.3, dtype=F64)
    theirs = theirs_cls(3, momentum=0.3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
        theirs.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    for step in range(2):  # two training steps move the running statistics identically
        x = double(shape, seed=step)
        to_torch_state = {k: v.clone() for k, v in theirs.state_dict().items()}
        compare_with_torch(ours, theirs, x, 1e-10, 1e-10)
        del to_torch_state
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(ours, name)._data, getattr(theirs, name).numpy(), rtol=1e-12)
        assert int(ours.num_batches_tracked.item()) == step + 1
    ours.eval(), theirs.eval()
    compare_with_torch(ours, theirs, double(shape, seed=9) * 3 + 1, 1e-10, 1e-10)


def test_batchnorm_gradcheck_train_and_eval():
    layer = nn.BatchNorm2d(2, dtype=F64)
    with cr.no_grad():
        layer.weight.copy_(cr.tensor([1.5, -0.5], dtype=F64))
    x = double((2, 2, 2, 2))
    check_layer(layer, x)
    layer.eval()
    layer.running_var._data[:] = [0.5, 2.0]
    check_layer(layer, x)
    assert cr.gradgradcheck(lambda x: layer.train()(x) ** 2, (cr.tensor(x[:, :, :1], requires_grad=True),))


def test_batchnorm_errors():
    with pytest.raises(RuntimeError, match=r"input has 4 channels.*expected 3"):
        nn.BatchNorm1d(3)(cr.zeros(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
    no_stats = nn.BatchNorm1d(3, track_running_stats=False, affine=False)
    assert no_stats.running_mean is None and list(no_stats.parameters()) == []
    out = no_stats.eval()(cr.randn(6, 3) * 5)
    np.testing.assert_allclose(out._data.mean(0), 0, atol=1e-5)  # batch statistics even in eval


def test_layernorm():
    layer = nn.LayerNorm((3, 2), dtype=F64)
    with cr.no_grad():
        layer.weight.copy_(cr.tensor(double((3, 2), 5)))
        layer.bias.copy_(cr.tensor(double((3, 2), 6)))
    x = double((2, 3, 2))
    check_layer(layer, x)
    assert cr.gradgradcheck(lambda x: layer(x), (cr.tensor(x[:1], requires_grad=True),))
    compare_with_torch(layer, torch.nn.LayerNorm((3, 2), dtype=torch.float64), x, 1e-10, 1e-10)
    compare_with_torch(nn.LayerNorm(5), torch.nn.LayerNorm(5), double((4, 5)).astype(np.float32), 1e-5, 1e-5)
    with pytest.raises(RuntimeError, match="must end with the normalized shape"):
        nn.LayerNorm(4)(cr.zeros(2, 5))


# ----- embedding -----


def test_embedding():
    layer = nn.Embedding(6, 3, dtype=F64)
    idx = np.array([[1, 2, 1], [5, 0, 1]])
    w = layer.weight
    assert cr.gradcheck(lambda w: layer(cr.tensor(idx)), (w,))
    compare_with_torch(layer, torch.nn.Embedding(6, 3, dtype=torch.float64), idx, 1e-12, 1e-12)
    padded = nn.Embedding(6, 3, padding_idx=0, dtype=F64)
    assert not padded.weight._data[0].any()
    compare_with_torch(padded, torch.nn.Embedding(6, 3, padding_idx=0, dtype=torch.float64), idx, 1e-12, 1e-12)
    assert not padded.weight.grad._data[0].any()
    with pytest.raises(IndexError, match="num_embeddings > 6"):
        layer(cr.tensor([6]))


# ----- recurrent -----


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_gru_matches_torch(batch_first, num_layers):
    ours = nn.GRU(3, 4, num_layers=num_layers, batch_first=batch_first, dtype=F64)
    theirs = torch.nn.GRU(3, 4, num_layers=num_layers, batch_first=batch_first, dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    compare_with_torch(ours, theirs, double((2, 5, 3)), 1e-10, 1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_matches_torch(batch_first):
    ours = nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, dtype=F64)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    compare_with_torch(ours, theirs, double((5, 2, 3)), 1e-10, 1e-10)


def test_rnn_initial_state_and_float32():
    ours, theirs = nn.GRU(3, 4), torch.nn.GRU(3, 4)
    from ._helpers import to_torch_weights

    to_torch_weights(ours, theirs)
    x, h0 = double((6, 2, 3)).astype(np.float32), double((1, 2, 4), 1).astype(np.float32)
    out, h = ours(cr.tensor(x), cr.tensor(h0))
    tout, th = theirs(torch.tensor(x), torch.tensor(h0))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out._data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h._data, th.detach().numpy(), rtol=1e-5, atol=1e-6)
    lstm, tlstm = nn.LSTM(3, 4), torch.nn.LSTM(3, 4)
    to_torch_weights(lstm, tlstm)
    out, (h, c) = lstm(cr.tensor(x[:, 0]))  # unbatched (seq, features)
    tout, (th, tc) = tlstm(torch.tensor(x[:, 0]))
    assert h.shape == (1, 4)
    np.testing.assert_allclose(c._data, tc.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_gru_cell_and_lstm_cell():
    cell, tcell = nn.GRUCell(3, 4, dtype=F64), torch.nn.GRUCell(3, 4, dtype=torch.float64)
    compare_with_torch(cell, tcell, double((2, 3)), 1e-10, 1e-10)
    check_layer(nn.GRUCell(2, 2, dtype=F64), double((2, 2)))
    lcell, tlcell = nn.LSTMCell(3, 4, dtype=F64), torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    compare_with_torch(lcell, tlcell, double((2, 3)), 1e-10, 1e-10)


def test_gru_lstm_gradcheck_tiny():
    check_layer(nn.GRU(2, 2, dtype=F64), double((3, 1, 2)))
    check_layer(nn.LSTM(2, 2, batch_first=True, dtype=F64), double((1, 3, 2)))


def test_rnn_input_error():
    with pytest.raises(RuntimeError, match="input_size = 3"):
        nn.GRU(3, 4)(cr.zeros(5, 2, 4))


# ----- dropout -----


def test_dropout_identity_cases():
    x = cr.randn(100)
    assert nn.Dropout(0.0)(x) is x
    assert nn.Dropout(0.7).eval()(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert not nn.Dropout(1.0)(x)._data.any()


@pytest.mark.parametrize("p", [0.3, 0.02, 0.5, 0.9, 255.5 / 256])  # the last: every first byte but one drops
def test_dropout_train_statistics_and_gradient(p):
    cr.manual_seed(0)
    x = cr.ones(10_000, requires_grad=True)
    y = nn.Dropout(p)(x)
    kept = y._data != 0
    np.testing.assert_allclose(y._data[kept], 1 / (1 - p), rtol=1e-6)
    sigma = np.sqrt(p * (1 - p) / x.numel())
    assert abs((1 - kept.mean()) - p) < 3 * sigma
    assert abs(y._data.mean() - 1) < 3 * sigma / (1 - p)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)  # the gradient is the same mask
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.Dropout(p)(cr.ones(10_000))._data, y._data)  # seeded: reproducible


# ----- activations and losses -----


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.ELU(0.5), torch.nn.ELU(0.5)),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.Softplus(2.0), torch.nn.Softplus(2.0)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
        (nn.Identity(), torch.nn.Identity()),
        (nn.Flatten(), torch.nn.Flatten()),
    ],
)
def test_activation_modules(ours, theirs):
    x = double((3, 4)) * 2
    check_layer(ours, x)
    compare_with_torch(ours, theirs, x, 1e-10, 1e-12)


@pytest.mark.parametrize(
    "ours, theirs, target",
    [
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), np.array([0, 3, 1])),
        (
            nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1),
            torch.nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1),
            np.array([2, 2, 1]),
        ),
        (nn.NLLLoss(), torch.nn.NLLLoss(), np.array([1, 0, 3])),
        (nn.MSELoss(), torch.nn.MSELoss(), double((3, 4), 7)),
        (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"), double((3, 4), 7)),
        (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), np.random.default_rng(1).random((3, 4))),
        (nn.BCELoss(), torch.nn.BCELoss(), np.random.default_rng(1).random((3, 4))),
    ],
)
def test_loss_modules(ours, theirs, target):
    x = double((3, 4))
    if isinstance(ours, nn.BCELoss):
        x = 1 / (1 + np.exp(-x))
    xt, tt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss, tloss = ours(xt, cr.tensor(target)), theirs(tt, torch.tensor(target))
    np.testing.assert_allclose(loss._data, tloss.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_allclose(xt.grad._data, tt.grad.numpy(), rtol=1e-9, atol=1e-12)
