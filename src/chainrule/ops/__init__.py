"""The primitives, grouped by family. `REGISTRY` maps every public op name to its function;
`NONDIFFERENTIABLE` lists the ops that return values with no gradient (comparisons, argmax, ...).
"""
from . import elementwise, linalg, nn, reduce, shape
from ..autograd.function import Function

_MODULES = (elementwise, reduce, shape, linalg, nn)

NONDIFFERENTIABLE = frozenset(name for m in _MODULES for name in m.NONDIFFERENTIABLE)


def primitives():
    """Every Function subclass defined in chainrule.ops (the primitives that carry a backward rule)."""
    found = []
    for m in _MODULES:
        for value in vars(m).values():
            if isinstance(value, type) and issubclass(value, Function) and value.__module__ == m.__name__:
                found.append(value)
    return found
