"""nn.TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder and
nn.Transformer against torch with torch's weights loaded: outputs and the gradients of the inputs and
every parameter, float64 and float32, post-norm and pre-norm, batch_first both ways, each kind of mask.

Dropout is 0 (or the layers are in eval mode) so both libraries compute the same function; every
input requires grad, which keeps torch off its inference fast path.
"""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

# torch warns when a boolean padding mask meets a float attention mask; both libraries accept it.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=1e-4, atol=2e-5)}
D, NHEAD, FF = 8, 2, 16


def _load(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})


def _tdtype(dtype):
    return getattr(torch, np.dtype(dtype).name)


def _compare(ours, theirs, arrays, dtype, **kwargs):
    """Run both on the same inputs and masks; compare outputs and all gradients for one output gradient."""
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out, tout = ours(*xs, **kwargs), theirs(*txs, **tkw)
    tol = TOL[dtype]
    assert out.dtype == tout.detach().numpy().dtype
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), err_msg="output", **tol)
    g = np.random.default_rng(9).standard_normal(tuple(tout.shape)).astype(dtype)
    (out * cr.tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    for i, (x, tx) in enumerate(zip(xs, txs)):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), err_msg=f"grad of input {i}", **tol)
    tparams = dict(theirs.named_parameters())
    names = [name for name, _ in ours.named_parameters()]
    assert names == list(tparams)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), err_msg=name, **tol)


def _layout(S, N, batch_first):
    return (N, S, D) if batch_first else (S, N, D)


def _mask_options(kind, S, N, T=None, dtype=np.float64):
    rng = np.random.default_rng(7)
    T = S if T is None else T
    kpm = np.zeros((N, T), dtype=bool)
    kpm[0, -1] = True
    causal = nn.Transformer.generate_square_subsequent_mask(S, dtype=dtype).numpy()
    return {
        "none": {},
        "bool": dict(mask=rng.random((S, T)) > 0.7),
        "float": dict(mask=rng.standard_normal((S, T)).astype(dtype)),
        "padding": dict(padding=kpm),
        "causal": dict(mask=causal, causal=True),
        "causal+padding": dict(mask=causal, padding=kpm),
    }[kind]


ENCODER_CASES = [
    (np.float64, False, False, "none", "relu"),
    (np.float64, True, False, "bool", "gelu"),
    (np.float64, False, True, "float", "relu"),
    (np.float64, True, True, "padding", "gelu"),
    (np.float64, False, False, "causal", "relu"),
    (np.float64, True, True, "causal+padding", "relu"),
    (np.float32, False, False, "padding", "gelu"),
    (np.float32, True, True, "causal", "relu"),
]


@pytest.mark.parametrize("dtype,batch_first,norm_first,mask,activation", ENCODER_CASES)
def test_encoder_layer_matches_torch(dtype, batch_first, norm_first, mask, activation):
    options = dict(dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(D, NHEAD, FF, dtype=_tdtype(dtype), **options)
    ours = nn.TransformerEncoderLayer(D, NHEAD, FF, dtype=dtype, **options)
    _load(ours, theirs)
    S, N = 5, 3
    x = np.random.default_rng(1).standard_normal(_layout(S, N, batch_first)).astype(dtype)
    m = _mask_options(mask, S, N, dtype=dtype)
    kwargs = {}
    if "mask" in m:
        kwargs["src_mask"] = m["mask"]
    if "padding" in m:
        kwargs["src_key_padding_mask"] = m["padding"]
    if m.get("causal"):
        kwargs["is_causal"] = True
    _compare(ours, theirs, [x], dtype, **kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_matches_torch(norm_first):
    options = dict(dropout=0.1, batch_first=True, norm_first=norm_first)
    torch.manual_seed(1)
    tlayer = torch.nn.TransformerEncoderLayer(D, NHEAD, FF, dtype=torch.float64, **options)
    theirs = torch.nn.TransformerEncoder(
        tlayer, 2, norm=torch.nn.LayerNorm(D, dtype=torch.float64), enable_nested_tensor=False
    )
    ours = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(D, NHEAD, FF, dtype=cr.float64, **options), 2, norm=nn.LayerNorm(D, dtype=cr.float64)
    )
    _load(ours, theirs)
    ours.eval(), theirs.eval()
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    S, N = 6, 2
    x = np.random.default_rng(2).standard_normal((N, S, D))
    m = _mask_options("causal+padding", S, N)
    _compare(ours, theirs, [x], np.float64, mask=m["mask"], src_key_padding_mask=m["padding"])


DECODER_CASES = [
    (np.float64, False, False, "none"),
    (np.float64, True, True, "causal"),
    (np.float64, False, True, "padding"),
    (np.float64, True, False, "bool"),
    (np.float32, True, False, "causal+padding"),
]


@pytest.mark.parametrize("dtype,batch_first,norm_first,mask", DECODER_CASES)
def test_decoder_layer_matches_torch(dtype, batch_first, norm_first, mask):
    options = dict(dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    torch.manual_seed(3)
    theirs = torch.nn.TransformerDecoderLayer(D, NHEAD, FF, dtype=_tdtype(dtype), **options)
    ours = nn.TransformerDecoderLayer(D, NHEAD, FF, dtype=dtype, **options)
    _load(ours, theirs)
    T, S, N = 4, 6, 3
    rng = np.random.default_rng(4)
    tgt = rng.standard_normal(_layout(T, N, batch_first)).astype(dtype)
    memory = rng.standard_normal(_layout(S, N, batch_first)).astype(dtype)
    m = _mask_options(mask, T, N, dtype=dtype)
    kwargs = {}
    if "mask" in m:
        kwargs["tgt_mask"] = m["mask"]
        kwargs["tgt_is_causal"] = bool(m.get("causal"))
        kwargs["memory_mask"] = _mask_options("bool", T, N, T=S)["mask"]
    if "padding" in m:
        kwargs["tgt_key_padding_mask"] = m["padding"]
        kwargs["memory_key_padding_mask"] = _mask_options("padding", T, N, T=S)["padding"]
    _compare(ours, theirs, [tgt, memory], dtype, **kwargs)


def test_transformer_matches_torch():
    options = dict(d_model=D, nhead=NHEAD, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=FF, dropout=0.0)
    torch.manual_seed(5)
    theirs = torch.nn.Transformer(dtype=torch.float64, batch_first=True, **options)
    ours = nn.Transformer(dtype=cr.float64, batch_first=True, **options)
    _load(ours, theirs)
    rng = np.random.default_rng(6)
    src, tgt = rng.standard_normal((2, 6, D)), rng.standard_normal((2, 4, D))
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=cr.float64).numpy()
    np.testing.assert_array_equal(tgt_mask, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    kpm = np.zeros((2, 6), dtype=bool)
    kpm[1, -2:] = True
    _compare(ours, theirs, [src, tgt], np.float64, tgt_mask=tgt_mask, src_key_padding_mask=kpm)


def test_transformer_initialization_and_refusals():
    model = nn.Transformer(d_model=D, nhead=NHEAD, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=FF)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (D + FF))  # xavier_uniform_, as torch's Transformer
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    with pytest.raises(RuntimeError, match="batch number"):
        model(cr.randn(5, 2, D), cr.randn(4, 3, D))
    with pytest.raises(RuntimeError, match="d_model"):
        model(cr.randn(5, 2, D), cr.randn(4, 2, D + 1))
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(D, NHEAD, activation="tanh")
    with pytest.raises(TypeError, match="nn.Module"):
        nn.TransformerEncoder(None, 2**31)  # refused before copying anything
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(D, NHEAD, FF), -1)
    layer = nn.TransformerEncoderLayer(D, NHEAD, FF, activation=cr.nn.functional.silu)
    assert layer(cr.randn(3, 2, D)).shape == (3, 2, D)


def test_encoder_layer_dropout_in_training_only():
    layer = nn.TransformerEncoderLayer(D, NHEAD, FF, dropout=0.5)
    x = cr.randn(4, 2, D)
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())
    layer.train()
    assert not np.allclose(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_encoder_layer_gradcheck_first_and_second_order():
    rng = np.random.default_rng(8)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=cr.float64, norm_first=True, activation="gelu")
    x = cr.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=cr.float64)
    params = dict(layer.named_parameters())

    def fn(x, *_params):  # the parameters are perturbed in place by gradcheck
        return layer(x, src_mask=mask, is_causal=True)

    assert cr.gradcheck(fn, (x, params["self_attn.in_proj_weight"], params["linear1.weight"], params["norm2.weight"]))
    assert cr.gradgradcheck(fn, (x, params["linear2.weight"]))


def test_jit_matches_eager():
    """The block traces under chainrule.jit: a jitted training step gives eager's loss and gradients."""
    layer = nn.TransformerEncoderLayer(D, NHEAD, FF, dropout=0.0, batch_first=True, dtype=cr.float64)
    x = cr.tensor(np.random.default_rng(10).standard_normal((2, 5, D)))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=cr.float64)

    def step(x):
        layer.zero_grad()
        loss = (layer(x, src_mask=mask, is_causal=True) ** 2).mean()
        loss.backward()
        return loss

    eager = step(x).item()
    grads = [p.grad.numpy().copy() for p in layer.parameters()]
    fast = cr.jit(step)
    for _ in range(3):
        assert abs(fast(x).item() - eager) < 1e-12
    for g, p in zip(grads, layer.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-12, atol=1e-14)


def test_transformer_sort_example_learns(capsys):
    """examples/transformer_sort.py, shortened: 100 of its 500 steps already sort most held-out sequences."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "transformer_sort.py"
    spec = importlib.util.spec_from_file_location("transformer_sort", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    # One BLAS thread, as the example tests: on a busy machine spinning BLAS threads make it 10x slower.
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        result = example.main(steps=100, log_every=50)
    history = result["history"]
    assert history.loss[-1] < history.loss[0] / 20
    assert result["test_accuracy"] >= 0.9
    assert result["generation_accuracy"] == result["test_accuracy"]  # teacher-forced == greedy, exactly
    assert history.evals[-1]["eval_accuracy"] == result["test_accuracy"]  # fit evaluates with the given metric
    assert "held-out exact-sequence accuracy" in capsys.readouterr().out
