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


def _backend_after_plot(env_extra, code="plots.plot_function(cr.sigmoid)"):
    """The backend matplotlib ends up with after a plot in a fresh interpreter (env as given)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(env_extra)
    script = (
        "import matplotlib, chainrule as cr\n"
        "from chainrule.viz import plots\n"
        f"{code}\n"
        "print(matplotlib.get_backend())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_plots_keep_the_notebook_backend():
    # A Jupyter kernel sets MPLBACKEND to the inline backend before pyplot is imported: the
    # plot must keep it (forcing Agg hid every figure in a fresh notebook).
    pytest.importorskip("matplotlib_inline")
    inline = "module://matplotlib_inline.backend_inline"
    assert _backend_after_plot({"MPLBACKEND": inline}) == inline


def test_plots_headless_fall_back_to_agg(tmp_path):
    # No display and no MPLBACKEND: matplotlib picks Agg by itself and saving works.
    path = tmp_path / "f.png"
    code = f"plots.plot_function(cr.tanh, save={str(path)!r})"
    assert _backend_after_plot({}, code).lower() == "agg"
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_plot_history_takes_what_fit_returns(tmp_path):
    from chainrule import nn, optim
    from chainrule.train import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Linear(4, 2)
    history = fit(
        model,
        (x, y),
        optimizer=optim.SGD(model.parameters(), lr=0.1),
        steps=12,
        batch_size=16,
        eval_data=(x, y),
        eval_every=4,
        print_fn=None,
    )
    fig = plots.plot_history(history, save=str(tmp_path / "h.png"))
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "step" and acc_ax.get_xlabel() == "step"
    labels = [line.get_label() for line in loss_ax.lines]
    assert labels == ["loss", "eval_loss"]
    np.testing.assert_allclose(loss_ax.lines[0].get_xdata(), np.arange(1, 13))
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history.loss)
    np.testing.assert_allclose(loss_ax.lines[1].get_xdata(), [4, 8, 12])  # evaluations only
    assert [line.get_label() for line in acc_ax.lines] == ["accuracy", "eval_accuracy"]


def test_plot_history_per_epoch_dict_reads_epoch():
    fig = plots.plot_history({"loss": [1.0, 0.5]})
    assert fig.axes[0].get_xlabel() == "epoch"


def test_plot_gradient_flow_distinct_colours_labels_legend():
    from matplotlib.colors import to_hex

    records = {f"layer{i}.weight": list(np.geomspace(1e-6, 1, 5) * (i + 1)) for i in range(14)}
    fig = plots.plot_gradient_flow(records)
    ax = fig.axes[0]
    colours = {to_hex(line.get_color()) for line in ax.lines}
    assert len(colours) == 14  # tab10 alone would repeat after ten
    assert ax.get_xlabel() == "step" and "gradient norm" in ax.get_ylabel()
    legend = ax.get_legend()
    assert legend is not None and len(legend.get_texts()) == 14


def test_plot_gradient_flow_heatmap_for_many_layers():
    records = {f"l{i}": [10.0**-i, 10.0 ** -(i + 1)] for i in range(30)}
    fig = plots.plot_gradient_flow(records)
    ax = fig.axes[0]
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (30, 2)
    assert ax.get_ylabel() == "layer" and ax.get_xlabel() == "step"
    assert len(fig.axes) == 2  # the colour bar


@pytest.mark.parametrize(
    "f",
    [
        lambda x: cr.softmax(x, 0),
        lambda x: x - x.mean(),
        lambda x: x - x[0],
        lambda x: x * x.flip(0),
        lambda x: x * x.sum(),
        lambda x: x / cr.norm(x),
        lambda x: cr.topk(x, x.shape[0])[0],
    ],
    ids=["softmax", "centered", "first", "flipped", "times-sum", "normalized", "sorted"],
)
def test_a_function_that_mixes_entries_is_refused_not_drawn_with_a_wrong_slope(f):
    # d(sum_i f(x)_i)/dx_j is f'(x_j) only for an elementwise f: for softmax over the grid it is 0 everywhere
    xs = np.linspace(-2.0, 2.0, 9)
    with pytest.raises(ValueError, match="not elementwise"):
        plots.derivative_values(f, xs)


def test_a_reduction_is_refused_with_the_shapes():
    with pytest.raises(ValueError, match=r"maps the \(9,\) grid to shape \(\)"):
        plots.derivative_values(lambda x: (x**2).sum(), np.linspace(-1, 1, 9))


@pytest.mark.parametrize(
    "f,torch_f",
    [
        (cr.relu, lambda t, torch: torch.relu(t)),
        (cr.abs, lambda t, torch: torch.abs(t)),
        (cr.sigmoid, lambda t, torch: torch.sigmoid(t)),
        (lambda x: cr.where(x > 0, x**2, -x), lambda t, torch: torch.where(t > 0, t**2, -t)),
        (lambda x: x**3 - 2 * x, lambda t, torch: t**3 - 2 * t),
    ],
)
def test_elementwise_functions_pass_the_check_with_slopes_as_torch(f, torch_f):
    torch = pytest.importorskip("torch")
    xs = np.linspace(-3.0, 3.0, 13)  # 0 is on the grid: the kinks take torch's slope there
    y, dy = plots.derivative_values(f, xs)
    t = torch.tensor(xs, requires_grad=True)
    out = torch_f(t, torch)
    out.sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dy, t.grad.numpy(), rtol=1e-12)
