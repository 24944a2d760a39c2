"""Recurrent layers with PyTorch's equations and parameter names: RNNCell, RNN, GRUCell, GRU, LSTMCell, LSTM.

The multi-layer forms take PyTorch's options (num_layers, bidirectional, dropout between layers,
batch_first, bias) and name their parameters as torch does (weight_ih_l0, weight_hh_l0_reverse, ...),
so a torch state_dict loads unchanged. The input projections of all time steps are one matmul; the
recurrence of each layer and direction is one primitive (ops/rnn.py: RNNSequence, GRUSequence,
LSTMSequence) that runs the whole sequence in one NumPy loop, forward and backward.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import _dtypes
from .._device import check as _check_device
from ..ops import conv as _conv
from ..ops._util import int_arg
from ..ops.rnn import GRUSequence, LSTMSequence, RNNSequence, gru_step, lstm_step, rnn_step
from ..ops.shape import cat, getitem, reshape, stack, transpose
from ..tensor import Tensor
from . import init
from .linear import _check_parameter_bytes, _check_sizes, _empty
from .module import Module, Parameter

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._device import device as Device
    from ..generator import Generator


_NONLINEARITIES = ("tanh", "relu")


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")


class _CellBase(Module):
    _gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        _check_sizes(type(self).__name__, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        g = self._gates * self.hidden_size
        self.weight_ih = _empty((g, self.input_size), dt, type(self).__name__)
        self.weight_hh = _empty((g, self.hidden_size), dt, type(self).__name__)
        if bias:
            self.bias_ih = Parameter(np.zeros(g, dtype=dt))
            self.bias_hh = Parameter(np.zeros(g, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _check(self, x, hx):
        shape = tuple(x.shape)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise RuntimeError(
                f"{self!r}: input of shape {shape} must be (batch, {self.input_size}) or "
                f"({self.input_size},); got {shape[-1] if shape else 'no'} features"
            )
        batched = len(shape) == 2
        if not batched:
            x = reshape(x, (1, self.input_size))
        if hx is None:
            hx = Tensor._make(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        elif not batched:
            hx = reshape(hx, (1, self.hidden_size))
        return x, hx, batched

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman RNN step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu), as torch.nn.RNNCell."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype, generator=generator)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._check(x, hx)
        gi = _conv.linear(x, self.weight_ih, self.bias_ih)
        h = rnn_step(gi, hx, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if batched else reshape(h, (self.hidden_size,))

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}")


class GRUCell(_CellBase):
    """One GRU step: h' = GRUCell(x, h) with PyTorch's equations (gates r, z, n in that order)."""

    _gates = 3

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        x, hx, batched = self._check(x, hx)
        h = gru_step(_conv.linear(x, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h if batched else reshape(h, (self.hidden_size,))


class LSTMCell(_CellBase):
    """One LSTM step: (h', c') = LSTMCell(x, (h, c)) with gates i, f, g, o (PyTorch's order)."""

    _gates = 4

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is None:
            x, h, batched = self._check(x, None)
            c = Tensor._make(np.zeros_like(h._data))
        else:
            x, h, batched = self._check(x, hx[0])
            c = hx[1] if batched else reshape(hx[1], (1, self.hidden_size))
        h, c = lstm_step(_conv.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h, c = reshape(h, (self.hidden_size,)), reshape(c, (self.hidden_size,))
        return h, c


class _RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrence shared by RNN, GRU and LSTM.

    Layer k reads the previous layer's output (both directions concatenated, dropout applied in
    training); the reverse direction runs the same equations from the last time step to the first.
    Initial and final states are (num_layers * num_directions, batch, hidden), indexed
    layer * num_directions + direction, as in PyTorch.
    """

    _gates = 1
    _n_states = 1  # h, or (h, c) for the LSTM

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        _check_device(device, type(self).__name__)
        name = type(self).__name__
        # Sizes are ints, as PyTorch checks (hidden_size=inf overflowed later); empty recurrent layers are
        # refused (unlike an empty Linear), with PyTorch's messages and the value.
        input_size = int_arg(name, "input_size", input_size)
        hidden_size = int_arg(name, "hidden_size", hidden_size)
        num_layers = int_arg(name, "num_layers", num_layers)
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if value <= 0:
                raise ValueError(f"{name}: {arg} must be greater than zero, got {value}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                f"an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            import warnings

            warnings.warn(
                f"{name}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        dt = np.dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
        g = self._gates * self.hidden_size
        # all layers at once, before any is made: num_layers=2**31 would otherwise loop for hours
        per_direction = [
            g
            * (
                (self.input_size if layer == 0 else self.hidden_size * self.num_directions)
                + self.hidden_size
                + 2 * bias
            )
            for layer in (0, 1)
        ]
        total = (per_direction[0] + per_direction[1] * (self.num_layers - 1)) * self.num_directions
        _check_parameter_bytes(
            total * dt.itemsize, f"the parameters of {self.num_layers} layer{'s' * (self.num_layers > 1)}", name
        )
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", _empty((g, width), dt, type(self).__name__))
                setattr(self, f"weight_hh_l{layer}{suffix}", _empty((g, self.hidden_size), dt, type(self).__name__))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.zeros(g, dtype=dt)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.zeros(g, dtype=dt)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Generator | None = None) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _layer_params(self, layer, direction=0):
        get = self._parameters.get
        suffix = "_reverse" if direction else ""
        return (
            get(f"weight_ih_l{layer}{suffix}"),
            get(f"weight_hh_l{layer}{suffix}"),
            get(f"bias_ih_l{layer}{suffix}"),
            get(f"bias_hh_l{layer}{suffix}"),
        )

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
        """The initial states of one kind (h or c) as (num_layers * num_directions, batch, hidden)."""
        count = self.num_layers * self.num_directions
        if hx is None:
            return Tensor._make(np.zeros((count, batch, self.hidden_size), dtype=dtype))
        expected = (count, batch, self.hidden_size) if batched else (count, self.hidden_size)
        if tuple(hx.shape) != expected:
            raise RuntimeError(
                f"{self!r}: expected hidden size {expected} (num_layers * num_directions, batch, "
                f"hidden_size), got {list(hx.shape)}"
            )
        return hx if batched else reshape(hx, (count, 1, self.hidden_size))

    def _between_layers(self, seq):
        if self.dropout and self.training:
            from .functional import dropout

            return dropout(seq, self.dropout, True)
        return seq

    def _run(self, x, hx):
        """Returns output and the final states, each (num_layers * num_directions, batch, hidden).

        Each layer and direction is one sequence primitive (ops/rnn.py) fed the input projections
        of all time steps, computed in one matmul.
        """
        x, batched = self._prepare(x)
        seq_len, batch = x.shape[0], x.shape[1]
        if seq_len == 0:
            raise RuntimeError(f"{self!r}: expected sequence length to be larger than 0, got input {tuple(x.shape)}")
        if self._n_states == 1:
            hx = (hx,)
        elif hx is None:
            hx = (None, None)
        states = [self._initial(h, batch, x.dtype, batched) for h in hx]
        zeros = all(h is None for h in hx)
        finals = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            if layer:
                layer_input = self._between_layers(layer_input)
            outputs = []
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, direction)
                gi = _conv.linear(layer_input, w_ih, b_ih)  # all time steps in one matmul
                k = layer * self.num_directions + direction
                if self._n_states == 1:
                    s0 = getitem(states[0], k)
                elif zeros:
                    s0 = Tensor._make(np.zeros((2, batch, self.hidden_size), dtype=x.dtype))
                else:
                    s0 = stack([getitem(states[0], k), getitem(states[1], k)], 0)
                out = self._sequence(gi, s0, w_hh, b_hh, bool(direction))
                last = 0 if direction else seq_len - 1  # the reverse direction ends at time 0
                if self._n_states == 1:
                    outputs.append(out)
                    finals[0].append(getitem(out, last))
                else:
                    outputs.append(getitem(out, 0))
                    finals[0].append(getitem(out, (0, last)))
                    finals[1].append(getitem(out, (1, last)))
            layer_input = outputs[0] if len(outputs) == 1 else cat(outputs, -1)
        out, finals = layer_input, [stack(f, 0) for f in finals]
        if not batched:
            out = reshape(out, (out.shape[0], out.shape[2]))
            finals = [reshape(f, (f.shape[0], self.hidden_size)) for f in finals]
        elif self.batch_first:
            out = transpose(out, 0, 1)
        return out, finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(_RNNBase):
    """Multi-layer Elman RNN, h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu), as torch.nn.RNN.

    Returns (output, h_n): output (seq, batch, num_directions * hidden) ((batch, seq, ...) with
    batch_first=True) from the last layer, h_n (num_layers * num_directions, batch, hidden).

    Example:
        >>> rnn = nn.RNN(4, 8, num_layers=2, nonlinearity="relu")
        >>> out, h = rnn(chainrule.randn(5, 2, 4))   # out (5, 2, 8), h (2, 2, 8)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        _check_nonlinearity(nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
            generator=generator,
        )
        self.nonlinearity = nonlinearity

    def _sequence(self, gi, s0, w_hh, b_hh, reverse):
        return RNNSequence.apply(gi, s0, w_hh, b_hh, nonlinearity=self.nonlinearity, reverse=reverse)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, hx)
        return out, h_n


class GRU(_RNNBase):
    """Multi-layer, optionally bidirectional GRU: returns (output, h_n) as torch.nn.GRU.

    output is (seq, batch, num_directions * hidden) ((batch, seq, ...) with batch_first=True) from
    the last layer; h_n is (num_layers * num_directions, batch, hidden). Parameters are
    weight_ih_l{k}[_reverse] (3H, in), weight_hh_l{k}[_reverse] (3H, H), bias_ih_l{k}[_reverse],
    bias_hh_l{k}[_reverse], gates ordered r, z, n.

    Example:
        >>> gru = nn.GRU(4, 8, batch_first=True, bidirectional=True)
        >>> out, h = gru(chainrule.randn(2, 5, 4))   # out (2, 5, 16), h (2, 2, 8)
    """

    _gates = 3

    @staticmethod
    def _sequence(gi, s0, w_hh, b_hh, reverse):
        return GRUSequence.apply(gi, s0, w_hh, b_hh, reverse=reverse)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, hx)
        return out, h_n


class LSTM(_RNNBase):
    """Multi-layer, optionally bidirectional LSTM: returns (output, (h_n, c_n)) as torch.nn.LSTM.

    Gates i, f, g, o; parameters weight_ih_l{k}[_reverse] (4H, in), weight_hh_l{k}[_reverse] (4H, H),
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse]. hx is (h_0, c_0), each
    (num_layers * num_directions, batch, hidden).
    """

    _gates = 4
    _n_states = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: str | Device | None = None,
        dtype: DTypeLike | None = None,
        generator: Generator | None = None,
    ) -> None:
        if proj_size:
            raise NotImplementedError(
                f"LSTM: proj_size={proj_size} (projected hidden states) is not supported; "
                "use proj_size=0, or a Linear layer on the output"
            )
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
            generator=generator,
        )

    @staticmethod
    def _sequence(gi, s0, w_hh, b_hh, reverse):
        return LSTMSequence.apply(gi, s0, w_hh, b_hh, reverse=reverse)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h_n, c_n) = self._run(x, hx)
        return out, (h_n, c_n)
