"""chainrule: the mathematics of neural networks, done for real.

Automatic differentiation on NumPy arrays with a PyTorch-shaped `Tensor` and
JAX-shaped transforms. This module holds public names only.
"""

from ._dtypes import (
    bool,
    complex64,
    complex128,
    default_generator,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    manual_seed,
    set_default_dtype,
    short,
    uint8,
)
from .tensor import Size, Tensor
from .generator import Generator
from ._device import device, get_default_device, set_default_device
from . import accelerator, backends, cuda
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .creation import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from ._dtypes import can_cast, promote_types, result_type
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.functional import grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, value_and_grad, vjp
from .autograd.gradcheck import gradcheck, gradgradcheck
from .autograd.jit import TraceError, jit, make_jaxpr
from . import ops as _ops  # noqa: F401  (registers every primitive and public op)
from .autograd import primitive as _registry
from ._torch_api import mm, torch_function as _torch_function

mm = _torch_function(mm, "mm")


def _install(export, added):
    """The public ops come from the registry (autograd/primitive.py): each export with "chainrule" among
    its namespaces is a name here, taking torch's keyword names where `torch_kwargs` says so."""
    if "chainrule" not in export.namespaces:
        return
    name = export.name
    if not added:
        if name in __all__:
            __all__.remove(name)
            globals().pop(name, None)
        return
    fn = export.fn
    if export.torch_kwargs is not None:
        fn = _torch_function(fn, name, out=export.torch_kwargs == "out")
    globals()[name] = fn
    if name not in __all__:
        __all__.append(name)


__all__ = []


_LAZY = ("nn", "data", "symbolic", "utils", "train", "diagnostics", "models", "expression", "optim", "viz")
_LAZY_NAMES = {"load": "io", "save": "io"}  # functions of a submodule loaded on first use


def __getattr__(name):
    # NOTE: these submodules load on first use (chainrule.nn, chainrule.data, chainrule.symbolic, ...,
    # or `import chainrule.nn as nn`), so that `import chainrule` does not pay for them.
    import importlib

    if name in _LAZY:
        return importlib.import_module("." + name, __name__)
    if name in _LAZY_NAMES:
        value = globals()[name] = getattr(importlib.import_module("." + _LAZY_NAMES[name], __name__), name)
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


__version__ = "0.1.0"
from .explain import explain  # also attaches Tensor.explain and the recorder of backward passes
from .value import Value

# Every public name: the ones written above and the loaded submodules, then the registered ops (kept
# current by _install). The lazy submodules stay out: `from chainrule import *` should not load them.
__all__ += sorted(
    k
    for k, v in globals().items()
    if not k.startswith("_") and k not in __all__ and not isinstance(v, type(_registry)) and k != "annotations"
) + ["accelerator", "autograd", "backends", "cuda", "load", "optim", "save", "viz"]
_registry.on_export(_install)
