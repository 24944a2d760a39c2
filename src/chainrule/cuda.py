"""chainrule.cuda: what torch.cuda answers on a machine without a GPU (chainrule runs on the CPU).

`is_available()` is False and `device_count()` 0, so scripts that pick their device with
`"cuda" if chainrule.cuda.is_available() else "cpu"` run unchanged. Seeding and cache calls are
accepted and do nothing (as torch does without CUDA); anything that needs a GPU raises.
"""

from __future__ import annotations

from ._device import _no_gpu
from ._device import device as _device


def is_available() -> bool:
    """False: chainrule has no GPU backend."""
    return False


def device_count() -> int:
    """0: no CUDA devices."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed) -> None:
    """Accepted and ignored, as torch.cuda.manual_seed without CUDA (seed the CPU with chainrule.manual_seed)."""


manual_seed_all = manual_seed


def empty_cache() -> None:
    """Nothing to free (no GPU memory)."""


def _unavailable(name):
    def call(*args, **kwargs):
        raise _no_gpu(f"chainrule.cuda.{name}", _device("cuda"))

    call.__name__ = name
    call.__doc__ = f"Raises: chainrule has no CUDA ({name} needs a GPU)."
    return call


current_device = _unavailable("current_device")
set_device = _unavailable("set_device")
synchronize = _unavailable("synchronize")
get_device_name = _unavailable("get_device_name")
