"""The gradient of cross-entropy through softmax is p - y: checked against the engine."""

import numpy as np

import chainrule as cr


def main():
    z = cr.tensor([[2.0, 1.0, 0.1]], requires_grad=True, dtype=cr.float64)
    y = np.array([0])
    p = cr.softmax(z, dim=1)
    loss = -cr.log(p[0, int(y[0])])
    loss.backward()
    expected = p.detach().numpy() - np.eye(3)[y]
    print("dL/dz (engine)  =", np.round(z.grad.numpy(), 6))
    print("p - y (formula) =", np.round(expected, 6))
    return {"grad": z.grad.numpy(), "expected": expected}


if __name__ == "__main__":
    main()
