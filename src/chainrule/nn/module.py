"""Module and Parameter: the containers that hold a model's weights, buffers and sub-layers.

Follows PyTorch's nn.Module: attributes that are Parameters, Modules or registered buffers
are tracked in three ordered dicts, so parameters(), state_dict() and train()/eval() can
walk the tree.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import TYPE_CHECKING

import numpy as np

from .. import _device, _dtypes
from ..autograd import effects as _effects
from ..autograd.effects import replayed_call
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, _to_array

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from numpy.typing import ArrayLike

    from .._device import device as Device


class Parameter(Tensor):
    """A Tensor that is a module's weight: it requires grad by default and is found by parameters().

    Wrapping a Tensor shares its data (as torch.nn.Parameter does).

    Example:
        >>> w = nn.Parameter(chainrule.zeros(3))
        >>> w.requires_grad
        True
    """

    def __init__(self, data: Tensor | ArrayLike | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.zeros(0, dtype=_dtypes.get_default_dtype())
        if isinstance(data, Tensor):
            array = data._data
        elif isinstance(data, np.ndarray):
            array = data
        else:
            array = _to_array(data)
        super().__init__(np.zeros(0), requires_grad=False)
        self._data = array
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model.

    Subclasses set Parameters, sub-Modules and buffers as attributes in __init__ and define
    forward(); calling the module runs forward.

    Example:
        >>> class MLP(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = nn.Linear(2, 16)
        ...         self.fc2 = nn.Linear(16, 1)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
    """

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ----- attribute bookkeeping -----

    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call: call super().__init__() first in "
                f"{type(self).__name__}.__init__"
            )

    def __setattr__(self, name, value):
        _effects.module_changed()  # a jitted function that reads this module checks it again
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init("modules")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of {type(self).__name__} "
                    "(a Parameter or None is required); wrap it: nn.Parameter(value)"
                )
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' (a Tensor or None is required)"
                )
            self._buffers[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' (a Module or None is required)"
                )
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        # `keep`: the store about to receive `name`; a name already there keeps its place in the order
        # (PyTorch's: a reassigned parameter stays where it was in named_parameters() and state_dict()).
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the three stores.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        _effects.module_changed()
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                self.__dict__.get("_non_persistent", set()).discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a Parameter (or None) under `name`."""
        self._check_init("parameters")
        _check_name(name, self, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be a Parameter or None, got {type(param).__name__}; "
                "wrap it: nn.Parameter(tensor)"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        _effects.module_changed()

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a Tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Buffers are in state_dict() (unless persistent=False) and follow .double()/.float().
        """
        self._check_init("buffers")
        _check_name(name, self, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        _effects.module_changed()
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name`."""
        self._check_init("modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        _check_name(name, self, "module")
        self._forget(name, keep=self._modules)
        self._modules[name] = module
        _effects.module_changed()

    register_module = add_module

    # ----- walking the tree -----

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each shared parameter once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter '{name}'")
        return module._parameters[name]

    def get_submodule(self, target: str) -> Module:
        module = self
        if not target:
            return module
        for item in target.split("."):
            if item not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule '{item}' (in path '{target}')")
            module = module._modules[item]
        return module

    def apply(self, fn: Callable[[Module], object]) -> Module:
        """Call fn(module) on every child (recursively), then on self; returns self.

        Example:
            >>> model.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----- modes -----

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant (Dropout, BatchNorm care)."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        _effects.module_changed()
        return self

    def eval(self) -> Module:
        """Evaluation mode: train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's .grad (to None by default, as PyTorch 2)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p._grad = None
            else:
                p._grad = Tensor._make(np.zeros_like(p._data))

    # ----- dtype -----

    def _cast(self, dtype):
        dtype = np.dtype(dtype)
        _effects.module_changed()
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for value in store.values():
                    if value is not None and value._data.dtype.kind == "f" and value._data.dtype != dtype:
                        value._data = value._data.astype(dtype)
                        if value.grad is not None:
                            value._grad = Tensor._make(value.grad._data.astype(dtype))
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast floating parameters and buffers in place and return self, as torch.nn.Module.to.

        Forms: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` (its dtype),
        `to(device=..., dtype=...)`. The only device is the CPU ("cpu" or chainrule.device("cpu"));
        "cuda" and "mps" raise.

        Example:
            >>> model = nn.Linear(2, 3).to("cpu")
        """
        _, dtype, _ = _device.parse_to(args, kwargs, f"{type(self).__name__}.to")
        if dtype is not None and np.dtype(dtype).kind not in "fc":
            raise TypeError(
                f"{type(self).__name__}.to only accepts floating point or complex dtypes, "
                f"but got desired dtype={np.dtype(dtype)}"
            )
        return self if dtype is None else self._cast(dtype)

    def cpu(self) -> Module:
        """Returns self: every tensor already lives on the CPU."""
        return self

    def cuda(self, device: str | Device | None = None) -> Module:
        """Raises: chainrule has no GPU (it runs on the CPU with NumPy)."""
        raise _device._no_gpu(f"{type(self).__name__}.cuda", _device.device("cuda"))

    def double(self) -> Module:
        return self._cast(np.float64)

    def float(self) -> Module:
        return self._cast(np.float32)

    def half(self) -> Module:
        return self._cast(np.float16)

    # ----- state -----

    def state_dict(
        self, destination: dict[str, Tensor] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """Ordered dict of dotted name -> Tensor for every parameter and persistent buffer.

        The tensors share memory with the module (detached unless keep_vars=True).
        """
        if destination is None:
            destination = OrderedDict()
        # Every path to a shared module or parameter gets its key, as in PyTorch (no deduplication).
        for mod_prefix, module in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            dot = mod_prefix + ("." if mod_prefix else "")
            for name, p in module._parameters.items():
                if p is not None:
                    destination[dot + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    destination[dot + name] = b if keep_vars else b.detach()
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> _IncompatibleKeys:
        """Copy values from `state_dict` into this module's parameters and buffers.

        Everything is checked first and nothing is loaded on error: the error lists every
        missing key, unexpected key and shape mismatch. With strict=False, missing and
        unexpected keys are allowed (and returned); shape mismatches still raise.

        Returns:
            (missing_keys, unexpected_keys), a named tuple as in PyTorch.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched, arrays = [], {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                array = value._data if isinstance(value, Tensor) else np.asarray(value)
            except (TypeError, ValueError) as e:
                mismatched.append(f"{key}: a {type(value).__name__} that is not an array ({e})")
                continue
            if array.dtype.kind not in "biuf" and not (array.dtype.kind == "c" and target._data.dtype.kind == "c"):
                mismatched.append(f"{key}: checkpoint dtype {array.dtype} can't be loaded into a {target.dtype} tensor")
                continue
            if array.shape != target._data.shape:
                mismatched.append(f"{key}: checkpoint shape {tuple(array.shape)}, model shape {tuple(target.shape)}")
                continue
            arrays[key] = array
        problems = []
        if strict and missing:
            problems.append("Missing key(s): " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s): " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if mismatched:
            problems.append("Size mismatch: " + "; ".join(mismatched) + ".")
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was loaded):\n\t"
                + "\n\t".join(problems)
                + "\nCheck that the checkpoint was saved from the same architecture (same layer sizes and names);"
                " pass strict=False to skip missing/unexpected keys."
            )
        with no_grad():
            for key, array in arrays.items():
                target = own[key]
                np.copyto(target._data, array, casting="unsafe")
                target._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    # ----- calling -----

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----- description -----

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (subclasses override)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(module), 2))
        if not lines:
            return self._get_name() + "()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of parameter entries (only those requiring grad if trainable_only)."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only))


def _check_name(name, module, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"{kind} name {name!r} can't be empty or contain '.'")
    if (
        name in module.__dict__
        and name not in module._parameters
        and name not in module._buffers
        and name not in module._modules
    ):
        raise KeyError(f"attribute '{name}' already exists on {type(module).__name__}")
