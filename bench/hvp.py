"""hvp: Hessian-vector product of f(x) = sum(tanh(W x))^2 by double backward, W 256x256, float64.

chainrule and PyTorch: g = grad(f, x, create_graph=True); Hv = grad(<g, v>, x).
NumPy: the closed form, with u = W^T (1 - t^2), t = tanh(W x), s = sum(t):
Hv = 2 u <u, v> + 2 s W^T (-2 t (1 - t^2) * (W v)).
"""

from __future__ import annotations

import _common  # noqa: F401
import numpy as np
from _common import QUICK, best_of, report, save

N = 256
NUMBER = 20 if QUICK else 200
REPEATS = 3 if QUICK else 7


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((N, N)) / np.sqrt(N), rng.standard_normal(N), rng.standard_normal(N))


def numpy_hvp(W, x, v):
    t = np.tanh(W @ x)
    s = t.sum()
    d = 1 - t * t
    u = W.T @ d
    return 2 * u * (u @ v) + 2 * s * (W.T @ (-2 * t * d * (W @ v)))


def torch_hvp_fn(W, x, v):
    from _common import torch as get_torch

    torch = get_torch()
    Wt, vt = torch.from_numpy(W), torch.from_numpy(v)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)

    def run():
        f = torch.tanh(Wt @ xt).sum() ** 2
        (g,) = torch.autograd.grad(f, xt, create_graph=True)
        (hv,) = torch.autograd.grad((g * vt).sum(), xt)
        return hv.numpy()

    return run


def chainrule_hvp_fn(W, x, v, jit=False):
    import chainrule

    Wc, vc = chainrule.from_numpy(W), chainrule.from_numpy(v)
    xc = chainrule.tensor(x, requires_grad=True)

    def hvp(xc):
        f = chainrule.tanh(Wc @ xc).sum() ** 2
        (g,) = chainrule.autograd.grad(f, xc, create_graph=True)
        (hv,) = chainrule.autograd.grad((g * vc).sum(), xc)
        return hv

    if jit:
        hvp = chainrule.jit(hvp)

    def run():
        return hvp(xc).numpy()

    return run


def run():
    W, x, v = _data()
    ref = numpy_hvp(W, x, v)
    t_fn, e_fn, c_fn = torch_hvp_fn(W, x, v), chainrule_hvp_fn(W, x, v), chainrule_hvp_fn(W, x, v, jit=True)
    err_t = float(np.abs(t_fn() - ref).max())
    err_e = float(np.abs(e_fn() - ref).max())
    c_fn()  # the trace
    err_c = float(np.abs(c_fn() - ref).max())  # a replay
    ms = 1e3
    t_np = best_of(lambda: numpy_hvp(W, x, v), repeats=REPEATS, number=NUMBER) * ms
    t_torch = best_of(t_fn, repeats=REPEATS, number=NUMBER) * ms
    t_eager = best_of(e_fn, repeats=REPEATS, number=NUMBER) * ms
    t_cr = best_of(c_fn, repeats=REPEATS, number=NUMBER) * ms
    rows = [
        ("numpy (closed form) ms/product", t_np, "ms"),
        ("torch ms/product", t_torch, "ms"),
        ("chainrule eager ms/product", t_eager, "ms"),
        ("chainrule jit ms/product", t_cr, "ms"),
        ("chainrule eager/torch", t_eager / t_torch, "x"),
        ("chainrule/torch", t_cr / t_torch, "x (target <= 1.0), jit"),
        ("max |Hv - closed form| torch", err_t, ""),
        ("max |Hv - closed form| chainrule eager", err_e, ""),
        ("max |Hv - closed form| chainrule jit", err_c, ""),
    ]
    result = report(f"hvp (W {N}x{N}, float64)", rows)
    save("hvp", result)
    return result


if __name__ == "__main__":
    run()
