"""Dtypes (NumPy's, under PyTorch's names), the default dtype, and the global RNG."""
import builtins

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_state = {"default": float32, "rng": np.random.default_rng()}


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _state["default"]


def set_default_dtype(dtype) -> None:
    """Set the dtype of tensors made from Python floats (float32 or float64).

    Example:
        >>> chainrule.set_default_dtype(chainrule.float64)   # for gradient checks
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes can be the default, got {dtype}")
    _state["default"] = dtype


def manual_seed(seed: builtins.int):
    """Seed the global generator behind rand, randn, init and dropout; returns it."""
    _state["rng"] = np.random.default_rng(seed)
    return _state["rng"]


def default_generator() -> np.random.Generator:
    """The global NumPy Generator that manual_seed resets."""
    return _state["rng"]


def is_floating_point_dtype(dtype) -> builtins.bool:
    return np.dtype(dtype).kind in "fc"
