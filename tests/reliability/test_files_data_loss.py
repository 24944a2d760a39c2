"""Files and runs never lose or change data silently (issue 12, "silent data loss or wrong data").

Where PyTorch has the behaviour (torch.save of any dict key) the test asks torch; otherwise the test
checks that the data survive intact or that the refusal is clean and names the problem.
"""

import json
import math
import re
import struct

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import data, nn
from chainrule.io import write_safetensors
from chainrule.train import fit, load_checkpoint

ROWS = [("5.1", "3.5", "setosa"), ("4.9", "3.0", "setosa"), ("6.2", "2.9", "virginica")]


def _write_csv(path, lines, bom=False):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "\n".join(lines).encode() + b"\n")
    return path


# ----- readers -----


def test_headerless_csv_with_string_labels_keeps_its_first_row(tmp_path):
    path = _write_csv(tmp_path / "iris.csv", [",".join(r) for r in ROWS])
    x, y = data.read_csv(path)
    np.testing.assert_array_equal(x, np.array([r[:2] for r in ROWS], dtype=np.float32))
    assert y.tolist() == [0, 0, 1]


@pytest.mark.parametrize("with_header", [False, True])
@pytest.mark.parametrize("labels", ["names", "ints"])
def test_a_bom_does_not_cost_the_first_row(tmp_path, with_header, labels):
    rows = ROWS if labels == "names" else [(a, b, str(i % 2)) for i, (a, b, _) in enumerate(ROWS)]
    lines = ([",".join(("f1", "f2", "label"))] if with_header else []) + [",".join(r) for r in rows]
    x, y = data.read_csv(_write_csv(tmp_path / "bom.csv", lines, bom=True))
    plain = data.read_csv(_write_csv(tmp_path / "plain.csv", lines))
    assert len(x) == len(rows)
    np.testing.assert_array_equal(x, plain[0])
    np.testing.assert_array_equal(y, plain[1])


def test_a_bom_file_keeps_its_first_column_name(tmp_path):
    path = _write_csv(tmp_path / "bom.csv", ["label,f1", "1,0.5", "0,0.25"], bom=True)
    x, y = data.read_csv(path, label="label")
    assert y.tolist() == [1, 0] and x.ravel().tolist() == [0.5, 0.25]


def test_header_with_numeric_labels_below_is_still_a_header(tmp_path):
    # Only the label cell of the first row is text: a header naming the label column.
    path = _write_csv(tmp_path / "h.csv", ["1,2,target", "0.5,0.25,1", "0.75,0.125,0"])
    x, y = data.read_csv(path)
    assert y.tolist() == [1, 0] and len(x) == 2


def _npz(tmp_path, y):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((len(y), 2)), y_train=y, x_test=np.zeros((1, 2)), y_test=np.zeros(1))
    return path


def test_npz_float_labels_are_refused_not_truncated(tmp_path):
    with pytest.raises(ValueError, match=r"y_train hold 0\.7 at index 1, which is not a whole number"):
        data.load(_npz(tmp_path, np.array([0.0, 0.7, 2.0])))
    with pytest.raises(ValueError, match="nan"):
        data.load(_npz(tmp_path, np.array([0.0, np.nan])))


def test_npz_whole_float_labels_become_classes(tmp_path):
    splits = data.load(_npz(tmp_path, np.array([0.0, 1.0, 2.0])))
    assert splits.y_train.dtype == np.int64 and splits.y_train.tolist() == [0, 1, 2]


def _idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_idx_float_labels_are_refused_not_truncated(tmp_path):
    images = np.zeros((2, 2, 2), dtype=np.uint8)
    for part in ("train", "t10k"):
        _idx(tmp_path / f"{part}-images-idx3-ubyte", images, 0x08)
        _idx(tmp_path / f"{part}-labels-idx1-ubyte", np.array([1.0, 2.5], dtype=np.float32), 0x0D)
    with pytest.raises(ValueError, match=r"train labels hold 2\.5 at index 1"):
        data.mnist(tmp_path)


# ----- checkpoints -----


def test_a_tensor_saved_under_metadata_round_trips_like_torch(tmp_path):
    values = [1.0, 2.0, 3.0]
    torch.save({"__metadata__": torch.tensor(values), "w": torch.tensor([4.0])}, tmp_path / "t.pt")
    expected = torch.load(tmp_path / "t.pt")
    cr.save({"__metadata__": cr.tensor(values), "w": cr.tensor([4.0])}, tmp_path / "c.safetensors")
    got = cr.load(tmp_path / "c.safetensors")
    assert list(got) == list(expected)
    assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in expected.items()}


def test_write_safetensors_refuses_a_tensor_named_metadata(tmp_path):
    path = tmp_path / "raw.safetensors"
    with pytest.raises(ValueError, match="'__metadata__'.*reserves"):
        write_safetensors({"__metadata__": np.ones(2)}, path)
    assert not path.exists()


def _run(tmp_path):
    cr.manual_seed(0)
    model = nn.Linear(2, 2)
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return model, opt, (x, y)


def _corrupt_lr(tmp_path, key, value):
    model, opt, xy = _run(tmp_path)
    fit(model, xy, optimizer=opt, steps=2, batch_size=4, checkpoint_dir=tmp_path, log_every=1)
    path = tmp_path / "checkpoint.safetensors"
    ckpt = cr.load(path)
    ckpt["optimizer"]["param_groups"][0][key] = value
    cr.save(ckpt, path)


@pytest.mark.parametrize("key,value", [("lr", -0.5), ("lr", math.nan), ("lr", math.inf), ("momentum", -1.0)])
def test_a_checkpoint_with_nonsensical_hyperparameters_is_refused_before_anything_changes(tmp_path, key, value):
    _corrupt_lr(tmp_path, key, value)
    model, opt, xy = _run(tmp_path)
    before = [p._data.copy() for p in model.parameters()]
    opt_before = opt.state_dict()
    with pytest.raises(ValueError, match=r"param_groups\[0\].*" + re.escape(repr(value))):
        fit(model, xy, optimizer=opt, steps=4, batch_size=4, checkpoint_dir=tmp_path, resume=True, log_every=1)
    with pytest.raises(ValueError, match=r"param_groups\[0\].*" + re.escape(repr(value))):
        load_checkpoint(tmp_path, model, opt)
    assert all(a.tobytes() == p._data.tobytes() for a, p in zip(before, model.parameters()))
    assert opt.state_dict() == opt_before


# ----- runs (the command line) -----

from chainrule import cli  # noqa: E402

TRAIN = [
    "train",
    "--data",
    "xor",
    "--model",
    "logreg",
    "--batch-size",
    "8",
    "--no-progress",
    "--no-plot",
    "--log-every",
    "2",
]


def _cli_run(tmp_path, *extra):
    out = tmp_path / "run"
    assert cli.main(TRAIN + ["--steps", "2", "--out", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize(
    "flag,value", [("--lr", "0.5"), ("--seed", "1"), ("--optimizer", "sgd"), ("--momentum", "0.9")]
)
def test_a_resume_with_a_conflicting_flag_is_refused_and_changes_nothing(tmp_path, capsys, flag, value):
    out = _cli_run(tmp_path)
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert cli.main(TRAIN + ["--steps", "4", "--out", str(out), "--resume", flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{flag} {value}" in err and "the run has" in err and "drop these flags" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    assert cli.main(["evaluate", str(out)]) == 0


def test_a_resume_without_the_flags_keeps_the_runs_settings_and_records_the_new_length(tmp_path):
    out = _cli_run(tmp_path, "--lr", "0.05", "--optimizer", "sgd", "--momentum", "0.5", "--seed", "2")
    assert cli.main(TRAIN + ["--steps", "4", "--out", str(out), "--resume"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["optimizer"], config["momentum"], config["seed"], config["steps"]) == (
        0.05,
        "sgd",
        0.5,
        2,
        4,
    )
    assert cr.load(out / "checkpoint.safetensors")["optimizer"]["param_groups"][0]["lr"] == 0.05
    # repeating the run's own values is not a conflict
    assert cli.main(TRAIN + ["--steps", "6", "--out", str(out), "--resume", "--lr", "0.05"]) == 0


def test_a_resume_refused_by_the_checkpoint_leaves_config_json_intact(tmp_path, capsys):
    out = _cli_run(tmp_path)
    config = (out / "config.json").read_bytes()
    ckpt = cr.load(out / "checkpoint.safetensors")
    ckpt["optimizer"]["param_groups"][0]["lr"] = -1.0
    cr.save(ckpt, out / "checkpoint.safetensors")
    assert cli.main(TRAIN + ["--steps", "4", "--out", str(out), "--resume"]) == 2
    assert "param_groups[0]" in capsys.readouterr().err
    assert (out / "config.json").read_bytes() == config
