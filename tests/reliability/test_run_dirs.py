"""Run directories and ambiguous CSV headers (issue 12, the known gaps): a finished run is never overwritten
by accident, a resumed run's --data is compared by file, and a numeric first row is never dropped silently."""

import json
import os
import warnings

import numpy as np
import pytest

from chainrule import cli, data, nn, optim
from chainrule.train import CHECKPOINT, fit

XOR = ["--data", "xor", "--model", "logreg", "--batch-size", "8", "--no-progress", "--no-plot", "--log-every", "2"]


def _train(out, *extra):
    return cli.main(["train", *XOR, "--steps", "2", "--out", str(out), *extra])


def test_training_into_an_existing_run_is_refused_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out) == 0
    before = {name: (out / name).read_bytes() for name in ("config.json", CHECKPOINT)}
    capsys.readouterr()
    assert _train(out, "--lr", "0.5") == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err and "--out" in err
    assert {name: (out / name).read_bytes() for name in before} == before


def test_overwrite_starts_a_new_run_in_the_directory(tmp_path):
    out = tmp_path / "run"
    assert _train(out) == 0
    assert _train(out, "--lr", "0.5", "--overwrite") == 0
    assert json.loads((out / "config.json").read_text())["lr"] == 0.5


def test_a_directory_with_only_a_config_is_refused_too(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert _train(out) == 2
    assert "config.json" in capsys.readouterr().err
    assert (out / "config.json").read_text() == "{}"


def test_fit_refuses_a_checkpoint_dir_holding_a_run_unless_resume_or_overwrite(tmp_path):
    x = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def run(**kwargs):
        model = nn.Linear(2, 2)
        return fit(model, (x, y), optimizer=optim.SGD(model.parameters(), lr=0.1), steps=2, batch_size=8,
                   print_fn=None, checkpoint_dir=tmp_path, **kwargs)  # fmt: skip

    run()
    saved = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(FileExistsError, match="already holds a run's checkpoint.*resume=True.*overwrite=True"):
        run()
    assert (tmp_path / CHECKPOINT).read_bytes() == saved
    run(resume=True)
    run(overwrite=True)


def test_resume_compares_data_by_file_not_by_string(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    rng = np.random.default_rng(0)
    csv.write_text("a,b,y\n" + "".join(f"{u:.3f},{v:.3f},{int(u > 0)}\n" for u, v in rng.normal(size=(32, 2))))
    out = tmp_path / "run"
    train = ["train", "--model", "logreg", "--batch-size", "8", "--no-progress", "--no-plot", "--out", str(out)]
    assert cli.main([*train, "--data", str(csv), "--steps", "2"]) == 0
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        # the same file by a relative path, and through a link: the run's data, so the resume goes on
        assert cli.main([*train, "--data", "./d.csv", "--steps", "3", "--resume"]) == 0
        (tmp_path / "link.csv").symlink_to(csv)
        assert cli.main([*train, "--data", "link.csv", "--steps", "4", "--resume"]) == 0
        other = tmp_path / "other.csv"
        other.write_bytes(csv.read_bytes())  # equal contents, another file: another data set
        capsys.readouterr()
        assert cli.main([*train, "--data", str(other), "--steps", "5", "--resume"]) == 2
        assert "--data" in capsys.readouterr().err
    finally:
        os.chdir(cwd)


# ----- a CSV whose first row is all numbers -----


def _csv(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "0,1,2\n0.5,1.5,0\n0.25,2.5,1\n",  # DataFrame.to_csv's column numbers
        "1,2,3\n0.5,1.5,0\n0.25,2.5,1\n",  # 1..n
        "10,20,0\n0.5,1.5,0\n0.25,2.5,1\n",  # whole numbers above decimal features (csv.Sniffer's test)
    ],
)
def test_a_numeric_first_row_that_looks_like_a_header_is_kept_with_a_warning(tmp_path, text):
    path = _csv(tmp_path, text)
    with pytest.warns(data.readers.CSVHeaderWarning, match=r"f\.csv: the first row .* header=True"):
        x, _ = data.read_csv(path)
    assert len(x) == 3  # kept as data, as numpy.loadtxt
    assert len(data.read_csv(path, header=True)[0]) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(data.read_csv(path, header=False)[0]) == 3


@pytest.mark.parametrize("text", ["1,2,0\n3,4,1\n5,6,0\n", "0.5,1.5,0\n0.25,2.5,1\n", "a,b,y\n1,2,0\n"])
def test_ordinary_files_give_no_warning(tmp_path, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.read_csv(_csv(tmp_path, text))
