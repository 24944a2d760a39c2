"""Learning PyTorch with Examples, nn module: Linear + Flatten(0, 1) on the features x, x^2, x^3."""
import math

import numpy as np

import chainrule as torch

x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
assert xx.shape == (2000, 3) and xx.dtype == torch.float32

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
with torch.no_grad():
    model[0].weight.copy_(torch.from_numpy(np.array([[0.1, -0.2, 0.05]], dtype=np.float32)))
    model[0].bias.fill_(0.3)
loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
first = None
for t in range(500):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if first is None:
        first = loss.item()
    if t % 100 == 99:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + '
      f'{linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
assert loss.item() < first / 10
print("RESULT final_loss", loss.item())
print("RESULT w0", linear_layer.weight[:, 0].item())
