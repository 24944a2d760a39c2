"""jit's public side: `jit(fn)`, the `Jitted` cache of replays, and what a replay assumes.

A call with a new signature traces (trace.py records a Program, passes.py prunes it,
program.py writes its source); later calls with that signature run the replay. A replay is
dropped when something it assumed (fn's globals and closure cells, the modules it reaches,
the shapes of captured tensors) has changed.
"""

from __future__ import annotations

import dis
import functools
import gc
import types
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .. import grad_mode
from ..pytree import tree_flatten
from . import passes, trace
from .program import Program
from .trace import TraceError, _active, _state, _tensor_cls  # noqa: F401  (TraceError: re-exported)

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_Generator = np.random.Generator


class config:
    """Settings shared by every jitted function (as torch._dynamo.config).

    recompile_limit: the most traces one jitted function makes (signatures, and retraces after
    a parameter or module changed). Past it, calls that would trace run eagerly instead, with
    one warning, as torch.compile does past torch._dynamo.config.recompile_limit.
    `jit(fn, recompile_limit=n)` sets it for one function.
    """

    recompile_limit = 64


def _structure(tree):
    """A hashable description of a pytree's shape (which containers, which keys), leaves left out."""
    if isinstance(tree, dict):
        return ("dict",) + tuple((k, _structure(v)) for k, v in tree.items())
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__,) + tuple(_structure(v) for v in tree)
    return None


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


def jit(fn: Callable[..., Any] | None = None, *, recompile_limit: int | None = None) -> Any:
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


def _make_guard(g, names, cells, tensors=()):
    """A function that is True while every global and cell still holds the object the trace read,
    and each tensor of `tensors` ((tensor, requires_grad), read from outside) still has that
    requires_grad, which is a plain attribute that nothing announces a change of (one compiled
    expression: the check runs at every call, so it is kept to identity tests)."""
    if not names and not cells and not tensors:
        return None
    ns = {"G": g, "M": _MISSING}
    terms = []
    for i, (name, value) in enumerate(names):  # the source holds generated names only, as the replay's
        ns[f"N{i}"], ns[f"V{i}"] = name, value
        terms.append(f"G.get(N{i}, M) is V{i}")
    for i, (cell, value) in enumerate(cells):
        ns[f"C{i}"], ns[f"W{i}"] = cell, value
        terms.append(f"C{i}.cell_contents is W{i}")
    for i, (t, flag) in enumerate(tensors):
        ns[f"T{i}"], ns[f"R{i}"] = t, flag
        terms.append(f"T{i}.requires_grad is R{i}")
    exec(compile(f"def guard():\n    return {' and '.join(terms)}\n", "<jit guard>", "exec"), ns)
    return ns["guard"]


def _modules_reached(roots):
    """The nn.Modules among `roots`, inside their containers or attributes (one level), with descendants."""
    from ...nn.module import Module

    found = {}
    for root in roots:
        near = [root]
        if isinstance(root, (list, tuple)):
            near.extend(root)
        elif isinstance(root, dict):
            near.extend(root.values())
        elif not isinstance(root, Module) and hasattr(root, "__dict__") and _watched(root) and not callable(root):
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
    return (
        old[0] == new[0]
        and len(old[1]) == len(new[1])
        and all(a[0] == b[0] and a[1] is b[1] for a, b in zip(old[1], new[1]))
    )


def _still_holds(assumed):
    modules, captured = assumed
    for m, state in modules:
        if not _same_state(state, _module_state(m)):
            return False
    for t, shape, dtype, requires_grad, hooked in captured:
        if t._data.shape != shape or t._data.dtype != dtype or t.requires_grad != requires_grad:
            return False
        if bool(t._hooks) != hooked:  # a hook the replay would not call
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


def _returned(rec, leaf, Tensor):
    """(atom, form) for a Tensor or array fn returned, as eager code would return it at every call:
    an input or a tensor from outside (a parameter) as that very object ("object"), one that aliases
    an array fn made with a creation function (zeros_like, ones(...)[:1]) as a new copy ("copy"),
    anything else as a new Tensor over the replay's array (True), or the array itself (False)."""
    atom = rec.ref(leaf, "return")
    array = leaf._data if isinstance(leaf, Tensor) else leaf
    made = [m._data for m in rec.made.values()]
    if isinstance(leaf, np.ndarray) and id(leaf) in rec.constants:
        made.append(leaf)
        if rec.ns.get(str(atom)) is leaf:  # the caller gets this array from the trace's call: the replay a copy
            rec.ns[str(atom)] = leaf.copy()
    if any(np.may_share_memory(array, m) and np.shares_memory(array, m) for m in made):
        return atom, "copy" if isinstance(leaf, Tensor) else "array copy"
    if isinstance(leaf, Tensor) and id(leaf) in rec.leaf_ref:
        return rec.leaf_ref[id(leaf)], "object"
    return atom, isinstance(leaf, Tensor)


def _made_inside(gen, rec):
    """True when nothing but the trace holds `gen` (fn made it): eager code would make a new one each call."""
    ours = {id(rec.ns), id(rec.generators)} | {id(entry) for entry in rec.generators}
    return all(id(r) in ours for r in gc.get_referrers(gen))


class Jitted:
    """The function returned by jit(fn): a cache of replays, one per signature."""

    def __init__(self, fn: Callable[..., Any], recompile_limit: int | None = None) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.recompile_limit = recompile_limit
        self._replays = {}
        self._assumed = {}  # replay -> (((module, state), ...), ((tensor, shape, dtype, requires_grad, hooked), ...))
        self._epoch = _state["epoch"]
        self._globals, self._names, self._cells, self._guard = {}, (), (), None
        self._guard_key = None  # what the guard was compiled for (_watch)
        self._last_key = None
        self._warned = False
        self.trace_count = 0
        self.code = None
        self.program = None  # the last trace's Program: print it to read the equations

    def __get__(self, obj, objtype=None):
        # Decorating a method: bind like a function would.
        return self if obj is None else functools.partial(self.__call__, obj)

    def _check_assumptions(self):
        """Drop the replays whose assumptions about modules, .data or fn's variables no longer hold."""
        g = self._globals
        if any(not _same(v, g.get(n, _MISSING)) for n, v in self._names) or any(
            not _same(v, getattr(c, "cell_contents", _MISSING)) for c, v in self._cells
        ):
            stale = set(self._assumed)  # every replay read them
            self._names, self._cells = (), ()
        else:
            # equal numbers in new objects: watch those from now on
            self._names = tuple((n, g[n]) for n, _ in self._names)
            self._cells = tuple((c, c.cell_contents) for c, _ in self._cells)
            stale = {r for r, a in self._assumed.items() if not _still_holds(a)}
        if stale:
            self._replays = {k: r for k, r in self._replays.items() if r not in stale}
            for r in stale:
                del self._assumed[r]
        self._watch()
        self._epoch = _state["epoch"]

    def _watch(self):
        """The guard for the replays kept: fn's globals and cells, and the captured tensors' requires_grad
        (compiled again only when one of these changed: a module's change re-checks every jitted function)."""
        tensors = {id(t): (t, t.requires_grad) for _, captured in self._assumed.values() for t, *_ in captured}
        key = (
            id(self._globals),
            tuple((i, flag) for i, (_, flag) in tensors.items()),
            tuple((n, id(v)) for n, v in self._names),
            tuple((id(c), id(v)) for c, v in self._cells),
        )
        if key != self._guard_key:
            self._guard_key = key
            self._guard = _make_guard(self._globals, self._names, self._cells, tuple(tensors.values()))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _state["recorder"] is not None and _active() is not None:  # inside an outer trace: trace inline
            return self.fn(*args, **kwargs)
        if self._epoch != _state["epoch"] or (self._guard is not None and not self._guard()):
            self._check_assumptions()
        Tensor = _tensor_cls()
        if not kwargs:
            # The common call, f(tensor, tensor, ...), keyed without walking a pytree.
            key = [grad_mode._state.enabled]
            for a in args:
                if type(a) is not Tensor:
                    break
                data = a._data
                key.append((data.shape, data.dtype, a.requires_grad))
            else:
                replay = self._replays.get(tuple(key))
                # (one tensor passed twice keys its own trace, below: its gradients add up)
                n = len(args)
                if replay is not None and (
                    n < 2 or (args[0] is not args[1] if n == 2 else len(set(map(id, args))) == n)
                ):
                    return replay(args)
        leaves, rebuild_args = tree_flatten([list(args), kwargs])
        tensors, key = [], [grad_mode._state.enabled, _structure([list(args), kwargs])]
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
                key.append(
                    (
                        data.shape,
                        data.dtype,
                        leaf.requires_grad,
                        position.setdefault(id(leaf), len(tensors)),
                        type(leaves[j]) is not Tensor,
                    )
                )
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
            raise TypeError(
                f"jit: {getattr(self, '__name__', 'fn')} got an argument that is neither a Tensor "
                "nor hashable; jit treats non-Tensor arguments as constants of the trace."
            ) from None
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
        self._watch()
        self._last_key = key
        if arrays_out:
            return _as_arrays(result)
        # The fast key (shape, dtype, requires_grad per argument) only for calls made of Tensors: an
        # ndarray argument was converted above, and its call must keep the full key.
        if (
            not kwargs
            and not any_array
            and len(tensors) == len(args) == len(position)
            and all(type(a) is Tensor for a in args)
        ):
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
            "chainrule.autograd.jit.config.recompile_limit = N.",
            stacklevel=3,
        )

    def _trace(self, tensors, args, kwargs, others=()):
        for i, t in enumerate(tensors):
            if t.grad_fn is not None:
                raise TraceError(
                    f"jit: argument tensor {i} of {getattr(self, '__name__', 'fn')} has a grad_fn (it "
                    "comes from a graph outside the function); the replay cannot backpropagate into that "
                    "graph. Pass t.detach() (and requires_grad_() it if you need its gradient)."
                )
        rec = trace.Recorder(getattr(self, "__name__", "fn"), tensors)
        trace.start(rec)
        try:
            out = self.fn(*args, **kwargs)
            for leaf, _ in rec.grads_set.values():
                rec.check_grad_unchanged(leaf)
        finally:
            trace.stop(rec)
        for gen, line in rec.generators:
            if _made_inside(gen, rec):
                raise TraceError(
                    f"jit: {rec.fn_name} draws from a numpy Generator made inside the function, at {line}: "
                    "eager code makes a new one at every call, but a replay would keep drawing from this "
                    "call's. Make the generator outside the function and pass it in (or read it from "
                    "a closure), or use chainrule.manual_seed and the global generator."
                )
        Tensor = _tensor_cls()
        out_leaves, _ = tree_flatten(out)
        _, rebuild = tree_flatten(_skeleton(out))  # not `out`'s own: that would keep the trace's graph alive
        outs = []
        rec.ns["_T"] = Tensor._make
        for leaf in out_leaves:
            if isinstance(leaf, (Tensor, np.ndarray)):
                outs.append(_returned(rec, leaf, Tensor))
            else:
                outs.append((rec.const(leaf), False))
        # The trace's own call handed its made tensors to the caller, who may change them: the replay
        # reads copies (a made tensor is never changed inside fn: in-place writes to it are refused).
        for k, value in rec.captured:
            if id(value) in rec.made and not value.requires_grad:
                rec.ns[k.name.upper()] = Tensor._make(value._data.copy())
        single = not isinstance(out, (tuple, list, dict))
        program = passes.optimize(Program(rec.fn_name, rec.invars, rec.eqns, outs, rec.ns, single))
        src = program.source()
        code = compile(src, f"<jit {rec.fn_name}>", "exec")
        exec(code, rec.ns)
        run = rec.ns["replay"]
        self.trace_count += 1
        self.code = src
        self.program = program

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
        roots = [v for _, v in self._names] + [v for _, v in self._cells] + list(others)
        fn = self.fn
        while isinstance(fn, functools.partial):  # jit(partial(step, model)): its arguments too
            roots.extend(fn.args)
            roots.extend(fn.keywords.values())
            fn = fn.func
        roots.append(getattr(fn, "__self__", fn))
        modules = tuple((m, _module_state(m)) for m in _modules_reached(roots))
        captured = tuple((t, t._data.shape, t._data.dtype, t.requires_grad, bool(t._hooks)) for _, t in rec.captured)
        return out, replay, (modules, captured)


def make_jaxpr(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`make_jaxpr(fn)(*args)`: the primitive program `fn` runs on `args`, printed in JAX's layout.

    Tensors, arrays and numbers become the program's inputs (numbers as chainrule.tensor makes them:
    float32 for a Python float, a NumPy scalar keeps its dtype); other arguments are constants. The result is a Program:
    print it to read the equations with their shapes and dtypes. A function that computes a
    gradient (`chainrule.grad(f)`, or `loss.backward()` inside it) shows its backward program
    too: each rule as the primitive's name with `_vjp`, `of=` the forward value it belongs to.
    The program is the one a jitted `fn` replays (after dead-code elimination).

    Example:
        >>> print(chainrule.make_jaxpr(chainrule.exp)(np.ones(3, np.float32)))
        { lambda ; a:f32[3]. let
            b:f32[3] = exp a
          in (b) }
        >>> print(chainrule.make_jaxpr(chainrule.grad(lambda x: (x * x).sum()))(np.ones(3)))
    """

    @functools.wraps(fn)
    def make(*args, **kwargs):
        from ...creation import tensor as _tensor

        # NumPy scalars (np.float64(3.0)) are numbers too, not constants to fold into the program.
        args = [_tensor(a) if type(a) in (int, float) or isinstance(a, np.number) else a for a in args]
        jitted = Jitted(fn, recompile_limit=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jitted(*args, **kwargs)
        if jitted.program is None:
            raise TraceError(f"make_jaxpr: {getattr(fn, '__name__', 'fn')} could not be traced")
        return jitted.program

    return make
