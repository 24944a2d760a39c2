"""Learn the Basics, Tensors: creating tensors, their attributes, operations and the NumPy bridge."""
import numpy as np

import chainrule as torch

grid = [[1, 2], [3, 4]]
x_data = torch.tensor(grid)
assert x_data.dtype == torch.int64

np_grid = np.array(grid)
x_np = torch.from_numpy(np_grid)
assert (x_np == x_data).all()

x_ones = torch.ones_like(x_data)
assert x_ones.dtype == torch.int64 and x_ones.shape == (2, 2)
x_rand = torch.rand_like(x_data, dtype=torch.float)
assert x_rand.dtype == torch.float32 and ((x_rand >= 0) & (x_rand < 1)).all()

shape = (2, 3,)
print(f"Random Tensor: \n {torch.rand(shape)} \n")
print(f"Ones Tensor: \n {torch.ones(shape)} \n")
print(f"Zeros Tensor: \n {torch.zeros(shape)}")

t = torch.rand(3, 4)
print(f"Shape of tensor: {t.shape}")
print(f"Datatype of tensor: {t.dtype}")
print(f"Device tensor is stored on: {t.device}")
assert str(t.device) == "cpu"

# A GPU is never available here: the tutorial's move stays skipped.
if torch.cuda.is_available():
    t = t.to("cuda")

t = torch.ones(4, 4)
print("First row: ", t[0])
print("First column: ", t[:, 0])
print("Last column:", t[..., -1])
t[:, 1] = 0
assert t.sum().item() == 12.0

joined = torch.cat([t, t, t], dim=1)
assert joined.shape == (4, 12)

y1 = t @ t.T
y2 = t.matmul(t.T)
y3 = torch.rand_like(t)
torch.matmul(t, t.T, out=y3)
assert torch.allclose(y1, y2) and torch.allclose(y1, y3)
print("RESULT y1_sum", y1.sum().item())

z1 = t * t
z2 = t.mul(t)
z3 = torch.rand_like(t)
torch.mul(t, t, out=z3)
assert torch.equal(z1, z2) and torch.equal(z1, z3)

agg = t.sum()
agg_item = agg.item()
print(agg_item, type(agg_item))
assert isinstance(agg_item, float) and agg_item == 12.0

t.add_(5)
assert t[0, 1].item() == 5.0 and t[0, 0].item() == 6.0

ones = torch.ones(5)
n = ones.numpy()
ones.add_(1)
assert (n == 2).all()              # the array shares the tensor's memory

n = np.ones(5)
shared = torch.from_numpy(n)
np.add(n, 1, out=n)
assert (shared == 2).all()         # and the tensor shares the array's
print("RESULT shared_sum", shared.sum().item())
