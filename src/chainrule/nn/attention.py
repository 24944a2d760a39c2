"""Attention: scaled_dot_product_attention (nn.functional) and nn.MultiheadAttention, as PyTorch's.

Both are composites of primitives (Linear, matmul, softmax, where, dropout), so they differentiate
to any order and trace under jit. MultiheadAttention keeps torch's parameter names and layouts
(in_proj_weight, in_proj_bias, q/k/v_proj_weight, bias_k, bias_v, out_proj), so a torch
state_dict loads unchanged.

Masks follow torch: scaled_dot_product_attention's boolean attn_mask keeps the positions where it
is True; MultiheadAttention's boolean attn_mask and key_padding_mask are the opposite (True means
"do not attend"). Float masks are added to the scores. A row that may attend to nothing gives
zeros from scaled_dot_product_attention (torch's "safe softmax") and NaN from MultiheadAttention
when need_weights=True, as torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from .._device import check as _check_device
from ..ops._util import as_array, is_tensor
from ..ops.elementwise import where
from ..ops.linalg import Linear as _Linear
from ..ops.linalg import matmul
from ..ops.nn import softmax
from ..ops.shape import cat, expand, reshape, transpose
from ..tensor import Tensor
from . import init
from .functional import dropout
from .linear import Linear, _check_sizes
from .module import Module, Parameter

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._device import device as Device


def _shape(x):
    return tuple(np.shape(as_array(x)))


def _dtype_of(x):
    return np.asarray(as_array(x)).dtype


def _causal_keep(rows, cols):
    """The lower-triangular (rows, cols) boolean mask: query i attends to keys 0..i (torch's tril of ones)."""
    return np.tri(rows, cols, dtype=bool)


def _attend(query, key, value, bias, keep, dropout_p, scale, safe):
    """softmax(q k^T * scale + mask) v, with the attention weights.

    `keep` is a boolean array (True = attend) or None; `bias` a float mask (array or Tensor) or
    None. `safe`: rows that can attend to nothing give zero weights (torch's scaled_dot_product_attention)
    instead of softmax's NaN (torch's MultiheadAttention with need_weights=True).
    """
    # Scaling q (L x E) rather than the scores (L x S): fewer multiplies when E < S, same math.
    scores = matmul(query * scale, transpose(key, -2, -1))
    dead = None
    if keep is not None:
        scores = where(keep, scores, -math.inf)
        dead = ~keep.any(axis=-1, keepdims=True)
    if bias is not None:
        scores = scores + bias
        blocked = np.isneginf(as_array(bias)).all(axis=-1, keepdims=True)
        dead = blocked if dead is None else dead | blocked
    if dead is not None and dead.any():
        if safe:
            # Such a row's softmax is 0/0; give it finite scores, then zero its weights, so that its
            # output and every gradient through it are 0, as torch's safe softmax.
            weights = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
        else:
            with np.errstate(invalid="ignore"):  # NaN rows, silently, as torch
                weights = softmax(scores, -1)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return matmul(weights, value), weights


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q K^T * scale + M) V for Q (..., L, E), K (..., S, E), V (..., S, Ev); out (..., L, Ev).

    scale defaults to 1/sqrt(E). attn_mask: boolean (True = may attend; False positions get weight 0)
    or float (added to the scores), broadcasting to (..., L, S). is_causal: query i attends to keys
    0..i (the lower-triangular mask). dropout_p > 0 drops attention weights (always: pass
    `dropout_p if self.training else 0.0`, as with torch). enable_gqa: K and V may have fewer heads
    (dim -3) than Q, each shared by a group of query heads. A query row that may attend to nothing
    gives zeros (and zero gradients), as torch.

    Example:
        >>> q = k = v = chainrule.randn(2, 4, 8, 16)           # (batch, heads, seq, head dim)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        (2, 4, 8, 16)
    """
    qs, ks, vs = _shape(query), _shape(key), _shape(value)
    if min(len(qs), len(ks), len(vs)) < 2 or qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise RuntimeError(
            "scaled_dot_product_attention: expected query (..., L, E), key (..., S, E) and value (..., S, Ev), "
            f"got shapes {qs}, {ks} and {vs}; query and key must share E and key and value S."
        )
    dtypes = {_dtype_of(query), _dtype_of(key), _dtype_of(value)}
    if len(dtypes) != 1:
        raise RuntimeError(
            "scaled_dot_product_attention: expected query, key, and value to have the same dtype, but got "
            f"query.dtype: {_dtype_of(query)}, key.dtype: {_dtype_of(key)} and value.dtype: {_dtype_of(value)}; "
            "convert them to one dtype first."
        )
    if enable_gqa and len(qs) >= 3 and qs[-3] != ks[-3]:
        key, value = _repeat_heads(key, qs[-3]), _repeat_heads(value, qs[-3])
    if scale is None:
        scale = 1.0 / math.sqrt(qs[-1]) if qs[-1] else 1.0
    keep = bias = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True; "
                "pass one or the other (fold the causal mask into attn_mask to combine them)."
            )
        keep = _causal_keep(qs[-2], ks[-2])
    elif attn_mask is not None:
        mask_dtype = _dtype_of(attn_mask)
        if mask_dtype == np.bool_:
            keep = np.asarray(as_array(attn_mask))
        elif mask_dtype == _dtype_of(query):
            bias = attn_mask
        else:
            raise RuntimeError(
                f"scaled_dot_product_attention: Expected attn_mask dtype to be bool or float or to match "
                f"query dtype, got attn_mask.dtype: {mask_dtype} and query.dtype: {_dtype_of(query)}; convert "
                "the mask with .bool() or .to(query.dtype)."
            )
        _check_mask_shape(_shape(attn_mask), qs, _shape(key))
    out, _ = _attend(query, key, value, bias, keep, float(dropout_p), float(scale), safe=True)
    return out


def _check_mask_shape(mask_shape, qs, ks):
    """attn_mask must broadcast to the scores' shape (..., L, S) without enlarging it, as torch requires
    (a mask with more or larger batch dims would otherwise silently add dims to the output)."""
    try:
        scores = np.broadcast_shapes(qs[:-2], ks[:-2]) + (qs[-2], ks[-2])
    except ValueError:
        return  # query and key do not broadcast: matmul names the shapes
    try:
        ok = np.broadcast_shapes(scores, mask_shape) == scores
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"scaled_dot_product_attention: attn_mask of shape {mask_shape} does not broadcast to the attention "
            f"weights' shape {scores} (query {qs}, key {ks}); give the mask at most the weights' dims, each 1 or "
            "the weights' size."
        )


def _repeat_heads(x, heads):
    """x (..., Hk, S, E) with each head repeated to make `heads` (torch's repeat_interleave on dim -3)."""
    s = _shape(x)
    if heads % s[-3]:
        raise RuntimeError(
            f"scaled_dot_product_attention: with enable_gqa=True the query's {heads} heads must be a multiple "
            f"of the key's and value's {s[-3]} heads (dim -3)."
        )
    group = heads // s[-3]
    x = reshape(x, s[:-2] + (1,) + s[-2:])
    return reshape(expand(x, s[:-2] + (group,) + s[-2:]), s[:-3] + (heads,) + s[-2:])


def _float_mask(mask, name, dtype, op="MultiheadAttention"):
    """A mask as an additive float mask in `dtype` (torch's _canonical_mask): True (masked) -> -inf."""
    if mask is None:
        return None
    mask_dtype = _dtype_of(mask)
    if mask_dtype == np.bool_:
        return np.where(np.asarray(as_array(mask)), -np.inf, 0.0).astype(dtype)
    if mask_dtype.kind != "f":
        raise RuntimeError(f"{op}: only bool and floating types of {name} are supported, got {mask_dtype}")
    return mask


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017), torch.nn.MultiheadAttention's parameters and forward.

    out = concat_h(softmax(Q_h K_h^T / sqrt(d) + M) V_h) W_o^T + b_o, with Q_h, K_h, V_h the heads of
    the projections query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v (rows of in_proj_weight, or
    q/k/v_proj_weight when kdim or vdim differ from embed_dim), d = embed_dim / num_heads.

    Inputs are (L, N, E) (or (N, L, E) with batch_first=True, or unbatched (L, E)). forward returns
    (output, weights): weights (N, L, S) averaged over heads, (N, H, L, S) with
    average_attn_weights=False, or None with need_weights=False.

    Example:
        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = chainrule.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)          # (2, 5, 16), (2, 5, 5)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and num_heads={num_heads} "
                "instead"
            )
        _check_sizes(type(self).__name__, embed_dim=embed_dim)
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.head_dim = self.embed_dim // self.num_heads
        if self.head_dim * self.num_heads != self.embed_dim:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and num_heads={num_heads}"
            )
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        e = self.embed_dim

        def param(*shape):
            return Parameter(np.zeros(shape, dtype=dt))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * e, e)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = param(e, e)
            self.k_proj_weight = param(e, self.kdim)
            self.v_proj_weight = param(e, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * e)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = param(1, 1, e)
            self.bias_v = param(1, 1, e)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's: xavier_uniform_ projections, zero biases, xavier_normal_ bias_k and bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, x, which):
        """x W_which^T + b_which (which = 0, 1, 2 for q, k, v)."""
        e = self.embed_dim
        b = self.in_proj_bias
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight[which * e : (which + 1) * e]
        else:
            w = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[which]
        if b is None:
            return _Linear.apply(x, w)
        return _Linear.apply(x, w, b[which * e : (which + 1) * e])

    def _heads(self, x, seq_first):
        """(N, T, E), or (T, N, E) when seq_first, -> (N, H, T, D), a view."""
        s = _shape(x)
        x = reshape(x, s[:2] + (self.num_heads, self.head_dim))
        return x.permute(1, 2, 0, 3) if seq_first else transpose(x, 1, 2)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        qs, ks, vs = _shape(query), _shape(key), _shape(value)
        batched = len(qs) == 3
        if len(qs) not in (2, 3) or len(ks) != len(qs) or len(vs) != len(qs):
            raise RuntimeError(
                f"{type(self).__name__}: query, key and value must all be 3-D (batched) or 2-D (unbatched), got "
                f"shapes {qs}, {ks} and {vs}"
            )
        if qs[-1] != self.embed_dim or ks[-1] != self.kdim or vs[-1] != self.vdim:
            raise RuntimeError(
                f"{type(self).__name__}: expected query, key and value with {self.embed_dim}, {self.kdim} and "
                f"{self.vdim} features (embed_dim, kdim, vdim), got shapes {qs}, {ks} and {vs}"
            )
        if ks[:-1] != vs[:-1] or (batched and qs[1 - self.batch_first] != ks[1 - self.batch_first]):
            raise RuntimeError(
                f"{type(self).__name__}: key and value must have the same sequence and batch dims, and query the "
                f"same batch size (no broadcasting, as torch), got shapes {qs}, {ks} and {vs}"
            )
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
                "`generate_square_subsequent_mask` to create this mask."
            )
        # The projections run in the input's own layout (no copy of a transposed input); the heads
        # are then (N, H, T, D) views. seq_first: (T, N, E), torch's default layout.
        seq_first = batched and not self.batch_first
        if not batched:
            query, key, value = (reshape(t, (1,) + _shape(t)) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = as_array(key_padding_mask).reshape(1, -1)
        seq, batch = (0, 1) if seq_first else (1, 0)
        n, tgt_len, src_len = _shape(query)[batch], _shape(query)[seq], _shape(key)[seq]
        if key_padding_mask is not None and _shape(key_padding_mask) != (n, src_len):
            raise RuntimeError(
                f"{type(self).__name__}: expecting key_padding_mask shape of {(n, src_len)}, but got "
                f"{_shape(key_padding_mask)}"
            )
        dtype = _dtype_of(query)
        attn_mask = _float_mask(attn_mask, "attn_mask", dtype)
        key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", dtype)
        # torch then trusts the hint and attends causally, whatever attn_mask holds, over the keys
        # as they are after bias_k and the zero key are appended (the mask is built below).
        causal = is_causal and key_padding_mask is None and not need_weights
        if causal:
            attn_mask = None
        elif attn_mask is not None:
            # torch's exact shapes: a mask that merely broadcasts (a 1 for L or S) is refused, not spread.
            want = (tgt_len, src_len) if len(_shape(attn_mask)) == 2 else (n * self.num_heads, tgt_len, src_len)
            if _shape(attn_mask) != want:
                raise RuntimeError(
                    f"{type(self).__name__}: The shape of the {len(want)}D attn_mask is {_shape(attn_mask)}, but "
                    f"should be {want} (for a query of {tgt_len} positions and a key of {src_len}); an attn_mask "
                    "is (L, S) or (N * num_heads, L, S)."
                )

        # Three GEMMs on slices of in_proj_weight: measured faster than one GEMM split three ways
        # (each slice of the split output would send back a full-size gradient).
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        if self.bias_k is not None:
            one = (1, n, self.embed_dim) if seq_first else (n, 1, self.embed_dim)
            k = cat([k, expand(self.bias_k, one)], seq)
            v = cat([v, expand(self.bias_v, one)], seq)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        q, k, v = (self._heads(t, seq_first) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = Tensor._make(np.zeros((n, self.num_heads, 1, self.head_dim), dtype=dtype))
            k, v = cat([k, zeros], 2), cat([v, zeros], 2)
            attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
        if causal:
            attn_mask = np.where(_causal_keep(tgt_len, _shape(k)[2]), 0.0, -np.inf).astype(dtype)

        bias = self._merge_masks(attn_mask, key_padding_mask, n, tgt_len)
        dropout_p = self.dropout if self.training else 0.0
        out, weights = _attend(q, k, v, bias, None, dropout_p, 1.0 / math.sqrt(self.head_dim), safe=not need_weights)
        # (N, H, L, D) -> the input's layout, heads concatenated.
        out = out.permute(2, 0, 1, 3) if seq_first else transpose(out, 1, 2)
        out = self.out_proj(reshape(out, _shape(out)[:2] + (self.embed_dim,)))
        if not batched:
            out = reshape(out, (tgt_len, self.embed_dim))
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = reshape(weights, _shape(weights)[1:])
        return out, weights

    def _merge_masks(self, attn_mask, key_padding_mask, n, tgt_len):
        """attn_mask ((L, S) or (N*H, L, S)) + key_padding_mask ((N, S)) as one additive mask on (N, H, L, S)."""
        bias = None
        if attn_mask is not None:
            s = _shape(attn_mask)
            if len(s) == 3:
                if s[0] != n * self.num_heads:
                    raise RuntimeError(
                        f"{type(self).__name__}: The shape of the 3D attn_mask is {s}, but should be "
                        f"{(n * self.num_heads, tgt_len, s[-1])}."
                    )
                attn_mask = attn_mask.reshape((n, self.num_heads) + s[1:])
            elif len(s) != 2:
                raise RuntimeError(f"{type(self).__name__}: attn_mask's dimension {len(s)} is not supported")
            bias = attn_mask
        if key_padding_mask is not None:
            kpm = key_padding_mask.reshape((n, 1, 1, -1))
            bias = kpm if bias is None else bias + kpm
        return bias

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _pad_masks(attn_mask, key_padding_mask):
    """One more key position (bias_k or the zero attention): pad the masks' last dim with a 0 (attend)."""

    def pad(m):
        if m is None:
            return None
        if is_tensor(m):
            from .functional import pad as _pad

            return _pad(m, (0, 1))
        m = np.asarray(m)
        return np.concatenate([m, np.zeros(m.shape[:-1] + (1,), dtype=m.dtype)], -1)

    return pad(attn_mask), pad(key_padding_mask)
