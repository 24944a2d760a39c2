"""Learn the Basics, Automatic Differentiation: requires_grad, backward, no_grad, detach, Jacobian products."""
import numpy as np

import chainrule as torch

x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor(np.linspace(-1, 1, 15).reshape(5, 3).astype(np.float32), requires_grad=True)
b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
print(f"Gradient function for z = {z.grad_fn}")
print(f"Gradient function for loss = {loss.grad_fn}")
assert z.grad_fn is not None and loss.grad_fn is not None

loss.backward()
print(w.grad)
print(b.grad)
# d loss / d z = sigmoid(z) / 3, so every row of w.grad equals b.grad.
expected = torch.sigmoid(z.detach()) / 3
assert torch.allclose(b.grad, expected)
assert torch.allclose(w.grad, expected.expand(5, 3))
print("RESULT loss", loss.item())
print("RESULT b_grad_sum", b.grad.sum().item())

z = torch.matmul(x, w) + b
assert z.requires_grad
with torch.no_grad():
    z = torch.matmul(x, w) + b
assert not z.requires_grad

z = torch.matmul(x, w) + b
z_det = z.detach()
assert not z_det.requires_grad

inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
first = inp.grad.clone()
print(f"First call\n{inp.grad}")
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nSecond call\n{inp.grad}")
assert torch.allclose(inp.grad, 2 * first)
inp.grad.zero_()
out.backward(torch.ones_like(out), retain_graph=True)
print(f"\nCall after zeroing gradients\n{inp.grad}")
assert torch.allclose(inp.grad, first)
assert torch.allclose(first, 2 * (torch.eye(4, 5) + 1))
