"""The recorder: what one traced call of a function does, as equations (program.py).

Tracing installs nothing process-wide. The thread that traces keeps its recorder in a
thread-local; while any thread traces, `Function.apply` asks `_dispatch` whether to record a
call (only the tracing thread's calls are), backward passes get this thread's recorder as an
engine observer (a pass hook), and library code reports effects through autograd/effects.py
(draws, in-place writes, `.data` assignments, optimizer and scheduler steps). Other threads
keep running eagerly.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import re
import threading

import numpy as np

from ... import _dtypes
from .. import engine, function, quiet
from ..function import _NULL_CTX, _UNTRACED
from .program import NONE, Eqn, Lit, Part, Tup, Var

# recorder: a running trace's recorder (any thread), or None: library code's one-lookup test
# before it asks active(). epoch: bumped when a module's attributes change (a parameter,
# submodule or buffer assigned, train()/eval(), a dtype cast) or a tensor's .data is given
# another shape or dtype; a replay made under another epoch re-checks what it assumed.
_state = {"recorder": None, "epoch": 0}
_local = threading.local()  # .recorder: this thread's running trace
_tracing_threads = {}  # thread id -> recorder, for the process-wide "anyone tracing?" tests
_lock = threading.Lock()
_Generator = np.random.Generator
_ndarray = np.ndarray


class TraceError(RuntimeError):
    """fn does something a trace cannot replay (see chainrule.jit)."""


def _tensor_cls():
    global _Tensor
    if _Tensor is None:  # tensor.py imports the autograd package: looked up once, on first use
        from ...tensor import Tensor as _Tensor
    return _Tensor


_Tensor = None


def _user_line():
    """'file:line: source' of the innermost caller outside chainrule, for errors that name the line."""
    site = function.user_site(2)
    if site is None:
        return "an unknown line"
    source = linecache.getline(site[0], site[1]).strip()
    return f"{site[0]}:{site[1]}" + (f" (`{source}`)" if source else "")


# ----- starting and stopping a trace on this thread -----


def start(rec):
    _local.recorder = rec
    with _lock:
        _tracing_threads[rec.thread] = rec
        _state["recorder"] = rec
        function._tracer = _dispatch


def stop(rec):
    _local.recorder = None
    with _lock:
        _tracing_threads.pop(rec.thread, None)
        if not _tracing_threads:
            _state["recorder"] = None
            function._tracer = None
        else:
            _state["recorder"] = next(iter(_tracing_threads.values()))


def _active():
    """The recorder when this thread is tracing (not inside a repeated call), else None."""
    rec = getattr(_local, "recorder", None)
    if rec is None or rec.paused:
        return None
    return rec


def _dispatch(cls, args, params):
    """Function.apply's question while some thread traces: record this call, or run it as usual."""
    rec = getattr(_local, "recorder", None)
    if rec is None or rec.paused:
        return _UNTRACED
    if rec.skip:  # the recorder's own call of the primitive
        rec.skip = False
        return _UNTRACED
    Tensor = _tensor_cls()
    for a in args:
        if isinstance(a, Tensor):
            return rec.record_apply(cls, args, params)
    return _UNTRACED


@engine.add_pass_hook
def _backward_hook(roots):
    """A backward pass on the tracing thread is recorded by that trace's observer."""
    if _state["recorder"] is None:
        return None
    rec = _active()
    return None if rec is None else rec.backward


def _draw(sample, generator):
    # What a replay runs for a random op: the generator is looked up at each call, so
    # manual_seed between calls is seen, as it is by eager code.
    return sample(generator if generator is not None else _dtypes._state["rng"])


def _copy_into(dst, src):
    np.copyto(dst, src, casting="unsafe")


def _set_items(dst, index, values):
    dst[index] = values


# ----- the replay's node: a primitive whose saved values are plain arrays -----

_replay_classes = {}


def _replay_class(cls):
    """A subclass of primitive `cls` whose saved_tensors is the saved tuple as forward left it."""
    sub = _replay_classes.get(cls)
    if sub is None:
        sub = type(
            cls.__name__,
            (cls,),
            {"_array_protocol": True, "__module__": cls.__module__, "saved_tensors": property(lambda self: self.saved)},
        )
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


_USER = Lit("_USER")  # the ctx of a user Function's node: its rules' ops are recorded as they run
_FALSE = Lit("False")


def _label(fn, default):
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None) or default
    return re.sub(r"\W", "_", name)


class Recorder:
    """Records one call of a jitted function as equations, binding each value it sees to a Var."""

    def __init__(self, fn_name, inputs):
        self.fn_name = fn_name
        self.thread = threading.get_ident()
        self.paused = False
        self.skip = False
        self.quiet = False  # inside a first-order backward pass: equations run with warnings off
        self.eqns = []
        self.ns = {
            "_NULL": _NULL_CTX,
            "_acc": engine._accumulate,
            "_np": np,
            "_draw": _draw,
            "_quiet_enter": quiet.enter,
            "_quiet_leave": quiet.leave,
        }
        self.var = {}  # id(Tensor or array) -> the atom that yields its array in the replay
        self.keep = []  # objects whose ids are keys of var: kept alive so ids stay unique
        self.ctx_var = {}  # id(trace-time node) -> its replay ctx Var (or _USER)
        self.node_out = {}  # id(trace-time node) -> the Var holding its output
        self.leaf_ref = {}  # id(leaf Tensor) -> Lit naming that Tensor in the replay (a0, K3)
        self.captured = []  # (Var, Tensor) read from outside: parameters, closures
        self.grads_set = {}  # id(leaf) -> (leaf, the .grad a replay leaves it with so far)
        self.inside_grads = set()  # ids of leaves made inside fn that got a .grad
        self.constants = set()  # ids of arrays that are constants of the trace
        self.made = {}  # id -> Tensor made by a creation function inside fn (eager makes it anew each call)
        self.generators = []  # (numpy Generator, where first used): those the trace draws from
        self.counter = itertools.count()
        from .backward import BackwardRecording

        self.backward = BackwardRecording(self)
        self.invars = []
        for i, t in enumerate(inputs):
            v = self.new_var("v", t._data)
            self.invars.append(v)
            self.emit(Eqn("input", None, (v,), (Lit(f"a{i}"),)))
            self.bind(t, v)
            self.bind(t._data, v)
            self.leaf_ref[id(t)] = Lit(f"a{i}")

    # -- names --

    def fresh(self, prefix="v"):
        return f"{prefix}{next(self.counter)}"

    def new_var(self, prefix, value=None):
        shape, dtype = (value.shape, value.dtype) if isinstance(value, (_ndarray, np.generic)) else (None, None)
        return Var(self.fresh(prefix), shape, dtype)

    def const(self, value, prefix="c"):
        name = self.fresh(prefix)
        self.ns[name] = value
        return Lit(name)

    def bind(self, obj, atom):
        self.var[id(obj)] = atom
        self.keep.append(obj)

    def emit(self, eqn):
        eqn.quiet = self.quiet
        self.eqns.append(eqn)

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
        """The atom for an argument of `op`: a traced value, a captured tensor or a constant."""
        Tensor = _tensor_cls()
        if isinstance(value, Tensor):
            atom = self.var.get(id(value)) or self.var.get(id(value._data))
            if atom is not None:
                return atom
            if value.grad_fn is not None:
                out = self.node_out.get(id(value.grad_fn))
                if out is not None:  # a node's output re-wrapped (saved_tensors under create_graph)
                    return out
                raise TraceError(
                    f"jit: {op} in {self.fn_name} uses a tensor computed outside the function (it has a "
                    "grad_fn from an earlier graph). Pass it as an argument, or .detach() it."
                )
            if self._known_base(value._data):
                raise TraceError(self._derived_message(op))
            k = self.new_var("k", value._data)
            self.captured.append((k, value))
            self.ns[k.name.upper()] = value
            self.emit(Eqn("capture", None, (k,), (Lit(k.name.upper()),)))
            self.bind(value, k)
            self.bind(value._data, k)
            self.leaf_ref[id(value)] = Lit(k.name.upper())
            return k
        if isinstance(value, _ndarray):
            atom = self.var.get(id(value))
            if atom is not None:
                return atom
            if self._known_base(value):
                raise TraceError(self._derived_message(op))
            self.constants.add(id(value))
            self.keep.append(value)
            return self.const(value)
        if isinstance(value, np.generic):  # a 0-d gradient as a NumPy scalar: named when a rule made it
            atom = self.var.get(id(value))
            if atom is not None:
                return atom
        if isinstance(value, tuple):
            return Tup([self.ref(v, op) for v in value])
        if value is None or type(value) in (bool, int) or (type(value) is float and np.isfinite(value)):
            return Lit(repr(value))  # numbers keep the replay's source readable; anything else is named
        if isinstance(value, _Generator):
            atom = self.var.get(id(value))
            if atom is None:
                atom = self.const(value, "rng")
                self.var[id(value)] = atom
                self.generators.append((value, _user_line()))
            return atom
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
        return (
            f"jit: {op} in {self.fn_name} receives an array computed from traced values by code that "
            "is not a chainrule op (NumPy on ._data, a view of a traced array); the replay would "
            "freeze it. Compute it with chainrule ops on Tensors, or outside the jitted function."
        )

    def _computed_by_forward(self, value):
        """An array a forward made (not a traced value already named, not a constant passed in)."""
        return isinstance(value, _ndarray) and id(value) not in self.var and id(value) not in self.constants

    def note_node_arrays(self, node, ctx):
        """Arrays a forward stored on its node (masks, indices): later uses read them from the replay's ctx."""
        for attr, value in node.__dict__.items():
            if not attr.isidentifier():
                continue
            if self._computed_by_forward(value):
                self.bind(value, Part(ctx, f".{attr}", value.shape, value.dtype))
            elif isinstance(value, tuple):  # an index: a tuple of arrays and slices
                for i, part in enumerate(value):
                    if self._computed_by_forward(part):
                        self.bind(part, Part(ctx, f".{attr}[{i}]", part.shape, part.dtype))
        for i, value in enumerate(node.saved or ()):
            if self._computed_by_forward(value):
                self.bind(value, Part(ctx, f".saved[{i}]", value.shape, value.dtype))

    # -- events --

    def _apply(self, cls, args, params):
        """The primitive's own apply, which this recorder's dispatch lets through once."""
        self.skip = True
        try:
            return cls.apply(*args, **params)
        finally:
            self.skip = False

    def record_apply(self, cls, args, params):
        op = cls.__name__
        if not cls._array_protocol:
            # A user Function's forward runs on Tensors: its ops are recorded as they run, and
            # its backward likewise when a backward pass reaches it.
            result = self._apply(cls, args, params)
            self.bind(result, self.ref(result._data, op))
            if result.grad_fn is not None:
                self.ctx_var[id(result.grad_fn)] = _USER
                self.keep.append(result.grad_fn)
            return result
        index = params.get("index")
        for part in index if isinstance(index, tuple) else (index,):
            if isinstance(part, _ndarray) and part.dtype == np.bool_ and id(part) in self.var:
                raise TraceError(
                    f"jit: {op} in {self.fn_name} selects with a boolean mask computed from traced values: "
                    "the result's shape depends on the values, which a replay cannot follow. Use "
                    "chainrule.where(mask, x, 0) (same shape), or index outside the jitted function."
                )
        arg_atoms = [self.ref(a, op) if a is not None else NONE for a in args]
        param_atoms = [(k, self.ref(v, op)) if k.isidentifier() else self._bad_param(op, k) for k, v in params.items()]
        result = self._apply(cls, args, params)
        node = result.grad_fn
        out = self.new_var("v", result._data)
        ctx = None
        if node is not None and id(node) not in self.ctx_var:
            ctx = Var(self.fresh("ctx"))
            self.ns[ctx.name] = _new_ctx(node)
            self.ctx_var[id(node)] = ctx
            self.bind(node, ctx)
        self.emit(Eqn("forward", self.method(cls, "forward"), (out,), arg_atoms, param_atoms, ctx=ctx, prim=cls))
        self.bind(result, out)
        self.bind(result._data, out)
        if ctx is not None:
            self.node_out[id(node)] = out
            self.note_node_arrays(node, ctx)
        return result

    def record_plain(self, fn, args):
        Tensor = _tensor_cls()
        label = _label(fn, "fn")
        atoms = [self.ref(a, label) for a in args]
        result = Tensor._make(fn(*[a._data if isinstance(a, Tensor) else a for a in args]))
        out = self.new_var("v", result._data)
        self.emit(Eqn("plain", str(self.const(fn, label + "_")), (out,), atoms))
        self.bind(result, out)
        self.bind(result._data, out)
        return result

    def record_draw(self, sample, generator):
        gen = NONE if generator is None else self.ref(generator, "random")
        array = sample(generator if generator is not None else _dtypes._state["rng"])
        label = _label(getattr(sample, "func", sample), "sample").strip("_")
        out = self.new_var("v", array)
        self.emit(Eqn("draw", "_draw", (out,), (self.const(sample, label + "_"), gen)))
        self.bind(array, out)
        return array

    def record_set_data(self, tensor, array):
        if id(array) not in self.var:
            raise TraceError(
                f"jit: {self.fn_name} assigns .data at {_user_line()} from a tensor jit did not see it compute "
                "(made by a constructor such as zeros or tensor, or read from outside): a replay would "
                "assign this call's array every time. Compute the new value with chainrule ops from traced "
                "values, write in place (p.data.copy_(v), p.data.zero_()), or assign outside the function."
            )
        value = self.var[id(array)]
        self.ref(tensor, ".data")  # a tensor read from outside is captured, so the replay can assign it
        ref = self.leaf_ref.get(id(tensor))
        if ref is not None:  # an argument or a captured tensor: the replay assigns it too
            self.emit(Eqn("set_data", "set_data", (), (ref, value)))
        self.bind(tensor, value)

    def record_set_grad(self, tensor, value):
        if value is not None and id(value._data) not in self.var:
            raise TraceError(
                f"jit: {self.fn_name} assigns .grad at {_user_line()} a tensor jit did not see it compute "
                "(made by a constructor such as zeros or tensor, or read from outside): a replay would "
                "assign this call's tensor every time. Set it to None (or call zero_grad()), compute the "
                "new value with chainrule ops from traced values, or assign outside the function."
            )
        self.ref(tensor, ".grad")  # a tensor read from outside is captured, so the replay can assign it
        ref = self.leaf_ref.get(id(tensor))
        if ref is not None:  # an argument or a captured tensor: the replay assigns it too
            if value is None:
                self.emit(Eqn("set_grad_none", "set_grad", (), (ref,)))
            else:
                self.emit(Eqn("set_grad", "set_grad", (), (ref, self.var[id(value._data)])))
        if id(tensor) in self.grads_set:
            self.grads_set[id(tensor)] = (tensor, value)

    def record_call(self, method, obj, args, kwargs):
        Tensor = _tensor_cls()
        for a in itertools.chain(args, kwargs.values()):
            if isinstance(a, Tensor) or callable(a):
                raise TraceError(
                    f"jit: {type(obj).__name__}.{method.__name__} is called with a "
                    f"{type(a).__name__} argument while tracing {self.fn_name}; the replay "
                    "repeats such calls only with constant arguments. Call it outside "
                    "the jitted function."
                )
        label = method.__name__ if "." not in method.__qualname__ else f"{type(obj).__name__}_{method.__name__}"
        name = str(self.const(functools.partial(method, obj, *args, **kwargs), re.sub(r"\W", "_", label)))
        self.paused = True
        try:
            result = method(obj, *args, **kwargs)
        finally:
            self.paused = False
        if isinstance(result, Tensor):  # e.g. clip_grad_norm_'s norm: each replay's own value
            out = self.new_var("v", result._data)
            self.emit(Eqn("call_value", name, (out,)))
            self.bind(result, out)
            self.bind(result._data, out)
        else:
            self.emit(Eqn("call", name))
        for key, (leaf, _) in list(self.grads_set.items()):  # zero_grad and the like, repeated too
            self.grads_set[key] = (leaf, leaf.grad)
        # The call may have given a captured tensor a new array (p._data = ...): read them again.
        for k, _ in self.captured:
            self.emit(Eqn("capture", None, (k,), (Lit(k.name.upper()),)))
        return result

    def record_inplace(self, tensor, source, op, index):
        computed = (id(tensor) in self.var or id(tensor._data) in self.var) and not any(
            t is tensor for _, t in self.captured
        )
        if not computed and not tensor.requires_grad:
            raise TraceError(
                f"jit: {op} on a tensor of shape {tuple(tensor.shape)} that {self.fn_name} did not compute "
                "(made inside it, or read from outside): a replay would keep changing one shared array. "
                "Use the out-of-place form (y = y + x; for random fills, chainrule.rand/randn(shape) "
                "scaled and shifted)."
            )
        target = self.ref(tensor, op)
        value = self.ref(source._data if isinstance(source, _tensor_cls()) else source, op)
        if index is None:
            self.emit(Eqn("effect", str(self.const(_copy_into, "copy_into")), (), (target, value)))
        else:
            self.emit(Eqn("effect", str(self.const(_set_items, "set_items")), (), (target, self.ref(index, op), value)))

    def check_grad_unchanged(self, leaf):
        """A leaf's .grad must change only through recorded events, or a replay would differ."""
        entry = self.grads_set.get(id(leaf))
        if entry is not None and leaf.grad is not entry[1]:
            raise TraceError(
                f"jit: {self.fn_name} sets the .grad of a tensor of shape {tuple(leaf.shape)} directly (or "
                "through code jit does not record); a replay would not. Use optimizer.zero_grad() or "
                "module.zero_grad() inside the function, or set .grad outside it."
            )
