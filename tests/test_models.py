"""chainrule.models: the MNIST-1D reference models, importable without the CLI, checked against torch."""

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.models import MODEL_DEFAULTS, BiGRU, ConvNet, build_model

torch = pytest.importorskip("torch")


def test_models_import_without_the_cli():
    code = (
        "import sys\nfrom chainrule.models import build_model\n"
        "assert build_model('cnn', 40, 10).num_parameters() == 5210\n"
        "assert 'chainrule.cli' not in sys.modules and 'sympy' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("model,params", [("logreg", 410), ("mlp", 15210), ("cnn", 5210), ("gru", 5134)])
def test_reference_parameter_counts(model, params):
    # the mnist1d repository's LinearBase, MLPBase, ConvBase and GRUBase print these counts
    assert build_model(model, 40, 10, hidden=MODEL_DEFAULTS[model].get("hidden")).num_parameters() == params


def _copy_into(torch_module, state):
    with torch.no_grad():
        for name, value in state.items():
            dict(torch_module.named_parameters())[name].copy_(torch.from_numpy(np.asarray(value._data)))


class _TorchMLP(torch.nn.Module):
    """The mnist1d reference MLPBase, written in torch: h2 = h1 + relu(W2 h1)."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            [torch.nn.Linear(40, 100), torch.nn.Linear(100, 100), torch.nn.Linear(100, 10)]
        )

    def forward(self, x):
        h = torch.relu(self.layers[0](x))
        h = h + torch.relu(self.layers[1](h))
        return self.layers[2](h)


class _TorchConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, 25, 5, stride=2, padding=1)
        self.conv2 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
        self.linear = torch.nn.Linear(125, 10)

    def forward(self, x):
        h = x.reshape(x.shape[0], 1, -1)
        h = torch.relu(self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(h))))))
        return self.linear(h.reshape(h.shape[0], -1))


class _TorchGRUBase(torch.nn.Module):
    """The mnist1d reference GRUBase (notebooks/models.py), written in torch: its keys are BiGRU's."""

    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(1, 6, batch_first=True, bidirectional=True)
        self.linear = torch.nn.Linear(2 * 6 * 40, 10)

    def forward(self, x):
        h, _ = self.gru(x.reshape(*x.shape[:2], 1))
        return self.linear(h.reshape(h.shape[0], -1))


@pytest.mark.parametrize("name,torch_model", [("mlp", _TorchMLP), ("cnn", _TorchConv), ("gru", _TorchGRUBase)])
def test_forward_and_gradients_match_torch(name, torch_model):
    cr.manual_seed(0)
    ours = build_model(name, 40, 10)
    theirs = torch_model().double()
    _copy_into(theirs, {k: v.double() for k, v in ours.state_dict().items()})
    ours = ours.double()
    x = np.random.default_rng(0).normal(size=(7, 40))
    out = ours(cr.tensor(x))
    expected = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for key, param in ours.named_parameters():
        np.testing.assert_allclose(
            param.grad.numpy(), dict(theirs.named_parameters())[key].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=key
        )


def _old_layout(state):
    """A BiGRU state dict in the layout chainrule wrote before BiGRU held one bidirectional nn.GRU."""
    old = {}
    for key, value in state.items():
        if key.startswith("gru.") and key.endswith("_reverse"):
            key = "backward_gru." + key[len("gru.") : -len("_reverse")]
        elif key.startswith("gru."):
            key = "forward_gru." + key[len("gru.") :]
        old[key] = value
    return old


def test_bigru_loads_the_old_two_gru_layout():
    cr.manual_seed(0)
    saved = BiGRU(12, 3, hidden=4)
    old = _old_layout(saved.state_dict())
    assert "backward_gru.weight_hh_l0" in old and "forward_gru.bias_ih_l0" in old
    cr.manual_seed(1)
    model = BiGRU(12, 3, hidden=4)
    assert model.load_state_dict(old) == ([], [])
    x = cr.tensor(np.random.default_rng(1).normal(size=(5, 12)).astype(np.float32))
    np.testing.assert_array_equal(model(x).detach().numpy(), saved(x).detach().numpy())
    with pytest.raises(RuntimeError, match='Missing key.*"gru.bias_hh_l0_reverse"'):
        model.load_state_dict({k: v for k, v in old.items() if k != "backward_gru.bias_hh_l0"})


def test_an_old_layout_checkpoint_resumes_bit_for_bit(tmp_path):
    from chainrule import io
    from chainrule.train import CHECKPOINT, fit

    x = np.random.default_rng(0).normal(size=(40, 12)).astype(np.float32)
    data = (x, (np.arange(40) % 3).astype(np.int64))

    def run(steps, **kwargs):
        cr.manual_seed(0)
        model = BiGRU(12, 3, hidden=4)
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        return fit(model, data, optimizer=opt, steps=steps, batch_size=10, print_fn=None, **kwargs)

    straight = run(6)
    run(3, checkpoint_dir=tmp_path)
    ckpt = io.load(tmp_path / CHECKPOINT)
    ckpt["model"] = _old_layout(ckpt["model"])
    io.save(ckpt, tmp_path / CHECKPOINT)
    resumed = run(6, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.loss, straight.loss)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: build_model("mlp", 40, 10, hidden="0"), "positive integers"),
        (lambda: build_model("mlp", 40, 10, hidden="8,,8"), "positive integers"),
        (lambda: build_model("mlp", 40, 10, hidden=[8, -1]), "positive integer"),
        (lambda: build_model("mlp", 40, 10, activation="relu6"), "unknown activation 'relu6'"),
        (lambda: build_model("gru", 40, 10, hidden="6,6"), "one width"),
        (lambda: build_model("mpl", 40, 10), "choose one of logreg, mlp, cnn, gru"),
        (lambda: ConvNet(40, 10, channels=0), "channels must be a positive integer"),
        (lambda: ConvNet(2, 10), "too short"),
    ],
)
def test_bad_sizes_are_refused_before_allocating(call, message):
    with pytest.raises(ValueError, match=message):
        call()
