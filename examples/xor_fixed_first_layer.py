"""XOR with a fixed sigmoid first layer (weights [[1, 1], [1, 1]], biases [0, -1]): search the output weights.

h1 = sigma(x1 + x2) and h2 = sigma(x1 + x2 - 1) both grow with x1 + x2, but at different
rates, so a difference v1 h1 + v2 h2 + c can be high at x1 + x2 = 1 and low at 0 and 2.
"""

import itertools

import numpy as np

import chainrule as cr

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([0, 1, 1, 0])


def hidden(X):
    W1 = cr.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=cr.float64)
    b1 = cr.tensor([0.0, -1.0], dtype=cr.float64)
    return cr.sigmoid(cr.tensor(X) @ W1.T + b1)


GRID = np.arange(-30, 31, 2.0)  # the output weights and bias tried, each in -30..30


def main(grid=GRID):
    H = hidden(X).numpy()
    best = None
    for v1, v2, c in itertools.product(grid, grid, grid):
        out = 1 / (1 + np.exp(-(H @ np.array([v1, v2]) + c)))
        pred = (out > 0.5).astype(int)
        if np.all(pred == Y):
            margin = np.min(np.abs(out - 0.5))
            if best is None or margin > best[0]:
                best = (margin, (v1, v2, c), out)
    margin, (v1, v2, c), out = best
    print("hidden activations:\n", np.round(H, 4))
    print(f"output weights v = ({v1}, {v2}), bias c = {c}; outputs {np.round(out, 3)}; margin {margin:.3f}")
    return {"weights": (v1, v2), "bias": c, "outputs": out, "predictions": (out > 0.5).astype(int)}


if __name__ == "__main__":
    main()
