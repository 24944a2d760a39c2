"""Linear algebra: matmul (1-D, 2-D and batched, with broadcasting), and helpers built on it."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ._util import as_array, unbroadcast
from .shape import transpose


class Matmul(Function):
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
        need_x, need_y = ctx.needs_input_grad or (False, False)
        ctx.save_for_backward(x if need_y else None, y if need_x else None)
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

def matmul(x, y):
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


def dot(x, y):
    """Inner product of two 1-D tensors."""
    if np.ndim(as_array(x)) != 1 or np.ndim(as_array(y)) != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got shapes {np.shape(as_array(x))} and {np.shape(as_array(y))}")
    return Matmul.apply(x, y)


def outer(x, y):
    """Outer product x y^T of two 1-D tensors."""
    if np.ndim(as_array(x)) != 1 or np.ndim(as_array(y)) != 1:
        raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {np.shape(as_array(x))} and "
                           f"{np.shape(as_array(y))}; flatten them first")
    return x.reshape((-1, 1)) * y.reshape((1, -1))


NONDIFFERENTIABLE = ()
