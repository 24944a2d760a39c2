"""Data: Dataset, TensorDataset, DataLoader; built-in data sets (no network); readers for user files."""

from typing import Any

from .builtin import DataSplits, cache_dir, digits, mnist1d, split, xor
from .dataset import DataLoader, Dataset, TensorDataset, default_collate
from .readers import load, mnist, read_csv, read_idx, read_npz
from .subset import Subset, random_split

BUILTIN = {"xor": xor, "digits": digits, "mnist1d": mnist1d}


def get(name_or_path: str, **kwargs: Any) -> DataSplits:
    """A built-in data set by name ("xor", "digits", "mnist1d"), else ``load(path)``."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path](**kwargs)
    return load(name_or_path, **kwargs)


__all__ = [
    "Dataset",
    "TensorDataset",
    "DataLoader",
    "Subset",
    "random_split",
    "default_collate",
    "DataSplits",
    "split",
    "cache_dir",
    "xor",
    "digits",
    "mnist1d",
    "mnist",
    "read_idx",
    "read_csv",
    "read_npz",
    "load",
    "get",
]
