"""chainrule.data: loaders, built-in data sets, and readers that name the file when they refuse it."""

import gzip
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import data


def test_tensor_dataset_and_loader_batches(rng):
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = np.arange(10)
    ds = data.TensorDataset(x, cr.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3]) and yi.item() == 3
    loader = data.DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    assert all(isinstance(b[0], cr.Tensor) and b[0].dtype == np.float32 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    dropped = data.DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]


def test_shuffle_with_seed_is_a_function_of_seed_and_epoch():
    ds = data.TensorDataset(np.arange(20))
    a = data.DataLoader(ds, batch_size=20, shuffle=True, seed=7)
    first, second = [next(iter(a))[0].numpy().tolist() for _ in range(2)]
    assert first != second, "each epoch gets a new order"
    assert sorted(first) == list(range(20))
    b = data.DataLoader(ds, batch_size=20, shuffle=True, seed=7)
    b.set_epoch(1)  # resuming at epoch 1 rebuilds that epoch's order from the seed alone
    assert next(iter(b))[0].numpy().tolist() == second
    c = data.DataLoader(ds, batch_size=20, shuffle=True, seed=8)
    assert next(iter(c))[0].numpy().tolist() != first


def test_shuffle_with_generator_and_global_seed():
    ds = data.TensorDataset(np.arange(50))
    orders = [
        next(iter(data.DataLoader(ds, batch_size=50, shuffle=True, generator=np.random.default_rng(3))))[0].numpy()
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*orders)
    cr.manual_seed(0)
    one = next(iter(data.DataLoader(ds, batch_size=50, shuffle=True)))[0].numpy()
    cr.manual_seed(0)
    two = next(iter(data.DataLoader(ds, batch_size=50, shuffle=True)))[0].numpy()
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, np.arange(50))


def test_custom_dataset_uses_collate():
    class Squares(data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return float(i), {"sq": i * i}

    ((xb, d),) = list(data.DataLoader(Squares(), batch_size=5))
    assert xb.dtype == np.float32 and xb.numpy().tolist() == [0, 1, 2, 3, 4]
    assert d["sq"].numpy().tolist() == [0, 1, 4, 9, 16]


def test_loader_and_dataset_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        data.TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.DataLoader(data.TensorDataset(np.zeros(3)), batch_size=0)


def test_xor_and_digits():
    x, y, xt, yt = data.xor()
    assert x.shape == (4, 2) and y.tolist() == [0, 1, 1, 0]
    d = data.digits()
    assert d.x_train.shape == (1438, 64) and d.x_test.shape == (359, 64)
    assert d.num_classes == 10 and 0 <= d.x_train.min() and d.x_train.max() <= 1
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.digits().y_test, d.y_test)  # the split is seeded
    assert data.digits(flatten=False).x_train.shape == (1438, 8, 8)


def test_mnist1d_is_generated_locally_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    import requests  # the generator's module imports requests; make any use of the network fail loudly

    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("mnist1d() must never download"))
    state = np.random.get_state()[1].copy()
    d = data.mnist1d()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched
    assert (d.x_train.shape, d.x_test.shape, d.y_train.shape) == ((4000, 40), (1000, 40), (4000,))
    assert sorted(np.unique(d.y_train)) == list(range(10))
    cached = tmp_path / "chainrule" / "mnist1d-default-v1.npz"
    assert cached.is_file()
    again = data.mnist1d()
    np.testing.assert_array_equal(again.x_train, d.x_train)
    cached.write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    np.testing.assert_array_equal(data.mnist1d().x_test, d.x_test)


def _idx(array: np.ndarray, code: int) -> bytes:
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_read_idx_plain_gzip_and_mnist_dir(tmp_path, rng):
    images = rng.integers(0, 256, size=(6, 4, 4), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6, dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images, 0x08))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels, 0x08)))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images[:2], 0x08)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(labels[:2], 0x08))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "train-images-idx3-ubyte"), images)
    floats = np.arange(6, dtype=">f4").reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0D))
    assert data.read_idx(tmp_path / "f.idx").tolist() == floats.tolist()
    m = data.mnist(tmp_path, flatten=True)
    assert m.x_train.shape == (6, 16) and m.x_train.dtype == np.float32
    np.testing.assert_allclose(m.x_train, images.reshape(6, 16) / 255.0)
    np.testing.assert_array_equal(m.y_test, labels[:2])
    assert data.load(tmp_path).x_test.shape == (2, 16)


def test_read_idx_refuses_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx.*expected an IDX file"):
        data.read_idx(tmp_path / "nope.idx")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad.idx: not an IDX file"):
        data.read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes(_idx(np.zeros((3, 3), np.uint8), 0x08)[:-2])
    with pytest.raises(ValueError, match=r"short.idx: IDX header says shape \(3, 3\)"):
        data.read_idx(tmp_path / "short.idx")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.mnist(tmp_path)


def test_read_csv(tmp_path):
    (tmp_path / "a.csv").write_text("f1,f2,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
    x, y = data.read_csv(tmp_path / "a.csv")
    assert x.tolist() == [[1, 2], [3, 4], [5, 6]] and y.tolist() == [0, 1, 0]
    (tmp_path / "c.csv").write_text("f1,f2,y\n1,2.5,0\n3,4.5,1\n")
    x, y = data.read_csv(tmp_path / "c.csv", label="f1")
    assert y.tolist() == [1, 3] and x.tolist() == [[2.5, 0], [4.5, 1]] and y.dtype == np.int64
    (tmp_path / "b.csv").write_text("0.5,1\n0.25,0\n")  # no header: guessed
    x, y = data.read_csv(tmp_path / "b.csv")
    assert x.tolist() == [[0.5], [0.25]] and y.tolist() == [1, 0]
    (tmp_path / "ragged.csv").write_text("1,2,0\n3,1\n")
    with pytest.raises(ValueError, match="ragged.csv, line 2: 2 fields, expected 3"):
        data.read_csv(tmp_path / "ragged.csv")
    (tmp_path / "text.csv").write_text("a,b,y\n1,x,0\n")
    with pytest.raises(ValueError, match="text.csv, line 2, column 2: 'x' is not a number"):
        data.read_csv(tmp_path / "text.csv")
    with pytest.raises(ValueError, match="no column named 'z'"):
        data.read_csv(tmp_path / "a.csv", label="z")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        data.read_csv(tmp_path / "missing.csv")
    split = data.load(tmp_path / "a.csv", test_fraction=1 / 3)
    assert len(split.x_train) == 2 and len(split.x_test) == 1


def test_read_npz(tmp_path, rng):
    x = rng.normal(size=(10, 3))
    np.savez(tmp_path / "xy.npz", x=x, y=np.arange(10) % 2)
    d = data.load(tmp_path / "xy.npz")
    assert len(d.x_train) == 8 and d.x_train.dtype == np.float32
    np.savez(tmp_path / "full.npz", x_train=x, y_train=np.zeros(10), x_test=x[:2], y_test=np.ones(2))
    assert data.load(tmp_path / "full.npz").y_test.tolist() == [1, 1]
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="obj.npz: refused.*pickle"):
        data.read_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "keys.npz", a=x)
    with pytest.raises(ValueError, match="keys.npz: expected arrays x_train"):
        data.load(tmp_path / "keys.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        data.read_npz(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        data.load(tmp_path / "nothing.npz")


def test_get_dispatches_names_and_paths():
    assert data.get("xor").y_train.tolist() == [0, 1, 1, 0]
    with pytest.raises(FileNotFoundError, match="built-in name"):
        data.get("no-such-data")
