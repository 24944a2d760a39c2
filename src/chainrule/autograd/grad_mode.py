"""Grad mode: the global switch that decides whether ops record a graph.

`no_grad`, `enable_grad` and `set_grad_enabled` work as context managers and as
decorators, as in PyTorch.
"""
import functools

_state = {"enabled": True}


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad record a graph."""
    return _state["enabled"]


class _GradModeContext:
    """Base for the grad-mode context managers; also usable as a decorator."""

    _target = True

    def __enter__(self):
        self._prev = _state["enabled"]
        _state["enabled"] = self._target
        return self

    def __exit__(self, *exc):
        _state["enabled"] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper

    def _fresh(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Turn graph recording off inside the block (evaluation, optimizer steps).

    Example:
        >>> with chainrule.no_grad():
        ...     y = w * x          # y.requires_grad is False
    """

    _target = False


class enable_grad(_GradModeContext):
    """Turn graph recording back on inside a `no_grad` block."""

    _target = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to `mode`. Takes effect at once, and is undone on leaving a `with` block.

    Example:
        >>> with chainrule.set_grad_enabled(is_training):
        ...     loss = model(x)
    """

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = _state["enabled"]
        _state["enabled"] = self._target

    def __exit__(self, *exc):
        _state["enabled"] = self._prev
        return False

    def __enter__(self):
        return self

    def __call__(self, fn):
        _state["enabled"] = self._prev  # used as a decorator: the mode applies per call only
        return super().__call__(fn)

    def _fresh(self):
        return set_grad_enabled(self._target)
