"""Threads: grad mode belongs to the thread that sets it, and backward passes may run concurrently.

Each scenario runs with real threads, forces one interleaving with events and barriers,
and returns what it observed; the same scenario run with PyTorch is the expected answer.
"""

import sys
import threading

import numpy as np
import pytest
import torch

import chainrule as cr

LIBS = {"torch": torch, "chainrule": cr}
TIMEOUT = 20  # seconds: a wait that times out means the interleaving went wrong


@pytest.fixture
def fast_switching():
    """Switch threads every microsecond, so that free-running threads interleave inside each step."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _run_threads(*targets):
    """Run each target in its own thread; re-raise the first exception one of them hit."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - handed back to the test
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung: the interleaving deadlocked"
    if errors:
        raise errors[0]


def _wait(event):
    assert event.wait(TIMEOUT), "timed out waiting for the other thread"


def _scalar(t):
    return None if t is None else float(t.detach().numpy().sum())


# ----- grad mode -----


def _no_grad_in_a_records_in_b(lib):
    """A sits inside no_grad while B builds a graph and backprops; then A computes."""
    seen = {}
    a_inside, b_done = threading.Event(), threading.Event()

    def thread_a():
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            a_inside.set()
            _wait(b_done)
            y = x * 3
            seen["a_mode"] = lib.is_grad_enabled()
            seen["a_requires_grad"] = y.requires_grad
        seen["a_after"] = lib.is_grad_enabled()

    def thread_b():
        _wait(a_inside)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        seen["b_mode"] = lib.is_grad_enabled()
        y = (x * x).sum()
        seen["b_requires_grad"] = y.requires_grad
        y.backward()
        seen["b_grad"] = x.grad.tolist()
        b_done.set()

    _run_threads(thread_a, thread_b)
    return seen


def _set_grad_enabled_call_in_a(lib):
    """`set_grad_enabled(False)` called as a function in A leaves B recording."""
    seen = {}
    a_off, b_done = threading.Event(), threading.Event()

    def thread_a():
        lib.set_grad_enabled(False)
        a_off.set()
        _wait(b_done)
        seen["a_mode"] = lib.is_grad_enabled()

    def thread_b():
        _wait(a_off)
        x = lib.tensor(2.0, requires_grad=True)
        seen["b_requires_grad"] = (x * x).requires_grad
        b_done.set()

    _run_threads(thread_a, thread_b)
    return seen


def _enable_grad_in_a_inside_b_no_grad(lib):
    """B sits inside no_grad while A enters enable_grad: each thread keeps its own mode."""
    seen = {}
    b_inside, a_inside, b_checked = threading.Event(), threading.Event(), threading.Event()

    def thread_a():
        _wait(b_inside)
        with lib.enable_grad():
            a_inside.set()
            _wait(b_checked)
            seen["a_mode"] = lib.is_grad_enabled()

    def thread_b():
        x = lib.tensor(2.0, requires_grad=True)
        with lib.no_grad():
            b_inside.set()
            _wait(a_inside)
            seen["b_requires_grad"] = (x * 2).requires_grad
            seen["b_mode"] = lib.is_grad_enabled()
            b_checked.set()

    _run_threads(thread_a, thread_b)
    return seen


def _new_thread_starts_with_grad_on(lib):
    """A thread started from inside no_grad does not inherit it (PyTorch's thread-local default)."""
    seen = {}

    def child():
        x = lib.tensor(2.0, requires_grad=True)
        seen["child_mode"] = lib.is_grad_enabled()
        seen["child_requires_grad"] = (x * 2).requires_grad

    with lib.no_grad():
        _run_threads(child)
        seen["parent_mode"] = lib.is_grad_enabled()
    return seen


def _anomaly_enabled(lib):
    return torch.is_anomaly_enabled() if lib is torch else cr.autograd.is_anomaly_enabled()


def _anomaly_mode_across_threads(lib):
    """What B sees while A is inside detect_anomaly (PyTorch: anomaly mode is process-wide)."""
    seen = {}
    a_inside, b_done = threading.Event(), threading.Event()

    def thread_a():
        with lib.autograd.detect_anomaly():
            a_inside.set()
            _wait(b_done)

    def thread_b():
        _wait(a_inside)
        seen["b_anomaly"] = _anomaly_enabled(lib)
        seen["b_grad_mode"] = lib.is_grad_enabled()
        b_done.set()

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that anomaly detection is slow
        _run_threads(thread_a, thread_b)
    seen["after"] = _anomaly_enabled(lib)
    return seen


SCENARIOS = [
    _no_grad_in_a_records_in_b,
    _set_grad_enabled_call_in_a,
    _enable_grad_in_a_inside_b_no_grad,
    _new_thread_starts_with_grad_on,
    _anomaly_mode_across_threads,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.strip("_"))
def test_switches_per_thread_as_torch(scenario):
    assert scenario(cr) == scenario(torch)


def test_grad_mode_is_per_thread_in_both_libraries():
    # The differential test above could pass with both libraries global; pin the meaning too.
    seen = _no_grad_in_a_records_in_b(cr)
    assert seen["b_mode"] is True and seen["b_requires_grad"] is True and seen["a_requires_grad"] is False


# ----- backward passes in two threads -----


def _backward_while_other_thread_is_inside_backward(lib, create_graph):
    """A pauses inside its backward (in a tensor hook); B builds a graph and backprops meanwhile.

    On a process-wide switch, A's backward (grad mode off, or create_graph's Tensor mode) would
    leak into B's forward and backward.
    """
    seen = {}
    a_in_backward, b_done = threading.Event(), threading.Event()

    def thread_a():
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = lib.tanh(x) * x
        h.register_hook(lambda g: (a_in_backward.set(), _wait(b_done), g)[-1])
        loss = (h * h).sum()
        (gx,) = lib.autograd.grad(loss, x, create_graph=create_graph)
        seen["a_grad"] = gx.tolist()
        if create_graph:
            (ggx,) = lib.autograd.grad(gx.sum(), x)
            seen["a_gradgrad"] = ggx.tolist()

    def thread_b():
        _wait(a_in_backward)
        try:
            w = lib.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=lib.float64, requires_grad=True)
            v = lib.tensor([0.3, -0.7], dtype=lib.float64)
            seen["b_mode"] = lib.is_grad_enabled()
            out = lib.sigmoid(w @ v).pow(2).sum()
            seen["b_requires_grad"] = out.requires_grad
            out.backward()
            seen["b_grad"] = w.grad.tolist()
        finally:
            b_done.set()

    _run_threads(thread_a, thread_b)
    return seen


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_in_one_thread_does_not_leak_into_another(create_graph):
    ours = _backward_while_other_thread_is_inside_backward(cr, create_graph)
    theirs = _backward_while_other_thread_is_inside_backward(torch, create_graph)
    assert ours.keys() == theirs.keys()
    assert ours["b_mode"] is theirs["b_mode"] is True
    assert ours["b_requires_grad"] is theirs["b_requires_grad"] is True
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14, err_msg=key)


def _train(lib, seed, steps, barrier=None):
    """A small MLP trained with SGD; `barrier` makes two threads alternate step by step."""
    rng = np.random.default_rng(seed)
    w1 = lib.tensor(rng.standard_normal((4, 8)) * 0.5, requires_grad=True)
    b1 = lib.tensor(np.zeros(8), requires_grad=True)
    w2 = lib.tensor(rng.standard_normal((8, 1)) * 0.5, requires_grad=True)
    params = [w1, b1, w2]
    x = lib.tensor(rng.standard_normal((16, 4)))
    y = lib.tensor(rng.standard_normal((16, 1)))
    opt = lib.optim.SGD(params, lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait(TIMEOUT)
        opt.zero_grad()
        loss = ((lib.relu(x @ w1 + b1) @ w2 - y) ** 2).mean()
        loss.backward()
        with lib.no_grad():  # a no_grad block in one thread while the other records
            losses.append(float(loss.item()))
        opt.step()
    return losses, [p.detach().numpy().copy() for p in params]


def test_two_threads_training_match_sequential_runs(fast_switching):
    steps = 30
    sequential = [_train(cr, seed, steps) for seed in (1, 2)]
    concurrent = {}
    barrier = threading.Barrier(2)
    _run_threads(*[lambda seed=seed: concurrent.__setitem__(seed, _train(cr, seed, steps, barrier)) for seed in (1, 2)])
    for seed, (losses, params) in zip((1, 2), sequential):
        assert concurrent[seed][0] == losses
        for ours, expected in zip(concurrent[seed][1], params):
            np.testing.assert_array_equal(ours, expected)
    # and the sequential run is PyTorch's run
    for seed, (losses, params) in zip((1, 2), sequential):
        t_losses, t_params = _train(torch, seed, steps)
        np.testing.assert_allclose(losses, t_losses, rtol=1e-10)
        for ours, theirs in zip(params, t_params):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_many_threads_free_running_backward(fast_switching):
    # No forced interleaving: eight threads hammer independent graphs; every gradient is right.
    results = {}

    def work(k):
        def run():
            for i in range(20):
                x = cr.tensor(np.linspace(-1, 1, 7) * (k + 1), dtype=cr.float64, requires_grad=True)
                with cr.no_grad() if i % 3 == 0 else cr.enable_grad():
                    y = (cr.tanh(x) * x).sum()
                if i % 3 == 0:
                    assert not y.requires_grad
                    continue
                y.backward()
                results.setdefault(k, []).append(x.grad.numpy().copy())

        return run

    _run_threads(*[work(k) for k in range(8)])
    for k in range(8):
        xt = torch.tensor(np.linspace(-1, 1, 7) * (k + 1), requires_grad=True)
        (torch.tanh(xt) * xt).sum().backward()
        for g in results[k]:
            np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)


def _default_device_per_thread(lib):
    """set_default_device in A is not seen in B (PyTorch's device context is per thread)."""
    seen = {}
    a_set, b_done = threading.Event(), threading.Event()

    def thread_a():
        lib.set_default_device("cpu:0")
        seen["a"] = str(lib.get_default_device())
        a_set.set()
        _wait(b_done)
        lib.set_default_device(None)
        seen["a_reset"] = str(lib.get_default_device())

    def thread_b():
        _wait(a_set)
        seen["b"] = str(lib.get_default_device())
        seen["b_tensor"] = str(lib.zeros(1).device)
        b_done.set()

    _run_threads(thread_a, thread_b)
    return seen


def _default_dtype_is_process_wide(lib):
    seen = {}

    def child():
        seen["child"] = str(lib.get_default_dtype()).replace("chainrule.", "").replace("torch.", "")

    before = lib.get_default_dtype()
    lib.set_default_dtype(lib.float64)
    try:
        _run_threads(child)
    finally:
        lib.set_default_dtype(before)
    return seen


@pytest.mark.parametrize(
    "scenario", [_default_device_per_thread, _default_dtype_is_process_wide], ids=lambda s: s.__name__.strip("_")
)
def test_defaults_per_thread_as_torch(scenario):
    assert scenario(cr) == scenario(torch)
