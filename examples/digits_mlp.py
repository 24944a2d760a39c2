"""Two MLPs on the 8x8 digits: [(50, ReLU), (50, ReLU), (10, Linear)] and [(70, ReLU), (70, ReLU), (10, Linear)].

    python examples/digits_mlp.py

Each is trained with minibatch SGD (momentum 0.9) on cross-entropy from the logits,
printing `iter, J, accu` lines (the training batch's loss and accuracy) and the test
accuracy at the end.
"""

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.nn import functional as F
from chainrule.train import evaluate, fit

ARCHITECTURES = {"[(50, ReLU), (50, ReLU), (10, Linear)]": 50, "[(70, ReLU), (70, ReLU), (10, Linear)]": 70}


def mlp(width):
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))


def main(steps=2000, lr=0.05, batch_size=64, print_every=500, seed=0):
    digits = data.digits()
    results = {}
    for name, width in ARCHITECTURES.items():
        print(f"MLP {name}")
        cr.manual_seed(seed)
        model = mlp(width)
        opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        fit(
            model,
            digits.train,
            loss_fn=F.cross_entropy,
            optimizer=opt,
            steps=steps,
            batch_size=batch_size,
            seed=seed,
            log_every=print_every,
        )
        test = evaluate(model, digits.test)
        print(f"test: J={test.loss:.6f}, accu={test.accuracy:.2f}\n")
        results[width] = test.accuracy
    return results


if __name__ == "__main__":
    main()
