"""Two linear layers without a nonlinearity are one: W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)."""

import numpy as np

import chainrule as cr


def main(seed=0):
    rng = np.random.default_rng(seed)
    W1, b1 = rng.normal(size=(5, 3)), rng.normal(size=(5,))
    W2, b2 = rng.normal(size=(2, 5)), rng.normal(size=(2,))
    W, b = W2 @ W1, W2 @ b1 + b2
    print("equivalent W =\n", np.round(W, 4), "\nequivalent b =", np.round(b, 4))
    X = cr.tensor(rng.normal(size=(10, 3)), dtype=cr.float64)
    two = (X @ cr.tensor(W1.T) + cr.tensor(b1)) @ cr.tensor(W2.T) + cr.tensor(b2)
    one = X @ cr.tensor(W.T) + cr.tensor(b)
    err = float((two - one).abs().max())
    print(f"max |two layers - one layer| over 10 inputs = {err:.2e}")
    return {"W": W, "b": b, "max_error": err}


if __name__ == "__main__":
    main()
