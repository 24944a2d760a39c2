"""The PyTorch API that real scripts use, checked against torch itself (CPU build in the venv).

Devices and the accelerator queries, .to() in all its forms, Variable, t()/t_(), new_*,
.grad assignment, out= and torch's keyword names on the module-level functions (a fuzzer),
legacy loss arguments, chainrule.utils.data and random_split, lazy submodules.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn

# ----- devices -----

DEVICE_SPECS = [("cpu",), ("cpu:0",), ("cpu", 0), ("cpu", 1), ("cuda",), ("cuda:1",), ("mps",), ("meta",)]


def test_device_objects_match_torch():
    ours = [cr.device(*spec) for spec in DEVICE_SPECS]
    theirs = [torch.device(*spec) for spec in DEVICE_SPECS]
    for d, t in zip(ours, theirs):
        assert (str(d), repr(d), d.type, d.index) == (str(t), repr(t), t.type, t.index)
        assert cr.device(d) == d and hash(cr.device(str(d))) == hash(d)
    for d1, t1 in zip(ours, theirs):
        for d2, t2 in zip(ours, theirs):
            assert (d1 == d2) == (t1 == t2), (d1, d2)
    assert (cr.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")


@pytest.mark.parametrize("text", ["gpu", "cuda:x", "cpu:-1", "cpu:0:1"])
def test_bad_device_strings_raise_as_torch(text):
    with pytest.raises(RuntimeError):
        torch.device(text)
    with pytest.raises(RuntimeError):
        cr.device(text)


def test_tensor_device_and_queries():
    x, tx = cr.zeros(2), torch.zeros(2)
    assert x.device == cr.device("cpu") and str(x.device) == str(tx.device)
    assert isinstance(x.device, cr.device)
    assert (x.is_cuda, x.is_cpu, x.get_device()) == (tx.is_cuda, tx.is_cpu, tx.get_device())
    assert str(cr.get_default_device()) == str(torch.get_default_device())
    cr.set_default_device("cpu")
    assert cr.get_default_device() == cr.device("cpu")
    cr.set_default_device(None)
    with pytest.raises(RuntimeError, match="CPU with NumPy"):
        cr.set_default_device("cuda")
    with torch.device("cpu"), cr.device("cpu"):
        assert cr.zeros(1).device == cr.device("cpu") and str(torch.get_default_device()) == "cpu"
    with pytest.raises(RuntimeError, match="CPU with NumPy"):
        with cr.device("cuda"):
            pass
    assert cr.get_default_device() == cr.device("cpu")
    from chainrule import _device

    assert _device._local.previous == ()


def test_accelerator_answers_match_torch_cpu_build():
    assert cr.cuda.is_available() == torch.cuda.is_available() is False
    assert cr.cuda.device_count() == torch.cuda.device_count() == 0
    assert cr.cuda.is_initialized() == torch.cuda.is_initialized()
    cr.cuda.manual_seed(0), cr.cuda.manual_seed_all(0), cr.cuda.empty_cache()  # accepted, as torch's
    assert cr.backends.mps.is_available() == torch.backends.mps.is_available() is False
    assert cr.backends.mps.is_built() == torch.backends.mps.is_built()
    assert cr.backends.cudnn.deterministic == torch.backends.cudnn.deterministic
    assert cr.accelerator.is_available() == torch.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert cr.accelerator.device_count() == torch.accelerator.device_count()
    with pytest.raises(RuntimeError, match="NVIDIA GPU with CUDA"):
        cr.cuda.current_device()


CONSTRUCTORS = [
    ("tensor", lambda m, d: m.tensor([[1.0, 2.0], [3.0, 4.0]], device=d)),
    ("as_tensor", lambda m, d: m.as_tensor([1, 2], device=d)),
    ("zeros", lambda m, d: m.zeros(2, 3, device=d)),
    ("ones", lambda m, d: m.ones((2,), device=d)),
    ("full", lambda m, d: m.full((2, 2), 7, device=d)),
    ("empty", lambda m, d: m.empty(2, 3, device=d).zero_()),
    ("arange", lambda m, d: m.arange(1, 7, 2, device=d)),
    ("linspace", lambda m, d: m.linspace(0, 1, 5, device=d)),
    ("eye", lambda m, d: m.eye(3, 2, device=d)),
    ("rand", lambda m, d: m.rand(2, 3, device=d).shape),
    ("randn", lambda m, d: m.randn(4, device=d).shape),
    ("randint", lambda m, d: m.randint(0, 5, (3,), device=d).zero_()),
    (
        "randperm",
        lambda m, d: (
            m.randperm(6, device=d).sort()[0] if m is torch else m.tensor(np.sort(m.randperm(6, device=d).numpy()))
        ),
    ),
    ("zeros_like", lambda m, d: m.zeros_like(m.ones(2, 2), device=d)),
    ("ones_like", lambda m, d: m.ones_like(m.ones(2, dtype=m.float64), device=d)),
    ("full_like", lambda m, d: m.full_like(m.ones(2, dtype=m.int64), 3, device=d)),
    ("empty_like", lambda m, d: m.empty_like(m.ones(3), device=d).zero_()),
    ("rand_like", lambda m, d: m.rand_like(m.ones(3), device=d).shape),
    ("randn_like", lambda m, d: m.randn_like(m.ones(3), device=d).shape),
]


@pytest.mark.parametrize("name,make", CONSTRUCTORS, ids=[c[0] for c in CONSTRUCTORS])
def test_constructors_take_device(name, make):
    for dev in ("cpu", "cpu:0"):
        ours, theirs = make(cr, cr.device(dev) if dev == "cpu" else dev), make(torch, dev)
        if isinstance(theirs, torch.Tensor):
            assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        else:
            assert tuple(ours) == tuple(theirs)
    for gpu in ("cuda", "cuda:0", cr.device("mps")):
        with pytest.raises(RuntimeError, match=f"{name}: device '{gpu}'.*CPU with NumPy"):
            make(cr, gpu)


def test_layers_take_device_and_dtype_kwargs():
    for make in (
        lambda m: m.nn.Linear(2, 3, device="cpu", dtype=m.float64),
        lambda m: m.nn.Conv1d(2, 3, 3, device="cpu", dtype=m.float64),
        lambda m: m.nn.Embedding(4, 3, device="cpu", dtype=m.float64),
        lambda m: m.nn.LayerNorm(3, device="cpu", dtype=m.float64),
        lambda m: m.nn.BatchNorm1d(3, device="cpu", dtype=m.float64),
        lambda m: m.nn.GRU(3, 4, device="cpu", dtype=m.float64),
    ):
        ours, theirs = make(cr), make(torch)
        assert [(k, v.dtype.name) for k, v in ours.state_dict().items()] == [
            (k, str(v.dtype).replace("torch.", "")) for k, v in theirs.state_dict().items()
        ]
    with pytest.raises(RuntimeError, match="Linear: device 'cuda'"):
        nn.Linear(2, 3, device="cuda")


# ----- .to() and friends -----

TO_CALLS = [
    lambda m, x: x.to("cpu"),
    lambda m, x: x.to(m.device("cpu")),
    lambda m, x: x.to(m.float32),
    lambda m, x: x.to(m.float64),
    lambda m, x: x.to("cpu", m.float64),
    lambda m, x: x.to(m.device("cpu"), m.int32),
    lambda m, x: x.to(dtype=m.float64, device="cpu"),
    lambda m, x: x.to(device="cpu"),
    lambda m, x: x.to(m.zeros(1, dtype=m.int32)),
    lambda m, x: x.to(m.zeros(1)),
    lambda m, x: x.to(m.float32, copy=True),
    lambda m, x: x.to("cpu", copy=True),
    lambda m, x: x.cpu(),
]


@pytest.mark.parametrize("call", range(len(TO_CALLS)))
def test_to_matches_torch(call):
    x, tx = cr.tensor([[1.5, -2.0]]), torch.tensor([[1.5, -2.0]])
    y, ty = TO_CALLS[call](cr, x), TO_CALLS[call](torch, tx)
    assert (y is x) == (ty is tx)
    assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    assert y.device == cr.device(str(ty.device))


def test_to_keeps_the_graph_and_gpu_requests_raise():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.to("cpu", cr.float64).sum().backward()
    assert x.grad.dtype == np.float32
    for call in (
        lambda: x.to("cuda"),
        lambda: x.to("mps", cr.float64),
        lambda: x.to(device="cuda:0"),
        lambda: x.cuda(),
        lambda: x.to(0),
    ):
        with pytest.raises(RuntimeError, match="CPU with NumPy"):
            call()


def test_module_to_matches_torch():
    model, tmodel = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    for call in (
        lambda m, mod: mod.to("cpu"),
        lambda m, mod: mod.to(m.device("cpu"), m.float64),
        lambda m, mod: mod.to(dtype=m.float32),
        lambda m, mod: mod.to(m.zeros(1, dtype=m.float64)),
        lambda m, mod: mod.cpu(),
    ):
        ours, theirs = call(cr, model), call(torch, tmodel)
        assert ours is model and theirs is tmodel
        assert model.weight.dtype.name == str(tmodel.weight.dtype).replace("torch.", "")
    with pytest.raises(TypeError):
        tmodel.to(torch.int64)
    with pytest.raises(TypeError, match="floating point"):
        model.to(cr.int64)
    with pytest.raises(RuntimeError, match="Linear.cuda"):
        model.cuda()


# ----- Variable, t(), new_* -----


def test_variable_is_a_tensor_like_torch():
    from torch.autograd import Variable as TVariable

    from chainrule.autograd import Variable

    for rg in (False, True):
        x, tx = cr.ones(2), torch.ones(2)
        v, tv = Variable(x, requires_grad=rg), TVariable(tx, requires_grad=rg)
        assert (v is x, v.requires_grad, x.requires_grad) == (tv is tx, tv.requires_grad, tx.requires_grad)
        assert isinstance(v, cr.Tensor) and isinstance(x, Variable) and isinstance(tx, TVariable)
    y, ty = cr.ones(2, requires_grad=True) * 2, torch.ones(2, requires_grad=True) * 2
    v, tv = Variable(y), TVariable(ty)
    assert (v.grad_fn is None, v.requires_grad) == (tv.grad_fn is None, tv.requires_grad)
    v._data[0] = 5.0
    assert y._data[0] == 5.0  # shares storage, as torch's
    with pytest.raises(TypeError):
        TVariable([1.0])
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable([1.0])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_t_matches_torch(shape):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    if len(shape) > 2:
        with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
            tx.t()
        with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
            x.t()
        return
    y, ty = x.t(), tx.t()
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    w = np.arange(float(np.prod(ty.shape))).reshape(ty.shape) + 1
    (y * cr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_t_in_place_matches_torch():
    a = np.arange(6.0).reshape(2, 3)
    x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = x * 2, tx * 2
    assert y.t_() is y and ty.t_() is ty
    assert y.shape == tuple(ty.shape)
    w = np.arange(6.0).reshape(3, 2)
    (y * cr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(RuntimeError):
        tx.t_()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.t_()
    plain, tplain = cr.zeros(2, 3), torch.zeros(2, 3)
    assert plain.t_().shape == tuple(tplain.t_().shape)

    @cr.jit
    def traced(a):
        b = a * 2
        b.t_()
        return b.sum(0)

    with pytest.raises(cr.TraceError, match="t_"):  # a replay could not repeat the shape change
        traced(cr.ones(2, 3))


NEW_CALLS = [
    lambda m, x: x.new_ones(2, 3),
    lambda m, x: x.new_ones((2,), dtype=m.int32),
    lambda m, x: x.new_zeros((2, 2)),
    lambda m, x: x.new_full((3,), 1.5),
    lambda m, x: x.new_full((2,), 2, dtype=m.float32),
    lambda m, x: x.new_tensor([1, 2]),
    lambda m, x: x.new_tensor([1.5, 2.5]),
    lambda m, x: x.new_empty((2, 3)).zero_(),
    lambda m, x: x.new_ones(
        2, device="cpu", requires_grad=x.dtype.is_floating_point if m is torch else x.dtype.kind == "f"
    ),
]


@pytest.mark.parametrize("source", ["float64", "int64", "float32"])
@pytest.mark.parametrize("call", range(len(NEW_CALLS)))
def test_new_constructors_match_torch(call, source):
    x, tx = cr.zeros(1, dtype=getattr(cr, source)), torch.zeros(1, dtype=getattr(torch, source))
    y, ty = NEW_CALLS[call](cr, x), NEW_CALLS[call](torch, tx)
    assert y.dtype == np.dtype(str(ty.dtype).replace("torch.", ""))
    assert y.requires_grad == ty.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())


# ----- .grad assignment -----

GRAD_VALUES = [
    lambda m: None,
    lambda m: m.ones(2, 3),
    lambda m: np.zeros((2, 3), dtype=np.float32),
    lambda m: 1.0,
    lambda m: m.ones(3),
    lambda m: m.ones(2, 3, dtype=m.float64),
    lambda m: m.ones(2, 3, dtype=m.int64),
]


@pytest.mark.parametrize("value", range(len(GRAD_VALUES)))
def test_grad_assignment_checked_as_torch(value):
    x, tx = cr.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    try:
        tx.grad = GRAD_VALUES[value](torch)
        expected = None
    except (TypeError, RuntimeError) as e:
        expected = type(e)
    if expected is None:
        x.grad = GRAD_VALUES[value](cr)
        assert (x.grad is None) == (tx.grad is None)
    else:
        with pytest.raises(expected, match="grad"):
            x.grad = GRAD_VALUES[value](cr)
        assert x.grad is None


def test_integer_tensor_grad_assignment_as_torch():
    i, ti = cr.zeros(2, dtype=cr.int64), torch.zeros(2, dtype=torch.int64)
    ti.grad = torch.zeros(2, dtype=torch.int64)
    i.grad = cr.zeros(2, dtype=cr.int64)
    assert i.grad is not None


# ----- out= and torch's keyword names (a fuzzer over functions, shapes and out dtypes) -----

# name, arity, extra kwargs, whether the inputs may be negative
OUT_FUNCTIONS = [
    ("add", 2, dict(alpha=2)),
    ("sub", 2, {}),
    ("mul", 2, {}),
    ("div", 2, {}),
    ("maximum", 2, {}),
    ("minimum", 2, {}),
    ("pow", 2, {}),
    ("eq", 2, {}),
    ("lt", 2, {}),
    ("logical_and", 2, {}),
    ("exp", 1, {}),
    ("log", 1, {}),
    ("sqrt", 1, {}),
    ("tanh", 1, {}),
    ("sigmoid", 1, {}),
    ("neg", 1, {}),
    ("abs", 1, {}),
    ("floor", 1, {}),
    ("clamp", 1, dict(min=0.2, max=0.7)),
    ("logical_not", 1, {}),
    ("sum", 1, dict(dim=1)),
    ("mean", 1, dict(dim=0, keepdim=True)),
    ("prod", 1, dict(dim=1)),
    ("amax", 1, dict(dim=1)),
    ("logsumexp", 1, dict(dim=1)),
    ("std", 1, dict(dim=1)),
    ("argmax", 1, dict(dim=1)),
    ("matmul", "mat", {}),
    ("mm", "mat", {}),
    ("cat", "seq", dict(dim=0)),
    ("stack", "seq", dict(dim=1)),
    ("where", "where", {}),
    ("ceil", 1, {}),
    ("round", 1, {}),
    ("square", 1, {}),
    ("log1p", 1, {}),
    ("ge", 2, {}),
    ("logical_or", 2, {}),
    ("var", 1, dict(dim=0)),
    ("amin", 1, dict(dim=0)),
    ("argmin", 1, dict(dim=0)),
    ("all", 1, dict(dim=1)),
    ("any", 1, dict(dim=0)),
    ("outer", "vec", {}),
    ("dot", "vec", {}),
    ("concatenate", "seq", dict(dim=1)),
]
OUT_DTYPES = ["float32", "float64", "float16", "int64", "bool"]
_fuzz_cases = {"run": 0, "mismatches": 0}


def _args(module, arity, a, b):
    t = module.tensor
    if arity == "vec":
        return (t(a[0]), t(b[0]))
    if arity == "mat":
        return (t(a), t(b.T))
    if arity == "seq":
        return ([t(a), t(b)],)
    if arity == "where":
        return (t(a > 0.5), t(a), t(b))
    return (t(a), t(b))[:arity]


def _call(module, name, args, kwargs, out):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = getattr(module, name)(*args, **kwargs, **({} if out is None else {"out": out}))
        return "ok", result, bool(caught)
    except (RuntimeError, TypeError) as e:
        return type(e).__name__, str(e), 0


@settings(deadline=None, max_examples=400)
@given(
    st.sampled_from(OUT_FUNCTIONS),
    st.sampled_from(OUT_DTYPES),
    st.sampled_from(["same", "empty", "wrong"]),
    st.integers(0, 2**31 - 1),
)
def test_out_matches_torch(function, out_dtype, out_shape, seed):
    name, arity, kwargs = function
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.1, 1.0, (2, 3)).astype(np.float32), rng.uniform(0.1, 1.0, (2, 3)).astype(np.float32)
    expected = getattr(torch, name)(*_args(torch, arity, a, b), **kwargs)
    shape = {"same": tuple(expected.shape), "empty": (0,), "wrong": (7,)}[out_shape]
    out, tout = cr.zeros(shape, dtype=getattr(cr, out_dtype)), torch.zeros(shape, dtype=getattr(torch, out_dtype))
    ours = _call(cr, name, _args(cr, arity, a, b), kwargs, out)
    theirs = _call(torch, name, _args(torch, arity, a, b), kwargs, tout)
    _fuzz_cases["run"] += 1
    same = ours[0] == theirs[0] and (ours[0] != "ok" or (ours[1] is out and ours[2] == theirs[2]))
    _fuzz_cases["mismatches"] += not same
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        assert ours[1] is out and ours[2] == theirs[2]  # returns out; warns when resizing, as torch
        assert out.dtype == np.dtype(str(tout.dtype).replace("torch.", "")) and out.shape == tuple(tout.shape)
        tol = 2e-3 if out_dtype == "float16" else 2e-6  # sum and prod compute in the out dtype
        np.testing.assert_allclose(out.numpy().astype(float), tout.numpy().astype(float), rtol=tol, atol=tol)


def test_out_fuzzer_figures():
    """Recorded for docs/compat/api.md (the fuzzer above runs first in file order)."""
    print(f"out= fuzzer: {_fuzz_cases['run']} cases, {_fuzz_cases['mismatches']} mismatches")
    assert _fuzz_cases["mismatches"] == 0


def test_out_refused_when_grad_is_needed_as_torch():
    for module in (torch, cr):
        a, out = module.ones(2, requires_grad=True), module.zeros(2)
        with pytest.raises(
            RuntimeError,
            match=r"add\(\): functions with out=\.\.\. arguments don't support "
            "automatic differentiation",
        ):
            module.add(a, a, out=out)
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            module.exp(module.ones(2), out=module.zeros(2, requires_grad=True))
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            module.cat([a, a], out=module.zeros(4))
        with module.no_grad():
            assert module.add(a, a, out=out) is out
        np.testing.assert_array_equal(np.asarray(out.tolist()), [2.0, 2.0])


def test_out_bumps_the_version_counter_as_torch():
    x, tx = cr.zeros(2), torch.zeros(2)
    v, tv = x._version, tx._version
    cr.exp(cr.zeros(2), out=x), torch.exp(torch.zeros(2), out=tx)
    assert x._version - v == tx._version - tv == 1


KEYWORD_CALLS = [
    ("add", lambda m, a, b: dict(input=a, other=b, alpha=3)),
    ("sub", lambda m, a, b: dict(input=a, other=b)),
    ("mul", lambda m, a, b: dict(input=a, other=b)),
    ("div", lambda m, a, b: dict(input=a, other=b)),
    ("pow", lambda m, a, b: dict(input=a, exponent=b)),
    ("maximum", lambda m, a, b: dict(input=a, other=b)),
    ("matmul", lambda m, a, b: dict(input=a, other=b.T)),
    ("mm", lambda m, a, b: dict(input=a, mat2=b.T)),
    ("exp", lambda m, a, b: dict(input=a)),
    ("clamp", lambda m, a, b: dict(input=a, min=0.3, max=0.6)),
    ("sum", lambda m, a, b: dict(input=a, dim=1, keepdim=True)),
    ("mean", lambda m, a, b: dict(input=a, dim=0)),
    ("where", lambda m, a, b: dict(condition=a > 0.5, input=a, other=b)),
    ("cat", lambda m, a, b: dict(tensors=[a, b], dim=1)),
    ("stack", lambda m, a, b: dict(tensors=[a, b], dim=0)),
    ("eq", lambda m, a, b: dict(input=a, other=b)),
    ("amax", lambda m, a, b: dict(input=a, dim=1)),
    ("isnan", lambda m, a, b: dict(input=a)),
    ("dot", lambda m, a, b: dict(input=a[0], tensor=b[0])),
    ("outer", lambda m, a, b: dict(input=a[0], vec2=b[0])),
]


@pytest.mark.parametrize("name,kwargs", KEYWORD_CALLS, ids=[k[0] for k in KEYWORD_CALLS])
def test_torch_keyword_names(name, kwargs):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 1, (2, 3)), rng.uniform(0.1, 1, (2, 3))
    ours = getattr(cr, name)(**kwargs(cr, cr.tensor(a), cr.tensor(b)))
    theirs = getattr(torch, name)(**kwargs(torch, torch.tensor(a), torch.tensor(b)))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


# ----- losses' legacy size_average / reduce -----

LOSSES = [
    ("MSELoss", "mse_loss", lambda m, a, b: (m.tensor(a), m.tensor(b))),
    ("L1Loss", "l1_loss", lambda m, a, b: (m.tensor(a), m.tensor(b))),
    ("CrossEntropyLoss", "cross_entropy", lambda m, a, b: (m.tensor(a), m.tensor([0, 2]))),
    ("NLLLoss", "nll_loss", lambda m, a, b: (m.tensor(a), m.tensor([1, 0]))),
    ("BCELoss", "binary_cross_entropy", lambda m, a, b: (m.tensor(b), m.tensor(a))),
    ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits", lambda m, a, b: (m.tensor(a), m.tensor(b))),
]
LEGACY = [
    dict(size_average=False),
    dict(reduce=False),
    dict(size_average=True, reduce=True),
    dict(size_average=False, reduce=True),
    dict(size_average=True, reduce=False),
    dict(reduce=True),
]


@pytest.mark.parametrize("legacy", LEGACY, ids=str)
@pytest.mark.parametrize("module_name,function_name,inputs", LOSSES, ids=[item[0] for item in LOSSES])
def test_legacy_loss_arguments_match_torch(module_name, function_name, inputs, legacy):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.05, 0.95, (2, 3)), rng.uniform(0.05, 0.95, (2, 3))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as theirs_warned:
        tloss = getattr(torch.nn, module_name)(**legacy)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as ours_warned:
        loss = getattr(nn, module_name)(**legacy)
    assert str(ours_warned[0].message) == str(theirs_warned[0].message)
    assert loss.reduction == tloss.reduction
    np.testing.assert_allclose(loss(*inputs(cr, a, b)).numpy(), tloss(*inputs(torch, a, b)).numpy(), rtol=1e-12)
    with pytest.warns(UserWarning):
        theirs = getattr(torch.nn.functional, function_name)(*inputs(torch, a, b), **legacy)
    with pytest.warns(UserWarning):
        ours = getattr(nn.functional, function_name)(*inputs(cr, a, b), **legacy)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("ignore_index", [1, 0, -100])
def test_loss_positional_order_is_torchs(ignore_index):
    """CrossEntropyLoss(weight, size_average, ignore_index, ...) as torch: the third argument is ignore_index.

    Also the fused cross-entropy path with an ignore_index that is a real class (it used to be ignored).
    """
    a = np.random.default_rng(0).standard_normal((3, 4))
    target = [1, 2, 1]
    tloss = torch.nn.CrossEntropyLoss(None, None, ignore_index)
    loss = nn.CrossEntropyLoss(None, None, ignore_index)
    x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    value, tvalue = loss(x, cr.tensor(target)), tloss(tx, torch.tensor(target))
    np.testing.assert_allclose(value.detach().numpy(), tvalue.detach().numpy(), rtol=1e-12)
    value.backward(), tvalue.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


# ----- chainrule.utils.data, Subset, random_split -----


def test_utils_data_is_data():
    import chainrule.utils.data as d
    from chainrule.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split  # noqa: F401

    assert d is cr.data and cr.utils.data is cr.data and DataLoader is cr.data.DataLoader


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 40), st.lists(st.integers(1, 10), min_size=1, max_size=4), st.booleans())
def test_random_split_matches_torch(n, weights, as_fractions):
    from torch.utils.data import random_split as trandom_split

    from chainrule.utils.data import random_split

    if as_fractions:
        lengths = [w / sum(weights) for w in weights]
        lengths[-1] = 1 - sum(lengths[:-1])
    else:
        lengths = [w * n // sum(weights) for w in weights]
        lengths[-1] += n - sum(lengths)
    try:
        with warnings.catch_warnings(record=True) as theirs_warned:
            warnings.simplefilter("always")
            theirs = [len(s) for s in trandom_split(range(n), lengths, generator=torch.Generator().manual_seed(0))]
    except ValueError:
        with pytest.raises(ValueError):
            random_split(range(n), lengths)
        return
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        parts = random_split(range(n), lengths, generator=np.random.default_rng(0))
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]
    assert [len(p) for p in parts] == theirs
    assert sorted(i for p in parts for i in (p[j] for j in range(len(p)))) == list(range(n))


def test_random_split_refuses_bad_lengths_as_torch():
    from torch.utils.data import random_split as trandom_split

    from chainrule.utils.data import random_split

    for lengths in ([3, 3], [0.3, 0.3], [5, 6]):
        with pytest.raises(ValueError, match="Sum of input lengths"):
            trandom_split(range(10), lengths)
        with pytest.raises(ValueError, match="Sum of input lengths"):
            random_split(range(10), lengths)


def test_subset_matches_torch_and_loads():
    from torch.utils.data import Subset as TSubset

    from chainrule.utils.data import DataLoader, Subset, TensorDataset

    s, ts = Subset(range(10), [1, 3, 8]), TSubset(range(10), [1, 3, 8])
    assert [s[i] for i in range(len(s))] == [ts[i] for i in range(len(ts))] and len(s) == len(ts)
    data = TensorDataset(cr.arange(10.0), cr.arange(10))
    ((xb, yb),) = list(DataLoader(Subset(data, [4, 2]), batch_size=2))
    np.testing.assert_array_equal(xb.numpy(), [4.0, 2.0])
    np.testing.assert_array_equal(yb.numpy(), [4, 2])


# ----- lazy submodules -----


def test_submodules_load_lazily():
    code = (
        "import sys, chainrule as cr\n"
        "heavy = [m for m in ('sympy', 'matplotlib', 'scipy', 'torch', 'graphviz', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'chainrule.data' not in sys.modules and 'chainrule.symbolic' not in sys.modules\n"
        "assert cr.data.TensorDataset and cr.symbolic and cr.viz and cr.nn.Linear and cr.optim.SGD\n"
        "assert cr.utils.data is cr.data\n"
        "from chainrule.utils.data import DataLoader\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
