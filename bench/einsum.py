"""einsum: a handful of contractions, forward and forward+backward, float32.

chainrule.einsum against torch.einsum and against NumPy's np.einsum(optimize=True), whose backward
is written by hand as the einsums of the gradient with the other operands (the same equations
chainrule derives). Milliseconds per call; the ratios are chainrule's time over the other's.
"""

from __future__ import annotations

import _common  # noqa: F401
import numpy as np
from _common import QUICK, best_of, report, save

REPEATS = 3 if QUICK else 7

# name, equation, operand shapes, the gradient equation of each operand (g first, then the others in order)
CASES = [
    (
        "batched matmul",
        "bij,bjk->bik",
        [(32, 64, 64), (32, 64, 64)],
        ["bik,bjk->bij", "bik,bij->bjk"],
    ),
    (
        "attention scores",
        "bhqd,bhkd->bhqk",
        [(32, 4, 64, 32), (32, 4, 64, 32)],
        ["bhqk,bhkd->bhqd", "bhqk,bhqd->bhkd"],
    ),
    (
        "bilinear",
        "bn,anm,bm->ba",
        [(64, 64), (32, 64, 64), (64, 64)],
        ["ba,anm,bm->bn", "ba,bn,bm->anm", "ba,bn,anm->bm"],
    ),
    (
        "three-operand chain",
        "ij,jk,kl->il",
        [(64, 256), (256, 256), (256, 64)],
        ["il,jk,kl->ij", "il,ij,kl->jk", "il,ij,jk->kl"],
    ),
    (
        "small matmul (overhead)",
        "ij,jk->ik",
        [(8, 8), (8, 8)],
        ["ik,jk->ij", "ik,ij->jk"],
    ),
]


def _number(shapes):
    work = max(np.prod(s) for s in shapes)
    return 3 if QUICK else max(3, min(2000, int(2e6 // work)))


def _arrays(shapes):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def numpy_fns(equation, grad_equations, arrays):
    out_shape = np.einsum(equation, *arrays, optimize=True).shape
    g = np.ones(out_shape, dtype=np.float32)

    def forward():
        return np.einsum(equation, *arrays, optimize=True)

    def step():
        np.einsum(equation, *arrays, optimize=True)
        return [
            np.einsum(eq, g, *(a for j, a in enumerate(arrays) if j != k), optimize=True)
            for k, eq in enumerate(grad_equations)
        ]

    return forward, step


def torch_fns(equation, arrays):
    from _common import torch as get_torch

    torch = get_torch()
    leaves = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    consts = [torch.from_numpy(a) for a in arrays]

    def forward():
        return torch.einsum(equation, *consts)

    def step():
        for x in leaves:
            x.grad = None
        out = torch.einsum(equation, *leaves)
        out.backward(torch.ones_like(out))
        return [x.grad.numpy() for x in leaves]

    return forward, step


def chainrule_fns(equation, arrays):
    import chainrule

    leaves = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    consts = [chainrule.from_numpy(a) for a in arrays]

    def forward():
        return chainrule.einsum(equation, *consts)

    def step():
        for x in leaves:
            x.grad = None
        out = chainrule.einsum(equation, *leaves)
        out.backward(chainrule.ones_like(out))
        return [x.grad.numpy() for x in leaves]

    return forward, step


def run():
    rows = []
    ratios_torch, ratios_numpy, ratios_fwd = [], [], []
    ms = 1e3
    for name, equation, shapes, grad_equations in CASES:
        arrays = _arrays(shapes)
        n_fwd, n_step = numpy_fns(equation, grad_equations, arrays)
        t_fwd, t_step = torch_fns(equation, arrays)
        c_fwd, c_step = chainrule_fns(equation, arrays)
        for ours, theirs, ref in zip(c_step(), t_step(), n_step()):
            scale = np.abs(ref).max()
            assert np.abs(ours - ref).max() <= 1e-4 * scale and np.abs(theirs - ref).max() <= 1e-4 * scale, name
        number = _number(shapes)
        times = {}
        for label, fn in (
            ("numpy fwd", n_fwd),
            ("torch fwd", t_fwd),
            ("chainrule fwd", c_fwd),
            ("numpy fwd+bwd", n_step),
            ("torch fwd+bwd", t_step),
            ("chainrule fwd+bwd", c_step),
        ):
            times[label] = best_of(fn, repeats=REPEATS, number=number) * ms
        rows += [(f"{name}: {label}", value, "ms") for label, value in times.items()]
        rows += [
            (f"{name}: chainrule/numpy fwd", times["chainrule fwd"] / times["numpy fwd"], "x"),
            (f"{name}: chainrule/numpy fwd+bwd", times["chainrule fwd+bwd"] / times["numpy fwd+bwd"], "x"),
            (f"{name}: chainrule/torch fwd+bwd", times["chainrule fwd+bwd"] / times["torch fwd+bwd"], "x"),
        ]
        ratios_fwd.append(times["chainrule fwd"] / times["numpy fwd"])
        ratios_numpy.append(times["chainrule fwd+bwd"] / times["numpy fwd+bwd"])
        ratios_torch.append(times["chainrule fwd+bwd"] / times["torch fwd+bwd"])

    def geomean(values):
        return float(np.exp(np.mean(np.log(values))))

    rows += [
        ("chainrule/numpy fwd, geometric mean", geomean(ratios_fwd), "x"),
        ("chainrule/numpy fwd+bwd, geometric mean", geomean(ratios_numpy), "x"),
        ("chainrule/torch fwd+bwd, geometric mean", geomean(ratios_torch), "x"),
    ]
    save("einsum", report("einsum (float32; numpy = np.einsum(optimize=True), backward by hand)", rows))


if __name__ == "__main__":
    run()
