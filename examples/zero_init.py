"""Why zero initialization fails: every hidden unit stays a copy of every other.

    python examples/zero_init.py

With all weights zero, every hidden unit computes the same value and receives the same
gradient (dJ/dW1[j] = delta_j x^T with delta_j equal for all j), so after any number of
steps the rows of W1 are still identical: the layer acts like a single unit. (With ReLU
and zero weights it is worse: relu'(0) = 0, so the hidden layer gets no gradient at all.)
Kaiming or Xavier initialization breaks the symmetry and the network learns.

The runs use float64 so that the symmetry holds to the last bit. The symmetric state is
unstable, though: in float32 the matrix multiply's rounding (about 1e-7) differs between
units, and gradient descent amplifies it until the units drift apart after a few hundred
steps. The last line shows that, too.
"""

import numpy as np

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.nn import functional as F
from chainrule.train import evaluate, fit


def make(init, activation):
    model = nn.Sequential(nn.Linear(64, 32), activation(), nn.Linear(32, 10))
    for layer in (model[0], model[2]):
        if init == "zeros":
            nn.init.zeros_(layer.weight)
        elif init == "kaiming":
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        elif init == "xavier":
            nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    return model


def distinct_hidden_units(model, atol=1e-6):
    """How many different rows (hidden units' incoming weights) the first layer has."""
    rows = model[0].weight.data
    distinct = []
    for row in rows:
        if not any(np.allclose(row, other, atol=atol) for other in distinct):
            distinct.append(row)
    return len(distinct)


def main(steps=1000, seed=0):
    digits = data.digits()
    results = {}
    runs = [
        ("zeros", nn.Sigmoid, np.float64),
        ("zeros", nn.ReLU, np.float64),
        ("kaiming", nn.ReLU, np.float64),
        ("xavier", nn.Sigmoid, np.float64),
        ("zeros", nn.Sigmoid, np.float32),
    ]
    for init, activation, dtype in runs:
        cr.manual_seed(seed)
        model = make(init, activation).to(dtype)
        train = data.TensorDataset(digits.x_train.astype(dtype), digits.y_train)
        test_set = data.TensorDataset(digits.x_test.astype(dtype), digits.y_test)
        fit(
            model,
            train,
            loss_fn=F.cross_entropy,
            optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
            steps=steps,
            batch_size=64,
            seed=seed,
            print_fn=None,
        )
        test = evaluate(model, test_set)
        spread = float(model[0].weight.data.std(axis=0).max())
        units = distinct_hidden_units(model)
        label = f"{init} init, {activation.__name__}, {np.dtype(dtype).name}"
        results[(init, activation.__name__, np.dtype(dtype).name)] = dict(
            accuracy=test.accuracy, distinct_units=units, spread=spread
        )
        print(
            f"{label:>31}: test accu={test.accuracy:.2f}, distinct hidden units {units:2d} of 32, "
            f"max spread across units {spread:.2e}"
        )
    print(
        "\nzero init: the 32 hidden units stay one unit repeated (spread ~1e-16), and accuracy stays low;"
        "\nKaiming/Xavier: 32 different units, and the network learns. In float32, rounding noise"
        "\ngrows until the zero-initialized units drift apart (the symmetric state is unstable)."
    )
    return results


if __name__ == "__main__":
    main()
