"""chainrule.nn.functional (import as F): the stateless form of every layer.

The ops registered for "nn.functional" (sigmoid, softmax, linear, conv2d, max_pool2d, pad, ...;
see autograd/primitive.py) appear here from the registry; this module writes the activations with
PyTorch's inplace= flag, the losses with its legacy flags, and batch_norm, layer_norm, dropout and
embedding as composites of primitives (so they differentiate to any order).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from ..autograd import primitive as _registry
from ..ops import elementwise as _ew
from ..ops import nn as _nn
from ..ops._util import as_array, is_tensor, need_tensor
from ..ops.elementwise import _plain, rsqrt, where
from ..ops.nn import Dropout
from ..ops.normalization import layer_norm_primitive
from ..ops.reduce import mean as _mean
from ..ops.shape import getitem

if TYPE_CHECKING:
    from ..generator import Generator
    from ..tensor import Tensor

__all__ = [  # the functions written here; the registered ones are added by _install below
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "hardtanh",
    "mish",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "dropout",
    "batch_norm",
    "layer_norm",
    "embedding",
    "normalize",
    "scaled_dot_product_attention",
]


# ----- activations with PyTorch's inplace= flag -----


def _activation(op, compute, input, inplace, saves_result=False):
    """compute(input); with inplace=True the result is written into `input` with PyTorch's in-place
    semantics (version counter, views' history, refusal on a leaf that requires grad) and returned."""
    if not inplace:
        return compute(input)
    need_tensor(op[:-1], input)  # writing in place needs a Tensor to write into
    return input._inplace(op, compute, needs_self=not saves_result, saves_result=saves_result)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); relu'(0) = 0. inplace=True writes into `input` (torch.nn.functional.relu)."""
    return _activation("relu_", _ew.relu, input, inplace, saves_result=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x; inplace=True writes into `input`."""
    return _activation("leaky_relu_", lambda t: _ew.leaky_relu(t, negative_slope), input, inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (e^x - 1); inplace=True writes into `input`."""
    return _activation("elu_", lambda t: _ew.elu(t, alpha), input, inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants; inplace=True writes into `input`."""
    return _activation("selu_", _ew.selu, input, inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x limited to [min_val, max_val]; inplace=True writes into `input`."""
    return _activation("hardtanh_", lambda t: _ew.hardtanh(t, min_val, max_val), input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)); inplace=True writes into `input`."""
    return _activation("mish_", _ew.mish, input, inplace)


# ----- losses: ops.nn's, with PyTorch's full signatures (legacy size_average / reduce included) -----


def _legacy_reduction(size_average, reduce, stacklevel=3):
    """PyTorch's mapping of the deprecated flags: reduce=False -> 'none'; size_average=False -> 'sum'; else 'mean'."""
    import warnings

    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return reduction


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy from logits (N, C, ...) and class indices or probabilities (see chainrule.ops.nn)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.cross_entropy(
        input, target, weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities at class indices."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.nll_loss(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction)


def mse_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
) -> Tensor:
    """Mean squared error (input - target)^2, reduced."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.mse_loss(input, target, reduction=reduction)


def l1_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
) -> Tensor:
    """Mean absolute error |input - target|, reduced."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.l1_loss(input, target, reduction=reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy on probabilities (logs clamped at -100, as PyTorch)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.binary_cross_entropy(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits (stable for any logit size)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _nn.binary_cross_entropy_with_logits(
        input, target, weight=weight, reduction=reduction, pos_weight=pos_weight
    )


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False, generator: Generator | None = None
) -> Tensor:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p).

    The identity when training is False or p == 0. Draws from chainrule.default_generator()
    unless a numpy Generator is given.
    """
    need_tensor("dropout", input)
    if isinstance(p, (str, bytes)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"dropout(): generator must be a chainrule.Generator, got {type(generator).__name__}")
    if not training or p == 0:
        return input
    if p == 1:
        data = np.asarray(as_array(input))
        zeros = np.zeros(data.shape, dtype=data.dtype if data.dtype.kind == "f" else _dtypes.get_default_dtype())
        return _activation("dropout_", lambda t: t * zeros, input, inplace, saves_result=True)
    return _activation(
        "dropout_", lambda t: Dropout.apply(t, p=float(p), generator=generator), input, inplace, saves_result=True
    )


def _update_running_stats(rm, rv, mu, var, momentum, unbias):  # momentum: a number or a 0-d array
    """In place: r = (1 - momentum) r + momentum * stat, with the unbiased variance for rv."""
    momentum = float(momentum)  # a Python number keeps float32 statistics in float32 arithmetic
    rm[...] = (1 - momentum) * rm + momentum * mu.reshape(-1)
    rv[...] = (1 - momentum) * rv + momentum * var.reshape(-1) * unbias
    return rm


def batch_norm(
    input: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize per channel (dim 1) over the batch and spatial dims, then scale and shift.

    training=True uses the batch's statistics (biased variance) and, when running_mean/var are
    given, updates them in place: r = (1 - momentum) r + momentum * stat, with the unbiased
    variance for running_var (PyTorch's rule). training=False uses the running statistics.
    """
    shape = np.shape(as_array(input))
    if len(shape) < 2:
        raise RuntimeError(f"batch_norm: input must be (N, C, ...), got shape {shape}")
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
    if training:
        n = int(np.prod([shape[a] for a in axes]))
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {shape}; "
                "use a batch of at least 2, or call model.eval()."
            )
        mu = _mean(input, dim=axes, keepdim=True)
        centered = input - mu
        var = _mean(centered * centered, dim=axes, keepdim=True)
        if running_mean is not None and running_var is not None:
            # Through _plain, which jit records, so that a replay repeats the update.
            m = momentum if momentum is not None else 0.1
            _plain(functools.partial(_update_running_stats, unbias=n / (n - 1)), running_mean, running_var, mu, var, m)
            running_mean._bump_version()
            running_var._bump_version()
        out = centered * rsqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var are required when training=False")
        need_tensor("batch_norm", running_mean, "running_mean")
        need_tensor("batch_norm", running_var, "running_var")
        # Tensor ops, not arrays: under jit the statistics are then read afresh at every call.
        rm = running_mean.reshape(bshape) if is_tensor(running_mean) else as_array(running_mean).reshape(bshape)
        rv = running_var.reshape(bshape) if is_tensor(running_var) else as_array(running_var).reshape(bshape)
        out = (input - rm) * rsqrt(rv + eps)
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the last len(normalized_shape) dims (biased variance), then weight * x + bias:
    one primitive (ops.normalization.LayerNorm), whose docstring gives the derivatives."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    shape = np.shape(as_array(input))
    k = len(normalized_shape)
    if tuple(shape[len(shape) - k :]) != tuple(normalized_shape):
        raise RuntimeError(
            f"layer_norm: input of shape {shape} must end with normalized_shape {tuple(normalized_shape)}"
        )
    if not k:
        raise RuntimeError("layer_norm: normalized_shape must have at least one dimension, got ()")
    dtype = np.asarray(as_array(input)).dtype
    if dtype.kind != "f":
        raise RuntimeError(f"layer_norm: not implemented for dtype {dtype} (as torch); convert with .float()")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(np.shape(as_array(value))) != tuple(normalized_shape):
            raise RuntimeError(
                f"layer_norm: Expected {name} to have shape normalized_shape {tuple(normalized_shape)}, "
                f"got {tuple(np.shape(as_array(value)))}"
            )
    return layer_norm_primitive(input, tuple(normalized_shape), weight, bias, eps)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(||input||_p along dim, eps).

    NOTE: the norm is the norm op, whose subgradient at a zero slice is 0 (as PyTorch's
    vector_norm), so a zero row gets the gradient 1/eps, as in PyTorch, not (sum |x|^p)^(1/p)'s NaN.
    """
    from ..ops.elementwise import clamp
    from ..ops.reduce import norm

    return input / clamp(norm(input, p=p, dim=dim, keepdim=True), min=eps)


def _renorm_rows(weight, rows, max_norm, norm_type):
    """In place, no gradient: weight[r] *= max_norm / (||weight[r]|| + 1e-7) where the norm exceeds max_norm."""
    table = as_array(weight)
    picked = table[rows]
    norms = np.linalg.norm(picked, ord=norm_type, axis=1) if norm_type != 2 else np.sqrt((picked * picked).sum(1))
    over = norms > max_norm
    if over.any():
        table[rows[over]] = picked[over] * (max_norm / (norms[over] + 1e-7))[:, None].astype(table.dtype)
        if is_tensor(weight):
            weight._bump_version()


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by integer indices: out[..., :] = weight[input[...]].

    Rows at padding_idx get no gradient (as in PyTorch). With max_norm, each row looked up whose
    norm_type-norm exceeds max_norm is first rescaled in place (without gradient) by
    max_norm / (norm + 1e-7), as torch does.
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding: scale_grad_by_freq=True and sparse=True are not supported; "
            "chainrule's gradients are dense and unscaled"
        )
    index = np.asarray(as_array(input))
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: indices must be integers (int64), got dtype {index.dtype}; use .long()")
    if np.ndim(as_array(weight)) != 2:
        raise RuntimeError(
            f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), got shape {np.shape(as_array(weight))}"
        )
    num = np.shape(as_array(weight))[0]
    # Negative indices are refused as in PyTorch (they would silently pick rows from the end).
    if index.size and (index.min() < 0 or index.max() >= num):
        low, high = index.min(), index.max()
        fix = (
            f"build the Embedding with num_embeddings > {high}"
            if low >= 0
            else "indices count from 0; a negative index usually means a label mapping went wrong"
        )
        raise IndexError(
            f"embedding: index out of range in self: indices must lie in [0, {num}) for a table of {num} rows, "
            f"got values from {low} to {high}; {fix}."
        )
    if max_norm is not None:
        _renorm_rows(weight, np.unique(index % num), max_norm, norm_type)
    out = getitem(weight, (index,))
    if padding_idx is not None and is_tensor(out) and out.requires_grad:
        pad_row = padding_idx % num
        keep = (index % num != pad_row)[..., None]
        if not keep.all():
            out = where(keep, out, out.detach())
    return out


_OWN = frozenset(__all__)


def _install(export, added):
    """Registered ops with "nn.functional" among their namespaces are names here (never replacing one
    written in this module)."""
    name = export.name
    if "nn.functional" not in export.namespaces or name in _OWN:
        return
    if added:
        globals()[name] = export.fn
        if name not in __all__:
            __all__.append(name)
    elif name in __all__:
        __all__.remove(name)
        globals().pop(name, None)


_registry.on_export(_install)

# Last: attention.py builds on dropout above.
from .attention import scaled_dot_product_attention  # noqa: E402
