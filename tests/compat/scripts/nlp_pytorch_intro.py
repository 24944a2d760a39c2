"""Deep Learning for NLP, Introduction to PyTorch: tensors, cat, view, and computation graphs."""
import chainrule as torch

torch.manual_seed(1)

V_data = [1., 2., 3.]
V = torch.tensor(V_data)
M = torch.tensor([[1., 2., 3.], [4., 5., 6]])
T = torch.tensor([[[1., 2.], [3., 4.]], [[5., 6.], [7., 8.]]])
print(V[0], V[0].item(), M[0], T[0])
assert V[0].item() == 1.0 and M[0].tolist() == [1., 2., 3.] and T[0].shape == (2, 2)

x = torch.randn((3, 4, 5))
assert x.shape == (3, 4, 5)

x = torch.tensor([1., 2., 3.])
y = torch.tensor([4., 5., 6.])
z = x + y
assert z.tolist() == [5., 7., 9.]

x_1 = torch.randn(2, 5)
y_1 = torch.randn(3, 5)
z_1 = torch.cat([x_1, y_1])
x_2 = torch.randn(2, 3)
y_2 = torch.randn(2, 5)
z_2 = torch.cat([x_2, y_2], 1)
assert z_1.shape == (5, 5) and z_2.shape == (2, 8)

x = torch.randn(2, 3, 4)
print(x.view(2, 12))
print(x.view(2, -1))
assert x.view(2, -1).shape == (2, 12)

x = torch.tensor([1., 2., 3], requires_grad=True)
y = torch.tensor([4., 5., 6], requires_grad=True)
z = x + y
print(z.grad_fn)
s = z.sum()
print(s.grad_fn)
s.backward()
print(x.grad)
assert x.grad.tolist() == [1.0, 1.0, 1.0]

x = torch.randn(2, 2)
y = torch.randn(2, 2)
print(x.requires_grad, y.requires_grad)
z = x + y
print(z.grad_fn)
x = x.requires_grad_()
y = y.requires_grad_()
z = x + y
print(z.grad_fn)
print(z.requires_grad)
assert z.grad_fn is not None and z.requires_grad
new_z = z.detach()
print(new_z.grad_fn)
assert new_z.grad_fn is None

print(x.requires_grad)
print((x ** 2).requires_grad)
with torch.no_grad():
    print((x ** 2).requires_grad)
    assert not (x ** 2).requires_grad
