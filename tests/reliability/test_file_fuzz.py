"""Mutation fuzzing of checkpoint and data files (issue 12, item 6): every mutant is refused or loads sanely.

Valid seed files (a chainrule checkpoint, an .npz written by numpy.savez, an .npz data set, a CSV,
an IDX file plain and gzipped) are mutated: bits flipped, bytes set to interesting values, bytes
inserted, deleted, duplicated, the file truncated or extended, and the format's header mangled
(safetensors header lengths and numbers, IDX type, rank and dimension sizes, .npy shapes inside
the zip, zip size fields, gzip flags and trailer, CSV labels, fields and encodings). Each mutant is
loaded in a child process (_file_fuzz_worker.py) under an address-space limit and a per-case time
limit; a crash, a hang, a MemoryError, a refusal that does not name the file, a traced allocation
far beyond the file's size, or a checksummed file (zip, gzip) that loads different values fails
the test. A child that dies is restarted after the case that killed it.

    FILE_FUZZ_CASES=2000 pytest -s tests/reliability/test_file_fuzz.py    # per format; default 250
"""

import collections
import gzip
import io
import json
import os
import pathlib
import random
import re
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import chainrule as cr

HERE = pathlib.Path(__file__).resolve().parent
SRC = str(pathlib.Path(cr.__file__).resolve().parent.parent)
CASES = int(os.environ.get("FILE_FUZZ_CASES", "250"))
SEED = int(os.environ.get("FILE_FUZZ_SEED", "12"))
FAILURES = ("unclear", "crash", "memory", "hang", "silent", "died")
FIGURES = {}

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resource limits: Linux")


# ----- seed files -----


def _seeds(d: pathlib.Path) -> dict:
    rng = np.random.default_rng(0)
    paths = {}
    model = {
        "0.weight": cr.tensor(rng.normal(size=(4, 3)).astype(np.float32)),
        "0.bias": cr.zeros(4),
        "1.num_batches_tracked": cr.tensor(np.array(3)),
    }
    paths["safetensors"] = d / "seed.safetensors"
    cr.save(
        {
            "model": model,
            "optimizer": {
                "state": {0: {"step": 2, "exp_avg": cr.ones(4)}},
                "param_groups": [{"lr": 0.01, "params": [0, 1]}],
            },
            "step": 7,
            "history": {"table": np.arange(6.0).reshape(2, 3)},
        },
        paths["safetensors"],
    )
    x = rng.normal(size=(12, 3)).astype(np.float32)
    y = np.arange(12) % 3
    paths["npz"] = d / "seed.npz"
    np.savez(paths["npz"], x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    paths["npz_data"] = d / "seed_data.npz"
    np.savez_compressed(paths["npz_data"], x=x, y=y)
    paths["csv"] = d / "seed.csv"
    paths["csv"].write_text("a,b,c,label\n" + "".join(f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{c}\n" for r, c in zip(x, y)))
    images = (np.arange(6 * 4 * 4) % 251).astype(np.uint8).reshape(6, 4, 4)
    idx = b"\x00\x00\x08\x03" + struct.pack(">III", 6, 4, 4) + images.tobytes()
    paths["idx"] = d / "seed-idx3-ubyte"
    paths["idx"].write_bytes(idx)
    paths["idx_gz"] = d / "seed-idx3-ubyte.gz"
    paths["idx_gz"].write_bytes(gzip.compress(idx, mtime=0))
    return paths


# ----- mutations -----

INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x2C, 0x0A, 0x30, 0x39, 0x2D, 0x2E, 0x5B, 0x7B]
HUGE = [2**31 - 1, 2**31, 2**32 - 1, 2**40, 2**62, 2**63, 2**64 - 1, 10**12]


def _bytes_mutation(r: random.Random, blob: bytearray) -> str:
    if not blob:
        blob.extend(r.randbytes(r.randint(1, 16)))
        return "extend"
    i = r.randrange(len(blob))
    kind = r.choice(["flip", "set", "insert", "delete", "duplicate", "truncate", "extend"])
    if kind == "flip":
        blob[i] ^= 1 << r.randrange(8)
    elif kind == "set":
        blob[i] = r.choice(INTERESTING)
    elif kind == "insert":
        blob[i:i] = r.randbytes(r.randint(1, 16))
    elif kind == "delete":
        del blob[i : i + r.randint(1, 16)]
    elif kind == "duplicate":
        blob[i:i] = blob[i : i + r.randint(1, 64)]
    elif kind == "truncate":
        del blob[i:]
    else:
        blob.extend(r.choice([bytes(r.randint(1, 64)), r.randbytes(r.randint(1, 64))]))
    return kind


def _safetensors_header(r, blob):
    n = struct.unpack("<Q", blob[:8])[0]
    if r.random() < 0.4:
        blob[:8] = struct.pack("<Q", r.choice([0, 1, 7, n - 1, n + 1, n + 8, len(blob), *HUGE]) % 2**64)
        return "header length"
    text = blob[8 : 8 + n].decode()
    numbers = list(re.finditer(r"-?\d+", text))
    m = r.choice(numbers)
    value = str(r.choice([-1, 0, 1, *HUGE, 10**30]))
    text = text[: m.start()] + value + text[m.end() :]
    if r.random() < 0.3:
        text = text.replace(
            r.choice(['"F32"', '"I64"', '"shape"', '"data_offsets"', "[", "]"]),
            r.choice(['"F99"', '"BF16"', '"O"', '"shape2"', "[[", "", "null"]),
            1,
        )
    encoded = text.encode()
    blob[:] = struct.pack("<Q", len(encoded)) + encoded + blob[8 + n :]
    return "header numbers"


def _idx_header(r, blob):
    field = r.choice(["type", "ndim", "dim"])
    if field == "type":
        blob[2] = r.choice([0x00, 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0xFF])
    elif field == "ndim":
        blob[3] = r.choice([0, 1, 2, 4, 40, 255])
    else:
        k = r.randrange(max(1, blob[3]))
        blob[4 + 4 * k : 8 + 4 * k] = struct.pack(">I", r.choice([0, 1, 5, 7, *HUGE[:3]]))
    return f"idx {field}"


def _gzip_mangle(r, blob):
    """Mangle the inner IDX and recompress (content changes legitimately), or the gzip framing."""
    if r.random() < 0.5:
        inner = bytearray(gzip.decompress(bytes(blob)))
        _idx_header(r, inner)
        blob[:] = gzip.compress(bytes(inner), mtime=0)
        return "inner idx header", False
    kind = r.choice(["flags", "trailer size", "trailer crc", "method"])
    if kind == "flags":
        blob[3] = r.choice([0x04, 0x08, 0x10, 0x1F, 0xE0])
    elif kind == "method":
        blob[2] = r.choice([0, 7, 9, 255])
    else:
        at = -4 if kind == "trailer size" else -8
        blob[len(blob) + at : len(blob) + at + 4] = struct.pack("<I", r.choice([0, 1, 2**32 - 1, 10**9]))
    return f"gzip {kind}", True


def _npz_mangle(r, blob, compressed):
    """Rewrite a member's .npy header (shape, dtype), or a zip size field in place."""
    if r.random() < 0.6:
        with zipfile.ZipFile(io.BytesIO(bytes(blob))) as z:
            members = {name: z.read(name) for name in z.namelist()}
        name = r.choice(sorted(members))
        member = members[name]
        header_end = member.index(b"\n") + 1
        text = member[:header_end].decode("latin1")
        shape = r.choice(["(10000000000,)", "(4611686018427387904, 4)", "(-1,)", "(3, 3)", "()", "(0,)", "(12, 300)"])
        text = (
            re.sub(r"\(.*?\)", shape, text, count=1)
            if r.random() < 0.7
            else text.replace("'<", r.choice(["'>", "'|O", "'<U", "'V"]), 1)
        )
        text = text.rstrip("\n").ljust(header_end - 1) + "\n" if len(text) <= header_end else text
        member = text.encode("latin1") + member[header_end:]
        if len(text) != header_end:  # the header length (bytes 8-9) must follow, or the file is invalid anyway
            member = member[:8] + struct.pack("<H", len(text) - 10) + member[10:]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
            for n, m in members.items():
                z.writestr(n, member if n == name else m)
        blob[:] = out.getvalue()
        return "npy header", False
    signatures = [m.start() for m in re.finditer(b"PK\x01\x02|PK\x03\x04", bytes(blob))]
    at = r.choice(signatures)
    central = blob[at + 2 : at + 4] == b"\x01\x02"
    field = r.choice(["compressed size", "file size", "method", "name length"])
    offset = {
        "compressed size": 20 if central else 18,
        "file size": 24 if central else 22,
        "method": 10 if central else 8,
        "name length": 28 if central else 26,
    }[field]
    width = 2 if field in ("method", "name length") else 4
    value = r.choice([0, 1, 2 ** (8 * width) - 1, 2 ** (8 * width - 1), 99, 12])
    blob[at + offset : at + offset + width] = value.to_bytes(width, "little")
    return f"zip {field}", True


CSV_TEXT = [
    lambda r, rows: rows.__setitem__(
        r.randrange(1, len(rows)),
        rows[1].rsplit(",", 1)[0]
        + ","
        + r.choice(["1000000000", "1e300", "-1", "nan", "inf", "99999999999999999999999", "0x10", "1_000", " 2 ", ""]),
    ),
    lambda r, rows: rows.insert(
        r.randrange(len(rows)),
        r.choice(["", ",,,", "1,2", "1,2,3,4,5", '"a,b",1,2,0', "\ufeff1,2,3,0", "1;2;3;0", "\x00,1,2,0"]),
    ),
    lambda r, rows: rows.__setitem__(r.randrange(len(rows)), "9" * r.choice([1000, 200_000]) + ",1,2,0"),
    lambda r, rows: rows.__setitem__(0, r.choice(["", "label", "a,b", "\ufeffa,b,c,label", '"unterminated,b,c,d'])),
    lambda r, rows: rows.__setitem__(r.randrange(len(rows)), rows[-1].replace(",", r.choice(["\t", ";", '"', "\r"]))),
]


def _csv_mangle(r, blob):
    rows = blob.decode("utf-8", "replace").split("\n")
    r.choice(CSV_TEXT)(r, rows)
    encoded = "\n".join(rows).encode("utf-8")
    if r.random() < 0.2:
        encoded = r.choice([b"\xff\xfe", b"\xef\xbb\xbf", b"\x00\x00"]) + encoded
    blob[:] = encoded
    return "csv text"


def _mutate(r: random.Random, fmt: str, seed: bytes):
    """(mutated bytes, description, whether a checksum still guards the content)."""
    blob, names, checksummed = bytearray(seed), [], True
    if r.random() < 0.5:
        if fmt == "safetensors":
            names.append(_safetensors_header(r, blob))
        elif fmt == "idx":
            names.append(_idx_header(r, blob))
        elif fmt == "idx_gz":
            name, checksummed = _gzip_mangle(r, blob)
            names.append(name)
        elif fmt in ("npz", "npz_data"):
            name, checksummed = _npz_mangle(r, blob, fmt == "npz_data")
            names.append(name)
        else:
            names.append(_csv_mangle(r, blob))
            checksummed = False
    for _ in range(r.choice([0, 1, 1, 2, 4]) if names else r.randint(1, 4)):
        names.append(_bytes_mutation(r, blob))
    return bytes(blob), "+".join(names), checksummed


# ----- the run -----


def _run(tmp_path, cases_per_format):
    seeds = _seeds(tmp_path)
    r = random.Random(SEED)
    cases, kinds = [], {}
    for fmt, seed_path in seeds.items():
        seed = seed_path.read_bytes()
        for _ in range(cases_per_format):
            blob, kind, checksummed = _mutate(r, fmt, seed)
            i = len(cases)
            path = tmp_path / f"case{i}{''.join(seed_path.suffixes)}"
            path.write_bytes(blob)
            cases.append([i, fmt, str(path), checksummed and fmt in ("npz", "npz_data", "idx_gz")])
            kinds[i] = kind
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"originals": {k: str(v) for k, v in seeds.items()}, "cases": cases}))
    results_path = tmp_path / "results.jsonl"
    done, start, restarts = {}, 0, 0
    while start < len(cases):
        try:
            proc = subprocess.run(
                [sys.executable, str(HERE / "_file_fuzz_worker.py"), SRC, str(manifest), str(results_path), str(start)],
                capture_output=True,
                text=True,
                check=False,
                timeout=max(60, len(cases) // 10),
            )
            returncode, stderr = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:  # stuck where the child's alarm could not interrupt it; killed
            returncode, stderr = "killed after the run's timeout", ""
        started = None
        for line in results_path.read_text().splitlines():
            record = json.loads(line)
            if "start" in record:
                started = record["i"]
            else:
                done[record["i"]] = record
        if returncode != 0 or started not in done:
            if started is None or started in done:  # the child failed before its first case
                pytest.fail(f"the fuzz worker failed ({returncode}): {stderr[-2000:]}")
            done[started] = {
                "i": started,
                "fmt": cases[started][1],
                "outcome": "died",
                "detail": f"exit {returncode}: {stderr[-300:]}",
            }
            restarts += 1
        start = max(done) + 1
    return cases, kinds, done, restarts


def test_mutated_files_are_refused_or_load_sanely(tmp_path):
    cases, kinds, done, restarts = _run(tmp_path, CASES)
    table = collections.defaultdict(collections.Counter)
    for record in done.values():
        table[record["fmt"]][record["outcome"]] += 1
    FIGURES.update(cases=len(cases), restarts=restarts, by_format={k: dict(v) for k, v in table.items()})
    print(f"\nfile fuzz figures: {json.dumps(FIGURES, sort_keys=True)}")
    bad = [(kinds[i], r) for i, r in sorted(done.items()) if r["outcome"] in FAILURES]
    assert not bad, f"{len(bad)} of {len(cases)} mutants failed; first ones:\n" + "\n".join(
        f"  {kind}: {r}" for kind, r in bad[:15]
    )
    for fmt, counts in table.items():
        assert counts["refused"] >= CASES // 5, (fmt, dict(counts))  # the mutations reach the checks
