"""Gradient utilities: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.effects import replayed_call
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Iterable


def _params(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so their joint norm is at most max_norm; returns the norm before clipping.

    The norm is taken over all gradients as if concatenated into one vector (torch semantics; for
    norm_type 0 and -inf, as torch, the norm of the per-gradient norms): grads are multiplied by
    min(1, max_norm / (total_norm + 1e-6)), which is nan for a nan norm.
    """
    return _clip_grad_norm(_params(parameters), max_norm, norm_type, error_if_nonfinite)


def _vector_norm(a, p):
    """torch.linalg.vector_norm of a float64 array: p = inf (max |a|), -inf (min |a|), 0 (count of nonzeros)."""
    a = np.abs(a)
    if p == math.inf:
        return float(a.max()) if a.size else 0.0
    if p == -math.inf:
        return float(a.min()) if a.size else math.inf
    if p == 0:
        return float(np.count_nonzero(a))
    return float(np.sum(a**p)) ** (1.0 / p)


@replayed_call  # a jit replay repeats the clipping, and returns that call's norm
def _clip_grad_norm(params, max_norm, norm_type, error_if_nonfinite):
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return Tensor._make(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    dtype = grads[0]._data.dtype
    # PyTorch's total: the norm of the per-gradient norms (for finite p > 0, the norm of all entries at once).
    per_grad = np.array([_vector_norm(g._data.astype(np.float64), norm_type) for g in grads])
    total = _vector_norm(per_grad, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite ({total}), so "
            "it cannot be clipped. Set error_if_nonfinite=False to skip this check."
        )
    coef = max_norm / (total + 1e-6)
    if not coef >= 1:  # also when the norm is nan: every gradient becomes nan, as in PyTorch
        with np.errstate(invalid="ignore"):  # inf * 0 -> nan is the intended result here
            for g in grads:
                np.multiply(g._data, coef, out=g._data, casting="unsafe")
    return Tensor._make(np.array(total, dtype=dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value] in place."""
    _clip_grad_value(_params(parameters), float(clip_value))


@replayed_call
def _clip_grad_value(params, clip_value):
    for p in params:
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (differentiable)."""
    from ..ops.shape import cat, reshape

    return cat([reshape(p, (-1,)) for p in _params(parameters)])


def vector_to_parameters(vec: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Copy slices of the 1-D `vec` into the parameters, in order (in place, no graph)."""
    data = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    start = 0
    with no_grad():
        for p in _params(parameters):
            n = p._data.size
            p._write(data[start : start + n].reshape(p.shape))
            start += n
    if start != data.size:
        raise ValueError(f"vector_to_parameters: the vector has {data.size} entries, the parameters {start}")
