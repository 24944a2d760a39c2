"""Devices, PyTorch-shaped: chainrule computes on the CPU with NumPy, and says so.

`device("cpu")` is the one device; scripts written for PyTorch run unchanged when they pick
their device the usual way (`"cuda" if chainrule.cuda.is_available() else "cpu"`).
Asking for a GPU ("cuda", "mps", device("cuda:0")) raises a clear error instead of silently
computing somewhere else.

Example:
    >>> dev = chainrule.device("cpu")
    >>> x = chainrule.zeros(3, device=dev)
    >>> x.device == dev
    True
"""

from __future__ import annotations

import threading

from .ops._util import is_tensor

# PyTorch's device types; only "cpu" exists here, the others parse (so device("cuda:1") prints)
# but cannot hold a tensor.
_KNOWN_TYPES = (
    "cpu",
    "cuda",
    "ipu",
    "xpu",
    "mkldnn",
    "opengl",
    "opencl",
    "ideep",
    "hip",
    "ve",
    "fpga",
    "maia",
    "xla",
    "lazy",
    "vulkan",
    "mps",
    "meta",
    "hpu",
    "mtia",
    "privateuseone",
)


class device:
    """Where a tensor lives, as torch.device: `device("cpu")`, `device("cpu:0")`, `device("cpu", 0)`.

    Compares equal to another device with the same type and index (so device("cpu") !=
    device("cpu:0"), as in PyTorch); `str(d)` is "cpu" or "cpu:0". Only the CPU can hold tensors.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device: pass either a device or a type and index, not both")
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or a device, got {type.__class__.__name__}")
        text = type
        name, colon, number = text.partition(":")
        if name not in _KNOWN_TYPES:
            raise RuntimeError(
                f"device: unknown device type {name!r} in {text!r}; chainrule computes on the CPU with NumPy, "
                "so use 'cpu' (PyTorch's other types such as 'cuda' and 'mps' are recognised but unavailable)."
            )
        if colon:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"device: invalid device string {text!r}; expected e.g. 'cpu' or 'cpu:0'")
            index = int(number)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: the index must be a non-negative integer, got {index!r}")
        self.type, self.index = name, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return (
            f"device(type={self.type!r})" if self.index is None else f"device(type={self.type!r}, index={self.index})"
        )

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """`with chainrule.device("cpu"):` makes it the default device inside the block, as in PyTorch."""
        new = check(self, "device")
        _local.previous = _local.previous + (_local.default,)
        _local.default = new
        return self

    def __exit__(self, *exc):
        _local.default, _local.previous = _local.previous[-1], _local.previous[:-1]


CPU = device("cpu")


# NOTE: the default device belongs to the thread that sets it, as in PyTorch (its device context is
# a threading.local); the default dtype stays process-wide, as PyTorch's. `previous`: the defaults
# to restore when `with device(...)` blocks end.
class _DeviceState(threading.local):
    def __init__(self):
        self.default, self.previous = CPU, ()


_local = _DeviceState()


def _no_gpu(where, requested):
    what = {
        "cuda": "an NVIDIA GPU with CUDA",
        "mps": "Apple's Metal (MPS)",
        "hip": "an AMD GPU with ROCm",
        "xpu": "an Intel GPU (XPU)",
    }.get(requested.type, f"the {requested.type!r} backend")
    return RuntimeError(
        f"{where}: device {str(requested)!r} needs {what}, which chainrule does not have: chainrule runs on "
        "the CPU with NumPy. Use device='cpu' (or pick it with "
        "`'cuda' if chainrule.cuda.is_available() else 'cpu'`)."
    )


def check(dev, where="device"):
    """The device object for `dev` (a string, a device or None for the default); refuses anything but the CPU."""
    if dev is None:
        return _local.default
    if dev is CPU or (type(dev) is str and dev == "cpu"):  # a Tensor's == would compare elementwise
        return CPU
    if isinstance(dev, int) and not isinstance(dev, bool):
        # PyTorch reads a bare integer as a CUDA ordinal.
        if dev < 0:
            raise RuntimeError(f"{where}(): a device ordinal must be non-negative, got {dev}; pass 'cpu'")
        raise _no_gpu(where, device("cuda", dev))
    if not isinstance(dev, (str, device)):
        raise TypeError(
            f"{where}(): argument 'device' must be a string such as 'cpu' or a chainrule.device, got "
            f"{type(dev).__name__}"
        )
    try:
        d = dev if isinstance(dev, device) else device(dev)
    except RuntimeError as e:  # the device string's own error, told where it was given
        raise RuntimeError(f"{where}(): {e}") from None
    if d.type != "cpu":
        raise _no_gpu(where, d)
    return d


def parse_to(args, kwargs, where, allowed=("non_blocking",)):
    """(device, dtype, kwargs) from the argument forms of PyTorch's `.to(...)`.

    Forms: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` (its dtype), and keywords
    `device=`, `dtype=`. A positional bool (non_blocking, copy) means nothing on the CPU. The device
    is checked (a GPU raises); the other keywords in `allowed` are returned for the caller.
    """
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    extra = {k: kwargs.pop(k) for k in allowed if k in kwargs}
    if kwargs:
        raise TypeError(f"{where}() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if is_tensor(arg):  # take its dtype
            dtype = arg._data.dtype
        elif (
            isinstance(arg, device)
            or isinstance(arg, int)
            and not isinstance(arg, bool)
            or (isinstance(arg, str) and arg.partition(":")[0] in _KNOWN_TYPES)
        ):
            dev = arg
        elif not isinstance(arg, bool):
            dtype = arg
    if dev is not None:
        check(dev, where)
    return dev, dtype, extra


def set_default_device(dev):
    """Set the device constructors use when none is given (only 'cpu' exists; None resets it)."""
    _local.default = CPU if dev is None else check(dev, "set_default_device")


def get_default_device() -> device:
    """The device constructors use when none is given: device(type='cpu')."""
    return _local.default
