"""Backprop over two paths equals the multivariate chain rule; second derivatives need create_graph.

f(x) = g(h1(x), h2(x)) with h1 = x^2, h2 = sin(x), g = h1 h2:
df/dx = dg/dh1 dh1/dx + dg/dh2 dh2/dx = h2 * 2x + h1 * cos(x).
For f'' the backward pass must itself be recorded (create_graph=True), or use cr.hessian.
"""

import numpy as np

import chainrule as cr


def main(x0=1.3):
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True, name="x")
    h1 = x**2
    h1.name = "h1"
    h2 = cr.sin(x)
    h2.name = "h2"
    f = h1 * h2
    f.name = "f"
    print(cr.explain(f))  # the two paths, term by term (explain records its own backward pass)
    (df,) = cr.autograd.grad(f, x, create_graph=True)
    chain = np.sin(x0) * 2 * x0 + x0**2 * np.cos(x0)
    (d2f,) = cr.autograd.grad(df, x)
    d2_exact = 2 * np.sin(x0) + 4 * x0 * np.cos(x0) - x0**2 * np.sin(x0)
    hess = float(cr.hessian(lambda t: t**2 * cr.sin(t))(cr.tensor(x0, dtype=cr.float64)))
    print(f"backprop df/dx = {df.item():.10f};  chain rule sum over the two paths = {chain:.10f}")
    print(f"f''(x) via create_graph = {d2f.item():.10f}; via cr.hessian = {hess:.10f}; exact = {d2_exact:.10f}")
    return {"df": df.item(), "chain": chain, "d2f": d2f.item(), "hessian": hess, "d2_exact": d2_exact}


if __name__ == "__main__":
    main()
