"""Safe, lossless checkpoints (issue 5; CONTRIBUTING.md, "Checkpoints and files").

- Loading never executes code: the library source holds no pickle, eval, exec, compile or
  allow_pickle=True (checked on the syntax tree, so docstrings and comments don't count).
- Truncated, corrupted and hostile files are refused with a ValueError naming the file, and a model
  they were meant for is left untouched.
- A save killed (SIGKILL) at any moment leaves the previous checkpoint loadable: many kills.
- A training run killed and resumed reproduces the uninterrupted one bit for bit.
"""

import ast
import json
import math
import os
import pathlib
import pickle
import random
import signal
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import write_safetensors
from chainrule.train import fit

HERE = pathlib.Path(__file__).parent
SRC = pathlib.Path(cr.__file__).parent
KILLS = int(os.environ.get("CHAINRULE_KILLS", "30"))
STATS = {}


# ----- no code execution, by construction -----

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
# jit compiles the replay it writes itself: generated names and number literals only, never
# text from data (tests/test_jit.py checks that grammar on every traced op).
ALLOWED = {("api.py", "compile"), ("api.py", "exec")}  # autograd/jit/api.py
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib", "cloudpickle"}


def _violations(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{path}:{node.lineno}: imports {name}")
        elif isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in FORBIDDEN_CALLS:
                # Provably safe: __import__ of a literal module name (no data reaches it).
                literal = (
                    fn.id == "__import__"
                    and len(node.args) == 1
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and node.args[0].value.split(".")[0] not in FORBIDDEN_MODULES
                )
                if not literal and (path.name, fn.id) not in ALLOWED:
                    found.append(f"{path}:{node.lineno}: calls {fn.id}()")
            if (
                isinstance(fn, ast.Attribute)
                and fn.attr in {"load", "loads"}
                and isinstance(fn.value, ast.Name)
                and fn.value.id in FORBIDDEN_MODULES | {"torch"}
            ):
                found.append(f"{path}:{node.lineno}: calls {fn.value.id}.{fn.attr}()")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{path}:{node.lineno}: allow_pickle is not the constant False")
            if (
                isinstance(fn, ast.Attribute)
                and fn.attr == "load"
                and isinstance(fn.value, ast.Name)
                and fn.value.id in {"np", "numpy"}
                and not any(k.arg == "allow_pickle" for k in node.keywords)
            ):
                found.append(f"{path}:{node.lineno}: np.load without an explicit allow_pickle=False")
        elif isinstance(node, ast.Attribute) and node.attr in {"__reduce__", "__reduce_ex__", "__setstate__"}:
            found.append(f"{path}:{getattr(node, 'lineno', '?')}: touches {node.attr}")
    return found


def test_library_source_cannot_unpickle_or_eval():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 30
    problems = [v for f in files for v in _violations(f)]
    STATS["source_files_scanned"] = len(files)
    assert not problems, "\n".join(problems)


def test_the_scanner_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\nimport numpy as np\nx = eval('1')\nexec('y=1')\nnp.load('a', allow_pickle=True)\n"
        "np.load('b')\nfrom marshal import loads\ncompile('1', 'f', 'eval')\n__import__(name)\n__import__('pickle')\n"
    )
    found = _violations(bad)
    assert len(found) == 9, found
    good = tmp_path / "good.py"
    good.write_text(
        '"""never eval( or pickle"""\n# exec( in a comment\nimport numpy as np\n'
        "np.load('a', allow_pickle=False)\nmodel.eval()\n__import__('sys')\n"
    )
    assert _violations(good) == []


# ----- hostile and broken files -----


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def _snapshot(model):
    return {k: v._data.copy() for k, v in model.state_dict().items()}


def _header_file(path, header, data=b"", raw=None):
    encoded = raw if raw is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


class _Boom:
    """A pickle payload that would create a file if anything unpickled it."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def _hostile_files(tmp_path, good_bytes):
    """(name, path) for every kind of broken or hostile file."""
    out = []
    n = struct.unpack("<Q", good_bytes[:8])[0]
    header = json.loads(good_bytes[8 : 8 + n])
    data = good_bytes[8 + n :]
    # An entry of several elements: a shape edit on a scalar ([] -> [1]) would make a valid file.
    first = next(k for k in header if k != "__metadata__" and math.prod(header[k]["shape"]) > 1)

    def add(name, blob):
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(blob)
        out.append((name, p))

    def with_header(name, h, d=data, raw=None):
        encoded = raw if raw is not None else json.dumps(h).encode()
        add(name, struct.pack("<Q", len(encoded)) + encoded + d)

    def edit(name, key, value, entry=first):
        h = json.loads(json.dumps(header))
        h[entry][key] = value
        with_header(name, h)

    for cut in sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, len(good_bytes) - 1}):
        add(f"truncated_{cut}", good_bytes[:cut])
    add("header_length_huge", struct.pack("<Q", 2**63) + good_bytes[8:])
    add("header_length_past_end", struct.pack("<Q", len(good_bytes)) + good_bytes[8:])
    with_header("header_not_json", None, raw=b"{not json" + b" " * 7)
    with_header("header_not_utf8", None, raw=b"\xff\xfe\xfd" + b" " * 5)
    with_header("header_is_a_list", None, raw=b"[1, 2, 3]")
    with_header("header_deeply_nested", None, raw=b"[" * 100_000 + b"]" * 100_000)
    text = good_bytes[8 : 8 + n].decode()
    dup = text.replace("{", '{"' + first + '": ' + json.dumps(header[first]) + ",", 1)
    with_header("duplicate_keys", None, raw=dup.encode())
    edit("unknown_dtype", "dtype", "F128")
    edit("dtype_not_a_string", "dtype", ["F32"])
    edit("object_dtype", "dtype", "O")
    edit("negative_shape", "shape", [-1, 4])
    edit("float_shape", "shape", [1.5])
    edit("bool_shape", "shape", [True, True])
    edit("absurd_shape", "shape", [2**62, 2**62])
    edit("shape_size_mismatch", "shape", [1])
    edit("offsets_out_of_range", "data_offsets", [0, 10**12])
    edit("offsets_negative", "data_offsets", [-8, 0])
    edit("offsets_reversed", "data_offsets", [8, 0])
    edit("offsets_wrong_length", "data_offsets", [0])
    edit("offsets_floats", "data_offsets", [0.0, 4.0])
    h = json.loads(json.dumps(header))
    entries = [k for k in h if k != "__metadata__"]
    if len(entries) >= 2:
        a, b = entries[0], entries[1]
        h[b]["data_offsets"] = list(h[a]["data_offsets"])
        h[b]["shape"], h[b]["dtype"] = h[a]["shape"], h[a]["dtype"]
        with_header("offsets_overlapping", h)
    with_header("trailing_bytes", header, data + b"\0" * 8)
    h = json.loads(json.dumps(header))
    h[first]["extra"] = 1
    with_header("extra_entry_field", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"] = {"k": 1}
    with_header("metadata_not_strings", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["chainrule.tree"] = "{broken"
    with_header("tree_not_json", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["chainrule.tree"] = json.dumps({"__tensor__": "missing"})
    with_header("tree_refers_to_missing_tensor", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["chainrule.tree"] = json.dumps({"__dict__": [["a", 1, 2]]})
    with_header("tree_malformed_dict", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["chainrule.tree"] = "[" * 50_000 + "]" * 50_000
    with_header("tree_deeply_nested", h)
    h = json.loads(json.dumps(header))
    h["__metadata__"]["chainrule.tree"] = json.dumps({"__class__": "os.system", "args": ["touch x"]})
    with_header("tree_unknown_object", h)
    flipped = bytearray(good_bytes)
    for i in range(9, 8 + n, max(1, n // 6)):
        flipped[i] ^= 0x5A
    add("header_bytes_flipped", bytes(flipped))
    sentinel = tmp_path / "PWNED"
    payload = pickle.dumps({"model": _Boom(sentinel)})
    add("pickle_payload", payload)
    p = tmp_path / "pickle_payload.npz"
    p.write_bytes(payload)
    out.append(("pickle_payload_npz", p))
    p = tmp_path / "object_array.npz"
    np.savez(p, a=np.array([_Boom(sentinel)], dtype=object))
    out.append(("npz_with_object_array", p))
    p = tmp_path / "zip.safetensors"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("data.pkl", payload)
    out.append(("torch_style_zip", p))
    add("empty_file", b"")
    return out, sentinel


def test_hostile_files_are_refused_and_the_model_is_untouched(tmp_path):
    source = _model()
    path = tmp_path / "good.safetensors"
    cr.save({"model": source.state_dict(), "step": 3}, path)
    good = path.read_bytes()
    assert cr.load(path)["step"] == 3
    files, sentinel = _hostile_files(tmp_path, good)
    target = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    before = _snapshot(target)
    refused = []
    for name, p in files:
        with pytest.raises(ValueError) as info:
            ckpt = cr.load(p)
            target.load_state_dict(ckpt["model"])  # only reached if load accepted the file
        assert "load" in str(info.value) and str(p) in str(info.value), (name, str(info.value))
        refused.append(name)
        after = _snapshot(target)
        assert all(np.array_equal(after[k], before[k]) for k in before), name
    assert not sentinel.exists(), "a pickle payload was executed"
    STATS["hostile_files"] = len(refused)
    assert len(refused) >= 40, len(refused)


def test_every_truncation_of_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    cr.save({"w": cr.randn(3, 5), "b": np.arange(4), "step": 1}, path)
    blob = path.read_bytes()
    bad = tmp_path / "t.safetensors"
    for cut in range(len(blob)):
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError):
            cr.load(bad)
    STATS["truncations"] = len(blob)


def test_wrong_dtypes_in_a_valid_file_do_not_load_into_a_model(tmp_path):
    model = _model()
    before = _snapshot(model)
    sd = {k: v._data for k, v in model.state_dict().items()}
    sd["0.weight"] = sd["0.weight"].astype(np.complex64) + 1j
    path = tmp_path / "c.safetensors"
    write_safetensors(sd, path)
    loaded = cr.load(path)
    with pytest.raises(RuntimeError, match="0.weight"):
        model.load_state_dict(loaded)
    after = _snapshot(model)
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_round_trip_is_bit_exact(tmp_path):
    state = {
        "f32": np.array([1.5, -0.0, np.inf, np.nan, 1e-45], dtype=np.float32),
        "f64": np.array([5e-324, -np.inf, 1e308]),
        "i64": np.array([-(2**63), 2**63 - 1]),
        "bool": np.array([True, False]),
        "zero_d": np.array(3.25),
        "empty": np.zeros((0, 3)),
        "t": cr.tensor([[1.0, 2.0]]),
        "meta": {"lr": 0.1, "name": "x", "none": None, 1: [1, 2.5, "s"]},
    }
    path = tmp_path / "c.safetensors"
    cr.save(state, path)
    back = cr.load(path)
    for k in ["f32", "f64", "i64", "bool", "zero_d", "empty"]:
        assert back[k].dtype == state[k].dtype and back[k].shape == state[k].shape
        assert back[k].tobytes() == state[k].tobytes(), k
    assert back["t"]._data.tobytes() == state["t"]._data.tobytes()
    assert back["meta"] == state["meta"]


# ----- SIGKILL during save -----


def _child(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, str(HERE / "_ckpt_child.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _check_save_loop_file(path):
    ckpt = cr.load(path)
    k = ckpt["step"]
    big, small = ckpt["model"]["big"], ckpt["model"]["small"]
    assert big.shape == (512, 1024) and (big == k).all() and (small == k).all() and ckpt["note"] == "x" * (k % 50)
    return k


def test_sigkill_during_save_never_loses_the_previous_checkpoint(tmp_path):
    """A child saves a 4 MB checkpoint in a loop; it is SIGKILLed at random moments, KILLS times.
    After every kill the file loads and is one complete, internally consistent version."""
    path = tmp_path / "ckpt.safetensors"
    rnd = random.Random(0)
    deadline = time.monotonic() + 25
    kills, versions = 0, set()
    proc = None
    while kills < KILLS and time.monotonic() < deadline:
        proc = _child("save", str(path))
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rnd.uniform(0.0, 0.12))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        k = _check_save_loop_file(path)
        versions.add(k)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != path.name]
    STATS["sigkills"] = kills
    STATS["distinct_versions_seen"] = len(versions)
    assert kills >= min(KILLS, 10), f"only {kills} kills in the time budget"
    # temp files of killed saves may remain (a kill can't clean up), but never in place of the checkpoint
    assert all(name.endswith(".tmp") for name in leftovers), leftovers


# ----- resume reproduces the uninterrupted run -----


def _params(model):
    return [p._data.copy() for p in model.parameters()]


def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path):
    sys.path.insert(0, str(HERE))
    from ckpt_model import STEPS, make_run

    model, opt, sched, data, kwargs = make_run()
    straight = fit(model, data, optimizer=opt, scheduler=sched, **kwargs)
    want_params, want_loss = _params(model), straight.loss.copy()
    assert len(want_loss) == STEPS

    rnd = random.Random(1)
    resumes = 0
    for trial in range(3):
        d = tmp_path / f"run{trial}"
        proc = _child("fit", str(d), str(STEPS))
        assert proc.stdout.readline().strip() == "ready"
        ckpt = d / "checkpoint.safetensors"
        t0 = time.monotonic()
        while not ckpt.exists() and time.monotonic() - t0 < 20:
            time.sleep(0.005)
        time.sleep(rnd.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_steps = cr.load(ckpt)["step"]
        model, opt, sched, data, kwargs = make_run(init_seed=123)  # wrong init: all must come from the file
        resumed = fit(model, data, optimizer=opt, scheduler=sched, checkpoint_dir=d, resume=True, **kwargs)
        np.testing.assert_array_equal(resumed.loss, want_loss)
        for a, b in zip(_params(model), want_params):
            assert a.tobytes() == b.tobytes()
        resumes += 1
        STATS.setdefault("resume_cut_steps", []).append(int(done_steps))
    STATS["resumes"] = resumes


def test_report(capsys):
    """Print the figures (collected by the tests above when they ran in this process)."""
    with capsys.disabled():
        print("\ncheckpoint figures:", json.dumps(STATS, sort_keys=True))


def test_a_refused_resume_leaves_model_and_optimizer_untouched(tmp_path):
    sys.path.insert(0, str(HERE))
    from ckpt_model import make_run

    model, opt, sched, data, kwargs = make_run()
    fit(model, data, optimizer=opt, scheduler=sched, checkpoint_dir=tmp_path, **kwargs)
    model, opt, sched, data, kwargs = make_run(init_seed=123)
    before, opt_before = _params(model), opt.state_dict()
    wrong_seed = dict(kwargs, seed=kwargs.get("seed", 0) + 1)
    with pytest.raises(ValueError, match="seed"):
        fit(model, data, optimizer=opt, scheduler=sched, checkpoint_dir=tmp_path, resume=True, **wrong_seed)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(_params(model), before))
    assert opt.state_dict() == opt_before


def test_a_save_cleans_up_temporaries_left_by_killed_saves(tmp_path):
    path = tmp_path / "c.safetensors"
    stale = tmp_path / "c.safetensors.abc123.tmp"
    fresh = tmp_path / "c.safetensors.def456.tmp"
    stale.write_bytes(b"half a checkpoint")
    fresh.write_bytes(b"a save still running")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    cr.save({"w": cr.ones(3)}, path)
    assert not stale.exists() and fresh.exists()
    assert cr.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
