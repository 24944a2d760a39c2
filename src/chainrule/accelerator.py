"""chainrule.accelerator: torch.accelerator's answers when there is none (chainrule runs on the CPU).

Example:
    >>> dev = chainrule.accelerator.current_accelerator() or chainrule.device("cpu")
"""

from __future__ import annotations


def is_available() -> bool:
    """False: no GPU or other accelerator."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (torch returns its device type when there is one)."""
    return None


def device_count() -> int:
    """0 accelerators."""
    return 0
