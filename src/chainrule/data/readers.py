"""Readers for data a user points at: MNIST's IDX files (plain or gzip), CSV and NPZ.

Every reader names the file and what it expected when the file is missing or malformed.
NPZ files are read with ``allow_pickle=False``: object arrays are refused, never unpickled.

Readers open only regular files (a pipe, a device or a directory is refused before a byte is
read) and check what a header declares against the file's size and against the limits below
before they allocate; a gzip or zip member is never decompressed past its declared size. The
limits are module attributes: raise one when a real data set needs it, e.g.
``chainrule.data.readers.MAX_BYTES = 8 * 2**30``.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import pathlib
import warnings
import zipfile
import zlib
from typing import TYPE_CHECKING

import numpy as np

from .._files import file_size, format_bytes, open_regular
from .builtin import DataSplits, split

if TYPE_CHECKING:
    import os

MAX_BYTES = 2**30
"""The largest array data a reader builds from one file: an IDX file's (decompressed) values, an
NPZ archive's arrays together. 1 GiB; MNIST's training images take 47 MB."""
MAX_CSV_BYTES = 2**28
"""The largest CSV file read (256 MiB): Python parses it cell by cell, at about 20 times its size in memory."""
MAX_CLASSES = 100_000
"""The largest class index + 1 a label array may hold. A model's output layer and ``one_hot`` allocate
one column per class, so a stray label such as 10**9 would ask for gigabytes."""

# IDX type codes (the third magic byte) -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _missing(path, what):
    return FileNotFoundError(f"{path}: no such file; expected {what}")


def _too_large(path, what: str, size: int, limit_name: str):
    """``what`` ends in its verb: "the CSV file has", "the archive's arrays need"."""
    limit = globals()[limit_name]
    message = (
        f"{path}: {what} {format_bytes(size)}, over the {format_bytes(limit)} limit for a data file "
        "(refused before reading it). "
    )
    if size > 2**40:
        return ValueError(message + "No data set on this machine is that large: the file is corrupt")
    return ValueError(
        message + "If the file is right and the machine has the memory, raise the limit: "
        f"chainrule.data.readers.{limit_name} = {-(-size // 2**30)} * 2**30"
    )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (MNIST's format), plain or gzip-compressed, into an array.

    Layout: two zero bytes, a type code, the number of dimensions n, n big-endian
    uint32 sizes, then the values, big-endian.

    Example:
        >>> images = read_idx("train-images-idx3-ubyte.gz")   # (60000, 28, 28) uint8
    """
    path = pathlib.Path(path)
    with open_regular(path, "an IDX file such as train-images-idx3-ubyte(.gz)") as f:
        if f.read(2) != b"\x1f\x8b":
            f.seek(0)
            return _read_idx_stream(f, path, file_size(f))
        f.seek(0)
        try:
            # GzipFile.read(n) decompresses at most n bytes: a small file cannot expand past the header's size.
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _read_idx_stream(stream, path, None)
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise ValueError(f"{path}: a gzip file that could not be decompressed ({e})") from None


def _read_idx_stream(stream, path, size: int | None) -> np.ndarray:
    """The array of an IDX stream; ``size`` is the file's size (None for a compressed stream)."""
    head = stream.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file; expected the magic bytes 00 00 <type> <ndim> with type one of "
            f"{', '.join(hex(k) for k in _IDX_DTYPES)}, got {head.hex(' ') or 'an empty file'}"
        )
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header; expected {ndim} dimension sizes")
    shape = tuple(int(s) for s in np.frombuffer(dims, dtype=">u4"))
    expected = math.prod(shape) * dtype.itemsize
    if expected > MAX_BYTES:
        raise _too_large(path, f"the IDX header's shape {shape} of {dtype.name} needs", expected, "MAX_BYTES")
    if size is not None and size - 4 - 4 * ndim != expected:  # a plain file is checked before reading
        raise ValueError(
            f"{path}: IDX header says shape {shape} of {dtype.name} ({expected} bytes) but the file "
            f"holds {size - 4 - 4 * ndim} bytes of data (truncated or corrupt)"
        )
    body = stream.read(expected + 1)
    if len(body) != expected:
        held = f"{len(body)} bytes" if len(body) < expected else "more than that"
        raise ValueError(
            f"{path}: IDX header says shape {shape} of {dtype.name} ({expected} bytes) but the file "
            f"holds {held} of data (truncated or corrupt)"
        )
    try:
        array = np.frombuffer(body, dtype=dtype).reshape(shape)
    except ValueError as e:  # more than 64 dimensions, or sizes whose product overflows NumPy's index type
        raise ValueError(
            f"{path}: the IDX header's shape {shape} makes no NumPy array ({e}); the file is corrupt"
        ) from None
    return array.astype(dtype.newbyteorder("="))


_MNIST_NAMES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def mnist(directory: str | os.PathLike[str], flatten: bool = False) -> DataSplits:
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
            raise FileNotFoundError(
                f"{directory}: no {names[0]} (or {names[0]}.gz) in this directory; expected "
                f"MNIST's four IDX files: {', '.join(n[0] for n in _MNIST_NAMES.values())}"
            )
        found[key] = read_idx(hit)
    for part in ("train", "test"):
        x, y = found[f"x_{part}"], found[f"y_{part}"]
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{directory}: the {part} images have shape {x.shape} but the labels have shape "
                f"{y.shape}; expected N images and N labels"
            )

    def scale(x):
        return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)

    xs = [scale(found["x_train"]), scale(found["x_test"])]
    if flatten:
        xs = [x.reshape(len(x), -1) for x in xs]
    return DataSplits(
        xs[0],
        _class_labels(found["y_train"], directory, "train labels"),
        xs[1],
        _class_labels(found["y_test"], directory, "test labels"),
    )


def _class_labels(y: np.ndarray, path, name: str) -> np.ndarray:
    """Labels as int64 class indices, refusing values a cast would change.

    ``astype(int64)`` truncates 0.7 to 0 and turns NaN into an arbitrary integer, silently
    relabelling samples; float labels are accepted only when every value is a whole number.
    """
    if y.dtype.kind not in "iubf":
        raise ValueError(f"{path}: {name} have dtype {y.dtype}; expected integer class indices")
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            i = int(np.argmin(whole))
            raise ValueError(
                f"{path}: {name} hold {y.reshape(-1)[i].item()!r} at index {i}, which is not a whole "
                "number; expected integer class indices (a cast would truncate it). Map float values "
                "to classes first, e.g. np.unique(y, return_inverse=True)[1]"
            )
    _check_class_range(y, path, name)
    return y.astype(np.int64)


def _check_class_range(y: np.ndarray, path, name: str) -> None:
    """Refuse a label past MAX_CLASSES before anything sizes a layer or a one-hot matrix by it."""
    if y.size and y.max() >= MAX_CLASSES:
        i = int(np.argmax(y.reshape(-1)))
        raise ValueError(
            f"{path}: {name} hold {y.reshape(-1)[i].item()!r} at index {i}, which would make "
            f"{y.reshape(-1)[i].item() + 1:.0f} classes (an output layer and one_hot allocate one column "
            f"per class); the limit is {MAX_CLASSES:,}. Labels must be class indices 0..C-1: map "
            "sparse label values first (np.unique(y, return_inverse=True)[1]), or raise the limit: "
            "chainrule.data.readers.MAX_CLASSES = ..."
        )


def read_csv(
    path: str | os.PathLike[str], label: int | str = -1, header: bool | None = None, delimiter: str = ","
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV of numeric features and one label column; returns ``(x, y)``.

    Args:
        label: the label column, by index (default: the last) or by name (needs a header).
        header: whether the first row holds column names; None guesses: the first row is a
            header when one of its feature cells is not a number, or when its label cell is not
            a number while every other row's label is (so a headerless file with labels such as
            "setosa" keeps its first row). A first row of numbers only is data, as NumPy's
            loadtxt/genfromtxt read it; when it still looks like a header (the column numbers
            0, 1, 2, ... that ``DataFrame.to_csv`` writes, or whole numbers above rows whose
            features have decimals, csv.Sniffer's test) it is kept as data with a
            ``CSVHeaderWarning`` naming the file: pass header=True or header=False to decide.
        delimiter: the field separator.

    Labels that are all integers become int64; other labels (e.g. "setosa") become class
    indices in sorted order. Features become float32. A UTF-8 byte-order mark at the start of
    the file (as Excel writes) is skipped.
    """
    path = pathlib.Path(path)
    with open_regular(path, "a CSV file of numeric features with a label column") as f:
        if file_size(f) > MAX_CSV_BYTES:
            raise _too_large(path, "the CSV file has", file_size(f), "MAX_CSV_BYTES")
        # utf-8-sig drops a leading BOM; read as plain utf-8 it sticks to the first cell, which then
        # is not a number and the first data row was taken for a header.
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        try:
            rows = [row for row in csv.reader(text, delimiter=delimiter) if row and any(cell.strip() for cell in row)]
        except UnicodeDecodeError as e:
            raise ValueError(
                f"{path}: not UTF-8 text (byte {e.object[e.start : e.start + 1]!r} at offset {e.start} "
                "of a read block); expected a CSV file. Is it a binary file, or another encoding? "
                "Save it as UTF-8"
            ) from None
        except csv.Error as e:
            raise ValueError(f"{path}: not a readable CSV file ({e})") from None
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
        header = not all(_is_number(c) for i, c in enumerate(first) if i != column) or (
            not _is_number(first[column])
            and len(rows) > 1
            and all(_is_number(r[column]) for r in rows[1:] if len(r) == width)
        )
        if not header and _numeric_header_like(rows, column, width):
            warnings.warn(
                f"{path}: the first row {','.join(c.strip() for c in first)} is all numbers but looks like a "
                "header (column numbers, or whole numbers above decimal data); it is read as data, as NumPy's "
                "loadtxt does. Pass header=True to skip it or header=False to keep it and silence this warning "
                "(for `chainrule train --data`, give the header cells names that are not numbers)",
                CSVHeaderWarning,
                stacklevel=2,
            )
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
            raise ValueError(
                f"{path}, line {line}, column {bad + 1}: {row[bad]!r} is not a number; expected "
                "numeric features (the label column may hold names)"
            ) from None
        labels.append(row[column].strip())
    x = np.array(features, dtype=np.float32)
    numbers = [float(v) if _is_number(v) else None for v in labels]
    if all(v is not None and math.isfinite(v) and v == round(v) for v in numbers):
        y = np.array(numbers, dtype=np.float64)
        _check_class_range(y, path, "the labels")
        y = y.astype(np.int64)
    else:
        # Names (and fractional or infinite numbers) are classes in sorted order.
        _, y = np.unique(np.array(labels), return_inverse=True)
        y = y.astype(np.int64)
    return x, y


class CSVHeaderWarning(UserWarning):
    """A CSV whose numeric first row may be a header (read_csv keeps it as data)."""


def _numeric_header_like(rows, column, width) -> bool:
    """Whether an all-numeric first row still looks like column names: 0, 1, ..., n-1 (or 1..n), the names
    pandas writes for unnamed columns, or whole numbers over features that have decimals in most later rows."""
    first = [c.strip() for c in rows[0]]
    if all(c.isdigit() for c in first) and [int(c) for c in first] in (list(range(width)), list(range(1, width + 1))):
        return len(rows) > 1
    later = [r for r in rows[1:] if len(r) == width]
    if not later or not all(c.lstrip("+-").isdigit() for i, c in enumerate(first) if i != column):
        return False
    decimal = sum(any(not r[i].strip().lstrip("+-").isdigit() for i in range(width) if i != column) for r in later)
    return decimal * 2 > len(later)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_npz(path: str | os.PathLike[str]) -> dict:
    """Read every array of an .npz file, with ``allow_pickle=False`` (object arrays are refused).

    Each member's .npy header is checked against the member's declared size and ``MAX_BYTES``
    before its array is allocated, so a small archive cannot claim gigabytes.

    Example:
        >>> arrays = read_npz("data.npz")      # {"x": ..., "y": ...}
    """
    path = pathlib.Path(path)
    with open_regular(path, "an .npz archive written by numpy.savez") as f:
        try:
            with zipfile.ZipFile(f) as archive:
                members = [(info, _npy_header(archive, info, path)) for info in archive.infolist()]
                total = sum(math.prod(shape) * dtype.itemsize for _, (shape, _, dtype) in members)
                if total > MAX_BYTES:
                    raise _too_large(path, "the archive's arrays need", total, "MAX_BYTES")
                arrays = {}
                for info, _ in members:
                    with archive.open(info) as member:
                        try:
                            array = np.lib.format.read_array(member, allow_pickle=False)
                        except ValueError as e:
                            raise ValueError(f"{path}, member {info.filename!r}: {e} (truncated or corrupt)") from None
                    arrays[info.filename.removesuffix(".npy")] = array
                return arrays
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError) as e:
            raise ValueError(f"{path}: not a readable .npz archive ({type(e).__name__}: {e})") from None
        except RuntimeError as e:  # zipfile: an encrypted member
            raise ValueError(f"{path}: not a readable .npz archive ({e})") from None


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _npy_header(archive, info, path):
    """(shape, fortran_order, dtype) of one member, refused if it could not hold what it declares."""
    where = f"{path}, member {info.filename!r}"
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in _NPY_HEADER_READERS:  # 3.0 only adds UTF-8 field names of structured dtypes
                raise ValueError(f".npy format version {version[0]}.{version[1]}; expected 1.0 or 2.0")
            shape, fortran, dtype = _NPY_HEADER_READERS[version](member)
            held = info.file_size - member.tell()
    except (ValueError, SyntaxError, TypeError, OverflowError) as e:
        raise ValueError(f"{where}: not a .npy array ({e}); expected an .npz archive written by numpy.savez") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path}: refused: member {info.filename!r} is an object array (its values would need "
            "pickle, which chainrule never loads). Expected plain numeric arrays"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > held:
        raise ValueError(
            f"{where}: the header declares shape {shape} of {dtype} ({format_bytes(nbytes)}) but the "
            f"member holds {format_bytes(max(held, 0))} after it (truncated or corrupt)"
        )
    return shape, fortran, dtype


def load(path: str | os.PathLike[str], test_fraction: float = 0.2, seed: int = 0) -> DataSplits:
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
            pairs = [("x_train", "y_train"), ("x_test", "y_test")]
        elif {"x", "y"} <= set(arrays):
            pairs = [("x", "y")]
        else:
            raise ValueError(
                f"{path}: expected arrays x_train, y_train, x_test, y_test (or x, y); found {sorted(arrays) or 'none'}"
            )
        for xname, yname in pairs:  # checked before split() indexes y by x's length
            x, y = arrays[xname], arrays[yname]
            if x.ndim < 1 or y.ndim != 1 or len(x) != len(y):
                raise ValueError(
                    f"{path}: {xname} has shape {x.shape} but {yname} has shape {y.shape}; expected "
                    "N samples and N labels"
                )
            if x.dtype.kind not in "biuf":
                raise ValueError(f"{path}: {xname} has dtype {x.dtype}; expected numeric features")
        if len(pairs) == 1:
            data = split(arrays["x"], arrays["y"], test_fraction=test_fraction, seed=seed)
        else:
            data = DataSplits(*(arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")))
        return DataSplits(
            data.x_train.astype(np.float32),
            _class_labels(data.y_train, path, "y_train"),
            data.x_test.astype(np.float32),
            _class_labels(data.y_test, path, "y_test"),
        )
    if not path.exists():
        raise _missing(path, "a built-in name (xor, digits, mnist1d), a .csv or .npz file, or an MNIST directory")
    raise ValueError(
        f"{path}: unknown data format {suffix or '(no extension)'}; expected .csv, .npz or a directory "
        "of MNIST IDX files"
    )
