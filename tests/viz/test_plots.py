"""Plots: the derivative comes from autodiff, figures are returned and saved."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import plots


def test_derivative_values_are_autodiff():
    xs = np.linspace(-4, 4, 9)
    y, dy = plots.derivative_values(cr.sigmoid, xs)
    s = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(y, s, rtol=1e-12)
    np.testing.assert_allclose(dy, s * (1 - s), rtol=1e-12)


def test_plot_function_classic_figure(tmp_path):
    path = tmp_path / "act.png"
    fig = plots.plot_function([cr.sigmoid, cr.tanh], save=str(path))
    ax = fig.axes[0]
    assert len(ax.lines) == 4 + 2  # f, f' for each, plus the two axis lines
    tanh_prime = ax.lines[3].get_ydata()
    xs = ax.lines[3].get_xdata()
    np.testing.assert_allclose(tanh_prime, 1 - np.tanh(xs) ** 2, atol=1e-12)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_plot_function_into_given_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    out = plots.plot_function(lambda x: x**3, derivative=True, ax=ax, x_range=(-1, 1), num=5, label="cube")
    assert out is fig
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 3 * np.linspace(-1, 1, 5) ** 2)


def test_plot_history(tmp_path):
    fig = plots.plot_history(
        {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.4], "accuracy": [0.5, 0.8, 0.9]},
        save=str(tmp_path / "h.svg"),
    )
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    assert (tmp_path / "h.svg").read_text().count("<svg") == 1

    class H:
        def __init__(self):
            self.loss = [3.0, 2.0]

    assert len(plots.plot_history(H()).axes) == 1
    with pytest.raises(ValueError, match="no 'loss' or 'acc'"):
        plots.plot_history({"lr": [0.1]})


def test_plot_gradient_flow_accepts_records():
    recs = [{"0.weight": 1e-6, "2.weight": 1e-2}, {"0.weight": 2e-6, "2.weight": 2e-2}]
    fig = plots.plot_gradient_flow(recs)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1e-6, 2e-6])
