"""The training loop: fit() and evaluate(), with progress, `iter, J, accu` lines, history and checkpoints.

Checkpoints (chainrule.save, atomic) hold the model, optimizer, scheduler, the global RNG
state, the step and the history; the data order is a function of (seed, epoch), so a
resumed run continues the exact loss trajectory of an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import pathlib
import time
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import _dtypes
from .autograd import grad_mode
from .data.builtin import DataSplits
from .data.dataset import DataLoader, TensorDataset
from .io import load, save
from .ops.nn import cross_entropy
from .tensor import Tensor

if TYPE_CHECKING:
    import os
    from collections.abc import Callable
    from typing import Any

    from ._typing import Module, TensorLike
    from .optim.optimizer import Optimizer

CHECKPOINT = "checkpoint.safetensors"
COLUMNS = ("step", "epoch", "loss", "accuracy", "lr", "eval_loss", "eval_accuracy", "seconds")


def accuracy(output: TensorLike, target: TensorLike, threshold: float = 0.5) -> float:
    """Share of correct predictions.

    Class scores with integer targets: argmax over the class axis, which is axis 1 as in
    cross_entropy ((N, C) outputs with (N,) targets, (N, C, d1, ...) with (N, d1, ...)), else the
    last axis ((N, L, C) outputs with (N, L) targets) when only that fits the target's shape.
    Negative targets (cross_entropy's ``ignore_index=-100``, padding) are left out of the count.
    For one output per sample, ``output > threshold`` against 0/1 targets (``threshold=0`` for
    logits, which ``fit`` and ``evaluate`` choose when the loss is binary_cross_entropy_with_logits).

    Returns NaN when the outputs and targets don't look like classification (say, regression
    targets that are not all 0 or 1).
    """
    out = output._data if isinstance(output, Tensor) else np.asarray(output)
    tgt = target._data if isinstance(target, Tensor) else np.asarray(target)
    if out.ndim >= 2 and out.shape[1] > 1 and tgt.dtype.kind in "iub":
        if tgt.shape == out.shape[:1] + out.shape[2:]:
            pred = out.argmax(1)
        elif tgt.shape == out.shape[:-1] and out.shape[-1] > 1:
            pred = out.argmax(-1)
        else:
            pred = None
        if pred is not None:
            keep = tgt >= 0
            return float(np.mean(pred[keep] == tgt[keep])) if keep.any() else math.nan
    if out.size == tgt.size and out.size and (out.ndim <= 1 or out.shape[-1] == 1) and np.isin(tgt, (0, 1)).all():
        return float(np.mean((out.reshape(-1) > threshold) == (tgt.reshape(-1) > 0.5)))
    return math.nan


def _default_metric(loss_fn) -> Callable[[Tensor, Tensor], float]:
    """accuracy, thresholded at 0 when the loss takes logits of one output (BCE with logits)."""
    name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
    if name in ("binary_cross_entropy_with_logits", "BCEWithLogitsLoss"):
        return lambda output, target: accuracy(output, target, threshold=0.0)
    return accuracy


class EvalResult(NamedTuple):
    loss: float
    accuracy: float


class History:
    """What fit() recorded: one row per step (step, epoch, loss, accuracy, lr) with the
    evaluation results (eval_loss, eval_accuracy) on the steps where it evaluated.

    Attributes:
        rows: list of dicts with the keys in ``COLUMNS`` (NaN where not measured).
        stopped_early: whether early stopping ended the run.
    """

    def __init__(self, rows: list[dict] | None = None) -> None:
        self.rows: list[dict] = rows or []
        self.stopped_early = False

    def __len__(self):
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        return np.array([row[name] for row in self.rows], dtype=np.float64)

    @property
    def loss(self) -> np.ndarray:
        """Training loss per step."""
        return self.column("loss")

    @property
    def accuracy(self) -> np.ndarray:
        return self.column("accuracy")

    @property
    def evals(self) -> list[dict]:
        """The rows where an evaluation ran."""
        return [row for row in self.rows if not math.isnan(row["eval_loss"])]

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the rows as CSV (empty cells where a value wasn't measured)."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for row in self.rows:
                writer.writerow(
                    [
                        ""
                        if isinstance(row[c], float) and math.isnan(row[c])
                        else (repr(row[c]) if isinstance(row[c], float) else row[c])
                        for c in COLUMNS
                    ]
                )

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> History:
        with open(path, newline="") as f:
            rows = [
                {c: (int(r[c]) if c in ("step", "epoch") else float(r[c]) if r[c] else math.nan) for c in COLUMNS}
                for r in csv.DictReader(f)
            ]
        return cls(rows)

    def _pack(self) -> dict:
        table = np.array([[row[c] for c in COLUMNS] for row in self.rows], dtype=np.float64).reshape(-1, len(COLUMNS))
        return {"columns": list(COLUMNS), "table": table}

    @classmethod
    def _unpack(cls, packed) -> History:
        columns, table = packed["columns"], np.asarray(packed["table"])
        rows = [{c: (int(v) if c in ("step", "epoch") else float(v)) for c, v in zip(columns, r)} for r in table]
        return cls(rows)

    def plot(self, path: str | os.PathLike[str], title: str | None = None) -> None:
        """Save a PNG of the loss and accuracy curves (matplotlib; `chainrule.viz.plot_history(h)` shows them)."""
        from matplotlib.figure import Figure  # no pyplot: the notebook's or desktop's backend stays as it is

        steps, evals = self.column("step"), self.evals
        fig = Figure(figsize=(10, 4))
        ax_loss, ax_acc = fig.subplots(1, 2)
        ax_loss.plot(steps, self.loss, lw=0.6, alpha=0.6, label="train (batch)")
        ax_acc.plot(steps, self.accuracy, lw=0.6, alpha=0.6, label="train (batch)")
        if evals:
            ax_loss.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], "o-", ms=3, label="eval")
            ax_acc.plot([r["step"] for r in evals], [r["eval_accuracy"] for r in evals], "o-", ms=3, label="eval")
        ax_loss.set(xlabel="step", ylabel="loss J", yscale="log" if np.nanmin(self.loss, initial=1) > 0 else "linear")
        ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02))
        for ax in (ax_loss, ax_acc):
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=100)


def _as_dataset(data, what: str):
    if isinstance(data, DataSplits):
        raise TypeError(f"fit: {what} is a DataSplits (train and test); pass data.train (and eval_data=data.test)")
    if isinstance(data, tuple) and len(data) == 2:
        return TensorDataset(*data)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return data
    raise TypeError(f"fit: {what} must be a Dataset, a DataLoader or an (x, y) tuple, got {type(data).__name__}")


def _eval_batches(data, batch_size, what):
    """Whole-dataset batches for evaluation, in order: a DataLoader's with its batch size and
    collate_fn (unless `batch_size` is given), anything else's by `batch_size` (default 1000)."""
    if isinstance(data, DataLoader):
        return DataLoader(data.dataset, batch_size=batch_size or data.batch_size, collate_fn=data.collate_fn)
    return DataLoader(_as_dataset(data, what), batch_size=batch_size or 1000)


def _training_loader(data, batch_size, shuffle, drop_last, seed):
    """(the DataLoader fit trains from, the seed of its orders). A DataLoader keeps its batch_size,
    shuffle, drop_last, collate_fn and seed; fit's own arguments may repeat them, not change them."""
    if not isinstance(data, DataLoader):
        batch_size, seed = 32 if batch_size is None else batch_size, 0 if seed is None else seed
        shuffle, drop_last = True if shuffle is None else shuffle, bool(drop_last)
        loader = DataLoader(_as_dataset(data, "train_data"), batch_size, shuffle, drop_last, seed=seed)
        return loader, seed
    own = {"batch_size": data.batch_size, "shuffle": data.shuffle, "drop_last": data.drop_last, "seed": data.seed}
    given = {"batch_size": batch_size, "shuffle": shuffle, "drop_last": drop_last, "seed": seed}
    clash = [k for k, v in given.items() if v is not None and own[k] is not None and v != own[k]]
    if clash:
        raise ValueError(
            "fit: train_data is a DataLoader with "
            + ", ".join(f"{k}={own[k]!r}" for k in clash)
            + ", and fit was given "
            + ", ".join(f"{k}={given[k]!r}" for k in clash)
            + "; set them on the DataLoader, or pass its dataset to fit"
        )
    # The orders come from (seed, epoch), so that a run can resume: a loader's generator is not drawn from.
    seed = next((v for v in (data.seed, seed) if v is not None), 0)
    loader = DataLoader(
        data.dataset, data.batch_size, data.shuffle, data.drop_last, seed=seed, collate_fn=data.collate_fn
    )
    return loader, seed


def evaluate(
    model: Module,
    data: Any,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = cross_entropy,
    batch_size: int | None = None,
    metric: Callable[[Tensor, Tensor], float] | None = None,
) -> EvalResult:
    """Mean loss and accuracy of ``model`` over ``data`` (eval mode, no graph).

    ``data``: a Dataset, an ``(x, y)`` tuple, or a DataLoader, whose batch size and ``collate_fn``
    are used (all its samples, in order). ``batch_size`` defaults to the loader's, else 1000.
    ``metric`` defaults to ``accuracy`` (thresholded at 0 for binary_cross_entropy_with_logits).

    Example:
        >>> loss, acc = chainrule.train.evaluate(model, data.test)
    """
    batches = _eval_batches(data, batch_size, "data")
    metric = _default_metric(loss_fn) if metric is None else metric
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total_loss, total_correct, count = 0.0, 0.0, 0
    try:
        with grad_mode.no_grad():
            for xb, yb in batches:
                out = model(xb)
                n = len(yb)
                total_loss += float(loss_fn(out, yb).item()) * n
                total_correct += metric(out, yb) * n
                count += n
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    if count == 0:
        raise ValueError("evaluate: the data set is empty")
    return EvalResult(total_loss / count, total_correct / count)


def _check_hyperparameters(ckpt, optimizer, path) -> None:
    """Refuse a checkpoint whose optimizer hyper-parameters are not finite or out of range.

    Runs before anything is loaded: optimizer.load_state_dict takes the saved groups' lr, betas,
    ... as they are (as PyTorch does), so a corrupt or hand-edited checkpoint would otherwise
    train on with lr=-0.1 or lr=nan.
    """
    saved = ckpt.get("optimizer") if isinstance(ckpt, dict) else None
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list):
        return  # optimizer.load_state_dict names a malformed state dict
    for i, group in enumerate(groups):
        if not isinstance(group, dict):
            continue
        for key, value in group.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise ValueError(
                    f"{path}: the optimizer's param_groups[{i}] has {key}={value!r}; a checkpoint's "
                    "hyper-parameters must be finite. The file is corrupt or was edited; resume from "
                    "another checkpoint or start a new run"
                )
        try:
            optimizer._check_group({**optimizer.defaults, **group})
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{path}: the optimizer's param_groups[{i}] is refused: {e}. The file is corrupt or "
                "was edited; resume from another checkpoint or start a new run"
            ) from None


def _restore_all_or_nothing(ckpt, model, optimizer, scheduler):
    """Load model, optimizer and scheduler state; if any part is refused, put back what was there."""
    before = (model.state_dict(), optimizer.state_dict(), scheduler.state_dict() if scheduler is not None else None)
    before = ({k: v.clone() for k, v in before[0].items()}, before[1], before[2])
    try:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
    except BaseException:
        model.load_state_dict(before[0])
        optimizer.load_state_dict(before[1])
        if scheduler is not None:
            scheduler.load_state_dict(before[2])
        raise


def fit(
    model: Module,
    train_data: Any,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = cross_entropy,
    optimizer: Optimizer,
    scheduler: Any | None = None,
    scheduler_interval: str = "epoch",
    epochs: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    seed: int | None = None,
    drop_last: bool | None = None,
    eval_data: Any | None = None,
    eval_every: int | None = None,
    metrics: dict[str, Callable[[Tensor, Tensor], float]] | None = None,
    log_every: int | None = None,
    print_fn: Callable[..., Any] | None = print,
    progress: bool = False,
    early_stopping: int | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    jit: bool = False,
    overwrite: bool = False,
) -> History:
    """Train ``model`` with ``optimizer`` on ``train_data``; returns a History.

    Each step: forward a batch, J = loss_fn(model(x), y), backward, optimizer.step().

    Args:
        train_data: a Dataset (e.g. ``chainrule.data.mnist1d().train``), an ``(x, y)`` tuple of
            arrays, or a DataLoader, which keeps its batch_size, shuffle, drop_last, collate_fn and
            seed (fit's own may repeat them, not change them: that is refused). Its shuffled
            orders are drawn from (seed, epoch), 0 when neither it nor fit has a seed, so that a
            run can resume; a loader's ``generator`` is not drawn from.
        loss_fn: ``loss_fn(output, target)`` -> scalar Tensor (default: cross-entropy on logits).
        optimizer: a ``chainrule.optim`` optimizer over ``model.parameters()``.
        scheduler: an lr scheduler, stepped every epoch (or every step with
            ``scheduler_interval="step"``); a ReduceLROnPlateau is stepped with the eval loss.
        epochs: how long to train, in passes over train_data (give epochs or steps, not both).
        steps: how long to train, in optimizer steps.
        batch_size: samples per batch (default 32).
        shuffle: reshuffle every epoch (default True); epoch e's order is drawn from (seed, e).
        seed: the seed of the orders (default 0).
        drop_last: drop the last, smaller batch of an epoch (default False).
        eval_data: evaluated every ``eval_every`` steps (default: ``log_every``) and at the end, as
            ``evaluate`` does (a DataLoader with its batch size and collate_fn).
        metrics: dict name -> fn(output, target) -> float; default ``{"accuracy": accuracy}``.
        log_every: print ``iter 1000, J=0.665606, accu=0.83`` every this many steps (the
            training batch's loss and accuracy) and ``eval 1000, J=..., accu=...`` on evaluations.
            Default: about ten lines per run. ``print_fn=None`` silences it.
        progress: show progress: tqdm's bar in a terminal, its widget in Jupyter, plain
            periodic lines when the output is piped or logged (see ``progress_bar``).
        early_stopping: stop after this many evaluations without a lower eval loss
            (needs eval_data).
        checkpoint_dir: write ``checkpoint.safetensors`` there every ``checkpoint_every``
            steps (default: at the end only) and at the end.
        resume: continue from ``checkpoint_dir``'s checkpoint if there is one.
        overwrite: start afresh over a checkpoint already in ``checkpoint_dir``. Without it (and
            without ``resume``) such a directory is refused before anything is trained or written,
            so that a finished run is not replaced by accident.
        jit: run the step (forward, loss, backward, optimizer step) through ``chainrule.jit``:
            traced on the first batch of each shape, replayed afterwards, with the same
            results (dropout draws the same masks). A step that jit cannot trace (say, with a
            hook on a tensor) raises ``chainrule.TraceError`` on the first step.

    Example:
        >>> data = chainrule.data.mnist1d()
        >>> model = nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 10))
        >>> opt = chainrule.optim.Adam(model.parameters(), lr=1e-2)
        >>> history = fit(model, data.train, optimizer=opt, steps=2000, batch_size=100,
        ...               eval_data=data.test, log_every=500)
        iter 500, J=0.912345, accu=0.71
        ...
    """
    from .optim.lr_scheduler import ReduceLROnPlateau

    loader, seed = _training_loader(train_data, batch_size, shuffle, drop_last, seed)
    batch_size = loader.batch_size
    if eval_data is not None and not isinstance(eval_data, DataLoader):
        eval_data = _as_dataset(eval_data, "eval_data")
    steps_per_epoch = len(loader)
    if steps_per_epoch == 0:
        raise ValueError(
            f"fit: no batches: {len(loader.dataset)} samples with batch_size={batch_size} and drop_last=True"
        )
    if (epochs is None) == (steps is None):
        raise ValueError("fit: give exactly one of epochs= or steps= (how long to train)")
    total = steps if steps is not None else epochs * steps_per_epoch
    if early_stopping is not None and eval_data is None:
        raise ValueError("fit: early_stopping watches the eval loss; pass eval_data= as well")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    metrics = {"accuracy": _default_metric(loss_fn)} if metrics is None else dict(metrics)
    log_every = log_every or max(1, total // 10)
    eval_every = eval_every or log_every
    checkpoint_path = pathlib.Path(checkpoint_dir) / CHECKPOINT if checkpoint_dir is not None else None

    if checkpoint_path is not None and not resume and not overwrite and checkpoint_path.exists():
        raise FileExistsError(
            f"fit: {checkpoint_path.parent} already holds a run's checkpoint ({CHECKPOINT}); pass resume=True to "
            "continue it, overwrite=True to start again over it, or choose another checkpoint_dir"
        )

    history, step = History(), 0
    best, bad_evals = math.inf, 0
    if resume and checkpoint_path is not None and checkpoint_path.exists():
        ckpt = load(checkpoint_path)
        if ckpt["seed"] != seed or ckpt["batch_size"] != batch_size:
            raise ValueError(
                f"fit: the checkpoint {checkpoint_path} was written with seed={ckpt['seed']}, "
                f"batch_size={ckpt['batch_size']}; resume with the same values (got seed={seed}, "
                f"batch_size={batch_size}) so the data order matches"
            )
        _check_hyperparameters(ckpt, optimizer, checkpoint_path)
        _restore_all_or_nothing(ckpt, model, optimizer, scheduler)
        _dtypes.default_generator().bit_generator.state = ckpt["rng"]
        step, best, bad_evals = ckpt["step"], ckpt["best"], ckpt["bad_evals"]
        history = History._unpack(ckpt["history"])

    def checkpoint():
        checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "rng": _dtypes.default_generator().bit_generator.state,
                "step": step,
                "seed": seed,
                "batch_size": batch_size,
                "best": best,
                "bad_evals": bad_evals,
                "history": history._pack(),
            },
            checkpoint_path,
        )

    def train_step(xb, yb):
        out = model(xb)
        loss = loss_fn(out, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return out, loss

    if jit:
        from .autograd.jit import jit as _jit

        train_step = _jit(train_step)

    bar = None
    say = print_fn
    if progress:
        from ._progress import progress_bar

        bar = progress_bar(total, step)
        if print_fn is print:
            say = bar.write
    if hasattr(model, "train"):
        model.train()
    start_time = time.perf_counter()
    elapsed_before = history.rows[-1]["seconds"] if history.rows else 0.0
    try:
        while step < total and not history.stopped_early:
            epoch, skip = divmod(step, steps_per_epoch)
            loader.set_epoch(epoch)
            # Resuming mid-epoch: the same order, minus the batches already seen, which are not
            # loaded again (a dataset that draws random augmentations would otherwise draw again).
            for xb, yb in loader._iterate(skip_batches=skip):
                out, loss = train_step(xb, yb)
                step += 1
                row = {c: math.nan for c in COLUMNS}
                row.update(step=step, epoch=epoch, loss=float(loss.item()), lr=float(optimizer.param_groups[0]["lr"]))
                for name, fn in metrics.items():
                    row[name] = fn(out, yb)
                if (
                    scheduler is not None
                    and not isinstance(scheduler, ReduceLROnPlateau)
                    and (scheduler_interval == "step" or step % steps_per_epoch == 0)
                ):
                    scheduler.step()
                if say is not None and (step % log_every == 0 or step == total):
                    say(f"iter {step}, J={row['loss']:.6f}, accu={row['accuracy']:.2f}")
                if eval_data is not None and (step % eval_every == 0 or step == total):
                    result = evaluate(
                        model, eval_data, loss_fn=loss_fn, metric=metrics.get("accuracy", _default_metric(loss_fn))
                    )
                    row.update(eval_loss=result.loss, eval_accuracy=result.accuracy)
                    if say is not None:
                        say(f"eval {step}, J={result.loss:.6f}, accu={result.accuracy:.2f}")
                    if isinstance(scheduler, ReduceLROnPlateau):
                        scheduler.step(result.loss)
                    if result.loss < best:
                        best, bad_evals = result.loss, 0
                    else:
                        bad_evals += 1
                        if early_stopping is not None and bad_evals >= early_stopping:
                            history.stopped_early = True
                row["seconds"] = elapsed_before + time.perf_counter() - start_time
                history.rows.append(row)
                if bar is not None:
                    bar.update(1)
                    if step % max(1, log_every // 10) == 0:
                        bar.set_postfix(J=f"{row['loss']:.4f}", accu=f"{row['accuracy']:.2f}")
                if checkpoint_path is not None and checkpoint_every and step % checkpoint_every == 0:
                    checkpoint()
                if step >= total or history.stopped_early:
                    break
    finally:
        if bar is not None:
            bar.close()
    if history.stopped_early and say is not None:
        say(f"early stopping at iter {step}: no lower eval loss in {early_stopping} evaluations")
    if checkpoint_path is not None:
        checkpoint()
    return history


def load_checkpoint(
    directory: str | os.PathLike[str], model: Module, optimizer: Optimizer | None = None, scheduler: Any | None = None
) -> dict:
    """Restore a model (and optionally optimizer and scheduler) from ``directory``'s checkpoint.

    Returns the checkpoint dict (with "step" and "history").
    """
    path = pathlib.Path(directory) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no checkpoint; expected a directory written by fit(checkpoint_dir=...) "
            "or `chainrule train --out DIR`"
        )
    ckpt = load(path)
    if optimizer is not None:
        _check_hyperparameters(ckpt, optimizer, path)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    return ckpt


__all__ = ["fit", "evaluate", "accuracy", "History", "EvalResult", "load_checkpoint"]
