"""The `chainrule` command: train writes its outputs, resume continues, evaluate reads them back, --help works."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule import cli


@pytest.fixture(autouse=True)
def _one_blas_thread():
    cli.limit_blas_threads(1)


def test_train_mlp_on_mnist1d_learns_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "--data",
            "mnist1d",
            "--model",
            "mlp",
            "--steps",
            "400",
            "--log-every",
            "200",
            "--out",
            str(out),
            "--seed",
            "1",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "iter 200, J=" in captured.out and "iter 400, J=" in captured.out
    assert "400/400" in captured.err  # the tqdm bar
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 400 and metrics["test_accuracy"] > 0.40  # chance is 0.10
    assert metrics["paper_test_accuracy"] == 0.68
    assert {"test_accuracy", "train_loss", "steps", "seconds"} <= set(metrics)
    assert len((out / "history.csv").read_text().splitlines()) == 401
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "checkpoint.safetensors").is_file()

    assert cli.main(["evaluate", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    test_line = next(l for l in lines if l.startswith("test:"))
    assert float(test_line.split("accu=")[1]) == pytest.approx(metrics["test_accuracy"], abs=1e-4)


def test_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    common = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp",
        "--hidden",
        "16",
        "--batch-size",
        "50",
        "--no-progress",
        "--no-plot",
        "--seed",
        "3",
    ]
    assert cli.main(common + ["--steps", "30", "--out", str(tmp_path / "a")]) == 0
    assert cli.main(common + ["--steps", "13", "--out", str(tmp_path / "b")]) == 0
    assert cli.main(common + ["--steps", "30", "--out", str(tmp_path / "b"), "--resume"]) == 0
    a = np.genfromtxt(tmp_path / "a" / "history.csv", delimiter=",", names=True)
    b = np.genfromtxt(tmp_path / "b" / "history.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    assert (
        json.loads((tmp_path / "b" / "metrics.json").read_text())["test_accuracy"]
        == json.loads((tmp_path / "a" / "metrics.json").read_text())["test_accuracy"]
    )


@pytest.mark.parametrize("model,params", [("logreg", 410), ("mlp", 15210), ("cnn", 5210), ("gru", 5134)])
def test_models_match_the_reference_parameter_counts(model, params):
    # the mnist1d repository's LinearBase, MLPBase, ConvBase and GRUBase print these counts
    built = cli.build_model(model, 40, 10, hidden=cli.MODEL_DEFAULTS[model].get("hidden"))
    assert built.num_parameters() == params


def test_every_model_trains_with_the_jit_by_default_bit_for_bit_as_eager(tmp_path, capsys):
    from chainrule import data

    full = data.mnist1d()  # a slice of it as an .npz keeps the final full-set evaluations cheap
    np.savez(
        tmp_path / "small.npz",
        x_train=full.x_train[:300],
        y_train=full.y_train[:300],
        x_test=full.x_test[:100],
        y_test=full.y_test[:100],
    )
    # The jit is the default for exactly the models whose replay is bit-for-bit the eager step.
    assert cli.JIT_MODELS == {"logreg", "mlp", "cnn", "gru"}
    for model in ("logreg", "mlp", "cnn", "gru"):
        losses = []
        for jit in (["--no-jit"], [], ["--jit"]):  # eager, the default (jit), and the old flag
            out = tmp_path / (model + "".join(jit))
            assert (
                cli.main(
                    [
                        "train",
                        "--model",
                        model,
                        "--data",
                        str(tmp_path / "small.npz"),
                        "--steps",
                        "20",
                        "--batch-size",
                        "50",
                        "--log-every",
                        "10",
                        "--no-progress",
                        "--no-plot",
                        "--out",
                        str(out),
                    ]
                    + jit
                )
                == 0
            )
            history = np.genfromtxt(out / "history.csv", delimiter=",", names=True)
            assert history["loss"][-5:].mean() < history["loss"][:5].mean()
            losses.append(history["loss"])
        np.testing.assert_array_equal(losses[0], losses[1])
        np.testing.assert_array_equal(losses[0], losses[2])
    capsys.readouterr()


def test_piped_train_writes_a_few_plain_progress_lines(tmp_path, capsys):
    from chainrule import data

    full = data.mnist1d()
    np.savez(tmp_path / "s.npz", x_train=full.x_train[:200], y_train=full.y_train[:200], x_test=full.x_test[:50],
             y_test=full.y_test[:50])  # fmt: skip
    args = ["train", "--model", "logreg", "--data", str(tmp_path / "s.npz"), "--steps", "40", "--batch-size", "20"]
    assert cli.main(args + ["--log-every", "20", "--no-plot", "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()  # not a terminal, as under `| cat`: lines, no carriage-return frames
    assert "\r" not in captured.out + captured.err
    progress = [line for line in captured.err.splitlines() if line.startswith("step ")]
    assert len(progress) == 10 and progress[-1].startswith("step 40/40 (100%)")
    assert len(captured.out + captured.err) < 2000


def test_csv_data_path(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    x = rng.normal(size=(200, 3)) + 4 * y[:, None]
    np.savetxt(tmp_path / "d.csv", np.column_stack([x, y]), delimiter=",", header="a,b,c,label", comments="")
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--data",
                str(tmp_path / "d.csv"),
                "--model",
                "logreg",
                "--steps",
                "100",
                "--batch-size",
                "20",
                "--no-progress",
                "--no-plot",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] > 0.85


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r")]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "config.json" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["evaluate", "--help"], ["derive", "--help"], ["grad", "--help"]]
)
def test_help_everywhere(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 0
    assert "usage: chainrule" in capsys.readouterr().out


def test_derive_and_grad_are_wired_to_symbolic(capsys):
    pytest.importorskip("sympy")
    pytest.importorskip("chainrule.symbolic")
    assert cli.main(["grad", "x**3 + 3*x**2*y + y**3 + 2*x", "--at", "x=1,y=2"]) == 0
    assert "17" in capsys.readouterr().out
    assert cli.main(["derive", "x**10 - 2*x**8 + 4/x**2 + 10", "--wrt", "x", "--at", "x=1"]) == 0
    assert "-14" in capsys.readouterr().out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "chainrule.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout


# ----- refusals: one line naming the value and the fix, never a traceback -----


def _two_step_run(out):
    """`out` after a two-step logistic regression on xor: a run directory evaluate can read."""
    argv = ["train", "--data", "xor", "--model", "logreg", "--steps", "2", "--no-plot", "--no-progress"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    return out


def _refused(argv, capsys):
    """Run argv, expect exit code 2 and return the error text (argparse exits; handlers return)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err and captured.err.count("error:") == 1
    return captured.err


@pytest.mark.parametrize(
    "argv,suggestion",
    [
        (["train", "--lrr", "0.1"], "unknown option --lrr; did you mean --lr?"),
        (["train", "--batchsize=10"], "unknown option --batchsize; did you mean --batch-size?"),
        (["derive", "x", "--wrtt", "x"], "did you mean --wrt?"),
        (["evaluate", "run", "--treads", "2"], "did you mean --threads?"),
        (["train", "--model", "mpl"], "did you mean 'mlp'?"),
        (["trian"], "did you mean 'train'?"),
    ],
)
def test_misspelled_option_gets_the_closest_one(argv, suggestion, capsys):
    err = _refused(argv, capsys)
    assert suggestion in err and "unrecognized arguments" not in err
    assert len(err.strip().splitlines()) == 1


def test_train_help_renders_percent_signs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert "logreg 32%," in out and "%%" not in out


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--hidden", "0", "positive integers"),
        ("--hidden", "abc", "positive integers"),
        ("--hidden", "100000", "<= 4096"),
        ("--channels", "0", "> 0"),
        ("--lr", "nan", "finite number >= 0"),
        ("--lr", "-1", ">= 0"),
        ("--momentum", "inf", "finite"),
        ("--batch-size", "0", "> 0"),
        ("--steps", "-5", "> 0"),
        ("--threads", "99999999999999999999", "<= 1024"),
        ("--seed", "1.5", "not an integer"),
        ("--log-every", "0", "> 0"),
    ],
)
def test_bad_option_values_are_one_line_errors(flag, value, message, capsys):
    err = _refused(["train", flag, value], capsys)
    assert f"argument {flag}" in err and message in err and len(err.strip().splitlines()) == 1


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("keep me")
    err = _refused(["train", "--data", "xor", "--out", str(tmp_path / "taken")], capsys)
    assert "is a file" in err
    assert (tmp_path / "taken").read_text() == "keep me"
    err = _refused(["train", "--data", "xor", "--out", str(tmp_path / "taken" / "run")], capsys)
    assert "taken" in err


def test_evaluate_refuses_a_run_it_cannot_read(tmp_path, capsys):
    out = _two_step_run(tmp_path / "run")
    capsys.readouterr()
    config = json.loads((out / "config.json").read_text())
    for broken, message in [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "lacks"),
        ('{"model": "mlp"}', "lacks"),
        (json.dumps(dict(config, model="mlp", hidden="8")), "does not fit"),
        (json.dumps(dict(config, optimizer="lion")), "not one chainrule knows"),
    ]:
        (out / "config.json").write_text(broken)
        assert message in _refused(["evaluate", str(out)], capsys)


# ----- derive and grad: budgets, IEEE values, validated --wrt and --at -----


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["derive", "exp(x)", "--at", "x=710"], "at x=710: df/dx = inf"),
        (["derive", "x**(10**30)", "--at", "x=3"], "df/dx = inf"),
        (["grad", "exp(x) * y", "--at", "x=1000,y=0.5"], "grad f(x=1000, y=0.5) = (inf, inf)"),
    ],
)
def test_values_at_a_point_are_ieee(argv, expected, capsys):
    pytest.importorskip("sympy")
    assert cli.main(argv) == 0
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["derive", "log(x)", "--at", "x=0"], "log is undefined at x = 0"),
        (["derive", "sqrt(x)", "--at", "x=-1"], "sqrt is undefined at x = -1"),
        (["derive", "1e99999999"], "too large"),
        (["derive", "9**9**9**9"], "too large"),
        (["derive", "99999**999"], "more than 1000 digits"),
        (["derive", "x**3", "--wrt", ""], "not a variable name"),
        (["derive", "x**3", "--wrt", "q"], "has no variable q; its variables are x"),
        (["derive", "x**3", "--wrt", "x,x"], "not a variable name"),
        (["derive", "x**3", "--at", "x=nan"], "NaN, inf and names are not values"),
        (["derive", "x**3", "--at", "x=1,x=2"], "gives x twice"),
        (["derive", "x**3", "--at", "=1"], "not a variable name"),
        (["derive", "x**3", "--at", "x="], "has no value"),
        (["grad", "x*y", "--at", "x=1,z=2"], "z, which is not a variable"),
        (["derive", "x**3", "--at", "x=10^400"], "give a finite value"),
        (["derive", "-x**2"], "goes after `--`"),
    ],
)
def test_derive_refusals(argv, message, capsys):
    pytest.importorskip("sympy")
    start = time.perf_counter()
    assert message in _refused(argv, capsys)
    assert time.perf_counter() - start < 5


def test_simplification_over_budget_prints_the_plain_derivative(capsys):
    pytest.importorskip("sympy")
    start = time.perf_counter()
    assert cli.main(["derive", "(x + 1)**1000 * sin(x)**40", "--time-limit", "0.5"]) == 0
    out = capsys.readouterr().out
    assert time.perf_counter() - start < 5
    assert "df/dx = " in out


def test_evaluate_on_data_of_other_shapes_names_the_data(tmp_path, capsys):
    out = _two_step_run(tmp_path / "run")
    capsys.readouterr()
    assert "--data digits must have the features and classes of xor" in _refused(
        ["evaluate", str(out), "--data", "digits"], capsys
    )
