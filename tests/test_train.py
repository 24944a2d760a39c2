"""fit / evaluate: the iter lines, history, early stopping, and checkpoints that resume bit-for-bit."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.train import History, accuracy, evaluate, fit, load_checkpoint


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 4)).astype(np.float32) + 2.0 * np.eye(3, 4, dtype=np.float32)[y]
    return data.TensorDataset(x, y)


def make(seed=0, dropout=0.0):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    return model, opt


def test_fit_learns_and_prints_iter_lines():
    model, opt = make()
    lines = []
    history = fit(
        model,
        blobs(),
        optimizer=opt,
        steps=60,
        batch_size=20,
        log_every=20,
        print_fn=lines.append,
        eval_data=blobs(60, seed=1),
    )
    iters = [l for l in lines if l.startswith("iter")]
    assert [l.split(",")[0] for l in iters] == ["iter 20", "iter 40", "iter 60"]
    import re

    assert all(re.fullmatch(r"iter \d+, J=\d+\.\d{6}, accu=\d\.\d\d", l) for l in iters), iters
    assert sum(l.startswith("eval") for l in lines) == 3
    assert len(history) == 60 and history.loss[-10:].mean() < history.loss[:10].mean()
    final = history.evals[-1]
    assert final["eval_accuracy"] > 0.8
    loss, acc = evaluate(model, blobs(60, seed=1))
    assert acc == pytest.approx(final["eval_accuracy"]) and loss == pytest.approx(final["eval_loss"])


def test_epochs_and_scheduler_per_epoch():
    model, opt = make()
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, blobs(), optimizer=opt, scheduler=sched, epochs=3, batch_size=40, print_fn=None)
    assert len(history) == 9
    assert history.column("lr").tolist() == [0.01] * 3 + [0.005] * 3 + [0.0025] * 3
    assert history.column("epoch").tolist() == [0] * 3 + [1] * 3 + [2] * 3


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_resume_continues_the_same_trajectory_bit_for_bit(tmp_path, dropout):
    kwargs = dict(steps=14, batch_size=25, seed=3, print_fn=None)  # 5 batches per epoch: the cut is mid-epoch
    model, opt = make(dropout=dropout)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    straight = fit(model, blobs(), optimizer=opt, scheduler=sched, **kwargs)

    model, opt = make(dropout=dropout)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    first = fit(model, blobs(), optimizer=opt, scheduler=sched, **{**kwargs, "steps": 7}, checkpoint_dir=tmp_path)
    assert (tmp_path / "checkpoint.safetensors").exists() and len(first) == 7

    model, opt = make(seed=99, dropout=dropout)  # a different init and RNG: everything must come from the checkpoint
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    resumed = fit(model, blobs(), optimizer=opt, scheduler=sched, **kwargs, checkpoint_dir=tmp_path, resume=True)
    assert len(resumed) == 14
    np.testing.assert_array_equal(resumed.loss, straight.loss)  # bit-for-bit, including the first 7 (restored)
    np.testing.assert_array_equal(resumed.column("lr"), straight.column("lr"))


def test_checkpoint_every_and_load_checkpoint(tmp_path):
    model, opt = make()
    fit(
        model,
        blobs(),
        optimizer=opt,
        steps=10,
        batch_size=30,
        print_fn=None,
        checkpoint_dir=tmp_path,
        checkpoint_every=4,
    )
    other, other_opt = make(seed=5)
    ckpt = load_checkpoint(tmp_path, other, other_opt)
    assert ckpt["step"] == 10
    for a, b in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(a._data, b._data)
    assert other_opt.state_dict()["state"][0]["step"] == 10
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere", other)


def test_early_stopping():
    model, opt = make()
    opt.param_groups[0]["lr"] = 0.5  # far too large: the eval loss stops improving quickly
    lines = []
    history = fit(
        model,
        blobs(),
        optimizer=opt,
        steps=500,
        batch_size=10,
        eval_data=blobs(30, 2),
        eval_every=2,
        early_stopping=3,
        print_fn=lines.append,
        log_every=1000,
    )
    assert history.stopped_early and len(history) < 500
    assert any("early stopping" in l for l in lines)


def test_history_csv_round_trip(tmp_path):
    model, opt = make()
    history = fit(
        model, blobs(), optimizer=opt, steps=6, batch_size=40, eval_data=blobs(30, 2), eval_every=3, print_fn=None
    )
    history.to_csv(tmp_path / "h.csv")
    back = History.from_csv(tmp_path / "h.csv")
    np.testing.assert_array_equal(back.loss, history.loss)
    assert [r["step"] for r in back.evals] == [3, 6]
    assert math.isnan(back.rows[0]["eval_loss"])
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header == "step,epoch,loss,accuracy,lr,eval_loss,eval_accuracy,seconds"


def test_progress_bar_and_plot(tmp_path, capsys):
    model, opt = make()
    history = fit(model, blobs(), optimizer=opt, steps=5, batch_size=40, progress=True, log_every=5)
    err = capsys.readouterr()
    assert "5/5" in err.err and "iter 5, J=" in err.out + err.err
    history.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_accuracy_metric():
    assert accuracy(cr.tensor([[0.1, 0.9], [0.8, 0.2]]), cr.tensor([1, 1])) == 0.5
    assert accuracy(np.array([0.9, 0.2, 0.7]), np.array([1.0, 0.0, 0.0])) == pytest.approx(2 / 3)
    assert math.isnan(accuracy(np.zeros((3, 2)), np.zeros((3, 2))))


def test_fit_errors():
    model, opt = make()
    with pytest.raises(ValueError, match="exactly one of epochs= or steps="):
        fit(model, blobs(), optimizer=opt)
    with pytest.raises(ValueError, match="eval_data"):
        fit(model, blobs(), optimizer=opt, steps=1, early_stopping=2)
    with pytest.raises(TypeError, match="data.train"):
        fit(model, data.xor(), optimizer=opt, steps=1)


def test_fit_with_jit_gives_the_eager_run():
    histories, models = [], []
    for jit in (False, True):
        model, opt = make()
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        # 120 samples in batches of 25: the last batch of each epoch has another shape (a second trace)
        histories.append(
            fit(
                model,
                blobs(),
                optimizer=opt,
                scheduler=sched,
                epochs=3,
                batch_size=25,
                print_fn=None,
                eval_data=blobs(60, seed=1),
                jit=jit,
            )
        )
        models.append(model)
    for column in ("loss", "accuracy", "lr", "eval_loss"):
        np.testing.assert_array_equal(histories[0].column(column), histories[1].column(column))
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_array_equal(p._data, q._data)


def test_fit_with_jit_and_dropout_draws_the_eager_masks():
    runs = []
    for jit in (False, True):
        model, opt = make(dropout=0.3)
        runs.append(fit(model, blobs(), optimizer=opt, steps=12, batch_size=20, print_fn=None, jit=jit).loss)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_progress_is_plain_lines_when_not_a_terminal(capsys):
    model, opt = make()
    fit(model, blobs(), optimizer=opt, steps=20, batch_size=40, progress=True, print_fn=None)
    err = capsys.readouterr().err
    assert "\r" not in err  # no carriage-return frames in a pipe or a log
    lines = err.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("step 20/20 (100%), ")
    assert lines[0].startswith("step 2/20 (10%)")


class _Shell:
    kernel = object()  # what marks a Jupyter kernel's IPython


def _fake_notebook(monkeypatch, widgets):
    import sys
    import types

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: _Shell()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    if not widgets:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` raises ImportError


def test_progress_in_a_notebook_without_ipywidgets_is_the_text_bar_silently(monkeypatch):
    import warnings

    from chainrule._progress import progress_bar

    _fake_notebook(monkeypatch, widgets=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto warned "IProgress not found" here
        bar = progress_bar(5)
    try:
        assert type(bar).__module__ == "tqdm.std"
    finally:
        bar.close()


def test_progress_in_a_notebook_with_ipywidgets_is_the_widget(monkeypatch):
    pytest.importorskip("ipywidgets")
    from chainrule._progress import progress_bar

    _fake_notebook(monkeypatch, widgets=True)
    with pytest.MonkeyPatch.context() as m:
        import tqdm.notebook

        m.setattr(tqdm.notebook, "tqdm", lambda **kw: ("widget", kw["total"]))  # no display outside Jupyter
        assert progress_bar(5) == ("widget", 5)


def test_mnist1d_says_it_is_generating_once(tmp_path, monkeypatch, capsys):
    from chainrule.data import builtin

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tiny = builtin.DataSplits(
        np.zeros((4000, 40), np.float32),
        np.zeros(4000, np.int64),
        np.zeros((1000, 40), np.float32),
        np.zeros(1000, np.int64),
    )
    monkeypatch.setattr(builtin, "_generate_mnist1d", lambda: tiny)
    builtin.mnist1d()
    assert capsys.readouterr().err.count("generating MNIST-1D") == 1
    builtin.mnist1d()  # cached: silent
    assert capsys.readouterr().err == ""
