"""Linear algebra: matmul (1-D, 2-D and batched, with broadcasting), the fused affine map `linear`
(x W^T + b), dot, outer and bmm built on matmul, and the fused baddbmm (beta x + alpha A @ B).
einsum has its own module (einsum.py)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export, full_tangent
from ._util import _BLAS_FLOATS, as_array, ones_vector, refuse_text, sum_leading, unbroadcast
from .shape import transpose

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike


class Matmul(Primitive):
    """Z = X @ Y.   dZ/dX: G @ Y^T,  dZ/dY: X^T @ G (batch axes summed back, 1-D operands restored)."""

    @staticmethod
    def forward(ctx, x, y):
        sx, sy = np.shape(x), np.shape(y)
        if len(sx) == 0 or len(sy) == 0:
            raise RuntimeError(
                f"matmul: both operands must have at least one dimension, got shapes {sx} and {sy}; "
                "use * to multiply by a scalar."
            )
        if sx[-1] != sy[-2 if len(sy) > 1 else 0]:
            raise RuntimeError(
                f"matmul: shapes {sx} and {sy} cannot be multiplied: the last dimension of the first "
                f"({sx[-1]}) must equal the {'second-to-last' if len(sy) > 1 else 'only'} dimension of the "
                f"second ({sy[-2 if len(sy) > 1 else 0]}). Transpose one operand (.T) or check the layer sizes."
            )
        ctx.shapes = (sx, sy)
        needs = ctx.needs_input_grad
        ctx.save_for_backward(x if needs[1] else None, y if needs[0] else None)
        try:
            return np.matmul(x, y)
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of {sx} and {sy} do not broadcast") from None

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        sx, sy = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        if len(sx) == 2 and len(sy) == 1:
            # Matrix-vector: dX = outer(g, y), dy = X^T g, with no reshapes to record.
            gx = g.reshape((sx[0], 1)) * y.reshape((1, sy[0])) if need_x else None
            gy = transpose(x, 0, 1) @ g if need_y else None
            return gx, gy
        # Treat 1-D operands as a row (x) or column (y) matrix, then undo it.
        if len(sx) == 1:
            g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if len(sy) > 1 else g.reshape((1,) + g.shape)
        if len(sy) == 1:
            g = g.reshape(g.shape + (1,))
        gx = gy = None
        if need_x:
            y2 = y.reshape((sy[0], 1)) if len(sy) == 1 else y
            gx = g @ transpose(y2, -1, -2)
            gx = unbroadcast(gx, (1,) + sx if len(sx) == 1 else sx).reshape(sx)
        if need_y:
            x2 = x.reshape((1, sx[0])) if len(sx) == 1 else x
            gy = transpose(x2, -1, -2) @ g
            gy = unbroadcast(gy, sy + (1,) if len(sy) == 1 else sy).reshape(sy)
        return gx, gy

    @staticmethod
    def jvp(ctx, tx, ty):
        x, y = ctx.saved_tensors
        terms = [matmul(tx, y) if tx is not None else None, matmul(x, ty) if ty is not None else None]
        terms = [term for term in terms if term is not None]
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]


@export("Matmul", method=("matmul", "mm"), torch_kwargs="out")
def matmul(x: TensorLike, y: TensorLike) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D, 2-D and batched (broadcasting) operands.

    Example:
        >>> W = chainrule.randn(3, 4, requires_grad=True); x = chainrule.randn(4)
        >>> (W @ x).sum().backward()      # W.grad = outer(ones(3), x)

    Both operands must have one dtype: PyTorch refuses to promote in matmul.
    """
    dx = getattr(x, "_data", None)
    dy = getattr(y, "_data", None)
    if dx is None and not isinstance(x, np.ndarray):  # a list or tuple: an array (backward reshapes it)
        x = np.asarray(x)
    if dy is None and not isinstance(y, np.ndarray):
        y = np.asarray(y)
    if dx is not None and dy is not None and dx.dtype != dy.dtype:
        raise RuntimeError(
            f"matmul: expected both operands to have the same dtype, but got {dx.dtype} (shape {dx.shape}) "
            f"and {dy.dtype} (shape {dy.shape}); PyTorch does not promote in matmul. Convert one first, "
            f"e.g. x @ y.to(x.dtype)."
        )
    return Matmul.apply(x, y)


@export("Matmul", method=True, torch_kwargs="out")
def dot(x: TensorLike, y: TensorLike) -> Tensor:
    """Inner product of two 1-D tensors."""
    if np.ndim(as_array(x)) != 1 or np.ndim(as_array(y)) != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got shapes {np.shape(as_array(x))} and {np.shape(as_array(y))}")
    return Matmul.apply(x, y)


@export("Matmul", torch_kwargs="out")
def outer(x: TensorLike, y: TensorLike) -> Tensor:
    """Outer product x y^T of two 1-D tensors."""
    refuse_text("outer", x, y)
    if np.ndim(as_array(x)) != 1 or np.ndim(as_array(y)) != 1:
        raise RuntimeError(
            f"outer: expected two 1-D tensors, got shapes {np.shape(as_array(x))} and "
            f"{np.shape(as_array(y))}; flatten them first"
        )
    return x.reshape((-1, 1)) * y.reshape((1, -1))


# ----- dense: the fused affine map of every MLP -----


class Linear(Primitive):
    """y = x W^T + b for x of shape (..., in), W (out, in), b (out,) or None.

    dy/dx: g W;  dy/dW: g^T x (leading axes summed);  dy/db: g summed over leading axes.
    One node instead of three (transpose, matmul, add): it is the hot op of every MLP.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        needs = ctx.needs_input_grad
        ctx.save_for_backward(x if needs[1] else None, w if needs[0] else None)
        if x.ndim > 2:  # one GEMM over all rows: NumPy's stacked matmul is one small GEMM per leading index
            rows = math.prod(x.shape[:-1])
            out = np.matmul(x.reshape((rows, x.shape[-1])), w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            out = np.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        g2, x2 = g, x
        if len(g.shape) != 2:  # rows flattened: one GEMM each (see forward)
            rows = math.prod(g.shape[:-1])  # not -1: ambiguous when a dimension is 0
            g2 = g.reshape((rows, g.shape[-1]))
            x2 = x.reshape((rows, x.shape[-1])) if needs[1] else None
        if needs[0]:
            gx = g @ w if g2 is g else (g2 @ w).reshape(g.shape[:-1] + (w.shape[-1],))
        if needs[1] or (len(needs) > 2 and needs[2]):
            if needs[1]:
                gw = g2.T @ x2  # g2 is 2-D: .T is the transpose on arrays and Tensors alike
            if len(needs) > 2 and needs[2]:
                gb = sum_leading(g2, 1)
        return gx, gw, gb

    @staticmethod
    def inline(args, params, out, needs, grads, donated, into):
        """The rules above as a jit replay's code, for float matrices x and W (2-D, one dtype)."""
        if not all(_float_matrix(a, args[0].dtype) for a in args[:2]):
            return None
        forward = "{o} = _np.matmul({a0}, {a1}.T)" + ("; _np.add({o}, {a2}, out={o})" if len(args) > 2 else "")
        dtype = np.dtype(args[0].dtype)
        blas = dtype in _BLAS_FLOATS  # where sum_leading of a matrix is ones @ g
        bias = "{d2} = _np.matmul({ones}, {g}" + (", out={d2_buffer})" if "d2" in into else ")")
        bias = bias if blas else "{d2} = {sum_leading}({g}, 1)"
        weight = "{d1} = _np.matmul({g}.T, {a0}" + (", out={d1_buffer})" if "d1" in into else ")")
        steps = ("{d0} = _np.matmul({g}, {a1})", weight, bias)
        backward = "; ".join(step for step, d in zip(steps, grads or ()) if d is not None)
        constants = {"ones": ones_vector(args[0].shape[0], dtype)} if blas else {"sum_leading": sum_leading}
        return forward, backward, constants

    @staticmethod
    def jvp(ctx, tx, tw, tb=None):
        x, w = ctx.saved_tensors
        total = None
        terms = (Linear.apply(tx, w) if tx is not None else None, Linear.apply(x, tw) if tw is not None else None, tb)
        for term in terms:
            if term is not None:
                total = term if total is None else total + term
        return full_tangent(ctx, total)


def _float_matrix(atom, dtype):
    shape, atom_dtype = getattr(atom, "shape", None), getattr(atom, "dtype", None)
    return shape is not None and len(shape) == 2 and atom_dtype == dtype and np.dtype(dtype).kind == "f"


@export(namespaces=("nn.functional",))
def linear(x: TensorLike, weight: TensorLike | None, bias: TensorLike | None = None) -> Tensor:
    """x W^T + b, as torch.nn.functional.linear (x: (..., in), W: (out, in), b: (out,))."""
    if bias is not None:
        refuse_text("linear", bias)
    xs, ws = np.shape(as_array(x)), np.shape(as_array(weight))
    if len(ws) != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise RuntimeError(
            f"linear: input of shape {xs} has {xs[-1] if xs else 'no'} features in its last dimension, "
            f"but the weight of shape {ws} expects {ws[1]}"
        )
    if bias is None:
        return Linear.apply(x, weight)
    if np.shape(as_array(bias)) != (ws[0],):  # () or (1,): broadcast as torch does, summed back by add's rule
        return Linear.apply(x, weight) + bias
    return Linear.apply(x, weight, bias)


# ----- batched products: bmm and the fused baddbmm -----


def _ieee():
    """inf and NaN propagate as IEEE says, without NumPy's RuntimeWarning (CONTRIBUTING.md, "Numerics")."""
    return np.errstate(invalid="ignore", over="ignore")


def _check_batches(op, b1, b2, names=("batch1", "batch2")):
    s1, s2 = np.shape(as_array(b1)), np.shape(as_array(b2))
    for name, s in zip(names, (s1, s2)):
        if len(s) != 3:
            raise RuntimeError(
                f"{op}: {name} must be a 3D tensor (batch, rows, columns), got shape {tuple(s)}; use matmul for "
                "other ranks (it broadcasts batch dimensions)"
            )
    if s2[:2] != (s1[0], s1[2]):
        raise RuntimeError(
            f"{op}: Expected size for first two dimensions of {names[1]} tensor to be: [{s1[0]}, {s1[2]}] but got: "
            f"[{s2[0]}, {s2[1]}] (shapes {tuple(s1)} and {tuple(s2)}); the batch sizes must be equal and the "
            f"columns of {names[0]} must equal the rows of {names[1]}"
        )
    d1, d2 = as_array(b1).dtype, as_array(b2).dtype
    if d1 != d2:
        raise RuntimeError(
            f"{op}: expected both operands to have the same dtype, but got {d1} and {d2}; convert one first, "
            "e.g. b.to(a.dtype)"
        )
    return (s1[0], s1[1], s2[2])


@export("Matmul", method=True, torch_kwargs="out")
def bmm(input: TensorLike, mat2: TensorLike) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors: out[i] = input[i] @ mat2[i], as torch.bmm
    (no broadcasting: use matmul for that).

    Example:
        >>> chainrule.bmm(chainrule.randn(8, 3, 4), chainrule.randn(8, 4, 5)).shape   # (8, 3, 5)
    """
    _check_batches("bmm", input, mat2, names=("batch1", "batch2"))
    with _ieee():  # inf * 0 and inf - inf give NaN silently, as in PyTorch (one context per batched call)
        return Matmul.apply(input, mat2)


class Baddbmm(Primitive):
    """out = beta * input + alpha * (batch1 @ batch2), input broadcast to (b, n, p); beta = 0 ignores input
    (even its NaNs), as in PyTorch.

    d/d input: beta g (summed back to input's shape);  d/d batch1: alpha g @ batch2^T;
    d/d batch2: alpha batch1^T @ g.   One node, like linear: the fused step of attention scores.
    """

    @staticmethod
    def forward(ctx, x, b1, b2, beta=1, alpha=1):
        needs = ctx.needs_input_grad
        if needs:
            ctx.shapes = np.shape(x)
            ctx.scales = (beta, alpha)
            ctx.save_for_backward(b1 if needs[2] else None, b2 if needs[1] else None)
        with _ieee():
            out = np.matmul(b1, b2)
            if alpha != 1:
                out *= alpha
            if beta != 0:
                out += x if beta == 1 else beta * x
        return out

    @staticmethod
    def backward(ctx, g):
        b1, b2 = ctx.saved_tensors
        beta, alpha = ctx.scales
        need_x, need_1, need_2 = ctx.needs_input_grad
        ga = g * alpha if alpha != 1 else g
        gx = unbroadcast(g * beta if beta != 1 else g, ctx.shapes) if need_x else None
        g1 = ga @ transpose(b2, 1, 2) if need_1 else None
        g2 = transpose(b1, 1, 2) @ ga if need_2 else None
        return gx, g1, g2

    @staticmethod
    def jvp(ctx, tx, t1, t2):
        b1, b2 = ctx.saved_tensors
        beta, alpha = ctx.scales
        total = None
        for term in (t1 @ b2 if t1 is not None else None, b1 @ t2 if t2 is not None else None):
            if term is not None:
                total = term if total is None else total + term
        if total is not None and alpha != 1:
            total = total * alpha
        if tx is not None:
            tx = tx * beta
            total = tx if total is None else total + tx
        return full_tangent(ctx, total)


@export(Baddbmm, method=True, torch_kwargs="out")
def baddbmm(input: TensorLike, batch1: TensorLike, batch2: TensorLike, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2), as torch.baddbmm: batch1 (b, n, m), batch2 (b, m, p),
    input broadcastable to (b, n, p). With beta = 0, input is ignored (NaN and inf in it do not propagate).

    Example:
        >>> scores = chainrule.baddbmm(bias, q, k.transpose(1, 2), alpha=d ** -0.5)   # (b, n, n)
    """
    shape = _check_batches("baddbmm", batch1, batch2)
    xs = np.shape(as_array(input))
    if len(xs) > 3 or any(s not in (1, t) for s, t in zip(xs[::-1], shape[::-1])):
        raise RuntimeError(
            f"baddbmm: input of shape {tuple(xs)} cannot be broadcast to the product's shape {shape} "
            f"(batch1 {np.shape(as_array(batch1))} @ batch2 {np.shape(as_array(batch2))}); each of its dimensions, "
            "aligned from the right, must equal the product's or be 1"
        )
    dx, d1 = getattr(as_array(input), "dtype", None), as_array(batch1).dtype
    if dx is not None and dx != d1:
        raise RuntimeError(
            f"baddbmm: expected input and batch1 to have the same dtype, but got {dx} and {d1}; convert one first, "
            "e.g. input.to(batch1.dtype)"
        )
    return Baddbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)
