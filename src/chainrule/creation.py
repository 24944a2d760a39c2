"""Tensor constructors with PyTorch's names: tensor, zeros, ones, full, arange, linspace, eye,
rand, randn, randint, the *_like forms and from_numpy.

Every constructor takes PyTorch's `device=`: "cpu" (or chainrule.device("cpu"), the default)
is accepted; a GPU device raises a clear error, since chainrule computes with NumPy on the CPU.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from . import _dtypes, _random
from ._device import check as _check_device
from .autograd import effects as _effects
from .tensor import Tensor, _legacy_array, _to_array

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, DTypeLike

    from ._device import device as Device
    from .generator import Generator


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(int(s) for s in size)


def _made(array, dtype, requires_grad, name=None):
    t = Tensor._make(array if dtype is None else array.astype(dtype, copy=False))
    t.name = name
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(
    data: ArrayLike,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """A new tensor holding a copy of `data` (numbers, nested lists, NumPy arrays, tensors).

    Python floats become the default dtype (float32), ints int64, bools bool; NumPy
    arrays keep their dtype.

    Example:
        >>> x = chainrule.tensor([1.0, 2.0], requires_grad=True, name="x")
    """
    _check_device(device, "tensor")
    return _made(_to_array(data, dtype), None, requires_grad, name)


def as_tensor(data: ArrayLike, dtype: DTypeLike | None = None, device: str | Device | None = None) -> Tensor:
    """Like tensor(), but reuses `data` when it already is a Tensor or array of that dtype."""
    _check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return Tensor._make(data)
    return Tensor._make(_to_array(data, dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy), keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def _default(dtype):
    return _dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    _check_device(device, "zeros")
    return _made(np.zeros(_size(size), dtype=_default(dtype)), None, requires_grad, name)


def ones(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    _check_device(device, "ones")
    return _made(np.ones(_size(size), dtype=_default(dtype)), None, requires_grad, name)


def empty(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "empty")
    return _made(np.empty(_size(size), dtype=_default(dtype)), None, requires_grad)


def full(
    size: int | Sequence[int],
    fill_value: float | bool,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    _check_device(device, "full")
    if dtype is None:
        kind = np.asarray(fill_value).dtype.kind
        dtype = _dtypes.int64 if kind in "iu" else _dtypes.bool if kind == "b" else _dtypes.get_default_dtype()
    return _made(
        np.full(tuple(size) if not isinstance(size, int) else (size,), fill_value, dtype=dtype),
        None,
        requires_grad,
        name,
    )


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments, like torch."""
    _check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dtypes.int64 if integral else _dtypes.get_default_dtype()
    return _made(np.arange(start, end, step, dtype=np.dtype(dtype)), None, requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "linspace")
    return _made(np.linspace(start, end, int(steps), dtype=_default(dtype)), None, requires_grad)


def eye(
    n: int,
    m: int | None = None,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "eye")
    return _made(np.eye(n, m, dtype=_default(dtype)), None, requires_grad)


def rand(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Uniform samples on [0, 1) from `generator` or the global generator (see manual_seed).

    Inside chainrule.jit, each replay draws anew, the numbers eager code would draw.
    """
    _check_device(device, "rand")
    sample = functools.partial(_random.random, _size(size), _default(dtype))
    return _made(_effects.draw(sample, generator), None, requires_grad)


def randn(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Standard normal samples from `generator` or the global generator (see manual_seed)."""
    _check_device(device, "randn")
    sample = functools.partial(_random.standard_normal, _size(size), _default(dtype))
    return _made(_effects.draw(sample, generator), None, requires_grad)


def randint(
    low: int,
    high: int | None = None,
    size: int | Sequence[int] = (),
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Integers in [low, high) (int64), as torch.randint."""
    _check_device(device, "randint")
    if high is None:
        low, high = 0, low
    sample = functools.partial(_random.integers, low, high, tuple(size), np.dtype(dtype or _dtypes.int64))
    return _made(_effects.draw(sample, generator), None, False)


def randperm(n: int, device: str | Device | None = None, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    _check_device(device, "randperm")
    return _made(_effects.draw(functools.partial(_random.permutation, n, np.dtype(np.int64)), generator), None, False)


def _like(x, dtype):
    return x.dtype if dtype is None else np.dtype(dtype)


def zeros_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "zeros_like")
    return _made(np.zeros(x.shape, dtype=_like(x, dtype)), None, requires_grad)


def ones_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "ones_like")
    return _made(np.ones(x.shape, dtype=_like(x, dtype)), None, requires_grad)


def full_like(
    x: Tensor,
    fill_value: float | bool,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "full_like")
    return _made(np.full(x.shape, fill_value, dtype=_like(x, dtype)), None, requires_grad)


def empty_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "empty_like")
    return _made(np.empty(x.shape, dtype=_like(x, dtype)), None, requires_grad)


def rand_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    """rand with x's shape and dtype."""
    _check_device(device, "rand_like")
    sample = functools.partial(_random.random, tuple(x.shape), _like(x, dtype))
    return _made(_effects.draw(sample), None, requires_grad)


def randn_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    """randn with x's shape and dtype."""
    _check_device(device, "randn_like")
    sample = functools.partial(_random.standard_normal, tuple(x.shape), _like(x, dtype))
    return _made(_effects.draw(sample), None, requires_grad)


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


# ----- legacy typed constructors: FloatTensor([1, 2]), LongTensor(2, 3), ... -----


class _LegacyTensorType(type):
    """The type of FloatTensor and its siblings: calling one builds a Tensor of its dtype (from data or
    sizes, as Tensor(...)); isinstance(x, FloatTensor) checks x's dtype, as in PyTorch."""

    def __call__(cls, *data: ArrayLike, device: str | Device | None = None, requires_grad: bool = False) -> Tensor:
        _check_device(device, cls.__name__)
        return _made(_legacy_array(data, cls.dtype), None, requires_grad)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'chainrule.{cls.__name__}'>"


def _legacy(name, dtype):
    return _LegacyTensorType(name, (), {"dtype": dtype, "__doc__": f"Tensor(...) with dtype {dtype} (legacy)."})


FloatTensor = _legacy("FloatTensor", _dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", _dtypes.float64)
HalfTensor = _legacy("HalfTensor", _dtypes.float16)
LongTensor = _legacy("LongTensor", _dtypes.int64)
IntTensor = _legacy("IntTensor", _dtypes.int32)
ShortTensor = _legacy("ShortTensor", _dtypes.int16)
CharTensor = _legacy("CharTensor", _dtypes.int8)
ByteTensor = _legacy("ByteTensor", _dtypes.uint8)
BoolTensor = _legacy("BoolTensor", _dtypes.bool)
