"""f(x) = x^10 - 2x^8 + 4/x^2 + 10:  f'(x) = 10x^9 - 16x^7 - 8/x^3, symbolically and by autodiff."""

import chainrule as cr
import chainrule.symbolic as sym


def f(x):
    return x**10 - 2 * x**8 + 4 / x**2 + 10


def main(points=(1.0, 2.0, -0.5)):
    import sympy as sp

    d = sym.diff(f, "x")
    print("f'(x) =", sp.expand(d))
    x = sp.Symbol("x", real=True)
    results = {}
    for p in points:
        auto = float(cr.grad(f)(cr.tensor(p, dtype=cr.float64)))
        exact = float(d.subs(x, p))
        results[p] = (auto, exact)
        print(f"f'({p}) = {exact:.6f}   (autodiff {auto:.6f})")
    return {"derivative": sp.expand(d), "values": results}


if __name__ == "__main__":
    main()
