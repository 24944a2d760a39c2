"""Tensor constructors with PyTorch's names: tensor, zeros, ones, full, arange, linspace, eye,
rand, randn, randint, the *_like forms and from_numpy.

Every constructor takes PyTorch's `device=`: "cpu" (or chainrule.device("cpu"), the default)
is accepted; a GPU device raises a clear error, since chainrule computes with NumPy on the CPU.
"""

from __future__ import annotations

import builtins
import functools
from typing import TYPE_CHECKING

import numpy as np

from . import _dtypes, _random
from ._device import check as _check_device
from .autograd import effects as _effects
from .ops._util import need_tensor, refuse_text, shape_arg
from .tensor import Tensor, _flatten, _legacy_array, _to_array

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, DTypeLike

    from ._device import device as Device
    from .generator import Generator


def _size(size, op):
    shape = shape_arg(op, size)
    if shape and min(shape) < 0:
        raise RuntimeError(
            f"{op}(): Trying to create tensor with negative dimension: {list(shape)}; sizes must be >= 0"
        )
    return shape


def _allocates(fn):
    """A creation function whose errors name it: an allocation the memory cannot hold is PyTorch's RuntimeError
    with the size (not NumPy's MemoryError), and NumPy's own TypeError/ValueError about an argument (a dtype
    it cannot read, a size past its limits) gets the function's name in front."""
    name = fn.__name__

    @functools.wraps(fn)
    def creating(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MemoryError as e:
            raise RuntimeError(f"{name}(): not enough memory: {e}; ask for a smaller size") from None
        except (TypeError, ValueError, OverflowError) as e:
            if type(e) in (TypeError, ValueError, OverflowError) and name not in str(e):
                raise (TypeError if type(e) is TypeError else ValueError)(f"{name}(): {e}") from None
            raise

    return creating


def _made(array, dtype, requires_grad, name=None):
    t = Tensor._make(array if dtype is None else array.astype(dtype, copy=False))
    t.name = name
    if requires_grad:
        t.requires_grad_(True)
    return _effects.note_made(t)


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
    if dtype is None:
        dtype = _dtype_of_mixed_items(data)
    return _made(_to_array(data, dtype), None, requires_grad, name)


def _dtype_of_mixed_items(data):
    """torch's dtype for a list holding NumPy scalars or arrays or tensors: every item's own dtype (a Python
    float the default dtype, an int int64, a bool bool, np.float64(2.5) float64) promoted together; None for
    anything else. (NumPy's array of such a list made [np.float64(2.5), 1.0] the default float32.)"""
    if not isinstance(data, (list, tuple)):
        return None
    items = list(_flatten(data))
    if not builtins.any(isinstance(v, (np.generic, np.ndarray, Tensor)) for v in items):
        return None
    dtype = None
    for v in items:
        if isinstance(v, (Tensor, np.generic, np.ndarray)):
            item = v.dtype
        elif isinstance(v, (bool, int, float, complex)):
            item = _dtypes._scalar_dtype(v)
        else:
            return None  # text and the like: _to_array names the problem
        dtype = item if dtype is None else _dtypes.promote_types(dtype, item)
    return dtype if dtype is None or dtype.kind != "O" else None


def as_tensor(data: ArrayLike, dtype: DTypeLike | None = None, device: str | Device | None = None) -> Tensor:
    """Like tensor(), but reuses `data` when it already is a Tensor or array of that dtype."""
    _check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return Tensor._make(data)
    return Tensor._make(_to_array(data, _dtype_of_mixed_items(data) if dtype is None else dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy), keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def _default(dtype):
    return _dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)


@_allocates
def zeros(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    _check_device(device, "zeros")
    return _made(np.zeros(_size(size, "zeros"), dtype=_default(dtype)), None, requires_grad, name)


@_allocates
def ones(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    _check_device(device, "ones")
    return _made(np.ones(_size(size, "ones"), dtype=_default(dtype)), None, requires_grad, name)


@_allocates
def empty(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "empty")
    return _made(np.empty(_size(size, "empty"), dtype=_default(dtype)), None, requires_grad)


@_allocates
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
        if kind == "c":
            dtype = _dtypes.complex64 if _dtypes.get_default_dtype() == _dtypes.float32 else _dtypes.complex128
        else:
            dtype = _dtypes.int64 if kind in "iu" else _dtypes.bool if kind == "b" else _dtypes.get_default_dtype()
    return _made(_filled("full", _size((size,), "full"), fill_value, dtype), None, requires_grad, name)


def _filled(op, shape, fill_value, dtype):
    """np.full with torch's check of the fill value: a value the dtype cannot hold (an imaginary part in a
    real dtype, nan, inf or a float past the range in an integer one, a finite float past a floating
    dtype's range) is refused; NumPy would fill with 0, -2**63 or inf. Negative Python ints wrap into
    unsigned dtypes, as in torch (full((2,), -1, dtype=uint8) is 255)."""
    dtype = np.dtype(dtype)
    value = np.asarray(fill_value)
    if value.dtype.kind in "fc" and dtype.kind != "b":
        if value.dtype.kind == "c" and dtype.kind != "c":
            overflow = value.imag != 0
            value = value.real
        else:
            overflow = False
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            overflow = overflow or not np.isfinite(value) or not info.min <= value <= info.max
        elif dtype.kind in "fc":
            real = np.abs(value)
            overflow = overflow or bool(np.isfinite(real).all() and (real > np.finfo(dtype).max).any())
        if overflow:
            wider = "complex64" if np.iscomplexobj(fill_value) else "float64"
            raise RuntimeError(
                f"{op}(): the fill value {fill_value!r} cannot be converted to {dtype} without overflow (as in "
                f"torch); pass a dtype that holds it (dtype=chainrule.{wider}) or a value inside the dtype's range"
            )
    elif value.dtype.kind in "iu" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        low = info.min if dtype.kind == "i" else -int(info.max)
        if not low <= int(value) <= info.max:
            raise RuntimeError(
                f"{op}(): the fill value {int(value)} cannot be converted to {dtype} without overflow (as in "
                f"torch: {dtype} holds {info.min} to {info.max}); pass a wider dtype, e.g. dtype=chainrule.int64"
            )
        value = value.astype(np.int64).astype(dtype)  # wraps -1 to 255 in uint8, as torch
    return np.full(shape, value, dtype=dtype)


@_allocates
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
    for value in (start, end, step):
        if not isinstance(value, (int, float, np.integer, np.floating)) and not (
            isinstance(value, Tensor) and value.numel() == 1
        ):
            raise TypeError(f"arange(): start, end and step must be numbers, got {type(value).__name__}")
        if not np.isfinite(float(value)):
            raise RuntimeError(f"arange(): unsupported range: {start} to {end} by {step}; the bounds must be finite")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dtypes.int64 if integral else _dtypes.get_default_dtype()
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        # torch converts the bounds and the step to the integer dtype first (toward zero):
        # arange(0, 2.5, dtype=int64) is [0, 1], arange(0, 3, 1.5, dtype=int64) steps by 1
        start, end, step = (int(float(v)) if isinstance(v, (float, np.floating)) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError(f"arange(): step must be nonzero (step {step} as {dtype})")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange(): upper bound and lower bound inconsistent with step sign: {start} to {end} by {step} "
            "(torch refuses it too); for a descending range use a negative step, e.g. arange(5, 0, -1)"
        )
    if dtype.kind == "f":
        # the values start + i step in float64, rounded once to the dtype, as torch computes them
        # (NumPy steps in the dtype itself: 0.2998 in place of 0.3 in float16)
        return _made(np.arange(start, end, step, dtype=np.float64).astype(dtype), None, requires_grad)
    return _made(np.arange(start, end, step, dtype=dtype), None, requires_grad)


@_allocates
def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "linspace")
    refuse_text("linspace", start, end)
    # Python ints past int64 as floats (NumPy would make an object array of them)
    start, end = (float(v) if type(v) is int and abs(v) >= 2**63 else v for v in (start, end))
    count = _size((steps,), "linspace")[0]
    dtype = _default(dtype)
    if dtype.kind in "iu" and count > 1:
        return _made(_integer_linspace(start, end, count, dtype), None, requires_grad)
    return _made(np.linspace(start, end, count, dtype=dtype), None, requires_grad)


def _integer_linspace(start, end, count, dtype):
    """torch's integer linspace: with step = (end - start) / (count - 1) in float64, entry i is start + i step
    for the first half and end - (count - 1 - i) step for the second, truncated toward zero. (NumPy floors:
    linspace(-5, 5, 4) would be [-5, -2, 1, 5], torch's is [-5, -1, 1, 5].)"""
    start, end = float(start), float(end)
    step = (end - start) / (count - 1)
    i = np.arange(count, dtype=np.float64)
    values = np.where(i < count // 2, start + step * i, end - step * (count - 1 - i))
    return np.trunc(values).astype(dtype)


@_allocates
def eye(
    n: int,
    m: int | None = None,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "eye")
    return _made(np.eye(*_size((n,) if m is None else (n, m), "eye"), dtype=_default(dtype)), None, requires_grad)


@_allocates
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
    sample = functools.partial(_random.random, _size(size, "rand"), _default(dtype))
    return _made(_effects.draw(sample, generator), None, requires_grad)


@_allocates
def randn(
    *size: int | Sequence[int],
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Standard normal samples from `generator` or the global generator (see manual_seed)."""
    _check_device(device, "randn")
    sample = functools.partial(_random.standard_normal, _size(size, "randn"), _default(dtype))
    return _made(_effects.draw(sample, generator), None, requires_grad)


@_allocates
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
    sample = functools.partial(
        _random.integers,
        low,
        high,
        _size(size if isinstance(size, (tuple, list)) else (size,), "randint"),
        np.dtype(dtype or _dtypes.int64),
    )
    return _made(_effects.draw(sample, generator), None, False)


@_allocates
def randperm(n: int, device: str | Device | None = None, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    _check_device(device, "randperm")
    return _made(
        _effects.draw(
            functools.partial(_random.permutation, _size((n,), "randperm")[0], np.dtype(np.int64)), generator
        ),
        None,
        False,
    )


def _like(x, dtype):
    return x.dtype if dtype is None else np.dtype(dtype)


@_allocates
def zeros_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "zeros_like")
    need_tensor("zeros_like", x)
    return _made(np.zeros(x.shape, dtype=_like(x, dtype)), None, requires_grad)


@_allocates
def ones_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "ones_like")
    need_tensor("ones_like", x)
    return _made(np.ones(x.shape, dtype=_like(x, dtype)), None, requires_grad)


@_allocates
def full_like(
    x: Tensor,
    fill_value: float | bool,
    dtype: DTypeLike | None = None,
    device: str | Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    _check_device(device, "full_like")
    need_tensor("full_like", x)
    return _made(_filled("full_like", x.shape, fill_value, _like(x, dtype)), None, requires_grad)


@_allocates
def empty_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    _check_device(device, "empty_like")
    need_tensor("empty_like", x)
    return _made(np.empty(x.shape, dtype=_like(x, dtype)), None, requires_grad)


@_allocates
def rand_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    """rand with x's shape and dtype."""
    _check_device(device, "rand_like")
    need_tensor("rand_like", x)
    sample = functools.partial(_random.random, tuple(x.shape), _like(x, dtype))
    return _made(_effects.draw(sample), None, requires_grad)


@_allocates
def randn_like(
    x: Tensor, dtype: DTypeLike | None = None, device: str | Device | None = None, requires_grad: bool = False
) -> Tensor:
    """randn with x's shape and dtype."""
    _check_device(device, "randn_like")
    need_tensor("randn_like", x)
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
