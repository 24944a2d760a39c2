"""The traced program as data (chainrule.make_jaxpr, jitted.program) and the engine's one walker.

make_jaxpr is compared with jax.make_jaxpr where both have the same primitives (equation count,
primitive names, shapes and dtypes); the coursework's u1..u5 graph checks the backward program's
values by hand. The walker's Observer interface is checked event by event on small graphs.
"""

import re
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import Function, engine
from chainrule.autograd.jit import Eqn, Program
from chainrule.nn import functional as F


def _u_graph(u1, u2):
    """The coursework graph: L = (u5 - u1 - u2 - u3 - u4)^2, u3 = u1 u2, u4 = u1 + u2, u5 = 2 u3 u4."""
    u3 = u1 * u2
    u4 = u1 + u2
    u5 = 2 * u3 * u4
    return (u5 - u1 - u2 - u3 - u4) ** 2


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _primitives(text):
    """The primitive names of a printed program, in order (JAX's or chainrule's: same layout)."""
    body = text.split(" let", 1)[1].rsplit(" in ", 1)[0]
    return re.findall(r"(?:\]|_) = ([a-z_]+)", body)


# chainrule's name for a primitive where JAX's differs.
_JAX_NAMES = {"integer_pow": "pow", "dot_general": "matmul", "reduce_sum": "sum", "logistic": "sigmoid"}


def _jax_primitives(fn, *args):
    """JAX's primitives, less its explicit broadcasts (chainrule's ops broadcast as NumPy does)."""
    return [_JAX_NAMES.get(p, p) for p in _primitives(str(jax.make_jaxpr(fn)(*args))) if p != "broadcast_in_dim"]


# ----- make_jaxpr -----


def test_u1_to_u5_forward_program_matches_jax():
    program = cr.make_jaxpr(_u_graph)(_f32(3.0), _f32(4.0))
    text = str(program)
    assert text.startswith("{ lambda ; a:f32[] b:f32[]. let\n    c:f32[] = mul a b\n    d:f32[] = add a b")
    assert str(cr.make_jaxpr(cr.exp)(_f32([1, 2, 3]))) == "{ lambda ; a:f32[3]. let b:f32[3] = exp a in (b,) }"
    assert text.endswith("in (k,) }")
    assert _primitives(text) == _jax_primitives(_u_graph, _f32(3.0), _f32(4.0))
    assert len(program.eqns) - len(program.invars) == 9  # the inputs' reads are equations of the replay


def test_make_jaxpr_takes_numpy_scalars_as_inputs():
    # np.float64(3.0) is an input as np.array(3.0) is, keeping its dtype (it used to be folded into a constant)
    expected = str(cr.make_jaxpr(_u_graph)(np.array(3.0), np.array(4.0)))
    assert str(cr.make_jaxpr(_u_graph)(np.float64(3.0), np.float64(4.0))) == expected
    assert expected.startswith("{ lambda ; a:f64[] b:f64[]. let")
    assert str(cr.make_jaxpr(cr.exp)(np.float32(1.0))) == "{ lambda ; a:f32[]. let b:f32[] = exp a in (b,) }"


def test_u1_to_u5_backward_program_gives_the_coursework_gradients():
    grad = cr.grad(_u_graph, argnums=(0, 1))
    program = cr.make_jaxpr(grad)(3.0, 4.0)
    text = str(program)
    # Every primitive of the forward has its rule in the backward program, tied to its output.
    for rule in ("pow_vjp[of=k]", "mul_vjp[of=c]", "mul_vjp[of=e]", "mul_vjp[of=f]", "add_vjp[of=d]"):
        assert rule in text
    assert text.count("sub_vjp") == 4 and text.count("add_any") == 6
    assert text.endswith("in (bf, bg) }")
    # The replay of that program computes what the coursework works out by hand.
    d1, d2 = cr.jit(grad)(np.float32(3.0), np.float32(4.0))
    assert (float(d1), float(d2)) == (21016.0, 17324.0)
    j1, j2 = jax.grad(_u_graph, argnums=(0, 1))(_f32(3.0), _f32(4.0))
    assert (float(j1), float(j2)) == (21016.0, 17324.0)


@pytest.mark.parametrize(
    "name,fn,shapes",
    [
        ("exp", lambda x: cr.exp(x), [(3,)]),
        ("tanh_sum", lambda x: cr.tanh(x).sum(), [(2, 3)]),
        ("sin_mul", lambda x: cr.sin(x) * x, [(4,)]),
        ("affine", lambda x, w, b: cr.tanh(x @ w + b), [(2, 3), (3, 4), (4,)]),
    ],
)
def test_forward_programs_have_jaxs_structure(name, fn, shapes):
    rng = np.random.default_rng(0)
    args = [_f32(rng.standard_normal(s)) for s in shapes]
    text = str(cr.make_jaxpr(fn)(*args))
    jax_fn = {
        "exp": jnp.exp,
        "tanh_sum": lambda x: jnp.tanh(x).sum(),
        "sin_mul": lambda x: jnp.sin(x) * x,
        "affine": lambda x, w, b: jnp.tanh(x @ w + b),
    }[name]
    assert _primitives(text) == _jax_primitives(jax_fn, *args)
    jax_text = str(jax.make_jaxpr(jax_fn)(*args))
    assert text.split(". let")[0] == jax_text.split(". let")[0]  # the inputs, their shapes and dtypes
    out_type = re.findall(r"([a-z]+):(f32\[[\d,]*\])", jax_text)[-1][1]
    assert re.findall(r"([a-z]+):(f32\[[\d,]*\])", text)[-1][1] == out_type  # and the output's


def test_make_jaxpr_shows_a_training_steps_effects():
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    text = str(cr.make_jaxpr(step)(_f32(np.ones((4, 3))), _f32(np.zeros((4, 2)))))
    head = text.split(". let", 1)[0]
    assert head.startswith("{ lambda ") and "f32[2,3]" in head and "f32[2]" in head  # parameters: constvars
    lines = text.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if key in line)
        for key in ("zero_grad", "linear ", "linear_vjp", "accumulate_grad", "SGD_step")
    ]
    assert order == sorted(order)


def test_make_jaxpr_shows_assignments_to_data_and_grad():
    p = nn.Parameter(cr.ones(3))

    def step(x):
        p.grad = None
        loss = (p * x).sum()
        loss.backward()
        p.grad = p.grad * 0.5
        p.data = p.data - p.grad
        return loss

    lines = str(cr.make_jaxpr(step)(_f32(np.ones(3)))).splitlines()
    first_set, first_sum = (next(i for i, line in enumerate(lines) if key in line) for key in ("set_grad b", "sum"))
    assert first_set < first_sum  # the gradient cleared before the backward pass, as the function does
    assert [line.split()[0] for line in lines if "set_" in line] == ["set_grad", "set_grad", "set_data"]


# ----- the program as data -----


def test_the_replay_source_is_generated_from_the_equations():
    x = cr.tensor([1.0, 2.0], requires_grad=True)

    def fn(x):
        y = (x * x).sum()
        y.backward()
        return y

    jitted = cr.jit(fn)
    jitted(x)
    program = jitted.program
    assert isinstance(program, Program) and all(isinstance(e, Eqn) for e in program.eqns)
    assert program.source() == jitted.code
    kinds = [(e.kind, e.prim.__name__ if e.prim else e.op) for e in program.eqns]
    assert ("forward", "Mul") in kinds and ("backward", "Mul") in kinds and ("add", None) in kinds


def test_dead_code_elimination_drops_unread_values_and_contexts():
    w = cr.tensor([1.0, -2.0], requires_grad=True)

    def step(x):
        loss = (x * w).tanh().sum()
        loss.backward()
        (x * 3).exp()  # computed, never used: kept (a forward may draw or update state), but saves nothing
        return loss

    jitted = cr.jit(step)
    jitted(cr.ones(2))
    code = jitted.code
    assert ".grad._data" not in code  # w.grad read back after accumulation: nobody reads it
    assert "Exp_forward(_NULL" in code and "Tanh_forward(ctx" in code

    def returns_grad(x):
        (x * w).sum().backward()
        return w.grad

    kept = cr.jit(returns_grad)
    kept(cr.ones(2))
    assert ".grad._data" in kept.code
    w.grad = None
    eager = returns_grad(cr.full((2,), 2.0))._data.copy()
    w.grad = None
    np.testing.assert_array_equal(kept(cr.full((2,), 2.0))._data, eager)


def test_tracing_swaps_nothing_process_wide():
    apply, run = Function.__dict__["apply"], engine._run
    seen = {}

    def fn(x):
        seen["apply"], seen["run"] = Function.__dict__["apply"], engine._run
        y = (x * 2).sum()
        y.backward()
        return y

    cr.jit(fn)(cr.ones(2, requires_grad=True))
    assert seen["apply"] is apply and seen["run"] is run


def test_two_threads_trace_at_once():
    """Each thread's recorder is its own: two traces running together each see only their own ops."""
    barrier = threading.Barrier(2, timeout=10)
    results = {}

    def make(k):
        def fn(x):
            y = x * k
            barrier.wait()  # both traces are recording now
            z = (y + 1).exp() if k == 2 else (y - 1).sin()
            barrier.wait()
            return z

        return fn

    def run(k):
        jitted = cr.jit(make(k))
        jitted(cr.ones(3))
        results[k] = (jitted.code, jitted(cr.full((3,), 0.5))._data)

    threads = [threading.Thread(target=run, args=(k,)) for k in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "Exp_forward" in results[2][0] and "Sin_forward" not in results[2][0]
    assert "Sin_forward" in results[3][0] and "Exp_forward" not in results[3][0]
    np.testing.assert_array_equal(results[2][1], np.exp(np.float32(0.5) * 2 + 1))
    np.testing.assert_array_equal(results[3][1], np.sin(np.float32(0.5) * 3 - 1))


# ----- the engine's one walker and its observers -----


class _Log(engine.Observer):
    def __init__(self):
        self.events = []

    def begin(self, roots, root_grads, retain_graph, create_graph, capture):
        self.events.append(("begin", len(roots), create_graph, capture is not None))

    def node(self, node, grad_output, grad_inputs):
        self.events.append(("node", node.op_name, len(grad_inputs)))

    def add(self, a, b, total):
        self.events.append(("add", float(np.sum(b)), float(np.sum(total))))  # `a` may be total, added in place

    def cast(self, node, g, conformed):
        self.events.append(("cast", np.asarray(g).dtype.name, conformed.dtype.name))

    def leaf(self, tensor, g):
        self.events.append(("leaf", tensor.name, float(np.sum(g))))

    def end(self):
        self.events.append(("end",))


def test_observer_sees_a_pass_event_by_event():
    x = cr.tensor([1.0, 3.0], dtype=cr.float64, requires_grad=True, name="x")
    log = engine.add_observer(_Log())
    try:
        (x * x + x).sum().backward()  # d/dx = 2x + 1: Add gives x ones, then Mul two gradients x
    finally:
        engine.remove_observer(log)
    assert log.events == [
        ("begin", 1, False, False),
        ("node", "Sum", 1),
        ("node", "Add", 2),
        ("node", "Mul", 2),
        ("add", 4.0, 6.0),
        ("add", 4.0, 10.0),
        ("leaf", "x", 10.0),
        ("end",),
    ]
    np.testing.assert_array_equal(x.grad._data, [3.0, 7.0])
    assert log not in engine._observers


def test_observer_hears_a_numpy_scalar_made_an_array():
    x = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    log = engine.add_observer(_Log())
    try:
        (x * 2).backward()  # the 0-d rule returns a NumPy scalar; the engine makes it an array
    finally:
        engine.remove_observer(log)
    assert ("cast", "float64", "float64") in log.events


def test_observer_sees_casts_and_captures():
    x = cr.tensor([1.0, 2.0], dtype=cr.float32, requires_grad=True, name="x")
    y = x.to(cr.float64).sum()
    log = engine.add_observer(_Log())
    try:
        (gx,) = cr.autograd.grad(y, [x])
    finally:
        engine.remove_observer(log)
    assert log.events[0] == ("begin", 1, False, True) and log.events[-1] == ("end",)
    assert ("leaf", "x", 2.0) in log.events and gx._data.dtype == np.float32


def test_pass_hook_attaches_an_observer_to_one_pass():
    log = _Log()
    calls = []

    def hook(roots):
        calls.append(len(roots))
        return log if roots[0].name == "watched" else None

    engine.add_pass_hook(hook)
    try:
        a = cr.tensor([2.0], requires_grad=True)
        (a * 3).sum().backward()
        watched = (a * 5).sum()
        watched.name = "watched"
        watched.backward()
    finally:
        engine._pass_hooks.remove(hook)
    assert calls == [1, 1]
    assert [e[0] for e in log.events] == ["begin", "node", "node", "leaf", "end"]
    assert a.grad.item() == 8.0


def test_an_observer_that_raises_ends_the_pass_cleanly():
    class Boom(engine.Observer):
        ended = False

        def node(self, node, grad_output, grad_inputs):
            raise ValueError("boom")

        def end(self):
            Boom.ended = True

    x = cr.tensor(2.0, requires_grad=True)
    boom = engine.add_observer(Boom())
    try:
        with pytest.raises(ValueError, match="boom"):
            (x * x).backward()
    finally:
        engine.remove_observer(boom)
    assert Boom.ended and cr.is_grad_enabled()
    (x * x).backward()
    assert x.grad.item() == 4.0


def test_constant_folding_computes_a_sum_of_constant_seeds_once():
    def fn(x):
        y = (x * 2).sum()
        cr.autograd.backward([y, y], [cr.tensor(1.0), cr.tensor(2.0)])  # two seeds of one root: 1 + 2
        return y

    jitted = cr.jit(fn)
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    jitted(x)
    assert " + " not in jitted.code and "sum_vjp[of=c] 3.0:f32[]" in str(jitted.program)
    x.grad = None
    jitted(x)
    replayed = x.grad._data.copy()
    x.grad = None
    fn(x)
    np.testing.assert_array_equal(replayed, x.grad._data)
    jitted(x)  # the leaf's gradient is accumulated in place: the folded constant must stay 3
    np.testing.assert_array_equal(x.grad._data, 2 * replayed)
    jitted(x)
    np.testing.assert_array_equal(x.grad._data, 3 * replayed)


def test_buffer_reuse_sums_into_a_sum_nobody_else_reads_bit_for_bit():
    def step(x):
        y = x.tanh()
        loss = (y * y + y * 2 + y.exp() + y.sin()).sum()  # y has five uses: four sums of its gradient
        loss.backward()
        return loss

    jitted = cr.jit(step)
    x = cr.tensor(np.linspace(-1.0, 1.0, 7), requires_grad=True)
    jitted(x)
    assert jitted.code.count("out=") >= 2
    for values in (np.linspace(-2.0, 3.0, 7), np.random.default_rng(3).standard_normal(7)):
        a = cr.tensor(values, requires_grad=True)
        b = cr.tensor(values, requires_grad=True)
        jitted(a)
        step(b)
        np.testing.assert_array_equal(a.grad._data, b.grad._data)


def test_docs_program_md_shows_what_make_jaxpr_prints():
    import pathlib

    doc = (pathlib.Path(__file__).parent.parent / "docs" / "program.md").read_text()
    blocks = re.findall(r"```\n(\{ lambda.*?\})\n```", doc, re.S)
    forward = str(cr.make_jaxpr(_u_graph)(3.0, 4.0))
    backward = str(cr.make_jaxpr(cr.grad(_u_graph, argnums=(0, 1)))(3.0, 4.0))
    assert blocks[0] == forward
    shown = [line for line in blocks[1].splitlines() if line.strip() != "..."]
    assert all(line in backward.splitlines() for line in shown) and shown[-1] == backward.splitlines()[-1]
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    assert blocks[2] == str(cr.make_jaxpr(step)(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)))
