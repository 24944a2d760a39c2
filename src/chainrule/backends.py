"""chainrule.backends: PyTorch's backend switches, answered for a CPU-only NumPy library.

`backends.mps.is_available()` and `backends.cuda.is_built()` are False; `backends.cudnn`'s
flags (`deterministic`, `benchmark`) can be set, as scripts do, and change nothing.
"""

from __future__ import annotations

from types import SimpleNamespace


def _false():
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cuda = SimpleNamespace(is_built=_false)
cudnn = SimpleNamespace(is_available=_false, enabled=True, deterministic=False, benchmark=False)
mkldnn = SimpleNamespace(is_available=_false)
