"""Embedding: a learnable lookup table of num_embeddings vectors of size embedding_dim."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from .._device import check as _check_device
from ..autograd.grad_mode import no_grad
from . import init
from .functional import embedding
from .linear import _check_sizes, _empty
from .module import Module, Parameter

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._device import device as Device
    from ..generator import Generator
    from ..tensor import Tensor


class Embedding(Module):
    """out[...] = weight[index[...]]; weight ~ N(0, 1) (PyTorch's default), row padding_idx zero.

    Example:
        >>> emb = nn.Embedding(10, 3)
        >>> emb(chainrule.tensor([[1, 2], [4, 9]])).shape
        (2, 2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        _check_sizes(type(self).__name__, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({self.num_embeddings})"
                )
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        if scale_grad_by_freq or sparse:
            raise NotImplementedError(
                "Embedding: scale_grad_by_freq=True and sparse=True are not supported; "
                "chainrule's gradients are dense and unscaled"
            )
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        if _weight is not None:
            self.weight = Parameter(_weight)
        else:
            self.weight = _empty((self.num_embeddings, self.embedding_dim), dt, "Embedding")
            self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        rows, dim = embeddings.shape
        module = cls(
            rows,
            dim,
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            _weight=embeddings,
        )
        module.weight.requires_grad = not freeze
        return module

    def forward(self, index: Tensor) -> Tensor:
        return embedding(index, self.weight, self.padding_idx, self.max_norm, self.norm_type)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        text += f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return text + (f", max_norm={self.max_norm}" if self.max_norm is not None else "")
