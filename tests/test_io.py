"""chainrule.save / load: bit-exact round trips, safetensors interop, atomic writes, hostile files refused."""

import json
import os
import struct

import numpy as np
import pytest

import chainrule as cr


def _raw(header: dict, data: bytes = b"", length: int | None = None) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded) if length is None else length) + encoded + data


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_, np.float16, np.int32, np.uint8])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (5,), (2, 3, 4)])
def test_round_trip_is_bit_exact(tmp_path, rng, dtype, shape):
    values = rng.normal(size=shape) * 1e3
    if dtype == np.bool_:
        array = values > 0
    else:
        array = values.astype(dtype)
    if np.dtype(dtype).kind == "f" and array.size:
        array.flat[0] = np.nan if array.size > 1 else -0.0
    path = tmp_path / "t.safetensors"
    cr.save(cr.tensor(array), path)
    back = cr.load(path)
    assert isinstance(back, cr.Tensor)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.numpy().tobytes() == array.tobytes()


def test_nested_state_round_trip(tmp_path, rng):
    state = {
        "model": {"0.weight": cr.tensor(rng.normal(size=(3, 2)).astype(np.float32)), "0.bias": cr.zeros(3)},
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": cr.tensor(rng.normal(size=3))}},
            "param_groups": [{"lr": 0.01, "betas": [0.9, 0.999], "amsgrad": False, "params": [0, 1]}],
        },
        "scheduler": {"best": float("inf"), "mode": "min", "min_lrs": [0.0]},
        "rng": np.random.default_rng(5).bit_generator.state,
        "raw": np.arange(4),
        "step": 1000,
        "none": None,
    }
    path = tmp_path / "ckpt.safetensors"
    cr.save(state, path)
    back = cr.load(path)
    assert back["step"] == 1000 and back["none"] is None
    assert back["optimizer"]["state"][0]["step"] == 7  # int keys survive
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    assert back["scheduler"]["best"] == float("inf")
    assert back["rng"] == state["rng"]  # 128-bit ints in the PCG64 state survive JSON
    assert isinstance(back["raw"], np.ndarray) and back["raw"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(back["model"]["0.weight"].numpy(), state["model"]["0.weight"].numpy())
    assert back["model"]["0.weight"].dtype == np.float32
    # the restored generator continues the same stream
    g = np.random.default_rng()
    g.bit_generator.state = back["rng"]
    assert g.random() == np.random.default_rng(5).random()


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(3)}, path)
    w = cr.load(path)["w"]
    w._data += 1  # an optimizer updates in place; a read-only buffer would fail here
    assert w.numpy().tolist() == [2, 2, 2]


def test_files_are_standard_safetensors(tmp_path, rng):
    st = pytest.importorskip("safetensors.numpy")
    a = rng.normal(size=(4, 3))
    path = tmp_path / "m.safetensors"
    cr.save({"layer.weight": cr.tensor(a), "layer.bias": cr.tensor(np.arange(3))}, path)
    theirs = st.load_file(str(path))
    np.testing.assert_array_equal(theirs["layer.weight"], a)
    np.testing.assert_array_equal(theirs["layer.bias"], np.arange(3))
    # and a file written by the safetensors package loads as a dict of Tensors
    st.save_file({"x": a.astype(np.float32), "flag": np.array([True, False])}, str(tmp_path / "theirs.st"))
    back = cr.load(tmp_path / "theirs.st")
    np.testing.assert_array_equal(back["x"].numpy(), a.astype(np.float32))
    assert back["flag"].numpy().tolist() == [True, False]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"w": cr.zeros(1000)}, path)
    assert path.read_bytes() == before, "a failed save must leave the old file intact"
    assert os.listdir(tmp_path) == ["ckpt.safetensors"], "the temp file must be cleaned up"


def test_unsavable_objects_are_refused_clearly(tmp_path):
    with pytest.raises(TypeError, match="can't save a object.*state_dict"):
        cr.save({"model": object()}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict key"):
        cr.save({(1, 2): cr.ones(1)}, tmp_path / "x")
    with pytest.raises(ValueError, match="dtype object"):
        cr.save({"x": np.array([object()])}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


GOOD_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
HOSTILE = {
    "too short": b"\x01\x02",
    "header past the end": _raw({"a": GOOD_ENTRY}, b"\0" * 8, length=10_000),
    "header above the cap": struct.pack("<Q", 2**40) + b"{}",
    "not json": struct.pack("<Q", 5) + b"{abc}",
    "not an object": _raw([1, 2]),  # type: ignore[arg-type]
    "unknown dtype": _raw({"a": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "size != prod(shape) * itemsize": _raw({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
    "offsets out of range": _raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, b"\0" * 8),
    "negative offsets": _raw({"a": {"dtype": "U8", "shape": [0], "data_offsets": [-1, -1]}}, b""),
    "overlapping offsets": _raw(
        {"a": GOOD_ENTRY, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12
    ),
    "a hole": _raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
    "trailing bytes": _raw({"a": GOOD_ENTRY}, b"\0" * 9),
    "non-string metadata": _raw({"__metadata__": {"k": 1}, "a": GOOD_ENTRY}, b"\0" * 8),
    "bad shape": _raw({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "extra entry fields": _raw({"a": {**GOOD_ENTRY, "code": "os.system('x')"}}, b"\0" * 8),
    "corrupt tree": _raw({"__metadata__": {"chainrule.tree": "{not json"}}),
    "tree points nowhere": _raw({"__metadata__": {"chainrule.tree": '{"__tensor__": "missing"}'}}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_refused(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(HOSTILE[case])
    with pytest.raises(ValueError, match="bad.safetensors"):
        cr.load(path)


def test_duplicate_keys_are_refused(tmp_path):
    header = (
        b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    )
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0")
    with pytest.raises(ValueError, match="duplicate keys"):
        cr.load(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    cr.save({"w": cr.ones(100)}, path)
    blob = path.read_bytes()
    path.write_bytes(blob[:-10])
    with pytest.raises(ValueError, match="t.safetensors.*outside"):
        cr.load(path)


def test_a_pickle_is_refused_without_running_it(tmp_path):
    import pickle  # only to build the hostile payload; the library never imports pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(ValueError):
        cr.load(path)
    assert not (tmp_path / "pwned").exists()


def test_no_pickle_in_the_library():
    import pathlib

    root = pathlib.Path(cr.__file__).parent
    for file in root.rglob("*.py"):
        text = file.read_text()
        for banned in ("pickle.load", "allow_pickle=True", "import pickle"):
            assert banned not in text, f"{file} contains {banned}"
