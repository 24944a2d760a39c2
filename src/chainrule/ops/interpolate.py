"""interpolate: nearest, nearest-exact, linear, bilinear, bicubic, trilinear and area resizing of 3-D,
4-D and 5-D inputs, with PyTorch's output sizes, source positions and weights (and antialiasing for
bilinear and bicubic).

Every mode is separable: one spatial axis at a time, output position j reads a few input positions
(taps), each non-decreasing in j, and adds them with fixed weights,

    out[j] = sum_k w_k[j] x[i_k[j]]

so each tap is one GatherAxis (ops/resample.py) times a constant, and every derivative order and
forward mode follow from GatherAxis and its transpose SegmentSum. 'area' is adaptive average pooling.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..autograd.primitive import export
from ._util import as_array
from .elementwise import clone, where
from .resample import _along, _check_float, _in_memory, adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Tensor, TensorLike

# The interpolating modes and the input ndim each needs (the others take 3-D, 4-D and 5-D inputs).
_INTERPOLATING = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_AREA = {3: adaptive_avg_pool1d, 4: adaptive_avg_pool2d, 5: adaptive_avg_pool3d}


def _coordinate_scale(size_in, size_out, align_corners, scale, dtype):
    """torch's area_pixel_compute_scale: the input step per output step, in the input's dtype."""
    if align_corners:
        return dtype.type((size_in - 1) / (size_out - 1)) if size_out > 1 else dtype.type(0)
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(size_in) / dtype.type(size_out)


def _source(size_in, size_out, align_corners, scale, dtype):
    """torch's area_pixel_compute_source_index for every output j: src = s (j + 1/2) - 1/2, or s j with
    align_corners, in `dtype` (the linear modes then clamp it at 0, bicubic does not)."""
    s = _coordinate_scale(size_in, size_out, align_corners, scale, dtype)
    j = np.arange(size_out, dtype=dtype)
    return s * j if align_corners else s * (j + dtype.type(0.5)) - dtype.type(0.5)


def _floor_and_fraction(src, size_in, dtype):
    """torch's guard_index_and_lambda: i = min(floor(src), L - 1) and t = src - i clamped to [0, 1]."""
    i = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    return i, np.clip(src - i.astype(dtype), 0, 1).astype(dtype)


def _linear_taps(size_in, size_out, align_corners, scale, dtype):
    """[(position, weight, mask)] taps: (i, 1 - t), (i + 1, t) at src clamped at 0 (the last tap stays
    inside the input); no mask (every tap counts)."""
    src = _source(size_in, size_out, align_corners, scale, dtype)
    i, t = _floor_and_fraction(src if align_corners else np.maximum(src, dtype.type(0)), size_in, dtype)
    return [(i, (1 - t).astype(dtype), None), (i + (i < size_in - 1), t, None)]


def _keys(x, a):
    """Keys' cubic convolution kernel at |x| (torch's cubic_convolution1 and 2, with its rounding):
    (a + 2)|x|^3 - (a + 3)|x|^2 + 1 for |x| <= 1, a|x|^3 - 5a|x|^2 + 8a|x| - 4a for 1 < |x| < 2, else 0."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0)).astype(x.dtype)


def _cubic_taps(size_in, size_out, align_corners, scale, dtype):
    """[(i - 1 + k, w_k, None)] for k = 0..3, the positions clamped into the input (torch's border) and
    w = (K(t + 1), K(t), K(1 - t), K(2 - t)), K = _keys with a = -0.75, at src not clamped."""
    i, t = _floor_and_fraction(_source(size_in, size_out, align_corners, scale, dtype), size_in, dtype)
    a, one = dtype.type(-0.75), dtype.type(1)
    weights = (_keys(t + one, a), _keys(t, a), _keys(one - t, a), _keys((one - t) + one, a))
    return [(np.clip(i - 1 + k, 0, size_in - 1), w, None) for k, w in enumerate(weights)]


def _antialias_taps(size_in, size_out, align_corners, scale, dtype, mode):
    """torch's antialiased (PIL's) filter taps: output j averages the input around its centre
    c = s (j + 1/2) with the filter f (triangle for bilinear, Keys with a = -0.5 for bicubic), widened
    by s when downsampling (s > 1):

        out[j] = sum_i f((i - c + 1/2) / max(s, 1)) x[i] / sum_i f(...),  i in [c - r + 1/2, c + r + 1/2)

    r = half the filter's width (1 or 2) times max(s, 1); the window clipped to the input. Taps as
    _linear_taps, with a mask where a tap lies past some outputs' windows.
    """
    s = _coordinate_scale(size_in, size_out, align_corners, scale, dtype)
    half_width = 1 if mode == "bilinear" else 2
    support = dtype.type(half_width * s if s >= 1 else half_width)
    width = int(math.ceil(support)) * 2 + 1
    center = s * (np.arange(size_out, dtype=dtype) + dtype.type(0.5))
    start = np.maximum((center - support + dtype.type(0.5)).astype(np.int64), 0)
    stop = np.minimum((center + support + dtype.type(0.5)).astype(np.int64), size_in)
    count = np.clip(stop - start, 0, width)
    positions = start[:, None] + np.arange(width)
    x = ((positions - center[:, None] + 0.5) * (1 / s if s >= 1 else 1)).astype(dtype)
    if mode == "bilinear":
        weights = np.maximum(1 - np.abs(x), 0).astype(dtype)
    else:
        weights = _keys(x, dtype.type(-0.5))
    inside = np.arange(width) < count[:, None]
    weights = np.where(inside, weights, 0).astype(dtype)
    total = weights.sum(axis=1, keepdims=True)
    weights = np.where(total != 0, weights / np.where(total != 0, total, 1), weights).astype(dtype)
    # Past its window an output reads the input's last position (each tap's positions stay
    # non-decreasing) and is masked out, not weighted 0: torch adds only the window, so an inf outside
    # it must not turn into 0 * inf = NaN.
    index = np.minimum(positions, size_in - 1)
    return [(index[:, k], weights[:, k], None if inside[:, k].all() else inside[:, k]) for k in range(width)]


def _nearest_index(size_in, size_out, scale, exact, shortcuts):
    """torch's nearest source index: floor(j s) ('nearest', its legacy rule) or floor((j + 1/2) s)
    ('nearest-exact'), s in float32 as torch computes it, clamped to the input.

    NOTE: torch's 2-D 'nearest' kernel copies when the size is unchanged and takes j // 2 when it
    doubles, whatever the scale_factor (1.3 on 2 rows gives 2 rows, copied); its 1-D and 3-D kernels
    do not. `shortcuts` follows it.
    """
    if shortcuts and not exact and size_out == size_in:
        return np.arange(size_out)
    if shortcuts and not exact and size_out == 2 * size_in:
        return np.arange(size_out) >> 1
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(size_in) / np.float32(size_out)
    j = np.arange(size_out, dtype=np.float32)
    src = np.floor((j + np.float32(0.5)) * s if exact else j * s).astype(np.int64)
    return np.minimum(src, size_in - 1)


def _output_size(op, shape, size, scale_factor, recompute_scale_factor, mode):
    """(output sizes, scales for the source positions or Nones), by torch's rules."""
    d = len(shape) - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        if isinstance(size, (list, tuple)):
            if len(size) != d:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with spatial "
                    f"dimensions of {list(shape[2:])} and output size of {size}. Please provide input tensor in "
                    "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                )
            if not all(isinstance(s, (int, np.integer)) for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], but "
                    f"got size with types {[type(s) for s in size]}"
                )
            sizes = tuple(int(s) for s in size)
        else:
            sizes = (int(size),) * d
        scales = (None,) * d
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != d:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(shape[2:])} and scale_factor of shape {scale_factor}. Please "
                    "provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                    "format."
                )
            scales = tuple(float(s) for s in scale_factor)
        else:
            scales = (float(scale_factor),) * d
        if not all(math.isfinite(n * s) and abs(n * s) < 2**63 for n, s in zip(shape[2:], scales)):
            raise RuntimeError(
                f"{op}: scale_factor {scale_factor} on input sizes {tuple(shape[2:])}: value cannot be converted to "
                "type int64_t without overflow; use a finite scale_factor"
            )
        sizes = tuple(math.floor(n * s) for n, s in zip(shape[2:], scales))
        if recompute_scale_factor:  # the source positions then follow the integer sizes
            scales = (None,) * d
    else:
        raise ValueError("either size or scale_factor should be defined")
    return sizes, scales


def _check_mode(op, ndim, mode, antialias):
    """torch's refusals of a mode, an input rank or antialias, in torch's order and words."""
    if mode == "lanczos":
        raise NotImplementedError(f"{op}: mode 'lanczos' is not in chainrule; use 'bicubic' with antialias=True")
    if antialias and not (mode in ("bilinear", "bicubic") and ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D tensor as "
            f"input (got mode {mode!r} on a {ndim}-D input); use mode='bilinear' or 'bicubic' on (N, C, H, W), or "
            "antialias=False"
        )
    if (mode in ("nearest", "nearest-exact", "area") and ndim in (3, 4, 5)) or _INTERPOLATING.get(mode) == ndim:
        return
    if mode in ("linear", "bilinear", "trilinear") and ndim in (3, 4, 5):
        raise NotImplementedError(f"Got {ndim}D input, but {mode} mode needs {_INTERPOLATING[mode]}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {ndim}D) for the modes: nearest | linear | "
        f"bilinear | bicubic (4D only) | trilinear | area | nearest-exact (got {mode})"
    )


@export(namespaces=("nn.functional",))
def interpolate(
    input: TensorLike,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to `size`, or by `scale_factor`, as
    torch.nn.functional.interpolate.

    Output size floor(L * scale_factor) per axis. Each axis is resampled in turn, with s = L / L_out
    (1 / scale_factor when given and recompute_scale_factor is not True); as torch, the linear and
    antialiased modes copy an axis whose size is unchanged:
      nearest        out[j] = x[floor(j s)]               (torch's legacy rule)
      nearest-exact  out[j] = x[floor((j + 1/2) s)]       (pixel centres, as scikit-image and PIL)
      linear (3-D), bilinear (4-D), trilinear (5-D):
                     out[j] = (1 - t) x[i] + t x[i + 1], i = floor(src), t = src - i, at the source
                     position src = s (j + 1/2) - 1/2 (clamped at 0), or src = j (L - 1) / (L_out - 1)
                     with align_corners
      bicubic (4-D)  out[j] = sum_{k=-1..2} K(src - (i + k)) x[clamp(i + k, 0, L - 1)], the same src
                     (not clamped), K Keys' cubic kernel with a = -0.75 (torch's), the border repeated
      area           adaptive_avg_pool1d/2d/3d to the output size
    antialias=True (bilinear and bicubic, 4-D): when downsampling, each output averages the input
    under the filter (triangle, or Keys with a = -0.5) stretched by s, normalized, as torch and PIL.

    Example:
        >>> x = chainrule.arange(4.0).reshape(1, 1, 4)
        >>> nn.functional.interpolate(x, scale_factor=2, mode="linear")
        tensor([[[0.0000, 0.2500, 0.7500, 1.2500, 1.7500, 2.2500, 2.7500, 3.0000]]])
    """
    op = "interpolate"
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
                "trilinear"
            )
    elif align_corners is None:
        align_corners = False
    shape = tuple(np.shape(as_array(input)))
    sizes, scales = _output_size(op, shape, size, scale_factor, recompute_scale_factor, mode)
    _check_mode(op, len(shape), mode, antialias)
    if mode != "area" and any(s <= 0 for s in sizes):  # area is adaptive pooling, which allows 0
        raise RuntimeError(
            f"{op}: Input and output sizes should be greater than 0, but got input {tuple(shape[2:])} and output "
            f"{sizes}; use a larger size or scale_factor."
        )
    dtype = _check_float(op, input)
    return _in_memory(op, _resample, input, shape, sizes, scales, mode, align_corners, antialias, dtype)


def _resample(input, shape, sizes, scales, mode, align_corners, antialias, dtype):
    """interpolate's work, its arguments checked."""
    ndim = len(shape)
    if mode == "area":
        return _AREA[ndim](input, sizes)
    out = input
    for axis in range(ndim - 1, 1, -1):
        n, o, s = shape[axis], sizes[axis - 2], scales[axis - 2]
        if mode in ("nearest", "nearest-exact"):
            out = _along(out, axis, _nearest_index(n, o, s, mode == "nearest-exact", ndim == 4))
            continue
        if n == o and (mode != "bicubic" or antialias):
            continue  # torch copies such an axis, whatever the scale (its plain bicubic kernel does not)
        if antialias:
            taps = _antialias_taps(n, o, align_corners, s, dtype, mode)
        else:
            taps = (_cubic_taps if mode == "bicubic" else _linear_taps)(n, o, align_corners, s, dtype)
        trailing = (1,) * (ndim - 1 - axis)
        terms = []
        for index, weight, inside in taps:
            term = _along(out, axis, index) * weight.reshape(weight.shape + trailing)
            terms.append(term if inside is None else where(inside.reshape(inside.shape + trailing), term, 0))
        out = terms[0]
        for term in terms[1:]:
            out = out + term
    return clone(out) if out is input else out  # a new tensor, as torch, even when nothing moved
