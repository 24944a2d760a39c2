"""Primitives and the one registry of them, and of the public functions built on them.

A primitive is a subclass of `Primitive` (itself a `Function` that follows the array protocol:
forward and backward on NumPy arrays, see function.py). Defining the class registers it: its
name, whether it is elementwise, which inputs are differentiable, whether its Jacobian is
diagonal (then the forward-mode rule is the backward one, `jvp_is_vjp`), and the public names
it provides. Everything that lists ops reads the registry: `chainrule`'s functions and
`__all__`, Tensor methods, `chainrule.nn.functional`'s re-exports, the op table's coverage
test and explain's elementwise classification.

    class Cube(UnaryElementwise):
        '''y = x^3.   dy/dx = 3 x^2.'''
        function = "cube"            # chainrule.cube(x) and x.cube() appear

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x * x * 3)

A public function that does more than call one primitive (argument handling, dtype promotion,
a composite of several primitives) is written by hand and registered with `@export`.

User `Function` subclasses (PyTorch's protocol: forward on Tensors) are not primitives and are
never registered.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import numpy as np

from ..ops._util import broadcast_error, unbroadcast
from .function import Function

# class name -> primitive class
PRIMITIVES: dict = {}
# public name -> Export (a function of chainrule, nn.functional and/or a Tensor method)
EXPORTS: dict = {}
# callables told of every export added (export, True) or removed (export, False): the namespaces
# that install them (chainrule/__init__.py, tensor.py, nn/functional.py)
_sinks: list = []


@dataclasses.dataclass(frozen=True)
class Export:
    """One public function and where it appears.

    name: its name in `namespaces` ("chainrule", "nn.functional").
    fn: the function.
    primitives: the primitives it reaches, as classes or class names (none for ops with no gradient).
    methods: the Tensor method names bound to `fn` (x.exp() is exp(x)).
    differentiable: False for comparisons, rounding, tests (their results carry no gradient).
    torch_kwargs: chainrule.<name> also takes torch's keyword names (input=, other=) and, when
        "out", out= (see _torch_api.torch_function).
    """

    name: str
    fn: Callable
    primitives: tuple = ()
    methods: tuple = ()
    namespaces: tuple = ("chainrule",)
    differentiable: bool = True
    torch_kwargs: str | None = None


def _add(entry: Export):
    old = EXPORTS.get(entry.name)
    if old is not None:
        for sink in _sinks:
            sink(old, False)
    EXPORTS[entry.name] = entry
    done = []
    try:
        for sink in _sinks:
            sink(entry, True)
            done.append(sink)
    except Exception:
        # A namespace refused it (a method name Tensor defines itself): leave no half-installed export.
        del EXPORTS[entry.name]
        for sink in done:
            sink(entry, False)
        if old is not None:
            _add(old)
        raise


def _as_names(method, name):
    if method is None or method is False:
        return ()
    if method is True:
        return (name,)
    return (method,) if isinstance(method, str) else tuple(method)


def export(*primitives, name=None, method=None, namespaces=("chainrule",), differentiable=True, torch_kwargs=None):
    """Decorator: register `fn` as a public function built on `primitives`.

    method: True for a Tensor method of the same name, a name or names, None for none.

    Example:
        >>> @export(Log, method=True)
        ... def log2(x):
        ...     return Log.apply(x) * (1 / math.log(2))
    """

    def register(fn):
        public = name or fn.__name__
        _add(
            Export(
                public,
                fn,
                tuple(primitives),
                _as_names(method, public),
                tuple(namespaces),
                differentiable,
                torch_kwargs,
            )
        )
        return fn

    return register


def on_export(sink):
    """Call `sink(export, added)` for every export now and for each one added or removed later."""
    _sinks.append(sink)
    for entry in list(EXPORTS.values()):
        sink(entry, True)


def unregister(*names):
    """Remove primitives (by class name) and public functions (by name) from the registry and from
    the namespaces that installed them (tests that define a primitive clean up with this)."""
    for name in names:
        PRIMITIVES.pop(name, None)
        entry = EXPORTS.pop(name, None)
        if entry is not None:
            for sink in _sinks:
                sink(entry, False)
            module = sys.modules.get(entry.fn.__module__)
            if (
                module is not None
                and getattr(module, entry.name, None) is entry.fn
                and entry.primitives
                and getattr(entry.primitives[0], "function", None) == entry.name
            ):
                delattr(module, entry.name)  # the generated function _generate_function put there


def namespace(space: str) -> dict:
    """{public name: function} for the exports that appear in `space` ("chainrule", "nn.functional")."""
    return {e.name: e.fn for e in EXPORTS.values() if space in e.namespaces}


def elementwise_primitives():
    """The registered primitives that act elementwise (explain's local partials apply to them)."""
    return [cls for cls in PRIMITIVES.values() if cls.elementwise]


class Primitive(Function):
    """Base of every primitive: forward, backward (the VJP) and jvp side by side, on arrays.

    Class attributes a primitive may set (read once, when the class is created):
        elementwise: None, or "unary" / "binary" / "nary" for ops that act elementwise.
        differentiable: True, or the tuple of input positions that take a gradient.
        jvp_is_vjp: True when the Jacobian is symmetric (elementwise maps of one input, softmax):
            the forward-mode rule is then the backward rule, applied to the tangent.
        higher_order: True when backward is written with differentiable ops (create_graph=True works).
        function: the name of a public function to generate (`chainrule.<function>(x)` calls apply);
            None when a hand-written function is registered with `@export` instead.
        method: for a generated function, True (a Tensor method of the same name), a name, or None.
        namespaces, torch_kwargs: for a generated function, as in `Export`.
        inline: None, or a static method inline(args, params, out, needs, grads, donated, into) that gives the jit
            the replay's code for the rules, written inline (jit/passes.py, `inline_rules`): args
            are the forward's inputs as the program's atoms (with .shape and .dtype where known),
            out its output, needs the context's needs_input_grad and grads the backward's outputs
            (None where no gradient is made; needs and grads are None without a backward), and
            donated the placeholders ("a0", "g") the code may overwrite (new arrays no one else reads),
            into the gradients ("d1") the replay has an array of their shape and dtype for, named
            {d1_buffer}: the code may make them there (out=), or ignore it (jit/flat.py). It
            returns None (the case is not covered: the rules run as usual) or (forward, backward,
            constants): source templates naming {a0}, {a1}, ... (inputs), the forward's keyword
            parameters by name ({target}), {o} (output), {g} (the cotangent), {d0}, {d1}, ... (input
            gradients) and the keys of `constants` (arrays or functions the code reads); a local
            the forward leaves for the backward is named after {o} ({o}_saved), and the backward
            deletes it. The code must make the same NumPy calls as the rules.

    A subclass that only overrides an attribute (the jit's replay classes) is not registered:
    a primitive defines its own forward or backward.
    """

    __slots__ = ()

    _array_protocol = True
    elementwise = None
    differentiable = True
    jvp_is_vjp = False
    higher_order = True
    function = None
    method = True
    namespaces = ("chainrule",)
    torch_kwargs = None
    inline = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if ("forward" not in own and "backward" not in own) or cls.__module__ == __name__:
            return  # the jit's replay classes; the bases below
        name = cls.__name__
        if not name.startswith("_"):
            known = PRIMITIVES.get(name)
            if known is not None and known.__module__ != cls.__module__:
                raise TypeError(
                    f"primitive {name}: {known.__module__}.{name} is registered already; primitive "
                    "names are unique (they name graph nodes): choose another class name"
                )
            PRIMITIVES[name] = cls
        if own.get("function"):
            _generate_function(cls)


def _generate_function(cls):
    """chainrule.<cls.function>(*args, **params) = cls.apply(...), documented by the class docstring."""
    apply_name = cls.function
    # NOTE: one signature per arity rather than *args: packing and unpacking costs ~0.1 us per call.
    if cls.elementwise == "unary":

        def fn(x):
            return cls.apply(x)
    elif cls.elementwise == "binary":

        def fn(x, y):
            return cls.apply(x, y)
    else:

        def fn(*args, **params):
            return cls.apply(*args, **params)

    fn.__name__ = fn.__qualname__ = apply_name
    fn.__module__ = cls.__module__
    fn.__doc__ = cls.__doc__
    fn.__annotations__ = dict.fromkeys(fn.__code__.co_varnames[: fn.__code__.co_argcount], "TensorLike")
    if cls.elementwise not in ("unary", "binary"):
        fn.__annotations__.update(args="TensorLike", params="Any")
    fn.__annotations__["return"] = "Tensor"
    module = sys.modules.get(cls.__module__)
    if module is not None:
        module.__dict__.setdefault(apply_name, fn)  # the defining module's name, for its own backward rules
    _add(
        Export(
            apply_name,
            fn,
            (cls,),
            _as_names(cls.method, apply_name),
            tuple(cls.namespaces),
            torch_kwargs=cls.torch_kwargs,
        )
    )


# ----- elementwise bases -----


class UnaryElementwise(Primitive):
    """y = f(x) elementwise: the Jacobian is diagonal, so the forward-mode rule is the backward one.

    A subclass is its math: forward(ctx, x) and backward(ctx, g) = g * f'(x).
    """

    __slots__ = ()
    elementwise = "unary"
    jvp_is_vjp = True  # diagonal Jacobian: J t = J^T t


class BinaryElementwise(Primitive):
    """z = f(x, y) elementwise with broadcasting: the base holds what every such op repeats.

    A subclass writes forward(ctx, x, y) (the math only) and the two partial products
    dx(ctx, g, *saved) = g * df/dx and dy(ctx, g, *saved) = g * df/dy, where `saved` is what
    forward saved (omitted when nothing is), or, for constant partials, `partials = (1, 1)` (add)
    or (1, -1) (sub). The base:
      - wraps forward, at class creation: it notes the input shapes and turns NumPy's broadcast
        ValueError into one naming the op, both shapes and the fix;
      - backward: each wanted partial, summed back to its input's shape by `unbroadcast`;
      - jvp: the same partials applied to the tangents (the Jacobian blocks are diagonal), summed
        and broadcast to the output's shape.
    """

    __slots__ = ()
    elementwise = "binary"

    def __init_subclass__(cls, **kwargs):
        own = cls.__dict__
        math = own.get("forward")
        if math is not None:
            cls.forward = staticmethod(
                _broadcasting_forward(cls.function or cls.__name__.lower(), getattr(math, "__func__", math))
            )
        if "partials" in own:
            # Constant partials (+-1: add, sub): the gradient passes through, no partial to call.
            cls.backward, cls.jvp = map(staticmethod, _constant_rules(*own["partials"]))
        elif "dx" in own and "backward" not in own:
            # Chosen once here, not tested per call: partials that read what forward saved, or not.
            reads_saved = own["dx"].__code__.co_argcount > 2
            cls.backward = staticmethod(_backward_saved if reads_saved else _backward)
            if "jvp" not in own:
                cls.jvp = staticmethod(_jvp_saved if reads_saved else _jvp)
        super().__init_subclass__(**kwargs)


# The rules every BinaryElementwise shares (installed by its __init_subclass__); two variants so
# that ops saving nothing (add, sub) never read saved_tensors.


def _backward(ctx, g):
    """Each wanted partial dx(g), dy(g), summed back to its input's shape."""
    sx, sy = ctx.shapes
    need_x, need_y = ctx.needs_input_grad
    return (unbroadcast(ctx.dx(g), sx) if need_x else None, unbroadcast(ctx.dy(g), sy) if need_y else None)


def _backward_saved(ctx, g):
    sx, sy = ctx.shapes
    need_x, need_y = ctx.needs_input_grad
    saved = ctx.saved_tensors
    return (
        unbroadcast(ctx.dx(g, *saved), sx) if need_x else None,
        unbroadcast(ctx.dy(g, *saved), sy) if need_y else None,
    )


def _constant_rules(px, py):
    """backward and jvp of z = px x + py y for px, py in (1, -1), written out (the hot add and sub)."""
    if (px, py) == (1, 1):

        def backward(ctx, g):
            sx, sy = ctx.shapes
            need_x, need_y = ctx.needs_input_grad
            return (unbroadcast(g, sx) if need_x else None, unbroadcast(g, sy) if need_y else None)

        def jvp(ctx, tx, ty):
            return full_tangent(ctx, tx if ty is None else ty if tx is None else tx + ty)
    elif (px, py) == (1, -1):

        def backward(ctx, g):
            sx, sy = ctx.shapes
            need_x, need_y = ctx.needs_input_grad
            return (unbroadcast(g, sx) if need_x else None, unbroadcast(-g, sy) if need_y else None)

        def jvp(ctx, tx, ty):
            return full_tangent(ctx, tx if ty is None else -ty if tx is None else tx - ty)
    else:
        raise TypeError(
            f"BinaryElementwise.partials: only (1, 1) and (1, -1) are written out, got {(px, py)}; "
            "define dx and dy instead"
        )
    return backward, jvp


def _jvp(ctx, tx, ty):
    """The same partials applied to the tangents (diagonal Jacobian blocks), at the output's shape."""
    dx = None if tx is None else ctx.dx(tx)
    dy = None if ty is None else ctx.dy(ty)
    return full_tangent(ctx, dy if dx is None else dx if dy is None else dx + dy)


def _jvp_saved(ctx, tx, ty):
    saved = ctx.saved_tensors
    dx = None if tx is None else ctx.dx(tx, *saved)
    dy = None if ty is None else ctx.dy(ty, *saved)
    return full_tangent(ctx, dy if dx is None else dx if dy is None else dx + dy)


def _broadcasting_forward(op, math):
    """forward(ctx, x, y): the input shapes noted for backward, then `math`, with broadcast errors
    naming `op` and the shapes."""
    ndarray = np.ndarray
    shape = np.shape

    def forward(ctx, x, y):
        ctx.shapes = (x.shape if type(x) is ndarray else shape(x), y.shape if type(y) is ndarray else shape(y))
        try:
            return math(ctx, x, y)
        except ValueError as e:
            raise broadcast_error(op, x, y) or e from None

    forward.__doc__ = math.__doc__
    forward.__qualname__ = getattr(math, "__qualname__", "forward")
    return forward


def full_tangent(ctx, t):
    """A tangent broadcast to the node's output shape (an input's may be smaller)."""
    from ..ops.shape import broadcast_to

    return t if tuple(t.shape) == ctx.shape else broadcast_to(t, ctx.shape)
