"""Graph nodes: `Function`, the base of every primitive op and of user-defined ops.

A primitive (a subclass of `Primitive`, autograd/primitive.py, which registers it) has two
static methods side by side:

    forward(ctx, *arrays, **params) -> array       runs on NumPy arrays
    backward(ctx, g) -> grad or tuple of grads     the vector-Jacobian product

`Function.apply` runs the forward and, when an input requires grad and grad mode
is on, records the node: the instance is both the saved context (`ctx`) and the
tensor's `grad_fn`. Backward rules are written with operations that work on
NumPy arrays and on Tensors alike: a first-order backward runs them on arrays
and records nothing, `create_graph=True` runs them on Tensors and so records
the graph of the derivative, which gives higher order for free.

User-defined ops subclass `Function` the PyTorch way (`forward(ctx, *tensors)`
returning a Tensor, `backward(ctx, *grads)` returning Tensors); see
`Function.apply` and `custom_vjp`.

NOTE: a little over 500 lines: the apply paths (any arity, one input, two inputs, user Functions)
are written out in full rather than sharing helpers, for speed (see the NOTE after _apply_unary).
"""

from __future__ import annotations

import os
import sys
import weakref

import numpy as np

from . import anomaly, grad_mode

_grad_state = grad_mode._state
_anomaly_state = anomaly._state
_weakref = weakref.ref
_new = object.__new__
_NEEDS_1 = (True,)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# Set by the engine while it runs backward rules: False means "plain arrays",
# True means "Tensors, recording the graph" (create_graph=True). Per thread, like grad mode:
# two threads may run backward passes of different kinds at once.
_backward_state = grad_mode._ThreadState(graph=False)


# Set by tensor.py once Tensor exists (this module is imported first).
_Tensor = None

# The jit's tracer, tracer(cls, args, params), while some thread traces (None otherwise): it records
# the call when the calling thread is the one tracing, else returns _UNTRACED. Every apply path
# (unary, binary, n-ary, user Functions) starts in Function.apply, so one test there covers them.
_tracer = None
_UNTRACED = object()

# code object -> True when it belongs to chainrule: the provenance walk skips those frames,
# and the cache makes that a dict lookup per frame instead of a string test.
_in_package = {}


def user_site(depth: int = 2):
    """(filename, line) of the innermost caller outside the chainrule package."""
    frame = sys._getframe(depth)
    cache = _in_package
    while frame is not None:
        code = frame.f_code
        inside = cache.get(code)
        if inside is None:
            inside = cache[code] = code.co_filename.startswith(_PACKAGE_DIR)
        if not inside:
            return (code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def format_site(site) -> str:
    return "unknown location" if site is None else f"{site[0]}:{site[1]}"


class _SavedOutput:
    """Marker stored in `ctx.saved` in place of the node's own output."""

    __slots__ = ()


_OUT = _SavedOutput()
_OUT_ONLY = (_OUT,)


class _NoneNeeded(tuple):
    """needs_input_grad of the null context: False at every position, and false as a whole."""

    __slots__ = ()

    def __bool__(self):
        return False


class _NullContext:
    """The ctx handed to forward when nothing is recorded: saving is a no-op.

    Forward rules read `ctx.needs_input_grad[i]` (what to save) or test `ctx.needs_input_grad`
    as a whole (is anything recorded?) the same way for a recorded node and for this context.
    """

    needs_input_grad = _NoneNeeded((False,) * 8)  # wider than any primitive's inputs

    def save_for_backward(self, *values):
        pass


_NULL_CTX = _NullContext()


class Function:
    """A node of the computational graph (PyTorch's `grad_fn`, JAX's primitive).

    Attributes of a recorded node:
        next: one entry per input: the input's `grad_fn`, the input itself when it
            is a leaf that requires grad, or None when no gradient flows there.
        needs_input_grad: one bool per input.
        site: (file, line) in the user's code where the op was called.
        op_name: the op's name, for errors and drawings.
    """

    __slots__ = (
        "next",
        "saved",
        "out_data",
        "needs_input_grad",
        "site",
        "out_ref",
        "versions",
        "shape",
        "dtype",
        "shapes",
        "__dict__",
        "__weakref__",
    )

    # Set on a node (in its __dict__) when its output tensor has hooks, retains
    # its grad or has a name, so the engine looks the tensor up only then.
    hooked = False

    # The hooks its output tensor had when an in-place op gave that tensor a newer node (views.py's
    # rebind_history); they run here, on the gradient of the value before the change.
    earlier_hooks = None

    # True for primitives (autograd/primitive.py), which follow the array protocol (forward on
    # arrays); a user Function (forward on Tensors, PyTorch's protocol) is one that is no Primitive.
    _array_protocol = False

    # ----- recording -----

    @classmethod
    def apply(cls, *args, **params):
        """Run the op on `args` and record a node when a gradient is needed.

        Called with no Tensor among `args`, a primitive returns a plain array
        (so backward rules run on arrays); otherwise it returns a Tensor.
        """
        if _tracer is not None:  # some thread is tracing (jit): it records this call if it is this one
            traced = _tracer(cls, args, params)
            if traced is not _UNTRACED:
                return traced
        if not cls._array_protocol:
            return _apply_user_function(cls, args, params)
        Tensor = _Tensor
        if len(args) == 1:
            return _apply_unary(cls, args[0], params)
        if len(args) == 2:
            return _apply_binary(cls, args[0], args[1], params)
        # The hot path of every op: one pass over the inputs, then either a plain
        # forward (no graph wanted) or a node with its edges.
        datas = []
        record = False
        any_tensor = False
        for a in args:
            if isinstance(a, Tensor):
                any_tensor = True
                datas.append(a._data)
                if a.requires_grad:
                    record = True
            else:
                datas.append(a)
        if not any_tensor:
            try:
                return cls.forward(_NULL_CTX, *datas, **params)
            except TypeError as e:
                raise _not_an_operand(cls, datas, e) from None
        if not (record and _grad_state.enabled):
            return Tensor._make(cls.forward(_NULL_CTX, *datas, **params))

        ctx = _new(cls)  # three or more inputs here: one and two went to _apply_unary / _apply_binary
        nxt = [
            ((a if a.grad_fn is None else a.grad_fn) if isinstance(a, Tensor) and a.requires_grad else None)
            for a in args
        ]
        ctx.next = tuple(nxt)
        ctx.needs_input_grad = tuple([e is not None for e in nxt])
        ctx.saved = ()
        ctx.out_data = None
        ctx.versions = None
        out = cls.forward(ctx, *datas, **params)
        if ctx.saved:
            ctx._resolve_saved(args, datas, out)
        ctx.site = user_site()
        result = Tensor._make(out, ctx)
        data = result._data
        if data is not out and ctx.out_data is out:
            ctx.out_data = data  # a 0-d result came back as a NumPy scalar: keep the output's array
        ctx.shape = data.shape
        ctx.dtype = data.dtype
        ctx.out_ref = _weakref(result)
        if _anomaly_state["enabled"]:
            anomaly.check_forward(ctx, data)
        return result

    def save_for_backward(self, *values):
        """Keep `values` (inputs or the output of forward) for the backward rule.

        Inputs are kept as their Tensors, so a backward with create_graph=True
        differentiates through them; their version is noted so that a later
        in-place change is caught.
        """
        self.saved = values

    def _resolve_saved(self, args, datas, out):
        Tensor = _Tensor
        resolved = []
        versions = []
        for value in self.saved:
            kept = value
            if value is None:
                pass
            elif value is out:
                kept = _OUT
                self.out_data = out
            elif type(value) is not float:
                for a, d in zip(args, datas):
                    if d is value and isinstance(a, Tensor):
                        kept = a
                        versions.append((a, a._version))
                        break
            resolved.append(kept)
        self.saved = tuple(resolved)
        self.versions = versions

    # ----- reading back -----

    @property
    def saved_tensors(self):
        """The saved values: arrays in a first-order backward, Tensors under create_graph."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(
                f"{self.op_name}: trying to backward through the graph a second time, but the "
                f"values saved by this op (created at {format_site(self.site)}) were freed after the "
                "first backward. Pass retain_graph=True to the first backward() (or autograd.grad) "
                "if you need to backward through the graph again."
            )
        if self.versions or self.out_data is not None:
            self._check_versions()
        if _backward_state.graph:
            return tuple([self._output_tensor() if s is _OUT else s for s in saved])
        if saved is _OUT_ONLY:  # tanh, sigmoid, exp, relu...: the output alone
            return (self.out_data,)
        Tensor = _Tensor
        return tuple([s._data if isinstance(s, Tensor) else (self.out_data if s is _OUT else s) for s in saved])

    def _output_tensor(self):
        from ..tensor import Tensor

        out = self.out_ref() if self.out_ref is not None else None
        if out is not None and out._data is self.out_data:
            return out
        return Tensor._make(self.out_data, self)

    def _check_versions(self):
        out = self.out_ref() if self.out_data is not None and self.out_ref is not None else None
        if out is not None and out._data is self.out_data and out._version != 0:
            raise RuntimeError(
                f"{self.op_name}: one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: output 0 of {self.op_name} (created at {format_site(self.site)}, shape "
                f"{tuple(out.shape)}) is at version {out._version}, but version 0 was saved. Use an out-of-place "
                "op (y = y + 1 instead of y += 1), or .clone() the output before changing it."
            )
        for tensor, version in self.versions or ():
            if tensor._version != version:
                raise RuntimeError(
                    f"{self.op_name}: one of the tensors needed for gradient computation has been "
                    f"modified by an in-place operation: a tensor of shape {tuple(tensor.shape)} saved by "
                    f"{self.op_name} (created at {format_site(self.site)}) is at version {tensor._version}, "
                    f"but version {version} was saved. Use an out-of-place op (x = x + y instead of "
                    "x += y), or .clone() the tensor before changing it."
                )

    def release(self):
        """Free what forward saved (the engine calls this unless retain_graph=True)."""
        self.saved = None
        self.out_data = None
        self.versions = None

    # ----- description -----

    @property
    def op_name(self) -> str:
        return type(self).__name__

    @property
    def name(self):
        """The name given to this node's output tensor, if any."""
        out = self.out_ref() if getattr(self, "out_ref", None) is not None else None
        return None if out is None else out.name

    @property
    def next_functions(self):
        """PyTorch-style ((node, 0), ...) view of `next`, leaves shown as AccumulateGrad."""
        from ..tensor import Tensor

        return tuple((AccumulateGrad(e) if isinstance(e, Tensor) else e, 0) for e in self.next)

    def __repr__(self):
        return f"<{self.op_name}Backward>"

    # ----- the two methods a primitive defines -----

    @staticmethod
    def forward(ctx, *args, **params):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    def _vjp(self, g):
        """Gradients for each input, as a tuple, given the output's gradient `g`."""
        if not type(self)._array_protocol:
            return _user_vjp(self, g)
        grads = type(self).backward(self, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        return grads


def _not_an_operand(cls, values, error):
    """The TypeError for a primitive given text, a container or None where a Tensor or a number goes, named
    by the public functions built on it (torch: "sign(): argument 'input' must be Tensor, not str");
    `error` itself when the operands were something else."""
    bad = [
        v
        for v in values
        if v is None or isinstance(v, (str, bytes, tuple, list, dict, set)) or (type(v) is int and abs(v) >= 2**63)
    ]
    if not bad:
        return error
    from .primitive import EXPORTS

    names = sorted({e.name for e in EXPORTS.values() if cls in e.primitives or cls.__name__ in e.primitives})
    return TypeError(
        f"{'/'.join(names) or cls.__name__}(): expected a Tensor or a number, got {type(bad[0]).__name__} "
        f"{bad[0]!r:.40}"
    )


def _apply_unary(cls, a, params):
    """Function.apply for one input: the same steps, specialized (most ops are unary)."""
    Tensor = _Tensor
    if not isinstance(a, Tensor):
        try:
            return cls.forward(_NULL_CTX, a, **params)
        except (TypeError, OverflowError) as e:  # only on the error path: the try itself costs nothing
            raise _not_an_operand(cls, (a,), e) from None
    x = a._data
    if not (a.requires_grad and _grad_state.enabled):
        return Tensor._make(cls.forward(_NULL_CTX, x, **params))
    ctx = _new(cls)
    ctx.next = (a if a.grad_fn is None else a.grad_fn,)
    ctx.needs_input_grad = _NEEDS_1
    ctx.saved = ()
    ctx.out_data = None
    ctx.versions = None
    out = cls.forward(ctx, x, **params)
    saved = ctx.saved
    if saved:
        if len(saved) == 1 and saved[0] is out and out is not None:
            ctx.saved = _OUT_ONLY
            ctx.out_data = out
        elif len(saved) == 1 and saved[0] is x and x is not None:
            ctx.saved = (a,)
            vc = a._vc  # a._version, inlined: the version counter shared with views (None: 0)
            ctx.versions = [(a, 0 if vc is None else vc.version)]
        else:
            ctx._resolve_saved((a,), (x,), out)
    ctx.site = user_site(3)
    result = Tensor._make(out, ctx)
    data = result._data
    if data is not out and ctx.out_data is out:
        ctx.out_data = data  # a 0-d result came back as a NumPy scalar: keep the array the output holds
    ctx.shape = data.shape
    ctx.dtype = data.dtype
    ctx.out_ref = _weakref(result)
    if _anomaly_state["enabled"]:
        anomaly.check_forward(ctx, data)
    return result


# NOTE: the tail of each apply path (site, output tensor, shape, dtype, weakref, anomaly check)
# is written out in each rather than shared: a helper call costs ~0.3 us per op (6% of the
# small-op benchmark), measured with bench/small_ops.py.


def _apply_binary(cls, a, b, params):
    """Function.apply for two inputs (x + y, x * c, x @ W, ...), specialized."""
    Tensor = _Tensor
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    x = a._data if ta else a
    y = b._data if tb else b
    if not (ta or tb):
        try:
            return cls.forward(_NULL_CTX, x, y, **params)
        except TypeError as e:
            raise _not_an_operand(cls, (x, y), e) from None
    ra = ta and a.requires_grad
    rb = tb and b.requires_grad
    if not ((ra or rb) and _grad_state.enabled):
        return Tensor._make(cls.forward(_NULL_CTX, x, y, **params))
    ctx = _new(cls)
    ctx.next = (
        (a if a.grad_fn is None else a.grad_fn) if ra else None,
        (b if b.grad_fn is None else b.grad_fn) if rb else None,
    )
    ctx.needs_input_grad = (ra, rb)
    ctx.saved = ()
    ctx.out_data = None
    ctx.versions = None
    out = cls.forward(ctx, x, y, **params)
    saved = ctx.saved
    if saved:
        resolved = []
        versions = []
        for value in saved:
            if value is None:
                resolved.append(None)
            elif value is out:
                resolved.append(_OUT)
                ctx.out_data = out
            elif ta and value is x:
                resolved.append(a)
                vc = a._vc  # a._version, inlined
                versions.append((a, 0 if vc is None else vc.version))
            elif tb and value is y:
                resolved.append(b)
                vc = b._vc
                versions.append((b, 0 if vc is None else vc.version))
            else:
                resolved.append(value)
        ctx.saved = tuple(resolved)
        ctx.versions = versions or None
    ctx.site = user_site(3)
    result = Tensor._make(out, ctx)
    data = result._data
    if data is not out and ctx.out_data is out:
        ctx.out_data = data  # a 0-d result came back as a NumPy scalar: keep the array the output holds
    ctx.shape = data.shape
    ctx.dtype = data.dtype
    ctx.out_ref = _weakref(result)
    if _anomaly_state["enabled"]:
        anomaly.check_forward(ctx, data)
    return result


class AccumulateGrad:
    """Stand-in node for a leaf in `next_functions` (as PyTorch shows it)."""

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"


# ----- user-defined Functions (PyTorch protocol: forward on Tensors) -----


def _apply_user_function(cls, args, params):
    from ..tensor import Tensor

    inputs = [a for a in args if isinstance(a, Tensor)]
    record = grad_mode._state.enabled and any(a.requires_grad for a in inputs)
    ctx = cls.__new__(cls)
    nxt = tuple(
        (a if a.grad_fn is None else a.grad_fn) if isinstance(a, Tensor) and a.requires_grad else None for a in args
    )
    ctx.next = nxt
    ctx.needs_input_grad = tuple(e is not None for e in nxt)
    ctx.saved = ()
    ctx.out_data = None
    ctx.versions = None
    with grad_mode.no_grad():
        detached = [a.detach() if isinstance(a, Tensor) else a for a in args]
        out = cls.forward(ctx, *detached, **params)
    if not isinstance(out, Tensor):
        raise TypeError(f"{cls.__name__}.forward must return a single Tensor, got {type(out).__name__}")
    if not record:
        return out
    if ctx.saved:
        saved_map = {id(d): a for d, a in zip(detached, args) if isinstance(a, Tensor)}
        resolved, versions = [], []
        for value in ctx.saved:
            if value is out:
                resolved.append(_OUT)
                ctx.out_data = out._data
            elif isinstance(value, Tensor) and id(value) in saved_map:
                original = saved_map[id(value)]
                resolved.append(original)
                versions.append((original, original._version))
            else:
                resolved.append(value)
        ctx.saved = tuple(resolved)
        ctx.versions = versions or None
    ctx.site = user_site(3)
    result = Tensor._make(out._data, ctx)
    ctx.shape = result._data.shape
    ctx.dtype = result._data.dtype
    ctx.out_ref = weakref.ref(result)
    if anomaly._state["enabled"]:
        anomaly.check_forward(ctx, result._data)
    return result


def _user_vjp(self, g):
    from ..tensor import Tensor

    graph = _backward_state.graph
    g_t = g if isinstance(g, Tensor) else Tensor._make(g)
    if graph:
        grads = type(self).backward(self, g_t)
    else:
        with grad_mode.no_grad():
            _backward_state.graph = True  # a user rule always sees Tensors
            try:
                grads = type(self).backward(self, g_t)
            finally:
                _backward_state.graph = False
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(self.next):
        raise RuntimeError(
            f"{self.op_name}.backward returned {len(grads)} gradients, but forward took "
            f"{len(self.next)} inputs: return one per input (None where there is none)"
        )
    if graph:
        return grads
    return tuple(gr._data if isinstance(gr, Tensor) else gr for gr in grads)


def custom_vjp(fun):
    """JAX-style custom derivative: `f = custom_vjp(f); f.defvjp(f_fwd, f_bwd)`.

    `f_fwd(*args)` returns `(out, residuals)`; `f_bwd(residuals, g)` returns a tuple
    with one cotangent per argument. Arguments and results are Tensors. The backward
    rule runs on Tensors, so it can itself be differentiated when it is written
    with chainrule ops.

    Example:
        >>> @custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (g.clamp(-1, 1),))
    """
    return _CustomVJP(fun)


class _CustomVJP:
    def __init__(self, fun):
        self.fun = fun
        self.fwd = None
        self.bwd = None
        self.__name__ = getattr(fun, "__name__", "custom_vjp")
        self.__doc__ = getattr(fun, "__doc__", None)

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args):
        if self.fwd is None:
            raise RuntimeError(f"custom_vjp {self.__name__}: call .defvjp(fwd, bwd) before using it")
        outer = self

        class _CustomVJPFunction(Function):
            @staticmethod
            def forward(ctx, *inputs):
                out, residuals = outer.fwd(*inputs)
                ctx.residuals = residuals
                return out

            @staticmethod
            def backward(ctx, g):
                residuals = ctx.residuals
                if _backward_state.graph:
                    # Residuals were computed without a graph; recompute them with one so
                    # that the backward rule can itself be differentiated.
                    with grad_mode.enable_grad():
                        residuals = outer.fwd(*tensors)[1]
                return tuple(outer.bwd(residuals, g))

        _CustomVJPFunction.__name__ = self.__name__
        from ..tensor import Tensor

        tensors = [a if isinstance(a, Tensor) else Tensor._make(np.asarray(a)) for a in args]
        return _CustomVJPFunction.apply(*tensors)
