"""save / load: tensors and nested state dicts in the safetensors format; no pickle, ever.

Tensors (and NumPy arrays) become safetensors entries; everything else (numbers,
strings, lists, nested dicts with int or str keys, None) is kept as JSON in the
header's ``__metadata__``. Loading parses JSON and copies raw bytes: it cannot run code.
The safetensors package reads and writes the format; chainrule adds the checks around it
(regular files only, header against file size, duplicate keys, a dtype allowlist) and the
atomic write that never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import struct
from typing import TYPE_CHECKING

import numpy as np

from . import _device, _files
from .tensor import Tensor

if TYPE_CHECKING:
    from typing import Any

# safetensors dtype names <-> NumPy (little-endian) dtypes.
_DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # a larger header is corrupt or hostile, not a checkpoint
_TREE_KEY = "chainrule.tree"  # the JSON skeleton of the saved object


# ----- the safetensors format -----
#
# The safetensors package parses and writes the format (its parser is maintained and fuzzed by its
# authors: offsets, overlaps, holes, sizes against shapes). Around it chainrule keeps what is policy:
# only regular files, the header's size checked against the file before reading, duplicate keys
# and unknown entry fields refused, a dtype allowlist that NumPy can hold, and the atomic write.


def write_safetensors(arrays: dict, path: str | os.PathLike[str], metadata: dict | None = None) -> None:
    """Write ``{name: ndarray}`` to ``path`` in the safetensors format, atomically.

    ``metadata`` is a dict of str -> str stored in the header's ``__metadata__``. The new file
    keeps the permissions of the file it replaces; a full disk leaves that file intact.

    Example:
        >>> write_safetensors({"w": np.ones((2, 3), np.float32)}, "w.safetensors", {"note": "ones"})
    """
    if metadata and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("save: safetensors metadata must map strings to strings")
    tensors = {}
    for name, array in arrays.items():
        if name == "__metadata__":
            raise ValueError(
                "save: a tensor can't be named '__metadata__' in a safetensors file: the format "
                "reserves that header entry for metadata (the file could not be loaded back). "
                "Rename the tensor, or use chainrule.save, which renames it in the file"
            )
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _NAMES:
            raise ValueError(
                f"save: tensor '{name}' has dtype {array.dtype}, which safetensors can't store; "
                f"supported: {', '.join(str(d) for d in _NAMES)}"
            )
        tensors[name] = np.asarray(array, dtype=dtype, order="C")  # ascontiguousarray makes 0-d 1-d
    import safetensors.numpy  # imported on first use: `import chainrule` stays fast

    def fill(temporary):
        try:  # save_file writes from the arrays' memory; save() would first build the whole file in bytes
            safetensors.numpy.save_file(tensors, temporary, metadata=dict(metadata) if metadata else None)
        except safetensors.SafetensorError as e:
            code = re.search(r"os error (\d+)", str(e))  # an I/O error (a full disk) comes back as text
            if code:
                raise OSError(int(code.group(1)), str(e)) from None
            raise ValueError(f"save: the safetensors writer refused the tensors: {e}") from None

    _files.atomic_write(path, fill=fill)


def read_safetensors(path: str | os.PathLike[str]) -> tuple[dict, dict]:
    """Read a safetensors file; returns ``({name: ndarray}, metadata)``.

    Refuses, with a ValueError naming the file, anything that isn't a regular, well-formed
    file: a pipe, device or directory; a header length past the end or above 100 MB; a
    non-JSON or duplicate-key header; unknown dtypes or entry fields; and whatever the
    safetensors parser refuses (sizes that don't match the shape, offsets out of range,
    overlapping or leaving holes, non-string metadata).
    """
    import safetensors  # imported on first use: `import chainrule` stays fast

    path = os.fspath(path)

    def refuse(why):
        raise ValueError(f"load: {path} is not a valid safetensors file: {why}")

    with _files.open_regular(path, "a safetensors file (chainrule.save writes them)") as f:
        size = _files.file_size(f)
        if size < 8:
            refuse(f"it has {size} bytes, fewer than the 8-byte header length")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > _MAX_HEADER:
            refuse(f"the header length {n} is above the {_MAX_HEADER}-byte cap")
        if 8 + n > size:
            refuse(f"the header claims {n} bytes but the file has only {size - 8} after the length (truncated?)")
        header = _parse_header(f.read(n), size - 8 - n, refuse)
        # Map the file that was checked (its descriptor), not whatever the path names by now.
        source = f"/proc/self/fd/{f.fileno()}" if os.path.isdir("/proc/self/fd") else path
        try:
            with safetensors.safe_open(source, framework="numpy") as st:
                metadata = st.metadata() or {}
                arrays = {name: st.get_tensor(name) for name in header}
        except safetensors.SafetensorError as e:
            refuse(str(e).replace("Error while deserializing header: ", ""))
        except (OSError, TypeError, ValueError) as e:
            refuse(f"the safetensors reader failed: {e}")
    return arrays, metadata


def _parse_header(raw: bytes, available: int, refuse) -> dict:
    """The header's tensor entries, checked for what the safetensors parser lets through, and
    against the ``available`` bytes after the header (a truncated file, named as such)."""

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):  # JSON parsers keep the last; two readers could disagree
            refuse(f"duplicate keys in the header: {sorted({k for k in keys if keys.count(k) > 1})}")
        return dict(pairs)

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        refuse(f"the header is not UTF-8 JSON ({e})")
    except RecursionError:
        refuse("the header's JSON is nested too deeply")
    if not isinstance(header, dict):
        refuse("the header is not a JSON object")
    header.pop("__metadata__", None)  # checked (strings to strings) by the safetensors parser
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            refuse(f"entry '{name}' must have exactly dtype, shape and data_offsets")
        if not isinstance(info["dtype"], str) or info["dtype"] not in _DTYPES:
            refuse(
                f"entry '{name}' has dtype {info['dtype']!r}, which chainrule does not load; known: "
                f"{', '.join(_DTYPES)}"
            )
        offsets = info["data_offsets"]
        if isinstance(offsets, list) and len(offsets) == 2 and type(offsets[1]) is int and offsets[1] > available:
            refuse(f"entry '{name}' has data_offsets {offsets} outside the {available}-byte data section (truncated?)")
    return header


# ----- save / load of nested objects -----


def _encode(obj, arrays: dict, where: str):
    """Turn ``obj`` into JSON, moving tensors and arrays into ``arrays``."""
    if isinstance(obj, (Tensor, np.ndarray)):
        # Entries are named by their path ("model.linear.weight"), so other safetensors readers see
        # meaningful names; a suffix keeps them unique when two paths spell the same.
        # "__metadata__" is the safetensors header's own entry, so a tensor saved at that path gets
        # a suffix too (torch.save stores it like any other key).
        key, n = where or "tensor", 1
        while key in arrays or key == "__metadata__":
            key, n = f"{where}#{n}", n + 1
        arrays[key] = obj._data if isinstance(obj, Tensor) else obj
        return {"__tensor__" if isinstance(obj, Tensor) else "__ndarray__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_encode(item, arrays, _join(where, i)) for i, item in enumerate(obj)]
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, (bool, np.generic)) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: dict key {key!r} at {where or 'the top level'} is a "
                    f"{type(key).__name__}; only str and int keys can be saved"
                )
            items.append([key, _encode(value, arrays, _join(where, key))])
        return {"__dict__": items}
    raise TypeError(
        f"save: can't save a {type(obj).__name__} at {where or 'the top level'}. chainrule.save "
        "stores Tensors, NumPy arrays, numbers, strings, None, and lists/dicts of them (no pickle). Save "
        "model.state_dict() rather than the model."
    )


def _join(where: str, key) -> str:
    return f"{where}.{key}" if where else str(key)


def _decode(node, arrays: dict, path):
    if isinstance(node, list):
        return [_decode(item, arrays, path) for item in node]
    if isinstance(node, dict):
        if len(node) == 1 and ("__tensor__" in node or "__ndarray__" in node):
            key = node.get("__tensor__", node.get("__ndarray__"))
            if key not in arrays:
                raise ValueError(f"load: {path} refers to a tensor '{key}' that the file doesn't hold")
            return Tensor._make(arrays[key]) if "__tensor__" in node else arrays[key]
        if set(node) == {"__dict__"} and isinstance(node["__dict__"], list):
            out = {}
            for pair in node["__dict__"]:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
                    raise ValueError(f"load: {path} has a malformed dict entry {pair!r}")
                out[pair[0]] = _decode(pair[1], arrays, path)
            return out
        raise ValueError(f"load: {path} has an unrecognized object {sorted(node)!r} in its metadata tree")
    return node


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Save a Tensor, or a (nested) dict/list of tensors and plain values, to ``path``.

    The file is a standard safetensors file: other tools can read its tensors. Nesting
    and non-tensor values (step counts, hyperparameters, RNG state) are kept as JSON in
    the header's metadata. The write is atomic.

    Example:
        >>> chainrule.save(model.state_dict(), "model.safetensors")
        >>> chainrule.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 1000},
        ...                "ckpt.safetensors")
    """
    arrays: dict = {}
    tree = _encode(obj, arrays, "")
    try:
        text = json.dumps(tree, allow_nan=True)
    except ValueError as e:  # pragma: no cover - json handles inf/nan with allow_nan
        raise TypeError(f"save: could not encode the metadata as JSON ({e})") from None
    write_safetensors(arrays, path, {_TREE_KEY: text})


def load(path: str | os.PathLike[str], map_location: Any | None = None, *, weights_only: bool = True) -> Any:
    """Load what ``save`` wrote. Never runs code: it parses JSON and copies bytes.

    A plain safetensors file written by another tool loads as a dict of Tensors.
    ``map_location`` and ``weights_only`` are PyTorch's keywords, accepted so that
    ``torch.load(path, map_location="cpu", weights_only=True)`` runs unchanged: tensors always
    load on the CPU, and loading is always weights-only (there is no pickle to allow).

    Example:
        >>> model.load_state_dict(chainrule.load("model.safetensors"))
    """
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        _device.check(map_location, "load(map_location=...)")
    arrays, metadata = read_safetensors(path)
    if _TREE_KEY not in metadata:
        return {name: Tensor._make(array) for name, array in arrays.items()}
    try:
        tree = json.loads(metadata[_TREE_KEY])
        return _decode(tree, arrays, os.fspath(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"load: {os.fspath(path)} has corrupt chainrule metadata ({e})") from None
    except RecursionError:
        raise ValueError(f"load: {os.fspath(path)} has chainrule metadata nested too deeply") from None
