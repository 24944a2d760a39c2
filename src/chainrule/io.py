"""save / load: tensors and nested state dicts in the safetensors format; no pickle, ever.

Tensors (and NumPy arrays) become safetensors entries; everything else (numbers,
strings, lists, nested dicts with int or str keys, None) is kept as JSON in the
header's ``__metadata__``. Loading parses JSON and copies raw bytes: it cannot run code.
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import time

import numpy as np

from . import _device
from .tensor import Tensor

# safetensors dtype names <-> NumPy (little-endian) dtypes.
_DTYPES = {"BOOL": np.dtype("bool"), "U8": np.dtype("<u1"), "I8": np.dtype("<i1"), "U16": np.dtype("<u2"),
           "I16": np.dtype("<i2"), "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "U64": np.dtype("<u8"),
           "I64": np.dtype("<i8"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
           "C64": np.dtype("<c8")}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # a larger header is corrupt or hostile, not a checkpoint
_TREE_KEY = "chainrule.tree"  # the JSON skeleton of the saved object


# ----- the safetensors format -----

def write_safetensors(arrays: dict, path, metadata: dict | None = None) -> None:
    """Write ``{name: ndarray}`` to ``path`` in the safetensors format, atomically.

    ``metadata`` is a dict of str -> str stored in the header's ``__metadata__``.
    """
    header, offset, chunks = {}, 0, []
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("save: safetensors metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    for name, array in arrays.items():
        if name == "__metadata__":
            raise ValueError("save: a tensor can't be named '__metadata__' in a safetensors file: the format "
                             "reserves that header entry for metadata (the file could not be loaded back). "
                             "Rename the tensor, or use chainrule.save, which renames it in the file")
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype not in _NAMES:
            raise ValueError(f"save: tensor '{name}' has dtype {array.dtype}, which safetensors can't store; "
                             f"supported: {', '.join(str(d) for d in _NAMES)}")
        raw = np.ascontiguousarray(array, dtype=dtype).tobytes()
        header[name] = {"dtype": _NAMES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # pad so the data starts 8-byte aligned, as safetensors does
    _atomic_write(path, [struct.pack("<Q", len(encoded)), encoded, *chunks])


def read_safetensors(path) -> tuple[dict, dict]:
    """Read a safetensors file; returns ``({name: ndarray}, metadata)``.

    Refuses, with a ValueError naming the file, anything that isn't a well-formed file:
    a header length past the end, a non-JSON or duplicate-key header, unknown dtypes,
    sizes that don't match the shape, offsets out of range, overlapping or leaving holes,
    and non-string metadata.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        blob = f.read()

    def refuse(why):
        raise ValueError(f"load: {path} is not a valid safetensors file: {why}")

    if len(blob) < 8:
        refuse(f"it has {len(blob)} bytes, fewer than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER:
        refuse(f"the header length {n} is above the {_MAX_HEADER}-byte cap")
    if 8 + n > len(blob):
        refuse(f"the header claims {n} bytes but the file has only {len(blob) - 8} after the length "
               "(truncated?)")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            refuse(f"duplicate keys in the header: {sorted({k for k in keys if keys.count(k) > 1})}")
        return dict(pairs)

    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        refuse(f"the header is not UTF-8 JSON ({e})")
    except RecursionError:
        refuse("the header's JSON is nested too deeply")
    if not isinstance(header, dict):
        refuse("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        refuse("__metadata__ must map strings to strings")
    data = memoryview(blob)[8 + n:]
    arrays, spans = {}, []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            refuse(f"entry '{name}' must have exactly dtype, shape and data_offsets")
        dtype = _DTYPES.get(info["dtype"]) if isinstance(info["dtype"], str) else None
        if dtype is None:
            refuse(f"entry '{name}' has unknown dtype {info['dtype']!r}; known: {', '.join(_DTYPES)}")
        shape, offsets = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            refuse(f"entry '{name}' has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            refuse(f"entry '{name}' has invalid data_offsets {offsets!r}")
        start, end = offsets
        if not 0 <= start <= end <= len(data):
            refuse(f"entry '{name}' has data_offsets {offsets} outside the {len(data)}-byte data section")
        expected = math.prod(shape) * dtype.itemsize
        if end - start != expected:
            refuse(f"entry '{name}' holds {end - start} bytes but shape {shape} of {info['dtype']} needs "
                   f"{expected}")
        spans.append((start, end, name))
        arrays[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(shape).copy()
    position = 0
    for start, end, name in sorted(spans):
        if start < position:
            refuse(f"entry '{name}' overlaps the previous entry (data_offsets start {start} < {position})")
        if start > position:
            refuse(f"a gap of {start - position} unclaimed bytes before entry '{name}'")
        position = end
    if position != len(data):
        refuse(f"{len(data) - position} bytes after the last entry that no entry claims")
    return arrays, metadata


STALE_TEMPORARY_SECONDS = 60


def _remove_stale_temporaries(directory, name):
    """Delete temp files that saves of `name` killed mid-write left behind.

    Only those older than a minute: a younger one may belong to a save still running.
    """
    now = time.time()
    for entry in os.scandir(directory):
        if entry.name.startswith(name + ".") and entry.name.endswith(".tmp"):
            try:
                if now - entry.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                    os.unlink(entry.path)
            except OSError:
                pass


def _atomic_write(path, chunks) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    A crash mid-write leaves the old file intact, never a half-written one.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _remove_stale_temporaries(directory, os.path.basename(path))
    try:  # persist the rename itself; not every platform lets a directory be opened
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


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
                raise TypeError(f"save: dict key {key!r} at {where or 'the top level'} is a "
                                f"{type(key).__name__}; only str and int keys can be saved")
            items.append([key, _encode(value, arrays, _join(where, key))])
        return {"__dict__": items}
    raise TypeError(f"save: can't save a {type(obj).__name__} at {where or 'the top level'}. chainrule.save "
                    "stores Tensors, NumPy arrays, numbers, strings, None, and lists/dicts of them (no pickle). Save "
                    "model.state_dict() rather than the model.")


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


def save(obj, path) -> None:
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


def load(path, map_location=None, *, weights_only=True):
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
