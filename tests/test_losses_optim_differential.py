"""Losses, optimizers, schedulers and gradient clipping against torch, on the options a demanding user tries.

Complements tests/test_torch_differential.py (random loss arguments, plain optimizer trajectories) and
tests/optim/ (trajectories, simple groups, chainrule-only state_dict round trips) with the cases they leave
out: extreme logits and broadcast pos_weight/weight shapes, ignore_index on probability targets, optimizer
steps where some parameters have no gradient, zero_grad(set_to_none=False), groups whose flags differ
(amsgrad, nesterov, centered), state_dict round trips mid-training compared with torch continuing, stacked
and resumed schedulers, and clipping in float32. Everything in float64 unless the case says otherwise.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
from _differential import compare  # noqa: E402

RNG = np.random.default_rng(20261201)
X = RNG.standard_normal((4, 3))
T = np.array([0, 2, 1, 2])
W = RNG.random(3) + 0.5
P = RNG.random((4, 3))
P /= P.sum(1, keepdims=True)
XK = RNG.standard_normal((2, 3, 2, 2))
TK = RNG.integers(0, 3, (2, 2, 2))
PK = RNG.random((2, 3, 2, 2))
Z = np.array([[-100.0, 100.0, 0.5], [100.0, -100.0, -3.0]])  # logits far past where sigmoid saturates
Y = np.array([[1.0, 0.0, 0.3], [1.0, 0.0, 1.0]])


# ----- losses: (program, inputs); class weights never require grad (torch refuses that) -----


def _ce(**kw):
    return lambda lib, F, x, t: F.cross_entropy(x, t, **kw)


LOSSES = {
    # the fused (N, C) path: ignore_index a real class, a negative non-default one, and logits of 100
    "ce ignore=2 mean": (_ce(ignore_index=2), [(X, True), (T, False)]),
    "ce ignore=2 sum": (_ce(ignore_index=2, reduction="sum"), [(X, True), (T, False)]),
    "ce ignore=-1": (_ce(ignore_index=-1), [(X, True), (np.array([0, -1, 1, 2]), False)]),
    "ce logits*100": (_ce(), [(X * 100, True), (T, False)]),
    "ce -inf logit": (_ce(), [(np.array([[0.0, -np.inf, 1.0], [2.0, 1.0, 0.0]]), True), (np.array([0, 2]), False)]),
    "ce label_smoothing=1": (_ce(label_smoothing=1.0), [(X, True), (T, False)]),
    "ce label_smoothing<0": (_ce(label_smoothing=-0.1), [(X, True), (T, False)]),
    "ce empty mean": (_ce(), [(X[:0], True), (T[:0], False)]),
    "ce 1-d weight smoothing": (
        lambda lib, F, x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.2),
        [(X[0], True), (np.array(2), False), (W, False)],
    ),
    "nll 1-d ignored": (
        lambda lib, F, x, t, w: F.nll_loss(x, t, weight=w, ignore_index=1),
        [(X[0], True), (np.array(1), False), (W, False)],
    ),
    # probabilities as targets: ignore_index >= 0 is refused by both, a negative one is accepted by both
    "ce probs ignore=1": (_ce(ignore_index=1), [(X, True), (P, True)]),
    "ce probs ignore=0 smoothing": (_ce(ignore_index=0, label_smoothing=0.3), [(X, True), (P, True)]),
    "ce probs ignore=-1": (_ce(ignore_index=-1, label_smoothing=0.3), [(X, True), (P, True)]),
    "ce probs K-d weight smoothing": (
        lambda lib, F, x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="sum"),
        [(XK, True), (PK, True), (W, False)],
    ),
}
for _red in ("mean", "sum", "none"):
    LOSSES[f"ce K-d weight ignore smoothing {_red}"] = (
        lambda lib, F, x, t, w, r=_red: F.cross_entropy(
            x, t, weight=w, ignore_index=1, label_smoothing=0.2, reduction=r
        ),
        [(XK, True), (TK, False), (W, False)],
    )
    LOSSES[f"nll K-d weight ignore {_red}"] = (
        lambda lib, F, x, t, w, r=_red: F.nll_loss(x, t, weight=w, ignore_index=0, reduction=r),
        [(XK, True), (TK, False), (W, False)],
    )
    LOSSES[f"ce probs weight smoothing {_red}"] = (
        lambda lib, F, x, t, w, r=_red: F.cross_entropy(x, t, weight=w, label_smoothing=0.3, reduction=r),
        [(X, True), (P, True), (W, False)],
    )
# BCE on logits of +-100, with pos_weight and weight of every broadcast shape
for _pw in [None, (3,), (1,), (2, 1), (1, 3), ()]:
    for _w in [None, (3,), (2, 1), ()]:
        if _pw is None and _w is None:
            continue
        _extra = [(RNG.random(s) + 0.5, False) for s in (_pw, _w) if s is not None]

        def _bce(lib, F, z, y, *rest, pw=_pw, w=_w):
            rest = list(rest)
            a = rest.pop(0) if pw is not None else None
            b = rest.pop(0) if w is not None else None
            return F.binary_cross_entropy_with_logits(z, y, weight=b, pos_weight=a, reduction="none")

        LOSSES[f"bce_logits pos_weight={_pw} weight={_w}"] = (_bce, [(Z, True), (Y, True)] + _extra)
LOSSES["bce_logits mean +-100"] = (
    lambda lib, F, z, y: lib.nn.BCEWithLogitsLoss()(z, y),
    [(Z, True), (Y, True)],
)
LOSSES["bce p in {0, 1, 1e-20} weight"] = (
    lambda lib, F, p, y, w: F.binary_cross_entropy(p, y, weight=w, reduction="sum"),
    [(np.array([[0.0, 1.0, 0.5], [1e-20, 1 - 1e-12, 0.3]]), True), (Y, False), (W, False)],
)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_torch(name):
    program, inputs = LOSSES[name]
    outcome = compare(program, inputs)
    refused = {"ce probs ignore=1", "ce probs ignore=0 smoothing"}
    assert outcome == ("refused" if name in refused else "ok")


def test_probability_targets_refuse_a_class_to_ignore():
    # Was: ignore_index=0 with probability targets silently counted the rows the user meant to ignore.
    with pytest.raises(RuntimeError, match="ignore_index=0 is not supported for probability"):
        cr.nn.CrossEntropyLoss(ignore_index=0)(cr.tensor(X), cr.tensor(P))


# ----- optimizers: three parameters, the same gradients fed to both libraries -----

PARAMS = [RNG.standard_normal((3, 2)), RNG.standard_normal(4), RNG.standard_normal(2)]
GRADS = [[RNG.standard_normal(p.shape) for p in PARAMS] for _ in range(8)]
SKIP = {(0, 1), (1, 1), (3, 0), (4, 2), (5, 2)}  # (step, parameter) pairs without a gradient


def _trajectory(lib, cls, build, *, skip=(), keep_zeros=False, reload_at=None, lr_change_at=None):
    """Parameters after each step. keep_zeros: zero_grad(set_to_none=False) and accumulate into the zeros;
    reload_at: after that step, rebuild the parameters and optimizer from copies and load its state_dict."""
    ps = [lib.tensor(p.copy(), requires_grad=True) for p in PARAMS]
    params, kw = build(ps)
    opt = getattr(lib.optim, cls)(params, **kw)
    out = []
    for s, grads in enumerate(GRADS):
        opt.zero_grad(set_to_none=not keep_zeros)
        for i, (p, g) in enumerate(zip(ps, grads)):
            if (s, i) in skip:
                continue
            if p.grad is not None:
                p.grad += lib.tensor(g)
            else:
                p.grad = lib.tensor(g.copy())
        opt.step()
        if s == lr_change_at:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        if s == reload_at:
            saved = copy.deepcopy(opt.state_dict()) if lib is torch else opt.state_dict()
            fresh = [lib.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
            for p, q in zip(ps, fresh):
                if p.grad is not None:
                    q.grad = lib.tensor(p.grad.detach().numpy().copy())
            params, kw = build(fresh)
            opt = getattr(lib.optim, cls)(params, **{**kw, "lr": 123.0})  # the saved lr must win
            opt.load_state_dict(saved)
            ps = fresh
        out.append(np.concatenate([p.detach().numpy().ravel() for p in ps]))
    return np.array(out)


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.2)),
    ("Adam", dict(lr=0.1, betas=(0.3, 0.5), eps=1e-2, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.1, betas=(0.0, 0.0))),
    ("AdamW", dict(lr=0.1, betas=(0.3, 0.5), eps=1e-2, weight_decay=0.5, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.5, eps=1e-3, weight_decay=0.1, momentum=0.7, centered=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.0)),  # centered with alpha=0 is v - a^2 = 0: nan either way
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-3, maximize=True)),
]
SCENARIOS = {
    "grads missing in some steps": dict(skip=SKIP),
    "zero_grad(set_to_none=False)": dict(keep_zeros=True, skip=SKIP),
    "state_dict round trip at step 3": dict(reload_at=3, skip=SKIP),
    "lr halved after step 2": dict(lr_change_at=2),
}


def _assert_same(cls, build, **kw):
    ours = _trajectory(cr, cls, build, **kw)
    theirs = _trajectory(torch, cls, build, **kw)
    assert not np.allclose(ours[-1], np.concatenate([p.ravel() for p in PARAMS])), "nothing moved"
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(OPTIMIZERS)])
def test_optimizer_scenario_matches_torch(cls, kwargs, scenario):
    _assert_same(cls, lambda ps: (ps, dict(kwargs)), **SCENARIOS[scenario])


GROUPS = {  # one group per parameter, with flags that change the update's form between groups
    "SGD": [dict(momentum=0.9, nesterov=True), dict(momentum=0.5, dampening=0.3, maximize=True), dict()],
    "Adam": [dict(amsgrad=True), dict(betas=(0.5, 0.9), weight_decay=0.2), dict(maximize=True, eps=1e-2)],
    "AdamW": [dict(amsgrad=True, weight_decay=0.0), dict(weight_decay=0.3), dict(lr=0.01, maximize=True)],
    "RMSprop": [dict(centered=True), dict(momentum=0.8), dict(alpha=0.5, weight_decay=0.1, centered=True)],
    "Adagrad": [dict(lr_decay=0.2), dict(weight_decay=0.1, lr=0.3), dict(eps=1e-2, maximize=True)],
}


@pytest.mark.parametrize("reload_at", [None, 4])
@pytest.mark.parametrize("cls", list(GROUPS))
def test_groups_with_different_flags_match_torch(cls, reload_at):
    def build(ps):
        return [dict(params=[p], **g) for p, g in zip(ps, GROUPS[cls])], dict(lr=0.05)

    _assert_same(cls, build, skip={(0, 2), (5, 1)}, reload_at=reload_at)


def test_adagrad_honours_a_groups_initial_accumulator_value():
    # A deliberate difference: torch's Adagrad fills every group's accumulator with the constructor's
    # initial_accumulator_value (self.defaults), ignoring a group's own. chainrule uses the group's, so a group
    # equals torch run as a separate optimizer with that value.
    groups = [dict(initial_accumulator_value=0.0), dict(initial_accumulator_value=2.0, lr=0.3)]
    ps = [cr.tensor(p.copy(), requires_grad=True) for p in PARAMS[:2]]
    opt = cr.optim.Adagrad([dict(params=[p], **g) for p, g in zip(ps, groups)], lr=0.1)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in PARAMS[:2]]
    topts = [torch.optim.Adagrad([p], **{"lr": 0.1, **g}) for p, g in zip(tps, groups)]
    for grads in GRADS:
        for p, q, g in zip(ps, tps, grads):
            p.grad, q.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        for o in topts:
            o.step()
    for p, q in zip(ps, tps):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10)


# ----- schedulers: the lr of two groups and get_last_lr() over many steps -----


def _sched(name, **kw):
    return lambda lib, opt: getattr(lib.optim.lr_scheduler, name)(opt, **kw)


def _lrs(lib, makers, *, steps=30, reload_at=None, poke_at=None, metrics=None):
    def fresh():
        p, q = lib.tensor(np.ones(2), requires_grad=True), lib.tensor(np.ones(1), requires_grad=True)
        return lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.03}], lr=0.1, momentum=0.9)

    opt = fresh()
    scheds = [m(lib, opt) for m in makers]
    out = []
    for s in range(steps):
        opt.step()
        for sc in scheds:
            sc.step(metrics[s]) if type(sc).__name__ == "ReduceLROnPlateau" else sc.step()
        if s == poke_at:  # the user changes the lr by hand; the recursive forms must build on it
            for group in opt.param_groups:
                group["lr"] *= 3
        if s == reload_at:
            saved_opt, saved = opt.state_dict(), [sc.state_dict() for sc in scheds]
            opt = fresh()
            opt.load_state_dict(saved_opt)
            scheds = [m(lib, opt) for m in makers]
            for sc, sd in zip(scheds, saved):
                sc.load_state_dict(sd)
        out.append([g["lr"] for g in opt.param_groups] + [lr for sc in scheds for lr in sc.get_last_lr()])
    return np.array(out)


METRICS = {
    "random": list(np.random.default_rng(5).random(30)),
    "negative": list(-np.random.default_rng(6).random(30)),
    "flat": [1.0] * 30,
    "rising": list(np.linspace(0, 1, 30)),
}
SCHEDULES = {
    "StepLR": [_sched("StepLR", step_size=4, gamma=0.5)],
    "ExponentialLR": [_sched("ExponentialLR", gamma=0.9)],
    "CosineAnnealingLR past T_max": [_sched("CosineAnnealingLR", T_max=7, eta_min=0.001)],
    "CosineAnnealingLR T_max=1": [_sched("CosineAnnealingLR", T_max=1)],
    "LambdaLR": [_sched("LambdaLR", lr_lambda=lambda e: 1 / (e + 1))],
    "StepLR then ExponentialLR": [_sched("StepLR", step_size=3, gamma=0.5), _sched("ExponentialLR", gamma=0.9)],
    "ExponentialLR then CosineAnnealingLR": [_sched("ExponentialLR", gamma=0.9), _sched("CosineAnnealingLR", T_max=6)],
}
for _mode in ("min", "max"):
    for _tm in ("rel", "abs"):
        SCHEDULES[f"ReduceLROnPlateau {_mode} {_tm}"] = [
            _sched(
                "ReduceLROnPlateau",
                mode=_mode,
                threshold_mode=_tm,
                factor=0.5,
                patience=1,
                threshold=0.05,
                cooldown=2,
                min_lr=[0.02, 0.001],
            )
        ]


@pytest.mark.parametrize("how", ["straight", "state_dict round trip", "lr set by hand"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_torch(name, how):
    kw = {"straight": {}, "state_dict round trip": dict(reload_at=6), "lr set by hand": dict(poke_at=5)}[how]
    series = ["random", "negative", "flat", "rising"] if "Plateau" in name else [None]
    changed = False
    for metric in series:
        metrics = METRICS.get(metric)
        ours = _lrs(cr, SCHEDULES[name], metrics=metrics, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on the order of step() calls
            theirs = _lrs(torch, SCHEDULES[name], metrics=metrics, **kw)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=f"metrics {metric}")
        changed |= len(np.unique(ours[:, 0])) > 1
    assert changed, "the schedule never changed the lr"


@pytest.mark.parametrize(
    "name,kw",
    [
        ("StepLR", dict(step_size=3, gamma=0.5)),
        ("StepLR", dict(step_size=4, gamma=0.5)),
        ("ExponentialLR", dict(gamma=0.9)),
        ("CosineAnnealingLR", dict(T_max=6)),
        ("LambdaLR", dict(lr_lambda=lambda e: 0.9**e)),
    ],
)
def test_resumed_schedule_matches_torch(name, kw):
    # Was: StepLR(last_epoch=5, step_size=3) kept the lr at construction (0.1) where torch decays it at
    # epoch 6 (0.05), so every later lr was off by a factor gamma.
    seqs = []
    for lib in (cr, torch):
        p = lib.tensor(np.ones(2), requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        opt.param_groups[0]["initial_lr"] = 0.2  # as a loaded optimizer state has it
        sched = getattr(lib.optim.lr_scheduler, name)(opt, last_epoch=5, **kw)
        seq = [sched.get_last_lr()[0]]
        for _ in range(10):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr()[0])
        seqs.append(seq)
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)


# ----- gradient clipping: float32 gradients, a generator of parameters, max_norm <= 0 -----


@pytest.mark.parametrize("max_norm", [0.5, 100.0, 0.0, -1.0])
@pytest.mark.parametrize("norm_type", [2, 1, math.inf, 3])
def test_clip_grad_norm_float32_matches_torch(norm_type, max_norm):
    grads = [RNG.standard_normal((3, 2)).astype(np.float32), RNG.standard_normal(4).astype(np.float32)]
    results = []
    for lib in (cr, torch):
        ps = [lib.tensor(np.zeros(g.shape, np.float32), requires_grad=True) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = lib.tensor(g.copy())
        total = lib.nn.utils.clip_grad_norm_(iter(ps), max_norm, norm_type=norm_type)
        results.append((total, [p.grad.numpy() for p in ps]))
    (total, ours), (ttotal, theirs) = results
    assert str(total.dtype).split(".")[-1] == str(ttotal.dtype).split(".")[-1] == "float32"
    np.testing.assert_allclose(total.numpy(), ttotal.numpy(), rtol=1e-6)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("clip_value", [0.3, 0.0, -0.3])
def test_clip_grad_value_matches_torch(clip_value):
    grad = np.array([[-1.0, 0.2, np.nan], [0.5, -0.1, np.inf]])
    ours = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    theirs = torch.zeros((2, 3), dtype=torch.float64, requires_grad=True)
    ours.grad, theirs.grad = cr.tensor(grad.copy()), torch.tensor(grad.copy())
    cr.nn.utils.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
