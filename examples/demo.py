"""A first look at chainrule: derivatives, a gradient at a point, softmax and its Jacobian."""

import numpy as np

import chainrule as cr

# d/dx (x^10 - 2x^8 + 4/x^2 + 10) at x = 1: 10 - 16 - 8 = -14
f = lambda x: x**10 - 2 * x**8 + 4 / x**2 + 10
print("f'(1) =", cr.grad(f)(1.0))

# gradient of x^3 + 3x^2 y + y^3 + 2x at (1, 2): (3 + 12 + 2, 3 + 12) = (17, 15)
g = lambda x, y: x**3 + 3 * x**2 * y + y**3 + 2 * x
print("grad g(1, 2) =", cr.grad(g, argnums=(0, 1))(1.0, 2.0))

# softmax of [1, 2, 3, -1, -4, 0], its argmax and its Jacobian p_i (delta_ij - p_j)
z = cr.tensor([1.0, 2.0, 3.0, -1.0, -4.0, 0.0], dtype=cr.float64)
p = cr.softmax(z, dim=0)
print("softmax =", p)
print("argmax =", int(p.argmax()))
J = cr.jacobian(lambda z: cr.softmax(z, dim=0))(z.numpy())
print("Jacobian == diag(p) - p p^T:", np.allclose(J, np.diag(p.numpy()) - np.outer(p.numpy(), p.numpy())))
