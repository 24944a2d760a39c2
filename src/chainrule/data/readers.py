"""Readers for data a user points at: MNIST's IDX files (plain or gzip), CSV and NPZ.

Every reader names the file and what it expected when the file is missing or malformed.
NPZ files are read with ``allow_pickle=False``: object arrays are refused, never unpickled.
"""
from __future__ import annotations

import csv
import gzip
import pathlib
import zipfile

import numpy as np

from .builtin import DataSplits, split

# IDX type codes (the third magic byte) -> big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _missing(path, what):
    return FileNotFoundError(f"{path}: no such file; expected {what}")


def read_idx(path) -> np.ndarray:
    """Read one IDX file (MNIST's format), plain or gzip-compressed, into an array.

    Layout: two zero bytes, a type code, the number of dimensions n, n big-endian
    uint32 sizes, then the values, big-endian.

    Example:
        >>> images = read_idx("train-images-idx3-ubyte.gz")   # (60000, 28, 28) uint8
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise _missing(path, "an IDX file such as train-images-idx3-ubyte(.gz)")
    blob = path.read_bytes()
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: a gzip file that could not be decompressed ({e})") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file; expected the magic bytes 00 00 <type> <ndim> with type one of "
                         f"{', '.join(hex(k) for k in _IDX_DTYPES)}, got {blob[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = _IDX_DTYPES[blob[2]], blob[3]
    if len(blob) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header; expected {ndim} dimension sizes")
    shape = tuple(int(s) for s in np.frombuffer(blob, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    body = len(blob) - 4 - 4 * ndim
    if body != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} of {dtype.name} ({expected} bytes) but the file "
                         f"holds {body} bytes of data (truncated or corrupt)")
    return np.frombuffer(blob, dtype=dtype, offset=4 + 4 * ndim).reshape(shape).astype(dtype.newbyteorder("="))


_MNIST_NAMES = {"x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
                "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
                "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
                "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte")}


def mnist(directory, flatten: bool = False) -> DataSplits:
    """Read MNIST (or Fashion-MNIST) from the four IDX files in ``directory``.

    Looks for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte, each optionally ending in .gz. Images are scaled to [0, 1]
    float32; ``flatten`` gives rows of 784 features.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise _missing(directory, "a directory holding MNIST's four IDX files")
    found = {}
    for key, names in _MNIST_NAMES.items():
        candidates = [directory / (n + ext) for n in names for ext in ("", ".gz")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise FileNotFoundError(f"{directory}: no {names[0]} (or {names[0]}.gz) in this directory; expected "
                                    f"MNIST's four IDX files: {', '.join(n[0] for n in _MNIST_NAMES.values())}")
        found[key] = read_idx(hit)
    for part in ("train", "test"):
        x, y = found[f"x_{part}"], found[f"y_{part}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{directory}: the {part} images have shape {x.shape} but the labels have shape "
                             f"{y.shape}; expected N images and N labels")
    scale = lambda x: (x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32))
    xs = [scale(found["x_train"]), scale(found["x_test"])]
    if flatten:
        xs = [x.reshape(len(x), -1) for x in xs]
    return DataSplits(xs[0], _class_labels(found["y_train"], directory, "train labels"), xs[1],
                      _class_labels(found["y_test"], directory, "test labels"))


def _class_labels(y: np.ndarray, path, name: str) -> np.ndarray:
    """Labels as int64 class indices, refusing values a cast would change.

    ``astype(int64)`` truncates 0.7 to 0 and turns NaN into an arbitrary integer, silently
    relabelling samples; float labels are accepted only when every value is a whole number.
    """
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise ValueError(f"{path}: {name} have dtype {y.dtype}; expected integer class indices")
    whole = np.isfinite(y) & (y == np.round(y))
    if not whole.all():
        i = int(np.argmin(whole))
        raise ValueError(f"{path}: {name} hold {y.reshape(-1)[i].item()!r} at index {i}, which is not a whole number; "
                         "expected integer class indices (a cast would truncate it). Map float values to classes "
                         "first, e.g. np.unique(y, return_inverse=True)[1]")
    return y.astype(np.int64)


def read_csv(path, label=-1, header: bool | None = None, delimiter: str = ","):
    """Read a CSV of numeric features and one label column; returns ``(x, y)``.

    Args:
        label: the label column, by index (default: the last) or by name (needs a header).
        header: whether the first row holds column names; None guesses: the first row is a
            header when one of its feature cells is not a number, or when its label cell is not
            a number while every other row's label is (so a headerless file with labels such as
            "setosa" keeps its first row).
        delimiter: the field separator.

    Labels that are all integers become int64; other labels (e.g. "setosa") become class
    indices in sorted order. Features become float32. A UTF-8 byte-order mark at the start of
    the file (as Excel writes) is skipped.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise _missing(path, "a CSV file of numeric features with a label column")
    # utf-8-sig drops a leading BOM; read as plain utf-8 it sticks to the first cell, which then
    # is not a number and the first data row was taken for a header.
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path}: the file is empty; expected rows of numeric features and a label")
    width = len(rows[0])
    if width < 2:
        raise ValueError(f"{path}: rows have {width} column; expected at least one feature and a label")
    if isinstance(label, str):
        if header is False:
            raise ValueError(f"{path}: label={label!r} names a column but header=False; pass the column's index")
        header = True
        names = [c.strip() for c in rows[0]]
        if label not in names:
            raise ValueError(f"{path}: no column named {label!r}; the columns are {names}")
        column = names.index(label)
    else:
        column = label % width if -width <= label < width else None
        if column is None:
            raise ValueError(f"{path}: label column {label} is out of range for {width} columns")
    if header is None:
        # Judge the features and the label separately: labels may be names in every row, so a
        # non-numeric label cell alone says nothing about the first row.
        first = rows[0]
        header = (not all(_is_number(c) for i, c in enumerate(first) if i != column)
                  or (not _is_number(first[column]) and len(rows) > 1
                      and all(_is_number(r[column]) for r in rows[1:] if len(r) == width)))
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"{path}: no data rows after the header")
    features, labels = [], []
    for line, row in enumerate(body, start=2 if header else 1):
        if len(row) != width:
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {width} like the first row")
        try:
            features.append([float(c) for i, c in enumerate(row) if i != column])
        except ValueError:
            bad = next(i for i, c in enumerate(row) if i != column and not _is_number(c))
            raise ValueError(f"{path}, line {line}, column {bad + 1}: {row[bad]!r} is not a number; expected "
                             "numeric features (the label column may hold names)") from None
        labels.append(row[column].strip())
    x = np.array(features, dtype=np.float32)
    if all(_is_number(v) and float(v) == int(float(v)) for v in labels):
        y = np.array([int(float(v)) for v in labels], dtype=np.int64)
    else:
        _, y = np.unique(np.array(labels), return_inverse=True)
        y = y.astype(np.int64)
    return x, y


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_npz(path) -> dict:
    """Read every array of an .npz file, with ``allow_pickle=False`` (object arrays are refused)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise _missing(path, "an .npz archive written by numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz archive ({e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: refused: {e}. Expected plain numeric arrays (object arrays would need "
                         "pickle, which chainrule never loads)") from None


def load(path, test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
    """Read a user's data set from ``path`` into DataSplits, by its kind:

    - a directory: MNIST's four IDX files (see ``mnist``), images flattened;
    - ``.csv``: features and the last column as label, split by ``test_fraction``;
    - ``.npz``: arrays ``x_train, y_train, x_test, y_test``, or ``x, y`` (then split).

    Example:
        >>> data = chainrule.data.load("iris.csv")
    """
    path = pathlib.Path(path)
    if path.is_dir():
        return mnist(path, flatten=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return split(*read_csv(path), test_fraction=test_fraction, seed=seed)
    if suffix == ".npz":
        arrays = read_npz(path)
        if {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
            data = DataSplits(*(arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")))
        elif {"x", "y"} <= set(arrays):
            data = split(arrays["x"], arrays["y"], test_fraction=test_fraction, seed=seed)
        else:
            raise ValueError(f"{path}: expected arrays x_train, y_train, x_test, y_test (or x, y); found "
                             f"{sorted(arrays) or 'none'}")
        for part in ("train", "test"):
            x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
            if len(x) != len(y) or y.ndim != 1:
                raise ValueError(f"{path}: x_{part} has shape {x.shape} but y_{part} has shape {y.shape}; expected "
                                 "N samples and N labels")
        return DataSplits(data.x_train.astype(np.float32), _class_labels(data.y_train, path, "y_train"),
                          data.x_test.astype(np.float32), _class_labels(data.y_test, path, "y_test"))
    if not path.exists():
        raise _missing(path, "a built-in name (xor, digits, mnist1d), a .csv or .npz file, or an MNIST directory")
    raise ValueError(f"{path}: unknown data format {suffix or '(no extension)'}; expected .csv, .npz or a directory "
                     "of MNIST IDX files")
