"""Files are read only when regular, within stated sizes, and written so a failure loses nothing (issue 12).

- Readers and `load` refuse a FIFO, a link to /dev/zero and a directory at once, naming the path.
- Declared sizes are checked before allocating: a gzipped IDX whose header claims 5 GB, an NPZ member
  claiming more than it holds, a CSV over its limit; each refusal names the limit and how to raise it.
- Labels past MAX_CLASSES and layers larger than the machine's memory are refused before allocating.
- Checkpoint writes keep the previous file's permissions; a full disk is a one-line OSError and the
  previous checkpoint is intact; files written by the hand-written writer before still load.
"""

import base64
import contextlib
import errno
import io
import os
import signal
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, nn
from chainrule.data import readers


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging (a FIFO read blocks forever)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def fire(*_):
        raise TimeoutError(f"did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


READERS = {
    "load": cr.load,
    "read_idx": readers.read_idx,
    "read_csv": readers.read_csv,
    "read_npz": readers.read_npz,
    "data.load(.csv)": data.load,
}


def _special(tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)
    elif kind == "dev_zero":
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero here")
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    return path


_SPECIAL_KINDS = [("fifo", "named pipe"), ("dev_zero", "character device"), ("directory", "directory")]


# data.load takes a directory on purpose (MNIST's IDX files inside it), so that pair is not a case.
@pytest.mark.parametrize(
    "reader, kind, says",
    [
        (reader, kind, says)
        for reader in READERS
        for kind, says in _SPECIAL_KINDS
        if not (reader.startswith("data.load") and kind == "directory")
    ],
)
def test_only_regular_files_are_read(tmp_path, reader, kind, says):
    path = _special(tmp_path, kind)
    with deadline(10), pytest.raises(ValueError) as info:
        READERS[reader](path)
    assert str(path) in str(info.value) and says in str(info.value)


def test_a_missing_file_is_named(tmp_path):
    for fn in READERS.values():
        with pytest.raises(FileNotFoundError, match="nothing.csv: no such file"):
            fn(tmp_path / "nothing.csv")


def _gzip(blob_parts):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(c.compress(p) for p in blob_parts) + c.flush()


def test_a_gzip_bomb_idx_is_refused_before_decompressing(tmp_path):
    # A few kB on disk, a header claiming (50000, 100000) bytes = 5 GB, and 20 MB of zeros actually there.
    path = tmp_path / "bomb-idx3-ubyte.gz"
    header = b"\x00\x00\x08\x02" + struct.pack(">II", 50_000, 100_000)
    path.write_bytes(_gzip([header] + [bytes(10**6)] * 20))
    assert path.stat().st_size < 2 * 2**20
    with deadline(10), pytest.raises(ValueError) as info:
        readers.read_idx(path)
    message = str(info.value)
    assert "bomb-idx3-ubyte.gz" in message and "5,000,000,000 bytes" in message
    assert "chainrule.data.readers.MAX_BYTES = 5 * 2**30" in message


def test_a_gzip_idx_holding_more_than_its_header_is_refused(tmp_path):
    path = tmp_path / "liar.gz"
    path.write_bytes(_gzip([b"\x00\x00\x08\x01" + struct.pack(">I", 10)] + [bytes(10**6)] * 5))
    with deadline(10), pytest.raises(ValueError, match=r"liar.gz: IDX header says shape \(10,\).*more than that"):
        readers.read_idx(path)


def test_raising_max_bytes_admits_a_file(tmp_path, monkeypatch):
    path = tmp_path / "x.idx"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 100) + bytes(range(100)))
    monkeypatch.setattr(readers, "MAX_BYTES", 99)
    with pytest.raises(ValueError, match=r"needs 100 bytes, over the 99 bytes limit"):
        readers.read_idx(path)
    monkeypatch.setattr(readers, "MAX_BYTES", 100)
    assert readers.read_idx(path).tolist() == list(range(100))


def test_a_plain_idx_is_checked_against_its_size_before_reading(tmp_path):
    path = tmp_path / "big.idx"
    path.write_bytes(b"\x00\x00\x0d\x02" + struct.pack(">II", 2**31, 2**31) + b"\0" * 16)
    with pytest.raises(ValueError, match=r"big.idx: the IDX header's shape \(2147483648, 2147483648\) of float32"):
        readers.read_idx(path)
    # 255 dimensions of 2**32 - 1: a size no float holds (found by the file fuzzer as an OverflowError)
    path.write_bytes(b"\x00\x00\x0e\xff" + b"\xff" * 4 * 255 + b"\0" * 16)
    with pytest.raises(ValueError, match=r"needs about 2\*\*8\d\d\d bytes.*the file is corrupt"):
        readers.read_idx(path)
    # a zero among sizes whose product overflows int64: 0 bytes, but no array (found by the file fuzzer)
    path.write_bytes(b"\x00\x00\x08\x05" + struct.pack(">IIIII", 2**32 - 1, 2**32 - 1, 2**32 - 1, 3, 0))
    with pytest.raises(ValueError, match=r"big.idx: the IDX header's shape .* makes no NumPy array"):
        readers.read_idx(path)


def _npz_claiming(tmp_path, shape):
    """An .npz whose x.npy header declares ``shape`` of float64 but holds 16 bytes."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path = tmp_path / "claims.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", buffer.getvalue() + bytes(16))
        z.writestr("y.npy", _npy(np.arange(2)))
    return path


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("shape", [(10**10,), (2**40, 2**40), (3,)])
def test_an_npz_member_claiming_more_than_it_holds_is_refused_before_allocating(tmp_path, shape):
    path = _npz_claiming(tmp_path, shape)
    with deadline(10), pytest.raises(ValueError, match=r"claims.npz, member 'x.npy': the header declares shape"):
        data.load(path)


def test_an_npz_over_max_bytes_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.zeros((100, 10)), y=np.zeros(100, dtype=np.int64))
    monkeypatch.setattr(readers, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match=r"d.npz: the archive's arrays need 8,800 bytes.*MAX_BYTES = 1 \* 2\*\*30"):
        data.load(path)


def test_npz_shape_and_dtype_mismatches_are_refused_before_split(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(ValueError, match=r"a.npz: x has shape \(5, 2\) but y has shape \(4,\)"):
        data.load(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.array(3.0), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"b.npz: x has shape \(\)"):
        data.load(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.array([["a"], ["b"]]), y=np.zeros(2))
    with pytest.raises(ValueError, match="c.npz: x has dtype <U1; expected numeric features"):
        data.load(tmp_path / "c.npz")


def test_a_csv_over_its_limit_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n" * 100)
    monkeypatch.setattr(readers, "MAX_CSV_BYTES", 500)
    with pytest.raises(ValueError, match=r"d.csv: the CSV file has 600 bytes.*MAX_CSV_BYTES"):
        data.load(path)


@pytest.mark.parametrize(
    "blob, says",
    [(b"1,2,0\n\xff\xfe,3,1\n", "not UTF-8 text"), (b"1,2," + b"9" * 200_000 + b"\n", "not a readable CSV file")],
)
def test_binary_or_malformed_csv_is_refused_with_its_path(tmp_path, blob, says):
    path = tmp_path / "m.csv"
    path.write_bytes(blob)
    with pytest.raises(ValueError) as info:
        data.load(path)
    assert "m.csv" in str(info.value) and says in str(info.value), str(info.value)


@pytest.mark.parametrize("label", ["1000000000", "1e300", "100000"])
def test_a_huge_csv_label_is_refused_before_anything_allocates_by_it(tmp_path, label):
    path = tmp_path / "l.csv"
    path.write_text(f"0.5,1.5,1\n0.1,0.2,{label}\n")
    with pytest.raises(
        ValueError,
        match=r"l.csv: the labels hold .* at index 1, which would make .* classes.*"
        r"MAX_CLASSES",
    ):
        data.load(path)


@pytest.mark.parametrize("label", ["nan", "inf", "-inf", "0.5"])
def test_non_whole_numeric_csv_labels_are_names_not_crashes(tmp_path, label):
    path = tmp_path / "l.csv"
    path.write_text(f"0.5,1.5,1\n0.1,0.2,{label}\n0.3,0.4,1\n")
    x, y = readers.read_csv(path)
    assert x.shape == (3, 2) and y.dtype == np.int64 and sorted(set(y.tolist())) == [0, 1]


def test_huge_labels_in_npz_and_idx_are_refused(tmp_path, monkeypatch):
    np.savez(tmp_path / "y.npz", x=np.zeros((2, 3)), y=np.array([0, 10**9]))
    with pytest.raises(ValueError, match=r"y.npz: y_(train|test) hold 1000000000 .*MAX_CLASSES"):
        data.load(tmp_path / "y.npz")
    monkeypatch.setattr(readers, "MAX_CLASSES", 10**10)  # raised: the same file loads
    assert data.load(tmp_path / "y.npz", test_fraction=0.5).num_classes == 10**9 + 1


def test_layers_larger_than_memory_are_refused_with_their_size_like_torch():
    # torch's allocator refuses these with a RuntimeError naming the bytes ("you tried to allocate
    # 4000000000000 bytes"); it is not called here: where memory is overcommitted it could succeed and
    # initialization would then meet the out-of-memory killer.
    for make in [
        lambda: nn.Linear(10**6, 10**6),
        lambda: nn.Conv2d(10**4, 10**4, 100),
        lambda: nn.Embedding(10**9, 1000),
        lambda: nn.LSTM(10**6, 10**6),
    ]:
        with pytest.raises(
            RuntimeError,
            match=r"(Linear|Conv2d|Embedding|LSTM): (a parameter of shape .*|the parameters of 1 layer) would take "
            r"[\d,]+ bytes .*MAX_PARAMETER_BYTES",
        ):
            make()


def test_max_parameter_bytes_sets_the_limit(monkeypatch):
    monkeypatch.setattr(nn.linear, "MAX_PARAMETER_BYTES", 1000)
    with pytest.raises(
        RuntimeError,
        match=r"Linear: a parameter of shape \(100, 100\) and dtype float32 would take "
        r"40,000 bytes",
    ):
        nn.Linear(100, 100)
    assert nn.Linear(10, 10).weight.shape == (10, 10)
    with pytest.raises(RuntimeError, match="GRUCell"):
        nn.GRUCell(100, 100)


# ----- writes -----


def test_a_checkpoint_write_keeps_the_previous_files_permissions(tmp_path):
    path = tmp_path / "c.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, "a new file gets open()'s mode, not mkstemp's 0o600"
    for mode in (0o640, 0o604):
        os.chmod(path, mode)
        cr.save({"w": cr.zeros(3)}, path)
        assert stat.S_IMODE(path.stat().st_mode) == mode
    assert cr.load(path)["w"].tolist() == [0, 0, 0]


def _assert_one_line_and_intact(info, path, before):
    message = str(info.value)
    assert info.value.errno == errno.ENOSPC and "\n" not in message
    assert "no space left" in message and str(path) in message and "previous file is unchanged" in message
    assert path.read_bytes() == before and os.listdir(path.parent) == [path.name]


def test_a_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import safetensors
    import safetensors.numpy

    path = tmp_path / "c.safetensors"
    cr.save({"w": cr.ones(4)}, path)
    before = path.read_bytes()
    real_save_file = safetensors.numpy.save_file

    def disk_fills_up(tensors, filename, metadata=None):  # what the package raises on a full disk
        real_save_file({"w": np.zeros(200)}, filename)  # some bytes got written first
        raise safetensors.SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_fills_up)
    with pytest.raises(OSError) as info:
        cr.save({"w": cr.zeros(10_000)}, path)
    monkeypatch.undo()
    _assert_one_line_and_intact(info, path, before)


def test_a_full_disk_while_writing_the_data_cache_is_one_line(tmp_path, monkeypatch):
    from chainrule._files import atomic_write

    path = tmp_path / "cache.npz"
    atomic_write(path, [b"old"])
    real_write, written = os.write, []

    def disk_fills_up(fd, data):  # accepts 1000 bytes, then ENOSPC, as a full disk does
        if sum(written) >= 1000:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data)[: 1000 - sum(written)])
        written.append(n)
        return n

    monkeypatch.setattr(os, "write", disk_fills_up)
    with pytest.raises(OSError) as info:
        atomic_write(path, [bytes(600), bytes(600)])
    monkeypatch.undo()
    _assert_one_line_and_intact(info, path, b"old")


def test_a_save_removes_private_temp_directories_left_by_killed_saves(tmp_path):
    import time

    path = tmp_path / "c.safetensors"
    stale, fresh = tmp_path / "c.safetensors.0123abcd.tmp", tmp_path / "c.safetensors.4567cdef.tmp"
    for d in (stale, fresh):
        d.mkdir()
        (d / ".tmpAbC123").write_bytes(b"half of what the safetensors package was writing")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    cr.save({"w": cr.ones(2)}, path)
    assert not stale.exists() and fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors", fresh.name]


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    from chainrule import cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "save: no space left on the device for x")

    monkeypatch.setattr(cli, "make_parser", lambda: _Parser(full))
    assert cli.main([]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


class _Parser:
    def __init__(self, handler):
        self.handler = handler

    def parse_args(self, argv):
        return type("Args", (), {"handler": staticmethod(self.handler)})


# A checkpoint written by chainrule's own safetensors writer before the safetensors package wrote them
# (596 bytes: model.w float32 (2, 3), model.b int64, a bool and a float16 array, step 3, lr 0.01, name "x").
OLD_FILE = (
    "IAIAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJjaGFpbnJ1bGUudHJlZSI6IntcIl9fZGljdF9fXCI6IFtbXCJtb2RlbFwiLCB7XCJfX2RpY3Rf"
    "X1wiOiBbW1wid1wiLCB7XCJfX3RlbnNvcl9fXCI6IFwibW9kZWwud1wifV0sIFtcImJcIiwge1wiX190ZW5zb3JfX1wiOiBcIm1vZGVsLmJc"
    "In1dXX1dLCBbXCJmbGFnXCIsIHtcIl9fbmRhcnJheV9fXCI6IFwiZmxhZ1wifV0sIFtcImhhbGZcIiwge1wiX19uZGFycmF5X19cIjogXCJo"
    "YWxmXCJ9XSwgW1wic3RlcFwiLCAzXSwgW1wibHJcIiwgMC4wMV0sIFtcIm5hbWVcIiwgXCJ4XCJdXX0ifSwibW9kZWwudyI6eyJkdHlwZSI6"
    "IkYzMiIsInNoYXBlIjpbMiwzXSwiZGF0YV9vZmZzZXRzIjpbMCwyNF19LCJtb2RlbC5iIjp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOlsyXSwi"
    "ZGF0YV9vZmZzZXRzIjpbMjQsNDBdfSwiZmxhZyI6eyJkdHlwZSI6IkJPT0wiLCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOls0MCw0Ml19"
    "LCJoYWxmIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOlsxXSwiZGF0YV9vZmZzZXRzIjpbNDIsNDRdfX0gICAgICAgAAAAAAAAgD8AAABAAABA"
    "QAAAgEAAAKBA//////////8CAAAAAAAAAAEAAD4="
)


def test_a_checkpoint_written_by_the_old_writer_still_loads(tmp_path):
    path = tmp_path / "old.safetensors"
    path.write_bytes(base64.b64decode(OLD_FILE))
    back = cr.load(path)
    assert back["model"]["w"].dtype == np.float32 and back["model"]["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["model"]["b"].tolist() == [-1, 2] and back["flag"].tolist() == [True, False]
    assert back["half"].dtype == np.float16 and back["half"].tolist() == [1.5]
    assert (back["step"], back["lr"], back["name"]) == (3, 0.01, "x")
    cr.save(back, tmp_path / "new.safetensors")  # and the package's writer reproduces the same contents
    again = cr.load(tmp_path / "new.safetensors")
    assert again["model"]["w"].tolist() == back["model"]["w"].tolist() and again["half"].tolist() == [1.5]


def _raw(header, data=b""):
    import json

    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


@pytest.mark.parametrize(
    "blob, says",
    [
        (_raw({"a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, bytes(8)), "dtype 'BF16'"),
        (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)), "invalid offset"),
        (_raw({"a": {"dtype": "F32", "shape": [2**62, 8], "data_offsets": [0, 8]}}, bytes(8)), "overflow"),
        (_raw({"__metadata__": {"k": [1]}}), "invalid JSON in header"),
    ],
)
def test_what_the_safetensors_parser_refuses_is_our_clear_error(tmp_path, blob, says):
    path = tmp_path / "p.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError) as info:
        cr.load(path)
    assert f"load: {path} is not a valid safetensors file" in str(info.value) and says in str(info.value)
