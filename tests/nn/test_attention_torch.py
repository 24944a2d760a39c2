"""F.scaled_dot_product_attention and nn.MultiheadAttention against torch: values and gradients.

Every case runs both libraries on the same inputs (and, for the layer, torch's weights loaded into
ours), then compares outputs, attention weights, and the gradients of the inputs and every
parameter for one random output gradient; float64 to 1e-10, float32 to 1e-5. Masks of each
kind include rows that may attend to nothing (torch: zeros from the safe softmax, NaN weights
from MultiheadAttention with need_weights=True).
"""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}


def _close(ours, theirs, dtype, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    ours = ours._data if isinstance(ours, cr.Tensor) else ours
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL[dtype])


def _backward_both(outs, touts, seed=1):
    rng = np.random.default_rng(seed)
    loss, tloss = 0, 0
    for o, t in zip(outs, touts):
        g = np.nan_to_num(rng.standard_normal(tuple(t.shape))).astype(t.detach().numpy().dtype)
        loss = loss + (o * cr.tensor(g)).sum()
        tloss = tloss + (t * torch.from_numpy(g)).nan_to_num().sum()
    loss.backward()
    tloss.backward()


# ----- scaled_dot_product_attention -----


def _sdpa_masks(L, S, rng):
    keep = rng.random((L, S)) > 0.3
    keep[:, 0] = True
    keep[-1] = False  # a row that may attend to nothing
    additive = rng.standard_normal((2, 1, L, S))
    additive[0, 0, 0] = -np.inf
    return {
        "none": {},
        "bool": dict(attn_mask=keep),
        "bool-batched": dict(attn_mask=rng.random((2, 3, L, S)) > 0.5),
        "float": dict(attn_mask=additive),
        "causal": dict(is_causal=True),
        "scale": dict(scale=0.3),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("L,S", [(4, 6), (5, 3)])
@pytest.mark.parametrize("kind", ["none", "bool", "bool-batched", "float", "causal", "scale"])
def test_sdpa_matches_torch(kind, L, S, dtype):
    rng = np.random.default_rng(0)
    shapes = ((2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 5))
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    options = _sdpa_masks(L, S, rng)[kind]
    if "attn_mask" in options and options["attn_mask"].dtype != bool:
        options["attn_mask"] = options["attn_mask"].astype(dtype)
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    topts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    out = F.scaled_dot_product_attention(*ours, **options)
    tout = torch.nn.functional.scaled_dot_product_attention(*theirs, **topts)
    _close(out, tout, dtype, "output")
    _backward_both([out], [tout])
    for name, o, t in zip("qkv", ours, theirs):
        _close(o.grad, t.grad, dtype, f"grad of {name}")


def test_sdpa_gqa_and_unbatched_match_torch():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 4, 3, 6)), rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((2, 2, 5, 6))
    ours = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(*theirs, enable_gqa=True)
    _close(out, tout, np.float64, "gqa output")
    _backward_both([out], [tout])
    for o, t in zip(ours, theirs):
        _close(o.grad, t.grad, np.float64, "gqa grad")
    q2, k2 = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    out = F.scaled_dot_product_attention(cr.tensor(q2), cr.tensor(k2), cr.tensor(k2), is_causal=True)
    tout = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q2, k2, k2)), is_causal=True)
    _close(out, tout, np.float64, "2-D output")


def test_sdpa_refusals_name_the_fix():
    q = cr.randn(1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="attn_mask should not be set when is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q, q.double(), q)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.int64))
    with pytest.raises(RuntimeError, match="multiple"):
        F.scaled_dot_product_attention(
            cr.randn(1, 3, 2, 4), cr.randn(1, 2, 2, 4), cr.randn(1, 2, 2, 4), enable_gqa=True
        )
    with pytest.raises(RuntimeError, match="query"):
        F.scaled_dot_product_attention(q, cr.randn(1, 2, 3, 5), q)


def test_sdpa_dropout():
    """p = 1 drops every weight (zeros, as torch); 0 < p < 1 draws a new mask each call, seeded by manual_seed."""
    q = cr.randn(2, 3, 4, 5)
    assert np.all(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0).numpy() == 0)
    cr.manual_seed(0)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy()
    cr.manual_seed(0)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, q, q, dropout_p=0.5).numpy(), a)
    assert not np.allclose(a, b)


def test_sdpa_gradcheck_first_and_second_order():
    rng = np.random.default_rng(2)
    q, k, v = (
        cr.tensor(rng.standard_normal(s), requires_grad=True) for s in ((1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 2))
    )
    keep = np.array([[1, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep)

    assert cr.gradcheck(fn, (q, k, v))
    assert cr.gradgradcheck(fn, (q, k, v))


# ----- nn.MultiheadAttention -----

E, H = 8, 2
MHA_CASES = [
    dict(),
    dict(batch_first=True),
    dict(bias=False),
    dict(kdim=5, vdim=3),
    dict(kdim=5, vdim=3, batch_first=True, bias=False),
    dict(add_bias_kv=True),
    dict(add_zero_attn=True, batch_first=True),
    dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3),
]


def _mha_pair(options, dtype, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, H, dtype=getattr(torch, np.dtype(dtype).name), **options)
    ours = nn.MultiheadAttention(E, H, dtype=dtype, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _run_mha(ours, theirs, options, dtype, L=4, S=5, N=3, self_attention=False, unbatched=False, **kwargs):
    rng = np.random.default_rng(3)
    kdim, vdim = options.get("kdim", E), options.get("vdim", E)

    def layout(T, d):
        if unbatched:
            return (T, d)
        return (N, T, d) if options.get("batch_first") else (T, N, d)

    if self_attention:
        arrays = [rng.standard_normal(layout(L, E)).astype(dtype)]
    else:
        arrays = [rng.standard_normal(layout(t, d)).astype(dtype) for t, d in ((L, E), (S, kdim), (S, vdim))]
    ours_in = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    if self_attention:
        ours_in, theirs_in = ours_in * 3, theirs_in * 3
    topts = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out = ours(*ours_in, **kwargs)
    tout = theirs(*theirs_in, **topts)
    for o, t, what in zip(out, tout, ("output", "weights")):
        if t is None:
            assert o is None
        else:
            _close(o, t, dtype, what)
    pairs = [(o, t) for o, t in zip(out, tout) if t is not None]
    _backward_both([o for o, _ in pairs], [t for _, t in pairs])
    for i, (o, t) in enumerate(zip(ours_in[: len(arrays)], theirs_in[: len(arrays)])):
        _close(o.grad, t.grad, dtype, f"grad of input {i}")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, tparams[name].grad, dtype, f"grad of {name}")
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", MHA_CASES, ids=[str(c) for c in MHA_CASES])
def test_mha_matches_torch(options, dtype):
    ours, theirs = _mha_pair(options, dtype)
    _run_mha(ours, theirs, options, dtype)
    _run_mha(ours, theirs, options, dtype, need_weights=False)


def _masks(L, S, N, dtype, rng):
    bool_attn = rng.random((L, S)) > 0.6
    bool_attn[:, 0] = False
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -2:] = True
    float_attn = rng.standard_normal((N * H, L, S)).astype(dtype)
    return {
        "bool attn_mask": dict(attn_mask=bool_attn),
        "float 3-D attn_mask": dict(attn_mask=float_attn),
        "key_padding_mask": dict(key_padding_mask=kpm),
        "float key_padding_mask": dict(key_padding_mask=np.where(kpm, -np.inf, 0.0).astype(dtype)),
        "both": dict(attn_mask=bool_attn, key_padding_mask=kpm),
        "causal": dict(attn_mask=np.triu(np.ones((L, L), dtype=bool), 1), is_causal=True),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kind", ["bool attn_mask", "float 3-D attn_mask", "key_padding_mask", "float key_padding_mask", "both", "causal"]
)
def test_mha_masks_match_torch(kind, dtype):
    options = dict(batch_first=kind in ("both", "causal"))
    ours, theirs = _mha_pair(options, dtype)
    masks = _masks(4, 4 if kind == "causal" else 5, 3, dtype, np.random.default_rng(4))[kind]
    S = 4 if kind == "causal" else 5
    for need_weights, average in ((True, True), (True, False), (False, True)):
        ours.zero_grad(), theirs.zero_grad()
        _run_mha(
            ours,
            theirs,
            options,
            dtype,
            S=S,
            self_attention=kind == "causal",
            need_weights=need_weights,
            average_attn_weights=average,
            **masks,
        )


def test_mha_unbatched_and_self_attention_match_torch():
    options = dict()
    ours, theirs = _mha_pair(options, np.float64)
    _run_mha(ours, theirs, options, np.float64, unbatched=True, key_padding_mask=np.array([0, 0, 1, 0, 0], bool))
    ours.zero_grad(), theirs.zero_grad()
    _run_mha(ours, theirs, options, np.float64, self_attention=True, average_attn_weights=False)


def test_mha_rows_attending_to_nothing_as_torch():
    """A padded-out key set: NaN output and weights with need_weights=True, zeros without (torch's two paths)."""
    ours, theirs = _mha_pair(dict(), np.float64)
    x = np.random.default_rng(5).standard_normal((3, 2, E))
    kpm = np.array([[True, True, True], [False, True, False]])
    for need_weights in (True, False):
        out = ours(*[cr.tensor(x)] * 3, key_padding_mask=kpm, need_weights=need_weights)[0].detach().numpy()
        tout = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)[0]
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert np.isnan(out[:, 0]).all() == need_weights


def test_mha_dropout_and_modes():
    """Eval mode and p=0 are deterministic; training with dropout draws new weights each call."""
    mha = nn.MultiheadAttention(E, H, dropout=0.5)
    x = cr.randn(4, 2, E)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].detach().numpy(), mha(x, x, x)[0].detach().numpy())
    mha.train()
    assert not np.allclose(mha(x, x, x)[1].detach().numpy(), mha(x, x, x)[1].detach().numpy())


def test_mha_refusals_as_torch():
    for make in (lambda m: m.MultiheadAttention(6, 4), lambda m: m.MultiheadAttention(0, 2)):
        with pytest.raises((AssertionError, ValueError)) as theirs:
            make(torch.nn)
        with pytest.raises((theirs.type, ValueError)):  # ValueError where torch asserts
            make(nn)
    mha = nn.MultiheadAttention(E, H)
    x = cr.randn(3, 2, E)
    with pytest.raises(RuntimeError, match="generate_square_subsequent_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="features"):
        mha(x, x, cr.randn(3, 2, E + 1))
    with pytest.raises(RuntimeError, match="key_padding_mask shape"):
        mha(x, x, x, key_padding_mask=np.zeros((2, 4), bool))


def test_mha_gradcheck_first_and_second_order():
    rng = np.random.default_rng(6)
    mha = nn.MultiheadAttention(4, 2, dtype=cr.float64, batch_first=True)
    q = cr.tensor(rng.standard_normal((1, 3, 4)), requires_grad=True)
    kv = cr.tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    mask = np.array([[False, True], [False, False], [True, False]])
    params = list(mha.parameters())

    def fn(q, kv, *_params):  # the parameters are perturbed in place by gradcheck
        return mha(q, kv, kv, attn_mask=mask)

    assert cr.gradcheck(fn, (q, kv, *params))
    assert cr.gradgradcheck(fn, (q, kv, *params[:2]))
