"""60-minute blitz, Tensors: construction, new_* methods, in-place ops, views, out=, NumPy bridge."""
import numpy as np

import chainrule as torch

x = torch.empty(5, 3)
assert x.shape == (5, 3)
x = torch.zeros(5, 3, dtype=torch.long)
assert x.dtype == torch.int64 and x.sum().item() == 0
x = torch.tensor([5.5, 3])
assert x.dtype == torch.float32

x = x.new_ones(5, 3, dtype=torch.double)
assert x.dtype == torch.float64 and x.shape == (5, 3)
x = torch.randn_like(x, dtype=torch.float)
assert x.dtype == torch.float32
print(x.size())
assert x.size() == torch.Size([5, 3])

y = torch.rand(5, 3)
r1 = x + y
r2 = torch.add(x, y)
result = torch.empty(5, 3)
torch.add(x, y, out=result)
y.add_(x)
assert torch.allclose(r1, r2) and torch.allclose(r1, result) and torch.allclose(r1, y)
print(x[:, 1])

x = torch.randn(4, 4)
y = x.view(16)
z = x.view(-1, 8)
print(x.size(), y.size(), z.size())
assert y.shape == (16,) and z.shape == (2, 8)
x[0, 0] = 7.0
assert y[0].item() == 7.0           # a view shares the data

one = torch.tensor([0.25])
assert one.item() == 0.25

a = torch.ones(5)
b = a.numpy()
a.add_(1)
assert b.tolist() == [2.0] * 5
a = np.ones(5)
b = torch.from_numpy(a)
np.add(a, 1, out=a)
assert b.tolist() == [2.0] * 5 and b.dtype == torch.float64

t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
print("RESULT t_t_sum", (t.t() * torch.tensor([1.0, 10.0])).sum().item())
