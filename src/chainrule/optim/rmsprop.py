"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .optimizer import Optimizer

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..tensor import Tensor


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as PyTorch's ``torch.optim.RMSprop``.

    With gradient g_t::

        g   = -g_t if maximize else g_t
        g   = g + weight_decay * p
        v   = alpha * v + (1 - alpha) * g^2
        a   = alpha * a + (1 - alpha) * g;  d = sqrt(v - a^2) + eps     (centered)
                                            d = sqrt(v) + eps            (otherwise)
        b   = momentum * b + g / d;  p = p - lr * b                      (momentum > 0)
        p   = p - lr * g / d                                             (otherwise)

    Example:
        >>> opt = chainrule.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
        )

    def _check_group(self, group):
        super()._check_group(group)
        for key in ("alpha", "eps", "weight_decay", "momentum"):
            if group[key] < 0.0:
                raise ValueError(f"RMSprop: invalid {key} {group[key]}; it must be >= 0")

    def _update(self, p, grad, state, group):
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p._data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p._data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p._data)
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (g * g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p._data -= group["lr"] * buf
        else:
            p._data -= group["lr"] * g / avg
