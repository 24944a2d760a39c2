"""Elementwise ops, gathered under one name: the primitives and their public functions live in
unary.py (y = f(x)), binary.py (z = f(x, y) with broadcasting, where, clamp) and compare.py (no
gradient: comparisons, rounding, tests); type promotion in promotion.py.

`chainrule.ops.elementwise.exp` and friends stay importable from here (the rest of the library,
user code and tests import them this way).
"""

from . import binary as _binary
from . import compare as _compare
from . import promotion as _promotion
from . import unary as _unary

for _module in (_promotion, _unary, _binary, _compare):
    globals().update(
        {k: v for k, v in vars(_module).items() if not (k.startswith("__") or k in ("np", "annotations", "_Tensor"))}
    )
del _module
