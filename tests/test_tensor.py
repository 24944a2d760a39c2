"""Tensor: construction and dtype rules, metadata, conversion, repr, operators, indexing, in-place
updates, and the dim/axis spellings."""

import numpy as np
import pytest

import chainrule as cr


def test_dtype_rules_follow_pytorch():
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor(np.array([1.0], dtype=np.float64)).dtype == cr.float64
    assert cr.tensor(np.array([1], dtype=np.int32)).dtype == cr.int32
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64
    assert cr.zeros(2, 3).dtype == cr.float32 and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.arange(5).dtype == cr.int64 and cr.arange(0.0, 1.0, 0.25).dtype == cr.float32


def test_set_default_dtype():
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype == cr.float64 and cr.randn(2).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    with pytest.raises(TypeError):
        cr.set_default_dtype(cr.int64)


def test_constructors():
    assert cr.ones(2, 2).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert cr.full((2,), 7).dtype == cr.int64 and cr.full((2,), 0.5).tolist() == [0.5, 0.5]
    assert cr.eye(3).numpy().trace() == 3
    np.testing.assert_allclose(cr.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    x = cr.randn(3, 4, dtype=cr.float64)
    assert cr.zeros_like(x).dtype == cr.float64 and cr.ones_like(x).shape == (3, 4)
    assert cr.full_like(x, 2.0).numpy().sum() == 24
    assert cr.rand_like(x).shape == x.shape and cr.randn_like(x).dtype == cr.float64
    assert cr.tensor(3.0, requires_grad=True, name="w").name == "w"


def test_manual_seed_reproduces_random_tensors():
    cr.manual_seed(0)
    a = cr.randn(5)
    cr.manual_seed(0)
    b = cr.randn(5)
    assert np.array_equal(a.numpy(), b.numpy())
    assert ((cr.rand(1000).numpy() >= 0) & (cr.rand(1000).numpy() < 1)).all()


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3)
    shared, copied = cr.from_numpy(a), cr.tensor(a)
    a[0] = 5
    assert shared.numpy()[0] == 5 and copied.numpy()[0] == 0


def test_metadata_and_conversion():
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and x.numel() == 6 and x.size(1) == 3
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert x[1, 2].item() == 6.0 and isinstance(x.sum().item(), float)
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert len(x) == 2 and [r.tolist() for r in x] == x.tolist()
    assert float(x[0, 0]) == 1.0 and int(x[1, 1]) == 5
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    with pytest.raises(RuntimeError, match="detach"):
        cr.tensor([1.0], requires_grad=True).numpy()
    assert np.asarray(x).shape == (2, 3)


def test_repr_looks_like_pytorch():
    assert repr(cr.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    x = cr.tensor([1.5, 2.25], requires_grad=True)
    assert repr(x) == "tensor([1.5000, 2.2500], requires_grad=True)"
    assert repr(x * 2) == "tensor([3.0000, 4.5000], grad_fn=<MulBackward>)"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=chainrule.float64" in repr(cr.tensor([1.0], dtype=cr.float64))


def test_operators_with_numbers_and_arrays_on_either_side():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (
        2 + x,
        x + 2,
        2 * x,
        x * 2,
        2 - x,
        x - 2,
        2 / x,
        x / 2,
        2**x,
        x**2,
        -x,
        abs(-x),
        np.array([1.0, 1.0]) * x,
        np.array([1.0, 1.0]) + x,
    ):
        assert isinstance(y, cr.Tensor) and y.requires_grad
    assert (x @ cr.tensor([1.0, 1.0])).item() == 3.0
    assert isinstance(np.array([1.0, 2.0]) @ x, cr.Tensor)
    assert ((x > 1.5).tolist(), (x == 1.0).tolist()) == ([False, True], [True, False])
    assert (x > 1.5).grad_fn is None
    assert cr.tensor([5, 7]) // 2 is not None and (cr.tensor([5, 7]) % 2).tolist() == [1, 1]
    assert (~cr.tensor([True, False])).tolist() == [False, True]


def test_float32_stays_float32_with_python_scalars():
    x = cr.tensor([1.0, 2.0])
    for y in (x * 2.5, x + 1, x / 3, x**2, 1 - x, x.exp() * 0.1, x.mean(), x.std(), x.norm()):
        assert y.dtype == cr.float32


def test_dim_and_axis_spellings_agree():
    x = cr.tensor(np.arange(24.0).reshape(2, 3, 4))
    for name in ("sum", "mean", "amax", "amin", "logsumexp", "var", "std", "prod"):
        fn = getattr(cr, name)
        a = fn(x, dim=1, keepdim=True)
        b = fn(x, axis=1, keepdims=True)
        assert np.array_equal(a.numpy(), b.numpy()) and a.shape == (2, 1, 4)
    with pytest.raises(TypeError, match="not both"):
        x.sum(dim=0, axis=0)
    assert x.max(dim=2).indices.tolist() == [[3, 3, 3], [3, 3, 3]]
    assert x.argmax().item() == 23 and x.argmin(dim=0).shape == (3, 4)


def test_shape_methods():
    x = cr.arange(24.0).reshape(2, 3, 4)
    assert x.view(6, 4).shape == (6, 4) and x.reshape(-1).shape == (24,)
    assert x.flatten(1).shape == (2, 12) and x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.unsqueeze(0).shape == (1, 2, 3, 4)
    assert x[:, :1].squeeze(1).shape == (2, 4) and x.sum(0, keepdim=True).expand(5, 3, 4).shape == (5, 3, 4)
    assert [p.shape for p in x.split(1, dim=0)] == [(1, 3, 4), (1, 3, 4)]
    assert [p.shape for p in x.chunk(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert cr.cat([x, x], dim=1).shape == (2, 6, 4) and cr.stack([x, x]).shape == (2, 2, 3, 4)
    with pytest.raises(RuntimeError, match="same number of elements"):
        x.reshape(5, 5)
    with pytest.raises(RuntimeError, match="cat: tensor 1 has shape"):
        cr.cat([x, cr.zeros(2, 2, 2)], dim=1)


def test_matmul_shape_error_names_the_fix():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(2, 3\).*Transpose"):
        cr.ones(2, 3) @ cr.ones(2, 3)


def test_indexing_and_setitem():
    x = cr.arange(12.0).reshape(3, 4)
    assert x[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x[cr.tensor([0, 2])].shape == (2, 4)
    assert x[x > 9].tolist() == [10.0, 11.0]
    x[0, 0] = 100.0
    assert x[0, 0].item() == 100.0 and x._version == 1
    with pytest.raises(IndexError, match="integer or boolean"):
        x[cr.tensor([0.5])]


def test_in_place_ops_and_versions():
    x = cr.zeros(3)
    x.add_(1).mul_(4).sub_(1).div_(3)
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version == 4
    x += 1
    assert x.tolist() == [2.0, 2.0, 2.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.fill_(3)
    x.clamp_(max=2)
    assert x.tolist() == [2.0, 2.0, 2.0]
    x.copy_(cr.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_to_and_casts():
    x = cr.tensor([1.5, 2.5])
    assert x.double().dtype == cr.float64 and x.long().tolist() == [1, 2]
    assert x.to(cr.float64).dtype == cr.float64 and x.to("cpu") is x
    assert x.bool().dtype == cr.bool and x.half().dtype == cr.float16
    y = cr.tensor([1.0], requires_grad=True)
    y.double().sum().backward()
    assert y.grad.dtype == cr.float32


def test_bool_of_multi_element_tensor_is_ambiguous():
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(cr.tensor([1.0, 2.0]))
    assert bool(cr.tensor([1.0]))


def test_ragged_data_is_refused():
    with pytest.raises((TypeError, ValueError)):
        cr.tensor([[1.0, 2.0], [3.0]])


def test_tensor_of_tensors():
    assert cr.tensor([cr.tensor(1.0), cr.tensor(2.0)]).tolist() == [1.0, 2.0]
