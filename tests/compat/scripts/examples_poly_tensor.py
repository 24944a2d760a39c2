"""Learning PyTorch with Examples, Tensors: fit a cubic to sin(x) with hand-written gradients."""
import math

import chainrule as torch

dtype = torch.float
device = torch.device("cpu")
# device = torch.device("cuda:0")  # the tutorial's GPU line

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

a = torch.randn((), device=device, dtype=dtype)
b = torch.randn((), device=device, dtype=dtype)
c = torch.randn((), device=device, dtype=dtype)
d = torch.randn((), device=device, dtype=dtype)
for weight, start in zip((a, b, c, d), (0.1, -0.2, 0.3, -0.1)):   # the same start in every library
    weight.fill_(start)

learning_rate = 1e-6
losses = []
for t in range(500):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum().item()
    losses.append(loss)
    if t % 100 == 99:
        print(t, loss)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d

print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
assert losses[-1] < losses[0] / 10
print("RESULT final_loss", losses[-1])
print("RESULT b", b.item())
