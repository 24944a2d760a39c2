"""Hunt for silent wrong numbers in what a student sees while training: fit's losses and
accuracies against a hand-written torch loop, evaluate's sample means, train/eval modes,
resuming, DataLoader/collate/random_split against torch.utils.data, and save/load round trips."""

import collections
import math
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.autograd import grad_mode
from chainrule.train import accuracy, evaluate, fit
from test_train import blobs, make

torch = pytest.importorskip("torch")


# ----- fit and evaluate against a hand-written torch loop -----


def _linear_pair(seed=0, n_in=4, n_out=3):
    """A chainrule Linear and a torch Linear with the same weights (float64)."""
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    ours = nn.Linear(n_in, n_out)
    ours.weight._data = w.copy()
    ours.bias._data = b.copy()
    theirs = torch.nn.Linear(n_in, n_out).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(w))
        theirs.bias.copy_(torch.from_numpy(b))
    return ours, theirs


def _blob_arrays(n=50, seed=0):
    ds = blobs(n, seed)
    x, y = ds.arrays
    return x.astype(np.float64), y.astype(np.int64)


def test_fit_step_losses_and_accuracies_match_a_torch_loop_with_a_short_last_batch():
    x, y = _blob_arrays(50)  # batches of 16: 16, 16, 16, 2
    ours, theirs = _linear_pair()
    opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    history = fit(ours, (x, y), optimizer=opt, epochs=2, batch_size=16, shuffle=False, print_fn=None)

    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16
    )
    losses, accs = [], []
    for _ in range(2):
        for xb, yb in loader:
            out = theirs(xb)
            loss = torch.nn.functional.cross_entropy(out, yb)
            topt.zero_grad()
            loss.backward()
            topt.step()
            losses.append(loss.item())
            accs.append((out.argmax(1) == yb).double().mean().item())
    assert len(history) == 8
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)
    np.testing.assert_array_equal(history.accuracy, accs)  # the 2-sample batch's accuracy is over 2 samples
    assert history.column("epoch").tolist() == [0] * 4 + [1] * 4


def _halving_collate(samples):
    """A collate_fn that changes the data (x / 2), so a run that skipped it would train on other numbers."""
    x = np.stack([np.asarray(a) for a, _ in samples]) / 2
    return cr.tensor(x), cr.tensor(np.array([int(b) for _, b in samples]))


def test_fit_trains_on_a_dataloaders_batches_as_a_torch_loop_over_the_same_loader():
    # fit(model, DataLoader(...)) once used only the loader's dataset: batch_size 32 and the default
    # collate, whatever the loader said
    x, y = _blob_arrays(50)
    ours, theirs = _linear_pair(seed=2)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=7, drop_last=True, collate_fn=_halving_collate)
    history = fit(ours, loader, optimizer=optim.SGD(ours.parameters(), lr=0.1), epochs=2, print_fn=None)

    topt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    tloader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=7, drop_last=True
    )
    losses = []
    for _ in range(2):
        for xb, yb in tloader:
            loss = torch.nn.functional.cross_entropy(theirs(xb / 2), yb)
            topt.zero_grad()
            loss.backward()
            topt.step()
            losses.append(loss.item())
    assert len(history) == len(losses) == 14  # 7 full batches of 7 a epoch, the last sample dropped
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-10)
    # evaluate and eval_data take the loader's collate too
    loss, _ = evaluate(ours, loader)
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x) / 2), torch.from_numpy(y)).item()
    assert loss == pytest.approx(want, rel=1e-10)
    history = fit(
        ours, (x, y), optimizer=optim.SGD(ours.parameters(), lr=0.0), steps=1, eval_data=loader, print_fn=None
    )
    assert history.column("eval_loss")[-1] == pytest.approx(want, rel=1e-10)


def test_fit_draws_a_shuffled_dataloaders_orders_from_its_seed():
    x, y = _blob_arrays(30)
    seen = []

    def collate(samples):
        seen.append([int(np.flatnonzero((x == np.asarray(a)).all(1))[0]) for a, _ in samples])
        return data.default_collate(samples)

    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=10, shuffle=True, seed=5, collate_fn=collate)
    model = nn.Linear(4, 3).double()
    fit(model, loader, optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2, print_fn=None)
    orders = [np.random.default_rng([5, e]).permutation(30).tolist() for e in range(2)]
    assert seen == [order[i : i + 10] for order in orders for i in range(0, 30, 10)]


@pytest.mark.parametrize(
    "given", [{"batch_size": 32}, {"shuffle": True}, {"drop_last": True}, {"seed": 1}, {"batch_size": 8, "seed": 3}]
)
def test_fit_refuses_arguments_that_contradict_its_dataloader(given):
    x, y = _blob_arrays(30)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, seed=3)
    model = nn.Linear(4, 3).double()
    opt = optim.SGD(model.parameters(), lr=0.1)
    clash = {k: v for k, v in given.items() if v != getattr(loader, k)}
    if not clash:  # repeating the loader's own values is fine
        assert len(fit(model, loader, optimizer=opt, steps=2, print_fn=None, **given)) == 2
        return
    with pytest.raises(ValueError, match="train_data is a DataLoader with") as info:
        fit(model, loader, optimizer=opt, steps=2, print_fn=None, **given)
    for k, v in clash.items():
        assert f"{k}={getattr(loader, k)!r}" in str(info.value) and f"{k}={v!r}" in str(info.value)


def test_evaluate_is_the_mean_over_samples_not_over_batches():
    x, y = _blob_arrays(50)
    ours, theirs = _linear_pair(seed=1)
    loss, acc = evaluate(ours, (x, y), batch_size=16)  # 16, 16, 16, 2: the last batch is small
    with torch.no_grad():
        out = theirs(torch.from_numpy(x))
        want_loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(y)).item()
        want_acc = (out.argmax(1) == torch.from_numpy(y)).double().mean().item()
    assert loss == pytest.approx(want_loss, rel=1e-12)
    assert acc == pytest.approx(want_acc, rel=1e-12)
    batch_means = np.mean([evaluate(ours, (x[i : i + 16], y[i : i + 16])).loss for i in range(0, 50, 16)])
    assert abs(batch_means - want_loss) > 1e-6  # the data makes the two means differ, so the check means something


class _Recorder(nn.Module):
    """Dropout + BatchNorm model that records (training, grad enabled) at each forward."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
        self.seen = []

    def forward(self, x):
        self.seen.append((self.body[2].training, self.body[1].training, grad_mode.is_grad_enabled()))
        return self.body(x)


def test_evaluation_runs_in_eval_mode_without_grad_and_training_resumes_in_train_mode():
    cr.manual_seed(0)
    model = _Recorder()
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = _blob_arrays(40)
    fit(model, (x, y), optimizer=opt, steps=6, batch_size=20, eval_data=(x, y), eval_every=2, print_fn=None)
    # step, step, eval, step, step, eval, step, step, eval (the eval set is one batch of 40)
    train, ev = (True, True, True), (False, False, False)
    assert model.seen == [train, train, ev] * 3
    assert model.training and model.body[2].training

    # evaluate leaves the running statistics alone and gives the eval-mode output's loss
    model.eval()
    before = model.body[1].running_mean.numpy().copy()
    with grad_mode.no_grad():
        want = float(cr.nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).item())
    model.train()
    assert evaluate(model, (x, y), batch_size=7).loss == pytest.approx(want, rel=1e-6)
    np.testing.assert_array_equal(model.body[1].running_mean.numpy(), before)
    assert model.training


def test_evaluate_keeps_eval_mode_for_a_model_given_in_eval_mode():
    model, _ = make(dropout=0.5)
    model.eval()
    evaluate(model, blobs(30))
    assert not model.training and not model[2].training


# ----- accuracy -----


def test_accuracy_uses_the_class_axis_of_cross_entropy_for_k_dim_outputs():
    rng = np.random.default_rng(0)
    out = rng.normal(size=(4, 3, 3))  # (N, C, L) with C == L: argmax(-1) would give a plausible, wrong number
    tgt = rng.integers(0, 3, size=(4, 3))
    want = float(torch.mean((torch.from_numpy(out).argmax(1) == torch.from_numpy(tgt)).double()))
    assert accuracy(out, tgt) == pytest.approx(want)
    out2, tgt2 = rng.normal(size=(4, 3, 5)), rng.integers(0, 3, size=(4, 5))  # was NaN
    assert accuracy(out2, tgt2) == pytest.approx(np.mean(out2.argmax(1) == tgt2))
    # channels-last (N, L, C) outputs with (N, L) targets, when only the last axis fits
    out3, tgt3 = rng.normal(size=(4, 5, 3)), rng.integers(0, 3, size=(4, 5))
    assert accuracy(out3, tgt3) == pytest.approx(np.mean(out3.argmax(-1) == tgt3))


def test_accuracy_leaves_out_ignored_targets():
    out = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0]])
    tgt = np.array([0, 1, -100, -100])  # padding, as cross_entropy's ignore_index
    assert accuracy(out, tgt) == 1.0
    assert math.isnan(accuracy(out, np.full(4, -100)))


def test_accuracy_is_nan_for_regression_targets():
    assert math.isnan(accuracy(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.2, 2.9])))  # was 1.0
    assert math.isnan(accuracy(np.array([[0.2], [3.0]]), np.array([[0.0], [2.5]])))
    assert accuracy(np.array([[0.9], [0.2]]), np.array([[1.0], [1.0]])) == 0.5


def test_fit_with_bce_with_logits_thresholds_the_logits_at_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2))
    y = (x[:, :1] + 0.3 * rng.normal(size=(64, 1)) > 0).astype(np.float64)
    cr.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.BCEWithLogitsLoss()
    history = fit(
        model, (x, y), loss_fn=loss_fn, optimizer=opt, steps=2, batch_size=64, eval_data=(x, y), print_fn=None
    )
    logits = model(cr.tensor(x)).detach().numpy()
    want = float(np.mean((logits > 0) == (y > 0.5)))  # a sigmoid(logit) > 0.5 prediction
    assert history.evals[-1]["eval_accuracy"] == pytest.approx(want)
    assert evaluate(model, (x, y), loss_fn=nn.functional.binary_cross_entropy_with_logits).accuracy == pytest.approx(
        want
    )
    assert want != float(np.mean((logits > 0.5) == (y > 0.5)))  # the old threshold gives another number here


# ----- resuming -----


class _Augmented(data.Dataset):
    """blobs() with noise drawn from chainrule's global generator at every __getitem__."""

    def __init__(self):
        self.base = blobs()

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return x + cr.randn(4) * 0.1, y


def test_resume_mid_epoch_with_an_augmenting_dataset_is_the_uninterrupted_run(tmp_path):
    # 5 batches per epoch: the cut at step 6 is mid-epoch, and on an evaluation step
    def run(model, opt, **options):
        settings = dict(steps=14, batch_size=25, seed=3, print_fn=None, eval_data=blobs(30, 1), eval_every=3)
        return fit(model, _Augmented(), optimizer=opt, **{**settings, **options})

    straight = run(*make(dropout=0.2))
    run(*make(dropout=0.2), checkpoint_dir=tmp_path, steps=6)
    resumed = run(*make(seed=9, dropout=0.2), checkpoint_dir=tmp_path, resume=True)
    for column in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
        np.testing.assert_array_equal(resumed.column(column), straight.column(column))


# ----- DataLoader and collate against torch.utils.data -----


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)])
def test_loader_batches_match_torch(n, batch_size, drop_last):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)

    class Plain(data.Dataset):  # the per-sample path
        def __len__(self):
            return n

        def __getitem__(self, i):
            return x[i], int(i)

    want = [
        (a.numpy(), b.numpy())
        for a, b in torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(x), torch.arange(n)),
            batch_size=batch_size,
            drop_last=drop_last,
        )
    ]
    for ds in (data.TensorDataset(x, np.arange(n)), Plain()):
        loader = data.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
        got = [(a.numpy(), b.numpy()) for a, b in loader]
        assert len(loader) == len(want) == len(got)
        for (ga, gb), (wa, wb) in zip(got, want):
            np.testing.assert_array_equal(ga, wa)
            np.testing.assert_array_equal(gb, wb)
            assert ga.dtype == np.float32 and gb.dtype == np.int64


def test_shuffle_with_a_generator_draws_a_new_permutation_each_epoch_and_covers_every_sample():
    ds = data.TensorDataset(np.arange(30))
    loader = data.DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(1))
    epochs = [np.concatenate([b[0].numpy() for b in loader]) for _ in range(3)]
    assert all(sorted(e.tolist()) == list(range(30)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    again = data.DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in again]), epochs[0])


def test_collate_of_nested_structures_matches_torch():
    samples = [{"x": np.full(2, i, np.float32), "meta": (i, [np.int32(i), 2.5 * i]), "name": f"s{i}"} for i in range(3)]
    ours = data.default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    np.testing.assert_array_equal(ours["x"].numpy(), theirs["x"].numpy())
    assert ours["x"].dtype == np.float32
    assert isinstance(ours["meta"], tuple) and isinstance(ours["meta"][1], list)
    np.testing.assert_array_equal(ours["meta"][0].numpy(), theirs["meta"][0].numpy())
    assert ours["meta"][0].dtype == np.int64  # Python ints -> int64, as torch
    assert ours["meta"][1][0].dtype == np.int32  # NumPy scalars keep their dtype
    np.testing.assert_array_equal(ours["meta"][1][1].numpy(), theirs["meta"][1][1].numpy())
    assert ours["name"] == theirs["name"] == ["s0", "s1", "s2"]  # was a string Tensor


def test_collate_keeps_the_dtype_of_numpy_float64_scalars():
    batch = data.default_collate([np.float64(0.1), np.float64(1 / 3)])
    want = torch.utils.data.default_collate([np.float64(0.1), np.float64(1 / 3)])
    assert batch.dtype == np.float64 and str(want.dtype) == "torch.float64"  # was float32 (lost digits)
    np.testing.assert_array_equal(batch.numpy(), want.numpy())


def test_collate_of_named_tuples():
    Pair = collections.namedtuple("Pair", "x y")
    batch = data.default_collate([Pair(np.ones(2, np.float32), 1), Pair(np.zeros(2, np.float32), 0)])
    assert type(batch) is Pair
    np.testing.assert_array_equal(batch.y.numpy(), [1, 0])
    np.testing.assert_array_equal(batch.x.numpy(), [[1, 1], [0, 0]])


def test_a_tensor_dataset_subclass_with_its_own_getitem_is_called():
    class Normalized(data.TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2.0 - 1.0, y

    x = np.random.default_rng(0).random((6, 3)).astype(np.float32)
    ds = Normalized(x, np.arange(6))
    xb, yb = next(iter(data.DataLoader(ds, batch_size=6)))
    np.testing.assert_allclose(xb.numpy(), x * 2 - 1, rtol=1e-6)  # was the raw x (the slicing shortcut)
    np.testing.assert_array_equal(yb.numpy(), np.arange(6))


# ----- random_split and the built-in data sets -----


@pytest.mark.parametrize("n, lengths", [(10, [0.7, 0.3]), (11, [0.5, 0.25, 0.25]), (7, [0.1, 0.9]), (5, [2, 3])])
def test_random_split_sizes_match_torch_and_parts_partition_the_data(n, lengths):
    ds = data.TensorDataset(np.arange(n))
    parts = data.random_split(ds, lengths, generator=np.random.default_rng(0))
    want = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in want]
    seen = sorted(int(p[i][0].item()) for p in parts for i in range(len(p)))
    assert seen == list(range(n))
    again = data.random_split(ds, lengths, generator=np.random.default_rng(0))
    assert [list(p.indices) for p in parts] == [list(p.indices) for p in again]


def test_builtin_data_sets_shapes_dtypes_labels_and_determinism():
    pytest.importorskip("sklearn")
    d = data.digits()
    assert d.x_train.shape == (1438, 64) and d.x_test.shape == (359, 64)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert set(d.y_train.tolist()) == set(range(10)) and d.num_classes == 10
    e = data.digits()
    np.testing.assert_array_equal(d.x_test, e.x_test)
    np.testing.assert_array_equal(d.y_train, e.y_train)
    # train and test are disjoint and together are the 1797 samples
    from sklearn.datasets import load_digits

    all_rows = {r.tobytes() for r in (load_digits().data / 16.0).astype(np.float32)}
    train_rows = {r.tobytes() for r in d.x_train}
    assert len(d.x_train) + len(d.x_test) == 1797
    assert {r.tobytes() for r in d.x_test} <= all_rows and train_rows <= all_rows
    x, y, xt, yt = data.xor()
    assert x.dtype == np.float32 and y.tolist() == [0, 1, 1, 0] and (x.sum(1) % 2 == y).all()


# ----- save / load -----


def test_round_trips_of_dtypes_extremes_views_and_transposes(tmp_path):
    big = np.arange(60, dtype=np.int64).reshape(6, 10) * (2**57)
    obj = {
        "i8": np.array([-128, 0, 127], np.int8),
        "u8": np.array([0, 255], np.uint8),
        "i64": np.array([2**63 - 1, -(2**63)], np.int64),
        "f16": np.array([65504.0, 6e-8, -0.0, np.inf, np.nan], np.float16),
        "bool0d": np.array(True),
        "empty": np.zeros((0, 3), np.float16),
        "transposed": cr.tensor(big).T,
        "strided_view": big[1:5:2, ::3],
        "f64_fortran": np.asfortranarray(np.random.default_rng(0).normal(size=(3, 4))),
        "bigendian": np.arange(4, dtype=">i4"),
    }
    path = tmp_path / "all.safetensors"
    cr.save(obj, path)
    back = cr.load(path)
    for key, value in obj.items():
        want = value.numpy() if isinstance(value, cr.Tensor) else value
        got = back[key].numpy() if isinstance(back[key], cr.Tensor) else back[key]
        assert got.shape == want.shape, key
        assert got.dtype == want.dtype.newbyteorder("="), key
        np.testing.assert_array_equal(got, want, err_msg=key)
        if want.dtype.kind == "f":
            assert np.array_equal(np.signbit(got), np.signbit(want)), key
    assert isinstance(back["transposed"], cr.Tensor) and isinstance(back["strided_view"], np.ndarray)


def test_optimizer_state_round_trip_continues_the_same_training(tmp_path):
    x, y = _blob_arrays(40)

    def run(model, opt, steps):
        for _ in range(steps):
            loss = cr.nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.item())

    losses = []
    for opt_cls, kw in ((optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)), (optim.Adam, dict(lr=0.05))):
        model, _ = make()
        opt = opt_cls(model.parameters(), **kw)
        run(model, opt, 3)
        cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 3}, tmp_path / "c.safetensors")
        straight = run(model, opt, 3)

        model2, _ = make(seed=7)
        opt2 = opt_cls(model2.parameters(), **kw)
        ckpt = cr.load(tmp_path / "c.safetensors")
        assert ckpt["step"] == 3 and isinstance(ckpt["step"], int)
        model2.load_state_dict(ckpt["model"])
        opt2.load_state_dict(ckpt["optimizer"])
        assert run(model2, opt2, 3) == straight
        losses.append(straight)
    assert all(math.isfinite(v) for v in losses)


def test_load_state_dict_strict_and_not_strict_after_a_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(cr.randn(4, 2))  # moves the running statistics off their initial values
    cr.save(model.state_dict(), tmp_path / "m.safetensors")
    state = cr.load(tmp_path / "m.safetensors")
    assert state["1.num_batches_tracked"].dtype == np.int64
    other = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    partial = {k: v for k, v in state.items() if k != "1.running_var"}
    partial["extra"] = cr.zeros(1)
    with pytest.raises(RuntimeError, match="running_var"):
        other.load_state_dict(partial)
    for k, v in other.state_dict().items():  # a refused strict load changes nothing
        np.testing.assert_array_equal(v.numpy(), before[k])
    result = other.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(other.state_dict()["1.running_mean"].numpy(), state["1.running_mean"].numpy())
    np.testing.assert_array_equal(other.state_dict()["1.running_var"].numpy(), before["1.running_var"])


def test_a_save_that_fails_mid_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    import safetensors.numpy

    path = tmp_path / "ckpt.safetensors"
    cr.save({"w": cr.ones(3), "step": 1}, path)
    before = path.read_bytes()
    real = safetensors.numpy.save_file

    def half(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:  # a half-written file, then the failure
            f.truncate(os.path.getsize(filename) // 2)
        raise OSError("killed")

    monkeypatch.setattr(safetensors.numpy, "save_file", half)
    with pytest.raises(OSError, match="killed"):
        cr.save({"w": cr.zeros(1000), "step": 2}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert cr.load(path)["step"] == 1


def test_loading_metadata_that_names_code_builds_only_data(tmp_path):
    import json

    tree = {"__dict__": [["cls", {"__class__": "os.system", "args": ["touch pwned"]}]]}
    arrays = {"w": np.ones(1, np.float32)}
    cr.io.write_safetensors(arrays, tmp_path / "x.safetensors", {"chainrule.tree": json.dumps(tree)})
    with pytest.raises(ValueError, match="unrecognized object"):
        cr.load(tmp_path / "x.safetensors")
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
