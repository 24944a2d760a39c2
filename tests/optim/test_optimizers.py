"""Optimizers against torch.optim: same problem, same float64 start, trajectories equal to 1e-10."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

STEPS = 8
A = np.random.default_rng(1).normal(size=(5, 3))
B = np.random.default_rng(2).normal(size=(5, 2))
W0 = np.random.default_rng(3).normal(size=(3, 2))
V0 = np.random.default_rng(4).normal(size=(2,))


def cr_loss(w, v):
    # a smooth, non-quadratic loss so that every optimizer's state matters
    r = cr.tensor(A) @ w + v - cr.tensor(B)
    return (r * r).sum() + cr.sin(w).sum() + (v * v * v).sum()


def torch_loss(w, v):
    r = torch.tensor(A) @ w + v - torch.tensor(B)
    return (r * r).sum() + torch.sin(w).sum() + (v * v * v).sum()


def run_chainrule(cls, kwargs, steps=STEPS, groups=None, scheduler=None):
    w = cr.tensor(W0, requires_grad=True)
    v = cr.tensor(V0, requires_grad=True)
    params = [{"params": [w]}, {"params": [v], **groups}] if groups is not None else [w, v]
    opt = getattr(optim, cls)(params, **kwargs)
    sched = scheduler[0](opt, **scheduler[1]) if scheduler else None
    trajectory, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = cr_loss(w, v)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if isinstance(sched, optim.lr_scheduler.ReduceLROnPlateau) else sched.step()
        trajectory.append(np.concatenate([w._data.ravel(), v._data.ravel()]))
        lrs.append([g["lr"] for g in opt.param_groups])
    return np.array(trajectory), np.array(lrs)


def run_torch(cls, kwargs, steps=STEPS, groups=None, scheduler=None):
    w = torch.tensor(W0, requires_grad=True)
    v = torch.tensor(V0, requires_grad=True)
    params = [{"params": [w]}, {"params": [v], **groups}] if groups is not None else [w, v]
    opt = getattr(torch.optim, cls)(params, **kwargs)
    sched = getattr(torch.optim.lr_scheduler, scheduler[0].__name__)(opt, **scheduler[1]) if scheduler else None
    trajectory, lrs = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch_loss(w, v)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) else sched.step()
        trajectory.append(np.concatenate([w.detach().numpy().ravel(), v.detach().numpy().ravel()]))
        lrs.append([g["lr"] for g in opt.param_groups])
    return np.array(trajectory), np.array(lrs)


CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True, eps=1e-3)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
]


@pytest.mark.parametrize("cls,kwargs", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_trajectory_matches_torch(cls, kwargs):
    ours, _ = run_chainrule(cls, kwargs)
    theirs, _ = run_torch(cls, kwargs)
    assert not np.allclose(ours[-1], np.concatenate([W0.ravel(), V0])), "the parameters never moved"
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "cls,kwargs,group",
    [
        ("SGD", dict(lr=0.01, momentum=0.9), dict(lr=0.001, momentum=0.5)),
        ("Adam", dict(lr=0.05), dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.2)),
        ("RMSprop", dict(lr=0.01), dict(centered=True)),
    ],
)
def test_param_groups_match_torch(cls, kwargs, group):
    ours, _ = run_chainrule(cls, kwargs, groups=group)
    theirs, _ = run_torch(cls, kwargs, groups=group)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


SCHEDULERS = [
    (optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.5)),
    (optim.lr_scheduler.ExponentialLR, dict(gamma=0.8)),
    (optim.lr_scheduler.CosineAnnealingLR, dict(T_max=3, eta_min=0.001)),
    (optim.lr_scheduler.ReduceLROnPlateau, dict(factor=0.5, patience=0, threshold=0.5)),
]


@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=[s[0].__name__ for s in SCHEDULERS])
def test_schedulers_match_torch(scheduler):
    ours, our_lrs = run_chainrule(
        "SGD", dict(lr=0.01, momentum=0.9), steps=12, groups=dict(lr=0.02), scheduler=scheduler
    )
    theirs, their_lrs = run_torch(
        "SGD", dict(lr=0.01, momentum=0.9), steps=12, groups=dict(lr=0.02), scheduler=scheduler
    )
    assert len(set(map(tuple, our_lrs))) > 1, "the schedule never changed the lr"
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_lambda_lr_matches_torch():
    fn = lambda epoch: 1.0 / (1 + epoch)
    w = cr.tensor(W0, requires_grad=True)
    tw = torch.tensor(W0, requires_grad=True)
    ours = optim.lr_scheduler.LambdaLR(optim.SGD([w], lr=0.3), fn)
    theirs = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD([tw], lr=0.3), fn)
    for _ in range(5):
        ours.optimizer.step(), theirs.optimizer.step()
        ours.step(), theirs.step()
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), abs=1e-15)
    assert ours.get_last_lr()[0] == pytest.approx(0.3 / 6)


@pytest.mark.parametrize("cls,kwargs", [c for c in CASES if c[0] in ("SGD", "Adam", "RMSprop", "Adagrad")][::2])
def test_state_dict_round_trip_resumes_identically(cls, kwargs, tmp_path):
    straight, _ = run_chainrule(cls, kwargs, steps=6)

    w = cr.tensor(W0, requires_grad=True)
    v = cr.tensor(V0, requires_grad=True)
    opt = getattr(optim, cls)([w, v], **kwargs)
    for _ in range(3):
        opt.zero_grad()
        cr_loss(w, v).backward()
        opt.step()
    cr.save({"w": w.detach(), "v": v.detach(), "opt": opt.state_dict()}, tmp_path / "ckpt.safetensors")
    ckpt = cr.load(tmp_path / "ckpt.safetensors")

    w2 = cr.tensor(ckpt["w"].numpy(), requires_grad=True)
    v2 = cr.tensor(ckpt["v"].numpy(), requires_grad=True)
    opt2 = getattr(optim, cls)([w2, v2], lr=123.0)  # the saved hyperparameters must win
    opt2.load_state_dict(ckpt["opt"])
    resumed = []
    for _ in range(3):
        opt2.zero_grad()
        cr_loss(w2, v2).backward()
        opt2.step()
        resumed.append(np.concatenate([w2._data.ravel(), v2._data.ravel()]))
    np.testing.assert_array_equal(np.array(resumed), straight[3:])


def test_state_dict_layout_is_pytorchs():
    w = cr.tensor(W0, requires_grad=True)
    v = cr.tensor(V0, requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [v], "lr": 0.1}], lr=0.01)
    cr_loss(w, v).backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.01, 0.1]
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["state"][1]["step"] == 1
    # a copy: stepping again must not change the saved state
    saved = sd["state"][0]["exp_avg"].numpy().copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), saved)


def test_scheduler_state_dict_round_trip():
    def make():
        w = cr.tensor(W0, requires_grad=True)
        opt = optim.SGD([w], lr=0.1)
        return opt, optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)

    opt, sched = make()
    for _ in range(4):
        opt.step(), sched.step()
    opt2, sched2 = make()
    sched2.load_state_dict(sched.state_dict())
    opt2.load_state_dict(opt.state_dict())
    for _ in range(3):
        opt.step(), sched.step(), opt2.step(), sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] != 0.1


def test_add_param_group_and_zero_grad():
    w = cr.tensor(W0, requires_grad=True)
    v = cr.tensor(V0, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": v, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    cr_loss(w, v).backward()
    grad_before = v.grad.numpy().copy()
    v_before = v._data.copy()
    opt.step()
    np.testing.assert_allclose(v._data, v_before - 0.5 * grad_before)
    np.testing.assert_array_equal(v.grad.numpy(), grad_before)  # step never writes into .grad
    opt.zero_grad(set_to_none=False)
    assert v.grad is not None and not v.grad.numpy().any()
    opt.zero_grad()
    assert w.grad is None and v.grad is None


def test_step_records_no_graph_and_keeps_dtype():
    w = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.grad_fn is None and w.dtype == np.float32
    assert opt.state[w]["exp_avg"].dtype == np.float32


def test_errors_name_the_fix():
    w = cr.tensor(W0, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list.*model.parameters"):
        optim.Adam([])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD(iter([]), lr=0.1)
    with pytest.raises(ValueError, match="not a leaf.*detach"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([W0], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([w], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([w], betas=(1.0, 0.9))
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="2 parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})


def test_closure_returns_loss():
    w = cr.tensor(W0, requires_grad=True)
    v = cr.tensor(V0, requires_grad=True)
    opt = optim.SGD([w, v], lr=0.01)

    def closure():
        opt.zero_grad()
        loss = cr_loss(w, v)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    second = opt.step(closure).item()
    assert second < first
