"""sigma' = sigma (1 - sigma), tanh' = 1 - tanh^2, tanh(x) = 2 sigma(2x) - 1: proved with SymPy, checked numerically."""

import chainrule as cr
import chainrule.symbolic as sym


def main():
    sig_prime = sym.diff(cr.sigmoid, "x")
    claim1 = sym.equal(sig_prime, sym.trace(lambda x: cr.sigmoid(x) * (1 - cr.sigmoid(x))))
    tanh_prime = sym.diff(cr.tanh, "x")
    claim2 = sym.equal(tanh_prime, sym.trace(lambda x: 1 - cr.tanh(x) ** 2))
    claim3 = sym.identity(lambda x: cr.tanh(x), lambda x: 2 * cr.sigmoid(2 * x) - 1)
    # numerically: the engine's derivatives against the closed forms on a grid
    x = cr.linspace(-6, 6, 101, dtype=cr.float64)
    ds = cr.grad(lambda t: cr.sigmoid(t).sum())(x)
    dt = cr.grad(lambda t: cr.tanh(t).sum())(x)
    s, t = cr.sigmoid(x), cr.tanh(x)
    err1 = float((ds - s * (1 - s)).abs().max())
    err2 = float((dt - (1 - t * t)).abs().max())
    print(f"sigma'(x) = {sig_prime}  equals sigma(1 - sigma): {claim1}; max |autodiff - formula| = {err1:.2e}")
    print(f"tanh'(x)  = {tanh_prime}  equals 1 - tanh^2: {claim2}; max |autodiff - formula| = {err2:.2e}")
    print(
        f"tanh(x) = 2 sigma(2x) - 1: symbolic {claim3.symbolic}, numeric {claim3.numeric} "
        f"(max error {claim3.max_abs_error:.1e})"
    )
    return {"sigmoid": claim1, "tanh": claim2, "tanh_sigmoid": bool(claim3), "err": max(err1, err2)}


if __name__ == "__main__":
    main()
