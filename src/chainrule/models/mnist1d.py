"""The MNIST-1D reference models, as in the mnist1d repository's notebooks/models.py.

    LinearBase -> build_model("logreg")      MLPBase -> MLP (build_model("mlp"))
    ConvBase   -> ConvNet ("cnn")            GRUBase -> BiGRU ("gru")

Parameter counts on MNIST-1D (40 features, 10 classes) match the reference: 410, 15,210, 5,210, 5,134.
Every model in the paper's table trained with Adam, lr 1e-2, batch 100, 6000 steps (MODEL_DEFAULTS).

    >>> from chainrule.models.mnist1d import MLP
    >>> model = MLP([40, 100, 100, 10])          # h1 = relu(W1 x); h2 = h1 + relu(W2 h1); y = W3 h2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import nn
from ..ops.shape import reshape

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .._typing import Module, TensorLike

PAPER = {"logreg": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}  # Greydanus, "Scaling down deep learning"
# Per-model defaults; every model in the paper's table trained with Adam, lr 1e-2, batch 100, 6000 steps.
MODEL_DEFAULTS = {
    "logreg": dict(lr=1e-2, batch_size=100, steps=6000),
    "mlp": dict(lr=1e-2, batch_size=100, steps=6000, hidden="100,100"),
    "cnn": dict(lr=1e-2, batch_size=100, steps=6000, channels=25),
    "gru": dict(lr=1e-2, batch_size=100, steps=6000, hidden="6"),
}
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def _positive(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


class MLP(nn.Module):
    """Linear layers with an activation between them.

    With ``residual`` (the mnist1d reference MLPBase), a hidden layer whose input and output widths
    match adds its input: h = h + act(W h + b).

    Args:
        sizes: layer widths, input first and classes last, e.g. [40, 100, 100, 10].
        act: one of ACTIVATIONS ('relu', 'tanh', 'sigmoid', 'gelu', 'leaky_relu', 'elu', 'silu').
        residual: add the skip connections.
    """

    def __init__(self, sizes: Sequence[int], act: str = "relu", residual: bool = True) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least the input and output widths, got {list(sizes)}")
        for size in sizes:
            _positive(f"MLP: every layer width (sizes={list(sizes)})", size)
        if act not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.act = ACTIVATIONS[act]()
        self.residual = residual

    def forward(self, x: TensorLike) -> Any:
        h = reshape(x, (x.shape[0], -1))
        for i, layer in enumerate(self.layers):
            if i == len(self.layers) - 1:
                return layer(h)
            z = self.act(layer(h))
            h = h + z if self.residual and i > 0 and z.shape == h.shape else z

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


class ConvNet(nn.Module):
    """The mnist1d reference ConvBase: three Conv1d (kernel 5, 3, 3; stride 2; padding 1) with ReLU,
    then a linear classifier on the flattened features.

    Each convolution maps a length L to (L + 2 - k) // 2 + 1, so 40 -> 19 -> 10 -> 5.
    """

    def __init__(self, length: int, num_classes: int, channels: int = 25) -> None:
        super().__init__()
        _positive("ConvNet: channels", channels)
        _positive("ConvNet: num_classes", num_classes)
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out = length
        for k in (5, 3, 3):
            out = (out + 2 - k) // 2 + 1
        if out < 1:
            raise ValueError(f"cnn: inputs of length {length} are too short for three stride-2 convolutions")
        self.linear = nn.Linear(channels * out, num_classes)

    def forward(self, x: TensorLike) -> Any:
        h = reshape(x, (x.shape[0], 1, -1))
        h = self.conv1(h).relu()
        h = self.conv2(h).relu()
        h = self.conv3(h).relu()
        return self.linear(reshape(h, (h.shape[0], -1)))


class BiGRU(nn.Module):
    """The mnist1d reference GRUBase: a bidirectional GRU over the signal (one feature per time step),
    then a linear classifier on all time steps' states, flattened (2 * hidden * length features).

    Its parameters carry GRUBase's names (gru.weight_ih_l0, gru.weight_ih_l0_reverse, ..., linear.weight),
    so a torch GRUBase's state_dict loads as it is. load_state_dict also takes the layout of older
    chainrule checkpoints, which paired two one-way GRUs: a load_state_dict pre-hook renames
    forward_gru.X -> gru.X and backward_gru.X -> gru.X_reverse (the same numbers, in the same parameter
    order, so an old checkpoint's optimizer state still lines up). Being a hook, it renames under the
    BiGRU's prefix when a module holding the BiGRU is loaded too ("encoder.forward_gru.X").

        >>> BiGRU(40, 10).num_parameters()       # 2 directions * 3 gates * 6 * (1 + 6 + 2) + 480 * 10 + 10
        5134
    """

    def __init__(self, length: int, num_classes: int, hidden: Any = 6) -> None:
        super().__init__()
        _positive("BiGRU: hidden", hidden)
        _positive("BiGRU: num_classes", num_classes)
        self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden * length, num_classes)
        self.register_load_state_dict_pre_hook(_rename_two_gru_keys)

    def forward(self, x: TensorLike) -> Any:
        h, _ = self.gru(reshape(x, (x.shape[0], -1, 1)))  # (batch, time, [forward_t, backward_t])
        return self.linear(reshape(h, (h.shape[0], -1)))


def _rename_two_gru_keys(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
    """BiGRU's load_state_dict pre-hook: the older two-GRU layout's keys under `prefix` get their current names."""
    renamed = [(_current_key(key, prefix), value) for key, value in state_dict.items()]
    if any(new != key for (new, _), key in zip(renamed, state_dict)):
        # Rebuilt rather than popped and reinserted: the keys keep their order (the unexpected keys' order).
        state_dict.clear()
        state_dict.update(renamed)


def _current_key(key, prefix=""):
    """forward_gru.weight_ih_l0 -> gru.weight_ih_l0, backward_gru.weight_ih_l0 -> gru.weight_ih_l0_reverse,
    under `prefix` (a BiGRU's path in the module being loaded, "" or "encoder."); other keys as they are."""
    if not key.startswith(prefix):
        return key
    head, dot, name = key[len(prefix) :].partition(".")
    if dot and head == "forward_gru":
        return prefix + "gru." + name
    if dot and head == "backward_gru":
        return prefix + "gru." + name + "_reverse"
    return key


def parse_hidden(hidden: Any) -> list[int]:
    """'100,100' -> [100, 100]; refuses anything but positive integers, naming the value."""
    if hidden is None or hidden == "":
        return []
    parts = [h.strip() for h in str(hidden).split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"hidden sizes must be positive integers separated by commas (e.g. 100,100), got {hidden!r}")
    return [int(p) for p in parts]


def build_model(
    model: str,
    num_features: int,
    num_classes: int,
    hidden: Any | None = None,
    activation: str = "relu",
    residual: bool = True,
    channels: int = 25,
) -> Module:
    """A reference model: 'logreg', 'mlp', 'cnn' or 'gru' (see MODEL_DEFAULTS).

    Args:
        num_features: the input width (signal length).
        num_classes: the number of classes.
        hidden: hidden widths as '100,100' or a list (mlp; default 100,100) or one width (gru; default 6).
        activation: the mlp's activation.
        residual: the mlp's skip connections.
        channels: the cnn's channels (default 25).

    Example:
        >>> build_model("mlp", 40, 10).num_parameters()
        15210
    """
    sizes = hidden if isinstance(hidden, (list, tuple)) else parse_hidden(hidden)
    if model == "logreg":
        return MLP([num_features, num_classes], activation, residual=False)
    if model == "mlp":
        return MLP([num_features, *(sizes or [100, 100]), num_classes], activation, residual=residual)
    if model == "cnn":
        return ConvNet(num_features, num_classes, channels=channels)
    if model == "gru":
        if len(sizes) > 1:
            raise ValueError(f"gru: --hidden takes one width (the GRU's state size), got {hidden!r}")
        return BiGRU(num_features, num_classes, hidden=sizes[0] if sizes else 6)
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_DEFAULTS)}")
