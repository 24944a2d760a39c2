"""Linear algebra: matmul (1-D, 2-D and batched, with broadcasting), the fused affine map `linear`
(x W^T + b), and dot and outer built on matmul."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export, full_tangent
from ._util import as_array, refuse_text, unbroadcast
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
                gw = transpose(g2, 0, 1) @ x2
            if len(needs) > 2 and needs[2]:
                gb = g2.sum(axis=0)
        return gx, gw, gb

    @staticmethod
    def jvp(ctx, tx, tw, tb=None):
        x, w = ctx.saved_tensors
        total = None
        terms = (Linear.apply(tx, w) if tx is not None else None, Linear.apply(x, tw) if tw is not None else None, tb)
        for term in terms:
            if term is not None:
                total = term if total is None else total + term
        return full_tangent(ctx, total)


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
    return Linear.apply(x, weight, bias)
