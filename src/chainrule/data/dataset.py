"""Dataset, TensorDataset and DataLoader: PyTorch's names, batching on NumPy arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from ..tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of the given arrays (or Tensors), which share their first dimension.

    ``dataset[i]`` is ``(x[i], y[i], ...)``; ``dataset.arrays`` holds the NumPy arrays,
    which lets DataLoader slice whole batches at once.

    Example:
        >>> ds = TensorDataset(x_train, y_train)
        >>> x0, y0 = ds[0]
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one array, e.g. TensorDataset(x, y)")
        self.arrays = tuple(t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensors)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [tuple(a.shape) for a in self.arrays]
            raise ValueError(
                f"TensorDataset: all arrays must have the same first dimension (one row per sample), "
                f"got shapes {shapes}"
            )

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(Tensor._make(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor._make(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]


def default_collate(samples: list[Any]) -> Any:
    """Stack a list of samples into a batch: tuples stay tuples (named tuples keep their type),
    dicts stay dicts, strings stay a list of strings, numbers and arrays become Tensors."""
    first = samples[0]
    if isinstance(first, (str, bytes)):
        return list(samples)  # as torch: a batch of names or texts is a list
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple takes its fields as arguments
        return type(first)(*(default_collate([s[i] for s in samples]) for i in range(len(first))))
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    batch = np.stack([s._data if isinstance(s, Tensor) else np.asarray(s) for s in samples])
    # Python floats follow the default dtype; NumPy scalars (np.float64 is a float subclass) keep theirs.
    if isinstance(first, float) and not isinstance(first, np.generic):
        batch = batch.astype(_dtypes.get_default_dtype())
    return Tensor._make(batch)


class DataLoader:
    """Iterate over a dataset in (shuffled) batches of Tensors.

    Args:
        dataset: a Dataset (or anything with ``__getitem__`` and ``__len__``).
        batch_size: samples per batch.
        shuffle: draw a new order every epoch.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        seed: with ``shuffle``, epoch e's order is ``default_rng([seed, e]).permutation(n)``,
            so the order of any epoch can be rebuilt (e.g. on resume) from the seed alone.
        generator: a ``numpy.random.Generator`` to draw the orders from instead (its state
            then carries the sequence). Without seed or generator, chainrule's global
            generator is used (set by ``chainrule.manual_seed``).
        collate_fn: turns a list of samples into a batch (default: stack into Tensors).
        num_workers: PyTorch's keyword, accepted so PyTorch scripts run unchanged. Batches are
            always loaded in the calling process (no worker processes); the batches and their
            order are the same for any num_workers.
        pin_memory: PyTorch's keyword, accepted likewise; batches live in ordinary memory.

    A TensorDataset with the default collate is batched by slicing its arrays, with no
    per-sample Python loop.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=100, shuffle=True, seed=0)
        >>> for xb, yb in loader:
        ...     loss = F.cross_entropy(model(xb), yb)
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        *,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r} "
                "(num_workers=0 loads in this process, as every value does here)"
            )
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.generator = generator
        self.collate_fn = collate_fn or default_collate
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's order the next iteration uses (for resuming with a seed)."""
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of an epoch, in the order they will be batched."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch if epoch is None else epoch]).permutation(n)
        return (self.generator or _dtypes.default_generator()).permutation(n)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        return self._iterate()

    def _iterate(self, skip_batches: int = 0):
        """This epoch's batches after the first ``skip_batches``, which are not loaded at all
        (fit resumes mid-epoch with it: a dataset that draws augmentations draws nothing for them)."""
        order = self.order()
        self.epoch += 1
        arrays = getattr(self.dataset, "arrays", None)
        # Slicing the arrays stands for dataset[i] only when __getitem__ is TensorDataset's own
        # (a subclass that transforms its samples must be called sample by sample).
        fast = (
            arrays is not None
            and self.collate_fn is default_collate
            and type(self.dataset).__getitem__ is TensorDataset.__getitem__
        )
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(skip_batches * self.batch_size, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            if fast:
                yield tuple(Tensor._make(a[index]) for a in arrays)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in index])
