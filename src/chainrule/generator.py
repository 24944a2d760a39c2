"""Generator: PyTorch's ``torch.Generator``, a random stream of its own for ``generator=`` arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _device

if TYPE_CHECKING:
    from ._device import device as Device


class Generator(np.random.Generator):
    """A seedable random stream (``torch.Generator``), usable wherever chainrule takes ``generator=``.

    It is a ``numpy.random.Generator`` (PCG64), so every function that accepts a NumPy generator
    accepts it too. ``manual_seed(s)`` restarts it from seed ``s`` and returns it, so PyTorch's
    idiom works unchanged. The numbers drawn are NumPy's, not PyTorch's: the same seed gives a
    different sequence than in PyTorch.

    Example:
        >>> train, val = chainrule.utils.data.random_split(ds, [0.8, 0.2],
        ...                                                generator=chainrule.Generator().manual_seed(42))
    """

    def __init__(self, device: str | Device = "cpu") -> None:
        self._device = _device.check(device, "Generator")
        self._initial_seed = int(np.random.SeedSequence().entropy % 2**63)
        super().__init__(np.random.PCG64(self._initial_seed))

    @property
    def device(self) -> Device:
        return self._device

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator itself."""
        self._initial_seed = int(seed)
        self.bit_generator.state = np.random.PCG64(self._initial_seed).state
        return self

    def seed(self) -> int:
        """Reseed from fresh OS entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._initial_seed

    def __repr__(self):
        return f"<chainrule.Generator seed={self._initial_seed}>"
