"""Gradients through a residual connection z2 = z1 + W2 a1 + b2 (a1 = relu(z1)).

dL/dz1 = dL/dz2 (the identity path) + W2^T dL/dz2 * relu'(z1) (the layer path): the identity path
carries the gradient through unchanged, which is why deep residual networks train. The graph is
saved to residual_graph.svg (needs graphviz's dot) or .dot text otherwise.
"""

import os
import shutil

import numpy as np

import chainrule as cr


def main(out_dir="."):
    rng = np.random.default_rng(0)
    z1 = cr.tensor(rng.normal(size=(3, 1)), dtype=cr.float64, requires_grad=True, name="z1")
    W2 = cr.tensor(rng.normal(size=(3, 3)), dtype=cr.float64, requires_grad=True, name="W2")
    b2 = cr.tensor(rng.normal(size=(3, 1)), dtype=cr.float64, requires_grad=True, name="b2")
    a1 = cr.relu(z1)
    a1.name = "a1"
    z2 = z1 + W2 @ a1 + b2
    z2.name = "z2"
    L = (z2**2).sum() / 2
    L.name = "L"
    with cr.viz.trace():
        L.backward()
    g = z2.detach().numpy()  # dL/dz2 = z2
    relu_prime = (z1.detach().numpy() > 0).astype(float)
    expected_z1 = g + (W2.detach().numpy().T @ g) * relu_prime
    print("dL/dz1 (engine)            =", np.round(z1.grad.numpy().ravel(), 6))
    print("dL/dz2 + W2^T dL/dz2 relu' =", np.round(expected_z1.ravel(), 6))
    print("dL/dW2 = dL/dz2 a1^T:", np.allclose(W2.grad.numpy(), g @ a1.detach().numpy().T))
    print(cr.viz.text_graph(L))
    path = os.path.join(out_dir, "residual_graph.svg" if shutil.which("dot") else "residual_graph.dot")
    cr.viz.save_graph(cr.viz.draw_graph(L, title="z2 = z1 + W2 a1 + b2"), path)
    print("graph saved to", path)
    return {
        "dz1": z1.grad.numpy(),
        "dz1_expected": expected_z1,
        "dW2": W2.grad.numpy(),
        "dW2_expected": g @ a1.detach().numpy().T,
        "db2": b2.grad.numpy(),
        "dz2": g,
        "path": path,
    }


if __name__ == "__main__":
    main()
