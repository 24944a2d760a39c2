"""Convolution primitives: N-d convolution (1-D and 2-D) with its two transposes, and pooling built
on them (the fused affine map, linear, is in linalg.py).

Convolution is im2col: a strided view of the (padded) input lists every receptive field, one copy
lays those out as a matrix, and a single GEMM does the rest. Its backward is two more primitives,
ConvInputGrad (col2im, the transposed convolution) and ConvWeightGrad, which are each other's
and Conv's transposes, so gradients of any order stay GEMM-based.

NOTE: over 500 lines: the three convolution primitives are each other's transposes and share the
window and padding helpers; pooling reuses them. Split, one part would only be read with the other.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._files import format_bytes, physical_memory
from ..autograd.function import _NULL_CTX
from ..autograd.primitive import Primitive, export
from ._util import ArgumentError, as_array, int_arg, need_tensor
from .elementwise import _plain
from .shape import Getitem, reshape

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Tensor, TensorLike


def _sum_present(terms, ctx):
    """The sum of the tangent terms that exist, at the node's output shape (for jvp rules)."""
    from .shape import broadcast_to

    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total if tuple(total.shape) == ctx.shape else broadcast_to(total, ctx.shape)


# ----- convolution: shared helpers -----


def _prod(values):
    return int(math.prod(values))


def _windows(xp, kernel, stride, dilation):
    """Strided view (N, C, *L, *K) of every receptive field of the padded input xp (no copy)."""
    d = len(kernel)
    eff = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    win = sliding_window_view(xp, eff, axis=tuple(range(2, 2 + d)))
    index = (
        (slice(None), slice(None))
        + tuple(slice(None, None, s) for s in stride)
        + tuple(slice(None, None, dl) for dl in dilation)
    )
    return win[index]


def _pad_input(x, padding, value=0.0):
    if any(lo or hi for lo, hi in padding):
        return np.pad(x, ((0, 0), (0, 0)) + tuple(padding), mode="constant", constant_values=value)
    return x


def _move(a, source, dest):
    """np.moveaxis without its argument normalization (it runs several times per conv call)."""
    nd = a.ndim
    source, dest = source % nd, dest % nd
    order = [i for i in range(nd) if i != source]
    order.insert(dest, source)
    return a.transpose(order)


def _channels_last(x, padding):
    """x (N, C, *S) as a zero-padded, contiguous (N, *S_padded, C) copy: the inner axis is the channel."""
    n, c = x.shape[:2]
    sizes = x.shape[2:]
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    if not any(lo or hi for lo, hi in padding):
        return np.ascontiguousarray(x.transpose(perm))
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(sizes, padding))
    out = np.zeros((n,) + padded + (c,), dtype=x.dtype)
    out[(slice(None),) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sizes, padding))] = x.transpose(perm)
    return out


def _offset_slices(offset, stride, dilation, out_sizes):
    """For kernel offset k, the input positions k*dilation + l*stride (l < L) along each spatial axis."""
    return tuple(
        slice(k * dl, k * dl + st * (size - 1) + 1, st) for k, dl, st, size in zip(offset, dilation, stride, out_sizes)
    )


def _im2col(x, kernel, stride, padding, dilation, groups):
    """The input's receptive fields as a (G, N*prod(L), prod(K)*C/G) matrix, and L.

    Columns are ordered (kernel offset, channel). Built channel-last, one contiguous copy per kernel
    offset, which is much faster than copying a strided window view with a tiny inner axis.
    """
    d = len(kernel)
    n, c = x.shape[:2]
    cg = c // groups
    out_sizes = _out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    xt = _channels_last(x, padding)
    xt = xt.reshape(xt.shape[:-1] + (groups, cg))  # (N, *Sp, G, Cg)
    cols = np.empty((groups, n) + out_sizes + tuple(kernel) + (cg,), dtype=x.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        src = xt[(slice(None),) + _offset_slices(offset, stride, dilation, out_sizes)]  # (N, *L, G, Cg)
        cols[(slice(None),) * (2 + d) + offset] = _move(src, -2, 0)
    return cols.reshape(groups, n * _prod(out_sizes), _prod(kernel) * cg), out_sizes


def _weight_matrix(w, groups):
    """w (O, Cg, *K) as (G, O/G, prod(K)*Cg), columns ordered (kernel offset, channel) like _im2col."""
    o, cg = w.shape[:2]
    perm = (0,) + tuple(range(2, w.ndim)) + (1,)
    return w.transpose(perm).reshape(groups, o // groups, -1)


def _out_sizes(in_sizes, kernel, stride, padding, dilation):
    return tuple(
        (s + lo + hi - dl * (k - 1) - 1) // st + 1
        for s, k, st, (lo, hi), dl in zip(in_sizes, kernel, stride, padding, dilation)
    )


def _grad_matrix(g, groups):
    """The output gradient (N, O, *L) as (G, N*prod(L), O/G), matching _im2col's rows."""
    n, o = g.shape[:2]
    sizes = g.shape[2:]
    g = g.reshape((n, groups, o // groups, _prod(sizes)))
    return g.transpose(1, 0, 3, 2).reshape(groups, n * _prod(sizes), o // groups)


def _conv_forward(x, w, stride, padding, dilation, groups):
    o = w.shape[0]
    kernel = w.shape[2:]
    n = x.shape[0]
    d = len(kernel)
    if x.size == 0:  # an empty batch: an empty result of the right shape (as torch)
        out_sizes = _out_sizes(x.shape[2:], kernel, stride, padding, dilation)
        return np.zeros((n, o) + out_sizes, dtype=np.result_type(x, w)), None
    cols, out_sizes = _im2col(x, kernel, stride, padding, dilation, groups)
    w_mat = _weight_matrix(w, groups)
    if groups == 1:
        out = cols[0] @ w_mat[0].T  # one GEMM: (N*L, O)
        out = _move(out.reshape((n,) + out_sizes + (o,)), -1, 1)
    else:
        out = np.matmul(cols, w_mat.transpose(0, 2, 1))  # (G, N*L, O/G): one GEMM per group
        out = out.reshape((groups, n) + out_sizes + (o // groups,))
        out = out.transpose((1, 0, 2 + d) + tuple(range(2, 2 + d))).reshape((n, o) + out_sizes)
    return np.ascontiguousarray(out), cols


class Conv(Primitive):
    """y[n, o, l] = sum_{c, k} x_pad[n, c, l*stride + k*dilation] w[o, c, k] (+ b[o]), 1-D or 2-D, grouped.

    dy/dx: the transposed convolution of g with w (ConvInputGrad);
    dy/dw: the correlation of x with g (ConvWeightGrad);  dy/db: g summed over batch and space.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, stride=(1,), padding=((0, 0),), dilation=(1,), groups=1):
        out, cols = _conv_forward(x, w, stride, padding, dilation, groups)
        if b is not None:
            out += b.reshape((-1,) + (1,) * (out.ndim - 2))
        needs = ctx.needs_input_grad
        if needs:
            ctx.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            ctx.x_shape, ctx.kernel = x.shape, w.shape[2:]
            ctx.save_for_backward(x if needs[1] else None, w if needs[0] else None)
            if needs[1]:
                ctx.cols = cols  # reused by the weight gradient (saves a second im2col)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = ConvInputGrad.apply(g, w, x_shape=ctx.x_shape, **ctx.params)
        if needs[1]:
            gw = ConvWeightGrad.apply(x, g, kernel=ctx.kernel, cols=ctx.__dict__.pop("cols", None), **ctx.params)
        if len(needs) > 2 and needs[2]:
            # NOTE: the batch axis, then the (contiguous) spatial axes: one NumPy reduction over axes
            # (0, 2, ...) is 6-8x slower on a short spatial axis (100x25x19 float32: 54 us against 8 us).
            gb = g.sum(axis=0)
            gb = gb.sum(axis=tuple(range(1, len(gb.shape))))
        return gx, gw, gb

    @staticmethod
    def jvp(ctx, tx, tw, tb=None):
        x, w = ctx.saved_tensors
        terms = [
            Conv.apply(tx, w, **ctx.params) if tx is not None else None,
            Conv.apply(x, tw, **ctx.params) if tw is not None else None,
            tb.reshape((-1,) + (1,) * (len(ctx.shape) - 2)) if tb is not None else None,
        ]
        return _sum_present(terms, ctx)


class ConvInputGrad(Primitive):
    """x_hat = the transposed convolution of g with w (col2im), the adjoint of x -> Conv(x, w).

    <ConvInputGrad(g, w), h> = <g, Conv(h, w)>, so d/dg is Conv(h, w) and d/dw is ConvWeightGrad(h, g).
    """

    @staticmethod
    def forward(ctx, g, w, x_shape=None, stride=(1,), padding=((0, 0),), dilation=(1,), groups=1):
        if ctx.needs_input_grad:
            ctx.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            ctx.kernel, ctx.out_sizes = w.shape[2:], g.shape[2:]
            ctx.save_for_backward(g if ctx.needs_input_grad[1] else None, w if ctx.needs_input_grad[0] else None)
        n, c = x_shape[:2]
        if g.size == 0:
            return np.zeros(x_shape, dtype=np.result_type(g, w))
        kernel = w.shape[2:]
        d = len(kernel)
        cg = c // groups
        out_sizes = g.shape[2:]
        dcols = np.matmul(_grad_matrix(g, groups), _weight_matrix(w, groups))  # (G, N*L, K*Cg)
        dcols = dcols.reshape((groups, n) + tuple(out_sizes) + tuple(kernel) + (cg,))
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], padding))
        xt = np.zeros((n,) + padded + (groups, cg), dtype=np.result_type(g, w))  # channel-last
        # col2im: every kernel offset adds its columns back onto the input positions it read. Offsets
        # whose positions differ modulo the stride never overlap, so the first offset of each residue
        # writes instead of adding (a strided add costs ~1.6x a strided write: 53 -> 33 us at 100x25x19).
        residues = set()
        for offset in itertools.product(*(range(k) for k in kernel)):
            target = (slice(None),) + _offset_slices(offset, stride, dilation, out_sizes)
            cols = _move(dcols[(slice(None),) * (2 + d) + offset], 0, -2)
            residue = tuple(k * dl % st for k, dl, st in zip(offset, dilation, stride))
            if residue in residues:
                xt[target] += cols
            else:
                residues.add(residue)
                xt[target] = cols
        crop = (slice(None),) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], padding))
        xt = xt[crop].reshape((n,) + tuple(x_shape[2:]) + (c,))
        return np.ascontiguousarray(_move(xt, -1, 1))

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved_tensors
        h, params = _fit_windows(h, ctx.out_sizes, ctx.kernel, ctx.params)
        gg = gw = None
        if ctx.needs_input_grad[0]:
            gg = Conv.apply(h, w, **params)
        if ctx.needs_input_grad[1]:
            gw = ConvWeightGrad.apply(h, g, kernel=ctx.kernel, **params)
        return gg, gw

    @staticmethod
    def jvp(ctx, tg, tw):
        g, w = ctx.saved_tensors
        terms = [
            ConvInputGrad.apply(tg, w, x_shape=ctx.shape, **ctx.params) if tg is not None else None,
            ConvInputGrad.apply(g, tw, x_shape=ctx.shape, **ctx.params) if tw is not None else None,
        ]
        return _sum_present(terms, ctx)


def _fit_windows(h, out_sizes, kernel, params):
    """h (N, C, *S) and padding such that a Conv with `params` has exactly `out_sizes` windows.

    A transposed convolution's output_padding adds positions at the end that no window reads: the
    adjoint Conv would slide extra windows over them. Keep the padded length (n - 1) stride + span that
    the n windows read: crop h, or shorten its right padding.
    """
    shape = np.shape(as_array(h))[2:]
    stride, dilation, padding = params["stride"], params["dilation"], params["padding"]
    if _out_sizes(shape, kernel, stride, padding, dilation) == tuple(out_sizes):
        return h, params
    crop, pads = [], []
    for size, n, k, st, dl, (lo, _hi) in zip(shape, out_sizes, kernel, stride, dilation, padding):
        need = (n - 1) * st + dl * (k - 1) + 1
        keep = min(size, max(0, need - lo))
        crop.append(slice(0, keep))
        pads.append((lo, max(0, need - lo - keep)))
    return h[(slice(None), slice(None)) + tuple(crop)], dict(params, padding=tuple(pads))


class ConvWeightGrad(Primitive):
    """w_hat[o, c, k] = sum_{n, l} g[n, o, l] x_pad[n, c, l*stride + k*dilation]: Conv's weight gradient.

    <ConvWeightGrad(x, g), v> = <g, Conv(x, v)>, so d/dx is ConvInputGrad(g, v) and d/dg is Conv(x, v).
    `kernel` is the weight's spatial size (with stride > 1 it is not implied by the shapes).
    """

    @staticmethod
    def forward(ctx, x, g, kernel=None, cols=None, stride=(1,), padding=((0, 0),), dilation=(1,), groups=1):
        if ctx.needs_input_grad:
            ctx.params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            ctx.x_shape = x.shape
            ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, g if ctx.needs_input_grad[0] else None)
        c = x.shape[1]
        o = g.shape[1]
        if x.size == 0 or g.size == 0:
            return np.zeros((o, c // groups) + tuple(kernel), dtype=np.result_type(x, g))
        if cols is None:
            cols, _ = _im2col(x, kernel, stride, padding, dilation, groups)
        g_mat = _grad_matrix(g, groups).transpose(0, 2, 1)  # (G, O/G, N*L)
        gw = np.matmul(g_mat, cols)  # (G, O/G, K*Cg): one GEMM per group
        gw = gw.reshape((o,) + tuple(kernel) + (c // groups,))
        return np.ascontiguousarray(_move(gw, -1, 1))

    @staticmethod
    def backward(ctx, v):
        x, g = ctx.saved_tensors
        gx = gg = None
        if ctx.needs_input_grad[0]:
            gx = ConvInputGrad.apply(g, v, x_shape=ctx.x_shape, **ctx.params)
        if ctx.needs_input_grad[1]:
            gg = Conv.apply(x, v, **ctx.params)
        return gx, gg

    @staticmethod
    def jvp(ctx, tx, tg):
        x, g = ctx.saved_tensors
        kernel = ctx.shape[2:]
        terms = [
            ConvWeightGrad.apply(tx, g, kernel=kernel, **ctx.params) if tx is not None else None,
            ConvWeightGrad.apply(x, tg, kernel=kernel, **ctx.params) if tg is not None else None,
        ]
        return _sum_present(terms, ctx)


# ----- convolution: public functions -----


def _ntuple(value, d, name, op):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    if not isinstance(value, (tuple, list)):
        value = (value,) * d
    value = tuple(int_arg(op, name, v) for v in value)
    if len(value) != d:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value}")
    return value


def _padding_pairs(padding, kernel, dilation, stride, d, op):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
            pairs = []
            for k, dl in zip(kernel, dilation):
                total = dl * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    pads = _ntuple(padding, d, "padding", op)
    if any(p < 0 for p in pads):
        raise ArgumentError(f"{op}: negative padding is not supported: padding must be >= 0, got {pads}")
    return tuple((p, p) for p in pads)


def _batched(x, d, op):
    """(input, was_unbatched): accept (C, *S) as PyTorch does by adding a batch dim of 1."""
    shape = np.shape(as_array(x))
    if len(shape) == d + 1:
        return reshape(x, (1,) + shape), True
    if len(shape) != d + 2:
        kind = "(N, C, L)" if d == 1 else "(N, C, H, W)"
        raise RuntimeError(
            f"{op}: expected a {d + 2}-D input {kind} (or {d + 1}-D without the batch), got shape {shape}"
        )
    return x, False


def _unbatch(out, unbatched):
    return reshape(out, np.shape(as_array(out))[1:]) if unbatched else out


def _check_bias(op, bias, weight_shape, out_channels):
    """bias must be (out_channels,), as torch requires: a bias of 1 element is refused, not broadcast."""
    if bias is not None and np.shape(as_array(bias)) != (out_channels,):
        raise RuntimeError(
            f"{op}: given a weight of shape {weight_shape}, expected bias to be 1-dimensional with {out_channels} "
            f"elements (out_channels), but got bias of shape {np.shape(as_array(bias))}"
        )


def _conv(x, weight, bias, stride, padding, dilation, groups, d, op):
    if bias is not None:
        need_tensor(op, bias, "bias")
    x, unbatched = _batched(x, d, op)
    xs, ws = np.shape(as_array(x)), np.shape(as_array(weight))
    if len(ws) != d + 2:
        raise RuntimeError(f"{op}: weight must be {d + 2}-D (out_channels, in_channels/groups, *kernel), got {ws}")
    groups = int(groups)
    if groups < 1:
        raise ArgumentError(
            f"{op}: groups must be greater than zero (non-positive groups is not supported), got {groups}"
        )
    if xs[1] != ws[1] * groups:
        raise RuntimeError(
            f"{op}: input has {xs[1]} channels (shape {xs}), but the weight of shape {ws} with groups={groups} "
            f"expects {ws[1] * groups}. Check in_channels of the layer or the previous layer's out_channels."
        )
    if ws[0] % groups:
        raise RuntimeError(f"{op}: out_channels {ws[0]} must be divisible by groups={groups}")
    _check_bias(op, bias, ws, ws[0])
    kernel = ws[2:]
    stride = _ntuple(stride, d, "stride", op)
    dilation = _ntuple(dilation, d, "dilation", op)
    _check_positive(op, stride=stride, dilation=dilation)
    _check_positive(op, stride=stride, dilation=dilation)
    pads = _padding_pairs(padding, kernel, dilation, stride, d, op)
    sizes = _out_sizes(xs[2:], kernel, stride, pads, dilation)
    if any(s < 1 for s in sizes):
        raise RuntimeError(
            f"{op}: the input's spatial size {xs[2:]} (padding {tuple(p[0] for p in pads)}) is smaller than the "
            f"dilated kernel {tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))}; pad the input or "
            "use a smaller kernel."
        )
    params = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    out = Conv.apply(x, weight, **params) if bias is None else Conv.apply(x, weight, bias, **params)
    return _unbatch(out, unbatched)


@export(namespaces=("nn.functional",))
def conv1d(
    input: TensorLike,
    weight: TensorLike | None,
    bias: TensorLike | None = None,
    stride: int | Sequence[int] | None = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation, as torch.nn.functional.conv1d.

    input (N, C_in, L), weight (C_out, C_in/groups, K), bias (C_out,) -> (N, C_out, L_out) with
    L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1. padding may be 'same' or 'valid'.
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@export(namespaces=("nn.functional",))
def conv2d(
    input: TensorLike,
    weight: TensorLike | None,
    bias: TensorLike | None = None,
    stride: int | Sequence[int] | None = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as torch.nn.functional.conv2d: (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    Example:
        >>> x = chainrule.randn(2, 3, 5, 5); w = chainrule.randn(4, 3, 3, 3)
        >>> conv2d(x, w, padding=1).shape
        (2, 4, 5, 5)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, d, op):
    x, unbatched = _batched(x, d, op)
    xs, ws = np.shape(as_array(x)), np.shape(as_array(weight))
    if len(ws) != d + 2 or xs[1] != ws[0]:
        raise RuntimeError(
            f"{op}: weight must be (in_channels, out_channels/groups, *kernel) with in_channels = {xs[1]} "
            f"(the input's channels), got weight shape {ws}"
        )
    kernel = ws[2:]
    stride = _ntuple(stride, d, "stride", op)
    dilation = _ntuple(dilation, d, "dilation", op)
    _check_positive(op, stride=stride, groups=(int(groups),))
    # A dilation does not matter for a 1-wide kernel: PyTorch's transposed convolution allows 0 there.
    if any(dl < (1 if k > 1 else 0) for dl, k in zip(dilation, kernel)):
        raise ArgumentError(f"{op}: dilation must be greater than zero, got {dilation}")
    pads = tuple((p, p) for p in _ntuple(padding, d, "padding", op))
    if any(p < 0 for p, _ in pads):
        raise ArgumentError(f"{op}: negative padding is not supported: padding must be >= 0, got {padding}")
    out_pad = _ntuple(output_padding, d, "output_padding", op)
    if any(o >= max(st, dl) or o < 0 for o, st, dl in zip(out_pad, stride, dilation)):
        raise RuntimeError(
            f"{op}: output padding must be smaller than either stride or dilation, but got output_padding "
            f"{out_pad}, stride {stride} and dilation {dilation}; use output_padding < stride."
        )
    sizes = tuple(
        (n - 1) * st - 2 * p + dl * (k - 1) + op_ + 1
        for n, st, (p, _), dl, k, op_ in zip(xs[2:], stride, pads, dilation, kernel, out_pad)
    )
    if any(s < 1 for s in sizes):  # torch refuses an empty output too
        raise RuntimeError(
            f"{op}: Output size is too small: input size per channel {xs[2:]} gives an output of "
            f"{sizes} with padding {tuple(p for p, _ in pads)}; use less padding."
        )
    x_shape = (xs[0], ws[1] * int(groups)) + sizes
    _check_bias(op, bias, ws, x_shape[1])
    out = ConvInputGrad.apply(
        x, weight, x_shape=x_shape, stride=stride, padding=pads, dilation=dilation, groups=int(groups)
    )
    if bias is not None:
        out = out + reshape(bias, (-1,) + (1,) * d)
    return _unbatch(out, unbatched)


@export(namespaces=("nn.functional",))
def conv_transpose1d(
    input: TensorLike,
    weight: TensorLike | None,
    bias: TensorLike | None = None,
    stride: int | Sequence[int] | None = 1,
    padding: int | Sequence[int] | str = 0,
    output_padding: int | Sequence[int] = 0,
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
) -> Tensor:
    """The transposed 1-D convolution (the gradient of conv1d with respect to its input)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )


@export(namespaces=("nn.functional",))
def conv_transpose2d(
    input: TensorLike,
    weight: TensorLike | None,
    bias: TensorLike | None = None,
    stride: int | Sequence[int] | None = 1,
    padding: int | Sequence[int] | str = 0,
    output_padding: int | Sequence[int] = 0,
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
) -> Tensor:
    """The transposed 2-D convolution (the gradient of conv2d with respect to its input)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )


# ----- pooling: MaxPool, and average pooling built on Conv -----


def _check_positive(op, **values):
    """Kernel sizes, strides and dilations must be >= 1 (a 0 would divide by zero, a negative run backwards)."""
    for name, value in values.items():
        if any(v < 1 for v in value):
            raise ArgumentError(f"{op}: {name} must be greater than zero, got {value}")


def _pool_params(kernel_size, stride, padding, dilation, d, op):
    kernel = _ntuple(kernel_size, d, "kernel_size", op)
    stride = (
        kernel
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else _ntuple(stride, d, "stride", op)
    )
    pads = _ntuple(padding, d, "padding", op)
    dilation = _ntuple(dilation, d, "dilation", op)
    _check_positive(op, kernel_size=kernel, stride=stride, dilation=dilation)
    if any(p < 0 for p in pads):
        raise ArgumentError(f"{op}: pad must be non-negative, got padding {pads}")
    # PyTorch's bound (on the kernel size, whatever the dilation).
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ArgumentError(f"{op}: padding {pads} must be at most half the kernel size {kernel}")
    return kernel, stride, tuple((p, p) for p in pads), dilation


def _ceil_pads(in_sizes, kernel, stride, pads, dilation):
    """ceil_mode=True: extra right padding so that a last, partial window counts (PyTorch's rule).

    Output size ceil((L + 2p - d(k - 1) - 1) / s) + 1, less one when the last window would start
    in the right padding (at or past L + p): no window lies entirely in the padding.
    """
    out = []
    for size, k, st, (lo, hi), dl in zip(in_sizes, kernel, stride, pads, dilation):
        span = dl * (k - 1) + 1
        n = -(-(size + lo + hi - span) // st) + 1
        if (n - 1) * st >= size + lo:
            n -= 1
        out.append((lo, hi + max(0, (n - 1) * st + span - (size + lo + hi))))
    return tuple(out)


def _pool_winners(x, kernel, stride, pads, dilation):
    """The index tuple of each window's maximum in x (N, C, *L): ties go to the first, as PyTorch."""
    d = len(kernel)
    sizes = _out_sizes(x.shape[2:], kernel, stride, pads, dilation)
    # NOTE: padding is -inf, so a padded position never wins.
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _windows(_pad_input(x, pads, fill), kernel, stride, dilation)
    n, c = x.shape[:2]
    flat = win.reshape((n, c) + tuple(sizes) + (_prod(kernel),))
    offsets = np.unravel_index(np.argmax(flat, axis=-1), kernel)
    index = [np.arange(n).reshape((n,) + (1,) * (d + 1)), np.arange(c).reshape((1, c) + (1,) * d)]
    for i in range(d):
        shape = [1] * (d + 2)
        shape[2 + i] = sizes[i]
        index.append(np.arange(sizes[i]).reshape(shape) * stride[i] + offsets[i] * dilation[i] - pads[i][0])
    return tuple(index)


def _flat_winners(x, kernel, stride, pads, dilation):
    """return_indices: each maximum's position in the flattened spatial dims (PyTorch's convention)."""
    index = _pool_winners(x, kernel, stride, pads, dilation)
    full = x.shape[:2] + tuple(_out_sizes(x.shape[2:], kernel, stride, pads, dilation))
    return np.ravel_multi_index(tuple(np.broadcast_to(i, full) for i in index[2:]), x.shape[2:]).astype(np.int64)


class MaxPool(Getitem):
    """y = the maximum of each window of x (N, C, *L): x at the index of each window's winner.

    dy/dx: each output's gradient goes to its window's winner (summed where windows overlap),
    Getitem's backward. The winners are found in forward, so a jit replay follows them too.
    """

    @staticmethod
    def forward(ctx, x, kernel=(), stride=(), pads=(), dilation=()):
        ctx.index = _pool_winners(x, kernel, stride, pads, dilation)
        ctx.in_shape = x.shape
        return x[ctx.index]


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d, op):
    x, unbatched = _batched(x, d, op)
    kernel, stride, pads, dilation = _pool_params(kernel_size, stride, padding, dilation, d, op)
    shape = np.shape(as_array(x))
    if ceil_mode:  # the extra right padding is -inf, as the rest: it never wins
        pads = _ceil_pads(shape[2:], kernel, stride, pads, dilation)
    sizes = _out_sizes(shape[2:], kernel, stride, pads, dilation)
    if any(s < 1 for s in sizes):
        raise RuntimeError(f"{op}: input of shape {shape} is smaller than the kernel {kernel}")
    params = dict(kernel=kernel, stride=stride, pads=pads, dilation=dilation)
    out = _unbatch(MaxPool.apply(x, **params), unbatched)
    if return_indices:
        indices = _plain(functools.partial(_flat_winners, **params), x)
        return out, _unbatch(indices, unbatched)
    return out


@export(namespaces=("nn.functional",))
def max_pool1d(
    input: TensorLike,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over each window of `kernel_size` (stride defaults to kernel_size), as torch."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


@export(namespaces=("nn.functional",))
def max_pool2d(
    input: TensorLike,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over each kernel_size window of (N, C, H, W) (stride defaults to kernel_size), as torch."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d, op):
    try:
        return _avg_pool_checked(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d, op)
    except MemoryError:  # under a memory limit (ulimit -v, a container) below the machine's memory
        raise RuntimeError(
            f"{op}: not enough memory for kernel_size {kernel_size} with padding {padding}; use a smaller "
            "kernel_size or padding"
        ) from None


def _avg_pool_checked(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d, op):
    x, unbatched = _batched(x, d, op)
    kernel, stride, pads, dilation = _pool_params(kernel_size, stride, padding, 1, d, op)
    shape = np.shape(as_array(x))
    sym_pads = pads
    if ceil_mode:
        pads = _ceil_pads(shape[2:], kernel, stride, pads, dilation)
    dtype = np.asarray(as_array(x)).dtype
    n, c = shape[:2]
    sizes = _out_sizes(shape[2:], kernel, stride, pads, dilation)
    if any(s < 1 for s in sizes):
        raise RuntimeError(f"{op}: input of shape {shape} is smaller than the kernel {kernel}")
    # The convolution below holds the padded input and a kernel of ones: refuse what memory cannot hold
    # (a kernel of 2**31 with half of it as padding) before allocating, with the sizes.
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(shape[2:], pads))
    need = max(n * c * math.prod(padded), math.prod(kernel)) * dtype.itemsize
    memory = physical_memory()
    if memory is not None and need > memory:
        raise RuntimeError(
            f"{op}: kernel_size {kernel} with padding {tuple(lo for lo, _ in sym_pads)} on an input of shape {shape} "
            f"needs {format_bytes(need)}, more than this machine's {format_bytes(memory)}; use a smaller kernel_size "
            "or padding"
        )
    # An average is a convolution of each channel with a constant kernel: reuse Conv (and its transposes).
    ones = np.ones((1, 1) + tuple(kernel), dtype=dtype)
    params = dict(stride=stride, padding=pads, dilation=dilation, groups=1)
    total = Conv.apply(reshape(x, (n * c, 1) + shape[2:]), ones, **params)
    total = reshape(total, (n, c) + tuple(sizes))
    if divisor_override:
        return _unbatch(total * (1.0 / divisor_override), unbatched)
    if pads == sym_pads and (count_include_pad or not any(p for p, _ in pads)):
        return _unbatch(total * (1.0 / _prod(kernel)), unbatched)
    if count_include_pad:
        # The divisor counts the input and its symmetric padding, not the right padding ceil_mode adds.
        padded = tuple(n + 2 * lo for n, (lo, _) in zip(shape[2:], sym_pads))
        extra = tuple((0, hi - shi) for (_, hi), (_, shi) in zip(pads, sym_pads))
        counts = Conv.forward(_NULL_CTX, np.ones((1, 1) + padded, dtype=dtype), ones, **dict(params, padding=extra))
    else:
        counts = Conv.forward(_NULL_CTX, np.ones((1, 1) + shape[2:], dtype=dtype), ones, **params)
    return _unbatch(total / counts, unbatched)


@export(namespaces=("nn.functional",))
def avg_pool1d(
    input: TensorLike,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] | str = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window of `kernel_size` (stride defaults to kernel_size), as torch."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


@export(namespaces=("nn.functional",))
def avg_pool2d(
    input: TensorLike,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] | str = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each kernel_size window of (N, C, H, W) (stride defaults to kernel_size), as torch."""
    return _avg_pool(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2, "avg_pool2d"
    )


from .linalg import Linear, linear  # noqa: E402,F401  (moved to linalg.py; kept importable from here)
