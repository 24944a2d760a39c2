"""Learning PyTorch with Examples, Control Flow + Weight Sharing: a random number of reused e-terms."""
import math
import random

import chainrule as torch


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        self.e = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x ** exp
        return y

    def string(self):
        return (f'y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3 + '
                f'{self.e.item()} x^4 ? + {self.e.item()} x^5 ?')


random.seed(0)
torch.manual_seed(0)
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
model = DynamicNet()
with torch.no_grad():
    for i, param in enumerate(model.parameters()):
        param.fill_([0.0, 0.5, 0.0, -0.05, 0.0][i])

# The shared e gets the sum of its uses' gradients: check against the two terms by hand.
random.seed(3)
while True:
    state = random.getstate()
    if random.randint(4, 6) == 6:
        break
random.setstate(state)
model.zero_grad()
model(torch.tensor([2.0])).sum().backward()
assert abs(model.e.grad.item() - (2.0 ** 4 + 2.0 ** 5)) < 1e-4

criterion = torch.nn.MSELoss(reduction='sum')
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
losses = []
for t in range(600):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    losses.append(loss.item())
    if t % 200 == 199:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f'Result: {model.string()}')
assert min(losses[-50:]) < losses[0]
