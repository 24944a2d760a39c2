"""Module and Parameter: the containers that hold a model's weights, buffers and sub-layers.

Follows PyTorch's nn.Module: attributes that are Parameters, Modules or registered buffers
are tracked in three ordered dicts, so parameters(), state_dict() and train()/eval() can
walk the tree.

Over 500 lines: Module is one class, as PyTorch's is; load_state_dict's walk and its hooks stay
beside the state_dict they read, so that what a module stores is defined in one place.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .. import _device, _dtypes
from ..autograd import effects as _effects
from ..autograd.effects import replayed_call
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, _HookHandle, _to_array

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from numpy.typing import ArrayLike

    from .._device import device as Device
    from .._typing import RemovableHandle


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
        object.__setattr__(self, "_load_state_dict_pre_hooks", OrderedDict())
        object.__setattr__(self, "_load_state_dict_post_hooks", OrderedDict())

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
            for name, value in _local_state(module).items():
                destination[dot + name] = value if keep_vars else value.detach()
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> _IncompatibleKeys:
        """Copy values from `state_dict` into this module's parameters and buffers.

        Nothing is loaded on error: the error lists every missing key, unexpected key and shape
        mismatch. With strict=False, missing and unexpected keys are allowed (and returned); shape
        mismatches still raise.

        The walk is PyTorch's: each module, depth first (a shared module once per path to it), runs
        its load_state_dict pre-hooks on the keys under its prefix, then takes its own parameters
        and buffers; its post-hooks run once its descendants are done, and may edit the missing and
        unexpected keys that `strict` then judges. Hooks edit a copy: the caller's dict is left
        alone. A refused load (or a hook that raises) puts back every value copied before a hook
        ran, so the module is as it was; what the hooks did besides is not undone.

        Returns:
            (missing_keys, unexpected_keys), a named tuple as in PyTorch.

        Example:
            >>> copy = nn.Linear(2, 3)
            >>> copy.load_state_dict(nn.Linear(2, 3).state_dict())
            IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict-like state_dict (key -> Tensor), "
                f"got {type(state_dict).__name__}; pass model.state_dict() or chainrule.load(path)"
            )
        metadata = getattr(state_dict, "_metadata", None)  # torch's per-module versions, handed to pre-hooks
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata
        missing, unexpected, error_msgs, mismatched = [], [], [], []
        copies = _PendingCopies()
        given = {"": state_dict}  # module path -> its keys (torch hands each child the keys under its prefix)
        waiting = []  # (path, module) whose post-hooks wait for the end of its subtree
        try:
            for path, module in self.named_modules(remove_duplicate=False):
                while waiting and not _is_under(path, waiting[-1][0]):
                    _run_post_hooks(waiting.pop()[1], missing, unexpected, copies)
                prefix = path + "." if path else ""
                local = given.pop(path)
                if module._load_state_dict_pre_hooks:
                    copies.flush()  # a hook sees the modules before it loaded, as in torch
                    local_metadata = {} if metadata is None else metadata.get(path, {})
                    for hook in list(module._load_state_dict_pre_hooks.values()):
                        # strict is always True here, as torch passes it: load_state_dict applies its own at the end.
                        hook(module, local, prefix, local_metadata, True, missing, unexpected, error_msgs)
                own = _local_state(module)
                for name, target in own.items():
                    key = prefix + name
                    if key not in local:
                        missing.append(key)
                        continue
                    array, problem = _loadable(key, local[key], target)
                    if problem is None:
                        copies.add(target, array)
                    else:
                        mismatched.append(problem)
                below = {}
                for key, value in local.items():
                    if not key.startswith(prefix):
                        continue
                    head, dot, _ = key[len(prefix) :].partition(".")
                    if not dot:
                        if head not in own:
                            unexpected.append(key)
                    elif module._modules.get(head) is None:
                        unexpected.append(key)
                    else:
                        below.setdefault(head, {})[key] = value
                for name, child in module._modules.items():
                    if child is not None:
                        given[prefix + name] = below.get(name, {})
                waiting.append((path, module))
            while waiting:
                _run_post_hooks(waiting.pop()[1], missing, unexpected, copies)
            problems = []
            if strict and missing:
                problems.append("Missing key(s): " + ", ".join(f'"{k}"' for k in missing) + ".")
            if strict and unexpected:
                problems.append("Unexpected key(s): " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if mismatched:
                problems.append("Size mismatch: " + "; ".join(mismatched) + ".")
            problems.extend(error_msgs)  # appended by pre-hooks
            if problems:
                raise RuntimeError(
                    f"Error(s) in loading state_dict for {type(self).__name__} (nothing was loaded):\n\t"
                    + "\n\t".join(problems)
                    + "\nCheck that the checkpoint was saved from the same architecture (same layer sizes and names);"
                    " pass strict=False to skip missing/unexpected keys."
                )
        except BaseException:
            copies.undo()
            raise
        copies.flush(undoable=False)
        return _IncompatibleKeys(missing, unexpected)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., None]) -> RemovableHandle:
        """Call `hook` in load_state_dict before this module's own parameters and buffers are read.

        Signature, as torch's: ``hook(module, state_dict, prefix, local_metadata, strict,
        missing_keys, unexpected_keys, error_msgs) -> None``. `state_dict` holds the keys under
        `prefix` (this module's path, "encoder.gru." or "" for the module load_state_dict was called
        on) and may be edited in place (renamed keys are then read under their new names; it is a
        copy, not the caller's dict). `strict` is always True, as torch passes it. A message
        appended to `error_msgs` makes the load fail with it. `local_metadata` is the state dict's
        `_metadata` entry for this module (torch's checkpoints carry one), else {}. Hooks run in the
        order they were registered, on every load through this module or any module holding it.

        Returns a handle whose `.remove()` unregisters the hook.

        Example:
            >>> def rename(module, sd, prefix, *rest):   # an old checkpoint called the layer "fc"
            ...     for key in [k for k in sd if k.startswith(prefix + "fc.")]:
            ...         sd[prefix + "linear." + key[len(prefix + "fc.") :]] = sd.pop(key)
            >>> handle = model.register_load_state_dict_pre_hook(rename)
        """
        handle = _HookHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook: Callable[[Module, _IncompatibleKeys], None]) -> RemovableHandle:
        """Call `hook(module, incompatible_keys)` in load_state_dict once this module and its descendants
        are loaded.

        `incompatible_keys` is (missing_keys, unexpected_keys), the lists of the whole load so far
        (torch's walk: this module's subtree and everything before it). The hook may edit them in
        place; `strict` is applied afterwards to what is left, so clearing both lets a strict load
        pass and adding a key makes it fail (the module is then restored). The hook must return
        None (a TypeError says so otherwise). Returns a handle whose `.remove()` unregisters it.

        Example:
            >>> def optional_bias(module, keys):   # checkpoints without biases are fine
            ...     keys.missing_keys[:] = [k for k in keys.missing_keys if not k.endswith("bias")]
            >>> handle = model.register_load_state_dict_post_hook(optional_bias)
        """
        handle = _HookHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

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


def _local_state(module):
    """A module's own state dict entries, name -> Tensor: parameters, then persistent buffers (None left out)."""
    state = {name: p for name, p in module._parameters.items() if p is not None}
    for name, b in module._buffers.items():
        if b is not None and name not in module._non_persistent:
            state[name] = b
    return state


def _loadable(key, value, target):
    """(array, None) when `value` can be copied into `target`, else (None, what is wrong)."""
    try:
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
    except (TypeError, ValueError) as e:
        return None, f"{key}: a {type(value).__name__} that is not an array ({e})"
    if array.dtype.kind not in "biuf" and not (array.dtype.kind == "c" and target._data.dtype.kind == "c"):
        return None, f"{key}: checkpoint dtype {array.dtype} can't be loaded into a {target.dtype} tensor"
    if array.shape != target._data.shape:
        return None, f"{key}: checkpoint shape {tuple(array.shape)}, model shape {tuple(target.shape)}"
    return array, None


def _is_under(path, ancestor):
    return ancestor == "" or path.startswith(ancestor + ".")


def _run_post_hooks(module, missing, unexpected, copies):
    if not module._load_state_dict_post_hooks:
        return
    copies.flush()  # torch's post-hooks see their module loaded
    keys = _IncompatibleKeys(missing, unexpected)
    for hook in list(module._load_state_dict_post_hooks.values()):
        if hook(module, keys) is not None:
            raise TypeError(
                f"load_state_dict: the post-hook {getattr(hook, '__qualname__', hook)!r} of {type(module).__name__} "
                "returned a value; register_load_state_dict_post_hook hooks return None and edit "
                "incompatible_keys.missing_keys / unexpected_keys in place"
            )


class _PendingCopies:
    """load_state_dict's copies, made as late as possible so that a refused load has nothing to undo.

    Copies wait until the end; only a hook, which must see what torch would have loaded by then,
    makes them earlier, and those keep the old values so that undo() can put them back.
    """

    def __init__(self):
        self.pending, self.done = [], []

    def add(self, target, array):
        self.pending.append((target, array))

    def flush(self, undoable=True):
        with no_grad():
            for target, array in self.pending:
                if undoable:
                    self.done.append((target, target._data.copy()))
                np.copyto(target._data, array, casting="unsafe")
                target._bump_version()
        self.pending.clear()

    def undo(self):
        self.pending.clear()
        with no_grad():
            for target, old in reversed(self.done):  # reversed: a tied weight gets its first value back
                np.copyto(target._data, old)
                target._bump_version()
        self.done.clear()
