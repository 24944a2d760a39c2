"""tril and triu: the lower or upper triangle of the last two dimensions, the rest set to zero
(batched over the leading dimensions), and their in-place forms x.tril_() and x.triu_().

Masking is linear with a diagonal Jacobian, so the backward rule and the forward-mode rule are the
same mask applied to the gradient or to the tangent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import Primitive, export
from ._util import as_array

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike


def _check(op, x, diagonal):
    """The diagonal as an int within the matrix (any farther one keeps or clears everything alike)."""
    shape = np.shape(as_array(x))
    if len(shape) < 2:
        raise RuntimeError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(shape)}; the triangle is taken "
            "over the last two dimensions (reshape a vector to a matrix first, e.g. x.reshape(1, -1))"
        )
    if isinstance(diagonal, bool) or not isinstance(diagonal, (int, np.integer)):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__} {diagonal!r}")
    return int(min(max(int(diagonal), -shape[-2]), shape[-1]))


class Tril(Primitive):
    """y[..., i, j] = x[..., i, j] where j - i <= diagonal, else 0.   dy/dx: the same mask on g."""

    @staticmethod
    def forward(ctx, x, diagonal=0):
        if ctx.needs_input_grad:
            ctx.diagonal = diagonal
        return np.tril(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return Tril.apply(g, diagonal=ctx.diagonal)

    @staticmethod
    def jvp(ctx, t):
        return Tril.apply(t, diagonal=ctx.diagonal)


class Triu(Primitive):
    """y[..., i, j] = x[..., i, j] where j - i >= diagonal, else 0.   dy/dx: the same mask on g."""

    @staticmethod
    def forward(ctx, x, diagonal=0):
        if ctx.needs_input_grad:
            ctx.diagonal = diagonal
        return np.triu(x, diagonal)

    @staticmethod
    def backward(ctx, g):
        return Triu.apply(g, diagonal=ctx.diagonal)

    @staticmethod
    def jvp(ctx, t):
        return Triu.apply(t, diagonal=ctx.diagonal)


@export(Tril, method=True, torch_kwargs="out")
def tril(input: TensorLike, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: elements on and below the `diagonal`-th diagonal
    kept (0 the main one, > 0 above it, < 0 below), the others zero, as torch.tril.

    Example:
        >>> chainrule.tril(chainrule.ones(3, 3))          # [[1,0,0],[1,1,0],[1,1,1]]
        >>> chainrule.tril(chainrule.ones(3, 3), -1)      # strictly lower: a causal mask's complement
    """
    return Tril.apply(input, diagonal=_check("tril", input, diagonal))


@export(Triu, method=True, torch_kwargs="out")
def triu(input: TensorLike, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: elements on and above the `diagonal`-th diagonal
    kept, the others zero, as torch.triu.

    Example:
        >>> chainrule.triu(chainrule.ones(3, 3), 1)       # True above the diagonal: a causal mask
    """
    return Triu.apply(input, diagonal=_check("triu", input, diagonal))


@export(Tril, method=True, namespaces=())
def tril_(input: Tensor, diagonal: int = 0) -> Tensor:
    """x.tril_(diagonal): tril written into x, with PyTorch's in-place semantics."""
    k = _check("tril_", input, diagonal)
    return input._inplace("tril_", lambda s: Tril.apply(s, diagonal=k))


@export(Triu, method=True, namespaces=())
def triu_(input: Tensor, diagonal: int = 0) -> Tensor:
    """x.triu_(diagonal): triu written into x, with PyTorch's in-place semantics."""
    k = _check("triu_", input, diagonal)
    return input._inplace("triu_", lambda s: Triu.apply(s, diagonal=k))
