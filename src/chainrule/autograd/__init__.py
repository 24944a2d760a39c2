"""The autodiff engine: graph nodes, backward, grad mode, transforms and gradient checks."""
from .anomaly import detect_anomaly, is_anomaly_enabled
from .engine import backward, grad
from .function import Function, custom_vjp
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["Function", "backward", "custom_vjp", "detect_anomaly", "enable_grad", "grad",
           "is_anomaly_enabled", "is_grad_enabled", "no_grad", "set_grad_enabled"]
