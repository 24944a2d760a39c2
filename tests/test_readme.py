"""The README's code runs, and the answers it shows are the ones chainrule gives."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_and_give_the_shown_answers():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    ns = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)
    cr = ns["cr"]
    assert float(cr.grad(ns["f"])(1.0)) == -14.0
    assert [float(v) for v in cr.grad(ns["g"], argnums=(0, 1))(1.0, 2.0)] == [17.0, 15.0]
    np.testing.assert_allclose(ns["p"].data, [0.0861, 0.2340, 0.6360, 0.0116, 0.0006, 0.0317], atol=5e-5)
    assert ns["p"].argmax().item() == 2
    expected = ns["p"].data - np.eye(6)[2]
    np.testing.assert_allclose(ns["z"].grad.data, expected, atol=1e-12)
    # u1..u5: dL/du1 = 2 r (du5/du1 - 1 - u2 - 1), r = 142, du5/du1 = 2 (u2 u4 + u3) = 80
    assert ns["u1"].grad.item() == 2 * 142 * (80 - 1 - 4 - 1)
    assert ns["u2"].grad.item() == 2 * 142 * (66 - 1 - 3 - 1)
    assert ns["d2"].item() == 8.0
    # the neural-network block trains, saves and reloads
    assert ns["evaluate"](ns["model"], ns["digits"].test).accuracy > 0.9
    assert ns["history"].loss[-1] < ns["history"].loss[0]
    # the jit block: traced once, replayed for the other batches, and it trained
    assert ns["train_step"].trace_count == 1
    assert "_np.matmul" in ns["train_step"].code  # Linear's rules, written inline
    assert ns["evaluate"](ns["train_model"], ns["digits"].test).accuracy > 0.8
    # the math-made-visible block
    assert "21016" in str(cr.explain(ns["L"]))
    assert str(ns["symbolic"].diff(lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10)) == "2*(5*x**12 - 8*x**10 - 4)/x**3"
    check = ns["symbolic"].identity(cr.tanh, lambda x: 2 * cr.sigmoid(2 * x) - 1)
    assert check.symbolic and check.numeric


def test_readme_links_to_files_that_exist():
    links = re.findall(r"\]\(((?:docs|bench|examples)/[^)#]+)\)", README.read_text())
    assert any(link.startswith("docs/compat/") for link in links)
    missing = [link for link in links if not (README.parent / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
