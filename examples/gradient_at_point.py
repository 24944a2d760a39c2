"""Gradient of f(x, y) = x^3 + 3x^2 y + y^3 + 2x at (1, 2): (3x^2 + 6xy + 2, 3x^2 + 3y^2) = (17, 15)."""

import chainrule as cr
import chainrule.symbolic as sym


def f(x, y):
    return x**3 + 3 * x**2 * y + y**3 + 2 * x


def main():
    grad_sym = sym.gradient(f)
    print("grad f =", grad_sym)
    x = cr.tensor(1.0, requires_grad=True, dtype=cr.float64)
    y = cr.tensor(2.0, requires_grad=True, dtype=cr.float64)
    f(x, y).backward()
    g = (x.grad.item(), y.grad.item())
    print(f"grad f(1, 2) = {g}")
    return {"grad": g, "symbolic": grad_sym}


if __name__ == "__main__":
    main()
