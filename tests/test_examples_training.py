"""The coursework examples run end to end (with short runs) and show what they claim."""

import importlib.util
import pathlib

import numpy as np
import pytest

from chainrule import cli

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _one_blas_thread():
    cli.limit_blas_threads(1)


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_sigmoid_learns_xor(capsys):
    result = load("xor_sigmoid").main(steps=1500)
    assert result["solved"]
    np.testing.assert_array_equal(result["outputs"] > 0.5, [False, True, True, False])
    assert result["loss"] < 0.05
    assert "learned weights" in capsys.readouterr().out


def test_xor_relu_learns_xor_and_hand_solution_is_exact():
    result = load("xor_relu").main(steps=800)
    assert result["hand_outputs"].tolist() == [0, 1, 1, 0]
    assert result["solved"] and np.abs(result["outputs"] - [0, 1, 1, 0]).max() < 0.2


def test_digits_softmax_regression_prints_iter_lines(capsys):
    import re

    result = load("digits_softmax_regression").main(steps=300, print_every=100)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("iter")]
    assert len(lines) == 3 and all(re.fullmatch(r"iter \d+, J=\d\.\d{6}, accu=\d\.\d\d", l) for l in lines)
    assert result["history"].loss[-1] < result["history"].loss[0] / 3
    assert result["test_accuracy"] > 0.85


def test_digits_mlps_learn():
    results = load("digits_mlp").main(steps=300, print_every=100)
    assert set(results) == {50, 70}
    assert all(acc > 0.9 for acc in results.values()), results


def test_zero_init_keeps_hidden_units_identical(capsys):
    results = load("zero_init").main(steps=250)
    zero = results[("zeros", "Sigmoid", "float64")]
    assert zero["distinct_units"] == 1 and zero["spread"] < 1e-12
    assert results[("zeros", "ReLU", "float64")]["spread"] == 0.0
    for key in [("kaiming", "ReLU", "float64"), ("xavier", "Sigmoid", "float64")]:
        assert results[key]["distinct_units"] == 32 and results[key]["accuracy"] > 0.9
        assert results[key]["accuracy"] > zero["accuracy"] + 0.3


def test_mnist1d_table_quick(tmp_path, capsys):
    rows = load("mnist1d_table").main(steps=300, models=("logreg", "mlp"), out=str(tmp_path), progress=False)
    by_model = {r[0]: r for r in rows}
    assert by_model["mlp"][2] > 0.40 and by_model["logreg"][2] > 0.2  # chance is 0.10
    assert "| mlp | 68% |" in capsys.readouterr().out


def test_mnist1d_table_reports_the_mean_over_seeds(tmp_path, capsys):
    rows = load("mnist1d_table").main(steps=30, models=("logreg",), out=str(tmp_path), progress=False, seeds=(0, 1))
    (model, paper, mean, steps, seconds, accs) = rows[0]
    assert model == "logreg" and steps == 30 and len(accs) == 2 and accs[0] != accs[1]  # two different runs
    assert mean == pytest.approx(sum(accs) / 2)
    assert (tmp_path / "logreg" / "seed-1" / "metrics.json").exists()
    assert "mean of 2 seeds" in capsys.readouterr().out


def test_char_lm_learns_and_samples_from_its_vocabulary(capsys):
    lm = load("char_lm")
    result = lm.main(steps=40, batch_size=16, length=32, progress=False)
    losses = result["history"].loss
    vocab = result["vocab"]
    # A uniform guess costs log2(V) bits per character; 40 steps already learn the character frequencies.
    assert losses[-5:].mean() < losses[:5].mean() - 0.5
    assert result["bits_per_char"] < np.log2(len(vocab)) - 1.5
    text = result["sample"]
    assert text.startswith("def ") and len(text) == len("def ") + 300
    assert set(text) <= set(vocab.chars)
    out = capsys.readouterr().out
    assert "iter 40, J=" in out and "bits per character" in out and "sample:" in out
