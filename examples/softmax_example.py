"""softmax([1, 2, 3, -1, -4, 0]), its argmax, its Jacobian p_i (delta_ij - p_j), and why softmax subtracts max(x)."""

import numpy as np

import chainrule as cr


def main():
    z = cr.tensor([1.0, 2.0, 3.0, -1.0, -4.0, 0.0], dtype=cr.float64)
    p = cr.softmax(z, dim=0)
    print("softmax =", np.round(p.numpy(), 4), " sum =", float(p.sum()))
    k = int(p.argmax())
    print("argmax =", k, "(the largest logit, z =", z[k].item(), ")")
    J = cr.jacobian(lambda t: cr.softmax(t, dim=0))(z.numpy())
    P = p.numpy()
    formula = np.diag(P) - np.outer(P, P)
    print("Jacobian == diag(p) - p p^T:", np.allclose(J, formula), " (rows sum to 0:", np.allclose(J.sum(1), 0), ")")
    # why subtract the max: exp(1000) overflows to inf, inf/inf = nan; the shifted form is exact and finite
    big = np.array([1000.0, 1001.0, 1002.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(big) / np.exp(big).sum()
    stable = cr.softmax(cr.tensor(big, dtype=cr.float64), dim=0).numpy()
    print("naive softmax of [1000, 1001, 1002]:", naive, " stable:", np.round(stable, 4))
    return {"p": P, "argmax": k, "jacobian": J, "formula": formula, "naive": naive, "stable": stable}


if __name__ == "__main__":
    main()
