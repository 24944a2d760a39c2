"""Differential tests of the newer layers and ops against torch, over their less common options.

Every case builds the torch layer and ours with the same (random, nonzero) weights, runs both on the same
float64 inputs and masks, and compares outputs, the gradients of the inputs and of every parameter for one
random output gradient (rtol 1e-7). Functional ops go through tests/_differential.py's `compare`, which also
checks that both libraries refuse the same calls: an argument that is silently ignored shows up as a value
that differs, or as a refusal on one side only.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
from _differential import check_close, compare  # noqa: E402
from chainrule import nn  # noqa: E402
from nn._helpers import _flat, to_torch_weights  # noqa: E402

# torch warns when a boolean padding mask meets a float attention mask; both libraries accept it.
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched", "ignore:enable_nested_tensor")

RTOL, ATOL = 1e-7, 1e-9


def _pair(name, *args, seed=0, dtype=True, **options):
    """torch.nn.<name> and chainrule.nn.<name>, float64, ours given random weights that are copied into torch."""
    kw = dict(dtype=torch.float64) if dtype else {}
    theirs = getattr(torch.nn, name)(*args, **kw, **options)
    kw = dict(dtype=cr.float64) if dtype else {}
    ours = getattr(nn, name)(*args, **kw, **options)
    _randomize(ours, seed)
    to_torch_weights(ours, theirs)
    return ours, theirs


def _randomize(module, seed):
    rng = np.random.default_rng(seed)
    state = module.state_dict()
    module.load_state_dict({k: cr.tensor(0.5 * rng.standard_normal(tuple(v.shape))) for k, v in state.items()})


def _arg(v, lib):
    if isinstance(v, np.ndarray):
        return cr.tensor(v) if lib is cr else torch.tensor(v)
    if isinstance(v, tuple) and v and all(isinstance(a, np.ndarray) for a in v):
        return tuple(_arg(a, lib) for a in v)
    return v


def _run_modules(ours, theirs, arrays, seed=1, **kwargs):
    """Call both modules on `arrays` (float ones require grad) and `kwargs`; compare outputs and every gradient."""
    xs = [cr.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    txs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = _flat(ours(*xs, **{k: _arg(v, cr) for k, v in kwargs.items()}))
    touts = _flat(theirs(*txs, **{k: _arg(v, torch) for k, v in kwargs.items()}))
    assert len(outs) == len(touts)
    for i, (o, t) in enumerate(zip(outs, touts)):
        check_close(o, t, f"output {i}", RTOL, ATOL)
    rng = np.random.default_rng(seed)
    pairs = [(o, t) for o, t in zip(outs, touts) if t is not None and t.requires_grad]
    ws = [rng.standard_normal(tuple(t.shape)) for _, t in pairs]
    sum((o * cr.tensor(w)).sum() for (o, _), w in zip(pairs, ws)).backward()
    sum((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, ws)).backward()
    for i, (x, tx) in enumerate(zip(xs, txs)):
        if tx.requires_grad:
            check_close(x.grad, tx.grad, f"grad of input {i}", RTOL, ATOL)
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        tg = tparams[name].grad
        if tg is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
        else:
            check_close(p.grad, tg, f"grad of {name}", RTOL, ATOL)
    return outs


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----- nn.MultiheadAttention -----

E, H, L, S, N = 8, 2, 3, 4, 2
MHA_OPTIONS = {
    "default": dict(),
    "batch_first": dict(batch_first=True),
    "kdim-vdim": dict(kdim=5, vdim=3),
    "vdim-only": dict(vdim=3),
    "no-bias": dict(bias=False),
    "bias_kv": dict(add_bias_kv=True),
    "zero_attn": dict(add_zero_attn=True),
    "all": dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3, batch_first=True),
    "no-bias+bias_kv": dict(bias=False, add_bias_kv=True),
}


def _mha_calls():
    rng = np.random.default_rng(11)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, 1] = kpm[1, -1] = True
    bool2 = rng.random((L, S)) > 0.6
    bool2[:, 0] = False  # every row keeps a key
    bool3 = rng.random((N * H, L, S)) > 0.6
    bool3[..., 0] = False
    causal = np.triu(np.ones((L, S), dtype=bool), 1)
    return {
        "plain": dict(),
        "no-weights": dict(need_weights=False),
        "per-head": dict(average_attn_weights=False),
        "kpm-bool": dict(key_padding_mask=kpm),
        "kpm-float": dict(key_padding_mask=rng.standard_normal((N, S))),
        "mask-bool-2d": dict(attn_mask=bool2),
        "mask-float-2d": dict(attn_mask=rng.standard_normal((L, S)), average_attn_weights=False),
        "mask-bool-3d": dict(attn_mask=bool3, need_weights=False),
        "mask-float-3d": dict(attn_mask=rng.standard_normal((N * H, L, S))),
        "bool-mask+float-kpm": dict(attn_mask=bool2, key_padding_mask=rng.standard_normal((N, S))),
        "float-mask+bool-kpm": dict(attn_mask=rng.standard_normal((L, S)), key_padding_mask=kpm),
        "causal-weights": dict(attn_mask=causal, is_causal=True),
        "causal-no-weights": dict(attn_mask=causal, is_causal=True, need_weights=False),
        # torch trusts the hint: the mask given is not looked at, the causal one is used
        "causal-hint-wins": dict(attn_mask=bool2, is_causal=True, need_weights=False),
        # with weights asked for, or a padding mask, torch uses the mask given and not the hint
        "causal-flag-with-weights": dict(attn_mask=bool2, is_causal=True),
        "causal-flag-with-kpm": dict(attn_mask=bool2, is_causal=True, key_padding_mask=kpm, need_weights=False),
        "causal+kpm": dict(attn_mask=causal, is_causal=True, key_padding_mask=kpm, need_weights=False),
    }


MHA_CALLS = _mha_calls()
# add_bias_kv / add_zero_attn append a key after the causal hint: see test_mha_causal_hint_with_extra_keys.
_EXTRA_KEY_CAUSAL = {"causal-no-weights", "causal-hint-wins"}


def _mha_inputs(options, unbatched=False, seed=3):
    kdim, vdim = options.get("kdim", E), options.get("vdim", E)

    def layout(t, d):
        if unbatched:
            return (t, d)
        return (N, t, d) if options.get("batch_first") else (t, N, d)

    return [_normal(layout(t, d), seed + i) for i, (t, d) in enumerate(((L, E), (S, kdim), (S, vdim)))]


MHA_PAIRS = [
    (o, c)
    for o in MHA_OPTIONS
    for c in MHA_CALLS
    if not (c in _EXTRA_KEY_CAUSAL and ("add_bias_kv" in MHA_OPTIONS[o] or "add_zero_attn" in MHA_OPTIONS[o]))
]


@pytest.mark.parametrize("options,call", MHA_PAIRS, ids=[f"{o}-{c}" for o, c in MHA_PAIRS])
def test_mha_matches_torch(options, call):
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    _run_modules(ours, theirs, _mha_inputs(opts), **MHA_CALLS[call])


@pytest.mark.parametrize("options", ["default", "kdim-vdim", "bias_kv", "zero_attn"])
@pytest.mark.parametrize(
    "call",
    [
        dict(),
        dict(average_attn_weights=False),
        dict(need_weights=False, key_padding_mask=np.array([False, True, False, False])),
        dict(key_padding_mask=np.array([0.5, -1.0, 0.0, 2.0])),
        dict(attn_mask=np.random.default_rng(2).standard_normal((L, S))),
        dict(attn_mask=np.random.default_rng(2).standard_normal((H, L, S)), average_attn_weights=False),
        dict(attn_mask=np.random.default_rng(2).random((H, L, S)) > 0.7),
    ],
    ids=["plain", "per-head", "kpm-bool", "kpm-float", "mask-2d", "mask-3d", "bool-mask-3d"],
)
def test_mha_unbatched_matches_torch(options, call):
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    _run_modules(ours, theirs, _mha_inputs(opts, unbatched=True), **call)


@pytest.mark.parametrize("options", ["bias_kv", "zero_attn", "all"])
@pytest.mark.parametrize("call", sorted(_EXTRA_KEY_CAUSAL))
def test_mha_causal_hint_with_extra_keys(options, call):
    """is_causal=True without a padding mask or weights: torch drops attn_mask and attends causally over the
    keys after bias_k / the zero key were appended (S + 1 or S + 2 of them), top-left aligned."""
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    _run_modules(ours, theirs, _mha_inputs(opts), **MHA_CALLS[call])


def test_mha_eval_mode_turns_attention_dropout_off():
    ours, theirs = _pair("MultiheadAttention", E, H, dropout=0.5)
    ours.eval(), theirs.eval()
    _run_modules(ours, theirs, _mha_inputs({}), key_padding_mask=MHA_CALLS["kpm-bool"]["key_padding_mask"])


# ----- F.scaled_dot_product_attention -----


def _sdpa_cases():
    rng = np.random.default_rng(5)
    Lq, Sk = 3, 5
    keep = rng.random((Lq, Sk)) > 0.4
    return {
        "bool-2d": ((Lq, Sk), dict(attn_mask=keep)),
        "bool-broadcast-heads": ((Lq, Sk), dict(attn_mask=rng.random((2, 1, Lq, Sk)) > 0.4)),
        "bool-broadcast-rows": ((Lq, Sk), dict(attn_mask=rng.random((1, 3, 1, Sk)) > 0.3)),
        "float-2d": ((Lq, Sk), dict(attn_mask=rng.standard_normal((Lq, Sk)))),
        "float-broadcast": ((Lq, Sk), dict(attn_mask=rng.standard_normal((2, 1, 1, Sk)))),
        "float-with-inf": ((Lq, Sk), dict(attn_mask=np.where(keep, 0.0, -np.inf))),
        "causal-L<S": ((Lq, Sk), dict(is_causal=True)),
        "causal-L>S": ((Sk, Lq), dict(is_causal=True)),
        "scale": ((Lq, Sk), dict(scale=0.7)),
        "scale+mask": ((Lq, Sk), dict(scale=2.5, attn_mask=rng.standard_normal((Lq, Sk)))),
        "scale+causal": ((Sk, Lq), dict(scale=0.1, is_causal=True)),
        "dropout-0": ((Lq, Sk), dict(dropout_p=0.0, attn_mask=keep)),
    }


SDPA_CASES = _sdpa_cases()


@pytest.mark.parametrize("batch", [(2, 3), (3,)], ids=["4-D", "3-D"])
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, batch):
    (lq, sk), kwargs = SDPA_CASES[case]
    mask = kwargs.get("attn_mask")
    if mask is not None and mask.ndim == 4 and len(batch) == 2 and mask.shape[1] not in (1, batch[1]):
        pytest.skip("mask does not broadcast")
    if mask is not None and mask.ndim == 4 and len(batch) == 1:
        mask = mask[0]
        if mask.shape[0] not in (1, batch[0]):
            pytest.skip("mask does not broadcast")
        kwargs = dict(kwargs, attn_mask=mask)
    shapes = [batch + (lq, 4), batch + (sk, 4), batch + (sk, 6)]
    extra = {k: v for k, v in kwargs.items() if k != "attn_mask"}

    def program(lib, F, q, k, v, *m):
        return F.scaled_dot_product_attention(q, k, v, *m, **extra)

    inputs = [(_normal(s, i), True) for i, s in enumerate(shapes)]
    if mask is not None:
        inputs.append((mask, False))
    assert compare(program, inputs) == "ok"


# ----- the transformer layers -----

D, NHEAD, FF = 8, 2, 12


def _gelu_callable(x):
    return x * (x * 1.2).sigmoid()  # a callable both libraries can run: Tensor.sigmoid in each


ENCODER_CASES = {
    "post-relu": dict(),
    "pre-gelu": dict(norm_first=True, activation="gelu"),
    "callable-batch_first": dict(activation=_gelu_callable, batch_first=True),
    "pre-no-bias": dict(norm_first=True, bias=False, layer_norm_eps=1e-3),
}


def _encoder_masks(seq, batch):
    rng = np.random.default_rng(8)
    kpm = np.zeros((batch, seq), dtype=bool)
    kpm[1, -2:] = True
    causal_f = np.triu(np.full((seq, seq), -np.inf), 1)
    return {
        "none": {},
        "bool": dict(src_mask=rng.random((seq, seq)) > 0.7),
        "float": dict(src_mask=rng.standard_normal((seq, seq))),
        "float-3d": dict(src_mask=rng.standard_normal((batch * NHEAD, seq, seq))),
        "padding": dict(src_key_padding_mask=kpm),
        "float-padding": dict(src_key_padding_mask=rng.standard_normal((batch, seq))),
        "causal": dict(src_mask=causal_f, is_causal=True),
        "causal+padding": dict(src_mask=causal_f, is_causal=True, src_key_padding_mask=kpm),
    }


@pytest.mark.parametrize("mask", list(_encoder_masks(5, 2)))
@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_encoder_layer_matches_torch(case, mask):
    options = ENCODER_CASES[case]
    ours, theirs = _pair("TransformerEncoderLayer", D, NHEAD, FF, dropout=0.3, **options)
    ours.eval(), theirs.eval()  # dropout off in every sublayer
    seq, batch = 5, 2
    shape = (batch, seq, D) if options.get("batch_first") else (seq, batch, D)
    _run_modules(ours, theirs, [_normal(shape)], **_encoder_masks(seq, batch)[mask])


@pytest.mark.parametrize("mask", ["none", "causal", "causal+padding", "float-padding"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_with_final_norm_matches_torch(norm_first, mask):
    options = dict(dropout=0.2, norm_first=norm_first, activation="gelu", batch_first=True, dtype=torch.float64)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(D, NHEAD, FF, **options),
        2,
        norm=torch.nn.LayerNorm(D, dtype=torch.float64),
        enable_nested_tensor=False,
    )
    options["dtype"] = cr.float64
    ours = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(D, NHEAD, FF, **options), 2, norm=nn.LayerNorm(D, dtype=cr.float64)
    )
    _randomize(ours, 4)
    to_torch_weights(ours, theirs)
    ours.eval(), theirs.eval()
    kwargs = _encoder_masks(5, 2)[mask]
    if "src_mask" in kwargs:
        kwargs["mask"] = kwargs.pop("src_mask")
    kwargs.pop("is_causal", None)  # the stack detects the causal mask itself
    _run_modules(ours, theirs, [_normal((2, 5, D))], **kwargs)


def _decoder_masks(tlen, mlen, batch):
    rng = np.random.default_rng(9)
    tkpm = np.zeros((batch, tlen), dtype=bool)
    tkpm[0, -1] = True
    mkpm = np.zeros((batch, mlen), dtype=bool)
    mkpm[1, :2] = True
    causal = np.triu(np.full((tlen, tlen), -np.inf), 1)
    return {
        "none": {},
        "tgt-causal": dict(tgt_mask=causal, tgt_is_causal=True),
        "memory-mask": dict(memory_mask=rng.standard_normal((tlen, mlen))),
        "memory-bool-mask": dict(memory_mask=rng.random((tlen, mlen)) > 0.7),
        "memory-causal": dict(memory_mask=rng.random((tlen, mlen)) > 0.7, memory_is_causal=True),
        "paddings": dict(tgt_key_padding_mask=tkpm, memory_key_padding_mask=mkpm),
        "all": dict(
            tgt_mask=causal,
            memory_mask=rng.standard_normal((tlen, mlen)),
            tgt_key_padding_mask=tkpm,
            memory_key_padding_mask=mkpm,
        ),
    }


@pytest.mark.parametrize("mask", list(_decoder_masks(4, 5, 2)))
@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_decoder_layer_matches_torch(case, mask):
    options = ENCODER_CASES[case]
    ours, theirs = _pair("TransformerDecoderLayer", D, NHEAD, FF, dropout=0.3, **options)
    ours.eval(), theirs.eval()
    tlen, mlen, batch = 4, 5, 2
    bf = options.get("batch_first")
    tgt = _normal((batch, tlen, D) if bf else (tlen, batch, D), 1)
    memory = _normal((batch, mlen, D) if bf else (mlen, batch, D), 2)
    _run_modules(ours, theirs, [tgt, memory], **_decoder_masks(tlen, mlen, batch)[mask])


def test_decoder_stack_with_final_norm_matches_torch():
    options = dict(dropout=0.0, norm_first=True, dtype=torch.float64)
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(D, NHEAD, FF, **options), 2, norm=torch.nn.LayerNorm(D, dtype=torch.float64)
    )
    options["dtype"] = cr.float64
    ours = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(D, NHEAD, FF, **options), 2, norm=nn.LayerNorm(D, dtype=cr.float64)
    )
    _randomize(ours, 5)
    to_torch_weights(ours, theirs)
    masks = _decoder_masks(4, 5, 2)["all"]
    _run_modules(ours, theirs, [_normal((4, 2, D), 1), _normal((5, 2, D), 2)], **masks)


def test_unbatched_encoder_layer_matches_torch():
    ours, theirs = _pair("TransformerEncoderLayer", D, NHEAD, FF, dropout=0.0, norm_first=True)
    _run_modules(ours, theirs, [_normal((5, D))], src_key_padding_mask=np.array([False, False, True, False, False]))


# ----- nn.ConvTranspose1d / 2d -----

CONVT_CASES = {
    "stride2": dict(stride=2),
    "stride3-pad1-outpad2": dict(stride=3, padding=1, output_padding=2),
    "groups2-nobias": dict(groups=2, bias=False, stride=2, output_padding=1),
    "dilation2-pad2": dict(dilation=2, padding=2),
    "dilation2-stride2-outpad1": dict(dilation=2, stride=2, output_padding=1),
    "groups4-dilation3": dict(groups=4, dilation=3, stride=2, padding=1),
}


@pytest.mark.parametrize("case", list(CONVT_CASES))
@pytest.mark.parametrize("dims", [1, 2])
def test_conv_transpose_matches_torch(dims, case):
    options = dict(CONVT_CASES[case])
    if dims == 2:  # a different padding and dilation per axis (output_padding must stay below both strides)
        for k, low in (("padding", 0), ("dilation", 1)):
            if k in options:
                options[k] = (options[k], max(low, options[k] - 1))
    ours, theirs = _pair(f"ConvTranspose{dims}d", 4, 8, 3, **options)
    _run_modules(ours, theirs, [_normal((2, 4) + (5,) * dims)])


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("extra", [0, 1, 2])
@pytest.mark.parametrize("options", [dict(), dict(dilation=2, groups=2, bias=False)], ids=["plain", "dilated-groups"])
def test_conv_transpose_output_size_matches_torch(dims, extra, options):
    """forward(x, output_size) picks output_padding; sizes given with or without the batch and channel dims."""
    ours, theirs = _pair(f"ConvTranspose{dims}d", 2, 4, 3, stride=3, padding=1, **options)
    x = _normal((2, 2) + (4,) * dims)
    spatial = [(12 if options else 10) + extra] * dims
    _run_modules(ours, theirs, [x], output_size=spatial)
    ours.zero_grad(), theirs.zero_grad()
    _run_modules(ours, theirs, [x], output_size=[2, 4] + spatial)


def test_conv_transpose_output_size_out_of_range_refused():
    ours, theirs = _pair("ConvTranspose1d", 2, 3, 3, stride=2, padding=1)
    x = _normal((1, 2, 4))
    with pytest.raises(ValueError):
        theirs(torch.tensor(x), output_size=[9])
    with pytest.raises((ValueError, RuntimeError)):
        ours(cr.tensor(x), output_size=[9])


def test_conv_transpose_padding_mode_refused_as_torch():
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose1d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError):
        nn.ConvTranspose1d(2, 3, 3, padding_mode="reflect")


# ----- F.interpolate / nn.Upsample -----

INTERP_CASES = [
    ("nearest", (1, 2, 5), dict(scale_factor=1.7)),
    ("nearest", (1, 2, 5), dict(size=8)),
    ("nearest", (1, 2, 7), dict(size=3)),
    ("nearest", (1, 2, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ("nearest", (1, 2, 4, 5), dict(scale_factor=(1.5, 0.6))),
    ("nearest", (1, 2, 4, 5), dict(scale_factor=(2.5, 1.3), recompute_scale_factor=True)),
    ("nearest-exact", (1, 2, 5), dict(scale_factor=1.7)),
    ("nearest-exact", (1, 2, 4, 5), dict(size=(7, 3))),
    ("linear", (2, 1, 5), dict(scale_factor=1.7, align_corners=False)),
    ("linear", (2, 1, 5), dict(scale_factor=1.7, align_corners=True)),
    ("linear", (2, 1, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ("linear", (2, 1, 5), dict(scale_factor=0.45)),
    ("linear", (2, 1, 6), dict(size=4, align_corners=True)),
    ("linear", (2, 1, 6), dict(size=1, align_corners=True)),
    ("linear", (2, 1, 1), dict(size=4, align_corners=True)),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=(1.5, 2.3))),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=(1.5, 2.3), align_corners=True)),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=(1.5, 2.3), recompute_scale_factor=True)),
    ("bilinear", (1, 2, 4, 5), dict(size=(3, 7), align_corners=False)),
    ("bilinear", (1, 2, 4, 5), dict(scale_factor=0.7)),
    ("bicubic", (1, 1, 4, 5), dict(scale_factor=1.6, align_corners=False)),
    ("bicubic", (1, 1, 4, 5), dict(size=(6, 3), align_corners=True)),
    ("trilinear", (1, 1, 3, 4, 2), dict(scale_factor=(1.5, 0.75, 2.0))),
    ("area", (1, 2, 7, 5), dict(size=(3, 4))),
]


@pytest.mark.parametrize("mode,shape,kwargs", INTERP_CASES, ids=[f"{m}-{len(s) - 2}d-{k}" for m, s, k in INTERP_CASES])
def test_interpolate_matches_torch(mode, shape, kwargs):
    def program(lib, F, x):
        return F.interpolate(x, mode=mode, **kwargs)

    assert compare(program, [(_normal(shape), True)]) == "ok"


@pytest.mark.parametrize("mode,shape,kwargs", INTERP_CASES[::3], ids=[str(i) for i in range(0, len(INTERP_CASES), 3)])
def test_upsample_layer_matches_torch(mode, shape, kwargs):
    ours, theirs = _pair("Upsample", mode=mode, dtype=False, **kwargs)
    _run_modules(ours, theirs, [_normal(shape)])


@pytest.mark.parametrize("name", ["UpsamplingBilinear2d", "UpsamplingNearest2d"])
@pytest.mark.parametrize("kwargs", [dict(scale_factor=1.5), dict(size=(3, 7)), dict(scale_factor=2)])
def test_fixed_mode_upsampling_layers_match_torch(name, kwargs):
    ours, theirs = _pair(name, dtype=False, **kwargs)
    _run_modules(ours, theirs, [_normal((2, 1, 4, 5))])


# ----- adaptive average pooling, GroupNorm -----

ADAPTIVE_CASES = [
    ("adaptive_avg_pool1d", (2, 3, 7), 3),
    ("adaptive_avg_pool1d", (2, 3, 5), 7),
    ("adaptive_avg_pool1d", (3, 7), 4),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), (3, 2)),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), (None, 3)),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), (4, None)),
    ("adaptive_avg_pool2d", (3, 5, 6), 4),
    ("adaptive_avg_pool2d", (1, 2, 3, 4), (5, 6)),
    ("adaptive_avg_pool3d", (1, 2, 5, 4, 3), (2, None, 2)),
    ("adaptive_max_pool2d", (2, 3, 7, 5), (3, None)),
]


@pytest.mark.parametrize("fn,shape,size", ADAPTIVE_CASES, ids=[f"{f}-{s}-{o}" for f, s, o in ADAPTIVE_CASES])
def test_adaptive_pool_matches_torch(fn, shape, size):
    def program(lib, F, x):
        return getattr(F, fn)(x, size)

    assert compare(program, [(_normal(shape), True)]) == "ok"


@pytest.mark.parametrize(
    "groups,channels,shape,options",
    [
        (2, 4, (3, 4, 5), dict()),
        (4, 4, (2, 4, 3, 2), dict()),  # groups == channels
        (1, 6, (2, 6, 3), dict(eps=1e-2)),
        (3, 6, (2, 6), dict(affine=False)),
        (2, 6, (2, 6, 2, 2, 2), dict(eps=0.5, affine=False)),
    ],
)
def test_group_norm_matches_torch(groups, channels, shape, options):
    ours, theirs = _pair("GroupNorm", groups, channels, **options)
    _run_modules(ours, theirs, [_normal(shape) * 3 + 1])


# ----- einsum, tril/triu, masked_fill, bmm/baddbmm -----

EINSUM_CASES = [
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ii->", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->ij", [(3, 2, 3)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,ij", [(2, 3), (2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (5, 3, 2)]),
    ("...ij,jk", [(2, 3, 2, 3), (3, 4)]),
    ("ij,kj->ik", [(1, 3), (4, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i...->...", [(3, 2, 2)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 3), (3, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    # size-1 dimensions broadcast against the same subscript's larger size
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("ii,ij->ij", [(1, 1), (3, 2)]),
    ("ij,ij->", [(1, 3), (2, 1)]),
    ("ab,ab,ab->a", [(2, 1), (1, 3), (2, 3)]),
    ("iij,j->ij", [(2, 2, 1), (3,)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[e for e, _ in EINSUM_CASES])
def test_einsum_matches_torch(eq, shapes):
    def program(lib, F, *xs):
        return lib.einsum(eq, *xs)

    assert compare(program, [(_normal(s, i), True) for i, s in enumerate(shapes)], second=True) == "ok"


@pytest.mark.parametrize("fn", ["tril", "triu"])
@pytest.mark.parametrize("diagonal", [-5, -2, -1, 0, 1, 3, 6])
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 3, 4, 4)])
def test_tril_triu_match_torch(fn, diagonal, shape):
    def program(lib, F, x):
        return getattr(lib, fn)(x, diagonal), getattr(x, fn)(diagonal=diagonal)

    assert compare(program, [(_normal(shape), True)]) == "ok"


@pytest.mark.parametrize(
    "shape,mask_shape",
    [((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (1, 4)), ((2, 3, 4), (2, 1, 1)), ((3, 4), ()), ((3, 4), (3, 4))],
)
@pytest.mark.parametrize("value", ["float", "tensor", "grad-tensor"])
def test_masked_fill_matches_torch(shape, mask_shape, value):
    mask = np.random.default_rng(3).random(mask_shape) > 0.5

    def program(lib, F, x, m, *v):
        fill = v[0] if v else -2.5
        return lib.masked_fill(x, m, fill) + x.masked_fill(m, fill) * 2

    inputs = [(_normal(shape), True), (np.asarray(mask), False)]
    if value != "float":
        inputs.append((np.asarray(1.5), value == "grad-tensor"))
    assert compare(program, inputs) == "ok"


@pytest.mark.parametrize(
    "in_shape,alpha,beta",
    [
        ((2, 3, 4), 1, 1),
        ((2, 3, 4), 0.5, 2.0),
        ((3, 4), -1.5, 0.25),
        ((1, 4), 2.0, -1.0),
        ((3, 1), 1, 0.5),
        ((2, 3, 4), 2.0, 0.0),
        ((), 0.0, 3.0),
    ],
)
def test_baddbmm_matches_torch(in_shape, alpha, beta):
    def program(lib, F, inp, a, b):
        return lib.baddbmm(inp, a, b, beta=beta, alpha=alpha), inp.baddbmm(a, b, alpha=alpha, beta=beta), lib.bmm(a, b)

    inputs = [(_normal(in_shape, 0), True), (_normal((2, 3, 5), 1), True), (_normal((2, 5, 4), 2), True)]
    assert compare(program, inputs, second=True) == "ok"


def test_baddbmm_beta_zero_ignores_nan_input_as_torch():
    """beta=0: torch documents that input is ignored (nan and inf in it are not propagated)."""

    def program(lib, F, inp, a, b):
        return lib.baddbmm(inp, a, b, beta=0.0, alpha=1.5)

    inp = np.full((2, 3, 4), np.nan)
    assert compare(program, [(inp, False), (_normal((2, 3, 5), 1), True), (_normal((2, 5, 4), 2), True)]) == "ok"


# ----- nn.RNN / GRU / LSTM -----

RNN_CASES = [
    ("RNN", dict(nonlinearity="relu", bias=False)),
    ("RNN", dict(num_layers=2, bidirectional=True, batch_first=True, nonlinearity="relu")),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False, bidirectional=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(bias=False, num_layers=2)),
]


@pytest.mark.parametrize("proj_size", [0, 3])
def test_lstm_proj_size_is_refused_not_ignored(proj_size):
    """proj_size is not supported: it must be refused (an ignored proj_size would give hidden states of the wrong
    size and values); proj_size=0 is the plain LSTM."""
    if proj_size:
        with pytest.raises(NotImplementedError, match="proj_size"):
            nn.LSTM(4, 5, proj_size=proj_size)
    else:
        ours, theirs = _pair("LSTM", 4, 5, proj_size=0)
        _run_recurrent(ours, theirs, [_normal((3, 2, 4))])


@pytest.mark.parametrize("layout", ["batched", "unbatched"])
@pytest.mark.parametrize("state", [False, True], ids=["no-h0", "h0"])
@pytest.mark.parametrize("cls,options", RNN_CASES, ids=[f"{c}-{o}" for c, o in RNN_CASES])
def test_recurrent_matches_torch(cls, options, state, layout):
    hidden, size, seq, batch = 5, 4, 3, 2
    ours, theirs = _pair(cls, size, hidden, **options)
    count = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    lead = () if layout == "unbatched" else (batch,)
    if layout == "unbatched":
        x = _normal((seq, size))
    else:
        x = _normal((batch, seq, size) if options.get("batch_first") else (seq, batch, size))
    arrays = [x]
    if state:  # h0 and c0 are (layers * directions, N, H) even with batch_first
        h0 = _normal((count,) + lead + (hidden,), 7)
        if cls == "LSTM":
            c0 = _normal((count,) + lead + (hidden,), 8)
            arrays = [x, (h0, c0)]
        else:
            arrays = [x, h0]
    _run_recurrent(ours, theirs, arrays)


def _run_recurrent(ours, theirs, arrays):
    """Like _run_modules, with the LSTM's (h0, c0) tuple as one argument."""
    leaves = [a for item in arrays for a in (item if isinstance(item, tuple) else (item,))]
    cx = [cr.tensor(a, requires_grad=True) for a in leaves]
    tx = [torch.tensor(a, requires_grad=True) for a in leaves]

    def args(ts):
        out, i = [], 0
        for item in arrays:
            if isinstance(item, tuple):
                out.append(tuple(ts[i : i + len(item)]))
                i += len(item)
            else:
                out.append(ts[i])
                i += 1
        return out

    outs, touts = _flat(ours(*args(cx))), _flat(theirs(*args(tx)))
    assert len(outs) == len(touts)
    for i, (o, t) in enumerate(zip(outs, touts)):
        check_close(o, t, f"output {i}", RTOL, ATOL)
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal(tuple(t.shape)) for t in touts]
    sum((o * cr.tensor(w)).sum() for o, w in zip(outs, ws)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(touts, ws)).backward()
    for i, (a, b) in enumerate(zip(cx, tx)):
        check_close(a.grad, b.grad, f"grad of input {i}", RTOL, ATOL)
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        check_close(p.grad, tparams[name].grad, f"grad of {name}", RTOL, ATOL)


# ----- second round: learnable masks, refusals that must match, less common call forms -----


@pytest.mark.parametrize("mask_shape", [(3, 5), (2, 1, 3, 5), (1, 3, 1, 5)])
def test_sdpa_float_mask_that_requires_grad_matches_torch(mask_shape):
    """A learned additive bias (relative positions, ALiBi) passed as attn_mask gets its gradient, as in torch."""

    def program(lib, F, q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.4)

    shapes = [(2, 3, 3, 4), (2, 3, 5, 4), (2, 3, 5, 2)]
    inputs = [(_normal(s, i), True) for i, s in enumerate(shapes)] + [(_normal(mask_shape, 9), True)]
    assert compare(program, inputs, second=True) == "ok"


@pytest.mark.parametrize("call", ["mask-float-2d", "mask-float-3d", "float-mask+bool-kpm", "kpm-float"])
@pytest.mark.parametrize("options", ["default", "bias_kv", "zero_attn"])
def test_mha_float_masks_that_require_grad_match_torch(options, call):
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    kwargs = MHA_CALLS[call]
    name = "attn_mask" if "attn_mask" in kwargs and kwargs["attn_mask"].dtype.kind == "f" else "key_padding_mask"
    arr = kwargs[name]
    cm, tm = cr.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    rest = {k: v for k, v in kwargs.items() if k != name}
    xs = _mha_inputs(opts)
    out = ours(*[cr.tensor(a) for a in xs], **{name: cm}, **{k: _arg(v, cr) for k, v in rest.items()})
    tout = theirs(*[torch.tensor(a) for a in xs], **{name: tm}, **{k: _arg(v, torch) for k, v in rest.items()})
    w = _normal(tuple(tout[0].shape), 4)
    check_close(out[0], tout[0], "output", RTOL, ATOL)
    (out[0] * cr.tensor(w)).sum().backward()
    (tout[0] * torch.tensor(w)).sum().backward()
    check_close(cm.grad, tm.grad, f"grad of {name}", RTOL, ATOL)


REFUSALS = {
    "sdpa-float32-mask-float64-q": (
        lambda lib, F, q: F.scaled_dot_product_attention(q, q, q, attn_mask=q[0, :, :].float()),
        (2, 3, 4),
    ),
    "interpolate-nearest-align_corners": (
        lambda lib, F, x: F.interpolate(x, scale_factor=2, mode="nearest", align_corners=True),
        (1, 1, 3),
    ),
    "interpolate-size-and-scale": (lambda lib, F, x: F.interpolate(x, size=4, scale_factor=2.0), (1, 1, 3)),
    "interpolate-bilinear-on-3d": (lambda lib, F, x: F.interpolate(x, size=4, mode="bilinear"), (1, 1, 3)),
    "interpolate-size-with-recompute": (
        lambda lib, F, x: F.interpolate(x, size=4, mode="linear", recompute_scale_factor=True),
        (1, 1, 3),
    ),
    "conv_transpose-padding-too-large": (
        lambda lib, F, x: F.conv_transpose1d(x, x[:, :, :2].transpose(0, 1), padding=3),
        (1, 2, 3),
    ),
    "interpolate-wrong-size-length": (lambda lib, F, x: F.interpolate(x, size=(4, 5)), (1, 1, 3)),
    "conv_transpose-padding-same": (
        lambda lib, F, x: F.conv_transpose1d(x, x[:1, :, :2].transpose(0, 1), padding="same"),
        (1, 2, 4),
    ),
    "conv_transpose-groups-not-dividing": (
        lambda lib, F, x: F.conv_transpose1d(x, x[:, :3, :2].reshape(3, 2, 1), groups=2),
        (1, 3, 4),
    ),
    "masked_fill-int-mask": (lambda lib, F, x: x.masked_fill((x > 0).to(lib.int64), 0.0), (3, 4)),
    "baddbmm-input-not-broadcasting": (lambda lib, F, x: lib.baddbmm(x[:, :2], x, x.transpose(1, 2)), (2, 3, 3)),
    "bmm-2d": (lambda lib, F, x: lib.bmm(x, x), (3, 3)),
    "einsum-output-index-twice": (lambda lib, F, x: lib.einsum("i->ii", x), (3,)),
    "einsum-repeated-index-sizes-differ": (lambda lib, F, x: lib.einsum("ii->i", x), (2, 3)),
    "einsum-unknown-output-index": (lambda lib, F, x: lib.einsum("ij->k", x), (2, 3)),
    "tril-1d": (lambda lib, F, x: lib.tril(x), (3,)),
    "group_norm-groups-not-dividing": (lambda lib, F, x: F.group_norm(x, 4), (2, 6, 3)),
    "adaptive_avg_pool2d-3-sizes": (lambda lib, F, x: F.adaptive_avg_pool2d(x, (2, 2, 2)), (1, 2, 4, 4)),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_match_torch(case):
    program, shape = REFUSALS[case]
    assert compare(program, [(_normal(shape), True)]) == "refused"


MORE_CASES = {
    "einsum-sublist": (lambda lib, F, a, b: lib.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 4)]),
    "einsum-spaces-upper": (lambda lib, F, a, b: lib.einsum("iJ, Jk -> ki", a, b), [(2, 3), (3, 4)]),
    "einsum-ellipsis-middle": (lambda lib, F, a: lib.einsum("i...j->j...i", a), [(2, 3, 1, 4)]),
    "einsum-list-operands": (lambda lib, F, a, b: lib.einsum("ij,jk->ik", [a, b]), [(2, 3), (3, 4)]),
    "einsum-broadcast-ellipsis-size1": (lambda lib, F, a, b: lib.einsum("...i,...i->...", a, b), [(3, 1, 4), (2, 4)]),
    "group_norm-weight-only": (lambda lib, F, x, w: F.group_norm(x, 2, w), [(2, 4, 3), (4,)]),
    "masked_fill-mask-wider": (lambda lib, F, x: x.masked_fill(lib.ones(2, 3, 4, dtype=lib.bool), 0.0), [(3, 4)]),
    "layer_norm-2d-shape": (lambda lib, F, x, w: F.layer_norm(x, (3, 4), w), [(2, 3, 4), (3, 4)]),
    "adaptive_max_pool1d-indices": (lambda lib, F, x: F.adaptive_max_pool1d(x, 3, return_indices=True), [(2, 3, 7)]),
    "interpolate-antialias-down": (
        lambda lib, F, x: F.interpolate(x, size=(3, 2), mode="bilinear", antialias=True),
        [(1, 2, 7, 5)],
    ),
    "interpolate-antialias-bicubic": (
        lambda lib, F, x: F.interpolate(x, scale_factor=0.45, mode="bicubic", antialias=True, align_corners=True),
        [(1, 1, 9, 7)],
    ),
    "interpolate-scale-list": (
        lambda lib, F, x: F.interpolate(x, scale_factor=[1.5, 0.5], mode="bilinear"),
        [(1, 1, 4, 6)],
    ),
    "conv_transpose2d-functional": (
        lambda lib, F, x, w, b: F.conv_transpose2d(
            x, w, b, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2)
        ),
        [(1, 4, 3, 3), (4, 2, 2, 3), (4,)],
    ),
    "tril-negative-batched-wide": (lambda lib, F, x: x.tril(-1) + x.triu(2), [(2, 1, 3, 6)]),
    "masked_fill-scalar-mask": (lambda lib, F, x: x.masked_fill(lib.tensor(True), 3.0), [(2, 3)]),
    "bmm-broadcast-refused": (lambda lib, F, a, b: lib.bmm(a, b), [(1, 2, 3), (2, 3, 4)]),
}


@pytest.mark.parametrize("case", list(MORE_CASES))
def test_more_call_forms_match_torch(case):
    program, shapes = MORE_CASES[case]
    assert compare(program, [(_normal(s, i), True) for i, s in enumerate(shapes)]) in ("ok", "refused")


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bad", ["unbatched-x-batched-h", "batched-x-unbatched-h", "h-wrong-layers"])
def test_recurrent_state_shape_refusals_match_torch(cls, bad):
    ours, theirs = _pair(cls, 4, 5, num_layers=2)
    x = _normal((3, 4)) if bad == "unbatched-x-batched-h" else _normal((3, 1, 4))
    h_shape = {"unbatched-x-batched-h": (2, 1, 5), "batched-x-unbatched-h": (2, 5), "h-wrong-layers": (1, 1, 5)}[bad]
    h = _normal(h_shape, 1)

    def state(lib):
        t = _arg(h, lib)
        return (t, t) if cls == "LSTM" else t

    with pytest.raises(Exception) as theirs_err:
        theirs(torch.tensor(x), state(torch))
    with pytest.raises(Exception) as ours_err:
        ours(cr.tensor(x), state(cr))
    assert theirs_err.type is RuntimeError or theirs_err.type is ValueError
    assert ours_err.type in (RuntimeError, ValueError)


SECOND_ORDER = {
    "conv_transpose1d": (
        lambda lib, F, x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, dilation=2),
        [(2, 2, 4), (2, 3, 3), (3,)],
    ),
    "conv_transpose2d-groups": (
        lambda lib, F, x, w: F.conv_transpose2d(x, w, stride=(2, 1), padding=(0, 1), groups=2),
        [(1, 4, 3, 3), (4, 1, 2, 3)],
    ),
    "group_norm": (lambda lib, F, x, w, b: F.group_norm(x, 3, w, b, 1e-2), [(2, 6, 3), (6,), (6,)]),
    "sdpa-causal-bool": (
        lambda lib, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.8),
        [(2, 4, 3), (2, 3, 3), (2, 3, 2)],
    ),
    "interpolate-bicubic-times-x": (
        lambda lib, F, x: F.interpolate(x, scale_factor=1.5, mode="bicubic") ** 2,
        [(1, 1, 3, 4)],
    ),
    "adaptive_avg_pool2d-squared": (lambda lib, F, x: F.adaptive_avg_pool2d(x * x, (3, None)), [(1, 2, 5, 3)]),
    "baddbmm-squared": (
        lambda lib, F, i, a, b: lib.baddbmm(i, a * a, b, alpha=0.5, beta=-2.0),
        [(3, 1), (2, 3, 4), (2, 4, 1)],
    ),
}


@pytest.mark.parametrize("case", list(SECOND_ORDER))
def test_second_order_matches_torch(case):
    program, shapes = SECOND_ORDER[case]
    assert compare(program, [(_normal(s, i), True) for i, s in enumerate(shapes)], second=True) == "ok"


def _recurrent_program(cls, options, weights):
    def program(lib, F, x, h):
        layer = getattr(lib.nn, cls)(4, 3, dtype=lib.float64, **options)
        layer.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        state = (h, h * 0.5) if cls == "LSTM" else h
        out, hn = layer(x, state)
        return out, (hn if cls != "LSTM" else hn[1])

    return program


@pytest.mark.parametrize(
    "cls,options",
    [
        ("RNN", dict(nonlinearity="relu", bidirectional=True)),
        ("RNN", dict(num_layers=2)),
        ("GRU", dict(bidirectional=True, batch_first=True)),
        ("LSTM", dict(num_layers=2, bias=False)),
    ],
)
def test_recurrent_second_order_matches_torch(cls, options):
    """The derivatives of the input and state gradients (ops/rnn_higher.py) equal torch's."""
    theirs = getattr(torch.nn, cls)(4, 3, dtype=torch.float64, **options)
    rng = np.random.default_rng(2)
    weights = {k: 0.6 * rng.standard_normal(tuple(v.shape)) for k, v in theirs.state_dict().items()}
    count = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    x = _normal((2, 3, 4) if options.get("batch_first") else (3, 2, 4))
    h = _normal((count, 2, 3), 1)
    assert compare(_recurrent_program(cls, options, weights), [(x, True), (h, True)], second=True) == "ok"


def test_transformer_model_matches_torch():
    options = dict(dropout=0.0, dim_feedforward=FF, num_encoder_layers=1, num_decoder_layers=2, norm_first=True)
    theirs = torch.nn.Transformer(D, NHEAD, dtype=torch.float64, activation="gelu", **options)
    ours = nn.Transformer(D, NHEAD, dtype=cr.float64, activation="gelu", **options)
    _randomize(ours, 6)
    to_torch_weights(ours, theirs)
    tm = _decoder_masks(4, 5, 2)["all"]
    masks = dict(
        src_mask=_encoder_masks(5, 2)["float"]["src_mask"],
        src_key_padding_mask=tm.pop("memory_key_padding_mask"),
        tgt_mask=tm["tgt_mask"],
        tgt_key_padding_mask=tm["tgt_key_padding_mask"],
    )
    masks["memory_key_padding_mask"] = masks["src_key_padding_mask"]
    _run_modules(ours, theirs, [_normal((5, 2, D), 1), _normal((4, 2, D), 2)], **masks)


@pytest.mark.parametrize("fn", ["tril_", "triu_"])
@pytest.mark.parametrize("diagonal", [-1, 2])
def test_inplace_tril_triu_and_masked_fill_on_views_match_torch(fn, diagonal):
    mask = np.random.default_rng(1).random((1, 4)) > 0.5

    def program(lib, F, x, m):
        y = x * 1.5
        view = y.transpose(-1, -2)[1:]  # a non-contiguous view
        getattr(view, fn)(diagonal)
        y[0].masked_fill_(m, -1.0)
        return y

    assert compare(program, [(_normal((2, 4, 4)), True), (mask, False)]) == "ok"


@pytest.mark.parametrize(
    "q_shape,mask_shape",
    [((3, 4), (2, 3, 5)), ((2, 3, 4), (3, 1, 3, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 1, 5)), ((3, 4), (5,))],
)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_mask_that_would_enlarge_the_output_is_refused_as_torch(q_shape, mask_shape, kind):
    """Was: a mask with more (or larger) batch dims than the scores was broadcast into them, so the output
    silently gained dims ((3, 2) query rows came back as (2, 3, 2)); torch refuses it."""
    mask = np.random.default_rng(0).random(mask_shape)
    mask = mask > 0.3 if kind == "bool" else mask

    def program(lib, F, q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    k_shape = q_shape[:-2] + (5, 4)
    inputs = [(_normal(q_shape), True), (_normal(k_shape, 1), True), (_normal(k_shape[:-1] + (2,), 2), True)]
    assert compare(program, inputs + [(mask, False)]) in ("ok", "refused")


@pytest.mark.parametrize(
    "shape", [(1, S), (L, 1), (1, 1), (N * H, 1, S), (N * H, L, 1), (1, L, S), (N, L, S), (L, S), (N * H, L, S)]
)
@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("options", ["default", "bias_kv"])
def test_mha_attn_mask_shape_checked_as_torch(options, kind, shape):
    """Was: a 2-D or 3-D attn_mask with a 1 where torch wants L or S was broadcast and used; torch refuses it
    (a (1, S) mask meant for one decoding step, given to L queries, silently masked every query alike)."""
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    mask = np.random.default_rng(0).random(shape)
    mask = mask > 0.7 if kind == "bool" else mask
    xs = _mha_inputs(opts)
    outcomes = []
    for lib, module in ((cr, ours), (torch, theirs)):
        try:
            outcomes.append(module(*[_arg(a, lib) for a in xs], attn_mask=_arg(mask, lib))[0])
        except RuntimeError:
            outcomes.append(None)
    assert (outcomes[0] is None) == (outcomes[1] is None), outcomes
    if outcomes[1] is not None:
        check_close(outcomes[0], outcomes[1], "output", RTOL, ATOL)


@pytest.mark.parametrize("which", ["key-value-batch-1", "query-batch-1", "value-batch-1", "value-shorter"])
@pytest.mark.parametrize("options", ["default", "kdim-vdim", "batch_first"])
def test_mha_inputs_that_only_broadcast_are_refused_as_torch(options, which):
    """Was: a key/value (or query) of batch size 1 was broadcast against the other's batch by the matmuls and
    gave an answer; torch refuses these shapes."""
    opts = MHA_OPTIONS[options]
    ours, theirs = _pair("MultiheadAttention", E, H, **opts)
    kdim, vdim = opts.get("kdim", E), opts.get("vdim", E)
    nq, nk, nv, sv = {
        "key-value-batch-1": (N, 1, 1, S),
        "query-batch-1": (1, N, N, S),
        "value-batch-1": (N, N, 1, S),
        "value-shorter": (N, N, N, S - 1),
    }[which]

    def layout(t, n, d):
        return (n, t, d) if opts.get("batch_first") else (t, n, d)

    shapes = [layout(L, nq, E), layout(S, nk, kdim), layout(sv, nv, vdim)]
    xs = [_normal(s, i) for i, s in enumerate(shapes)]
    with pytest.raises((RuntimeError, AssertionError)):
        theirs(*[torch.tensor(a) for a in xs])
    with pytest.raises(RuntimeError, match="MultiheadAttention"):
        ours(*[cr.tensor(a) for a in xs])


@pytest.mark.parametrize("bias_shape", [(1,), (6,), (3, 1), ()])
@pytest.mark.parametrize("fn", ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"])
def test_conv_bias_of_the_wrong_shape_is_refused_as_torch(fn, bias_shape):
    """Was: a bias of one element was broadcast over every output channel; torch wants exactly (out_channels,)."""
    d = int(fn[-2])
    transposed = "transpose" in fn
    w_shape = ((2, 3) if transposed else (3, 2)) + (2,) * d

    def program(lib, F, x, w, b):
        return getattr(F, fn)(x, w, b)

    inputs = [(_normal((1, 2) + (4,) * d), True), (_normal(w_shape, 1), True), (_normal(bias_shape, 2), True)]
    assert compare(program, inputs) == "refused"


@pytest.mark.parametrize("bias_shape", [(1,), ()])
def test_linear_bias_that_broadcasts_matches_torch(bias_shape):
    def program(lib, F, x, w, b):
        return F.linear(x, w, b)

    inputs = [(_normal((2, 3)), True), (_normal((4, 3), 1), True), (_normal(bias_shape, 2), True)]
    assert compare(program, inputs) == "ok"
