"""Layer primitives: the fused affine map (linear), N-d convolution (1-D and 2-D) with its two
transposes, and pooling built on them.

Convolution is im2col: a strided view of the (padded) input lists every receptive field, one copy
lays those out as a matrix, and a single GEMM does the rest. Its backward is two more primitives,
ConvInputGrad (col2im, the transposed convolution) and ConvWeightGrad, which are each other's
and Conv's transposes, so gradients of any order stay GEMM-based.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function
from ._util import as_array
from .shape import getitem, reshape, transpose


# ----- dense -----

class Linear(Function):
    """y = x W^T + b for x of shape (..., in), W (out, in), b (out,) or None.

    dy/dx: g W;  dy/dW: g^T x (leading axes summed);  dy/db: g summed over leading axes.
    One node instead of three (transpose, matmul, add): it is the hot op of every MLP.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        need_x, need_w = (ctx.needs_input_grad or (False, False, False))[:2]
        ctx.save_for_backward(x if need_w else None, w if need_x else None)
        out = np.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = g @ w
        if needs[1] or (len(needs) > 2 and needs[2]):
            g2 = g.reshape((-1, g.shape[-1])) if len(g.shape) != 2 else g
            if needs[1]:
                x2 = x.reshape((-1, x.shape[-1])) if len(x.shape) != 2 else x
                gw = transpose(g2, 0, 1) @ x2
            if len(needs) > 2 and needs[2]:
                gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(x, weight, bias=None):
    """x W^T + b, as torch.nn.functional.linear (x: (..., in), W: (out, in), b: (out,))."""
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
