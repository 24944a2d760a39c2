"""Shape ops, gathered under one name: the primitives and their public functions live in views.py
(reshape, permute, broadcast_to, flip, diagonal, ...), joining.py (cat, stack, pad, split, ...),
indexing.py (getitem and assignment, PyTorch's index rules) and scatter.py (index_select,
index_put, masked_fill, scatter, gather, ...).

`chainrule.ops.shape.reshape` and friends stay importable from here (the rest of the library,
user code and tests import them this way).
"""

from . import indexing as _indexing
from . import joining as _joining
from . import scatter as _scatter
from . import views as _views

for _module in (_views, _joining, _indexing, _scatter):
    globals().update(
        {
            k: v
            for k, v in vars(_module).items()
            if not (k.startswith("__") or k in ("np", "annotations", "builtins", "operator", "functools"))
        }
    )
del _module
