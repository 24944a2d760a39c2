"""Neural-network primitives and losses: softmax and log-softmax (stable primitives), the
losses built from them (cross_entropy, nll_loss, mse_loss, binary cross-entropy) and group_norm.

NOTE: over 500 lines: cross-entropy's fused primitive (class indices, probabilities,
weights, ignore_index, label smoothing) is most of it, and its options belong together; group_norm,
a composite, closes the file.
"""

from __future__ import annotations

import ast
import functools
import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import _dtypes
from ..autograd.primitive import Primitive, UnaryElementwise, export
from ._util import as_array, constant_array, int_arg, is_tensor, need_tensor, sum_trailing
from .elementwise import _plain, cast, clamp, exp, log, softplus
from .reduce import _refuse_non_float, accumulate_half_in_float32
from .reduce import sum as _sum
from .shape import getitem

if TYPE_CHECKING:
    from .._typing import DTypeLike, Tensor, TensorLike


def _axis(dim, ndim, op):
    if dim is None:
        # NOTE: PyTorch's legacy implicit dim: 0 for 0-D, 1-D and 3-D inputs, else 1.
        dim = 0 if ndim in (0, 1, 3) else 1
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim


def _keep_mask(rng, shape, p):
    """Booleans, True with probability 1 - p to within 2^-32: a unit is dropped when a uniform 32-bit
    integer U < t = ceil(p 2^32). U's first byte B decides alone unless it equals t's first byte
    (B > it: kept; B < it: dropped); only those ties, 1 in 256, draw U's other 24 bits. So eight
    units come from each 64-bit draw of the stream, a quarter of the draws of a 32-bit compare."""
    size = math.prod(shape)
    t = math.ceil(p * 2.0**32)
    if t >= 2**32:
        return np.zeros(shape, dtype=bool)
    bits = rng.bit_generator
    first, rest = t >> 24, t & 0xFFFFFF
    top = bits.random_raw((size + 7) // 8).view(np.uint8)[:size]
    keep = top > first
    ties = np.flatnonzero(top == first)
    if ties.size:
        keep[ties] = (bits.random_raw(ties.size) & 0xFFFFFF) >= rest
    return keep.reshape(shape)


class Dropout(UnaryElementwise):
    """y = x m / (1 - p) with m_i ~ Bernoulli(1 - p), a new mask at every call.   dy/dx = m / (1 - p).

    The mask is drawn inside the primitive (from `generator`, or chainrule's default generator
    at call time), so a jit replay draws a fresh one each call, in the same order as eager code.
    How it is drawn: `_keep_mask`.
    """

    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        rng = generator if generator is not None else _dtypes.default_generator()
        dtype = x.dtype if x.dtype.kind == "f" else _dtypes.get_default_dtype()
        mask = np.multiply(_keep_mask(rng, x.shape, p), dtype.type(1.0 / (1.0 - p)), dtype=dtype)
        ctx.save_for_backward(mask)  # saved, not an attribute: freed with the graph's saved values
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as IEEE (and PyTorch) say, silently
            return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


class Softmax(Primitive):
    """s = exp(x - max x) / sum exp(x - max x).   ds/dx: J = diag(s) - s s^T, so the VJP is s (g - <g, s>).

    NOTE: subtracting the max keeps exp from overflowing; the result is unchanged.
    """

    jvp_is_vjp = True  # the Jacobian diag(s) - s s^T is symmetric

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        if (
            getattr(x, "size", 1) == 0
        ):  # nothing to normalize (np.max refuses an empty reduction); symbolic traces have no size
            s = np.array(x, copy=True)
            ctx.save_for_backward(s)
            return s
        if type(x) is np.ndarray and x.dtype.kind == "f" and axis in (-1, x.ndim - 1):
            # The usual case, in one buffer, rows summed by BLAS (sum_trailing).
            s = np.subtract(x, np.max(x, axis=-1, keepdims=True))
            np.exp(s, out=s)
            s /= sum_trailing(s, 1)
        else:
            e = np.exp(x - np.max(x, axis=axis, keepdims=True))
            s = e / np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        gs = g * s
        axis = ctx.axis
        if type(gs) is np.ndarray and axis in (-1, gs.ndim - 1):
            gs -= s * sum_trailing(gs, 1)
            return gs
        return gs - s * gs.sum(axis=axis, keepdims=True)


class LogSoftmax(Primitive):
    """y = x - logsumexp(x).   dy/dx: the VJP is g - softmax(x) sum(g)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = axis
        if (
            getattr(x, "size", 1) == 0
        ):  # nothing to normalize (np.max refuses an empty reduction); symbolic traces have no size
            y = np.array(x, copy=True)
            ctx.save_for_backward(y)
            return y
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        shifted = x - m
        y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - exp(y) * g.sum(axis=ctx.axis, keepdims=True)

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return t - (exp(y) * t).sum(axis=ctx.axis, keepdims=True)


class SoftmaxCrossEntropy(Primitive):
    """l = s * sum_n k_n * -log softmax(x_n)[t_n] for logits x (N, C) and class indices t (N,).

    k_n = 0 where t_n == ignore_index, else 1; s = 1 / sum_n k_n for mean=True, else 1.
    dl/dx_n = s k_n (softmax(x_n) - onehot(t_n)): the fused form of log_softmax + nll_loss,
    one node instead of five, and the exponentials forward computed, divided by their row sums
    (softmax), are the gradient's main term. The targets are checked here, not by the caller, so that a jit replay
    checks every batch and ignores the right rows.
    """

    @staticmethod
    def forward(ctx, x, target=None, ignore_index=-100, mean=True):
        loss, saved = _ce_forward(x, target, ignore_index, mean)
        if ctx.needs_input_grad:
            ctx.target, ctx.flat, ctx.keep, ctx.scale, ctx.total, e = saved
            ctx.save_for_backward(x, e)
        return loss

    @staticmethod
    def backward(ctx, g):
        x, exps = ctx.saved_tensors
        if is_tensor(x):
            # create_graph: the same formula, from differentiable ops.
            d = Softmax.apply(x, axis=1) - _plain(_onehot_rows, x, ctx.target)
            if ctx.keep is not None:
                d = d * ctx.keep
            return d * (g * ctx.scale)
        return _ce_backward(g, ctx.target, ctx.flat, ctx.keep, ctx.scale, ctx.total, exps)

    @staticmethod
    def inline(args, params, out, needs, grads, donated, into):
        """The rules above as a jit replay's code: the same two functions on arrays, what the
        backward reads kept in a local of the replay (deleted once read) instead of a context."""
        shape = getattr(args[0], "shape", None)
        if len(args) != 1 or shape is None or len(shape) != 2 or set(params) != {"target", "ignore_index", "mean"}:
            return None
        constants = {"ce_forward": _ce_forward}
        call = "{ce_forward}({a0}, {target}, {ignore_index}, {mean})"
        try:  # the parameters as the values they print as (-100, True), to find the plan once, here
            ignore_index, mean = ast.literal_eval(str(params["ignore_index"])), ast.literal_eval(str(params["mean"]))
            dtypes = np.dtype(args[0].dtype), np.dtype(params["target"].dtype)
        except (AttributeError, TypeError, ValueError, SyntaxError):
            pass  # not known until the call: the forward finds it
        else:
            constants["ce_plan"] = _ce_plan(tuple(shape), *dtypes, ignore_index, mean)
            call = "{ce_forward}({a0}, {target}, {ignore_index}, {mean}, {ce_plan})"
        if not grads or grads[0] is None:
            return "{o} = " + call + "[0]", "", constants
        # the replay's one backward is the last reader of the exponentials: the gradient takes their place
        backward = "{d0} = {ce_backward}({g}, *{o}_saved, True); del {o}_saved"
        return "{o}, {o}_saved = " + call, backward, {**constants, "ce_backward": _ce_backward}

    @staticmethod
    def jvp(ctx, t, t_target=None, t_ignore_index=None, t_mean=None):
        ones = np.ones(ctx.shape, dtype=ctx.dtype)
        if is_tensor(t):
            from ..tensor import Tensor

            ones = Tensor._make(ones)
        return (t * SoftmaxCrossEntropy.backward(ctx, ones)).sum()


def _onehot_rows(x, target):
    """Zeros of x's shape (N, C) with a 1 at (n, target[n])."""
    onehot = np.zeros(x.shape, dtype=x.dtype)
    onehot[np.arange(x.shape[0]), target] = 1
    return onehot


_ROW_FLOOR = math.exp(-30.0)
_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
# The ufuncs' own reductions: x.max() adds a Python wrapper that costs as much as a small array's maximum.
_max, _min, _add = np.maximum.reduce, np.minimum.reduce, np.add.reduce


class _CEPlan(NamedTuple):
    """What _ce_forward needs besides the arrays, fixed by the shapes, dtypes and parameters: made
    once per case (a jit replay binds it; eager calls find it in a dict)."""

    classes: int
    unsigned: Any  # the targets' dtype read as unsigned: one reduction checks both ends of the range
    ignore_is_a_class: bool  # ignore_index in [0, C) (0 for padding is common): rows must be masked
    scale: np.ndarray  # 1/N for mean, else 1 (0-d, x's dtype); with ignored rows it is made per call
    ones: np.ndarray | None  # (C, 1): row sums as a product, which BLAS runs 2.5-4x faster than
    # NumPy's reduction along a short last axis (100 x 10 float32: 0.85 us against 2.3 us)
    row_starts: np.ndarray  # 0, C, 2C, ...: each row's first entry in x.ravel()


_plans = {}


def _ce_plan(shape, dtype, target_dtype, ignore_index, mean):
    """The _CEPlan for logits of `shape` and `dtype` (NumPy dtypes) and targets of `target_dtype`."""
    key = (shape, dtype, target_dtype, ignore_index, mean)
    plan = _plans.get(key)
    if plan is None:
        n, classes = shape
        blas = dtype.kind == "f" and dtype.itemsize >= 4 and classes > 0
        plan = _CEPlan(
            classes,
            _UNSIGNED[target_dtype.itemsize] if target_dtype.kind == "i" else None,
            0 <= ignore_index < classes,
            _read_only(np.asarray((1.0 / n if n else np.nan) if mean else 1.0, dtype=dtype)),
            constant_array(np.ones, (classes, 1), dtype) if blas else None,
            _read_only(np.arange(n, dtype=np.intp) * classes),
        )
        if len(_plans) >= 64:  # the oldest goes, as in constant_array
            _plans.pop(next(iter(_plans)))
        _plans[key] = plan
    return plan


def _read_only(a):
    a.flags.writeable = False
    return a


def _row_sums(e, ones):
    """Sums of the rows of a 2-D array, as a column (N, 1): a product with `ones` where it is given."""
    return np.matmul(e, ones) if ones is not None else np.add.reduce(e, axis=1, keepdims=True)


def _ce_forward(x, target, ignore_index, mean, plan=None):
    """(loss, saved) of SoftmaxCrossEntropy on arrays; saved = (target, flat, keep, scale, total, e)
    is what its backward reads (_ce_backward). `plan`: _ce_plan's for these arguments (a jit binds it)."""
    if plan is None:
        plan = _ce_plan(x.shape, x.dtype, target.dtype, ignore_index, mean)
    n, classes = x.shape
    keep = None
    scale = plan.scale
    if n and (
        _max(target if plan.unsigned is None else target.view(plan.unsigned), axis=None) >= classes
        or plan.ignore_is_a_class
    ):
        keep = target != ignore_index
        target = _safe_targets(target, classes, ignore_index, "cross_entropy")
        if mean:
            count = int(keep.sum())
            scale = np.asarray(1.0 / count if count else np.nan, dtype=x.dtype)
    # Shift by the batch's largest logit: one reduction instead of one per row (which NumPy
    # runs 4x slower for few classes). Softmax does not change, and no row sum can overflow.
    m = _max(x, axis=None) if n else math.nan
    if math.isfinite(m):
        shifted = x - m
        e = np.exp(shifted)
        total = _row_sums(e, plan.ones)
        if _min(total, axis=None) >= _ROW_FLOOR:
            return _softmax_ce(x, shifted, e, total, target, keep, scale, plan)
        # A row whose largest logit is more than 30 below the batch's would keep fewer digits
        # of its log-sum (a trained model's logits spread that far): shift each row by its own
        # maximum, as log_softmax does, in the same buffers.
        m = np.maximum.reduce(x, axis=1, keepdims=True)
        if math.isfinite(m.min()):  # else a row of -inf only: the general path below
            np.subtract(x, m, out=shifted)
            np.exp(shifted, out=e)
            return _softmax_ce(x, shifted, e, _row_sums(e, plan.ones), target, keep, scale, plan)
    # inf/nan logits: shift by the finite row maxima only (as log_softmax), IEEE results, no warnings.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        m = x.max(axis=1, keepdims=True)
        shifted = x - np.where(np.isfinite(m), m, 0)
        e = np.exp(shifted)
        return _softmax_ce(x, shifted, e, e.sum(axis=1, keepdims=True), target, keep, scale, plan)


def _softmax_ce(x, shifted, e, total, target, keep, scale, plan):
    """_ce_forward's result from x - shift, its exponentials and their row sums."""
    flat = plan.row_starts + target  # each row's target entry in x.ravel()
    picked = shifted.reshape(-1)[flat]
    if keep is None:
        loss = (_add(np.log(total), axis=None) - _add(picked)) * scale  # not .sum(): its wrapper costs as much
    else:
        loss = ((np.log(total[:, 0]) - picked) * keep).sum() * scale
        # Every row ignored: the 'mean' loss is 0/0 = nan, but its gradient is 0 (PyTorch), not nan.
        if not keep.any():
            scale = np.zeros_like(scale)
        keep = keep[:, None]  # a column (N, 1): the backward multiplies rows by it
    return np.asarray(loss, dtype=x.dtype), (target, flat, keep, scale, total, e)


def _ce_backward(g, target, flat, keep, scale, total, e, last=False):
    """dl/dx of SoftmaxCrossEntropy on arrays, from what _ce_forward saved (target: for the
    create_graph form only). last=True: no later backward reads `e` (a jit replay's single
    backward), so the gradient is made in its place."""
    d = np.divide(e, total, out=e) if last else e / total  # softmax, from the forward's exponentials
    d.reshape(-1)[flat] -= 1  # (row, target) as flat indices: 3x faster than d[rows, target]
    if keep is not None:
        d *= keep
    d *= g * scale
    return d


# NOTE: PyTorch's floor on p (1 - p) is 1e-12 rounded to float32 (9.99999996e-13), also in
# float64; at p = 0 or 1 the gradient is divided by it, so the float64 value would differ by 4e-9.
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Primitive):
    """l = -(t ln p + (1 - t) ln(1 - p)), each log clamped at -100 (PyTorch's BCELoss).

    dl/dp = (p - t) / (p (1 - p)), with the denominator kept >= 1e-12;
    dl/dt = ln(1 - p) - ln p (logs not clamped: infinite at p = 0 or 1, as in PyTorch).
    """

    @staticmethod
    def forward(ctx, p, t):
        ctx.save_for_backward(p, t)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        return -(t * log_p + (1 - t) * log_1mp)

    @staticmethod
    def backward(ctx, g):
        p, t = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        gp = gt = None
        if need_p:
            gp = g * (p - t) / clamp(p * (1 - p), min=_BCE_EPS)
        if need_t:
            with np.errstate(divide="ignore"):  # unclamped, as PyTorch: +-inf at p = 0 or 1
                gt = g * (log(1 - p) - log(p))
        return gp, gt

    @staticmethod
    def jvp(ctx, tp, tt):
        ones = np.ones(ctx.shape, dtype=ctx.dtype)
        if is_tensor(tp if tp is not None else tt):
            from ..tensor import Tensor

            ones = Tensor._make(ones)
        gp, gt = BinaryCrossEntropy.backward(ctx, ones)
        terms = [tp * gp if tp is not None else None, tt * gt if tt is not None else None]
        terms = [term for term in terms if term is not None]
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]


# ----- public functions -----


@export("Softmax", method=True, namespaces=("chainrule", "nn.functional"))
@accumulate_half_in_float32
def softmax(
    x: TensorLike, dim: int | None = None, *, axis: int | None = None, dtype: DTypeLike | None = None
) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim`, finite for any finite input (even +-1000).

    `dtype`: x is cast to it first (PyTorch's argument); an integer x needs it.

    Example:
        >>> chainrule.tensor([1., 2., 3., -1., -4., 0.]).softmax(dim=0)
    """
    dim = axis if axis is not None else dim
    x = _floating_or_cast("softmax", x, dtype)
    return Softmax.apply(x, axis=_axis(dim, np.ndim(as_array(x)), "softmax"))


def _floating_or_cast(op, x, dtype):
    """x cast to `dtype` (a recorded op: gradients flow back), or x after refusing a non-float x, as
    PyTorch refuses softmax of an int tensor (NumPy would compute it in float64)."""
    if dtype is not None:
        return cast(x, dtype)
    dtype = getattr(as_array(x), "dtype", None)  # (symbolic tracing passes SymPy stand-ins)
    if dtype is None and isinstance(x, (list, tuple, int, float, bool)):
        dtype = np.asarray(x).dtype
    _refuse_non_float(op, dtype, takes_dtype=True)
    return x


@export("LogSoftmax", method=True, namespaces=("chainrule", "nn.functional"))
@accumulate_half_in_float32
def log_softmax(
    x: TensorLike, dim: int | None = None, *, axis: int | None = None, dtype: DTypeLike | None = None
) -> Tensor:
    """x - logsumexp(x) along `dim`: the stable log of softmax (never log(softmax(x))). `dtype` as softmax's."""
    dim = axis if axis is not None else dim
    x = _floating_or_cast("log_softmax", x, dtype)
    return LogSoftmax.apply(x, axis=_axis(dim, np.ndim(as_array(x)), "log_softmax"))


@export(differentiable=False, namespaces=("chainrule", "nn.functional"))
def one_hot(tensor: TensorLike, num_classes: int = -1) -> Tensor:
    """Integer labels (any shape) to one-hot vectors of int64 in a new last dimension.

    num_classes=-1 takes max(labels) + 1. The result is built by writing ones into zeros, so its
    memory is labels.size * num_classes (never a num_classes x num_classes identity).
    Example: one_hot(tensor([0, 2]), 3) -> [[1, 0, 0], [0, 0, 1]].
    """
    need_tensor("one_hot", tensor)
    labels = np.asarray(as_array(tensor))
    if labels.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: labels must be an integer tensor, got dtype {labels.dtype}; use .long()")
    num_classes = int_arg("one_hot", "num_classes", num_classes)
    if not labels.size and num_classes <= 0:
        raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor; pass num_classes > 0.")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1
    if labels.size and labels.min() < 0:
        raise RuntimeError(f"one_hot: Class values must be non-negative, got {labels.min()}; labels count from 0.")
    if labels.size and labels.max() >= num_classes:
        high = labels.max()
        raise RuntimeError(
            f"one_hot: Class values must be smaller than num_classes: labels must lie in [0, {num_classes}), "
            f"got a largest label of {high}; pass num_classes > {high} (or -1 to infer it)."
        )
    return _plain(functools.partial(_one_hot_rows, num_classes=num_classes), tensor)


def _one_hot_rows(a, num_classes):
    try:
        out = np.zeros(a.shape + (num_classes,), dtype=np.int64)
    except MemoryError as e:  # num_classes from a label of 2**40, say
        raise RuntimeError(f"one_hot: not enough memory for {a.size} labels x {num_classes} classes: {e}") from None
    np.put_along_axis(out, a[..., None].astype(np.intp), 1, axis=-1)
    return out


def _reduce(loss, reduction, op, weight_sum=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _sum(loss)
    if reduction == "mean":
        if weight_sum is not None:
            # A zero weight sum (every target ignored) gives nan, as PyTorch, but a zero gradient, not nan:
            # the loss is sum * (1/ws, or 0) + (0, or nan), with both factors constants.
            scale = _plain(lambda s: np.where(s != 0, 1 / np.where(s != 0, s, 1), 0).astype(s.dtype), weight_sum)
            offset = _plain(lambda s: np.where(s != 0, 0, np.nan).astype(s.dtype), weight_sum)
            return _sum(loss) * scale + offset
        n = np.size(as_array(loss))
        return _sum(loss) * (1.0 / n) if n else _sum(loss) * np.nan
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_target(op, input_shape, target):
    """The target's dtype and shape (its values are checked by _safe_targets, inside a recorded op)."""
    need_tensor(op, target, "target")
    t = as_array(target)
    if np.asarray(t).dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}: class-index targets must be integers (int64), got dtype {t.dtype}. Use target.long(), "
            "or pass class probabilities of the same shape as the input."
        )
    expected = (input_shape[0],) + input_shape[2:] if len(input_shape) > 1 else ()
    if np.shape(t) != expected:
        raise RuntimeError(
            f"{op}: input of shape {input_shape} needs a target of shape {expected}, got {np.shape(t)}. "
            "The input is (N, C) logits (or (N, C, d1, ...)), the target holds one class index per sample."
        )


# The functions of target values below run through _plain: under jit they are recorded, so a
# replay checks and uses each call's targets.


def _safe_targets(t, classes, ignore_index, op):
    """The targets with ignored entries set to class 0, after checking the others' range."""
    keep = t != ignore_index
    valid = t[keep]
    if valid.size and (valid.min() < 0 or valid.max() >= classes):
        raise IndexError(
            f"{op}: target values must lie in [0, {classes}) for {classes} classes, got values from "
            f"{valid.min()} to {valid.max()}."
        )
    return np.where(keep, t, 0)


def _target_weights(t, ignore_index, weight, dtype):
    """weight[t] (1 without class weights), and 0 where t == ignore_index."""
    keep = t != ignore_index
    w = np.ones(np.shape(t), dtype=dtype) if weight is None else weight[np.where(keep, t, 0)]
    return (w * keep).astype(dtype)


def _check_class_weight(op, weight, classes):
    """A class-weight vector must hold exactly one weight per class (as PyTorch checks)."""
    if weight is not None and np.shape(as_array(weight)) != (classes,):
        raise RuntimeError(
            f"{op}: weight tensor should be defined either for all {classes} classes or no classes but got "
            f"weight tensor of shape: {list(np.shape(as_array(weight)))}; pass a weight of shape ({classes},), "
            "one per class."
        )


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def nll_loss(
    input: TensorLike,
    target: TensorLike,
    weight: TensorLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: -input[n, target[n]] (input holds log-probabilities), as torch.

    With `weight`, each sample is weighted by weight[target[n]], and 'mean' divides by
    the sum of those weights. Samples whose target equals `ignore_index` count for nothing.
    """
    shape = np.shape(as_array(input))
    _check_class_target("nll_loss", shape, target)
    classes = shape[1] if len(shape) > 1 else shape[0]
    _check_class_weight("nll_loss", weight, classes)
    dtype = np.asarray(as_array(input)).dtype
    safe_t = _plain(functools.partial(_safe_targets, classes=classes, ignore_index=ignore_index, op="nll_loss"), target)
    class_weight = None if weight is None else np.asarray(as_array(weight), dtype=dtype)
    w = _plain(functools.partial(_target_weights, ignore_index=ignore_index, weight=class_weight, dtype=dtype), target)
    if len(shape) == 1:
        index = (safe_t,)
    else:
        grids = list(np.indices(np.shape(as_array(safe_t)), sparse=True))
        index = (grids[0], safe_t) + tuple(grids[1:])
    loss = -(getitem(input, index) * w)
    return _reduce(loss, reduction, "nll_loss", weight_sum=_sum(w) if reduction == "mean" else None)


def _class_weight_along(weight, shape, class_dim):
    """The per-class weight reshaped to broadcast along the class dim of an input of `shape`."""
    wshape = [1] * len(shape)
    wshape[class_dim] = shape[class_dim]
    return weight.reshape(tuple(wshape)) if is_tensor(weight) else np.asarray(weight).reshape(wshape)


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def cross_entropy(
    input: TensorLike,
    target: TensorLike,
    weight: TensorLike | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy from logits, as torch.nn.functional.cross_entropy.

    `input` is (N, C) (or (C,), or (N, C, d1, ...)) unnormalized logits; `target` is class
    indices (int64) or class probabilities of the input's shape. Computed as
    -log_softmax(input)[target], so it stays finite for logits of any size. Its gradient
    with respect to the logits is softmax(input) - onehot(target) (divided by N for 'mean').
    """
    shape = np.shape(as_array(input))
    if len(shape) == 0:
        raise RuntimeError("cross_entropy: input must have at least one dimension (the classes)")
    class_dim = 1 if len(shape) > 1 else 0
    _check_class_weight("cross_entropy", weight, shape[class_dim])
    # PyTorch refuses only values above 1; a negative or NaN value passes its check and smooths nothing.
    if label_smoothing > 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    label_smoothing = label_smoothing if label_smoothing > 0 else 0.0
    t = np.asarray(as_array(target))
    if (
        len(shape) == 2
        and t.dtype.kind in "iu"
        and weight is None
        and not label_smoothing
        and reduction in ("mean", "sum")
        and t.shape == shape[:1]
        and t.size
    ):
        # The common case, fused into one node, which checks the targets itself.
        return SoftmaxCrossEntropy.apply(input, target=t, ignore_index=ignore_index, mean=reduction == "mean")
    logp = log_softmax(input, dim=class_dim)
    if t.dtype.kind == "f" or is_tensor(target) and as_array(target).dtype.kind == "f":
        if np.shape(t) != shape:
            hint = (
                f" If they are class indices, make them integers: target.long() (dtype {t.dtype} is "
                "read as class probabilities)."
                if np.shape(t) == ((shape[0],) + shape[2:] if len(shape) > 1 else ())
                else ""
            )
            raise RuntimeError(
                f"cross_entropy: probability targets must have the input's shape {shape}, got {np.shape(t)}.{hint}"
            )
        if ignore_index >= 0:
            # torch refuses it too: a class to ignore has no meaning for a probability target, and
            # computing on would silently count the rows the user meant to leave out.
            raise RuntimeError(
                f"cross_entropy: ignore_index={ignore_index} is not supported for probability (floating point) "
                "targets; give class-index (int64) targets to ignore a class, or zero those rows' targets."
            )
        classes = shape[class_dim]
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        contrib = logp * target
        if weight is not None:
            contrib = contrib * _class_weight_along(weight, shape, class_dim)
        loss = -_sum(contrib, dim=class_dim)
        if reduction == "mean":
            n = np.size(as_array(loss))
            return _sum(loss) * (1.0 / n if n else np.nan)  # an empty batch's mean is NaN, as in torch
        return _reduce(loss, reduction, "cross_entropy")
    loss = nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing:
        # The smoothing term of sample n is -sum_c weight[c] logp[n, c] / C (0 where ignored); 'mean' divides
        # it by the same denominator as the nll term: the sum of weight[target[n]] over the kept samples.
        classes = shape[class_dim]
        dtype = np.asarray(as_array(input)).dtype
        class_weight = None if weight is None else np.asarray(as_array(weight), dtype=dtype)
        kept_w = _plain(
            functools.partial(_target_weights, ignore_index=ignore_index, weight=class_weight, dtype=dtype), target
        )
        keep = _plain(functools.partial(_target_weights, ignore_index=ignore_index, weight=None, dtype=dtype), target)
        weighted = logp if weight is None else logp * _class_weight_along(weight, shape, class_dim)
        smooth = -_sum(weighted, dim=class_dim) * keep / classes
        if reduction == "mean":
            smooth = _reduce(smooth, "mean", "cross_entropy", weight_sum=_sum(kept_w))
        else:
            smooth = _reduce(smooth, reduction, "cross_entropy")
        loss = loss * (1 - label_smoothing) + smooth * label_smoothing
    return loss


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def mse_loss(input: TensorLike, target: TensorLike, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input - target)^2)."""
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def l1_loss(input: TensorLike, target: TensorLike, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean(|input - target|)."""
    from .elementwise import abs as _abs

    _check_same_shape("l1_loss", input, target)
    return _reduce(_abs(input - target), reduction, "l1_loss")


def _check_same_shape(op, input, target):
    a, b = np.shape(as_array(input)), np.shape(as_array(target))
    if a != b:
        raise RuntimeError(
            f"{op}: input shape {a} and target shape {b} differ; they must match (a silent broadcast here "
            "is a common bug). Reshape one of them, e.g. target.reshape(input.shape)."
        )


def _check_weight_shape(op, name, weight, shape):
    """`weight` must broadcast to the input's `shape` without enlarging it (the loss keeps the input's shape)."""
    if weight is None:
        return
    wshape = np.shape(as_array(weight))
    try:
        fits = np.broadcast_shapes(wshape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"{op}: {name} of shape {wshape} must broadcast to the input's shape {tuple(shape)} "
            f"(each of its dimensions, aligned from the right, equal to the input's or 1); reshape {name}."
        )


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def binary_cross_entropy(
    input: TensorLike, target: TensorLike, weight: TensorLike | None = None, reduction: str = "mean"
) -> Tensor:
    """-(t ln p + (1 - t) ln(1 - p)) on probabilities p, logs clamped at -100 (as PyTorch)."""
    need_tensor("binary_cross_entropy", input)
    need_tensor("binary_cross_entropy", target, "target")
    _check_same_shape("binary_cross_entropy", input, target)
    _check_weight_shape("binary_cross_entropy", "weight", weight, np.shape(as_array(input)))
    p = np.asarray(as_array(input))
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise RuntimeError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for raw scores (logits) use "
            "binary_cross_entropy_with_logits, which is also more stable."
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


@export(namespaces=())  # nn.functional wraps it with torch's legacy flags
def binary_cross_entropy_with_logits(
    input: TensorLike,
    target: TensorLike,
    weight: TensorLike | None = None,
    reduction: str = "mean",
    pos_weight: TensorLike | None = None,
) -> Tensor:
    """BCE on logits z: (1 - t) z + (1 + (w_pos - 1) t) softplus(-z), finite at any z.

    Without pos_weight this is softplus(z) - t z; its gradient is sigmoid(z) - t.
    """
    need_tensor("binary_cross_entropy_with_logits", input)
    need_tensor("binary_cross_entropy_with_logits", target, "target")
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    for name, value in (("weight", weight), ("pos_weight", pos_weight)):
        _check_weight_shape("binary_cross_entropy_with_logits", name, value, np.shape(as_array(input)))
    inf = float("inf")
    if pos_weight is None:
        loss = softplus(input, threshold=inf) - input * target
    else:
        scale = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + scale * softplus(-input, threshold=inf)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


@export(namespaces=("nn.functional",))
def group_norm(
    input: TensorLike,
    num_groups: int,
    weight: TensorLike | None = None,
    bias: TensorLike | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization: the C channels of (N, C, *) split into num_groups groups; each group of
    each sample is normalized over its channels and positions, then scaled and shifted per channel:

        y = (x - mean_g) / sqrt(var_g + eps) * weight[c] + bias[c]   (biased variance, as torch)

    A composite of mean, rsqrt and reshapes, so it differentiates to any order (a fused primitive was
    no faster, see nn.GroupNorm). num_groups=1 is a LayerNorm over (C, *) with per-channel affine;
    num_groups=C is an InstanceNorm.

    Example:
        >>> x = chainrule.randn(2, 6, 4, 4)
        >>> nn.functional.group_norm(x, 3).shape
        (2, 6, 4, 4)
    """
    from .reduce import mean
    from .shape import reshape
    from .unary import rsqrt

    shape = tuple(np.shape(as_array(input)))
    if len(shape) < 2:
        raise RuntimeError(
            f"group_norm: Expected at least 2 dimensions for input tensor but received {len(shape)} "
            f"(shape {shape}); pass (N, C, *)."
        )
    dtype = np.asarray(as_array(input)).dtype
    if dtype.kind != "f":
        raise NotImplementedError(f"group_norm: not implemented for dtype {dtype} (as torch); convert with .float()")
    n, c = shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            "group_norm: Expected number of channels in input to be divisible by num_groups, but got input of "
            f"shape {list(shape)} and num_groups={num_groups}"
        )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(np.shape(as_array(value))) != (c,):
            raise RuntimeError(
                f"group_norm: Expected {name} to be a vector of size equal to the number of channels in input, "
                f"but got {name} of shape {list(np.shape(as_array(value)))} and input of shape {list(shape)}"
            )
    if c == 0:  # no channels: every num_groups gives the same empty result; one group allocates nothing
        num_groups = 1
    x = reshape(input, (n, num_groups, math.prod(shape[1:]) // num_groups))  # not -1: n may be 0
    mu = mean(x, dim=-1, keepdim=True)
    centered = x - mu
    var = mean(centered * centered, dim=-1, keepdim=True)
    out = reshape(centered * rsqrt(var + eps), shape)
    per_channel = (c,) + (1,) * (len(shape) - 2)
    if weight is not None:
        out = out * reshape(weight, per_channel)
    if bias is not None:
        out = out + reshape(bias, per_channel)
    return out
