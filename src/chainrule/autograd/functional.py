"""JAX-style function transforms: grad, value_and_grad, vjp, jvp, jacobian (jacrev), jacfwd,
hessian and hvp, built only on the engine.

They follow JAX's structure rules. Inputs and outputs may be pytrees: tuples, lists,
dicts (and namedtuples) nesting Tensors, NumPy arrays or Python numbers. A Jacobian
has the output's structure outside and the differentiated arguments' structure
inside (one pytree, or a tuple of them when `argnums` is a tuple); the block for
output leaf `o` and input leaf `x` has shape o.shape + x.shape. An output that
does not depend on an input gives zeros, as in JAX; an output leaf that is not a
Tensor, an array or a number is refused, never silently taken as a constant.

Kinds: arrays in, arrays out; Tensors in, Tensors out (detached). Transforms nest
(grad(grad(f)), hessian = jacobian(jacobian(f))): inside another transform,
every result is a Tensor recorded in the graph, so the outer one can
differentiate it.

NOTE: a little over 500 lines: the eight transforms share the handling of argnums, of their inputs'
and outputs' structure (pytrees, autograd/pytree.py) and of nesting, written once above them.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

import numpy as np

from . import effects, engine, grad_mode
from .pytree import tree_flatten

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

# How many transforms are running in this thread (a transform inside another records its
# derivatives so that the outer one can differentiate them).
_local = threading.local()


def transform_depth() -> int:
    """The number of transforms running in this thread (0 outside any)."""
    return getattr(_local, "level", 0)


def _tensor_cls():
    return engine._Tensor  # set by tensor.py when chainrule is imported


# ----- what goes in: arguments and the leaves to differentiate -----


def _argnums_tuple(argnums, nargs, name):
    """(single, nums): whether argnums was one int, and the positions as non-negative ints."""
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    if single:
        nums = (int(argnums),)
    elif isinstance(argnums, (tuple, list)) and all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in argnums
    ):
        nums = tuple(int(n) for n in argnums)
    else:
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
    if not nums:
        raise ValueError(f"{name}: argnums=() differentiates with respect to nothing; give at least one position")
    for n in nums:
        if not -nargs <= n < nargs:
            # JAX's classes: grad and value_and_grad say TypeError for a position past the end, else ValueError
            error = TypeError if name in ("grad", "value_and_grad") and n >= 0 else ValueError
            raise error(
                f"{name}: differentiating with respect to argnums={argnums!r} needs at least "
                f"{n + 1 if n >= 0 else -n} positional arguments, but the function was called with {nargs}."
            )
    nums = tuple(n % nargs for n in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{name}: argnums={argnums!r} names an argument twice; list each position once")
    return single, nums


def _as_input(leaf, nested, name):
    """The Tensor the function sees in place of a differentiated leaf.

    At top level, a fresh leaf holding the same data (the caller's tensors and `.grad` are
    left alone). Inside another transform, a Tensor of the outer graph enters through a
    clone: the inner derivative is taken with respect to this use only, so an inner
    grad(lambda y: x * y)(x) is x, not 2x (JAX's answer; no perturbation confusion).
    """
    Tensor = _tensor_cls()
    if isinstance(leaf, Tensor):
        if nested and leaf.requires_grad:
            from ..ops.elementwise import clone

            return clone(leaf)
        data = leaf._data
    else:
        data = np.asarray(leaf)
    if data.dtype.kind == "c":
        # the rules mix conventions for complex inputs (abs follows PyTorch's conjugate, mul JAX's
        # transpose, a jvp may return a complex tangent for a real output): refuse, never a wrong number
        raise TypeError(
            f"{name}: differentiating with respect to an argument of dtype {data.dtype}; chainrule does not "
            "differentiate through complex inputs. Pass the real and imaginary parts as two float arguments."
        )
    if data.dtype.kind != "f":
        raise TypeError(
            f"{name}: differentiating with respect to an argument of dtype {data.dtype}; only floating "
            "point inputs have gradients. Pass floats (e.g. 1.0 instead of 1), or leave that argument "
            "out of argnums."
        )
    t = Tensor._make(data)
    t.requires_grad = True
    return t


class _Inputs:
    """The differentiated arguments: the leaves given, the Tensors the function sees in their
    place, and the structures to rebuild per-leaf results into."""

    def __init__(self, args, nums, single, nested, name):
        Tensor = _tensor_cls()
        self.args = list(args)
        self.single, self.nested = single, nested
        self.defs, self.given, self.wrapped = [], [], []
        for n in nums:
            leaves, treedef = tree_flatten(args[n])
            wrapped = [None if leaf is None else _as_input(leaf, nested, name) for leaf in leaves]
            self.args[n] = treedef(wrapped)
            self.defs.append(treedef)
            self.given.extend(leaves)
            self.wrapped.extend(wrapped)
        self.flat = [w for w in self.wrapped if w is not None]  # what the engine differentiates
        self.tensors_in = any(isinstance(leaf, Tensor) for leaf in self.given)

    def rebuild(self, flat_values, as_tuple=None):
        """One value per entry of `flat` -> the arguments' structure (one pytree, or a tuple of them).

        Values come back in the kind of their input leaf: an array for an array or a number,
        a (detached) Tensor for a Tensor; Tensors in the graph when nested.
        """
        it = iter(flat_values)
        per_leaf = [None if w is None else self._kind(next(it), leaf) for w, leaf in zip(self.wrapped, self.given)]
        out, start = [], 0
        for treedef in self.defs:
            out.append(treedef(per_leaf[start : start + treedef.num_leaves]))
            start += treedef.num_leaves
        single = self.single if as_tuple is None else not as_tuple
        return out[0] if single else tuple(out)

    def _kind(self, value, leaf):
        if self.nested:
            return value
        return value.detach() if isinstance(leaf, _tensor_cls()) else value._data

    def plain(self, tree):
        """A result that is not a derivative (a value, aux) in the kind the inputs came in."""
        if self.nested:
            return tree
        Tensor = _tensor_cls()
        leaves, treedef = tree_flatten(tree)
        return treedef(
            [
                (leaf.detach() if self.tensors_in else leaf._data) if isinstance(leaf, Tensor) else leaf
                for leaf in leaves
            ]
        )


class _Scope:
    """Marks that a transform is running, so nested transforms record their derivatives."""

    def __enter__(self):
        level = transform_depth()
        self.nested = level > 0
        _local.level = level + 1
        self._mode = grad_mode.enable_grad()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        _local.level -= 1
        return False


# ----- what comes out -----


def _split_aux(result, has_aux, name):
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"{name}: with has_aux=True the function must return a pair (output, aux), "
            f"got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            + ". Return (output, aux), or drop has_aux."
        )
    return result[0], result[1]


def _outputs(out, name, floating):
    """The function's output as (leaves converted to Tensors, its TreeDef); None leaves stay None.

    A leaf that is neither a Tensor, an array nor a number is refused: turning it into
    zeros would hide a derivative that was never traced.
    """
    Tensor = _tensor_cls()
    leaves, treedef = tree_flatten(out)
    outs = []
    for leaf in leaves:
        if leaf is None:
            outs.append(None)
            continue
        t = leaf if isinstance(leaf, Tensor) else None
        if t is None:
            arr = np.asarray(leaf) if isinstance(leaf, (np.ndarray, np.generic, int, float, complex, bool)) else None
            if arr is None or arr.dtype.kind not in "biufc":
                raise TypeError(
                    f"{name}: the function returned a {type(leaf).__name__} as an output; outputs must be "
                    "Tensors, NumPy arrays or numbers, possibly in tuples, lists and dicts. Build arrays of "
                    "results with chainrule ops (cr.stack, cr.cat), not with NumPy, so they stay in the graph."
                )
            t = Tensor._make(arr)
        if floating and t._data.dtype.kind == "c":
            # as JAX's grad and jacrev without holomorphic=True: the imaginary part would be dropped
            raise TypeError(
                f"{name}: needs real-valued outputs, but an output has dtype {t.dtype}. Differentiate its "
                "real and imaginary parts separately, or use jacfwd/jvp/vjp."
            )
        if floating and t._data.dtype.kind != "f":
            raise TypeError(
                f"{name}: needs floating-point outputs, but an output has dtype {t.dtype}. For an "
                "integer-valued function use vjp, or cast the output to float."
            )
        outs.append(t)
    return outs, treedef


def _scalar_output(out, name):
    if isinstance(out, _tensor_cls()) and out._data.shape == () and out._data.dtype.kind == "f":
        return out  # the common case, checked without walking a pytree
    if out is None or isinstance(out, (tuple, list, dict)):
        raise TypeError(
            f"{name}: the function must return a scalar, got a {type(out).__name__}. Return one "
            "value, or use jacobian/vjp for several outputs (has_aux=True returns extras)."
        )
    (t,), _ = _outputs(out, name, floating=True)
    if t._data.shape != ():
        raise TypeError(
            f"{name}: the function must return a scalar (shape ()), got shape {tuple(t.shape)}. "
            "Reduce it (.sum() or .mean()), or use jacobian/vjp for other outputs."
        )
    return t


def _gradients(outs, grad_outputs, flat_in, nested, retain):
    """sum_o grad_output_o^T (d o / d flat_in): one gradient per input, zeros where none flows."""
    live = [(o, g) for o, g in zip(outs, grad_outputs) if o is not None and o.requires_grad]
    grads = [None] * len(flat_in)
    if live and flat_in:
        grads = list(
            engine.grad(
                [o for o, _ in live],
                flat_in,
                grad_outputs=[g for _, g in live],
                create_graph=nested,
                retain_graph=retain or nested,
                allow_unused=True,
            )
        )
    Tensor = _tensor_cls()
    return [g if g is not None else Tensor._make(np.zeros_like(w._data)) for g, w in zip(grads, flat_in)]


def _block(columns, shape, dtype, axis, nested):
    """Stack per-element derivatives (arrays, or Tensors when nested) into one Jacobian block."""
    Tensor = _tensor_cls()
    if not columns:
        return Tensor._make(np.zeros(shape, dtype=dtype))
    if len(columns) == 1:  # one element (a scalar output or input): no stack, so no extra node when nested
        c = columns[0]
        c = c if isinstance(c, Tensor) else Tensor._make(np.asarray(c))
        return c if c._data.shape == shape else c.reshape(shape)
    if nested or effects.tracing():  # np.stack of traced values would be frozen into a jit replay
        from ..ops.shape import stack

        cols = [c if isinstance(c, Tensor) else Tensor._make(np.asarray(c)) for c in columns]
        return stack(cols, axis).reshape(shape)
    return Tensor._make(np.stack([getattr(c, "_data", c) for c in columns], axis).reshape(shape))


def _basis(k, size, shape, dtype):
    e = np.zeros(size, dtype=dtype)
    e[k] = 1
    return e.reshape(shape)


# ----- the transforms -----


def value_and_grad(
    fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Return a function computing (fun(*args), d fun / d args[argnums]) in one pass.

    `fun` must return a scalar, shape () (or (scalar, aux) when has_aux=True; then the
    result is ((value, aux), grads)). The gradient has the structure of the differentiated
    argument, or a tuple of them when `argnums` is a tuple; arrays in, arrays out.

    Example:
        >>> f = lambda x, y: x ** 3 + 3 * x ** 2 * y + y ** 3 + 2 * x
        >>> chainrule.value_and_grad(f, argnums=(0, 1))(1.0, 2.0)
        (array(17.), (array(17.), array(15.)))
    """
    return _value_and_grad(fun, argnums, has_aux, "value_and_grad")


def _value_and_grad(fun, argnums, has_aux, name):
    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), name)
        with _Scope() as scope:
            inputs = _Inputs(args, nums, single, scope.nested, name)
            out, aux = _split_aux(fun(*inputs.args, **kwargs), has_aux, name)
            out_t = _scalar_output(out, name)
            grads = _gradients([out_t], [None], inputs.flat, scope.nested, retain=False)
        value = inputs.plain(out_t)
        g = inputs.rebuild(grads)
        return ((value, inputs.plain(aux)), g) if has_aux else (value, g)

    return wrapper


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the gradient of scalar `fun` with respect to args[argnums].

    With has_aux=True, `fun` returns (scalar, aux) and the function returns (gradient, aux).

    Example:
        >>> df = chainrule.grad(lambda x: x ** 10 - 2 * x ** 8 + 4 / x ** 2 + 10)
        >>> df(1.0)     # 10 - 16 - 8 = -14
        array(-14.)
        >>> chainrule.grad(chainrule.grad(chainrule.tanh))(0.5)   # second derivative
    """
    vg = _value_and_grad(fun, argnums, has_aux, "grad")

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        result = vg(*args, **kwargs)
        if has_aux:
            (_, aux), g = result
            return g, aux
        return result[1]

    return wrapper


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """JAX's vjp: (fun(*primals), vjp_fn[, aux]); vjp_fn(cotangent) = cotangent^T J, one entry per primal.

    The cotangent has the structure and shapes of fun's output; vjp_fn returns a tuple with
    one gradient per primal, each with that primal's structure. vjp_fn may be called again.

    Example:
        >>> y, pullback = chainrule.vjp(chainrule.sin, np.array([0.0, 1.0]))
        >>> pullback(np.ones(2))         # (cos(x),)
    """
    nums = tuple(range(len(primals)))
    with _Scope() as scope:
        inputs = _Inputs(primals, nums, False, scope.nested, "vjp")
        out, aux = _split_aux(fun(*inputs.args), has_aux, "vjp")
        outs, out_def = _outputs(out, "vjp", floating=False)
    nested = scope.nested
    Tensor = _tensor_cls()

    def vjp_fn(cotangent):
        cts, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(
                f"vjp: the cotangent's structure {ct_def} differs from the output's {out_def}; "
                "give one cotangent per output leaf, in the same tuples, lists and dicts."
            )
        grad_outputs = []
        for o, c in zip(outs, cts):
            if o is None:
                grad_outputs.append(None)
                continue
            c_shape = tuple(c.shape) if isinstance(c, Tensor) else np.shape(c)
            if c_shape != o._data.shape:
                raise ValueError(
                    f"vjp: cotangent shape {c_shape} differs from the output's shape {tuple(o.shape)}; they must match."
                )
            _check_not_complex(c, o, "vjp", "cotangent", "output")
            if nested and isinstance(c, Tensor):
                grad_outputs.append(c)
            else:
                grad_outputs.append(np.asarray(getattr(c, "_data", c), dtype=o.dtype))
        with _Scope():
            grads = _gradients(outs, grad_outputs, inputs.flat, nested, retain=True)
        return inputs.rebuild(grads, as_tuple=True)

    primal_out = inputs.plain(out_def(outs))
    return (primal_out, vjp_fn, inputs.plain(aux)) if has_aux else (primal_out, vjp_fn)


def _tangent_leaves(primals, tangents, name):
    """Check that tangents match primals (JAX's rules) and return the tangent leaves of non-None primals."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            f"{name}: primals and tangents must be tuples or lists (one entry per argument), got "
            f"{type(primals).__name__} and {type(tangents).__name__}. Write {name}(f, (x,), (v,))."
        )
    p_leaves, p_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if p_def != t_def:
        raise TypeError(
            f"{name}: primals and tangents must have the same structure; primals are {p_def}, tangents are {t_def}."
        )
    Tensor = _tensor_cls()
    out = []
    for p, t in zip(p_leaves, t_leaves):
        if p is None:
            continue
        p_shape = tuple(p.shape) if isinstance(p, Tensor) else np.shape(p)
        t_shape = tuple(t.shape) if isinstance(t, Tensor) else np.shape(t)
        if p_shape != t_shape:
            raise ValueError(
                f"{name}: tangent shape {t_shape} differs from its primal's shape {p_shape}; "
                "give each tangent its primal's shape."
            )
        out.append(t)
    return out


def _check_not_complex(t, like, name, what, of):
    """Refuse a complex tangent or cotangent for a real value, as JAX: the cast would drop its imaginary part."""
    dtype = np.asarray(getattr(t, "_data", t)).dtype
    if dtype.kind == "c" and like._data.dtype.kind != "c":
        raise TypeError(
            f"{name}: a {what} of dtype {dtype} for a real {of} of dtype {like.dtype}; its imaginary "
            f"part would be lost. Give a real {what}."
        )


def _as_tangent(t, like, nested, name):
    _check_not_complex(t, like, name, "tangent", "primal")
    Tensor = _tensor_cls()
    if nested and isinstance(t, Tensor):
        return t
    arr = np.asarray(getattr(t, "_data", t), dtype=like.dtype)
    return Tensor._make(arr) if nested else arr


def jvp(fun: Callable[..., Any], primals: Any, tangents: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """JAX's jvp: (fun(*primals), J tangents[, aux]), the directional derivative of `fun`, by forward mode.

    `primals` and `tangents` are tuples (or lists) with one entry per argument, of the same
    structure and shapes. `fun` runs once, recording its graph; then the tangents are pushed
    from the inputs to the outputs through each primitive's jvp rule (autograd/forward.py).
    The output tangent has the output's structure.

    Example:
        >>> chainrule.jvp(chainrule.sin, (np.array(0.5),), (np.array(1.0),))   # (sin .5, cos .5)
    """
    from .forward import forward_tangents

    tangent_leaves = _tangent_leaves(primals, tangents, "jvp")
    with _Scope() as scope:
        inputs = _Inputs(primals, tuple(range(len(primals))), False, scope.nested, "jvp")
        flat_tan = [_as_tangent(t, w, scope.nested, "jvp") for t, w in zip(tangent_leaves, inputs.flat)]
        out, aux = _split_aux(fun(*inputs.args), has_aux, "jvp")
        outs, out_def = _outputs(out, "jvp", floating=False)
        live = [o for o in outs if o is not None]
        t_live = iter(forward_tangents(live, inputs.flat, flat_tan, create_graph=scope.nested) if live else [])
        Tensor = _tensor_cls()
        t_outs = [None if o is None else next(t_live) for o in outs]
        t_outs = [t if t is None or isinstance(t, Tensor) else Tensor._make(t) for t in t_outs]
    result = (inputs.plain(out_def(outs)), inputs.plain(out_def(t_outs)))
    return result + (inputs.plain(aux),) if has_aux else result


def jacobian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Reverse-mode Jacobian (JAX's jacrev): one VJP per output element.

    The result has fun's output structure outside and the differentiated arguments'
    structure inside (a tuple of them when `argnums` is a tuple). The block for output
    leaf o and input leaf x has shape o.shape + x.shape and x's dtype.
    With has_aux=True, `fun` returns (output, aux) and the result is (jacobian, aux).

    Example:
        >>> J = chainrule.jacobian(lambda z: chainrule.softmax(z, dim=0))(np.array([1., 2., 3.]))
        >>> # J[i, j] = p_i (delta_ij - p_j)
        >>> chainrule.jacobian(lambda x, y: {"s": x * y, "d": x - y}, argnums=(0, 1))(1.0, 2.0)
        >>> # {'s': (array(2.), array(1.)), 'd': (array(1.), array(-1.))}
    """

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "jacobian")
        with _Scope() as scope:
            nested = scope.nested
            inputs = _Inputs(args, nums, single, nested, "jacobian")
            out, aux = _split_aux(fun(*inputs.args, **kwargs), has_aux, "jacobian")
            outs, out_def = _outputs(out, "jacobian", floating=True)
            rows = []
            for o in outs:
                if o is None:
                    rows.append(None)
                    continue
                # per_element[k][j] = d o.flat[k] / d input j, one VJP with a basis vector each
                per_element = []
                if o.requires_grad and inputs.flat:
                    Tensor = _tensor_cls()
                    for k in range(o._data.size):
                        e = _basis(k, o._data.size, o._data.shape, o.dtype)
                        per_element.append(
                            engine.grad(
                                o,
                                inputs.flat,
                                grad_outputs=Tensor._make(e) if nested else e,
                                create_graph=nested,
                                retain_graph=True,
                                allow_unused=True,
                            )
                        )
                blocks = []
                for j, w in enumerate(inputs.flat):
                    shape = o._data.shape + w._data.shape
                    column = [g[j] for g in per_element]
                    if all(c is None for c in column):
                        blocks.append(_tensor_cls()._make(np.zeros(shape, dtype=w.dtype)))
                        continue
                    column = [c if c is not None else np.zeros_like(w._data) for c in column]
                    blocks.append(_block(column, shape, w.dtype, 0, nested))
                rows.append(inputs.rebuild(blocks))
        result = out_def(rows)
        return (result, inputs.plain(aux)) if has_aux else result

    return wrapper


jacrev = jacobian


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Forward-mode Jacobian (JAX's jacfwd): `fun` runs once, then one tangent sweep per input element.

    Same structure as jacobian: output structure outside, arguments' structure inside,
    blocks of shape o.shape + x.shape (in the output's dtype, as JAX). Cheaper than
    jacobian when the function has fewer inputs than outputs.
    """
    from .forward import forward_tangents

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "jacfwd")
        with _Scope() as scope:
            nested = scope.nested
            inputs = _Inputs(args, nums, single, nested, "jacfwd")
            out, aux = _split_aux(fun(*inputs.args, **kwargs), has_aux, "jacfwd")
            outs, out_def = _outputs(out, "jacfwd", floating=False)
            live = [o for o in outs if o is not None]
            # blocks[i][j]: d live[i] / d input j, from one column per element of input j
            blocks = [[] for _ in live]
            for w in inputs.flat:
                columns = [[] for _ in live]
                for k in range(w._data.size):
                    e = _basis(k, w._data.size, w._data.shape, w.dtype)
                    for col, t in zip(columns, forward_tangents(live, [w], [e], create_graph=nested)):
                        col.append(t)
                for row, col, o in zip(blocks, columns, live):
                    row.append(_block(col, o._data.shape + w._data.shape, o.dtype, -1, nested))
            rows = iter(blocks)
            result = out_def([None if o is None else inputs.rebuild(next(rows)) for o in outs])
        return (result, inputs.plain(aux)) if has_aux else result

    return wrapper


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Second derivatives: the Jacobian of the Jacobian, with JAX's structure.

    For a scalar `fun` of one array x, shape x.shape + x.shape; with argnums=(0, 1), the
    blocks ((H00, H01), (H10, H11)); for a non-scalar output, its structure and shape
    come first (as jax.hessian).

    Example:
        >>> A = np.array([[2., 1.], [0., 3.]])
        >>> chainrule.hessian(lambda x: x @ (A @ x))(np.ones(2))   # A + A^T
        >>> chainrule.hessian(lambda x, y: x**3 + 3*x**2*y + y**3 + 2*x, argnums=(0, 1))(1.0, 2.0)
        >>> # ((array(18.), array(6.)), (array(6.), array(12.)))
    """
    return jacobian(jacobian(fun, argnums, has_aux), argnums, has_aux)


def hvp(fun: Callable[..., Any], primals: Any, tangents: Any) -> tuple[Any, Any]:
    """Hessian-vector product of scalar `fun` by double backward: (fun(*primals), H v).

    H is the Hessian with respect to all primals, v the tangents (same structure and shapes).
    With one primal, H v has its structure (JAX's jvp(grad(f), primals, tangents)[1]);
    with several, a tuple of them. Costs about two backward passes and never forms H.
    """
    tangent_leaves = _tangent_leaves(primals, tangents, "hvp")
    with _Scope() as scope:
        nested = scope.nested
        inputs = _Inputs(primals, tuple(range(len(primals))), len(primals) == 1, nested, "hvp")
        flat_tan = [_as_tangent(t, w, True, "hvp") for t, w in zip(tangent_leaves, inputs.flat)]
        out = _scalar_output(fun(*inputs.args), "hvp")
        if out.requires_grad and inputs.flat:
            gs = engine.grad(out, inputs.flat, create_graph=True, allow_unused=True)
        else:
            gs = [None] * len(inputs.flat)
        live = [(g, v) for g, v in zip(gs, flat_tan) if g is not None and g.requires_grad]
        hv = _gradients([g for g, _ in live], [v for _, v in live], inputs.flat, nested, retain=False)
    return inputs.plain(out), inputs.rebuild(hv)
