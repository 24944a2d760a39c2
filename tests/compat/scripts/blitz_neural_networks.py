"""60-minute blitz, Neural Networks: LeNet, parameters, backward with a gradient, MSELoss, manual and optim SGD."""
import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        return self.fc3(f6)


net = Net()
print(net)
params = list(net.parameters())
print(len(params))
print(params[0].size())
assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)

rng = np.random.default_rng(0)
with torch.no_grad():
    for p in net.parameters():
        fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else p.shape[0]
        p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape)).astype(np.float32) / np.sqrt(fan_in)))

input = torch.from_numpy(rng.normal(size=(1, 1, 32, 32)).astype(np.float32))
out = net(input)
print(out)
assert out.shape == (1, 10)

net.zero_grad()
out.backward(torch.from_numpy(rng.normal(size=(1, 10)).astype(np.float32)))
assert net.conv1.bias.grad.shape == (6,)

output = net(input)
target = torch.from_numpy(rng.normal(size=10).astype(np.float32))
target = target.view(1, -1)
criterion = nn.MSELoss()
loss = criterion(output, target)
print(loss)
print(loss.grad_fn)
print(loss.grad_fn.next_functions[0][0])
print(loss.grad_fn.next_functions[0][0].next_functions[0][0])

net.zero_grad()
print('conv1.bias.grad before backward')
print(net.conv1.bias.grad)
loss.backward()
print('conv1.bias.grad after backward')
print(net.conv1.bias.grad)
assert net.conv1.bias.grad.abs().sum().item() > 0
loss0 = loss.item()
print("RESULT loss0", loss0)
print("RESULT conv1_bias_grad", net.conv1.bias.grad.sum().item())

learning_rate = 0.01
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)

optimizer = optim.SGD(net.parameters(), lr=0.01)
for _ in range(5):
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
print("RESULT loss5", loss.item())
assert loss.item() < loss0
