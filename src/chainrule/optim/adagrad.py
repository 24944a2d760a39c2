"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .optimizer import Optimizer

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as PyTorch's ``torch.optim.Adagrad``.

    With gradient g_t at step t = 1, 2, ...::

        g   = -g_t if maximize else g_t
        g   = g + weight_decay * p
        s   = s + g^2                         (s starts at initial_accumulator_value)
        p   = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    NOTE: each group's sums start at that group's initial_accumulator_value; torch starts every
    group at the constructor's (docs/compat/hunt.md).

    Example:
        >>> opt = chainrule.optim.Adagrad(model.parameters(), lr=0.1)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                maximize=maximize,
            ),
        )

    def _check_group(self, group):
        super()._check_group(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if group[key] < 0.0:
                raise ValueError(f"Adagrad: invalid {key} {group[key]}; it must be >= 0")

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p._data, group["initial_accumulator_value"])
        state["step"] += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p._data -= clr * g / (np.sqrt(state["sum"]) + group["eps"])
