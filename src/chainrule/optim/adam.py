"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .optimizer import Optimizer

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..tensor import Tensor


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as PyTorch's ``torch.optim.Adam``.

    With gradient g_t at step t = 1, 2, ...::

        g     = -g_t if maximize else g_t
        g     = g + weight_decay * p                      (L2 penalty, Adam only)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g^2
        vmax  = max(vmax, v_t); use vmax for v_t           (amsgrad only)
        p     = p - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    Example:
        >>> opt = chainrule.optim.Adam(model.parameters(), lr=1e-2)
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize),
        )

    def _check_group(self, group):
        super()._check_group(group)
        name = type(self).__name__
        beta1, beta2 = group["betas"]
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"{name}: invalid betas {tuple(group['betas'])}; each must be in [0, 1)")
        if group["eps"] < 0.0:
            raise ValueError(f"{name}: invalid eps {group['eps']}; it must be >= 0")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"{name}: invalid weight_decay {group['weight_decay']}; it must be >= 0")

    def _update(self, p, grad, state, group):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p._data)
            state["exp_avg_sq"] = np.zeros_like(p._data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p._data)
        g = -grad if group["maximize"] else grad
        if wd != 0:
            if self._decoupled:
                p._data *= 1 - lr * wd
            else:
                g = g + wd * p._data
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        # NOTE: m += (1 - beta1)(g - m) is PyTorch's lerp form; it keeps trajectories equal to ~1 ulp.
        exp_avg += (1 - beta1) * (g - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (g * g)
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            denom = np.sqrt(state["max_exp_avg_sq"]) / bias_correction2_sqrt + eps
        else:
            denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        p._data -= step_size * exp_avg / denom


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    The decay shrinks the parameter directly instead of being added to the gradient::

        p = p * (1 - lr * weight_decay)
        (then the Adam update above, with no L2 term in g)

    Example:
        >>> opt = chainrule.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
