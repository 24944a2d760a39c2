"""Trace and replay: `jit(fn)` records the primitives one call of `fn` runs, and the backward
passes it starts, then replays that record as straight-line NumPy code.

The first call with a given signature (the shapes, dtypes and requires_grad of the Tensor
arguments, the values of the others, and the grad mode) runs `fn` eagerly, so its result is
the eager result, while a recorder notes:

- each primitive applied to a Tensor: its class, which earlier value each argument is, its
  parameters, and whether it recorded a graph node;
- each first-order backward pass (`loss.backward()`, `autograd.grad`): the order the engine
  visits the nodes in, where each gradient flows and which leaf gradients need a copy;
- a backward with create_graph=True, and user Functions, through the primitives they apply;
- optimizer steps, zero_grad, scheduler steps and gradient clipping, as calls to repeat.

From that record it writes one Python function, a line per primitive:

    v4 = Linear_forward(ctx5, v0, k2, k3)        # x W^T + b, with W and b read at each call
    g20, g21, g22 = Linear_backward(ctx5, g19)   # the gradients for x, W and b

and later calls run that function: no Tensor wrappers, no graph nodes, no dispatch, no
topological sort. `jitted.code` shows the source.

What is frozen, as with torch.jit.trace and jax.jit: Python control flow and any value
computed outside chainrule's ops. Reading a traced value (`.item()`, `bool(t)`, `.numpy()`,
`float(t)`, also through `.data`) while tracing raises TraceError naming the line, and so do
hooks, setting .grad by hand, and in-place ops on tensors the function neither computed nor
trains, which a replay could not repeat (in-place ops on computed values and parameters are
recorded). `.data` and `.detach()` of a traced value are traced values; assigning `p.data = v`
inside the function is recorded when `v` is one.

Random ops (rand, randn, randint, randperm, rand_like, randn_like, normal_, uniform_, the
nn.init fills) draw through `draw`, and dropout inside its primitive, so a replay draws anew,
from the generator eager
code would use (the global one, looked up at each call so manual_seed is seen, or the
Generator passed in), in eager's order: after manual_seed(s), jitted calls give eager's
numbers call after call. A Generator made inside the function is refused (eager code would
make a new one at each call). Max pooling finds its winners inside its primitive, batch norm
updates its running statistics through a recorded op and gradient clipping is a repeated call,
so a replay repeats all of them.

Parameters and other tensors the function reads from outside (closures, modules) are read
afresh at every call, so training updates them and `p.data = new` of the same shape is seen.
A replay also assumes what it cannot read afresh, and traces again when that changes: the
objects fn's globals and closure cells hold (checked at each call, by identity), and, when a
module attribute was set or a tensor's .data changed shape or dtype anywhere (a counter,
_state["epoch"], says so), the parameters, buffers, submodules and settings (training,
Dropout's p, ...) of the modules fn reaches and the shapes and dtypes of the tensors it
captured. Each jitted function traces at most config.recompile_limit times (64), then runs
new signatures eagerly with one warning, as torch.compile past its recompile_limit.
"""
from __future__ import annotations

import dis
import functools
import gc
import itertools
import linecache
import re
import sys
import threading
import types
import warnings

import numpy as np

from .. import _dtypes
from . import anomaly, engine, function, grad_mode
from .function import _NULL_CTX, Function, _backward_state
from .functional import tree_flatten

# epoch: bumped when a module's attributes change (a parameter, submodule or buffer assigned,
# train()/eval(), a dtype cast) or a tensor's .data is given another shape or dtype. A replay
# made under another epoch re-checks what it assumed about them before it runs.
_state = {"recorder": None, "epoch": 0}
_Generator = np.random.Generator


class config:
    """Settings shared by every jitted function (as torch._dynamo.config).

    recompile_limit: the most traces one jitted function makes (signatures, and retraces after
    a parameter or module changed). Past it, calls that would trace run eagerly instead, with
    one warning, as torch.compile does past torch._dynamo.config.recompile_limit.
    `jit(fn, recompile_limit=n)` sets it for one function.
    """

    recompile_limit = 64
_ndarray = np.ndarray
_apply_classmethod = Function.__dict__["apply"]
_engine_run = engine._run


class TraceError(RuntimeError):
    """fn does something a trace cannot replay (see chainrule.jit)."""


def _user_line():
    """'file:line: source' of the innermost caller outside chainrule, for errors that name the line."""
    site = function.user_site(2)
    if site is None:
        return "an unknown line"
    source = linecache.getline(site[0], site[1]).strip()
    return f"{site[0]}:{site[1]}" + (f" (`{source}`)" if source else "")


def _tensor_cls():
    from ..tensor import Tensor

    return Tensor


# ----- the replay's node: a primitive whose saved values are plain arrays -----

_replay_classes = {}


def _replay_class(cls):
    """A subclass of primitive `cls` whose saved_tensors is the saved tuple as forward left it."""
    sub = _replay_classes.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls,), {"_array_protocol": True, "__module__": cls.__module__,
                                         "saved_tensors": property(lambda self: self.saved)})
        _replay_classes[cls] = sub
    return sub


def _new_ctx(node):
    ctx = object.__new__(_replay_class(type(node)))
    ctx.needs_input_grad = node.needs_input_grad
    ctx.next = ()
    ctx.saved = ()
    ctx.out_data = None
    ctx.versions = None
    return ctx


# ----- calls that a replay repeats (optimizer steps and the like) -----

def _active():
    """The recorder when this thread is tracing (not inside a repeated call), else None.

    Tracing swaps Function.apply for the whole process; other threads keep running eagerly.
    """
    rec = _state["recorder"]
    if rec is None or rec.paused or rec.thread != threading.get_ident():
        return None
    return rec


def replayed_call(method):
    """Mark a method with side effects (optimizer.step, zero_grad) so a trace repeats the call."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rec = _active()
        if rec is None:
            return method(self, *args, **kwargs)
        return rec.record_call(method, self, args, kwargs)

    return wrapper


def tracing():
    """True while jit records: library code then avoids branching on values (they would be frozen)."""
    return _active() is not None


def record_plain(fn, args):
    """_plain(fn, *args) while tracing: a NumPy function of traced values becomes a line of the replay."""
    return _state["recorder"].record_plain(fn, args)


def check_concrete(tensor, what):
    """Called by Tensor's value readers: a traced value read by Python would be frozen."""
    rec = _active()
    if rec is not None and rec.knows(tensor):
        raise TraceError(
            f"jit: {rec.fn_name} reads the value of a traced tensor of shape {tuple(tensor.shape)} with "
            f"{what} at {_user_line()} while being traced; the replay would reuse this call's value. Keep "
            "value-dependent Python (if/float/item/numpy) outside the jitted function, compute with "
            "chainrule ops instead (chainrule.where for a branch), or return the tensor and read it after "
            "the call.")


def _draw(sample, generator):
    # What a replay runs for a random op: the generator is looked up at each call, so
    # manual_seed between calls is seen, as it is by eager code.
    return sample(generator if generator is not None else _dtypes._state["rng"])


def draw(sample, generator=None):
    """`sample(rng)` with rng = `generator` or the global generator (the one manual_seed resets).

    Random ops draw through this: while jit traces, the draw becomes a line of the replay,
    which draws anew from the same generator at every call, in the order eager code would.
    `sample` must be replayable (a functools.partial of a module-level function, say) and
    return an ndarray.

    Example:
        >>> array = draw(functools.partial(_standard_normal, (2, 3), np.float32), generator)
    """
    if _state["recorder"] is not None:
        rec = _active()
        if rec is not None:
            return rec.record_draw(sample, generator)
    return sample(generator if generator is not None else _dtypes._state["rng"])


def note_alias(source, alias):
    """`alias` shares `source`'s array (.data, .detach()): a replay reads it through `source`,
    so a parameter given a new array (p.data = ...) after tracing is seen."""
    rec = _active()
    if rec is None or rec.knows(source) or source.grad_fn is not None:
        return  # a traced value's alias shares its (bound) array; an outside graph's is refused where used
    try:
        rec.bind(alias, rec.ref(source, ".data"))
    except TraceError:
        pass  # a view of a traced array made outside chainrule's ops: refused if the alias is used


def record_set_data(tensor, array):
    """`tensor.data = value` while tracing: the replay makes the same assignment."""
    rec = _active()
    if rec is not None:
        rec.record_set_data(tensor, array)


def record_inplace(tensor, source, op, index=None):
    """An in-place tensor op while tracing: the replay writes into the same array."""
    rec = _active()
    if rec is not None:
        rec.record_inplace(tensor, source, op, index)


# ----- the recorder -----

class _Recorder:
    def __init__(self, fn_name, inputs):
        self.fn_name = fn_name
        self.thread = threading.get_ident()
        self.paused = False
        self.lines = []
        self.ns = {"_NULL": _NULL_CTX, "_acc": engine._accumulate, "_np": np, "_draw": _draw,
                   "_quiet": functools.partial(np.errstate, divide="ignore", over="ignore", invalid="ignore")}
        self.var = {}        # id(Tensor or array) -> expression that yields its array in the replay
        self.keep = []       # objects whose ids are keys of var: kept alive so ids stay unique
        self.ctx_var = {}    # id(trace-time node) -> name of its replay ctx
        self.node_out = {}   # id(trace-time node) -> variable holding its output
        self.leaf_ref = {}   # id(leaf Tensor) -> expression for that Tensor in the replay
        self.captured = []   # (name, Tensor) read from outside: parameters, closures
        self.grads_set = {}  # id(leaf) -> (leaf, the .grad a replay leaves it with so far)
        self.constants = set()  # ids of arrays that are constants of the trace
        self.generators = []    # (numpy Generator, where first used): those the trace draws from, not the global one
        self.counter = itertools.count()
        for i, t in enumerate(inputs):
            name = f"v{next(self.counter)}"
            self.lines.append(f"{name} = a{i}._data")
            self.bind(t, name)
            self.bind(t._data, name)
            self.leaf_ref[id(t)] = f"a{i}"

    # -- names --

    def fresh(self, prefix="v"):
        return f"{prefix}{next(self.counter)}"

    def const(self, value, prefix="c"):
        name = self.fresh(prefix)
        self.ns[name] = value
        return name

    def bind(self, obj, expr):
        self.var[id(obj)] = expr
        self.keep.append(obj)

    def knows(self, tensor):
        return id(tensor) in self.var or id(tensor._data) in self.var

    def _known_base(self, arr):
        base = arr.base
        while base is not None:
            if id(base) in self.var:
                return True
            base = base.base if isinstance(base, _ndarray) else None
        return False

    # -- references to values --

    def ref(self, value, op):
        """The replay expression for an argument of `op`: a traced value, a captured tensor or a constant."""
        Tensor = _tensor_cls()
        if isinstance(value, Tensor):
            expr = self.var.get(id(value)) or self.var.get(id(value._data))
            if expr is not None:
                return expr
            if value.grad_fn is not None:
                out = self.node_out.get(id(value.grad_fn))
                if out is not None:  # a node's output re-wrapped (saved_tensors under create_graph)
                    return out
                raise TraceError(
                    f"jit: {op} in {self.fn_name} uses a tensor computed outside the function (it has a "
                    "grad_fn from an earlier graph). Pass it as an argument, or .detach() it.")
            if self._known_base(value._data):
                raise TraceError(self._derived_message(op))
            name = self.fresh("k")
            self.captured.append((name, value))
            self.ns[name.upper()] = value
            self.lines.append(f"{name} = {name.upper()}._data")
            self.bind(value, name)
            self.bind(value._data, name)
            self.leaf_ref[id(value)] = name.upper()
            return name
        if isinstance(value, _ndarray):
            expr = self.var.get(id(value))
            if expr is not None:
                return expr
            if self._known_base(value):
                raise TraceError(self._derived_message(op))
            self.constants.add(id(value))
            self.keep.append(value)
            return self.const(value)
        if isinstance(value, tuple):
            parts = [self.ref(v, op) for v in value]
            return "(" + "".join(p + ", " for p in parts) + ")"
        if value is None or type(value) in (bool, int) or (type(value) is float and np.isfinite(value)):
            return repr(value)  # numbers keep the replay's source readable; anything else is a named constant
        if isinstance(value, _Generator):
            expr = self.var.get(id(value))
            if expr is None:
                expr = self.const(value, "rng")
                self.var[id(value)] = expr
                self.generators.append((value, _user_line()))
            return expr
        return self.const(value)

    def method(self, cls, which):
        """Name for cls.forward / cls.backward in the replay's namespace (Linear_forward, ...)."""
        fn = getattr(cls, which)
        name = re.sub(r"\W", "_", f"{cls.__name__}_{which}")
        while self.ns.get(name, fn) is not fn:  # two classes of one name
            name += "_"
        self.ns[name] = fn
        return name

    def _bad_param(self, op, key):
        raise TraceError(f"jit: {op} got a parameter named {key!r}, which is not a Python identifier")

    def _derived_message(self, op):
        return (f"jit: {op} in {self.fn_name} receives an array computed from traced values by code that "
                "is not a chainrule op (NumPy on ._data, a view of a traced array); the replay would "
                "freeze it. Compute it with chainrule ops on Tensors, or outside the jitted function.")

    def _computed_by_forward(self, value):
        """An array a forward made (not a traced value already named, not a constant passed in)."""
        return isinstance(value, _ndarray) and id(value) not in self.var and id(value) not in self.constants

    def note_node_arrays(self, node, ctx_name):
        """Arrays a forward stored on its node (masks, indices): later uses read them from the replay's ctx."""
        for attr, value in node.__dict__.items():
            if not attr.isidentifier():
                continue
            if self._computed_by_forward(value):
                self.bind(value, f"{ctx_name}.{attr}")
            elif isinstance(value, tuple):  # an index: a tuple of arrays and slices
                for i, part in enumerate(value):
                    if self._computed_by_forward(part):
                        self.bind(part, f"{ctx_name}.{attr}[{i}]")
        for i, value in enumerate(node.saved or ()):
            if self._computed_by_forward(value):
                self.bind(value, f"{ctx_name}.saved[{i}]")

    # -- events --

    def record_apply(self, cls, args, params):
        op = cls.__name__
        if not cls._array_protocol:
            # A user Function's forward runs on Tensors: its ops are recorded as they run, and
            # its backward likewise when a backward pass reaches it.
            result = _apply_classmethod.__func__(cls, *args, **params)
            self.bind(result, self.ref(result._data, op))
            if result.grad_fn is not None:
                self.ctx_var[id(result.grad_fn)] = "_USER"
                self.keep.append(result.grad_fn)
            return result
        index = params.get("index")
        for part in index if isinstance(index, tuple) else (index,):
            if isinstance(part, _ndarray) and part.dtype == np.bool_ and id(part) in self.var:
                raise TraceError(
                    f"jit: {op} in {self.fn_name} selects with a boolean mask computed from traced values: "
                    "the result's shape depends on the values, which a replay cannot follow. Use "
                    "chainrule.where(mask, x, 0) (same shape), or index outside the jitted function.")
        arg_exprs = [self.ref(a, op) if a is not None else "None" for a in args]
        param_exprs = [f"{k}={self.ref(v, op)}" if k.isidentifier() else self._bad_param(op, k)
                       for k, v in params.items()]
        result = _apply_classmethod.__func__(cls, *args, **params)
        node = result.grad_fn
        out = self.fresh()
        fwd = self.method(cls, "forward")
        if node is not None and id(node) not in self.ctx_var:
            ctx = self.fresh("ctx")
            self.ns[ctx] = _new_ctx(node)
            self.ctx_var[id(node)] = ctx
            self.bind(node, ctx)
        else:
            ctx = "_NULL"
        self.lines.append(f"{out} = {fwd}({', '.join([ctx] + arg_exprs + param_exprs)})")
        self.bind(result, out)
        self.bind(result._data, out)
        if ctx != "_NULL":
            self.node_out[id(node)] = out
            self.note_node_arrays(node, ctx)
        return result

    def record_plain(self, fn, args):
        Tensor = _tensor_cls()
        label = re.sub(r"\W", "_", getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "fn"))
        exprs = [self.ref(a, label) for a in args]
        result = Tensor._make(fn(*[a._data if isinstance(a, Tensor) else a for a in args]))
        out = self.fresh()
        self.lines.append(f"{out} = {self.const(fn, label + '_')}({', '.join(exprs)})")
        self.bind(result, out)
        self.bind(result._data, out)
        return result

    def record_draw(self, sample, generator):
        gen = "None" if generator is None else self.ref(generator, "random")
        array = sample(generator if generator is not None else _dtypes._state["rng"])
        label = re.sub(r"\W", "_", getattr(getattr(sample, "func", sample), "__name__", "sample")).strip("_")
        out = self.fresh()
        self.lines.append(f"{out} = _draw({self.const(sample, label + '_')}, {gen})")
        self.bind(array, out)
        return array

    def record_set_data(self, tensor, array):
        if id(array) not in self.var:
            raise TraceError(
                f"jit: {self.fn_name} assigns .data at {_user_line()} from a tensor jit did not see it compute "
                "(made by a constructor such as zeros or tensor, or read from outside): a replay would "
                "assign this call's array every time. Compute the new value with chainrule ops from traced "
                "values, write in place (p.data.copy_(v), p.data.zero_()), or assign outside the function.")
        value = self.var[id(array)]
        self.ref(tensor, ".data")  # a tensor read from outside is captured, so the replay can assign it
        ref = self.leaf_ref.get(id(tensor))
        if ref is not None:  # an argument or a captured tensor: the replay assigns it too
            self.lines.append(f"{ref}._data = {value}")
        self.bind(tensor, value)

    def record_call(self, method, obj, args, kwargs):
        Tensor = _tensor_cls()
        for a in itertools.chain(args, kwargs.values()):
            if isinstance(a, Tensor) or callable(a):
                raise TraceError(f"jit: {type(obj).__name__}.{method.__name__} is called with a "
                                 f"{type(a).__name__} argument while tracing {self.fn_name}; the replay "
                                 "repeats such calls only with constant arguments. Call it outside "
                                 "the jitted function.")
        label = method.__name__ if "." not in method.__qualname__ else f"{type(obj).__name__}_{method.__name__}"
        name = self.const(functools.partial(method, obj, *args, **kwargs), re.sub(r"\W", "_", label))
        self.paused = True
        try:
            result = method(obj, *args, **kwargs)
        finally:
            self.paused = False
        if isinstance(result, Tensor):  # e.g. clip_grad_norm_'s norm: each replay's own value
            out = self.fresh()
            self.lines.append(f"{out} = {name}()._data")
            self.bind(result, out)
            self.bind(result._data, out)
        else:
            self.lines.append(f"{name}()")
        for key, (leaf, _) in list(self.grads_set.items()):  # zero_grad and the like, repeated too
            self.grads_set[key] = (leaf, leaf.grad)
        # The call may have given a captured tensor a new array (p._data = ...): read them again.
        self.lines.extend(f"{n} = {n.upper()}._data" for n, _ in self.captured)
        return result

    def record_inplace(self, tensor, source, op, index):
        computed = (id(tensor) in self.var or id(tensor._data) in self.var) and not any(
            t is tensor for _, t in self.captured)
        if not computed and not tensor.requires_grad:
            raise TraceError(
                f"jit: {op} on a tensor of shape {tuple(tensor.shape)} that {self.fn_name} did not compute "
                "(made inside it, or read from outside): a replay would keep changing one shared array. "
                "Use the out-of-place form (y = y + x; for random fills, chainrule.rand/randn(shape) "
                "scaled and shifted).")
        target = self.ref(tensor, op)
        value = self.ref(source._data if isinstance(source, _tensor_cls()) else source, op)
        if index is None:
            self.lines.append(f"{self.const(_copy_into, 'copy_into')}({target}, {value})")
        else:
            self.lines.append(f"{self.const(_set_items, 'set_items')}({target}, {self.ref(index, op)}, {value})")

    def check_grad_unchanged(self, leaf):
        """A leaf's .grad must change only through recorded events, or a replay would differ."""
        entry = self.grads_set.get(id(leaf))
        if entry is not None and leaf.grad is not entry[1]:
            raise TraceError(
                f"jit: {self.fn_name} sets the .grad of a tensor of shape {tuple(leaf.shape)} directly (or "
                "through code jit does not record); a replay would not. Use optimizer.zero_grad() or "
                "module.zero_grad() inside the function, or set .grad outside it.")

    def record_backward(self, roots, root_grads, retain_graph, create_graph, capture, only):
        if create_graph:
            if capture is None:
                raise TraceError(
                    f"jit: backward(create_graph=True) inside {self.fn_name} accumulates into .grad, "
                    "which a replay cannot repeat; use chainrule.autograd.grad(..., create_graph=True).")
            return _engine_run(roots, root_grads, retain_graph, create_graph, capture, only)
        if engine._observers or anomaly._state["enabled"]:
            raise TraceError(f"jit: {self.fn_name} runs backward with observers or detect_anomaly on; "
                             "they cannot be replayed. Turn them off, or call the function without jit.")
        prev_graph, prev_mode = _backward_state["graph"], grad_mode._state["enabled"]
        _backward_state["graph"] = False
        grad_mode._state["enabled"] = False
        self.lines.append("with _quiet():")
        try:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                _Backward(self, roots, root_grads, retain_graph, capture, only).run()
        finally:
            _backward_state["graph"] = prev_graph
            grad_mode._state["enabled"] = prev_mode
        if self.lines[-1] == "with _quiet():":
            self.lines.append("    pass")


class _Backward:
    """One first-order backward pass run at trace time, writing the replay's lines as it goes."""

    def __init__(self, rec, roots, root_grads, retain_graph, capture, only):
        self.rec = rec
        self.roots, self.root_grads = roots, root_grads
        self.retain = retain_graph
        self.capture = capture
        self.only = only
        self.delivered = {}  # id(array) -> how many places an array went to (1 and fresh: a leaf may own it)
        self.keep = []

    def emit(self, line):
        self.rec.lines.append("    " + line)

    def value(self, arr):
        """A gradient array (root or rule output) as a replay variable."""
        self.delivered[id(arr)] = self.delivered.get(id(arr), 0) + 1
        self.keep.append(arr)
        return arr

    def add(self, acc, new):
        (a, a_var), (b, b_var) = acc, new
        out = a + b
        name = self.rec.fresh("g")
        if type(out) is _ndarray:
            self.emit(f"{name} = {a_var} + {b_var}")
        else:  # 0-d operands give a NumPy scalar; gradients stay arrays
            out = np.asarray(out)
            self.emit(f"{name} = _np.asarray({a_var} + {b_var})")
        self.keep.append(out)
        return (out, name)

    def conform(self, node, edge, gi, gvar):
        dtype = edge._data.dtype if isinstance(edge, _tensor_cls()) else edge.dtype
        fixed = engine._conform(node, edge, gi, False)
        if fixed is not gi:
            name = self.rec.fresh("g")
            self.emit(f"{name} = _np.asarray({gvar}, dtype={self.rec.const(dtype, 'd')})")
            return fixed, name
        return gi, gvar

    def run(self):
        rec = self.rec
        Tensor = _tensor_cls()
        grads = {}
        leaves = {}  # id(leaf) -> [leaf, (array, var)]
        for t, g in zip(self.roots, self.root_grads):
            entry = (self.value(g), rec.ref(g, "backward"))
            if t.grad_fn is None:
                self._to_leaf(leaves, t, entry)
            else:
                grads[t.grad_fn] = entry if t.grad_fn not in grads else self.add(grads[t.grad_fn], entry)
        deps, starts = engine._collect(self.roots)
        capture_nodes, capture_leaves = {}, {}
        if self.capture is not None:
            for i, t in enumerate(self.capture[0]):
                target = capture_leaves if t.grad_fn is None else capture_nodes
                target.setdefault(id(t) if t.grad_fn is None else t.grad_fn, []).append(i)
        ready = [n for n in starts if n not in deps]
        while ready:
            node = ready.pop()
            entry = grads.pop(node, None)
            if entry is not None and node.hooked:
                raise TraceError(f"jit: a hook or retain_grad on the output of {node.op_name} cannot be "
                                 f"replayed; remove it or call {rec.fn_name} without jit.")
            for i in capture_nodes.get(node, ()):
                self.capture[1][i] = self._captured(entry)
            nxt = node.next
            if entry is not None:
                ctx = rec.ctx_var.get(id(node))
                if ctx is None:
                    raise TraceError(f"jit: backward inside {rec.fn_name} reaches {node.op_name}, created "
                                     f"outside the function ({function.format_site(node.site)}); pass "
                                     "that tensor in as an argument instead.")
                if type(node)._array_protocol:
                    outs, names = self._primitive_rule(node, ctx, entry)
                else:
                    outs, names = self._user_rule(node, entry)
                for i, edge in enumerate(nxt[:len(outs)]):
                    gi = outs[i]
                    if edge is None or gi is None:
                        continue
                    gi, gvar = self.conform(node, edge, gi, names[i])
                    new = (self.value(gi), gvar)
                    if isinstance(edge, Tensor):
                        self._to_leaf(leaves, edge, new)
                    else:
                        grads[edge] = new if edge not in grads else self.add(grads[edge], new)
            for edge in nxt:
                if edge is None or isinstance(edge, Tensor):
                    continue
                deps[edge] -= 1
                if not deps[edge]:
                    ready.append(edge)
        only_ids = None if self.only is None else {id(t) for t in self.only}
        for key, (leaf, (g, gvar)) in leaves.items():
            if leaf._hooks:
                raise TraceError(f"jit: a hook on a leaf tensor of shape {tuple(leaf.shape)} cannot be "
                                 f"replayed; remove it or call {rec.fn_name} without jit.")
            if self.capture is not None:
                for i in capture_leaves.get(key, ()):
                    self.capture[1][i] = self._captured((g, gvar))
                continue
            if only_ids is not None and key not in only_ids:
                continue
            owned = self._owned(g)
            ref = rec.leaf_ref.get(key)
            if ref is None:
                # A leaf made inside the function: each replay makes a new one, so no accumulation.
                if leaf.grad is not None:
                    raise TraceError(f"jit: a leaf created inside {rec.fn_name} gets gradients from two "
                                     "backward passes; the replay cannot accumulate them.")
                engine._accumulate(leaf, g, False, owned_key=owned)
                name = gvar if owned else rec.fresh("g")
                if not owned:
                    self.emit(f"{name} = {gvar}.copy()")
            else:
                rec.check_grad_unchanged(leaf)
                engine._accumulate(leaf, g, False, owned_key=owned)
                rec.grads_set[id(leaf)] = (leaf, leaf.grad)
                self.emit(f"_acc({ref}, {gvar}, False, owned_key={owned})")
                name = rec.fresh("g")
                self.emit(f"{name} = {ref}.grad._data")
            rec.bind(leaf.grad, name)
            rec.bind(leaf.grad._data, name)

    def _primitive_rule(self, node, ctx, entry):
        """Run a primitive's backward rule and write its line: g1, g2 = Linear_backward(ctx3, g0)."""
        rec = self.rec
        out = type(node).backward(node, entry[0])
        single = type(out) is not tuple
        outs = (out,) if single else out
        names = [rec.fresh("g") if o is not None else "_" for o in outs]
        lhs = names[0] if single else ", ".join(names) + ("," if len(names) == 1 else "")
        self.emit(f"{lhs} = {rec.method(type(node), 'backward')}({ctx}, {entry[1]})")
        if not self.retain:
            node.saved = node.out_data = node.versions = None
            self.emit(f"{ctx}.saved = None")
        return outs, names

    def _user_rule(self, node, entry):
        """A user Function's backward runs on Tensors: the ops it applies are its lines."""
        rec = self.rec
        g, gvar = entry
        if id(g) not in rec.var:
            rec.bind(g, gvar)
        outer, rec.lines = rec.lines, []
        try:
            outs = node._vjp(g)
        finally:
            inner, rec.lines = rec.lines, outer
        for line in inner:
            self.emit(line)
        if not self.retain:
            node.saved = node.out_data = node.versions = None
        names = ["_" if o is None else rec.var.get(id(o)) or rec.ref(o, node.op_name) for o in outs]
        return outs, names

    def _captured(self, entry):
        # autograd.grad returns these as Tensors the function may use further: name their arrays.
        if entry is None:
            return None
        arr, name = entry
        if type(arr) is not _ndarray:  # the caller wraps it in a Tensor, which makes it an array
            arr = np.asarray(arr)
            new = self.rec.fresh("g")
            self.emit(f"{new} = _np.asarray({name})")
            name = new
        if id(arr) not in self.rec.var:
            self.rec.bind(arr, name)
        return arr

    def _to_leaf(self, leaves, leaf, entry):
        key = id(leaf)
        if key in leaves:
            leaves[key][1] = self.add(leaves[key][1], entry)
        else:
            leaves[key] = [leaf, entry]

    def _owned(self, g):
        """True when `g` went nowhere else and is no traced value: the leaf may keep it without a copy."""
        return (isinstance(g, _ndarray) and g.base is None and self.delivered.get(id(g), 1) <= 1
                and id(g) not in self.rec.var)


# ----- installing the recorder -----

def _traced_apply(cls, *args, **params):
    rec = _active()
    if rec is not None:
        Tensor = _tensor_cls()
        for a in args:
            if isinstance(a, Tensor):
                return rec.record_apply(cls, args, params)
    return _apply_classmethod.__func__(cls, *args, **params)


def _traced_run(roots, root_grads, retain_graph, create_graph, capture, only):
    rec = _active()
    if rec is None:
        return _engine_run(roots, root_grads, retain_graph, create_graph, capture, only)
    return rec.record_backward(roots, root_grads, retain_graph, create_graph, capture, only)


def _structure(tree):
    """A hashable description of a pytree's shape (which containers, which keys), leaves left out."""
    if isinstance(tree, dict):
        return ("dict",) + tuple((k, _structure(v)) for k, v in tree.items())
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__,) + tuple(_structure(v) for v in tree)
    return None


def _drop_unused_contexts(lines):
    """Forward calls whose node no later line reads (no backward reaches it) get the null ctx,
    which saves nothing: a replay then holds no activations it will not use."""
    uses = {}
    for line in lines:
        for name in re.findall(r"\bctx\d+\b", line):
            uses[name] = uses.get(name, 0) + 1
    unused = {name for name, n in uses.items() if n == 1}
    if not unused:
        return lines
    pattern = re.compile(r"\b(" + "|".join(sorted(unused)) + r")\b")
    return [pattern.sub("_NULL", line) for line in lines]


def _copy_into(dst, src):
    np.copyto(dst, src, casting="unsafe")


def _set_items(dst, index, values):
    dst[index] = values


def _as_arrays(tree):
    Tensor = _tensor_cls()
    leaves, rebuild = tree_flatten(tree)
    return rebuild([leaf._data if isinstance(leaf, Tensor) else leaf for leaf in leaves])


def _skeleton(tree):
    if isinstance(tree, dict):
        return {k: _skeleton(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        parts = [_skeleton(v) for v in tree]
        return type(tree)(*parts) if hasattr(tree, "_fields") else type(tree)(parts)
    return None


# ----- the transform -----

def jit(fn=None, *, recompile_limit=None):
    """Trace `fn` on its first call per signature, then replay the trace as straight-line NumPy.

    `fn` takes Tensors or NumPy arrays (and hashable constants: ints, floats, strings, None),
    possibly in tuples, lists and dicts, and returns the same kinds: arrays in, arrays out,
    as the other transforms. It may run a forward pass, call
    `loss.backward()` or `autograd.grad` (also with create_graph=True), and call
    `optimizer.zero_grad()`, `optimizer.step()` and `scheduler.step()`: a replay repeats all
    of it, and reads parameters afresh each time. Random ops (rand, randn, dropout, normal_,
    nn.init) draw anew at each replay from the generator eager code would use. A new
    signature (shapes, dtypes, requires_grad, constant values, grad mode) traces again, and
    so does a call after something the trace read has changed: a module's parameters,
    submodules, buffers or settings (train()/eval(), Dropout's p), a tensor's .data given
    another shape or dtype, or a global or closure variable of `fn` bound to another object.
    After `recompile_limit` traces (default config.recompile_limit, 64) calls that would
    trace run eagerly, with one warning. The Tensors a replay returns carry no graph:
    differentiate inside `fn` (as a training step does).

    Example:
        >>> @chainrule.jit
        ... def train_step(x, y):
        ...     opt.zero_grad()
        ...     loss = F.cross_entropy(model(x), y)
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> for x, y in loader:
        ...     loss = train_step(x, y)      # first call traces, later calls replay
        >>> print(train_step.code)           # the replayed NumPy, one line per primitive

    Python control flow and values computed outside chainrule ops are frozen at trace time
    (as in torch.jit.trace); see chainrule.autograd.jit for what raises TraceError.
    """
    if fn is None:
        return functools.partial(jit, recompile_limit=recompile_limit)
    return Jitted(fn, recompile_limit)


# ----- what a replay assumes about the world outside its arguments -----

_MISSING = object()
_PLAIN = (bool, int, float, str, type(None))


def _plain(value):
    return type(value) in _PLAIN or type(value) is tuple and all(type(v) in _PLAIN for v in value)


def _same(old, new):
    """A global or closure variable still holds what the trace read: the same object, or an equal number."""
    return old is new or (_plain(old) and type(new) is type(old) and new == old)


def _global_loads(code):
    """The global names `code` reads (not attribute names, which share co_names: opt.step is no global step)."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # lambdas, comprehensions, inner functions
            names |= _global_loads(const)
    return names


def _watched(value):
    return not isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType))


def _free_variables(fn):
    """fn's globals dict, the globals its code reads and its closure cells:
    ({...}, ((name, value), ...), ((cell, value), ...))."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None:
        return {}, (), ()
    g = func.__globals__
    names = tuple((n, g[n]) for n in sorted(_global_loads(code)) if n in g and _watched(g[n]))
    cells = []
    for cell in func.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # not yet assigned
            continue
        if _watched(value):
            cells.append((cell, value))
    return g, names, tuple(cells)


def _make_guard(g, names, cells):
    """A function that is True while every global and cell still holds the object the trace read
    (one compiled expression: the check runs at every call, so it is kept to identity tests)."""
    if not names and not cells:
        return None
    ns = {"G": g, "M": _MISSING}
    terms = []
    for i, (name, value) in enumerate(names):  # the source holds generated names only, as the replay's
        ns[f"N{i}"], ns[f"V{i}"] = name, value
        terms.append(f"G.get(N{i}, M) is V{i}")
    for i, (cell, value) in enumerate(cells):
        ns[f"C{i}"], ns[f"W{i}"] = cell, value
        terms.append(f"C{i}.cell_contents is W{i}")
    exec(compile(f"def guard():\n    return {' and '.join(terms)}\n", "<jit guard>", "exec"), ns)
    return ns["guard"]


def _modules_reached(roots):
    """The nn.Modules among `roots`, inside their containers or attributes (one level), with descendants."""
    from ..nn.module import Module

    found = {}
    for root in roots:
        near = [root]
        if isinstance(root, (list, tuple)):
            near.extend(root)
        elif isinstance(root, dict):
            near.extend(root.values())
        elif not isinstance(root, Module) and hasattr(root, "__dict__") and _watched(root) \
                and not callable(root):
            near.extend(vars(root).values())
        for obj in near:
            if isinstance(obj, Module):
                for m in obj.modules():
                    found[id(m)] = m
    return list(found.values())


def _module_state(m):
    """What a trace reads of a module besides tensor values: its settings and which tensors it holds."""
    d = m.__dict__
    settings = tuple((k, v) for k, v in d.items() if _plain(v))
    held = tuple((k, v) for store in ("_parameters", "_buffers", "_modules") for k, v in d.get(store, {}).items())
    generators = tuple((k, v) for k, v in d.items() if isinstance(v, _Generator))  # Dropout(generator=...)
    return settings, held + generators


def _same_state(old, new):
    return old[0] == new[0] and len(old[1]) == len(new[1]) and all(
        a[0] == b[0] and a[1] is b[1] for a, b in zip(old[1], new[1]))


def _still_holds(assumed):
    modules, captured = assumed
    for m, state in modules:
        if not _same_state(state, _module_state(m)):
            return False
    for t, shape, dtype in captured:
        if t._data.shape != shape or t._data.dtype != dtype:
            return False
    return True


def _describe_change(old, new):
    """Which part of a call's signature differs from the previous trace's (for the recompile warning)."""
    if old is None:
        return "first trace"
    if old == new:
        return "a module, parameter or global variable the trace read changed"
    if old[0] != new[0]:
        return f"grad mode {'on' if new[0] else 'off'} (was {'on' if old[0] else 'off'})"
    if len(old) != len(new) or old[1] != new[1]:
        return "the arguments' structure (their number or their containers)"
    for i, (a, b) in enumerate(zip(old[2:], new[2:])):
        if a != b:
            def show(k):
                if len(k) >= 3 and isinstance(k[0], tuple):
                    return f"Tensor of shape {k[0]}, dtype {k[1]}, requires_grad={k[2]}"
                return f"{k[0].__name__} {k[1]!r}" if len(k) == 2 and isinstance(k[0], type) else repr(k)
            return f"argument {i}: {show(b)} (was {show(a)})"
    return "the signature"


def _made_inside(gen, rec):
    """True when nothing but the trace holds `gen` (fn made it): eager code would make a new one each call."""
    ours = {id(rec.ns), id(rec.generators)} | {id(entry) for entry in rec.generators}
    return all(id(r) in ours for r in gc.get_referrers(gen))


class Jitted:
    """The function returned by jit(fn): a cache of replays, one per signature."""

    def __init__(self, fn, recompile_limit=None):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.recompile_limit = recompile_limit
        self._replays = {}
        self._assumed = {}        # replay -> (((module, state), ...), ((tensor, shape, dtype), ...))
        self._epoch = _state["epoch"]
        self._globals, self._names, self._cells, self._guard = {}, (), (), None
        self._last_key = None
        self._warned = False
        self.trace_count = 0
        self.code = None

    def __get__(self, obj, objtype=None):
        # Decorating a method: bind like a function would.
        return self if obj is None else functools.partial(self.__call__, obj)

    def _check_assumptions(self):
        """Drop the replays whose assumptions about modules, .data or fn's variables no longer hold."""
        g = self._globals
        if any(not _same(v, g.get(n, _MISSING)) for n, v in self._names) or any(
                not _same(v, getattr(c, "cell_contents", _MISSING)) for c, v in self._cells):
            stale = set(self._assumed)  # every replay read them
            self._names, self._cells, self._guard = (), (), None
        else:
            if self._guard is not None:  # equal numbers in new objects: watch those from now on
                self._names = tuple((n, g[n]) for n, _ in self._names)
                self._cells = tuple((c, c.cell_contents) for c, _ in self._cells)
                self._guard = _make_guard(g, self._names, self._cells)
            stale = {r for r, a in self._assumed.items() if not _still_holds(a)}
        if stale:
            self._replays = {k: r for k, r in self._replays.items() if r not in stale}
            for r in stale:
                del self._assumed[r]
        self._epoch = _state["epoch"]

    def __call__(self, *args, **kwargs):
        if _active() is not None:  # called while tracing an outer function: trace inline
            return self.fn(*args, **kwargs)
        if self._epoch != _state["epoch"] or (self._guard is not None and not self._guard()):
            self._check_assumptions()
        Tensor = _tensor_cls()
        if not kwargs:
            # The common call, f(tensor, tensor, ...), keyed without walking a pytree.
            key = [grad_mode._state["enabled"]]
            for a in args:
                if type(a) is not Tensor:
                    break
                data = a._data
                key.append((data.shape, data.dtype, a.requires_grad))
            else:
                replay = self._replays.get(tuple(key))
                if replay is not None and len({id(a) for a in args}) == len(args):
                    return replay(args)
        leaves, rebuild_args = tree_flatten([list(args), kwargs])
        tensors, key = [], [grad_mode._state["enabled"], _structure([list(args), kwargs])]
        position = {}
        others = []
        any_array = any_tensor = False
        for j, leaf in enumerate(leaves):
            if isinstance(leaf, np.ndarray):  # an input like a Tensor, as in the other transforms
                leaf = leaves[j] = Tensor._make(leaf)
                any_array = True
            elif isinstance(leaf, Tensor):
                any_tensor = True
            if isinstance(leaf, Tensor):
                data = leaf._data
                key.append((data.shape, data.dtype, leaf.requires_grad, position.setdefault(id(leaf), len(tensors)),
                            type(leaves[j]) is not Tensor))
                tensors.append(leaf)
            else:
                key.append((type(leaf), leaf))
                others.append(leaf)
        arrays_out = any_array and not any_tensor  # arrays in, arrays out
        if any_array:
            args, kwargs = rebuild_args(leaves)
            args = tuple(args)
            key.append(arrays_out)
        try:
            key = tuple(key)
            replay = self._replays.get(key)
        except TypeError:
            raise TypeError(f"jit: {getattr(self, '__name__', 'fn')} got an argument that is neither a Tensor "
                            "nor hashable; jit treats non-Tensor arguments as constants of the trace.") from None
        if replay is not None:
            return _as_arrays(replay(tensors)) if arrays_out else replay(tensors)
        limit = config.recompile_limit if self.recompile_limit is None else self.recompile_limit
        if self.trace_count >= limit:
            self._warn_limit(limit, key)
            result = self.fn(*args, **kwargs)
            return _as_arrays(result) if arrays_out else result
        result, replay, assumed = self._trace(tensors, args, kwargs, others)
        self._replays[key] = replay
        self._assumed[replay] = assumed
        self._last_key = key
        if arrays_out:
            return _as_arrays(result)
        if not kwargs and len(tensors) == len(args) == len(position) \
                and all(type(a) is Tensor for a in args):
            self._replays[(key[0],) + tuple(k[:3] for k in key[2:])] = replay
        return result

    def _warn_limit(self, limit, key):
        if self._warned:
            return
        self._warned = True
        code = getattr(getattr(self.fn, "__func__", self.fn), "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
        name = getattr(self, "__name__", type(self.fn).__name__)
        warnings.warn(
            f"jit: {name} hit its recompile limit ({limit} traces)\n"
            f"   function: '{name}'{where}\n"
            f"   last reason: {_describe_change(self._last_key, key)}\n"
            "Calls that would trace again now run eagerly (signatures already traced still replay). "
            "A Python number argument is a constant of the trace: pass a Tensor to share one trace, "
            f"or raise the limit: chainrule.jit({name}, recompile_limit=N) or "
            "chainrule.autograd.jit.config.recompile_limit = N.", stacklevel=3)

    def _trace(self, tensors, args, kwargs, others=()):
        for i, t in enumerate(tensors):
            if t.grad_fn is not None:
                raise TraceError(f"jit: argument tensor {i} of {getattr(self, '__name__', 'fn')} has a grad_fn (it "
                                 "comes from a graph outside the function); the replay cannot backpropagate into that "
                                 "graph. Pass t.detach() (and requires_grad_() it if you need its gradient).")
        rec = _Recorder(getattr(self, "__name__", "fn"), tensors)
        _state["recorder"] = rec
        Function.apply = classmethod(_traced_apply)
        engine._run = _traced_run
        try:
            out = self.fn(*args, **kwargs)
            for leaf, _ in rec.grads_set.values():
                rec.check_grad_unchanged(leaf)
        finally:
            _state["recorder"] = None
            Function.apply = _apply_classmethod
            engine._run = _engine_run
        for gen, line in rec.generators:
            if _made_inside(gen, rec):
                raise TraceError(
                    f"jit: {rec.fn_name} draws from a numpy Generator made inside the function, at {line}: "
                    "eager code makes a new one at every call, but a replay would keep drawing from this "
                    "call's. Make the generator outside the function and pass it in (or read it from "
                    "a closure), or use chainrule.manual_seed and the global generator.")
        Tensor = _tensor_cls()
        out_leaves, _ = tree_flatten(out)
        _, rebuild = tree_flatten(_skeleton(out))  # not `out`'s own: that would keep the trace's graph alive
        exprs = []
        rec.ns["_T"] = Tensor._make
        for leaf in out_leaves:
            if isinstance(leaf, Tensor):
                exprs.append(f"_T({rec.ref(leaf, 'return')})")
            elif isinstance(leaf, np.ndarray):
                exprs.append(rec.ref(leaf, "return"))
            else:
                exprs.append(rec.const(leaf))
        params = ", ".join(f"a{i}" for i in range(len(tensors)))
        body = "".join(f"    {line}\n" for line in _drop_unused_contexts(rec.lines))
        single = not isinstance(out, (tuple, list, dict))
        result = exprs[0] if single else f"[{', '.join(exprs)}]"
        src = f"def replay({params}):\n{body}    return {result}\n"
        code = compile(src, f"<jit {rec.fn_name}>", "exec")
        exec(code, rec.ns)
        run = rec.ns["replay"]
        self.trace_count += 1
        self.code = src

        if single:
            def replay(inputs):
                return run(*inputs)
        else:
            def replay(inputs):
                return rebuild(run(*inputs))

        # The trace-time objects were needed only to resolve identities; the replay keeps its own.
        rec.keep.clear()
        rec.var.clear()
        # What the replay takes as given, checked again when something may have changed it.
        self._globals, self._names, self._cells = _free_variables(self.fn)
        self._guard = _make_guard(self._globals, self._names, self._cells)
        roots = [v for _, v in self._names] + [v for _, v in self._cells] + list(others)
        fn = self.fn
        while isinstance(fn, functools.partial):  # jit(partial(step, model)): its arguments too
            roots.extend(fn.args)
            roots.extend(fn.keywords.values())
            fn = fn.func
        roots.append(getattr(fn, "__self__", fn))
        modules = tuple((m, _module_state(m)) for m in _modules_reached(roots))
        captured = tuple((t, t._data.shape, t._data.dtype) for _, t in rec.captured)
        return out, replay, (modules, captured)
