"""What the command line and the worked examples print to a student, against independent answers.

Every expected value here comes from torch autograd, SymPy, or NumPy written out by hand: never from
chainrule's own output. tests/test_cli.py, tests/test_examples_math.py, tests/test_examples_training.py
and tests/test_models.py check that things run and agree with themselves; this file checks the numbers.
"""

import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, nn
from chainrule.models import MLP, BiGRU, build_model
from test_examples_math import run as run_example
from test_examples_training import load as load_example

torch = pytest.importorskip("torch")
sp = pytest.importorskip("sympy")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    cli.limit_blas_threads(1)


def _cli(argv, capsys):
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


# ----- derive and grad: the printed values against torch autograd and SymPy -----

_TORCH = {
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "abs": torch.abs,
    "softplus": torch.nn.functional.softplus,
}


def _torch_grad(expr, point):
    """The gradient of `expr` (Python syntax) at `point` by torch autograd, float64, in sorted-name order."""
    env = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in point.items()}
    calls = {k: (lambda fn: lambda v: fn(torch.as_tensor(v, dtype=torch.float64)))(fn) for k, fn in _TORCH.items()}
    y = eval(expr, {"__builtins__": {}, "pi": math.pi, **calls}, dict(env))  # test-only, fixed strings
    y.backward()
    return [env[n].grad.item() for n in sorted(point)]


def _sympy_grad(expr, point):
    """The same gradient from SymPy at 30 digits (an independent symbolic oracle)."""
    symbols = {n: sp.Symbol(n, real=True) for n in point}
    functions = {
        "_relu": lambda v: sp.Max(v, 0),
        "sigmoid": lambda v: 1 / (1 + sp.exp(-v)),
        "softplus": lambda v: sp.log(1 + sp.exp(v)),
    }
    f = sp.sympify(expr.replace("relu", "_relu"), locals={**symbols, **functions})
    subs = {symbols[n]: sp.Rational(v) for n, v in point.items()}
    return [float(sp.diff(f, symbols[n]).evalf(30, subs=subs)) for n in sorted(point)]


_CASES = [
    ("x**3*y - sin(x*y)", "x=0.7,y=-1.3"),
    ("exp(-x**2/2)/sqrt(2*pi)", "x=1.5"),
    ("log(1+exp(x))", "x=3"),
    ("softplus(x)*tanh(x)", "x=-2"),
    ("sigmoid(x)*(1-sigmoid(x))", "x=0.3"),
    ("x/y - y/x", "x=2,y=3"),
    ("x**y", "x=2,y=0.5"),
    ("(x+1)**(1/3)", "x=7"),
    ("abs(x-y)*x", "x=1,y=3"),
    ("relu(x-1)*y", "x=3,y=2"),
    ("tan(x) + cos(x)", "x=1"),
    ("sqrt(x**2+y**2)", "x=3,y=4"),
    ("x**-2", "x=-3"),
    ("1/(1+exp(-x*y))", "x=0.5,y=-2"),
    ("x*y*z + x**2*z - log(z)", "x=1,y=2,z=3"),
    ("x**3 + 3*x**2*y + y**3 + 2*x", "x=1,y=2"),
]


def _point(at):
    return {k: float(v) for k, v in (part.split("=") for part in at.split(","))}


@pytest.mark.parametrize("expr,at", _CASES)
def test_grad_and_derive_print_the_values_torch_and_sympy_compute(expr, at, capsys):
    point = _point(at)
    expected = _torch_grad(expr, point)
    np.testing.assert_allclose(expected, _sympy_grad(expr, point), rtol=1e-10, atol=1e-14)
    out = _cli(["grad", expr, "--at", at], capsys)
    shown = [float(v) for v in re.search(r"^grad f\(.*\) = \((.*)\)$", out, re.M).group(1).split(", ")]
    auto = [float(v) for v in re.search(r"^autodiff check .*: \((.*)\)$", out, re.M).group(1).split(", ")]
    np.testing.assert_allclose(shown, expected, rtol=1e-9, atol=1e-12)  # fmt prints 10 significant digits
    np.testing.assert_allclose(auto, expected, rtol=1e-9, atol=1e-12)
    for name, value in zip(sorted(point), expected):
        out = _cli(["derive", expr, "--wrt", name, "--at", at], capsys)
        printed = float(re.search(rf"^at .*: df/d{name} = (\S+)$", out, re.M).group(1))
        assert printed == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_grad_prints_the_point_in_the_order_of_its_components(capsys):
    # `--at y=2,x=1` used to print "grad f(y=2, x=1) = (17, 15)": the components are (df/dx, df/dy), so a
    # student reading the tuple in the order of the point shown took df/dy for 17. The point is now shown
    # in the order of f's variables, the order of the gradient's components.
    out = _cli(["grad", "x**3 + 3*x**2*y + y**3 + 2*x", "--at", "y=2,x=1"], capsys)
    assert "grad f(x=1, y=2) = (17, 15)" in out
    out = _cli(["derive", "x**2*y", "--wrt", "y", "--at", "y=3,x=2"], capsys)
    assert "at x=2, y=3: df/dy = 4" in out


@pytest.mark.parametrize(
    "expr,at",
    [("relu(x)", "x=0"), ("relu(2*x-1)*x", "x=0.5"), ("relu(x)**2 + relu(-x)", "x=0"), ("relu(x-y)*x", "x=1,y=1")],
)
def test_relu_kinks_print_the_slope_the_autodiff_check_prints(expr, at, capsys):
    # relu(u) is Max(u, 0) to SymPy, whose derivative Heaviside(u) is 1/2 at u = 0: `derive "relu(x)" --at x=0`
    # printed "df/dx = 0.5" above "autodiff check (chainrule backward): 0" (torch: 0 too). The derivative is
    # now Heaviside(u, 0), the engine's and torch's relu'(0) = 0: relu is a SymPy function of its own.
    point = _point(at)
    expected = _torch_grad(expr, point)
    out = _cli(["grad", expr, "--at", at], capsys)
    shown = [float(v) for v in re.search(r"^grad f\(.*\) = \((.*)\)$", out, re.M).group(1).split(", ")]
    assert shown == pytest.approx(expected, abs=1e-12) and "Heaviside" in out and "Heaviside(x)" not in out
    out = _cli(["derive", expr, "--wrt", "x", "--at", at], capsys)
    assert float(re.search(r"^at .*: df/dx = (\S+)$", out, re.M).group(1)) == pytest.approx(expected[0], abs=1e-12)


def test_an_option_after_the_double_dash_is_named_as_such(capsys):
    # The refusal of `derive "-x**2"` says the expression goes after `--`; adding --at after it was refused
    # as "unknown option --at; did you mean --at?".
    with pytest.raises(SystemExit):
        cli.main(["derive", "--", "-x**2", "--at", "x=1"])
    err = capsys.readouterr().err
    assert "--at came after `--`" in err and "did you mean" not in err
    out = _cli(["derive", "--at", "x=1", "--", "-x**2"], capsys)
    assert "at x=1: df/dx = -2" in out


def test_help_texts_name_only_options_that_exist(capsys):
    parser = cli.make_parser()
    every = {o for sub in parser.subcommands.values() for action in sub._actions for o in action.option_strings}
    for name, sub in parser.subcommands.items():
        text = re.sub(r"-\n\s*", "-", sub.format_help())  # an option argparse wrapped after its hyphen
        usage, _, prose = text.partition("\n\n")
        options = {o for action in sub._actions for o in action.option_strings}
        option = r"(?<![\w-])--[a-z][a-z-]*[a-z]"
        assert set(re.findall(option, usage)) <= options, name
        assert set(re.findall(option, prose)) <= every, name  # evaluate's "the run's --out directory" is train's
    top = parser.format_help()
    assert set(parser.subcommands) <= set(re.findall(r"\b[a-z]+\b", top))


# ----- train: printed lines, history.csv, metrics.json, checkpoint, curves, --resume -----


def _lines(out, kind):
    """{step: (J, accu)} from `iter k, J=..., accu=...` (or `eval k, ...`) lines."""
    pattern = rf"^{kind} (\d+), J=(\S+), accu=(\S+)$"
    return {int(s): (float(j), float(a)) for s, j, a in re.findall(pattern, out, re.M)}


_TRAIN = ["train", "--data", "digits", "--model", "logreg", "--batch-size", "50", "--log-every", "3", "--seed", "2"]
_TRAIN += ["--no-progress", "--lr", "0.05", "--optimizer", "sgd"]


def test_train_prints_and_saves_the_same_numbers_as_an_independent_evaluation(tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    figures = []
    original = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), original(self, *a, **k)))
    out_dir = tmp_path / "run"
    out = _cli([*_TRAIN, "--steps", "7", "--out", str(out_dir)], capsys)
    history = np.genfromtxt(out_dir / "history.csv", delimiter=",", names=True)
    assert history["step"].tolist() == list(range(1, 8))
    iters, evals = _lines(out, "iter"), _lines(out, "eval")
    assert sorted(iters) == sorted(evals) == [3, 6, 7]
    for step, (J, accu) in iters.items():
        row = history[step - 1]
        assert J == pytest.approx(row["loss"], abs=5e-7) and accu == pytest.approx(row["accuracy"], abs=5e-3)
    for step, (J, accu) in evals.items():
        row = history[step - 1]
        assert J == pytest.approx(row["eval_loss"], abs=5e-7)
        assert accu == pytest.approx(row["eval_accuracy"], abs=5e-3)
    assert np.isnan(history["eval_loss"][[0, 1, 3, 4]]).all()

    # the checkpoint's weights, evaluated by hand in NumPy, give metrics.json's and the printed numbers
    from chainrule import data
    from chainrule.io import load

    state = load(out_dir / "checkpoint.safetensors")["model"]
    W = np.asarray(state["layers.0.weight"].numpy(), dtype=np.float64)
    b = np.asarray(state["layers.0.bias"].numpy(), dtype=np.float64)
    digits = data.digits()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    for split, x, y in (("test", digits.x_test, digits.y_test), ("train", digits.x_train, digits.y_train)):
        z = x.astype(np.float64) @ W.T + b
        logp = z - z.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        loss, accuracy = -logp[np.arange(len(y)), y].mean(), (z.argmax(1) == y).mean()
        assert metrics[f"{split}_loss"] == pytest.approx(loss, rel=1e-5)
        assert metrics[f"{split}_accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert evals[7] == (
        pytest.approx(metrics["test_loss"], abs=5e-7),
        pytest.approx(metrics["test_accuracy"], abs=5e-3),
    )
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in out and metrics["steps"] == 7

    # the curves are the history's columns
    (fig,) = figures
    loss_ax, acc_ax = fig.axes
    (train_loss, eval_loss), (train_acc, eval_acc) = loss_ax.lines, acc_ax.lines
    np.testing.assert_array_equal(train_loss.get_xdata(), history["step"])
    np.testing.assert_array_equal(train_loss.get_ydata(), history["loss"])
    np.testing.assert_array_equal(train_acc.get_ydata(), history["accuracy"])
    assert list(eval_loss.get_xdata()) == [3, 6, 7]
    np.testing.assert_array_equal(eval_loss.get_ydata(), history["eval_loss"][[2, 5, 6]])
    np.testing.assert_array_equal(eval_acc.get_ydata(), history["eval_accuracy"][[2, 5, 6]])


def test_a_resumed_run_prints_the_lines_of_the_uninterrupted_one(tmp_path, capsys):
    whole = _cli([*_TRAIN, "--no-plot", "--steps", "8", "--out", str(tmp_path / "a")], capsys)
    _cli([*_TRAIN, "--no-plot", "--steps", "4", "--out", str(tmp_path / "b")], capsys)
    resumed = _cli([*_TRAIN, "--no-plot", "--steps", "8", "--out", str(tmp_path / "b"), "--resume"], capsys)
    expected_iter = {k: v for k, v in _lines(whole, "iter").items() if k > 4}
    expected_eval = {k: v for k, v in _lines(whole, "eval").items() if k > 4}
    assert _lines(resumed, "iter") == expected_iter and _lines(resumed, "eval") == expected_eval
    assert (tmp_path / "a" / "history.csv").read_text().count("\n") == 9
    a = np.genfromtxt(tmp_path / "a" / "history.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "b" / "history.csv", delimiter=",", names=True)
    for column in ("step", "loss", "accuracy"):
        np.testing.assert_array_equal(a[column], b[column])
    for column in ("eval_loss", "eval_accuracy"):  # b also evaluated at step 4, where its first part ended
        evaluated = ~np.isnan(a[column])
        np.testing.assert_array_equal(a[column][evaluated], b[column][evaluated])
    ma, mb = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in "ab")
    assert {k: ma[k] for k in ("test_loss", "test_accuracy", "train_loss", "steps")} == {
        k: mb[k] for k in ("test_loss", "test_accuracy", "train_loss", "steps")
    }
    assert json.loads((tmp_path / "b" / "config.json").read_text())["steps"] == 8


# ----- the worked examples: every printed number against an independent computation -----


def test_gradient_descent_2x2_softmax_every_printed_step_by_hand(capsys):
    history, out = run_example("gradient_descent_2x2_softmax", capsys)
    X, Y = np.eye(2), np.eye(2)
    W, b = np.array([[0.5, -0.5], [0.2, 0.3]]), np.zeros((2, 1))
    blocks = out.split("iter ")[1:]
    assert len(blocks) == len(history) == 3
    for it, (h, block) in enumerate(zip(history, blocks), start=1):
        z = W @ X + b
        p = np.exp(z) / np.exp(z).sum(0)
        J = -np.sum(Y * np.log(p)) / 2
        dz = (p - Y) / 2
        dW, db = dz @ X.T, dz.sum(1, keepdims=True)
        assert h["J"] == pytest.approx(J, rel=1e-12)
        for key, value in (("z", z), ("p", p), ("dz", dz), ("dW", dW), ("db", db)):
            np.testing.assert_allclose(h[key], value, rtol=1e-12, atol=1e-15, err_msg=f"iter {it} {key}")
        W, b = W - dW, b - db
        assert block.startswith(f"{it}, J={J:.6f}\n")
        for label, value in (("z  =", z), ("p  =", p), ("dz =", dz), ("dW =", dW)):
            assert f"{label} {np.round(value, 4).tolist()}" in block
        assert f"db = {np.round(db, 4).ravel().tolist()}" in block
        assert f"W <- {np.round(W, 4).tolist()}" in block and f"b <- {np.round(b, 4).ravel().tolist()}" in block


def test_softmax_example_against_torch(capsys):
    r, out = run_example("softmax_example", capsys)
    z = torch.tensor([1, 2, 3, -1, -4, 0.0], dtype=torch.float64)
    p = torch.softmax(z, 0)
    jacobian = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), z)
    np.testing.assert_allclose(r["jacobian"], jacobian.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r["formula"], jacobian.numpy(), rtol=1e-12, atol=1e-15)
    assert r["argmax"] == int(p.argmax()) == 2
    printed = re.search(r"softmax = \[(.*?)\]", out, re.S).group(1).split()
    np.testing.assert_allclose([float(v) for v in printed], np.round(p.numpy(), 4), atol=1e-12)
    assert "argmax = 2 (the largest logit, z = 3.0 )" in out
    stable = torch.softmax(torch.tensor([1000.0, 1001.0, 1002.0], dtype=torch.float64), 0)
    np.testing.assert_allclose(r["stable"], stable.numpy(), rtol=1e-12)
    assert "Jacobian == diag(p) - p p^T: True" in out


def test_linear_layer_backprop_formulas_are_torchs_gradients(capsys):
    r, out = run_example("linear_layer_backprop", capsys)
    rng = np.random.default_rng(0)  # the example's draws, in its order
    W, x, b = (torch.tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 4), (4, 1), (3, 1)))
    delta = rng.normal(size=(3, 1))
    (W @ x + b).backward(torch.tensor(delta))
    # the formulas the example checks the engine against are the true gradients
    np.testing.assert_allclose(W.grad.numpy(), delta @ x.detach().numpy().T, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), W.detach().numpy().T @ delta, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), delta, rtol=1e-12)
    assert all(r.values()) and out.count(": True") == 3


def test_activation_identities_printed_derivatives_are_the_derivatives(capsys):
    r, out = run_example("activation_identities", capsys)
    x = sp.Symbol("x", real=True)
    sig = 1 / (1 + sp.exp(-x))
    printed_sig = sp.sympify(re.search(r"sigma'\(x\) = (.*?)  equals", out).group(1), locals={"x": x})
    printed_tanh = sp.sympify(re.search(r"tanh'\(x\)  = (.*?)  equals", out).group(1), locals={"x": x})
    for v in (-3.1, -0.4, 0.0, 0.9, 5.0):
        assert float(printed_sig.subs(x, v)) == pytest.approx(float(sp.diff(sig, x).subs(x, v)), rel=1e-12)
        assert float(printed_tanh.subs(x, v)) == pytest.approx(1 - math.tanh(v) ** 2, rel=1e-12)
    t = torch.linspace(-6, 6, 101, dtype=torch.float64, requires_grad=True)
    torch.sigmoid(t).sum().backward()
    s = torch.sigmoid(t.detach())
    assert float((t.grad - s * (1 - s)).abs().max()) < 1e-15  # the printed error of ~0 is plausible
    assert r["err"] < 1e-15 and "equals sigma(1 - sigma): True" in out and "equals 1 - tanh^2: True" in out
    # a false identity is reported false: the booleans are not constant
    import chainrule.symbolic as sym

    assert not sym.equal(printed_tanh, 1 - sp.tanh(x)) and sym.equal(printed_tanh, 1 - sp.tanh(x) ** 2)


def test_computational_graph_u1_u5_against_torch(capsys, tmp_path):
    r, out = run_example("computational_graph_u1_u5", capsys, out_dir=str(tmp_path))
    u1, u2 = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (3.0, 4.0))
    u3 = u1 * u2
    u4 = u1 + u2
    u5 = 2 * u3 * u4
    for u in (u3, u4, u5):
        u.retain_grad()
    L = (u5 - u1 - u2 - u3 - u4) ** 2
    L.backward()
    expected = {f"u{i}": u.grad.item() for i, u in enumerate((u1, u2, u3, u4, u5), start=1)}
    assert r["grads"] == expected and r["L"] == L.item()
    for name, value in expected.items():
        assert re.search(rf"^dL/d{name} = .*\n(?:       = .*\n)*       = {value:g}$", out, re.M), name


def test_gradient_at_point_and_symbolic_gradient_against_sympy(capsys):
    r, out = run_example("gradient_at_point", capsys)
    x, y = sp.symbols("x y", real=True)
    f = x**3 + 3 * x**2 * y + y**3 + 2 * x
    expected = tuple(float(sp.diff(f, v).subs({x: 1, y: 2})) for v in (x, y))
    assert r["grad"] == expected == (17.0, 15.0) and f"grad f(1, 2) = {expected}" in out


def test_digits_softmax_regression_log_against_numpy_gradient_descent(capsys):
    cr.manual_seed(0)  # the example's initialization, read back
    init = nn.Linear(64, 10)
    W = init.weight.detach().numpy().astype(np.float64)
    b = init.bias.detach().numpy().astype(np.float64)
    r = load_example("digits_softmax_regression").main(steps=12, lr=0.1, print_every=4)
    out = capsys.readouterr().out
    from chainrule import data

    digits = data.digits()
    x, y = digits.x_train.astype(np.float64), digits.y_train
    onehot = np.eye(10)[y]
    expected = {}
    for step in range(1, 13):
        z = x @ W.T + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        expected[step] = (-np.log(p[np.arange(len(y)), y]).mean(), (z.argmax(1) == y).mean())
        dz = (p - onehot) / len(y)
        W, b = W - 0.1 * dz.T @ x, b - 0.1 * dz.sum(0)
    printed = _lines(out, "iter")
    assert sorted(printed) == [4, 8, 12]
    for step, (J, accu) in printed.items():
        assert J == pytest.approx(expected[step][0], abs=2e-6) and accu == pytest.approx(expected[step][1], abs=5e-3)
    np.testing.assert_allclose(r["history"].loss, [expected[s][0] for s in range(1, 13)], rtol=1e-5)


def test_xor_relu_training_log_against_a_torch_replica():
    module = load_example("xor_relu")
    seed, steps = 1, 300
    cr.manual_seed(seed)  # the example's initialization, read back
    init = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    twin = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    with torch.no_grad():
        for (_, ours), theirs in zip(init.named_parameters(), twin.parameters()):
            theirs.copy_(torch.from_numpy(ours.detach().numpy().copy()))
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    target = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(twin(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, out, hidden, last_loss = module.train(seed, steps)
    np.testing.assert_allclose(out, twin(x).detach().numpy().ravel(), rtol=1e-4, atol=1e-5)
    assert last_loss == pytest.approx(loss.item(), rel=1e-4, abs=1e-6)
    np.testing.assert_allclose(hidden, torch.relu(twin[0](x)).detach().numpy(), rtol=1e-4, atol=1e-5)


# ----- the reference models against torch twins -----


def _twin_linear(ours, theirs):
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.detach().numpy().astype(np.float64)))
        theirs.bias.copy_(torch.from_numpy(ours.bias.detach().numpy().astype(np.float64)))


def test_logreg_and_a_deeper_mlp_match_torch_twins():
    cr.manual_seed(0)
    x = np.random.default_rng(1).normal(size=(5, 40))
    logreg = build_model("logreg", 40, 10)
    twin = torch.nn.Linear(40, 10).double()
    _twin_linear(logreg.layers[0], twin)
    np.testing.assert_allclose(logreg.double()(cr.tensor(x)).detach().numpy(), twin(torch.from_numpy(x)).detach())
    assert logreg.num_parameters() == 40 * 10 + 10

    # [40, 8, 8, 8, 3], tanh, residual: h1 = tanh(W1 x); h2 = h1 + tanh(W2 h1); h3 = h2 + tanh(W3 h2); y = W4 h3
    for residual in (True, False):
        cr.manual_seed(0)
        mlp = MLP([40, 8, 8, 8, 3], act="tanh", residual=residual).double()
        layers = [torch.nn.Linear(a, c).double() for a, c in ((40, 8), (8, 8), (8, 8), (8, 3))]
        for ours, theirs in zip(mlp.layers, layers):
            _twin_linear(ours, theirs)
        h = torch.tanh(layers[0](torch.from_numpy(x)))
        for layer in layers[1:3]:
            h = h + torch.tanh(layer(h)) if residual else torch.tanh(layer(h))
        expected = layers[3](h).detach().numpy()
        np.testing.assert_allclose(mlp(cr.tensor(x)).detach().numpy(), expected, rtol=1e-12, atol=1e-14)


def test_bigru_of_another_width_and_length_matches_torchs_gru_base():
    hidden, length = 3, 12
    cr.manual_seed(0)
    ours = BiGRU(length, 4, hidden=hidden).double()
    gru = torch.nn.GRU(1, hidden, batch_first=True, bidirectional=True).double()
    linear = torch.nn.Linear(2 * hidden * length, 4).double()
    state = ours.state_dict()
    with torch.no_grad():
        for name, param in gru.named_parameters():
            param.copy_(torch.from_numpy(state["gru." + name].numpy()))
        linear.weight.copy_(torch.from_numpy(state["linear.weight"].numpy()))
        linear.bias.copy_(torch.from_numpy(state["linear.bias"].numpy()))
    x = np.random.default_rng(2).normal(size=(6, length))
    h, _ = gru(torch.from_numpy(x).reshape(6, length, 1))
    expected = linear(h.reshape(6, -1)).detach().numpy()
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    # 2 directions * 3 gates * hidden * (input + hidden + 2 biases) + the classifier
    assert ours.num_parameters() == 2 * 3 * hidden * (1 + hidden + 2) + (2 * hidden * length + 1) * 4
