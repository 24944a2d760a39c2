"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._blas import BLAS_MIN_SIZE, axpy
from .optimizer import Optimizer

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's ``torch.optim.SGD``, same update order).

    With gradient g_t of parameter p at step t::

        g   = -g_t if maximize else g_t
        g   = g + weight_decay * p                       (L2 penalty)
        b_t = g                          at t = 1        (momentum buffer)
        b_t = momentum * b_{t-1} + (1 - dampening) * g   afterwards
        g   = g + momentum * b_t if nesterov else b_t    (when momentum != 0)
        p   = p - lr * g

    Example:
        >>> opt = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    def _check_group(self, group):
        super()._check_group(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']}; it must be >= 0")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"SGD: invalid weight_decay {group['weight_decay']}; it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _step_group(self, group):
        if not _plain(group):
            super()._step_group(group)
            return
        # Plain SGD, p <- p - lr g: no state to keep (torch's momentum-free SGD keeps none either).
        alpha = -group["lr"]
        for p in group["params"]:
            g = p._grad
            if g is not None:
                axpy(p._data, alpha, g._data)
                p._bump_version()

    def _inline_step(self, flat=False):
        """step() as a jit replay's code (jit/passes.py, `inline_steps`), or None.

        For a momentum-free SGD with one group: p <- p - lr g for each parameter that has a gradient,
        with the NumPy calls `_step_group` makes (`axpy` from BLAS_MIN_SIZE elements on), so the
        numbers are the same; it runs while `_plain_lr` finds the group as traced, and calls step()
        once it changes. Returns (code, constants): the code names the constants by key, the
        replay's locals {lr} and {g}, and {step} (the recorded step() call).

        flat=True (the parameters `_flat_params` gives, their storage jit/flat.py's): while every
        parameter's array is a view of one array ({pv0}, {pv1}, ... of {pf}) and every gradient a
        view of another ({gv0}, ... of {gbuf}, this step's), the update is one pair of calls on
        the flat arrays, element for element the calls above; otherwise the code above runs and
        then {flat}.relocate() (moving the arrays there when nothing else holds them). Either way
        the gradient buffers go back to {flat} for the next step.
        """
        params = self._inline_params()
        if params is None:
            return None
        constants = {"opt": self, "params": params, "plain_lr": _plain_lr, "axpy": axpy}
        lines = ["{lr} = {plain_lr}({opt}, {params})", "if {lr} is None:", "    {step}()"]
        if flat:
            held = " and ".join(
                f"{{p{j}}}._data is {{pv{j}}} and {{p{j}}}._grad is not None and {{p{j}}}._grad._data is {{gv{j}}}"
                for j in range(len(params))
            )
            bumps = "; ".join(f"{{p{j}}}._bump_version()" for j in range(len(params)))
            lines += [f"elif {held}:", f"    _np.add({{pf}}, _np.multiply({{gbuf}}, -{{lr}}), out={{pf}}); {bumps}"]
        lines.append("else:")
        for j, p in enumerate(params):
            constants[f"p{j}"] = p
            y = f"{{p{j}}}._data"
            if p._data.size >= BLAS_MIN_SIZE:
                update = f"{{axpy}}({y}, -{{lr}}, {{g}}._data)"
            else:  # axpy's own form below the threshold: y += alpha * x
                update = f"_np.add({y}, _np.multiply({{g}}._data, -{{lr}}), out={y})"
            lines += [f"    {{g}} = {{p{j}}}._grad", f"    if {{g}} is not None: {update}; {{p{j}}}._bump_version()"]
        if flat:
            gvs = "".join(f", {{gv{j}}}" for j in range(len(params)))
            lines += ["    {flat}.relocate()", f"{{flat}}.spares.append(({{gbuf}}{gvs}))"]
        return "\n".join(lines), constants

    def _inline_params(self):
        """The parameters of a step `_inline_step` writes out (a momentum-free SGD's one group, in
        order, not a subclass's own update), else None."""
        if type(self)._step_group is not SGD._step_group or type(self).step is not Optimizer.step:
            return None  # a subclass's own update
        params = tuple(self.param_groups[0]["params"]) if len(self.param_groups) == 1 else ()
        if not params or _plain_lr(self, params) is None:
            return None
        return params

    def _flat_params(self):
        """The parameters `_inline_step(flat=True)` can update as one array: those of a step it
        writes out, two or more, of one float dtype, each below BLAS_MIN_SIZE elements (where
        step() makes the two NumPy calls that the flat update makes on all of them); else None."""
        params = self._inline_params()
        if params is None:
            return None
        dtype = params[0]._data.dtype
        if len(params) < 2 or dtype.kind != "f":
            return None
        if any(p._data.dtype != dtype or p._data.size >= BLAS_MIN_SIZE for p in params):
            return None
        return params

    def _update(self, p, grad, state, group):
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                axpy(buf, 1 - group["dampening"], g)
            g = g + momentum * buf if group["nesterov"] else buf
        axpy(p._data, -group["lr"], g)


def _plain_lr(opt, params):
    """lr while `opt` has one group, a momentum-free SGD over exactly `params` (in order), else None:
    the case `SGD._inline_step` writes out."""
    groups = opt.param_groups
    if len(groups) != 1:
        return None
    group = groups[0]
    current = group["params"]
    if not _plain(group) or len(current) != len(params):
        return None
    for p, q in zip(current, params):
        if p is not q:
            return None
    return group["lr"]


def _plain(group):
    """No momentum, weight decay or maximize: the group's update is p <- p - lr g, with no state."""
    return not (group["momentum"] or group["weight_decay"] or group["maximize"])
