"""The autodiff engine: graph nodes, backward, grad mode, transforms and gradient checks."""

from .anomaly import detect_anomaly, is_anomaly_enabled
from .engine import backward, grad
from .function import Function, custom_vjp
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's deprecated Variable: `Variable(t, requires_grad=True)` is a Tensor, as in torch >= 0.4.

    Returns a new Tensor sharing `t`'s data, outside any graph (like t.detach()), with the
    requires_grad given; `isinstance(x, Variable)` is true of every Tensor. New code uses
    Tensors directly.

    Example:
        >>> w = Variable(chainrule.zeros(3), requires_grad=True)
    """

    def __new__(cls, data, requires_grad=False, volatile=False):
        from ..tensor import Tensor

        if not isinstance(data, Tensor):
            raise TypeError(
                f"Variable data has to be a tensor, but got {type(data).__name__}; "
                "use chainrule.tensor(data) (Variable is only a deprecated alias)"
            )
        if volatile:
            import warnings

            warnings.warn(
                "volatile was removed and now has no effect. Use `with chainrule.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
        return Tensor._make(data._data).requires_grad_(requires_grad)


__all__ = [
    "Function",
    "backward",
    "custom_vjp",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "Variable",
]
