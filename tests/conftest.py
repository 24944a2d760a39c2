"""Shared fixtures: seeded RNG, hypothesis profiles, and a guard that every test restores global state."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import chainrule as cr
from chainrule import _dtypes
from chainrule.autograd import anomaly, grad_mode

# The default profile is derandomized so a CI run is reproducible; `nightly` explores new examples.
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile("nightly", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is a test dependency that `make test` installs
    torch = None


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _restores_global_state():
    """Fail any test that leaks grad mode, anomaly mode or the default dtype (as MyGrad's fixtures do)."""
    before = (grad_mode.is_grad_enabled(), anomaly.is_anomaly_enabled(), cr.get_default_dtype())
    yield
    after = (grad_mode.is_grad_enabled(), anomaly.is_anomaly_enabled(), cr.get_default_dtype())
    grad_mode._state["enabled"], anomaly._state["enabled"] = before[0], before[1]
    _dtypes._state["default"] = before[2]
    assert before == after, f"test leaked global state: {before} -> {after}"
