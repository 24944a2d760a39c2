"""Softmax regression on scikit-learn's 8x8 digits: one layer of 10, softmax + cross-entropy.

    python examples/digits_softmax_regression.py

p = softmax(W x + b), J = -mean(log p[y]), trained by full-batch gradient descent
(the gradient of J with respect to the logits is p - onehot(y)). Prints the familiar
`iter 1000, J=0.665606, accu=0.83` lines (J and accuracy on the training set).
"""

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.nn import functional as F
from chainrule.train import evaluate, fit


def main(steps=3000, lr=0.1, print_every=500, seed=0):
    digits = data.digits()
    cr.manual_seed(seed)
    model = nn.Linear(64, 10)
    history = fit(
        model,
        digits.train,
        loss_fn=F.cross_entropy,
        optimizer=optim.SGD(model.parameters(), lr=lr),
        steps=steps,
        batch_size=len(digits.x_train),
        shuffle=False,
        log_every=print_every,
    )
    test = evaluate(model, digits.test)
    print(f"test: J={test.loss:.6f}, accu={test.accuracy:.2f}")
    return {"history": history, "test_accuracy": test.accuracy, "final_loss": float(history.loss[-1])}


if __name__ == "__main__":
    main()
