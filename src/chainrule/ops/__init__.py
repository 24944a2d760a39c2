"""The primitives, grouped by family, and the public functions built on them.

    unary.py, binary.py, compare.py  elementwise ops (elementwise.py gathers them; promotion.py
                                     converts operands to PyTorch's result dtype)
    reduce.py                        sum, mean, max, norm, ...
    views.py, joining.py,            reshape, permute, flip, ...; cat, stack, pad, split, ...;
    indexing.py, scatter.py          x[index] and assignment; index_select, scatter, gather, ...
                                     (shape.py gathers them)
    linalg.py                        matmul, linear (x W^T + b), dot, outer
    nn.py                            softmax, losses, dropout
    conv.py                          convolution and pooling
    rnn.py                           RNN/GRU/LSTM: one layer's whole sequence per primitive
    resample.py, interpolate.py      adaptive pooling; interpolate (resample.py imports it)

Every primitive is registered when its class is defined (autograd/primitive.py): `primitives()`
lists them from the registry; `NONDIFFERENTIABLE` lists the public ops whose results carry no
gradient (comparisons, argmax, ...).
"""

from ..autograd import primitive as _registry
from . import conv, einsum, elementwise, linalg, nn, reduce, resample, scan, shape, triangular  # noqa: F401  (each registers its ops)


def primitives():
    """Every registered primitive (each one carries a backward rule and needs an op-table entry)."""
    return list(_registry.PRIMITIVES.values())


def nondifferentiable():
    """The public ops registered as not differentiable."""
    return frozenset(e.name for e in _registry.EXPORTS.values() if not e.differentiable)


NONDIFFERENTIABLE = nondifferentiable()
