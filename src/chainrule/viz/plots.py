"""Plots: a function beside its derivative (from chainrule's autodiff), training curves, gradient flow.

matplotlib is imported when a function is called and keeps the backend it chooses
itself: inline in a Jupyter notebook, a window on a desktop, Agg (files only) on a
machine without a display (matplotlib falls back to Agg when $DISPLAY is unset;
set MPLBACKEND=Agg to force it). Every function returns the Figure and accepts
`save="path.png"` (any format matplotlib knows, from the extension).
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
    # No matplotlib.use(): forcing Agg here would hide every figure in a fresh notebook, whose
    # kernel has chosen the inline backend; headless, matplotlib picks Agg by itself.
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, save):
    if save is not None:
        fig.savefig(save, bbox_inches="tight")
    return fig


def derivative_values(f: Callable[[Tensor], Tensor], xs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """f(xs) and f'(xs) on a grid, the derivative by chainrule's backward (float64).

    f must be elementwise: the gradient of sum_i f(x_i) is f'(x_i) only when f(x)_i depends on x_i
    alone. A function that mixes entries (softmax, x - x.mean(), cumsum, sort) is refused: f is also
    run on the grid's two halves and on the grid reversed, which must give the same values.
    """
    from ..tensor import Tensor

    grid = np.asarray(xs, dtype=np.float64)
    x = Tensor(grid, dtype=np.float64, requires_grad=True)
    y = f(x)
    values = np.array(getattr(y, "_data", y), dtype=np.float64)
    if values.shape != grid.shape:
        raise ValueError(
            f"plot_function: f maps the {grid.shape} grid to shape {values.shape}; it must be elementwise "
            "(one output per input, as cr.tanh or lambda x: x ** 3). To plot a reduction or a function of "
            "several inputs, evaluate it point by point yourself and use chainrule.grad for its slope."
        )
    _check_elementwise(f, grid, values)
    y.sum().backward()  # d(sum_i f(x_i))/dx_i = f'(x_i) for an elementwise f
    return values, np.array(x.grad._data)


def _check_elementwise(f, grid, values):
    from ..autograd import grad_mode
    from ..tensor import Tensor

    def run(part):
        with grad_mode.no_grad():
            out = f(Tensor(part, dtype=np.float64))
        return np.asarray(getattr(out, "_data", out), dtype=np.float64)

    half = grid.shape[0] // 2 if grid.ndim else 0
    if half == 0:
        return
    others = {
        "the grid's two halves": np.concatenate([run(grid[:half]), run(grid[half:])]),
        "the grid reversed": run(grid[::-1])[::-1],
    }
    for how, got in others.items():
        if got.shape != values.shape or not np.allclose(got, values, rtol=1e-9, atol=1e-12, equal_nan=True):
            raise ValueError(
                f"plot_function: f is not elementwise: on {how} it gives other values than on the whole grid, "
                "so f(x)_i depends on other entries of x (as softmax, x - x.mean(), cumsum or sort do), and the "
                "gradient of sum f(x) would not be f'. Pass an elementwise function, or plot one output "
                "against one input with chainrule.grad."
            )


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


def _history_series(history):
    """(x label, {name: (xs, ys)}) from a fit() History (per step), a dict or an object of lists (per epoch)."""
    if hasattr(history, "rows") and hasattr(history, "column"):  # chainrule.train.History: one row per step
        steps = history.column("step") if len(history) else np.zeros(0)
        series = {}
        for name in ("loss", "accuracy", "eval_loss", "eval_accuracy"):
            if history.rows and name in history.rows[0]:
                ys = history.column(name)
                keep = ~np.isnan(ys)  # eval columns are NaN between evaluations
                if keep.any():
                    series[name] = (steps[keep], ys[keep])
        return "step", series
    if isinstance(history, dict):
        d = history
    elif hasattr(history, "history") and isinstance(history.history, dict):
        d = history.history  # Keras' History
    elif hasattr(history, "__dict__"):
        d = {k: v for k, v in vars(history).items() if isinstance(v, (list, tuple, np.ndarray))}
    else:
        raise TypeError(
            "plot_history: expected what fit() returns, a dict of lists or an object with list attributes, "
            f"got {type(history).__name__}"
        )
    series = {}
    for k, v in d.items():
        v = np.asarray(v, dtype=float) if len(v) and np.isscalar(v[0]) else None
        if v is not None:
            series[k] = (np.arange(1, len(v) + 1), v)
    return "epoch", series


def plot_history(
    history: Mapping[str, Sequence[float]] | object,
    save: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Training curves: every series whose name contains 'loss' (or is 'J') on the left, 'acc' on the right.

    Args:
        history: what `chainrule.train.fit` returns (one point per step, evaluations where they
            ran; the x axis reads "step"), or a dict `{'loss': [...], 'val_loss': [...],
            'accuracy': [...]}` or an object with such list attributes or a `.history` dict, as
            Keras returns (one point per epoch; the x axis reads "epoch").
        save: a path to save the figure to.
        title: an optional caption.

    Returns:
        the matplotlib Figure.

    Example:
        >>> history = fit(model, data.train, optimizer=opt, steps=500, eval_data=data.test)
        >>> fig = plot_history(history)
    """
    plt = _plt()
    xlabel, h = _history_series(history)
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
        for k, (xs, ys) in series.items():
            dense = len(xs) > 60  # a per-step curve: thin; sparse evaluations: marked points
            ax.plot(xs, ys, label=k, lw=0.8 if dense else 1.5, marker=None if dense else "o", ms=3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
    heatmap: bool | None = None,
) -> Figure:
    """Per-layer gradient norms over training, log scale (a vanishing gradient sits orders of magnitude low).

    Args:
        records: {layer: [norms]}, or a list (one per step) of {layer: norm} or of
            chainrule.diagnostics.gradient_flow reports.
        save: a path to save the figure to.
        title: the axes' title.
        ax: a matplotlib Axes to draw into (a new figure otherwise).
        heatmap: draw layers x steps as a heat map instead of one line per layer; by default
            beyond 20 layers, where lines can no longer be told apart.

    Returns:
        the matplotlib Figure: one line per layer, each its own colour (a colour map runs from
        the first layer to the last), a legend, axes labelled "step" and "gradient norm".

    Example:
        >>> fig = plot_gradient_flow([gradient_flow(model) for _ in range(3)])
    """
    plt = _plt()
    series = _flow_series(records)
    names = list(series)
    if heatmap is None:
        heatmap = len(names) > 20
    if ax is None:
        n = len(names)
        size = (7, 1.5 + 0.22 * n) if heatmap else ((8.5, 4) if n > 10 else (6.5, 4))
        fig, ax = plt.subplots(figsize=size)
    else:
        fig = ax.figure
    if heatmap:
        _gradient_heatmap(fig, ax, names, series)
    else:
        # tab10 for up to ten layers; beyond, a perceptual colour map from first layer to last
        # (tab10 would repeat its colours from the eleventh line on).
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "viridis")
        colours = [cmap(i) if len(names) <= 10 else cmap(i / max(1, len(names) - 1)) for i in range(len(names))]
        for k, colour in zip(names, colours):
            v = np.asarray(series[k], dtype=float)
            ax.plot(
                np.arange(len(v)),
                np.where(v > 0, v, np.nan),
                label=k,
                color=colour,
                marker="." if len(v) < 30 else None,
            )
        ax.set_yscale("log")
        ax.set_ylabel("gradient norm ||dL/dθ|| (log scale)")
        ax.grid(alpha=0.3, which="both")
        if names:
            outside = len(names) > 10
            ax.legend(
                title="layer",
                fontsize=8,
                loc="upper left" if outside else "best",
                bbox_to_anchor=(1.01, 1.0) if outside else None,
                ncols=2 if len(names) > 14 else 1,
            )
    ax.set_xlabel("step")
    if title:
        ax.set_title(title)
    if ax is fig.axes[0]:
        fig.tight_layout()
    return _finish(fig, save)


def _gradient_heatmap(fig, ax, names, series):
    """Layers down, steps across, log10 of the norm as colour (zero norms drawn blank)."""
    from matplotlib.colors import LogNorm

    steps = max((len(v) for v in series.values()), default=0)
    grid = np.full((len(names), steps), np.nan)
    for i, k in enumerate(names):
        v = np.asarray(series[k], dtype=float)
        grid[i, : len(v)] = np.where(v > 0, v, np.nan)
    finite = grid[np.isfinite(grid)]
    norm = LogNorm(finite.min(), finite.max()) if finite.size else None
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", norm=norm)
    ax.set_yticks(range(len(names)), names, fontsize=7 if len(names) > 30 else 8)
    ax.set_ylabel("layer")
    fig.colorbar(image, ax=ax, label="gradient norm ||dL/dθ|| (log scale)")
