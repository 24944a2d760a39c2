"""PyTorch's beginner tutorials and mnist1d's models, written as our own scripts, run with chainrule as `torch`.

Each script under scripts/ is PyTorch code with `chainrule` in its import lines. Three checks per script:
- it runs unchanged with chainrule (its own asserts check losses fall, gradients and shapes);
- it is real PyTorch code: the same text with `torch` imported runs and passes the same asserts;
- where it prints `RESULT name value` lines (deterministic: weights and data come from NumPy), the
  numbers from chainrule equal torch's within float32 tolerance.

`python -m tests.compat.runner` (with PYTHONPATH=src) prints which scripts run unchanged, and the count.
"""

import functools
import re

import numpy as np
import pytest

from .runner import SCRIPTS_DIR, results, run_script, script_paths

torch = pytest.importorskip("torch")

NAMES = [p.stem for p in script_paths()]
COMPARED = [n for n in NAMES if re.search(r'^\s*print\(f?"RESULT ', (SCRIPTS_DIR / f"{n}.py").read_text(), re.M)]


@functools.cache
def _torch_output(name):
    return run_script(SCRIPTS_DIR / f"{name}.py", "torch")


@functools.cache  # a script that raises is not cached: it raises again where used
def _chainrule_output(name):
    return run_script(SCRIPTS_DIR / f"{name}.py", "chainrule")


def test_the_scripts_cover_the_tutorials():
    assert len(NAMES) >= 25
    for prefix in ("basics_", "blitz_", "examples_", "nlp_", "mnist1d_"):
        assert any(n.startswith(prefix) for n in NAMES), prefix


@pytest.mark.parametrize("name", NAMES)
def test_script_is_pytorch_code(name):
    _torch_output(name)


@pytest.mark.parametrize("name", NAMES)
def test_script_runs_unchanged_with_chainrule(name):
    _chainrule_output(name)


@pytest.mark.parametrize("name", COMPARED)
def test_script_numbers_match_torch(name):
    expected = results(_torch_output(name))
    got = results(_chainrule_output(name))
    assert expected and sorted(got) == sorted(expected)
    for key, value in expected.items():
        # float32 training in both libraries: sums run in a different order, nothing else differs.
        np.testing.assert_allclose(got[key], value, rtol=2e-5, atol=1e-6, err_msg=f"{name}: {key}")
