"""A 2-2-1 ReLU network learns XOR, and a hand-found solution shows why two units suffice.

    python examples/xor_relu.py

h = relu(W1 x + b1), y = w2 . h + b2. One exact solution: h1 = relu(x1 + x2),
h2 = relu(x1 + x2 - 1), y = h1 - 2 h2 (gives 0, 1, 1, 0). Gradient descent on the mean
squared error finds one too, unless a hidden unit starts dead (relu' = 0 on all four
points, so it never gets a gradient); the script then restarts from the next seed.
"""

import numpy as np

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.nn import functional as F


def fmt(values):
    return np.array2string(np.asarray(values, dtype=np.float64), precision=3, suppress_small=True)


def hand_solution():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with cr.no_grad():
        model[0].weight.copy_(cr.tensor([[1.0, 1.0], [1.0, 1.0]]))
        model[0].bias.copy_(cr.tensor([0.0, -1.0]))
        model[2].weight.copy_(cr.tensor([[1.0, -2.0]]))
        model[2].bias.copy_(cr.tensor([0.0]))
    return model


def train(seed, steps, lr=0.1):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    x, y, _, _ = data.xor()
    x, target = cr.tensor(x), cr.tensor(y.astype(np.float32)).reshape(4, 1)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        loss = F.mse_loss(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with cr.no_grad():
        out = model(x).numpy().ravel()
        hidden = model[1](model[0](x)).numpy()
    return model, out, hidden, loss.item()


def main(steps=1000, max_restarts=20):
    x, y, _, _ = data.xor()
    with cr.no_grad():
        by_hand = hand_solution()(cr.tensor(x)).numpy().ravel()
    print(f"hand-found weights: outputs {fmt(by_hand)} (targets {y.tolist()})")
    for seed in range(max_restarts):
        model, out, hidden, loss = train(seed, steps)
        dead = [j for j in range(hidden.shape[1]) if not hidden[:, j].any()]
        solved = bool(np.all((out > 0.5) == y.astype(bool))) and loss < 0.01
        note = (
            "solved"
            if solved
            else (f"hidden unit(s) {dead} dead, restarting" if dead else "a local minimum, restarting")
        )
        print(f"seed {seed}: J={loss:.6f}, outputs {fmt(out)} -> {note}")
        if solved:
            break
    print("\nlearned weights:")
    for name, param in model.named_parameters():
        print(f"  {name} = {fmt(param.data).replace(chr(10), '')}")
    print(f"hidden activations per input:\n{fmt(hidden)}")
    return {"seed": seed, "solved": solved, "outputs": out, "hand_outputs": by_hand, "loss": loss}


if __name__ == "__main__":
    main()
