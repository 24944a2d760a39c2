"""PyTorch's calling conventions for the module-level functions: `input=`/`other=` keywords and `out=`.

The ops keep their short signatures (x, y) and stay unwrapped for the operators and Tensor
methods (the hot paths); `chainrule.add`, `chainrule.sum`, ... are these wrappers, so a call
without keywords costs one extra Python call.
"""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from .autograd import grad_mode
from .ops import elementwise as _ew
from .tensor import Tensor

# torch's name for the second operand where it is not `other`
_SECOND = {"pow": "exponent", "dot": "tensor", "outer": "vec2"}
# Type categories: torch lets out= take a result of its own category or a lower one (bool < int < float < complex).
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
# ... except these, whose out must have the result's dtype exactly (torch's kernels check it),
_EXACT = set(
    "abs ceil clamp clip floor neg round sign trunc amax amin norm argmax argmin all any matmul dot mm where".split()
)
# and these, which compute in the out tensor's dtype (the input is cast to it first).
_IN_OUT_DTYPE = {"sum", "prod"}


def _requires_grad(values):
    for v in values:
        if isinstance(v, Tensor):
            if v.requires_grad:
                return True
        elif isinstance(v, (list, tuple)) and _requires_grad(v):
            return True
    return False


def _write_out(name, result, out):
    """Copy `result` into `out` as torch does: same-or-lower type category, resized (with a warning) if needed."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    array = result._data if isinstance(result, Tensor) else np.asarray(result)
    if name in _EXACT and array.dtype != out._data.dtype:
        raise RuntimeError(
            f"{name}(): expected the out tensor to have dtype {array.dtype}, but got {out.dtype}; "
            f"pass an out tensor of dtype {array.dtype} (or leave out= off)."
        )
    if name not in _IN_OUT_DTYPE and _CATEGORY[array.dtype.kind] > _CATEGORY[out._data.dtype.kind]:
        # cat and stack report this as a TypeError in torch, the others as a RuntimeError
        error = TypeError if name in ("cat", "concatenate", "stack") else RuntimeError
        raise error(
            f"{name}(): result type {array.dtype} can't be cast to the desired output type "
            f"{out.dtype}; pass an out tensor of dtype {array.dtype} (or leave out= off)."
        )
    if out._data.shape != array.shape:
        if out._data.size:
            warnings.warn(
                f"{name}(): an output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, which does not match the required output shape {list(array.shape)}. "
                "PyTorch deprecates this; pass an out tensor of the right shape or with zero elements.",
                UserWarning,
                stacklevel=3,
            )
        out._data = np.empty(array.shape, dtype=out._data.dtype)
    out._write(array, f"{name}(out=...)")
    return out


def torch_function(fn, name=None, out=True):
    """`fn` taking torch's keyword names (input=, other=/exponent=/...) and, if `out`, `out=`.

    With out=, the result is written into `out` and `out` is returned; as in PyTorch this records
    no graph, so it is refused while gradients are on and an argument (or out) requires grad.
    """
    name = name or fn.__name__
    params = list(inspect.signature(fn).parameters)
    renames = {}
    if params and params[0] == "x":
        renames["input"] = "x"
    elif len(params) > 1 and params[0] == "condition" and params[1] == "x":
        renames.update(input="x", other="y")
    if len(params) > 1 and params[1] == "y":
        renames[_SECOND.get(name, "other")] = "y"

    if not out:

        @functools.wraps(fn)
        def renamed(*args, **kwargs):
            if kwargs:
                for torch_name, ours in renames.items():
                    if torch_name in kwargs:
                        kwargs[ours] = kwargs.pop(torch_name)
            return fn(*args, **kwargs)

        return renamed

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if kwargs and renames:
            for torch_name, ours in renames.items():
                if torch_name in kwargs:
                    kwargs[ours] = kwargs.pop(torch_name)
        if out is None:
            return fn(*args, **kwargs)
        if grad_mode.is_grad_enabled() and (
            _requires_grad(args) or _requires_grad(kwargs.values()) or isinstance(out, Tensor) and out.requires_grad
        ):
            raise RuntimeError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, but one "
                "of the arguments requires grad. Call it without out=, or inside `with chainrule.no_grad():`."
            )
        if name in _IN_OUT_DTYPE and isinstance(out, Tensor) and args:
            args = (_ew.cast(args[0], out._data.dtype),) + args[1:]
        return _write_out(name, fn(*args, **kwargs), out)

    return call


def mm(input, mat2):
    """The matrix product of two 2-D tensors (torch.mm); matmul handles batches and vectors."""
    from .ops.linalg import matmul

    for arg, what in ((input, "input"), (mat2, "mat2")):
        if np.ndim(arg._data if isinstance(arg, Tensor) else arg) != 2:
            raise RuntimeError(
                f"mm: {what} must be a matrix (2-D), got shape {tuple(np.shape(arg))}; "
                "use matmul for batches or vectors."
            )
    return matmul(input, mat2)
