"""Every worked example runs and gets the answer a good solution gets."""

import importlib.util
import pathlib

import numpy as np
import pytest
import sympy as sp

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run(name, capsys, **kwargs):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(**kwargs)
    return result, capsys.readouterr().out


def test_derivative_a_pow_x(capsys):
    r, out = run("derivative_a_pow_x", capsys)
    a, x = sp.Symbol("a", real=True), sp.Symbol("x", real=True)
    assert sp.simplify(r["symbolic"] - a**x * sp.log(a)) == 0
    for auto, exact in r["values"].values():
        assert auto == pytest.approx(exact, rel=1e-12)
    assert "a**x*log(a)" in out


def test_derivative_polynomial(capsys):
    r, out = run("derivative_polynomial", capsys)
    x = sp.Symbol("x", real=True)
    assert sp.expand(r["derivative"] - (10 * x**9 - 16 * x**7 - 8 / x**3)) == 0
    assert r["values"][1.0] == (pytest.approx(-14.0), pytest.approx(-14.0))
    assert r["values"][2.0][0] == pytest.approx(10 * 512 - 16 * 128 - 1)


def test_activation_identities(capsys):
    r, _ = run("activation_identities", capsys)
    assert r["sigmoid"] and r["tanh"] and r["tanh_sigmoid"] and r["err"] < 1e-12


def test_gradient_at_point(capsys):
    r, out = run("gradient_at_point", capsys)
    assert r["grad"] == (17.0, 15.0) and "(17.0, 15.0)" in out


def test_softmax_example(capsys):
    r, out = run("softmax_example", capsys)
    z = np.array([1, 2, 3, -1, -4, 0.0])
    np.testing.assert_allclose(r["p"], np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    assert r["argmax"] == 2
    np.testing.assert_allclose(r["jacobian"], r["formula"], atol=1e-12)
    assert np.isnan(r["naive"]).all() and np.isfinite(r["stable"]).all()


def test_cross_entropy_gradient(capsys):
    r, _ = run("cross_entropy_gradient", capsys)
    np.testing.assert_allclose(r["grad"], r["expected"], atol=1e-12)
    assert r["grad"][0, 0] < 0 < r["grad"][0, 1]


def test_linear_layer_backprop(capsys):
    r, _ = run("linear_layer_backprop", capsys)
    assert r == {"dW = delta x^T": True, "dx = W^T delta": True, "db = delta": True}


def test_stacked_linear_collapse(capsys):
    r, _ = run("stacked_linear_collapse", capsys)
    assert r["W"].shape == (2, 3) and r["b"].shape == (2,) and r["max_error"] < 1e-12


def test_xor_fixed_first_layer(capsys):
    r, _ = run("xor_fixed_first_layer", capsys)
    assert list(r["predictions"]) == [0, 1, 1, 0]
    v1, v2 = r["weights"]
    assert v1 > 0 > v2  # the difference of the two hidden units peaks at x1 + x2 = 1


def test_xor_features(capsys):
    r, _ = run("xor_features", capsys)
    np.testing.assert_allclose(r["outputs"], [0, 1, 1, 0], atol=1e-6)
    assert r["weights"][2] == pytest.approx(-2.0, abs=1e-4)  # the x1 x2 feature carries XOR


def test_relu_network_gradients(capsys):
    r, _ = run("relu_network_gradients", capsys)
    np.testing.assert_allclose(r["dW1"], r["dW1_expected"])
    assert np.all(r["dW1"][~r["active"]] == 0) and np.all(r["db1"][~r["active"]] == 0)
    assert np.all(r["dW2"][0, r["a"].ravel() == 0] == 0)
    assert np.any(r["dW1"][r["active"]] != 0)


def test_residual_gradients(capsys, tmp_path):
    r, out = run("residual_gradients", capsys, out_dir=str(tmp_path))
    np.testing.assert_allclose(r["dz1"], r["dz1_expected"], atol=1e-12)
    np.testing.assert_allclose(r["dW2"], r["dW2_expected"], atol=1e-12)
    np.testing.assert_allclose(r["db2"], r["dz2"], atol=1e-12)
    assert pathlib.Path(r["path"]).stat().st_size > 500


def test_computational_graph_u1_u5(capsys, tmp_path):
    r, out = run("computational_graph_u1_u5", capsys, out_dir=str(tmp_path))
    assert r["L"] == 142**2
    assert r["grads"] == {"u5": 284.0, "u4": 6532.0, "u3": 3692.0, "u2": 17324.0, "u1": 21016.0}
    assert "dL/du2 = dL/du4·∂u4/∂u2 + dL/du3·∂u3/∂u2 + ∂L/∂u2" in out
    assert pathlib.Path(r["path"]).exists()


def test_two_paths_chain_rule(capsys):
    r, out = run("two_paths_chain_rule", capsys)
    assert r["df"] == pytest.approx(r["chain"], rel=1e-12)
    assert r["d2f"] == pytest.approx(r["d2_exact"], rel=1e-10)
    assert r["hessian"] == pytest.approx(r["d2_exact"], rel=1e-10)
    assert "df/dx = df/dh2·∂h2/∂x + df/dh1·∂h1/∂x" in out


def test_gradient_descent_2x2_softmax(capsys):
    history, out = run("gradient_descent_2x2_softmax", capsys)
    Js = [h["J"] for h in history]
    assert Js == sorted(Js, reverse=True)  # the loss falls every step
    z0 = np.array([[0.5, -0.5], [0.2, 0.3]])
    p0 = np.exp(z0) / np.exp(z0).sum(0)
    assert Js[0] == pytest.approx(-np.log(np.diag(p0)).mean())
    np.testing.assert_allclose(history[0]["dz"], (p0 - np.eye(2)) / 2)
    assert out.count("iter ") == 3 and "dW =" in out and "db =" in out
