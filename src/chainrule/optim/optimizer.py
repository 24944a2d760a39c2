"""Optimizer: the base class that holds parameter groups, per-parameter state and state dicts.

The update rules live in one file per optimizer (sgd.py, adam.py, ...). Updates run
on the NumPy arrays in place (``p._data``), record no graph and never write into ``p.grad``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..autograd import grad_mode
from ..autograd.effects import replayed_call
from ..tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

_required = object()


class Optimizer:
    """Base class of all optimizers (PyTorch's ``torch.optim.Optimizer``).

    Args:
        params: an iterable of leaf Tensors that require grad, or of dicts
            ``{"params": [...], "lr": ..., ...}`` (parameter groups, each with its own
            hyperparameters; keys left out take the optimizer's defaults).
        defaults: the default hyperparameters of each group.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and
            the hyperparameters that apply to them.
        state: dict mapping a parameter to its per-parameter state (NumPy arrays
            and a ``"step"`` count), filled lazily on the first ``step``.

    Example:
        >>> opt = chainrule.optim.SGD([{"params": model[0].parameters()},
        ...                            {"params": model[2].parameters(), "lr": 1e-3}],
        ...                           lr=1e-2, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor. "
                f"Wrap it in a list: {name}([w], ...)."
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name} got an empty parameter list. Pass the parameters to optimize, e.g. "
                f"{name}(model.parameters(), lr=...); if the model has none, check that its layers "
                "are assigned as attributes (or held in a Sequential/ModuleList)."
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- groups -----

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (e.g. a layer to unfreeze).

        Keys missing from ``param_group`` take the optimizer's defaults.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}.add_param_group: expected a dict with a 'params' key, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(
                f"{name}.add_param_group: the group has no 'params' key; pass {{'params': [tensors], ...}}"
            )
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(
                f"{name}.add_param_group: the group's 'params' is empty. Give at least one "
                "parameter, or leave the group out."
            )
        for i, p in enumerate(params):
            _check_param(p, f"{name}: parameter {i} of group {len(self.param_groups)}")
        group = dict(param_group)
        group["params"] = params
        for key, default in self.defaults.items():
            if default is _required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required hyperparameter '{key}'")
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(
                f"{name}: some parameters appear in more than one parameter group (or twice "
                "in one); each parameter may be optimized by one group only."
            )
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate a group's hyperparameters (subclasses extend)."""
        if group.get("lr", 0.0) < 0.0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}; it must be >= 0")

    # ----- the training-loop API -----

    @replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters.

        ``set_to_none=True`` (the default, as in PyTorch) drops the ``.grad`` tensors;
        ``False`` replaces them with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                # NOTE: a fresh zeros tensor rather than writing into p.grad, which may be shared.
                p._grad = None if set_to_none else Tensor._make(np.zeros_like(p._data))

    @replayed_call
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with grad enabled).
        """
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        with grad_mode.no_grad():
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict) -> None:
        """One group's update: `_update` for each parameter that has a gradient (subclasses may
        write out a common case)."""
        state = self.state
        for p in group["params"]:
            g = p._grad  # the slot itself: .grad is a property whose setter checks user writes
            if g is None:
                continue
            self._update(p, g._data, state.setdefault(p, {}), group)
            p._bump_version()

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ----- state dicts -----

    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout.

        Returns ``{"state": {index: {name: Tensor or number}}, "param_groups": [{hyper...,
        "params": [indices]}]}`` where indices number the parameters across all groups
        in order. Tensors are copies, so later steps don't change a saved state dict.
        """
        index_of, groups = {}, []
        for group in self.param_groups:
            packed = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            if id(p) in index_of and values:
                state[index_of[id(p)]] = {
                    k: (Tensor._make(v.copy()) if isinstance(v, np.ndarray) else v) for k, v in values.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state from ``state_dict()`` output (e.g. read back with chainrule.load).

        The groups must hold the same number of parameters, in the same order, as when saved.
        Hyperparameters (lr, betas, ...) come from the saved groups, as in PyTorch.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups' "
                "(the output of optimizer.state_dict())"
            )
        saved_groups = state_dict["param_groups"]
        # Every check runs before anything is assigned: a refused state dict leaves the optimizer as it was.
        if not isinstance(saved_groups, (list, tuple)) or not isinstance(state_dict["state"], dict):
            raise ValueError(
                f"{name}.load_state_dict: 'param_groups' must be a list and 'state' a dict, got "
                f"{type(saved_groups).__name__} and {type(state_dict['state']).__name__}"
            )
        for i, saved in enumerate(saved_groups):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} must be a dict with a 'params' list "
                    f"(of parameter indices), got {saved!r:.80}"
                )
            if not all(isinstance(k, (int, np.integer)) for k in saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i}'s 'params' must hold integer indices, got "
                    f"{saved['params']!r:.80}"
                )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter "
                f"groups but this optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} was saved with {len(saved['params'])} "
                    f"parameters but has {len(group['params'])} now; build the optimizer "
                    "over the same parameters, in the same order"
                )
            for index, p in zip(saved["params"], group["params"]):
                by_index[int(index)] = p
        state = {}
        for index, values in state_dict["state"].items():
            p = by_index.get(int(index)) if isinstance(index, (int, np.integer)) or str(index).isdigit() else None
            if not isinstance(values, dict):
                raise ValueError(
                    f"{name}.load_state_dict: the state of parameter {index!r} must be a dict "
                    f"(e.g. {{'momentum_buffer': ...}}), got {type(values).__name__}"
                )
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {index}, which no group holds")
            restored = {}
            for key, value in values.items():
                if isinstance(value, (Tensor, np.ndarray)):
                    array = np.array(value._data if isinstance(value, Tensor) else value, copy=True)
                    if array.shape != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state '{key}' of parameter {index} has "
                            f"shape {array.shape} but the parameter has shape {tuple(p.shape)}"
                        )
                    # State follows the parameter's dtype, as in PyTorch.
                    value = array.astype(p.dtype, copy=False) if array.dtype.kind == "f" else array
                restored[key] = value
            state[p] = restored
        self.state = state
        for saved, group in zip(saved_groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(self.defaults.get(key), tuple) else value

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _check_param(p, where: str) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(
            f"{where} is a {type(p).__name__}, not a Tensor. Pass model.parameters() or a list "
            "of tensors created with requires_grad=True."
        )
    # NOTE: a parameter with requires_grad=False is accepted, as in PyTorch: a frozen layer passed in
    # with model.parameters() is skipped while its .grad is None, and trains once unfrozen.
    if not p.is_leaf:
        raise ValueError(
            f"{where} (shape {tuple(p.shape)}) is not a leaf tensor: it was computed by "
            f"{getattr(p.grad_fn, 'op_name', type(p.grad_fn).__name__)}, so it has no .grad of its own. "
            "Optimize the leaf it "
            "came from, or make a leaf with x.detach().requires_grad_()."
        )
