"""Built-in data sets that need no network: XOR, scikit-learn's bundled digits, MNIST-1D generated locally.

Each returns a ``DataSplits`` named tuple ``(x_train, y_train, x_test, y_test)`` of NumPy
arrays (float32 inputs, int64 class labels); ``.train`` and ``.test`` wrap them as
TensorDatasets.
"""

from __future__ import annotations

import io
import os
import pathlib
import sys
from typing import NamedTuple

import numpy as np

from .._files import atomic_write
from .dataset import TensorDataset


class DataSplits(NamedTuple):
    """Train and test arrays. Unpack it (``x, y, xt, yt = digits()``) or use the properties."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def train(self) -> TensorDataset:
        return TensorDataset(self.x_train, self.y_train)

    @property
    def test(self) -> TensorDataset:
        return TensorDataset(self.x_test, self.y_test)

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(initial=-1), self.y_test.max(initial=-1))) + 1

    @property
    def num_features(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def split(x: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
    """Shuffle with ``seed`` and hold out ``test_fraction`` of the samples as the test set."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"split: test_fraction must be in [0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return DataSplits(x[train], y[train], x[test], y[test])


def cache_dir() -> pathlib.Path:
    """Where generated data is cached: $XDG_CACHE_HOME/chainrule, else ~/.cache/chainrule."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "chainrule"


def xor() -> DataSplits:
    """The four points of XOR: x in {0, 1}^2, y = x1 xor x2 (train and test are the same four).

    Example:
        >>> x, y, _, _ = chainrule.data.xor()
        >>> y.tolist()
        [0, 1, 1, 0]
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return DataSplits(x, y, x.copy(), y.copy())


def digits(test_fraction: float = 0.2, seed: int = 0, flatten: bool = True) -> DataSplits:
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes), pixels scaled to [0, 1].

    Args:
        test_fraction: share held out for testing (a seeded shuffle, see ``split``).
        seed: the shuffle's seed.
        flatten: rows of 64 features (True) or images of shape (8, 8).

    Example:
        >>> data = chainrule.data.digits()
        >>> data.x_train.shape, data.num_classes
        ((1438, 64), 10)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is in the [data] extra
        raise ImportError("digits() needs scikit-learn: pip install 'chainrule[data]'") from None
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 8, 8)
    return split(x, bunch.target.astype(np.int64), test_fraction, seed)


_MNIST1D_FILE = "mnist1d-default-v1.npz"


def mnist1d(regenerate: bool = False) -> DataSplits:
    """MNIST-1D (Greydanus 2020): 4000 train / 1000 test signals of length 40, 10 classes.

    Generated locally by the mnist1d package's ``make_dataset`` with its default
    arguments (``get_dataset_args()``, seed 42), then cached as an .npz in
    ``cache_dir()``. Nothing is downloaded.

    Example:
        >>> data = chainrule.data.mnist1d()
        >>> data.x_train.shape, data.x_test.shape
        ((4000, 40), (1000, 40))
    """
    path = cache_dir() / _MNIST1D_FILE
    if path.exists() and not regenerate:
        from .readers import read_npz  # readers imports this module

        try:
            f = read_npz(path)  # bounded: a damaged cache can't claim gigabytes or raise zipfile's errors
            data = DataSplits(f["x_train"], f["y_train"], f["x_test"], f["y_test"])
            shapes = {k: v.shape for k, v in data._asdict().items()}
            if shapes == {"x_train": (4000, 40), "y_train": (4000,), "x_test": (1000, 40), "y_test": (1000,)}:
                return data
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    # A few seconds of silence otherwise, once per machine.
    print(f"chainrule.data: generating MNIST-1D (once; cached in {path})...", file=sys.stderr, flush=True)
    data = _generate_mnist1d()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **data._asdict())
    atomic_write(path, [buffer.getvalue()])
    return data


def _generate_mnist1d() -> DataSplits:
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:  # pragma: no cover - mnist1d is in the [data] extra
        raise ImportError("mnist1d() needs the mnist1d package: pip install 'chainrule[data]'") from None
    # make_dataset seeds NumPy's and Python's global RNGs; put them back afterwards.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return DataSplits(
        d["x"].astype(np.float32), d["y"].astype(np.int64), d["x_test"].astype(np.float32), d["y_test"].astype(np.int64)
    )
