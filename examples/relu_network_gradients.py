"""Gradients of a small ReLU network, and when they are zero.

a = relu(z1), z1 = W1 x + b1, y = W2 a + b2, L = (y - t)^2 / 2. dL/dW1[i, :] = (W2^T delta)_i * 1[z1_i > 0] * x^T:
a hidden unit whose pre-activation is <= 0 passes no gradient to its weights or bias (relu'(z) = 0 there).
"""

import numpy as np

import chainrule as cr


def main():
    x = cr.tensor([[1.0], [2.0]], dtype=cr.float64, name="x")
    W1 = cr.tensor([[1.0, -1.0], [0.5, 0.5], [-2.0, 1.0]], dtype=cr.float64, requires_grad=True, name="W1")
    b1 = cr.tensor([[0.0], [0.0], [-0.5]], dtype=cr.float64, requires_grad=True, name="b1")
    W2 = cr.tensor([[1.0, 2.0, 3.0]], dtype=cr.float64, requires_grad=True, name="W2")
    b2 = cr.tensor([[0.5]], dtype=cr.float64, requires_grad=True, name="b2")
    t = 1.0
    z1 = W1 @ x + b1
    a = cr.relu(z1)
    y = W2 @ a + b2
    L = ((y - t) ** 2).sum() / 2
    L.backward()
    zv = z1.detach().numpy().ravel()
    active = zv > 0
    delta = y.item() - t
    expected_W1 = (delta * W2.detach().numpy().T * active[:, None]) @ x.numpy().T
    print("z1 =", zv, " active units:", active)
    print("dL/dW1 =\n", W1.grad.numpy())
    print("rows of dL/dW1 for inactive units are zero:", np.all(W1.grad.numpy()[~active] == 0))
    print("dL/dW2 =", W2.grad.numpy(), "(zero where a = 0)")
    return {
        "z1": zv,
        "active": active,
        "dW1": W1.grad.numpy(),
        "dW1_expected": expected_W1,
        "db1": b1.grad.numpy(),
        "dW2": W2.grad.numpy(),
        "a": a.detach().numpy(),
    }


if __name__ == "__main__":
    main()
