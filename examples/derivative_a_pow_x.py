"""d/dx a^x = a^x ln a: symbolically (SymPy, from the chainrule function) and by autodiff at a few points."""

import numpy as np

import chainrule as cr
import chainrule.symbolic as sym


def main(a=2.0, points=(-1.0, 0.0, 1.5, 3.0)):
    d = sym.diff("a^x", "x")
    print("d/dx a^x =", d)  # a**x*log(a)
    results = {}
    for x in points:
        auto = float(cr.grad(lambda t: a**t)(cr.tensor(x, dtype=cr.float64)))
        exact = a**x * np.log(a)
        results[x] = (auto, exact)
        print(f"x = {x:5}: autodiff {auto:.10f}   a^x ln a = {exact:.10f}")
    return {"symbolic": d, "values": results}


if __name__ == "__main__":
    main()
