"""Backprop through z = W x + b: dW = delta x^T, dx = W^T delta, db = delta, checked against the engine."""

import numpy as np

import chainrule as cr


def main(seed=0):
    rng = np.random.default_rng(seed)
    W = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True, dtype=cr.float64, name="W")
    x = cr.tensor(rng.normal(size=(4, 1)), requires_grad=True, dtype=cr.float64, name="x")
    b = cr.tensor(rng.normal(size=(3, 1)), requires_grad=True, dtype=cr.float64, name="b")
    z = W @ x + b
    delta = rng.normal(size=(3, 1))  # dL/dz from the layers above
    z.backward(cr.tensor(delta, dtype=cr.float64))
    checks = {
        "dW = delta x^T": np.allclose(W.grad.numpy(), delta @ x.detach().numpy().T),
        "dx = W^T delta": np.allclose(x.grad.numpy(), W.detach().numpy().T @ delta),
        "db = delta": np.allclose(b.grad.numpy(), delta),
    }
    for k, v in checks.items():
        print(f"{k}: {v}")
    return checks


if __name__ == "__main__":
    main()
