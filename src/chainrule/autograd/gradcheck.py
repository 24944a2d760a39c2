"""Gradient checks against finite differences: gradcheck (first order) and gradgradcheck (second).

Central differences (f(x + eps) - f(x - eps)) / (2 eps) in float64, compared entry by
entry with the Jacobian that backward computes, with PyTorch's default tolerances
(eps 1e-6, atol 1e-5, rtol 1e-3). A failure reports the worst entry.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from . import engine
from .grad_mode import enable_grad, no_grad

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike

    from ..tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians disagree."""


def _tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare_inputs(inputs):
    from ..tensor import Tensor

    prepared = []
    for x in _tuple(inputs):
        if isinstance(x, Tensor):
            prepared.append(x)
        elif isinstance(x, float) or isinstance(x, np.ndarray) and x.dtype.kind == "f":
            t = Tensor._make(np.array(x, dtype=np.float64))
            t.requires_grad = True
            prepared.append(t)
        else:
            prepared.append(x)
    return prepared


def _outputs(func, inputs):
    from ..tensor import Tensor

    outs = _tuple(func(*inputs))
    return [o for o in outs if isinstance(o, Tensor)]


def _numerical_columns(func, inputs, wrt, eps):
    """For each differentiated input, the matrix d(all outputs, flattened)/d(input entries)."""
    columns = []
    with no_grad():
        for i in wrt:
            x = inputs[i]._data
            cols = []
            # Perturb through the input's own (possibly strided) array, entry by entry in C order: a
            # reshape(-1) of a non-contiguous input is a copy, and perturbing it would change nothing.
            for k in np.ndindex(x.shape):
                orig = x[k]
                x[k] = orig + eps
                plus = np.concatenate([o._data.reshape(-1) for o in _outputs(func, inputs)] or [np.zeros(0)])
                x[k] = orig - eps
                minus = np.concatenate([o._data.reshape(-1) for o in _outputs(func, inputs)] or [np.zeros(0)])
                x[k] = orig
                cols.append((plus - minus) / (2 * eps))
            columns.append(np.stack(cols, axis=1) if cols else np.zeros((0, 0)))
    return columns


def _analytical_rows(func, inputs, wrt):
    """For each differentiated input, d(outputs)/d(input) assembled from one backward per output entry."""
    with enable_grad():
        outs = _outputs(func, inputs)
    sizes = [o._data.size for o in outs]
    total = sum(sizes)
    mats = [np.zeros((total, inputs[i]._data.size)) for i in wrt]
    row = 0
    for j, o in enumerate(outs):
        for k in range(sizes[j]):
            if o.requires_grad:
                e = np.zeros(o._data.size, dtype=o.dtype)
                e[k] = 1
                grads = engine.grad(
                    [o],
                    [inputs[i] for i in wrt],
                    grad_outputs=[e.reshape(o.shape)],
                    retain_graph=True,
                    allow_unused=True,
                )
                for m, g in zip(mats, grads):
                    if g is not None:
                        m[row] = g._data.reshape(-1)
            row += 1
    return mats, outs


def gradcheck(
    func: Callable[..., Tensor | tuple[Tensor, ...]],
    inputs: Tensor | ArrayLike | Sequence[Tensor | ArrayLike],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    nondet_tol: float = 0.0,
) -> bool:
    """Check the gradients of `func` at `inputs` against central finite differences.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple of Tensors; those with requires_grad=True are checked.
            Use float64: the default tolerances are meant for double precision.
        eps: the finite-difference step (PyTorch's default).
        atol: the absolute tolerance (PyTorch's default).
        rtol: the relative tolerance (PyTorch's default).
        raise_exception: raise GradcheckError on failure (else return False).
        fast_mode: compare v^T J u for random unit u, v instead of the full Jacobian.
        nondet_tol: allowed difference between two backward passes (0: bitwise equal).

    Returns:
        True when every entry satisfies |analytical - numerical| <= atol + rtol |numerical|.

    Example:
        >>> x = chainrule.randn(3, dtype=chainrule.float64, requires_grad=True)
        >>> chainrule.gradcheck(lambda x: (x.sin() * x).sum(), (x,))
        True
    """
    inputs = _prepare_inputs(inputs)
    wrt = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; create the inputs with requires_grad=True")
    for i in wrt:
        data = inputs[i]._data
        if data.size > 1 and any(st == 0 and n > 1 for st, n in zip(data.strides, data.shape)):
            raise RuntimeError(
                f"gradcheck: input {i} (shape {tuple(data.shape)}) has a dimension with stride 0 (an expanded "
                "view), so one perturbation would move several entries at once. Pass a copy, e.g. x.clone(), "
                "as PyTorch's gradcheck also requires."
            )
        if inputs[i].dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; the check is meant for float64 and will "
                "likely fail at lower precision. Use .double().",
                UserWarning,
                stacklevel=2,
            )
    analytical, outs = _analytical_rows(func, inputs, wrt)
    if nondet_tol is not None:
        again, _ = _analytical_rows(func, inputs, wrt)
        for a, b, i in zip(analytical, again, wrt):
            if a.size and np.max(np.abs(a - b)) > nondet_tol:
                return _fail(
                    raise_exception,
                    f"gradcheck: backward is not deterministic for input {i}: two "
                    f"runs differ by {np.max(np.abs(a - b)):.3g} > nondet_tol={nondet_tol}",
                )
    numerical = _numerical_columns(func, inputs, wrt, eps)
    rng = np.random.default_rng(0)
    for a, n, i in zip(analytical, numerical, wrt):
        if fast_mode and a.size:
            u = rng.standard_normal(a.shape[1])
            v = rng.standard_normal(a.shape[0])
            u /= np.linalg.norm(u) or 1
            v /= np.linalg.norm(v) or 1
            a_val, n_val = v @ a @ u, v @ n @ u
            if abs(a_val - n_val) > atol + rtol * abs(n_val):
                return _fail(
                    raise_exception,
                    f"gradcheck (fast mode): for input {i}, v^T J u is {a_val:.8g} by "
                    f"backward but {n_val:.8g} by finite differences",
                )
            continue
        diff = np.abs(a - n)
        bad = diff > atol + rtol * np.abs(n)
        nan_mismatch = np.isnan(a) != np.isnan(n)
        if bad.any() or nan_mismatch.any():
            excess = np.where(np.isnan(diff), np.inf, diff - (atol + rtol * np.abs(n)))
            r, c = np.unravel_index(np.argmax(excess), excess.shape)
            out_index, out_pos = _locate(outs, r)
            in_pos = np.unravel_index(c, inputs[i].shape) if inputs[i].shape else ()
            message = (
                f"gradcheck: Jacobian mismatch for output {out_index} with respect to input {i}.\n"
                f"  worst entry: d out{out_index}{list(out_pos)} / d in{i}{list(in_pos)}\n"
                f"  analytical (backward): {a[r, c]:.10g}\n"
                f"  numerical (central differences, eps={eps}): {n[r, c]:.10g}\n"
                f"  difference {diff[r, c]:.3g} > atol + rtol*|numerical| = {atol + rtol * abs(n[r, c]):.3g}; "
                f"{int(bad.sum())} of {bad.size} entries fail.\n"
                f"  analytical Jacobian:\n{a}\n  numerical Jacobian:\n{n}"
            )
            return _fail(raise_exception, message)
    return True


def _locate(outs, row):
    for j, o in enumerate(outs):
        if row < o._data.size:
            return j, (np.unravel_index(row, o.shape) if o.shape else ())
        row -= o._data.size
    return -1, ()


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(
    func: Callable[..., Tensor | tuple[Tensor, ...]],
    inputs: Tensor | ArrayLike | Sequence[Tensor | ArrayLike],
    grad_outputs: Tensor | Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> v^T J(inputs), built with create_graph=True.

    When `grad_outputs` is None, random ones are drawn (seeded), as PyTorch does.
    """
    from ..tensor import Tensor

    inputs = _prepare_inputs(inputs)
    wrt = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]
    with enable_grad():
        outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = []
        for o in outs:
            v = Tensor._make(rng.standard_normal(o.shape).astype(o.dtype))
            v.requires_grad = True
            grad_outputs.append(v)
    else:
        grad_outputs = _prepare_inputs(grad_outputs)
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = list(args[:n_in]), list(args[n_in:])
        with enable_grad():
            ys = [o for o in _outputs(func, xs) if o.requires_grad]
            used_vs = [v for o, v in zip(_outputs(func, xs), vs) if o.requires_grad]
            if not ys:
                return tuple(Tensor._make(np.zeros_like(xs[i]._data)) for i in wrt)
            gs = engine.grad(ys, [xs[i] for i in wrt], grad_outputs=used_vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor._make(np.zeros_like(xs[i]._data)) for g, i in zip(gs, wrt))

    return gradcheck(
        first_derivative,
        tuple(inputs) + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
    )
