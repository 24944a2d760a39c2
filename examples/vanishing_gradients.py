"""Why sigmoid gradients vanish: a 10-layer sigmoid network against a 10-layer ReLU network.

sigma'(z) <= 1/4, so each sigmoid layer multiplies the backpropagated gradient by at most
||W|| / 4: after 10 layers the first layer's gradient is orders of magnitude smaller than
the last's. ReLU passes a gradient of exactly 1 through active units, so with He
initialization the norms stay comparable. Prints the per-layer norms and saves a plot.
"""

import os

import numpy as np

import chainrule as cr
import chainrule.nn as nn
from chainrule.diagnostics import gradient_flow


def make(activation, depth=10, width=32, seed=0):
    cr.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def layer_norms(model, X, y):
    for p in model.parameters():
        p.grad = None
    loss = ((model(X) - y) ** 2).mean()
    loss.backward()
    report = gradient_flow(model, warn=False)
    return {name: norm for name, norm in report.norms().items() if name.endswith("weight")}, report


def main(out_dir=".", depth=10, width=32, steps=5):
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.normal(size=(64, width)), dtype=cr.float32)
    y = cr.tensor(rng.normal(size=(64, 1)), dtype=cr.float32)
    results, records = {}, {}
    for label, act in (("sigmoid", nn.Sigmoid), ("relu", nn.ReLU)):
        model = make(act, depth, width)
        opt_records = []
        for _ in range(steps):  # a few SGD steps, recording the flow at each
            norms, report = layer_norms(model, X, y)
            opt_records.append(norms)
            with cr.no_grad():
                for p in model.parameters():
                    p -= 0.01 * p.grad
        first, last = opt_records[0][list(norms)[0]], opt_records[0][list(norms)[-2]]
        results[label] = {"norms": opt_records[0], "first_over_last": first / last}
        records[label] = opt_records
        print(f"{label}: gradient norm of each layer's weight (first step)")
        for name, v in opt_records[0].items():
            print(f"   {name:>10}  {v:.3e}")
        print(f"   first hidden layer / last hidden layer = {first / last:.3e}\n")
    import matplotlib.pyplot as plt

    from chainrule.viz.plots import plot_gradient_flow

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, label in zip(axes, ("sigmoid", "relu")):
        first_step = records[label][0]
        ax.semilogy(range(len(first_step)), list(first_step.values()), marker="o")
        ax.set_title(f"{depth}-layer {label} network")
        ax.set_xlabel("layer (input side -> output side)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("||dL/dW||")
    path = os.path.join(out_dir, "vanishing_gradients.png")
    fig.savefig(path, bbox_inches="tight")
    plot_gradient_flow(records["sigmoid"], save=os.path.join(out_dir, "vanishing_gradients_sigmoid_steps.png"))
    print("plot saved to", path)
    results["path"] = path
    return results


if __name__ == "__main__":
    main()
