"""Type aliases for annotations (read by type checkers only: nothing imports this module at run time).

TensorLike   what an op accepts as a tensor argument: a Tensor, or anything NumPy turns into an
             array (a number, a nested list, an ndarray), as torch's ops accept Python numbers
Dim          one dimension or several, as reductions take them
"""

from __future__ import annotations

from collections.abc import Sequence

from numpy.typing import ArrayLike, DTypeLike

from ._device import device as Device
from .generator import Generator
from .nn.module import Module
from .tensor import Size, Tensor
from .tensor import _HookHandle as RemovableHandle
from .viz.explore import Explorer

TensorLike = Tensor | ArrayLike
Dim = int | Sequence[int]

__all__ = [
    "Device",
    "Dim",
    "DTypeLike",
    "Explorer",
    "Generator",
    "Module",
    "RemovableHandle",
    "Size",
    "Tensor",
    "TensorLike",
]
