"""Reference models, importable without the command line.

`chainrule.models.mnist1d` holds the MNIST-1D reference models (Greydanus, "Scaling down deep
learning"): a logistic regression, an MLP with a skip connection, a three-layer CNN and a bidirectional
GRU, with `build_model` and the defaults that reproduce the paper's table (what `chainrule train` uses).

    >>> from chainrule.models import build_model
    >>> model = build_model("cnn", num_features=40, num_classes=10)
    >>> model.num_parameters()
    5210
"""

from .mnist1d import MLP, MODEL_DEFAULTS, PAPER, BiGRU, ConvNet, build_model

__all__ = ["MLP", "MODEL_DEFAULTS", "PAPER", "BiGRU", "ConvNet", "build_model"]
