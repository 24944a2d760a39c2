"""XOR is not linearly separable in (x1, x2), but it is in (x1, x2, x1 x2, x1^2, x2^2): x1 + x2 - 2 x1 x2 = XOR."""

import numpy as np

import chainrule as cr

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([0.0, 1.0, 1.0, 0.0])


def features(X):
    x1, x2 = X[:, 0], X[:, 1]
    return np.stack([x1, x2, x1 * x2, x1**2, x2**2], axis=1)


def main(steps=3000, lr=0.2):
    F = cr.tensor(features(X), dtype=cr.float64)
    w = cr.zeros(5, dtype=cr.float64, requires_grad=True)
    b = cr.zeros((), dtype=cr.float64, requires_grad=True)
    for _ in range(steps):
        out = F @ w + b
        loss = ((out - cr.tensor(Y)) ** 2).mean()
        w.grad = b.grad = None
        loss.backward()
        with cr.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
    pred = (F @ w + b).detach().numpy()
    print("features [x1, x2, x1 x2, x1^2, x2^2] ->", np.round(w.detach().numpy(), 3), "bias", round(b.item(), 3))
    print("outputs:", np.round(pred, 3), "loss", f"{loss.item():.2e}")
    return {"outputs": pred, "loss": loss.item(), "weights": w.detach().numpy()}


if __name__ == "__main__":
    main()
