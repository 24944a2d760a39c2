"""The library pieces the tutorial scripts needed, each checked against torch.

random_split/Subset and Generator (utils.data), Tensor.topk, Size, the RNN layers' defaults and repr,
an optimizer over frozen parameters, and load's map_location/weights_only keywords.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn as nn
from chainrule.data import Subset, random_split

torch = pytest.importorskip("torch")
import torch.utils.data as tud  # noqa: E402

# ----- random_split, Subset, Generator -----


@pytest.mark.parametrize(
    "n, lengths",
    [
        (10, [3, 7]),
        (10, [0.5, 0.5]),
        (10, [0.3, 0.3, 0.4]),
        (11, [0.3, 0.3, 0.4]),
        (7, [0.1, 0.1, 0.8]),
        (5, [0.25, 0.25, 0.25, 0.25]),
        (3, [0.5, 0.5]),
        (80, [0.75, 0.25]),
        (1, [1]),
        (5, [1]),
        (4, [0, 4]),
    ],
)
def test_random_split_sizes_match_torch(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about empty splits
        ours = random_split(list(range(n)), lengths, generator=cr.Generator().manual_seed(0))
        theirs = tud.random_split(list(range(n)), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(x for s in ours for x in s) == list(range(n))  # a partition of the samples


@pytest.mark.parametrize("n, lengths", [(10, [3, 3]), (10, [0.5, 0.6]), (10, [4, 7]), (10, [1.5, -0.5])])
def test_random_split_refuses_what_torch_refuses(n, lengths):
    with pytest.raises(ValueError):
        tud.random_split(range(n), lengths)
    with pytest.raises(ValueError, match="random_split"):
        random_split(range(n), lengths)


def test_random_split_warns_on_an_empty_split_as_torch():
    with pytest.warns(UserWarning):
        tud.random_split(range(3), [0.0, 1.0])
    with pytest.warns(UserWarning, match="split at index 0 is 0"):
        random_split(range(3), [0.0, 1.0])


def test_random_split_is_reproducible_with_a_seeded_generator():
    data = cr.data.TensorDataset(cr.arange(20), cr.arange(20) * 2)
    a = random_split(data, [15, 5], generator=cr.Generator().manual_seed(42))
    b = random_split(data, [15, 5], generator=cr.Generator().manual_seed(42))
    assert a[0].indices == b[0].indices and a[1].indices == b[1].indices
    x, y = a[1][0]
    assert y.item() == 2 * x.item() and x.item() == a[1].indices[0]


def test_subset_indexes_like_torch():
    base = np.array([10, 11, 12, 13, 14])
    ours, theirs = Subset(base, [4, 0, 2]), tud.Subset(base, [4, 0, 2])
    assert len(ours) == len(theirs)
    assert [ours[i] for i in range(3)] == [theirs[i] for i in range(3)]
    assert ours[[0, 2]].tolist() == theirs[[0, 2]].tolist() == [14, 12]  # one lookup with a list


def test_generator_is_seedable_like_torch():
    g = cr.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7  # torch's manual_seed returns self too
    assert torch.Generator().manual_seed(7).initial_seed() == 7
    first = g.permutation(10)
    assert (cr.Generator().manual_seed(7).permutation(10) == first).all()
    assert (
        cr.randn(3, generator=cr.Generator().manual_seed(1)).tolist()
        == cr.randn(3, generator=cr.Generator().manual_seed(1)).tolist()
    )
    assert cr.Generator(device="cpu").device == cr.device("cpu")
    assert str(cr.Generator().device) == str(torch.Generator().device) == "cpu"
    with pytest.raises(RuntimeError, match="Generator: device 'cuda' needs"):
        cr.Generator(device="cuda")


def test_dataloader_takes_a_generator():
    loader = cr.data.DataLoader(
        cr.data.TensorDataset(cr.arange(8)), batch_size=4, shuffle=True, generator=cr.Generator().manual_seed(3)
    )
    again = cr.data.DataLoader(
        cr.data.TensorDataset(cr.arange(8)), batch_size=4, shuffle=True, generator=cr.Generator().manual_seed(3)
    )
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in again]


# ----- topk -----


@settings(deadline=None, max_examples=60)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), data=st.data())
def test_topk_matches_torch(shape, data):
    """Distinct values (a permutation), so the order is unique; values, indices and gradients agree."""
    size = int(np.prod(shape))
    values = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(size).reshape(shape)
    values = values.astype(np.float64) - size / 2
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    largest = data.draw(st.booleans())
    x = cr.tensor(values, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    v, i = cr.topk(x, k, dim=dim, largest=largest)
    tv, ti = torch.topk(t, k, dim=dim, largest=largest)
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == cr.int64
    weights = np.arange(1, v.numel() + 1, dtype=np.float64).reshape(tuple(v.shape))
    (v * cr.tensor(weights)).sum().backward()
    (tv * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_topk_method_keywords_nan_and_ints_match_torch():
    data = np.array([[1.0, np.nan, 3.0, -2.0], [0.5, 4.0, -1.0, 2.0]], dtype=np.float32)
    v, i = cr.tensor(data).topk(2, 1, True)
    tv, ti = torch.tensor(data).topk(2, 1, True)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())  # NaN counts as the largest
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    named = cr.tensor([3, 1, 2]).topk(k=2, largest=False)
    tnamed = torch.tensor([3, 1, 2]).topk(k=2, largest=False)
    assert named.values.tolist() == tnamed.values.tolist() and named.indices.tolist() == tnamed.indices.tolist()
    assert named.values.dtype == cr.int64
    v0, i0 = cr.tensor(2.5).topk(1)
    tv0, ti0 = torch.tensor(2.5).topk(1)
    assert v0.shape == tuple(tv0.shape) == () and i0.item() == ti0.item() == 0
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).topk(3)
    with pytest.raises(RuntimeError, match="topk: k=3 is out of range"):
        cr.tensor([1.0, 2.0]).topk(3)


# ----- Size -----


def test_size_behaves_as_torch_size():
    x, t = cr.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert x.size() == t.size() == (2, 3, 4)
    assert isinstance(x.size(), tuple) and isinstance(x.size(), cr.Size)
    assert x.size() == cr.Size([2, 3, 4])
    assert x.size(1) == t.size(1) and x.size()[-1] == t.size()[-1]
    assert isinstance(x.size()[1:], cr.Size) and isinstance(t.size()[1:], torch.Size)
    assert x.size()[1:] == t.size()[1:] == (3, 4)
    assert x.size().numel() == t.size().numel() == 24
    assert repr(x.size()) == "chainrule.Size([2, 3, 4])"
    assert cr.zeros(()).size() == t[0, 0, 0].size() == ()


# ----- nn.RNN / nn.RNNCell (their values are tested in tests/nn/test_recurrent_torch.py) -----


def test_rnn_defaults_repr_and_errors_follow_torch():
    torch.manual_seed(0)
    ours, theirs = nn.RNN(57, 16), torch.nn.RNN(57, 16)
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    bound = 1 / np.sqrt(16)
    assert all(np.abs(p.detach().numpy()).max() <= bound for p in ours.parameters())
    assert repr(ours) == repr(theirs) == "RNN(57, 16)"
    assert repr(nn.RNN(2, 3, nonlinearity="relu")) == repr(torch.nn.RNN(2, 3, nonlinearity="relu"))
    assert repr(nn.RNNCell(2, 3)) == repr(torch.nn.RNNCell(2, 3))
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == repr(torch.nn.RNNCell(2, 3, nonlinearity="relu"))
    with pytest.raises(ValueError):
        torch.nn.RNN(2, 3, nonlinearity="gelu")
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNN(2, 3, nonlinearity="gelu")


# ----- optimizers over frozen parameters -----


@pytest.mark.parametrize(
    "make", [lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9), lambda lib, ps: lib.optim.Adam(ps, lr=0.1)]
)
def test_optimizer_accepts_frozen_parameters_as_torch(make):
    """The blitz's fine-tuning recipe: freeze a layer, then hand all parameters to the optimizer."""
    results = []
    for lib in (cr, torch):
        frozen = lib.tensor([1.0, 2.0])
        trained = lib.tensor([3.0, -1.0], requires_grad=True)
        opt = make(lib, [frozen, trained])  # neither library refuses this
        (trained * trained * frozen).sum().backward()
        opt.step()
        assert frozen.grad is None and frozen.tolist() == [1.0, 2.0]
        frozen.requires_grad_()  # unfrozen later: it trains
        opt.zero_grad()
        (trained * frozen).sum().backward()
        opt.step()
        results.append((frozen.tolist(), trained.tolist()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


# ----- load's PyTorch keywords -----


def test_load_accepts_torch_keywords(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    for kwargs in ({"weights_only": True}, {"map_location": "cpu"}, {"map_location": "cpu", "weights_only": False}):
        assert cr.load(path, **kwargs)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="map_location.*runs on the CPU"):
        cr.load(path, map_location="cuda:0")


# ----- DataLoader's num_workers / pin_memory -----


def test_dataloader_takes_num_workers_and_pin_memory_as_torch():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    ours = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(x)), batch_size=4, num_workers=2, pin_memory=True)
    theirs = tud.DataLoader(tud.TensorDataset(torch.tensor(x)), batch_size=4, num_workers=2, pin_memory=False)
    assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs]
    with pytest.raises(ValueError):
        tud.DataLoader(range(4), num_workers=-1)
    with pytest.raises(ValueError, match="num_workers must be a non-negative integer"):
        cr.data.DataLoader(range(4), num_workers=-1)
