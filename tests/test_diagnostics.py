"""Gradient-flow diagnostics: norms, dead ReLUs, vanishing/exploding warnings."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.diagnostics import dead_fraction, gradient_flow, record_activations


def test_norms_from_dict_and_list():
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    v = cr.tensor([1.0, 0.0], requires_grad=True, name="v")
    ((w * 2).sum() + (v * 0.5).sum()).backward()
    r = gradient_flow({"w": w, "v": v}, warn=False)
    assert r.norms() == {"w": pytest.approx(np.sqrt(8)), "v": pytest.approx(np.sqrt(0.5))}
    assert r.params[0].ratio == pytest.approx(np.sqrt(8) / 5)
    r2 = gradient_flow([v, ("w", w)], warn=False)
    assert [p.name for p in r2.params] == ["v", "w"]
    assert "|grad|" in str(r)


def test_vanishing_and_exploding_warn():
    w = cr.tensor([1.0, 1.0], requires_grad=True)
    (w * 1e-9).sum().backward()
    with pytest.warns(UserWarning, match="vanishing gradients.*w"):
        r = gradient_flow({"w": w})
    assert r.vanishing == ["w"]
    u = cr.tensor([1.0], requires_grad=True)
    (u * 1e6).sum().backward()
    with pytest.warns(UserWarning, match="exploding"):
        assert gradient_flow({"u": u}).exploding == ["u"]
    ok = cr.tensor([1.0], requires_grad=True)
    (ok * 0.1).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradient_flow({"ok": ok})


def test_missing_gradients_are_listed():
    w = cr.tensor([1.0], requires_grad=True)
    r = gradient_flow({"w": w}, warn=False)
    assert r.missing == ["w"] and "no gradient" in str(r)


def test_dead_relu_fraction():
    a = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0]])
    assert dead_fraction(a) == 0.5
    r = gradient_flow({}, activations={"relu1": cr.tensor(a)}, warn=False)
    assert r.dead_relu == {"relu1": 0.5}


def test_with_a_module_and_recorded_activations():
    nn = pytest.importorskip("chainrule.nn")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with cr.no_grad():
        model[0].bias.fill_(-100.0)  # every hidden unit dead
    with record_activations(model) as acts:
        loss = model(cr.randn(16, 4)).sum()
    loss.backward()
    r = gradient_flow(model, activations=acts, warn=False)
    assert r.dead_relu == {"1": 1.0}
    assert r.norms()["0.weight"] == 0.0  # dead units pass no gradient
    assert "forward" not in vars(model[1])  # the patch is removed


def test_vanishing_example_numbers():
    pytest.importorskip("chainrule.nn")
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "vanishing_gradients.py"
    spec = importlib.util.spec_from_file_location("vanishing_gradients", path)
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)

    np.random.seed(0)
    import matplotlib

    matplotlib.use("Agg")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        res = ex.main(out_dir=d, steps=1)
        assert res["sigmoid"]["first_over_last"] < 1e-5
        assert res["relu"]["first_over_last"] > 100 * res["sigmoid"]["first_over_last"]
        import os

        assert os.path.getsize(res["path"]) > 1000
