"""A 2-2-1 sigmoid network learns XOR.

    python examples/xor_sigmoid.py

h = sigmoid(W1 x + b1), p = sigmoid(w2 . h + b2), trained with gradient descent on the
binary cross-entropy. Two hidden units can solve XOR but gradient descent from a small
random start sometimes stalls in a flat region; the script searches over seeds (restarts)
and keeps the first run that classifies all four points.
"""

import numpy as np

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.nn import functional as F


def fmt(values):
    return np.array2string(np.asarray(values, dtype=np.float64), precision=3, suppress_small=True)


def train(seed, steps, lr=1.0, print_every=None):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))  # the output sigmoid is in the loss
    x, y, _, _ = data.xor()
    x, target = cr.tensor(x), cr.tensor(y.astype(np.float32)).reshape(4, 1)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for step in range(1, steps + 1):
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if print_every and step % print_every == 0:
            accu = float(((logits.data > 0) == (target.data > 0.5)).float().mean())
            print(f"iter {step}, J={loss.item():.6f}, accu={accu:.2f}")
    with cr.no_grad():
        p = cr.sigmoid(model(x)).numpy().ravel()
    return model, p, loss.item()


def main(steps=2000, max_restarts=10):
    for seed in range(max_restarts):
        model, p, loss = train(seed, steps)
        solved = bool(np.all((p > 0.5) == data.xor().y_train.astype(bool)))
        print(f"seed {seed}: final J={loss:.6f}, outputs {fmt(p)} -> {'solved' if solved else 'stuck, restarting'}")
        if solved:
            break
    print("\nlearned weights:")
    for name, param in model.named_parameters():
        print(f"  {name} = {fmt(param.data).replace(chr(10), '')}")
    x, y, _, _ = data.xor()
    for xi, yi, pi in zip(x, y, p):
        print(f"  x={xi.astype(int).tolist()}  y={yi}  p={pi:.4f}")
    return {"seed": seed, "solved": solved, "outputs": p, "loss": loss}


if __name__ == "__main__":
    main()
