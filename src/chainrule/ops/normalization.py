"""Layer normalization as one primitive: the statistics, the normalization and the affine map in
one node, with the closed-form backward and forward-mode rules beside the forward.

A composite of mean, subtract, square, rsqrt and the affine map records nine nodes and makes
about twenty passes over the activations forward and backward; this primitive makes a few. It
is the normalization of every transformer block.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, full_tangent
from ._util import is_tensor, sum_leading, sum_trailing

if TYPE_CHECKING:
    from .._typing import Tensor

_HALF = np.dtype(np.float16)


def _ieee():
    """inf and NaN inputs give NaN statistics silently, as IEEE (and torch) say."""
    return np.errstate(invalid="ignore", divide="ignore", over="ignore")


def _mean(v, axes):
    """The mean over the trailing `axes`, kept as size-1 axes (`sum_trailing`: BLAS on arrays)."""
    width = math.prod(v.shape[-len(axes) :])
    return sum_trailing(v, len(axes)) * (1.0 / width) if width else v.mean(axis=axes, keepdims=True)


def _as(v, dtype):
    """An array gradient back in the input's dtype (float16 statistics were float32); Tensors as they are."""
    return v if is_tensor(v) or v.dtype == dtype else v.astype(dtype)


def _normalized(x, axes, eps):
    """(x - mean) / sqrt(var + eps) and 1 / sqrt(var + eps), on arrays or (recorded) on Tensors."""
    centered = x - _mean(x, axes)
    rstd = (_mean(centered * centered, axes) + eps) ** -0.5
    return centered * rstd, rstd


class LayerNorm(Primitive):
    """y = xh w + b with xh = (x - mean x) / sqrt(var x + eps), mean and (biased) variance over the
    trailing `axes`; w and b are optional (`affine` says which of them follow x).

    dy/dx: with gh = g w (or g) and r = 1 / sqrt(var + eps),
        gx = r (gh - mean(gh) - xh mean(gh xh))
    dy/dw = sum of g xh over the leading axes;   dy/db = sum of g over the leading axes.
    Forward mode: xh' = r (t - mean(t) - xh mean(t xh)), y' = xh' w + xh tw + tb.

    Under create_graph the statistics are recomputed from x with recorded ops, so the rules
    differentiate to any order.
    """

    @staticmethod
    def forward(ctx, x, *params, axes=(-1,), eps=1e-5, affine=(False, False)):
        work = x.astype(np.float32) if x.dtype == _HALF else x  # float16 statistics accumulate in float32
        with _ieee():
            xh, rstd = _normalized(work, axes, eps)
            w = params[0] if affine[0] else None
            y = xh * w if w is not None else xh
            if affine[1]:
                y = y + params[-1] if w is None else np.add(y, params[-1], out=y)  # xh itself is saved
        ctx.axes, ctx.eps, ctx.affine = axes, eps, affine
        ctx.save_for_backward(x, w, xh, rstd)  # saved, not attributes: freed with the graph's saved values
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def _statistics(ctx):
        x, w, xh, rstd = ctx.saved_tensors
        if is_tensor(x):  # create_graph: xh and r as functions of x
            return (*_normalized(x, ctx.axes, ctx.eps), w)
        return xh, rstd, w

    @staticmethod
    def backward(ctx, g):
        xh, rstd, w = LayerNorm._statistics(ctx)
        axes, (has_w, has_b) = ctx.axes, ctx.affine
        needs = ctx.needs_input_grad
        dtype, k = g.dtype, len(axes)
        if dtype == _HALF:
            g = g.astype(np.float32)
        gx = gw = gb = None
        with _ieee():
            if needs[0]:
                gh = g * w if has_w else g
                gx = _as(rstd * (gh - _mean(gh, axes) - xh * _mean(gh * xh, axes)), dtype)
            if has_w and needs[1]:
                gw = _as(sum_leading(g * xh, k), dtype)
            if has_b and needs[-1]:
                gb = _as(sum_leading(g, k), dtype)
        return (gx,) + ((gw,) if has_w else ()) + ((gb,) if has_b else ())

    @staticmethod
    def jvp(ctx, tx, *tparams):
        xh, rstd, w = LayerNorm._statistics(ctx)
        axes, (has_w, has_b) = ctx.axes, ctx.affine
        total = None
        if tx is not None:
            txh = rstd * (tx - _mean(tx, axes) - xh * _mean(tx * xh, axes))
            total = txh * w if has_w else txh
        tw = tparams[0] if has_w else None
        tb = tparams[-1] if has_b else None
        for term in (xh * tw if tw is not None else None, tb):
            if term is not None:
                total = term if total is None else total + term
        return full_tangent(ctx, total)


def layer_norm_primitive(input, normalized_shape, weight, bias, eps) -> Tensor:
    """Call the primitive with the affine parameters that are given (nn.functional.layer_norm checks)."""
    axes = tuple(range(-len(normalized_shape), 0))
    params = tuple(p for p in (weight, bias) if p is not None)
    return LayerNorm.apply(input, *params, axes=axes, eps=float(eps), affine=(weight is not None, bias is not None))
