"""small-op-overhead: 200 elementwise ops (x*c, +b, tanh, sigmoid in turn) on 16 elements, sum, backward.

Microseconds per op, forward plus backward (the total divided by 200). Compares
chainrule with PyTorch; the NumPy column is the same arithmetic with a hand-written
backward, i.e. the floor set by NumPy's own per-call cost.
"""

from __future__ import annotations

import _common  # noqa: F401
import numpy as np
import scipy.special as sc
from _common import QUICK, best_of, report, save

N_OPS = 200
SIZE = 16
NUMBER = 20 if QUICK else 200
REPEATS = 3 if QUICK else 7


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal(SIZE).astype(np.float32) * 0.5, rng.standard_normal(SIZE).astype(np.float32) * 0.1


def numpy_fn():
    x0, b = _data()
    c = np.float32(0.9)

    def run():
        y = x0
        saved = []
        for i in range(N_OPS):
            k = i % 4
            if k == 0:
                y = y * c
            elif k == 1:
                y = y + b
            elif k == 2:
                y = np.tanh(y)
                saved.append(y)
            else:
                y = sc.expit(y)
                saved.append(y)
        g = np.ones_like(y)
        gb = np.zeros_like(b)
        for i in reversed(range(N_OPS)):
            k = i % 4
            if k == 0:
                g = g * c
            elif k == 1:
                gb += g
            elif k == 2:
                t = saved.pop()
                g = g * (1 - t * t)
            else:
                s = saved.pop()
                g = g * (s * (1 - s))
        return g, gb

    return run


def _chain_fn(leaf, tanh, sigmoid, compile=None):
    """The op chain for an autodiff library: `leaf(array)` makes a tensor that requires grad.

    `compile` (chainrule.jit) wraps the forward-and-backward function when given.
    """
    x0, b0 = _data()
    x, b = leaf(x0), leaf(b0)

    def chain(x, b):
        y = x
        for i in range(N_OPS):
            k = i % 4
            if k == 0:
                y = y * 0.9
            elif k == 1:
                y = y + b
            elif k == 2:
                y = tanh(y)
            else:
                y = sigmoid(y)
        y.sum().backward()

    if compile is not None:
        chain = compile(chain)

    def run():
        chain(x, b)
        x.grad = None
        b.grad = None

    return run


def torch_fn():
    from _common import torch as get_torch

    torch = get_torch()
    return _chain_fn(lambda a: torch.tensor(a, requires_grad=True), torch.tanh, torch.sigmoid)


def chainrule_fn(jit=False):
    import chainrule

    return _chain_fn(
        lambda a: chainrule.tensor(a, requires_grad=True),
        chainrule.tanh,
        chainrule.sigmoid,
        compile=chainrule.jit if jit else None,
    )


def run():
    us = lambda t: t / N_OPS * 1e6  # noqa: E731
    t_np = us(best_of(numpy_fn(), repeats=REPEATS, number=NUMBER, warmup=1))
    t_torch = us(best_of(torch_fn(), repeats=REPEATS, number=NUMBER, warmup=1))
    t_eager = us(best_of(chainrule_fn(), repeats=REPEATS, number=NUMBER, warmup=1))
    t_cr = us(best_of(chainrule_fn(jit=True), repeats=REPEATS, number=NUMBER, warmup=1))
    rows = [
        ("numpy us/op (fwd+bwd)", t_np, "us"),
        ("torch us/op (fwd+bwd)", t_torch, "us"),
        ("chainrule eager us/op (fwd+bwd)", t_eager, "us"),
        ("chainrule jit us/op (fwd+bwd)", t_cr, "us"),
        ("chainrule eager/torch", t_eager / t_torch, "x"),
        ("chainrule/torch", t_cr / t_torch, "x (target <= 0.5), jit"),
        ("chainrule/numpy", t_cr / t_np, "x, jit"),
    ]
    result = report(f"small-op-overhead ({N_OPS} ops on {SIZE} elements)", rows)
    save("small-op-overhead", result)
    return result


if __name__ == "__main__":
    run()
