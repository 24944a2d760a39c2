"""A jitted SGD step keeps parameters and gradients in flat arrays (autograd/jit/flat.py) only
where no one can tell.

Each case trains the same MLP with chainrule.jit and with PyTorch (float64, copied weights,
the same batches), while the user holds on to something PyTorch's semantics say more about:
a gradient of an earlier step, a NumPy view of one, a parameter's array taken before or after
training started, a state_dict. After every step the held values, the parameters and the
losses must be PyTorch's. The flat update itself is checked bit for bit against eager.
"""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

SIZES = (5, 7, 7, 3)
STEPS = 6


def _model(dtype=cr.float64, seed=0):
    cr.manual_seed(seed)
    layers = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        layers += [nn.Linear(i, o, dtype=dtype), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _twin(model):
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64)
            with torch.no_grad():
                t.weight.copy_(torch.tensor(m.weight._data))
                t.bias.copy_(torch.tensor(m.bias._data))
            layers.append(t)
        else:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _batches(n=STEPS, rows=8, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((rows, SIZES[0])), rng.integers(0, SIZES[-1], rows)) for _ in range(n)]


def _storage(jitted):
    found = [v for k, v in jitted.program.ns.items() if k.startswith("flat_")]
    return found[0] if found else None


def test_the_flat_update_is_eagers_bit_for_bit_and_is_used():
    """float32, the bench's shape of step: jit and eager agree exactly for every loss, gradient and
    weight; the parameters end up in one array and one gradient buffer serves every step."""
    models = [_model(cr.float32) for _ in range(2)]
    opts = [optim.SGD(m.parameters(), lr=0.1) for m in models]

    def step_of(model, opt):
        def step(x, y):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step

    jitted, eager = cr.jit(step_of(models[0], opts[0])), step_of(models[1], opts[1])
    storage, buffers = None, set()
    for x, y in _batches(12):
        x, y = cr.tensor(x.astype(np.float32)), cr.tensor(y)
        assert jitted(x, y)._data == eager(x, y)._data
        storage = storage or _storage(jitted)
        if storage is not None and storage.spares:
            buffers.add(id(storage.spares[-1][0]))
        for p, q in zip(models[0].parameters(), models[1].parameters()):
            np.testing.assert_array_equal(p._data, q._data)
            np.testing.assert_array_equal(p.grad._data, q.grad._data)
    assert storage is not None
    bases = [p._data.base for p in models[0].parameters()]
    assert bases[0] is not None and all(b is bases[0] for b in bases)
    assert len(buffers) == 1  # the gradients' buffer came back and was written again
    assert [p._version for p in models[0].parameters()] == [p._version for p in models[1].parameters()]


def _hold_grads(model, held):
    held.append([p.grad for p in model.parameters()])


def _hold_grad_views(model, held):
    held.append([p.grad.numpy()[:1] for p in model.parameters()])


def _array(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    return np.array(value._data if isinstance(value, cr.Tensor) else value)


def _grad_values(model, held):
    return [_array(g) for step in held for g in step]


# Each case: (before training: hold(model) -> what is held, after each step: hold_more(model, held)
# or None, compare(model, held) -> arrays to compare with torch's).
CASES = {
    "every step's gradients kept": (lambda m: [], _hold_grads, _grad_values),
    "a NumPy view of every step's gradients kept": (lambda m: [], _hold_grad_views, _grad_values),
    "a parameter's array taken before training": (
        lambda m: [p.detach().numpy() for p in m.parameters()],
        None,
        lambda m, held: [_array(a) for a in held],
    ),
    "a state_dict taken before training": (
        lambda m: m.state_dict(),
        None,
        lambda m, held: [_array(v) for v in held.values()],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_the_user_holds_behaves_as_in_torch(case):
    hold, hold_more, compare = CASES[case]
    model = _model()
    twin = _twin(model)
    opt, topt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)

    @cr.jit
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    held, theirs = hold(model), hold(_TorchView(twin))
    for i, (x, y) in enumerate(_batches()):
        loss = step(cr.tensor(x), cr.tensor(y))
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        if hold_more is not None:
            hold_more(model, held)
            hold_more(_TorchView(twin), theirs)
        np.testing.assert_allclose(loss._data, tloss.detach().numpy(), rtol=1e-12, err_msg=f"step {i}")
        for a, b in zip(compare(model, held), compare(_TorchView(twin), theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=f"{case}, after step {i}")
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-15)


class _TorchView:
    """A torch module seen through the names the cases use (`.numpy()` of a parameter detached)."""

    def __init__(self, module):
        self.module = module

    def parameters(self):
        return self.module.parameters()

    def state_dict(self):
        return self.module.state_dict()


def _run_both(train_step_ours, train_step_theirs, between=None, steps=STEPS):
    """Train a chainrule model with jit and its torch twin; `between(i, model, twin)` changes both
    before step i. Returns (model, twin) after checking losses and parameters at every step."""
    model = _model()
    twin = _twin(model)
    opt, topt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    step = cr.jit(train_step_ours(model, opt))
    tstep = train_step_theirs(twin, topt)
    for i, (x, y) in enumerate(_batches(steps)):
        if between is not None:
            between(i, model, twin)
        loss = step(cr.tensor(x), cr.tensor(y))
        tloss = tstep(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(loss._data, tloss.detach().numpy(), rtol=1e-12, err_msg=f"step {i}")
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=f"step {i}")
            np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=f"step {i}")
    return model, twin, step


def _step(lib_F, zero=True, set_to_none=True, clip=None, zero_last=False):
    def make(model, opt):
        def step(x, y):
            if zero and not zero_last:
                opt.zero_grad(set_to_none=set_to_none)
            loss = lib_F.cross_entropy(model(x), y)
            loss.backward()
            if clip is not None:
                clip(model.parameters(), 0.5)
            opt.step()
            if zero and zero_last:
                opt.zero_grad(set_to_none=set_to_none)
            return loss

        return step

    return make


@pytest.mark.parametrize(
    "options",
    [
        {"zero": False},  # gradients accumulate from call to call
        {"set_to_none": False},
        {"clip": "clip_grad_norm_"},
    ],
    ids=["no zero_grad", "zero_grad to zeros", "clip_grad_norm_"],
)
def test_training_steps_of_every_usual_shape_match_torch(options):
    ours, theirs = dict(options), dict(options)
    if "clip" in options:
        ours["clip"], theirs["clip"] = nn.utils.clip_grad_norm_, torch.nn.utils.clip_grad_norm_
    _run_both(_step(F, **ours), _step(torch.nn.functional, **theirs))


def test_zero_grad_at_the_end_matches_torch():
    """opt.zero_grad() last in the step: .grad is None between calls, in both."""
    model = _model()
    twin = _twin(model)
    opt, topt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    step = cr.jit(_step(F, zero_last=True)(model, opt))
    tstep = _step(torch.nn.functional, zero_last=True)(twin, topt)
    for x, y in _batches():
        loss, tloss = step(cr.tensor(x), cr.tensor(y)), tstep(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(loss._data, tloss.item(), rtol=1e-12)
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-15)
            assert p.grad is None and q.grad is None
    assert _storage(step) is not None


def test_a_parameter_array_taken_after_training_started_stays_an_alias():
    """After the parameters moved, a NumPy view of one is taken, then another parameter's .data is
    reassigned (the step falls back to per-parameter updates and would move them again): the view
    must keep seeing the parameter's updates, as in torch."""
    new_bias = np.linspace(-1, 1, SIZES[1])
    held = {}

    def between(i, model, twin):
        if i == 3:
            held["ours"] = model[0].weight.detach().numpy()[1:3]
            held["theirs"] = twin[0].weight.detach().numpy()[1:3]
            model[2].bias.data = cr.tensor(new_bias[: SIZES[2]].copy())
            with torch.no_grad():
                twin[2].bias.data = torch.tensor(new_bias[: SIZES[2]].copy())

    model, twin, step = _run_both(_step(F), _step(torch.nn.functional), between=between, steps=STEPS + 2)
    np.testing.assert_allclose(held["ours"], held["theirs"], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(held["ours"], model[0].weight._data[1:3])
    assert _storage(step) is not None


def test_two_batch_sizes_share_the_moved_parameters():
    """A last batch of another size traces a second replay, which finds the parameters in the first
    replay's storage and updates them one by one: both match torch, call after call."""
    batches = _batches(8)
    batches = [(x[:5], y[:5]) if i % 3 == 2 else (x, y) for i, (x, y) in enumerate(batches)]
    model = _model()
    twin = _twin(model)
    opt, topt = optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    step = cr.jit(_step(F)(model, opt))
    tstep = _step(torch.nn.functional)(twin, topt)
    for i, (x, y) in enumerate(batches):
        loss, tloss = step(cr.tensor(x), cr.tensor(y)), tstep(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(loss._data, tloss.item(), rtol=1e-12, err_msg=f"step {i}")
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=f"step {i}")
        if i > 2:  # both replays update the parameters as one array
            assert _flat_step_taken(model, _storage(step))
    assert step.trace_count == 2


def _flat_step_taken(model, storage):
    """True when the last step could take the flat update: every parameter in the storage's array and
    every gradient in the buffer it gave back."""
    params = list(model.parameters())
    grads = storage.spares[-1][1:] if storage.spares else ()
    return len(grads) == len(params) and all(
        p._data is getattr(storage, f"pv{j}") and p.grad._data is g for j, (p, g) in enumerate(zip(params, grads))
    )


def test_a_trace_made_again_keeps_the_flat_update():
    """A module setting changed between steps makes the step trace again; the new replay finds the
    parameters where the first one moved them and goes on updating them as one array, matching torch."""

    def between(i, model, twin):
        if i == 3:
            model.note = twin.note = "changed"

    model, twin, step = _run_both(_step(F), _step(torch.nn.functional), between=between, steps=STEPS + 2)
    assert step.trace_count == 2
    assert _flat_step_taken(model, _storage(step))


def test_an_optimizer_that_cannot_be_a_weak_key_updates_one_by_one():
    """An SGD subclass defining __eq__ (so unhashable) keeps the per-parameter update: same numbers."""

    class ComparableSGD(optim.SGD):
        def __eq__(self, other):
            return self is other

    model = _model()
    twin = _twin(model)
    opt, topt = ComparableSGD(model.parameters(), lr=0.1), torch.optim.SGD(twin.parameters(), lr=0.1)
    step = cr.jit(_step(F)(model, opt))
    tstep = _step(torch.nn.functional)(twin, topt)
    for x, y in _batches():
        loss, tloss = step(cr.tensor(x), cr.tensor(y)), tstep(torch.tensor(x), torch.tensor(y))
        np.testing.assert_allclose(loss._data, tloss.item(), rtol=1e-12)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert _storage(step) is None and all(p._data.base is None for p in model.parameters())
