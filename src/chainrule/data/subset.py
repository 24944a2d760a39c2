"""Subset and random_split, as torch.utils.data's."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import _dtypes
from .dataset import Dataset

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..generator import Generator


class Subset(Dataset):
    """The samples of `dataset` at `indices`: subset[i] is dataset[indices[i]].

    Example:
        >>> first_ten = Subset(dataset, range(10))
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    `lengths` are sizes that add up to len(dataset), or fractions that add up to 1: each part
    gets floor(fraction * n), and the remainder goes one by one to the parts in order (torch's
    rule). The shuffle draws from `generator` (a NumPy Generator), else chainrule's global one,
    so the parts differ from torch's for the same seed.

    Example:
        >>> train, val = random_split(dataset, [0.8, 0.2], generator=np.random.default_rng(0))
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions (torch's test)
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                import warnings

                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    UserWarning,
                    stacklevel=2,
                )
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(
            f"Sum of input lengths does not equal the length of the input dataset! random_split: "
            f"lengths {list(lengths)} add up to {sum(lengths)}, but the dataset has {n} samples; "
            "give sizes that add up to it, or fractions that add up to 1."
        )
    rng = generator or _dtypes.default_generator()
    order = rng.permutation(n).tolist()
    parts, start = [], 0
    for size in lengths:
        parts.append(Subset(dataset, order[start : start + size]))
        start += size
    return parts
