"""NumPy's floating-point warnings off for a backward pass: ``np.errstate(divide="ignore",
over="ignore", invalid="ignore")`` in two calls, ``token = enter()`` and ``leave(token)``.

Backward rules follow IEEE arithmetic (d sqrt(x)/dx at 0 is inf) without NumPy's warnings, as
PyTorch does, so every backward pass and jit replay runs under this state. ``np.errstate`` builds
its state anew at each entry (1.8 us, once per training step); here it is built once for each
state it is entered from (what np.seterr set: `under` and the callback stay the caller's) and set
through the context variable NumPy reads it from (0.3 us). Where that variable is not there (a
NumPy without it), ``np.errstate`` is used.
"""

from __future__ import annotations

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar as _state
    from numpy._core._ufunc_config import _make_extobj
except ImportError:  # NumPy < 2, or a later layout
    _state = None

_quiet = {}  # the state entered from -> the same with divide, over and invalid ignored


def enter():
    """Turn the warnings off; returns what `leave` needs to turn them back."""
    if _state is None:
        errstate = np.errstate(divide="ignore", over="ignore", invalid="ignore")
        errstate.__enter__()
        return errstate
    current = _state.get()
    quiet = _quiet.get(current)
    if quiet is None:
        if len(_quiet) > 64:  # states from many np.seterr calls: keep the cache small
            _quiet.clear()
        quiet = _quiet[current] = _make_extobj(divide="ignore", over="ignore", invalid="ignore")
    return _state.set(quiet)


def leave(token):
    """Restore the warnings `enter` turned off."""
    if _state is None:
        token.__exit__(None, None, None)
    else:
        _state.reset(token)
