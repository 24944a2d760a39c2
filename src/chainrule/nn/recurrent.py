"""Recurrent layers with PyTorch's gate equations and parameter names: GRUCell, GRU, LSTMCell, LSTM.

The input projections of all time steps are one matmul; only the hidden-to-hidden product runs
step by step.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from ..ops import conv as _conv
from ..ops.elementwise import sigmoid, tanh
from ..ops.shape import getitem, reshape, stack, transpose
from ..tensor import Tensor
from . import init
from .._device import check as _check_device
from .module import Module, Parameter


def _split(x, n):
    """The n equal chunks of the last dim of x (gate blocks)."""
    size = x.shape[-1] // n
    return [getitem(x, (Ellipsis, slice(i * size, (i + 1) * size))) for i in range(n)]


def _gru_step(gi, h, w_hh, b_hh):
    """PyTorch's GRU: r, z = sigmoid(.), n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""
    gh = _conv.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = _split(gi, 3)
    h_r, h_z, h_n = _split(gh, 3)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)
    return n + z * (h - n)


def _lstm_step(gi, h, c, w_hh, b_hh):
    """PyTorch's LSTM: i, f, g, o gates; c' = f c + i g, h' = o tanh(c')."""
    gates = gi + _conv.linear(h, w_hh, b_hh)
    i, f, g, o = _split(gates, 4)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    return h, c


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, generator=None):
        super().__init__()
        _check_device(device, type(self).__name__)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        g = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.zeros((g, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.zeros((g, self.hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(np.zeros(g, dtype=dt))
            self.bias_hh = Parameter(np.zeros(g, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _check(self, x, hx):
        shape = tuple(x.shape)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise RuntimeError(f"{self!r}: input of shape {shape} must be (batch, {self.input_size}) or "
                               f"({self.input_size},); got {shape[-1] if shape else 'no'} features")
        batched = len(shape) == 2
        if not batched:
            x = reshape(x, (1, self.input_size))
        if hx is None:
            hx = Tensor._make(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        elif not batched:
            hx = reshape(hx, (1, self.hidden_size))
        return x, hx, batched

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class GRUCell(_CellBase):
    """One GRU step: h' = GRUCell(x, h) with PyTorch's equations (gates r, z, n in that order)."""

    _gates = 3

    def forward(self, x, hx=None):
        x, hx, batched = self._check(x, hx)
        h = _gru_step(_conv.linear(x, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h if batched else reshape(h, (self.hidden_size,))


class LSTMCell(_CellBase):
    """One LSTM step: (h', c') = LSTMCell(x, (h, c)) with gates i, f, g, o (PyTorch's order)."""

    _gates = 4

    def forward(self, x, hx=None):
        if hx is None:
            x, h, batched = self._check(x, None)
            c = Tensor._make(np.zeros_like(h._data))
        else:
            x, h, batched = self._check(x, hx[0])
            c = hx[1] if batched else reshape(hx[1], (1, self.hidden_size))
        h, c = _lstm_step(_conv.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h, c = reshape(h, (self.hidden_size,)), reshape(c, (self.hidden_size,))
        return h, c


class _RNNBase(Module):
    _gates = 1
    _name = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, generator=None):
        super().__init__()
        _check_device(device, type(self).__name__)
        if bidirectional:
            raise NotImplementedError(f"{type(self).__name__}: bidirectional=True is not supported")
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        g = self._gates * self.hidden_size
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.hidden_size
            setattr(self, f"weight_ih_l{layer}", Parameter(np.zeros((g, width), dtype=dt)))
            setattr(self, f"weight_hh_l{layer}", Parameter(np.zeros((g, self.hidden_size), dtype=dt)))
            if bias:
                setattr(self, f"bias_ih_l{layer}", Parameter(np.zeros(g, dtype=dt)))
                setattr(self, f"bias_hh_l{layer}", Parameter(np.zeros(g, dtype=dt)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _layer_params(self, layer):
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}"), get(f"weight_hh_l{layer}"), get(f"bias_ih_l{layer}"),
                get(f"bias_hh_l{layer}"))

    def _prepare(self, x):
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[-1] != self.input_size:
            layout = "(batch, seq, features)" if self.batch_first else "(seq, batch, features)"
            raise RuntimeError(
                f"{self!r}: input of shape {shape} must be {layout} (or (seq, features) unbatched) with "
                f"features = input_size = {self.input_size}; got {shape[-1] if shape else 'no'} features."
            )
        batched = len(shape) == 3
        if not batched:
            x = reshape(x, (shape[0], 1, shape[1]))
        elif self.batch_first:
            x = transpose(x, 0, 1)
        return x, batched

    def _initial(self, hx, batch, dtype, batched):
        if hx is None:
            return [Tensor._make(np.zeros((batch, self.hidden_size), dtype=dtype)) for _ in range(self.num_layers)]
        expected = (self.num_layers, batch, self.hidden_size) if batched else (self.num_layers, self.hidden_size)
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{self!r}: initial state has shape {tuple(hx.shape)}; expected {expected} "
                               "(num_layers, batch, hidden_size)")
        if not batched:
            hx = reshape(hx, (self.num_layers, 1, self.hidden_size))
        return [getitem(hx, layer) for layer in range(self.num_layers)]

    def _finish(self, out, states, batched):
        """out: (seq, batch, hidden) from the last layer; states: lists of per-layer final states."""
        finals = [stack(s, 0) for s in states]                         # (num_layers, batch, hidden)
        if not batched:
            out = reshape(out, (out.shape[0], self.hidden_size))
            finals = [reshape(f, (self.num_layers, self.hidden_size)) for f in finals]
        elif self.batch_first:
            out = transpose(out, 0, 1)
        return out, finals

    def _between_layers(self, seq):
        if self.dropout and self.training:
            from .functional import dropout

            return dropout(seq, self.dropout, True)
        return seq

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text


class GRU(_RNNBase):
    """Multi-layer GRU: returns (output, h_n) as torch.nn.GRU.

    output is (seq, batch, hidden) ((batch, seq, hidden) with batch_first=True) from the last layer;
    h_n is (num_layers, batch, hidden). Parameters are weight_ih_l{k} (3H, in), weight_hh_l{k} (3H, H),
    bias_ih_l{k}, bias_hh_l{k}, gates ordered r, z, n.

    Example:
        >>> gru = nn.GRU(4, 8, batch_first=True)
        >>> out, h = gru(chainrule.randn(2, 5, 4))   # out (2, 5, 8), h (1, 2, 8)
    """

    _gates = 3

    def forward(self, x, hx=None):
        x, batched = self._prepare(x)
        seq_len, batch = x.shape[0], x.shape[1]
        hs = self._initial(hx, batch, x.dtype, batched)
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(layer)
            if layer:
                layer_input = self._between_layers(layer_input)
            gi_all = _conv.linear(layer_input, w_ih, b_ih)           # all time steps in one matmul
            h = hs[layer]
            outputs = []
            for t in range(seq_len):
                h = _gru_step(getitem(gi_all, t), h, w_hh, b_hh)
                outputs.append(h)
            finals.append(h)
            layer_input = stack(outputs, 0)
        out, (h_n,) = self._finish(layer_input, [finals], batched)
        return out, h_n


class LSTM(_RNNBase):
    """Multi-layer LSTM: returns (output, (h_n, c_n)) as torch.nn.LSTM (gates i, f, g, o).

    Parameters are weight_ih_l{k} (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k}.
    """

    _gates = 4

    def forward(self, x, hx=None):
        x, batched = self._prepare(x)
        seq_len, batch = x.shape[0], x.shape[1]
        if hx is None:
            hs = self._initial(None, batch, x.dtype, batched)
            cs = self._initial(None, batch, x.dtype, batched)
        else:
            hs = self._initial(hx[0], batch, x.dtype, batched)
            cs = self._initial(hx[1], batch, x.dtype, batched)
        final_h, final_c = [], []
        layer_input = x
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(layer)
            if layer:
                layer_input = self._between_layers(layer_input)
            gi_all = _conv.linear(layer_input, w_ih, b_ih)
            h, c = hs[layer], cs[layer]
            outputs = []
            for t in range(seq_len):
                h, c = _lstm_step(getitem(gi_all, t), h, c, w_hh, b_hh)
                outputs.append(h)
            final_h.append(h)
            final_c.append(c)
            layer_input = stack(outputs, 0)
        out, (h_n, c_n) = self._finish(layer_input, [final_h, final_c], batched)
        return out, (h_n, c_n)
