"""chainrule.jit: a replay must compute what an eager call computes, on values it was not traced with.

Each check traces on one set of inputs and compares the replay on a second set against an eager
run on that second set, so a value frozen into the trace (a constant that should have been
recomputed) shows up as a mismatch.
"""

import re
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.pytree import tree_flatten
from chainrule.nn import functional as F
from opinfo import all_cases, case_ids

# dropout's table entry makes a new generator at each call, which jit refuses
# (test_jit_divergence.py); test_dropout_draws_a_new_mask_at_each_replay covers dropout.
CASES, IDS = zip(*[(c, ident) for c, ident in zip(all_cases(), case_ids()) if c[0].name != "dropout"])


def _has_array_constant(spec, i):
    args, _ = spec.sample(i, np.random.default_rng(0))
    wrt = spec.differentiable(args)
    return any(isinstance(a, np.ndarray) for j, a in enumerate(args) if j not in wrt)


# The cases with a non-differentiable array argument (targets, indices, conditions).
CONSTANT_CASES = [(c, ident) for c, ident in zip(CASES, IDS) if _has_array_constant(*c)]


def _rng(spec, i, salt):
    return np.random.default_rng(zlib.crc32(f"jit-{salt}-{spec.name}-{i}".encode()))


def _leaves(spec, i, fixed=None):
    """Differentiable args as fresh leaf Tensors; the others as constants (the first draw's, when given)."""
    args, kwargs = spec.sample(i, _rng(spec, i, "a" if fixed is None else "b"))
    wrt = spec.differentiable(args)
    consts = fixed if fixed is not None else {j: a for j, a in enumerate(args) if j not in wrt}
    leaves = [cr.tensor(np.asarray(args[j], dtype=np.float64), requires_grad=True) for j in wrt]
    return leaves, consts, kwargs, len(args)


def _op(spec, consts, kwargs, n):
    def call(*xs):
        it = iter(xs)
        return spec.fn(*[consts[j] if j in consts else next(it) for j in range(n)], **kwargs)

    return call


def _close(a, b):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(
        np.asarray(a._data if isinstance(a, cr.Tensor) else a),
        np.asarray(b._data if isinstance(b, cr.Tensor) else b),
        rtol=1e-12,
        atol=1e-12,
    )


def _refuses(spec, i, vary_constants):
    """The op-table entries that raise TraceError rather than freeze a value, with the error's words."""
    if spec.name == "cross_entropy_ignore_smooth" and vary_constants:
        return r"np\.asarray"  # the table's own lambda reads the target with np.where
    return None


def _check_replay(make_fn, spec, i, vary_constants=False):
    leaves_a, consts, kwargs, n = _leaves(spec, i)
    if vary_constants:
        # The non-differentiable array arguments (targets, indices, conditions) become inputs too.
        variable = sorted(j for j, c in consts.items() if isinstance(c, np.ndarray))
        args_b, _ = spec.sample(i, _rng(spec, i, "b"))
        wrt = [j for j in range(n) if j not in consts]
        leaves_b = [cr.tensor(np.asarray(args_b[j], dtype=np.float64), requires_grad=True) for j in wrt]
        fixed = {j: c for j, c in consts.items() if j not in variable}
        inner = _op(spec, fixed, kwargs, n)
        order = sorted(wrt + variable)
        k = len(wrt)

        def op(*xs):  # xs: differentiable leaves, then the variable constants
            by_index = dict(zip(wrt + variable, xs))
            return inner(*[by_index[j] for j in order])

        extra_a = [cr.from_numpy(np.asarray(consts[j])) for j in variable]
        extra_b = [cr.from_numpy(np.asarray(args_b[j])) for j in variable]
    else:
        leaves_b = _leaves(spec, i, fixed=consts)[0]
        op = _op(spec, consts, kwargs, n)
        extra_a = extra_b = []
        k = len(leaves_a)
    fn = make_fn(op, k) if vary_constants else make_fn(op)
    jitted = cr.jit(fn)
    refused = _refuses(spec, i, vary_constants)
    if refused:
        with pytest.raises(cr.TraceError, match=refused):
            jitted(*leaves_a, *extra_a)
        return
    jitted(*leaves_a, *extra_a)
    got = jitted(*[t.detach().requires_grad_() for t in leaves_b], *extra_b)
    assert jitted.trace_count == 1
    want = fn(*[t.detach().requires_grad_() for t in leaves_b], *extra_b)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        _close(g, w)
    assert _SAFE_SOURCE.fullmatch(jitted.code), jitted.code


# The replay's source is written from generated names, number literals and punctuation only (the
# rules written inline add operators: `;`, `@`, `*`, `!=`).
_SAFE_SOURCE = re.compile(r"[\w\s,.=()\[\]+:\-;@*!]*")


def _cotangent(out):
    return cr.tensor(np.random.default_rng(7).standard_normal(out.shape))


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_forward_replays(spec, i):
    _check_replay(lambda op: op, spec, i)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_backward_replays(spec, i):
    def make(op):
        def fn(*xs):
            out = op(*xs)
            return cr.autograd.grad(out, xs, grad_outputs=_cotangent(out), allow_unused=True)

        return fn

    _check_replay(make, spec, i)


@pytest.mark.parametrize("spec,i", [c for c, _ in CONSTANT_CASES], ids=[ident for _, ident in CONSTANT_CASES])
def test_replays_with_new_targets_and_indices(spec, i):
    if not spec.supports_gradgrad:
        pytest.skip(f"{spec.name} has no second derivative")

    def make(op, k):
        def fn(*xs):
            out = op(*xs)
            leaves = xs[:k]
            gs = cr.autograd.grad(out, leaves, grad_outputs=_cotangent(out), create_graph=True, allow_unused=True)
            live = [(g * 1.5).sum() for g in gs if g is not None and g.requires_grad]
            return (out,) + tuple(gs) + (cr.autograd.grad(sum(live), leaves, allow_unused=True) if live else ())

        return fn

    _check_replay(make, spec, i, vary_constants=True)


@pytest.mark.parametrize("spec,i", CASES, ids=IDS)
def test_double_backward_replays(spec, i):
    if not spec.supports_gradgrad:
        pytest.skip(f"{spec.name} has no second derivative")

    def make(op):
        def fn(*xs):
            out = op(*xs)
            gs = cr.autograd.grad(out, xs, grad_outputs=_cotangent(out), create_graph=True, allow_unused=True)
            live = [
                (g * cr.tensor(np.full(g.shape, 0.5 + k))).sum()
                for k, g in enumerate(gs)
                if g is not None and g.requires_grad
            ]
            if not live:
                return gs
            # The first derivatives too: under create_graph they are computed by recorded ops.
            return tuple(gs) + cr.autograd.grad(sum(live), xs, allow_unused=True)

        return fn

    _check_replay(make, spec, i)


# ----- training steps -----


def _mlp(seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def _batches(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (cr.from_numpy(rng.standard_normal((8, 6)).astype(np.float32)), cr.from_numpy(rng.integers(0, 3, 8)))
        for _ in range(n)
    ]


def _sgd_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _eager_and_jitted(make, body, steps=6):
    """Train twice from the same start on the same batches, eagerly and through jit.

    make() returns (model, *others); body(model, *others, x, y) is one step returning a Tensor.
    Every step's result, the final state_dict and the gradients must be equal bit for bit.
    Returns the jitted step.
    """
    runs = []
    for jit in (False, True):
        objs = make()
        step = lambda x, y, objs=objs: body(*objs, x, y)
        step = cr.jit(step) if jit else step
        runs.append(([step(x, y)._data for x, y in _batches(steps)], objs[0], step))
    (eager_out, eager_model, _), (jit_out, jit_model, jitted) = runs
    for a, b in zip(eager_out, jit_out):
        np.testing.assert_array_equal(a, b)
    for (name, a), (_, b) in zip(eager_model.state_dict().items(), jit_model.state_dict().items()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=name)
    for p, q in zip(eager_model.parameters(), jit_model.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad._data, q.grad._data)
    assert jitted.trace_count == 1
    return jitted


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: cr.optim.SGD(p, lr=0.1),
        lambda p: cr.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: cr.optim.Adam(p, lr=1e-2),
    ],
    ids=["sgd", "sgd-nesterov", "adam"],
)
def test_train_step_matches_eager(make_opt):
    def make():
        model = _mlp()
        opt = make_opt(model.parameters())
        return model, opt, cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def step(model, opt, sched, x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss

    program = str(_eager_and_jitted(make, step).program)  # the repeated calls, in order, between the primitives
    assert program.index("_zero_grad") < program.index(" linear ") < program.index("_step")


def test_gradients_accumulate_like_eager_without_zero_grad():
    models = [_mlp(), _mlp()]

    def make(model):
        def step(x, y):
            F.cross_entropy(model(x), y).backward()

        return step

    eager, jitted = make(models[0]), cr.jit(make(models[1]))
    for x, y in _batches(3):
        eager(x, y)
        jitted(x, y)
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(p.grad._data, q.grad._data, rtol=1e-6, atol=1e-7)


def test_leaf_arguments_get_their_grad():
    f = cr.jit(lambda x, w: ((x @ w).tanh() ** 2).sum().backward())
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
        w = cr.tensor(rng.standard_normal((4, 2)), requires_grad=True)
        f(x, w)
        x2, w2 = x.detach().requires_grad_(), w.detach().requires_grad_()
        ((x2 @ w2).tanh() ** 2).sum().backward()
        _close(x.grad, x2.grad)
        _close(w.grad, w2.grad)
    assert f.trace_count == 1


def test_hvp_replays_and_transforms_compose():
    rng = np.random.default_rng(0)
    W = cr.from_numpy(rng.standard_normal((5, 5)))
    f = lambda x: cr.tanh(W @ x).sum() ** 2
    hvp = cr.jit(lambda x, v: cr.hvp(f, (x,), (v,))[1])
    grad = cr.jit(cr.grad(f))
    for _ in range(3):
        x, v = cr.from_numpy(rng.standard_normal(5)), cr.from_numpy(rng.standard_normal(5))
        _close(hvp(x, v), cr.hvp(f, (x,), (v,))[1])
        _close(grad(x), cr.grad(f)(x))
    assert hvp.trace_count == grad.trace_count == 1


def _transform_cases():
    W = cr.from_numpy(np.random.default_rng(1).standard_normal((3, 3)))
    f = lambda x, y: (cr.tanh(W @ x) * y).sum() + (x * y).sin().sum()  # noqa: E731
    g = lambda x, y: (cr.tanh(W @ x) * y, x.exp() * y.sum())  # noqa: E731 (two outputs)
    return {
        "grad": lambda x, y: cr.grad(f, argnums=(0, 1))(x, y),
        "value_and_grad": lambda x, y: cr.value_and_grad(f)(x, y),
        "vjp": lambda x, y: cr.vjp(g, x, y)[1]((y, x)),
        "jvp": lambda x, y: cr.jvp(g, (x, y), (y, x)),
        "jacrev": lambda x, y: cr.jacrev(g, argnums=(0, 1))(x, y),
        "jacfwd": lambda x, y: cr.jacfwd(g, argnums=(0, 1))(x, y),
        "hessian": lambda x, y: cr.hessian(f, argnums=(0, 1))(x, y),
        "hvp": lambda x, y: cr.hvp(lambda x: f(x, y), (x,), (y,)),
        "jvp of grad": lambda x, y: cr.jvp(cr.grad(lambda x: f(x, y)), (x,), (y,)),
        "jacfwd of jacrev": lambda x, y: cr.jacfwd(cr.jacrev(lambda x: f(x, y)))(x),
    }


@pytest.mark.parametrize("name", list(_transform_cases()))
def test_every_transform_replays_its_own_values(name):
    """A jitted transform gives, on new inputs, what it gives eagerly (whose values the JAX tests check):
    a transform that assembled its result with NumPy on traced values replayed the first call's."""
    fn = _transform_cases()[name]
    jitted = cr.jit(fn)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = cr.from_numpy(rng.standard_normal(3)), cr.from_numpy(rng.standard_normal(3))
        got, want = tree_flatten(jitted(x, y))[0], tree_flatten(fn(x, y))[0]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(
                np.asarray(getattr(a, "_data", a)), np.asarray(getattr(b, "_data", b)), rtol=1e-12
            )
    assert jitted.trace_count == 1


def test_parameters_are_read_at_each_call():
    lin = nn.Linear(3, 2)
    f = cr.jit(lambda x: lin(x))
    x = cr.ones(4, 3)
    f(x)
    with cr.no_grad():
        lin.weight._data = lin.weight._data * 2  # a new array, not an in-place change
    _close(f(x), lin(x))


def test_retraces_on_new_signature_and_constants():
    f = cr.jit(lambda x, n: x * n)
    f(cr.ones(3), 2)
    f(cr.ones(3), 2)
    assert f.trace_count == 1
    _close(f(cr.ones(3), 3), cr.full((3,), 3.0))
    f(cr.ones(4), 3)
    f(cr.ones(4, dtype=cr.float64), 3)
    assert f.trace_count == 4
    with cr.no_grad():
        f(cr.ones(4, dtype=cr.float64), 3)
    assert f.trace_count == 5


def test_containers_in_and_out():
    f = cr.jit(lambda d, scale=1.0: {"sum": (d["a"] + d["b"]) * scale, "parts": [d["a"], d["b"] * 2]})
    a, b = cr.ones(2), cr.full((2,), 3.0)
    f({"a": a, "b": b}, scale=2.0)
    out = f({"a": b, "b": a}, scale=2.0)
    _close(out["sum"], cr.full((2,), 8.0))
    _close(out["parts"][1], cr.full((2,), 2.0))
    assert f.trace_count == 1


def test_aliased_arguments_trace_separately():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    f = cr.jit(lambda a, b: (a * b).sum().backward())
    f(x, x)
    np.testing.assert_allclose(x.grad._data, [2.0, 4.0])
    y, z = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 4.0], requires_grad=True)
    f(y, z)
    np.testing.assert_allclose(y.grad._data, [3.0, 4.0])
    np.testing.assert_allclose(z.grad._data, [1.0, 2.0])
    assert f.trace_count == 2


# ----- what a trace cannot replay raises TraceError, with the reason -----


@pytest.mark.parametrize(
    "body,message",
    [
        (lambda x: x * 2 if (x.sum() > 0) else x, "bool"),
        (lambda x: x * x.sum().item(), r"item\(\)"),
        (lambda x: x * float(x.sum()), r"float\(\)"),
        (lambda x: cr.from_numpy(x.detach().numpy() * 2), r"numpy\(\)"),
        (lambda x: cr.zeros(3).add_(x), "did not compute"),
        (lambda x: cr.zeros(3).uniform_() * x, "did not compute"),
        (lambda x: x[x > 0.5], "boolean mask"),
        (lambda x: (x * 2).sum().backward(create_graph=True), "create_graph"),
    ],
)
def test_untraceable_code_raises(body, message):
    with pytest.raises(cr.TraceError, match=message):
        cr.jit(body)(cr.ones(3, requires_grad=True))


class _ScaledSquare(cr.autograd.Function):
    """y = c x^2 with a hand-written backward that reads a saved input and a ctx attribute."""

    @staticmethod
    def forward(ctx, x, c):
        ctx.save_for_backward(x)
        ctx.c = c
        return x * x * c

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * (2 * ctx.c), None


def test_user_functions_and_custom_vjp_replay():
    clip = cr.autograd.custom_vjp(lambda x: x.tanh())
    clip.defvjp(lambda x: (x.tanh(), x), lambda x, g: ((g * (1 - x.tanh() ** 2)).clamp(-0.1, 0.1),))

    def fn(x):
        y = _ScaledSquare.apply(x, 3.0) + clip(x)
        (g,) = cr.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = cr.autograd.grad((g * g).sum(), x)
        return y, g, h

    jitted = cr.jit(fn)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = cr.tensor(rng.standard_normal(5), requires_grad=True)
        for got, want in zip(jitted(x), fn(x.detach().requires_grad_())):
            _close(got, want)
    assert jitted.trace_count == 1

    def first_order(x):
        _ScaledSquare.apply(x, 3.0).sum().backward()

    jitted = cr.jit(first_order)
    for _ in range(2):
        x = cr.tensor(rng.standard_normal(4), requires_grad=True)
        jitted(x)
        _close(x.grad, cr.from_numpy(6 * x._data))


def test_hooks_raise():
    def hooked(x):
        y = x * 2
        y.register_hook(lambda g: g)
        y.sum().backward()

    with pytest.raises(cr.TraceError, match="hook"):
        cr.jit(hooked)(cr.ones(2, requires_grad=True))


def test_graph_from_outside_is_refused():
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(cr.TraceError, match="grad_fn"):
        cr.jit(lambda a: a * 2)(x * 3)


def test_numpy_arrays_in_give_arrays_out():
    f = lambda x: (cr.tanh(x) ** 2).sum()  # noqa: E731
    df = cr.jit(cr.grad(f))
    double = cr.jit(lambda a: a * 2)
    for x in (np.array([0.1, 0.2]), np.array([-1.0, 3.0])):
        got, want = df(x), cr.grad(f)(x)
        assert type(got) is np.ndarray and type(want) is np.ndarray
        np.testing.assert_allclose(got, want, rtol=1e-14)
        np.testing.assert_array_equal(double(x), 2 * x)
    assert df.trace_count == double.trace_count == 1
    assert isinstance(double(cr.ones(2, dtype=cr.float64)), cr.Tensor)  # Tensors in, Tensors out


def test_state_is_restored_after_a_failed_trace():
    with pytest.raises(cr.TraceError):
        cr.jit(lambda x: x * x.sum().item())(cr.ones(2))
    x = cr.ones(2, requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad._data, [3.0, 3.0])
    assert (x * 2).sum().item() == 4.0
    assert type(cr.autograd.Function.__dict__["apply"]) is classmethod


def test_dropout_draws_a_new_mask_at_each_replay():
    x = cr.ones(200, requires_grad=True)

    def fn(x):
        y = F.dropout(x, 0.5)
        y.sum().backward()
        return y

    jitted = cr.jit(fn)
    cr.manual_seed(0)
    replays = [jitted(x)._data for _ in range(3)]
    grads = x.grad._data.copy()
    x.grad = None
    cr.manual_seed(0)
    eager = [fn(x)._data for _ in range(3)]
    assert jitted.trace_count == 1
    assert not np.array_equal(replays[1], replays[2])  # a new mask each call...
    for r, e in zip(replays, eager):  # ...the same ones as eager code draws
        np.testing.assert_array_equal(r, e)
    np.testing.assert_array_equal(grads, x.grad._data)


def test_other_threads_stay_eager_while_one_traces():
    import threading

    started, finished = threading.Event(), threading.Event()
    seen = {}

    def other():
        started.wait(5)
        x = cr.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 3).sum()
        seen["value"] = y.item()  # would raise TraceError if this thread were traced
        y.backward()
        seen["grad"] = x.grad._data.copy()
        finished.set()

    def fn(a):
        b = a * 2
        started.set()
        finished.wait(5)
        return b + 1

    thread = threading.Thread(target=other)
    thread.start()
    jitted = cr.jit(fn)
    jitted(cr.ones(2))
    thread.join()
    assert seen["value"] == 9.0
    np.testing.assert_array_equal(seen["grad"], [3.0, 3.0])
    assert jitted.code.count("_forward(") == 2  # a * 2 and + 1, nothing from the other thread
    _close(jitted(cr.full((2,), 5.0)), cr.full((2,), 11.0))


@pytest.mark.parametrize("momentum", [0.1, None])  # None: the cumulative average, 1 / batches counted
def test_batch_norm_training_updates_running_statistics_at_each_replay(momentum):
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8, momentum=momentum), nn.ReLU(), nn.Linear(8, 3))
        return model, cr.optim.SGD(model.parameters(), lr=0.1)

    _eager_and_jitted(make, _sgd_step)  # the state_dicts compared include the running statistics


def test_gradient_clipping_is_repeated_and_its_norm_is_each_calls_own():
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
        return model, cr.optim.SGD(model.parameters(), lr=0.5)

    def step(model, opt, x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        nn.utils.clip_grad_value_(model.parameters(), 0.02)
        opt.step()
        return norm

    _eager_and_jitted(make, step)  # each replay returns the norm the eager step found


@pytest.mark.parametrize("where", ["end", "between"])
def test_setting_grad_by_hand_is_replayed(where):
    grads = []
    for jit in (False, True):
        w = cr.tensor([1.0, 2.0], requires_grad=True)

        def fn(x, w=w):
            (w * x).sum().backward()
            w.grad = None
            if where == "between":
                (w * x * x).sum().backward()
            return x

        f = cr.jit(fn) if jit else fn
        for i in range(3):
            f(cr.full((2,), float(i + 2)))
        grads.append(None if w.grad is None else w.grad.numpy().copy())
    assert (grads[0] is None) == (where == "end")
    if where == "between":
        np.testing.assert_array_equal(grads[0], grads[1])  # one pass's gradient, not three added up
    else:
        assert grads[1] is None


def test_in_place_ops_replay():
    def fn(x, w):
        y = x * 2
        y.add_(1)
        y[0] = 7.0
        y[1:] *= x[:-1]
        loss = (y * w).sum()
        loss.backward()
        with cr.no_grad():
            w -= 0.1 * w.grad  # a hand-written SGD step on a leaf argument
            w.grad.zero_()
        return y

    rng = np.random.default_rng(0)
    w1 = cr.tensor(rng.standard_normal(4), requires_grad=True)
    w2 = w1.detach().requires_grad_()
    jitted = cr.jit(fn)
    for _ in range(3):
        x = cr.tensor(rng.standard_normal(4))
        _close(jitted(x, w1), fn(x, w2))
        _close(w1, w2)
        _close(w1.grad, w2.grad)
    assert jitted.trace_count == 1


class _Zoo(nn.Module):
    """One of most layers: embedding, conv, pooling, norms, dropout, recurrent, residual."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(12, 4)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.bn = nn.BatchNorm2d(3)
        self.lstm = nn.LSTM(4, 5)
        self.gru = nn.GRU(4, 5)
        self.norm = nn.LayerNorm(5)
        self.drop = nn.Dropout(0.2)
        self.res = nn.Residual(nn.Sequential(nn.Linear(5, 5), nn.GELU()))
        self.head = nn.Linear(3 * 2 * 2 + 5 + 5 + 3, 3)

    def forward(self, tokens, image):
        e = self.embed(tokens)  # (N, 6, 4)
        seq = e.permute(1, 0, 2)  # (6, N, 4)
        h_lstm = self.lstm(seq)[0][-1]  # (N, 5)
        h_gru = self.res(self.norm(self.gru(seq)[0][-1]))
        c = self.bn(self.conv(image)).relu()  # (N, 3, 4, 4)
        pooled = self.pool(c).flatten(1)  # (N, 12)
        averaged = self.avg(c).mean(dim=(2, 3))  # (N, 3)
        features = cr.cat([pooled, self.drop(h_lstm), h_gru, averaged], dim=1)
        return self.head(features)


def test_a_model_with_most_layers_trains_the_same_jitted():
    rng = np.random.default_rng(0)
    data = [
        (
            cr.from_numpy(rng.integers(0, 12, (8, 6))),
            cr.from_numpy(rng.standard_normal((8, 1, 4, 4)).astype(np.float32)),
            cr.from_numpy(rng.integers(0, 3, 8)),
        )
        for _ in range(5)
    ]
    runs = []
    for jit in (False, True):
        cr.manual_seed(0)
        model = _Zoo()
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)

        def step(tokens, image, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(tokens, image), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        step = cr.jit(step) if jit else step
        cr.manual_seed(1)
        runs.append(([step(*batch).item() for batch in data], model.state_dict()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for (name, a), (_, b) in zip(runs[0][1].items(), runs[1][1].items()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=name)


def test_constant_boolean_masks_are_fine():
    mask = np.array([True, False, True])
    f = cr.jit(lambda x: (x[mask] * 2).sum())
    for x in (cr.ones(3), cr.tensor([1.0, 5.0, 3.0])):
        _close(f(x), (x[mask] * 2).sum())
    assert f.trace_count == 1


def test_ndarray_arguments_with_different_values_replay_their_own_values():
    # A NumPy bool mask is an input like a Tensor: a second call with another mask must use it.
    x = cr.tensor([1.0, 2.0, 3.0])

    def masked_sum(x, m):
        return cr.where(m, x, cr.zeros_like(x)).sum()

    jitted = cr.jit(masked_sum)
    for mask in (np.array([True, False, True]), np.array([False, True, False]), np.array([True, True, True])):
        assert jitted(x, mask).item() == masked_sum(x, mask).item()


def test_a_replay_holds_no_more_memory_than_the_eager_step():
    """Each value of a replay dies after its last use, as in eager code: the peak of a training step
    (an MLP with dropout: activations freed as backward passes them) is no higher jitted."""
    import tracemalloc

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Dropout(0.1), nn.Linear(512, 512), nn.Tanh())
    model.append(nn.Linear(512, 10))
    opt = cr.optim.SGD(model.parameters(), lr=1e-3)
    x = cr.randn(256, 256)

    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    peaks = []
    for fn in (step, cr.jit(step)):
        fn(x), fn(x)  # the jit traces at its first call; both warm
        tracemalloc.start()
        fn(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    eager, jitted = peaks
    assert jitted <= 1.05 * eager, f"replay peak {jitted / 2**20:.1f} MiB > eager {eager / 2**20:.1f} MiB"


# ----- rules written inline (passes.inline_rules) -----


def test_linear_and_relu_rules_are_written_inline_bit_for_bit():
    def make():
        cr.manual_seed(1)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        return model, cr.optim.SGD(model.parameters(), lr=0.1)

    code = _eager_and_jitted(make, _sgd_step).code
    for rule in ("Linear_forward", "Linear_backward", "Relu_forward", "Relu_backward"):
        assert rule not in code, code
    assert not re.findall(r"ctx\d+", code), code  # cross-entropy too is written inline: no context left
    # ReLU overwrites the Linear output it alone reads, and its backward the gradient it alone reads
    assert re.search(r"(v\d+) = _np\.maximum\((v\d+), zeros_\1, out=\2\)", code), code
    assert re.search(r"(g\d+) = _np\.multiply\((g\d+), v\d+ != 0, out=\2\)", code), code


def _linear_relu_cases():
    """(name, fn(x, w, b) -> Tensor): Linear and ReLU where the pre-activation is read again, returned,
    or takes the path the inline code does not cover."""
    return [
        ("pre-activation read again", lambda x, w, b: F.relu(h := F.linear(x, w, b)) - 0.5 * h),
        ("two linears", lambda x, w, b: F.relu(F.linear(x, w, b)) + F.linear(x, w, b) * 0.5),
        ("3-d input", lambda x, w, b: F.relu(F.linear(x.reshape(2, 3, 4), w, b))),
        ("no bias", lambda x, w, b: F.relu(F.linear(x, w))),
        ("relu of a relu", lambda x, w, b: F.relu(F.relu(F.linear(x, w, b)) - 0.1)),
        ("relu of the input", lambda x, w, b: F.linear(F.relu(x), w, b)),
        ("float64 input, float32 weight", lambda x, w, b: F.relu(F.linear(x.double(), w.double(), b))),
    ]


@pytest.mark.parametrize("name,fn", _linear_relu_cases(), ids=[n for n, _ in _linear_relu_cases()])
def test_inline_linear_and_relu_match_eager_where_values_are_shared(name, fn):
    def grads(x, w, b):
        leaves = [cr.from_numpy(a.copy()).requires_grad_() for a in (x, w, b)]
        out = fn(*leaves)
        g = cr.autograd.grad((out * out).sum(), leaves, allow_unused=True)
        return out._data, [None if t is None else t._data for t in g]

    def traced(x, w, b):
        out = fn(x, w, b)
        return (out, *cr.autograd.grad((out * out).sum(), [x, w, b], allow_unused=True))

    step = cr.jit(traced)
    rng = np.random.default_rng(3)
    for call in range(3):  # the first call traces; the others replay on new values
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((6, 4), (5, 4), (5,)))
        want_out, want_grads = grads(x, w, b)
        inputs = [a.copy() for a in (x, w, b)]
        got = step(*(cr.from_numpy(a).requires_grad_() for a in (x, w, b)))
        for a, before in zip((x, w, b), inputs):  # no rule wrote into an argument
            np.testing.assert_array_equal(a, before)
        np.testing.assert_array_equal(got[0]._data, want_out, err_msg=f"call {call}")
        for g, want in zip(got[1:], want_grads):
            assert (g is None) == (want is None)
            if g is not None:
                np.testing.assert_array_equal(g._data, want, err_msg=f"call {call}")


def test_two_backward_passes_through_one_linear_keep_its_rules():
    def traced(x, w):
        out = F.relu(F.linear(x, w)).sum()
        (gx,) = cr.autograd.grad(out, [x], retain_graph=True)
        (gw,) = cr.autograd.grad(out, [w])
        return gx, gw

    step = cr.jit(traced)
    rng = np.random.default_rng(4)
    for _ in range(2):
        x, w = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
        got = step(cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True))
        want = traced(cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a._data, b._data)
    assert "Linear_backward" in step.code  # a context read by two backward rules stays a context


# ----- the SGD step written inline (SGD._inline_step, jit/passes.py inline_steps) -----


def _mlp_and_sgd(dtype=cr.float32, width=16, **sgd):
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 3))
    model.to(dtype)
    return model, cr.optim.SGD(model.parameters(), lr=0.1, **sgd)


_INLINE_STEP = "plain_lr_"  # what the replay's own SGD step calls first


@pytest.mark.parametrize(
    "sgd",
    [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {"weight_decay": 0.01}, {"maximize": True}],
    ids=["plain", "momentum", "nesterov", "decay", "maximize"],
)
def test_sgd_step_is_written_inline_without_momentum_bit_for_bit(sgd):
    jitted = _eager_and_jitted(lambda: _mlp_and_sgd(**sgd), _sgd_step)
    assert (_INLINE_STEP in jitted.code) == (not sgd), jitted.code  # the others keep opt.step()


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_inline_sgd_step_takes_blas_axpy_where_the_optimizer_does(dtype):
    # a 200 x 200 weight has more than BLAS_MIN_SIZE entries: the optimizer's axpy, the biases NumPy's two passes
    jitted = _eager_and_jitted(lambda: _mlp_and_sgd(dtype, width=200), _sgd_step)
    assert _INLINE_STEP in jitted.code and "axpy_" in jitted.code


def _ce_batches(case):
    """Logits (6, 4) and targets for each path of cross-entropy's rule, three batches each."""
    rng = np.random.default_rng(3)
    out = []
    for _ in range(3):
        z = rng.standard_normal((6, 4))
        t = rng.integers(0, 4, 6)
        if case == "ignored rows":
            t[[1, 4]] = -100
        elif case == "all ignored":
            t[:] = -100
        elif case == "rows far apart":
            z[2] -= 80.0  # a row more than 30 below the batch maximum: its own shift
        elif case == "inf logit":
            z[0, 1] = np.inf
        out.append((cr.tensor(z, requires_grad=True), cr.from_numpy(t)))
    return out


@pytest.mark.parametrize(
    "case,kwargs",
    [
        ("plain", {}),
        ("plain", {"reduction": "sum"}),
        ("ignored rows", {}),
        ("all ignored", {}),
        ("ignore a real class", {"ignore_index": 0}),
        ("rows far apart", {}),
        ("inf logit", {}),
    ],
)
def test_inline_cross_entropy_matches_eager_on_every_path(case, kwargs):
    def fn(z, t):
        loss = F.cross_entropy(z * 1.0, t, **kwargs)
        loss.backward()
        return loss

    runs = []
    for jit in (False, True):
        f = cr.jit(fn) if jit else fn
        batches = _ce_batches(case)
        with np.errstate(all="ignore"):
            losses = [f(z, t).detach().numpy() for z, t in batches]
        runs.append((losses, [z.grad.numpy() for z, _ in batches]))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert "ce_forward_" in f.code and "ce_backward_" in f.code, f.code


def test_inline_cross_entropy_refuses_a_bad_target_in_the_replay():
    f = cr.jit(lambda z, t: F.cross_entropy(z, t))
    z = cr.zeros(3, 4)
    f(z, cr.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match=r"target values must lie in \[0, 4\)"):
        f(z, cr.tensor([0, 4, 2]))
    with pytest.raises(IndexError, match=r"target values must lie in \[0, 4\)"):
        f(z, cr.tensor([0, -3, 2]))
    assert f.trace_count == 1 and "ce_forward_" in f.code


def test_half_precision_linear_inline_sums_its_bias_gradient_as_eager():
    # float16 is not a BLAS type: eager's sum_leading sums with NumPy, and so must the inline rule
    jitted = _eager_and_jitted(
        lambda: _mlp_and_sgd(cr.float16), lambda model, opt, x, y: _sgd_step(model, opt, x.half(), y)
    )
    assert "_np.matmul(g" in jitted.code and "sum_leading_" in jitted.code, jitted.code


def test_sgd_subclass_with_its_own_update_keeps_its_step():
    class HalfSGD(cr.optim.SGD):
        def _step_group(self, group):
            for p in group["params"]:
                if p.grad is not None:
                    p._data -= 0.5 * group["lr"] * p.grad._data

    def make():
        model, _ = _mlp_and_sgd()
        return model, HalfSGD(model.parameters(), lr=0.1)

    jitted = _eager_and_jitted(make, _sgd_step)
    assert _INLINE_STEP not in jitted.code


def _changed_midway(change):
    """Eager and jitted training of the MLP, whose logits a separate parameter scales, with
    change(model, opt, scale) after three steps: the losses and weights must be equal bit for bit
    (the replay calls opt.step() where its own step no longer applies)."""

    def step(model, opt, scale, x, y):
        model.zero_grad()  # (not opt's: a parameter taken out of the optimizer has its gradient cleared too)
        scale.grad = None
        loss = F.cross_entropy(model(x) * scale, y)
        loss.backward()
        opt.step()
        return loss

    runs = []
    for jit in (False, True):
        model, opt = _mlp_and_sgd()
        scale = nn.Parameter(cr.ones(1))
        body = lambda x, y, objs=(model, opt, scale): step(*objs, x, y)  # noqa: E731
        body = cr.jit(body) if jit else body
        losses = [body(x, y).item() for x, y in _batches(3)]
        assert not jit or _INLINE_STEP in body.code
        change(model, opt, scale)
        losses += [body(x, y).item() for x, y in _batches(3, seed=1)]
        runs.append((losses, [p.detach().numpy().copy() for p in [*model.parameters(), scale]]))
    (la, pa), (lb, pb) = runs
    assert la == lb
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a, b)


def _reassign(model, opt, scale):
    model[2].weight.data = model[2].weight.data.clone()  # a new array of the same shape and dtype


def _new_lr(model, opt, scale):
    opt.param_groups[0]["lr"] = 0.03  # as a scheduler does


def _momentum(model, opt, scale):
    opt.param_groups[0]["momentum"] = 0.9


def _second_group(model, opt, scale):
    opt.add_param_group({"params": [scale]})


def _fewer_params(model, opt, scale):
    opt.param_groups[0]["params"] = opt.param_groups[0]["params"][:-1]


def _swapped_param(model, opt, scale):
    opt.param_groups[0]["params"] = [*opt.param_groups[0]["params"][:-1], scale]


def _frozen_param(model, opt, scale):
    model[4].bias.requires_grad_(False)  # no gradient from now on: the step skips it


@pytest.mark.parametrize(
    "change", [_reassign, _new_lr, _momentum, _second_group, _fewer_params, _swapped_param, _frozen_param]
)
def test_inline_sgd_step_follows_changes_after_the_trace(change):
    _changed_midway(change)


def test_a_module_change_that_leaves_the_guard_as_it_was_keeps_it():
    # model.train() moves the epoch: the replay's assumptions are checked again, but the guard (a compiled
    # function) is rebuilt only when what it watches changed, here a captured parameter's requires_grad
    model, opt = _mlp_and_sgd()
    step = cr.jit(lambda x, y: _sgd_step(model, opt, x, y))
    (x, y), (x2, y2) = _batches(2)
    step(x, y)
    guard = step._guard
    model.train()
    step(x2, y2)
    assert step._guard is guard and step.trace_count == 1
    model[0].bias.requires_grad = False
    step(x2, y2)
    assert step._guard is not guard and step.trace_count == 2


def test_a_replay_turns_numpy_warnings_off_in_its_backward_only_and_restores_them():
    """As eager: no warning from a backward rule (d sqrt(x)/dx at 0 is inf), the forward's warning
    (0 * inf) still given, and the caller's settings back after the call."""
    import warnings

    w = cr.tensor([0.0, 4.0], requires_grad=True)

    @cr.jit
    def step(x):
        w.grad = None
        loss = (cr.sqrt(w) * x).sum()
        loss.backward()
        return loss

    step(cr.tensor([1.0, 1.0]))
    old = np.seterr(divide="raise")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            step(cr.tensor([1.0, 1.0]))  # the replay
        assert w.grad._data[0] == np.inf and np.geterr()["divide"] == "raise"
        with pytest.warns(RuntimeWarning, match="invalid value encountered in multiply"):
            step(cr.tensor([np.inf, 1.0]))
        assert np.geterr() == {"divide": "raise", "over": "warn", "under": "ignore", "invalid": "warn"}
    finally:
        np.seterr(**old)
