"""Plots: a function beside its derivative (from chainrule's autodiff), training curves, gradient flow.

matplotlib is imported when a function is called, with the non-interactive Agg
backend unless one was already chosen (so it works on servers and in tests).
Every function returns the Figure and accepts `save="path.png"` (any format
matplotlib knows, from the extension).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..diagnostics import GradientFlowReport
    from ..tensor import Tensor


def _plt():
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, save):
    if save is not None:
        fig.savefig(save, bbox_inches="tight")
    return fig


def derivative_values(f: Callable[[Tensor], Tensor], xs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """f(xs) and f'(xs) on a grid, the derivative by chainrule's backward (float64)."""
    from ..tensor import Tensor

    x = Tensor(np.asarray(xs, dtype=np.float64), dtype=np.float64, requires_grad=True)
    y = f(x)
    y.sum().backward()  # d(sum_i f(x_i))/dx_i = f'(x_i) for an elementwise f
    return np.array(y._data), np.array(x.grad._data)


def plot_function(
    f: Callable[[Tensor], Tensor],
    derivative: bool = True,
    x_range: tuple[float, float] = (-5, 5),
    ax: Axes | None = None,
    num: int = 401,
    label: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """Plot f (solid) and, by default, f' (dashed) computed by chainrule's autodiff.

    Args:
        f: an elementwise function of a Tensor (cr.sigmoid, cr.tanh, lambda x: x ** 3, ...),
            or a list of them (drawn on the same axes).
        derivative: also draw f'.
        x_range: (low, high).
        ax: a matplotlib Axes to draw into (a new figure otherwise).
        label: the legend name(s); default the function's __name__.
        save: a path to save the figure to.

    Example (the classic figure):
        >>> fig = plot_function([cr.sigmoid, cr.tanh], save="activations.png")
    """
    plt = _plt()
    fs = list(f) if isinstance(f, (list, tuple)) else [f]
    labels = list(label) if isinstance(label, (list, tuple)) else [label] * len(fs)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    xs = np.linspace(x_range[0], x_range[1], num)
    for fn, name in zip(fs, labels):
        name = name or getattr(fn, "__name__", "f")
        y, dy = derivative_values(fn, xs)
        (line,) = ax.plot(xs, y, label=name)
        if derivative:
            ax.plot(xs, dy, linestyle="--", color=line.get_color(), label=f"{name}' (autodiff)")
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("x")
    ax.legend()
    ax.grid(alpha=0.3)
    return _finish(fig, save)


def _history_dict(history):
    if isinstance(history, dict):
        return history
    if hasattr(history, "history") and isinstance(history.history, dict):
        return history.history
    if hasattr(history, "__dict__"):
        return {k: v for k, v in vars(history).items() if isinstance(v, (list, tuple, np.ndarray))}
    raise TypeError(
        f"plot_history: expected a dict of lists or an object with list attributes, got {type(history).__name__}"
    )


def plot_history(
    history: Mapping[str, Sequence[float]] | object,
    save: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves: every series whose name contains 'loss' (or is 'J') on the left, 'acc' on the right.

    `history` is a dict {'loss': [...], 'val_loss': [...], 'accuracy': [...]} or an object with such
    list attributes (or a `.history` dict, as Keras and chainrule's fit return).
    """
    plt = _plt()
    h = {k: list(v) for k, v in _history_dict(history).items() if len(v)}
    losses = {k: v for k, v in h.items() if "loss" in k.lower() or k == "J"}
    accs = {k: v for k, v in h.items() if "acc" in k.lower()}
    if not losses and not accs:
        raise ValueError(f"plot_history: found no 'loss' or 'acc' series among {sorted(h)}")
    ncols = (1 if losses else 0) + (1 if accs else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.6))
    axes = np.atleast_1d(axes)
    i = 0
    for series, ylabel in ((losses, "loss"), (accs, "accuracy")):
        if not series:
            continue
        ax = axes[i]
        i += 1
        for k, v in series.items():
            ax.plot(np.arange(1, len(v) + 1), v, label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


def _flow_series(records):
    """{layer: [norm per step]} from a dict of lists, a list of {layer: norm}, or a list of reports."""
    if isinstance(records, dict):
        return {k: list(v) for k, v in records.items()}
    series = {}
    for r in records:
        norms = r.norms() if hasattr(r, "norms") else r
        for k, v in norms.items():
            series.setdefault(k, []).append(v)
    return series


def plot_gradient_flow(
    records: Mapping[str, Sequence[float]] | Sequence[Mapping[str, float] | GradientFlowReport],
    save: str | os.PathLike[str] | None = None,
    title: str = "gradient norm per layer",
    ax: Axes | None = None,
) -> Figure:
    """Per-layer gradient norms over training, log scale (a vanishing gradient sits orders of magnitude low).

    `records`: {layer: [norms]}, or a list (one per step) of {layer: norm} or of
    chainrule.diagnostics.gradient_flow reports.
    """
    plt = _plt()
    series = _flow_series(records)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    for k, v in series.items():
        v = np.asarray(v, dtype=float)
        ax.plot(np.arange(len(v)), np.where(v > 0, v, np.nan), label=k, marker="." if len(v) < 30 else None)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("||grad||")
    if title:
        ax.set_title(title)
    if len(series) <= 12:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return _finish(fig, save)
