"""Anomaly detection: stop at the first op whose forward or backward makes NaN or inf.

With `detect_anomaly()` on, every op checks its output and every backward rule
checks the gradients it returns; the error names the op and the line of user
code that created it. It costs a pass over every array, so it is off by default.
"""

import numpy as np

_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled() -> bool:
    return _state["enabled"]


class detect_anomaly:
    """Context manager (and decorator) that raises at the op that first produces NaN/inf.

    Example:
        >>> with chainrule.autograd.detect_anomaly():
        ...     loss = (x.log() * 0).sum()   # log(0) = -inf, times 0 = NaN
        ...     loss.backward()
        RuntimeError: Log ... produced NaN ...
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = dict(_state)
        _state["enabled"] = True
        _state["check_nan"] = self.check_nan
        return self

    def __exit__(self, *exc):
        _state.update(self._prev)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


def _bad(values):
    arr = np.asarray(values)
    if arr.dtype.kind not in "fc":
        return None
    if np.isnan(arr).any():
        return "NaN"
    if np.isinf(arr).any():
        return "inf"
    return None


def _inputs_are_finite(node) -> bool:
    from ..tensor import Tensor

    for edge in node.next:
        if isinstance(edge, Tensor):
            if _bad(edge._data):
                return False
    return True


def check_forward(node, out):
    """Raise if `out`, the result of `node`'s forward, holds NaN or inf."""
    if not _state["check_nan"]:
        return
    kind = _bad(out)
    if kind:
        from .function import format_site

        raise RuntimeError(
            f"Anomaly: the forward of {node.op_name} (created at {format_site(node.site)}) produced {kind} "
            f"in its output of shape {tuple(np.shape(out))}. Check its inputs' range (e.g. log of 0, "
            "division by 0, exp of a large number), or use the stable form of the function."
        )


def check_backward(node, grads):
    """Raise if a gradient returned by `node`'s backward rule holds NaN or inf."""
    if not _state["check_nan"]:
        return
    from ..tensor import Tensor
    from .function import format_site

    for index, g in enumerate(grads):
        if g is None:
            continue
        kind = _bad(g._data if isinstance(g, Tensor) else g)
        if kind:
            raise RuntimeError(
                f"Anomaly: the backward of {node.op_name} (created at {format_site(node.site)}) returned "
                f"{kind} in the gradient of its input {index}. The forward op is the one to fix: "
                "its derivative is not finite at these inputs (e.g. sqrt or log at 0)."
            )
