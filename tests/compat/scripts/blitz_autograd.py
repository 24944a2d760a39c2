"""60-minute blitz, A Gentle Introduction to torch.autograd: external gradients, DAG, frozen parameters."""
import chainrule as torch
from chainrule import nn, optim

a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3 * a ** 3 - b ** 2
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
print(9 * a ** 2 == a.grad)
print(-2 * b == b.grad)
assert (9 * a ** 2 == a.grad).all() and (-2 * b == b.grad).all()
print("RESULT a_grad", a.grad.sum().item())

x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)
a = x + y
print(f"Does `a` require gradients?: {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
assert not a.requires_grad and b.requires_grad


class TinyNet(nn.Module):
    """Stands in for the tutorial's resnet18 (no torchvision): a body and an `fc` head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 1000)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


model = TinyNet()
for param in model.parameters():
    param.requires_grad = False
model.fc = nn.Linear(4 * 6 * 6, 10)
optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
out = model(torch.rand(2, 3, 8, 8))
out.sum().backward()
assert model.conv.weight.grad is None and model.fc.weight.grad is not None
trainable = [n for n, p in model.named_parameters() if p.requires_grad]
assert trainable == ["fc.weight", "fc.bias"]
before = model.conv.weight.clone()
optimizer.step()
assert torch.equal(before, model.conv.weight)
