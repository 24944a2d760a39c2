"""JAX-style function transforms: grad, value_and_grad, vjp, jvp, jacobian (jacrev), jacfwd,
hessian and hvp, built only on the engine.

They take functions of Tensors or NumPy arrays (and of tuples, lists and dicts of
them) and return results of the same kind: arrays in, arrays out; Tensors in,
Tensors out. Transforms nest (grad(grad(f)), hessian = jacfwd(grad(f))): inside
another transform, every derivative is recorded so the outer one can
differentiate it.
"""
from __future__ import annotations

import functools

import numpy as np

from . import engine, grad_mode

_depth = {"level": 0}


# ----- pytrees: tuples, lists and dicts of leaves -----

def _is_leaf(x):
    return not isinstance(x, (tuple, list, dict))


def tree_flatten(tree):
    """Leaves of a (tuple, list, dict) nest, and a function that rebuilds the nest from new leaves."""
    if _is_leaf(tree):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [tree_flatten(tree[k]) for k in keys]
    else:
        keys = None
        parts = [tree_flatten(v) for v in tree]
    counts = [len(p[0]) for p in parts]
    leaves = [leaf for p in parts for leaf in p[0]]

    def rebuild(new_leaves):
        out, start = [], 0
        for (_, build), n in zip(parts, counts):
            out.append(build(new_leaves[start:start + n]))
            start += n
        if keys is not None:
            return dict(zip(keys, out))
        return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)

    return leaves, rebuild


def _tensor_cls():
    from ..tensor import Tensor

    return Tensor


def _as_input(leaf):
    """A Tensor to differentiate with respect to: the outer transform's own tensor when nested."""
    Tensor = _tensor_cls()
    if isinstance(leaf, Tensor):
        if leaf.requires_grad and grad_mode.is_grad_enabled():
            return leaf
        data = leaf._data
    else:
        data = np.asarray(leaf)
        if data.dtype.kind not in "fc":
            raise TypeError(
                f"grad: differentiating with respect to an argument of dtype {data.dtype}; only floating "
                "point inputs have gradients. Pass floats (e.g. 1.0 instead of 1), or leave that argument "
                "out of argnums."
            )
    t = Tensor._make(data)
    t.requires_grad = True
    return t


def _as_tensor(value):
    Tensor = _tensor_cls()
    return value if isinstance(value, Tensor) else Tensor._make(np.asarray(value))


def _like(value, template, nested):
    """Return `value` (a Tensor) in the kind of `template`: Tensor, or array when arrays came in."""
    Tensor = _tensor_cls()
    if value is None:
        return None
    if nested or isinstance(template, Tensor):
        return value
    return value._data


def _argnums_tuple(argnums, nargs, name):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(f"{name}: argnums {argnums} out of range for a function called with {nargs} arguments")
    return single, nums


class _Scope:
    """Marks that a transform is running, so nested transforms record their derivatives."""

    def __enter__(self):
        self.nested = _depth["level"] > 0
        _depth["level"] += 1
        self._mode = grad_mode.enable_grad()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        _depth["level"] -= 1
        return False


def _prepare(args, nums):
    """Replace the differentiated arguments by Tensors that require grad."""
    args = list(args)
    inputs = {}
    for n in nums:
        leaves, rebuild = tree_flatten(args[n])
        wrapped = [_as_input(leaf) for leaf in leaves]
        inputs[n] = (leaves, wrapped, rebuild)
        args[n] = rebuild(wrapped)
    return args, inputs


def _scalar_output(out, name):
    Tensor = _tensor_cls()
    out_t = _as_tensor(out)
    if out_t._data.size != 1:
        raise TypeError(
            f"{name}: the function must return a scalar (a tensor with one element), got shape "
            f"{tuple(out_t.shape)}. Reduce it (.sum() or .mean()), or use jacobian/vjp for vector outputs."
        )
    if out_t._data.dtype.kind not in "fc":
        raise TypeError(f"{name}: the function's output must be floating point, got dtype {out_t.dtype}")
    return out_t if isinstance(out, Tensor) else out_t


def _grads(out, inputs, nums, nested, grad_output=None):
    flat = [t for n in nums for t in inputs[n][1]]
    if not out.requires_grad:
        grads = [None] * len(flat)
    else:
        grads = list(engine.grad(out, flat, grad_outputs=grad_output, create_graph=nested,
                                 retain_graph=True, allow_unused=True))
    return _per_argument(inputs, nums, grads, nested)


def _per_argument(inputs, nums, flat_values, nested):
    """Split values for the flattened inputs back into one pytree per differentiated argument.

    A None (no dependence) becomes zeros of the input's shape, as JAX returns.
    """
    Tensor = _tensor_cls()
    results, start = [], 0
    for n in nums:
        leaves, wrapped, rebuild = inputs[n]
        chunk = flat_values[start:start + len(wrapped)]
        start += len(wrapped)
        filled = [v if v is not None else Tensor._make(np.zeros_like(w._data)) for v, w in zip(chunk, wrapped)]
        results.append(rebuild([_like(v, leaf, nested) for v, leaf in zip(filled, leaves)]))
    return results


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return a function computing (fun(*args), d fun / d args[argnums]) in one pass.

    `fun` must return a scalar (or (scalar, aux) when has_aux=True). The gradient has the
    structure and kind of the differentiated argument (array in, array out).

    Example:
        >>> f = lambda x, y: x ** 3 + 3 * x ** 2 * y + y ** 3 + 2 * x
        >>> chainrule.value_and_grad(f, argnums=(0, 1))(1.0, 2.0)
        (array(17.), (array(17.), array(15.)))
    """

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        single, nums = _argnums_tuple(argnums, len(args), "value_and_grad")
        nums = tuple(n % len(args) for n in nums)
        with _Scope() as scope:
            call_args, inputs = _prepare(args, nums)
            result = fun(*call_args, **kwargs)
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise TypeError("value_and_grad: with has_aux=True the function must return (value, aux)")
                out, aux = result
            else:
                out, aux = result, None
            out_t = _scalar_output(out, "grad")
            grads = _grads(out_t, inputs, nums, scope.nested)
        Tensor = _tensor_cls()
        if scope.nested:
            value = out_t
        elif any(isinstance(leaf, Tensor) for n in nums for leaf in inputs[n][0]):
            value = out_t.detach()
        else:
            value = out_t._data
        grad_value = grads[0] if single else tuple(grads)
        return ((value, aux), grad_value) if has_aux else (value, grad_value)

    return wrapper


def grad(fun, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar `fun` with respect to args[argnums].

    Example:
        >>> df = chainrule.grad(lambda x: x ** 10 - 2 * x ** 8 + 4 / x ** 2 + 10)
        >>> df(1.0)     # 10 - 16 - 8 = -14
        array(-14.)
        >>> chainrule.grad(chainrule.grad(chainrule.tanh))(0.5)   # second derivative
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        result = vg(*args, **kwargs)
        if has_aux:
            (_, aux), g = result
            return g, aux
        return result[1]

    return wrapper


def vjp(fun, *primals, has_aux=False):
    """JAX's vjp: returns (fun(*primals), vjp_fn) where vjp_fn(cotangent) = cotangent^T J per primal.

    Example:
        >>> y, pullback = chainrule.vjp(chainrule.sin, np.array([0.0, 1.0]))
        >>> pullback(np.ones(2))         # (cos(x),)
    """
    with _Scope() as scope:
        nums = tuple(range(len(primals)))
        call_args, inputs = _prepare(primals, nums)
        result = fun(*call_args)
        out, aux = result if has_aux else (result, None)
    out_t = _as_tensor(out)
    nested = scope.nested

    def vjp_fn(cotangent):
        with _Scope():
            c = _as_tensor(cotangent) if nested else np.asarray(getattr(cotangent, "_data", cotangent),
                                                                    dtype=out_t.dtype)
            if np.shape(getattr(c, "_data", c)) != out_t.shape:
                raise ValueError(f"vjp: cotangent shape {np.shape(getattr(c, '_data', c))} != output shape "
                                 f"{tuple(out_t.shape)}")
            return tuple(_grads(out_t, inputs, nums, nested, grad_output=c))

    primal_out = out if nested else (out_t.detach() if isinstance(out, _tensor_cls()) else out_t._data)
    return (primal_out, vjp_fn, aux) if has_aux else (primal_out, vjp_fn)


def jvp(fun, primals, tangents):
    """JAX's jvp: (fun(*primals), J tangents), the directional derivative of `fun`, by forward mode.

    `fun` runs once, recording its graph; then the tangents are pushed from the inputs
    to the output through each primitive's jvp rule (see autograd/forward.py). No
    reverse pass is involved.

    Example:
        >>> chainrule.jvp(chainrule.sin, (np.array(0.5),), (np.array(1.0),))   # (sin .5, cos .5)
    """
    from .forward import forward_tangents

    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents; give one tangent per primal")
    Tensor = _tensor_cls()
    with _Scope() as scope:
        nums = tuple(range(len(primals)))
        call_args, inputs = _prepare(primals, nums)
        out = fun(*call_args)
        out_t = _as_tensor(out)
        flat_in = [t for n in nums for t in inputs[n][1]]
        flat_tan = [_as_tensor(t) for n in nums for t in tree_flatten(tangents[n])[0]]
        for w, v in zip(flat_in, flat_tan):
            if w.shape != v.shape:
                raise ValueError(f"jvp: tangent shape {tuple(v.shape)} != primal shape {tuple(w.shape)}")
        (tangent_out,) = forward_tangents([out_t], flat_in, flat_tan, create_graph=scope.nested)
        tangent_out = _as_tensor(tangent_out)
    if scope.nested:
        return out, tangent_out
    as_arrays = not any(isinstance(leaf, Tensor) for p in primals for leaf in tree_flatten(p)[0])
    return ((out_t._data, tangent_out._data) if as_arrays else (out_t.detach(), tangent_out.detach()))


def jacobian(fun, argnums=0, has_aux=False):
    """Reverse-mode Jacobian (JAX's jacrev): one VJP per output element.

    For output shape O and input shape I the result has shape O + I.

    Example:
        >>> J = chainrule.jacobian(lambda z: chainrule.softmax(z, dim=0))(np.array([1., 2., 3.]))
        >>> # J[i, j] = p_i (delta_ij - p_j)
    """

    @functools.wraps(fun)
    def wrapper(*args):
        single, nums = _argnums_tuple(argnums, len(args), "jacobian")
        nums = tuple(n % len(args) for n in nums)
        Tensor = _tensor_cls()
        with _Scope() as scope:
            call_args, inputs = _prepare(args, nums)
            result = fun(*call_args)
            out, aux = result if has_aux else (result, None)
            out_t = _as_tensor(out)
            flat_in = [t for n in nums for t in inputs[n][1]]
            rows = []
            size = out_t._data.size
            for k in range(size):
                e = np.zeros(size, dtype=out_t.dtype)
                e[k] = 1
                e = e.reshape(out_t.shape)
                if out_t.requires_grad:
                    gs = engine.grad(out_t, flat_in, grad_outputs=Tensor._make(e) if scope.nested else e,
                                     create_graph=scope.nested, retain_graph=True, allow_unused=True)
                else:
                    gs = [None] * len(flat_in)
                rows.append([g if g is not None else Tensor._make(np.zeros_like(w._data)) for g, w in zip(gs, flat_in)])
            jacs = []
            for j, w in enumerate(flat_in):
                column = [row[j] for row in rows]
                if scope.nested:
                    from ..ops.shape import stack

                    J = stack(column, 0).reshape(out_t.shape + w.shape) if column else Tensor._make(
                        np.zeros(out_t.shape + w.shape, dtype=w.dtype))
                else:
                    J = Tensor._make(np.stack([c._data for c in column]).reshape(out_t.shape + w.shape)
                                     if column else np.zeros(out_t.shape + w.shape, dtype=w.dtype))
                jacs.append(J)
        results = _per_argument(inputs, nums, jacs, scope.nested)
        value = results[0] if single else tuple(results)
        return (value, aux) if has_aux else value

    return wrapper


jacrev = jacobian


def jacfwd(fun, argnums=0):
    """Forward-mode Jacobian: `fun` runs once, then one tangent sweep per input element; shape O + I.

    Cheaper than jacobian when the function has fewer inputs than outputs.
    """
    from .forward import forward_tangents

    @functools.wraps(fun)
    def wrapper(*args):
        single, nums = _argnums_tuple(argnums, len(args), "jacfwd")
        nums = tuple(n % len(args) for n in nums)
        Tensor = _tensor_cls()
        with _Scope() as scope:
            call_args, inputs = _prepare(args, nums)
            out_t = _as_tensor(fun(*call_args))
            jacs = []
            for w in (t for n in nums for t in inputs[n][1]):
                columns = []
                for k in range(w._data.size):
                    e = np.zeros(w._data.size, dtype=w.dtype)
                    e[k] = 1
                    (column,) = forward_tangents([out_t], [w], [e.reshape(w.shape)], create_graph=scope.nested)
                    columns.append(column)
                if scope.nested:
                    from ..ops.shape import stack

                    J = stack([_as_tensor(c) for c in columns], -1).reshape(out_t.shape + w.shape)
                else:
                    J = Tensor._make(np.stack(columns, -1).reshape(out_t.shape + w.shape) if columns
                                     else np.zeros(out_t.shape + w.shape, dtype=w.dtype))
                jacs.append(J)
        results = _per_argument(inputs, nums, jacs, scope.nested)
        return results[0] if single else tuple(results)

    return wrapper


def hessian(fun, argnums=0):
    """Matrix of second derivatives of scalar `fun`: jacobian(grad(fun)); shape I + I.

    Example:
        >>> A = np.array([[2., 1.], [0., 3.]])
        >>> chainrule.hessian(lambda x: x @ (A @ x))(np.ones(2))   # A + A^T
    """
    return jacobian(grad(fun, argnums), argnums)


def hvp(fun, primals, tangents):
    """Hessian-vector product of scalar `fun` by double backward: (fun(x), H v).

    Costs about two backward passes and never forms H.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    Tensor = _tensor_cls()
    with _Scope() as scope:
        nums = tuple(range(len(primals)))
        call_args, inputs = _prepare(primals, nums)
        out = _scalar_output(fun(*call_args), "hvp")
        flat_in = [t for n in nums for t in inputs[n][1]]
        flat_tan = [_as_tensor(t) for n in nums for t in tree_flatten(tangents[n])[0]]
        gs = engine.grad(out, flat_in, create_graph=True, allow_unused=True)
        pairs = [(g, v) for g, v in zip(gs, flat_tan) if g is not None and g.requires_grad]
        if pairs:
            hv = engine.grad([g for g, _ in pairs], flat_in, grad_outputs=[v for _, v in pairs],
                             create_graph=scope.nested, allow_unused=True)
        else:
            hv = [None] * len(flat_in)
        results = _per_argument(inputs, nums, list(hv), scope.nested)
    value = out if scope.nested else (out.detach() if isinstance(out, Tensor) else out._data)
    if not scope.nested and not any(isinstance(p, Tensor) for p in tree_flatten(list(primals))[0]):
        value = out._data
    return value, (results[0] if len(results) == 1 else tuple(results))
