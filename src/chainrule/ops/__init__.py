"""The primitives, grouped by family. `primitives()` lists every Function with a backward rule;
`NONDIFFERENTIABLE` lists the ops that return values with no gradient (comparisons, argmax, ...).
"""
from . import conv, elementwise, linalg, nn, reduce, shape
from ..autograd.function import Function

_MODULES = (elementwise, reduce, shape, linalg, nn, conv)

NONDIFFERENTIABLE = frozenset(name for m in _MODULES for name in m.NONDIFFERENTIABLE)


def primitives():
    """Every Function subclass defined in chainrule.ops (the primitives that carry a backward rule)."""
    found = []
    for m in _MODULES:
        for value in vars(m).values():
            if isinstance(value, type) and issubclass(value, Function) and value.__module__ == m.__name__:
                found.append(value)
    return found
