"""chainrule: the mathematics of neural networks, done for real.

Automatic differentiation on NumPy arrays with a PyTorch-shaped `Tensor` and
JAX-shaped transforms. This module holds public names only.
"""
from ._dtypes import (bool, complex64, complex128, default_generator, double, float, float16, float32,
                      float64, get_default_dtype, half, int, int8, int16, int32, int64, long, manual_seed,
                      set_default_dtype, short, uint8)
from .tensor import Size, Tensor
from .generator import Generator
from ._device import device, get_default_device, set_default_device
from . import accelerator, backends, cuda
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, is_tensor,
                       linspace, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm,
                       tensor, zeros, zeros_like)
from .creation import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                       LongTensor, ShortTensor)
from ._dtypes import can_cast, promote_types, result_type
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.functional import (grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, value_and_grad, vjp)
from .autograd.gradcheck import gradcheck, gradgradcheck
from .autograd.jit import TraceError, jit, make_jaxpr
from .ops.elementwise import (abs, add, allclose, ceil, clamp, clip, cos, div, elu, eq, equal, erf, exp,
                              expm1, floor, gelu, ge, gt, isfinite, isinf, isnan, le, leaky_relu, log,
                              log1p, log2, log10, logical_and, logical_not, logical_or, lt, maximum, minimum,
                              mul, ne, neg, pow, reciprocal, relu, round, rsqrt, sigmoid, sign, silu, sin,
                              softplus, sqrt, square, sub, tan, tanh, trunc, where)
from .ops.reduce import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, prod, std,
                         sum, topk, var)
from .ops.shape import (broadcast_to, cat, chunk, concatenate, diagonal, expand, flatten, flip, gather, index_add,
                        index_put, index_select, masked_fill, movedim, narrow, pad, permute, repeat, reshape, scatter,
                        scatter_add, select, split, squeeze, stack, swapaxes, transpose, unbind, unsqueeze)
from .ops.linalg import dot, matmul, outer
from .ops.nn import log_softmax, one_hot, softmax
from ._torch_api import mm, torch_function as _torch_function

# The module-level functions take PyTorch's keyword names (input=, other=) and out= where torch has them.
for _name in ("abs add ceil clamp clip cos div eq erf exp expm1 floor ge gt le log log1p log2 log10 logical_and "
              "logical_not logical_or lt maximum minimum mul ne neg pow reciprocal round rsqrt sigmoid sign sin "
              "sqrt square sub tan tanh trunc where sum mean prod amax amin logsumexp std var norm argmax argmin "
              "all any cat concatenate stack matmul dot outer mm").split():
    globals()[_name] = _torch_function(globals()[_name], _name)
for _name in "isnan isinf isfinite".split():
    globals()[_name] = _torch_function(globals()[_name], _name, out=False)  # torch has no out= on these
del _name
from .io import load, save
from . import optim


_LAZY = ("nn", "data", "symbolic", "utils", "train", "diagnostics", "models", "expression")


def __getattr__(name):
    # NOTE: these submodules load on first use (chainrule.nn, chainrule.data, chainrule.symbolic, ...,
    # or `import chainrule.nn as nn`), so that `import chainrule` does not pay for them.
    if name in _LAZY:
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


__version__ = "0.1.0"
from .explain import explain  # also attaches Tensor.explain and chainrule.viz (cheap: no graphviz/sympy)
from .value import Value
