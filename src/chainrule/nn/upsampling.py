"""Upsample: the layer form of nn.functional.interpolate (nearest, nearest-exact, linear, bilinear,
bicubic, trilinear, area); UpsamplingNearest2d and UpsamplingBilinear2d, torch's fixed-mode forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ops.interpolate import interpolate
from .module import Module

if TYPE_CHECKING:
    from ..tensor import Tensor


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to `size`, or by `scale_factor`, as
    torch.nn.Upsample (see nn.functional.interpolate for the modes and torch's size and
    source-position rules).

    Example:
        >>> up = nn.Upsample(scale_factor=2, mode="bicubic")
        >>> up(chainrule.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample(size, scale_factor, mode="nearest") of (N, C, H, W), as torch.nn.UpsamplingNearest2d.

    Example:
        >>> nn.UpsamplingNearest2d(scale_factor=2)(chainrule.randn(1, 1, 2, 3)).shape
        (1, 1, 4, 6)
    """

    def __init__(self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample(size, scale_factor, mode="bilinear", align_corners=True) of (N, C, H, W), as
    torch.nn.UpsamplingBilinear2d (the corners of input and output aligned).

    Example:
        >>> nn.UpsamplingBilinear2d(size=(3, 5))(chainrule.randn(1, 1, 2, 3)).shape
        (1, 1, 3, 5)
    """

    def __init__(self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
