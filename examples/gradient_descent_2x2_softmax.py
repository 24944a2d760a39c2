"""Gradient descent on a 2x2 softmax regression, printed step by step: z, dz, p, dW, db per iteration.

Two examples (columns of X), two classes. z = W x + b, p = softmax(z), J = mean cross-entropy,
dz = (p - y) / m, dW = dz X^T, db = sum of dz over examples. The engine's gradients are checked
against these formulas at every step.
"""

import numpy as np

import chainrule as cr


def main(steps=3, lr=1.0):
    X = np.array([[1.0, 0.0], [0.0, 1.0]])  # columns are examples
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])  # one-hot columns
    W = cr.tensor([[0.5, -0.5], [0.2, 0.3]], dtype=cr.float64, requires_grad=True, name="W")
    b = cr.tensor([[0.0], [0.0]], dtype=cr.float64, requires_grad=True, name="b")
    m = X.shape[1]
    history = []
    for it in range(1, steps + 1):
        z = W @ cr.tensor(X) + b
        z.retain_grad()
        p = cr.softmax(z, dim=0)
        J = -(cr.tensor(Y) * cr.log(p)).sum() / m
        W.grad = b.grad = None
        J.backward()
        P = p.detach().numpy()
        dz = (P - Y) / m
        assert np.allclose(z.grad.numpy(), dz) and np.allclose(W.grad.numpy(), dz @ X.T)
        assert np.allclose(b.grad.numpy(), dz.sum(axis=1, keepdims=True))
        print(f"iter {it}, J={J.item():.6f}")
        print("  z  =", np.round(z.detach().numpy(), 4).tolist())
        print("  p  =", np.round(P, 4).tolist())
        print("  dz =", np.round(dz, 4).tolist())
        print("  dW =", np.round(W.grad.numpy(), 4).tolist(), " db =", np.round(b.grad.numpy(), 4).ravel().tolist())
        history.append(
            {
                "J": J.item(),
                "z": z.detach().numpy(),
                "p": P,
                "dz": dz,
                "dW": W.grad.numpy().copy(),
                "db": b.grad.numpy().copy(),
            }
        )
        with cr.no_grad():
            W -= lr * W.grad
            b -= lr * b.grad
        print(
            "  W <-",
            np.round(W.detach().numpy(), 4).tolist(),
            " b <-",
            np.round(b.detach().numpy(), 4).ravel().tolist(),
        )
    return history


if __name__ == "__main__":
    main()
