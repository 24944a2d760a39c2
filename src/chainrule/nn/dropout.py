"""Dropout: inverted dropout (scale kept units by 1/(1-p)) in training, the identity in eval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .functional import dropout
from .module import Module

if TYPE_CHECKING:
    from ..generator import Generator
    from ..tensor import Tensor


class Dropout(Module):
    """Zero each element with probability p during training, scaling the rest by 1/(1-p).

    Draws from chainrule.default_generator() (or `generator=` if given). In eval mode or
    with p=0 it returns its input unchanged.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator: Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = float(p)
        self.inplace = inplace
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
