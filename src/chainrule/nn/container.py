"""Containers: Sequential, ModuleList, ModuleDict, and the residual wrappers."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from ..autograd import effects as _effects
from .module import Module

if TYPE_CHECKING:
    from collections.abc import ItemsView, Iterable, KeysView, Mapping, ValuesView
    from typing import Any

    from numpy.typing import DTypeLike

    from ..tensor import Tensor


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules kept in order under the names 0..n-1."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> _ModuleSequence:
        """Add a module at the end; returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> _ModuleSequence:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> _ModuleSequence:
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self


class Sequential(_ModuleSequence):
    """Modules applied in order; the output of each is the input of the next.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
        >>> model[0], len(model)
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x: Tensor) -> Tensor:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        items = list(self._modules.values())
        try:
            return items[index]
        except IndexError:
            raise IndexError(f"Sequential index {index} is out of range for {len(items)} modules") from None

    def __setitem__(self, index, module):
        key = list(self._modules)[index]
        self.add_module(key, module)

    def __delitem__(self, index):
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [keys[index]]:
            del self._modules[key]
        # Keep names 0..n-1 as PyTorch does.
        items = list(self._modules.values())
        self._modules.clear()
        for i, module in enumerate(items):
            self._modules[str(i)] = module
        _effects.module_changed()  # a jitted function calling this container traces again


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain list's would be missed)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __setitem__(self, index, module):
        self.add_module(list(self._modules)[index], module)

    def insert(self, index: int, module: Module) -> None:
        super().insert(index, module)  # as torch: ModuleList.insert returns None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward: iterate over it and call each module")


class ModuleDict(Module):
    """A dict of named modules whose parameters are registered."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]
        _effects.module_changed()

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        return self._modules.items()

    def pop(self, key: str) -> Module:
        _effects.module_changed()
        return self._modules.pop(key)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self.add_module(key, module)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward: index it and call the module")


class Residual(Module):
    """x + module(x): a skip connection around any shape-preserving module."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        out = self.module(x)
        if tuple(out.shape) != tuple(x.shape):
            raise RuntimeError(
                f"Residual: the wrapped module maps shape {tuple(x.shape)} to {tuple(out.shape)}, but x + module(x) "
                "needs the same shape; add a projection (e.g. nn.Linear) to match."
            )
        return x + out


class ResidualBlock(Module):
    """x + Linear(act(Linear(norm(x)))): a pre-norm MLP block that keeps `features` wide.

    Args:
        features: the width of input and output.
        hidden: the inner width (default 4 * features... kept at features for small models if given).
        norm: apply LayerNorm first (default True).
        activation: the module between the two linear layers (default ReLU()).
    """

    def __init__(
        self,
        features: int,
        hidden: int | None = None,
        norm: bool = True,
        activation: Module | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        from .activation import ReLU
        from .linear import Identity, Linear
        from .normalization import LayerNorm

        hidden = features if hidden is None else hidden
        self.features, self.hidden = features, hidden
        self.norm = LayerNorm(features, dtype=dtype) if norm else Identity()
        self.fc1 = Linear(features, hidden, dtype=dtype)
        self.act = activation if activation is not None else ReLU()
        self.fc2 = Linear(hidden, features, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm(x))))
