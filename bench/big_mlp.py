"""big-mlp: 784-1024-1024-10 ReLU MLP, batch 256, one forward + backward + SGD step, float32.

Reports ms per step, GFLOP/s (GEMM flops only) and the fraction of the NumPy float32
GEMM peak measured here (n = 2048).
"""
from __future__ import annotations

import _common  # noqa: F401
from _common import QUICK, best_of, kaiming_uniform, numpy_mlp_step, report, save, train_step

import functools
import gc
import time

import numpy as np

SIZES = (784, 1024, 1024, 10)
BATCH = 256
LR = 0.01
REPEATS = 3 if QUICK else 21
STEPS_PER_BLOCK = 5
PAUSE = 0.2  # s between blocks: OpenBLAS's and torch's spinning worker threads go to sleep


def step_flops():
    """GEMM flops of one step: forward, weight grads, and input grads of all but the first layer."""
    pairs = list(zip(SIZES[:-1], SIZES[1:]))
    fwd = sum(2 * BATCH * i * o for i, o in pairs)
    dw = fwd
    dx = sum(2 * BATCH * i * o for i, o in pairs[1:])
    return fwd + dw + dx


def gemm_peak(n=2048):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    t = best_of(lambda: np.matmul(a, b, out=out), repeats=5 if not QUICK else 2, warmup=1)
    return 2 * n ** 3 / t / 1e9


def make_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int64)
    params = [kaiming_uniform(rng, o, i) for i, o in zip(SIZES[:-1], SIZES[1:])]
    return x, y, params


def numpy_step_fn(x, y, params):
    Ws = [w.copy() for w, _ in params]
    bs = [b.copy() for _, b in params]
    lr = np.float32(LR)

    def step():
        numpy_mlp_step(Ws, bs, x, y, lr)
    return step


def torch_step_fn(x, y, params):
    from _common import torch as get_torch

    torch = get_torch()
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    with torch.no_grad():
        for layer, (w, b) in zip(model[::2], params):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    return functools.partial(train_step(model, opt, nn.functional.cross_entropy), torch.from_numpy(x),
                             torch.from_numpy(y))


def chainrule_step_fn(x, y, params):
    import chainrule
    from chainrule import nn

    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    for layer, (w, b) in zip([model[0], model[2], model[4]], params):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    opt = chainrule.optim.SGD(model.parameters(), lr=LR)
    return functools.partial(train_step(model, opt, nn.functional.cross_entropy), chainrule.from_numpy(x),
                             chainrule.from_numpy(y))


def run():
    x, y, params = make_data()
    peak = gemm_peak()
    flops = step_flops()
    # All three built first (same memory in use), then timed in blocks: interleaving single
    # steps would make OpenBLAS's and torch's thread pools spin against each other.
    fns = {"numpy": numpy_step_fn(x, y, params), "torch": torch_step_fn(x, y, params),
           "chainrule": chainrule_step_fn(x, y, params)}
    # Blocks of STEPS_PER_BLOCK back-to-back steps, as in training, the three in turn in each of
    # REPEATS rounds (a busy stretch of this shared machine then slows all three alike); the GC
    # collects before each block. (A collection before every single step walked the ~285k
    # objects of torch and NumPy each time and timed every step from cold caches.)
    times = {k: [] for k in fns}
    for k, fn in fns.items():
        for _ in range(3):
            fn()
    for _ in range(REPEATS):
        for k, fn in fns.items():
            time.sleep(PAUSE)  # let the previous block's worker threads go idle
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(STEPS_PER_BLOCK):
                fn()
            times[k].append((time.perf_counter() - t0) / STEPS_PER_BLOCK)
    t_np, t_torch, t_cr = (float(np.median(times[k])) for k in ("numpy", "torch", "chainrule"))
    gf = lambda t: flops / t / 1e9  # noqa: E731
    rows = [
        ("numpy GEMM peak (n=2048, float32)", peak, "GFLOP/s"),
        ("GEMM GFLOP per step", flops / 1e9, "GFLOP"),
        ("numpy ms/step", t_np * 1e3, "ms"),
        ("torch ms/step", t_torch * 1e3, "ms"),
        ("chainrule ms/step", t_cr * 1e3, "ms"),
        ("numpy GFLOP/s", gf(t_np), "GFLOP/s"),
        ("torch GFLOP/s", gf(t_torch), "GFLOP/s"),
        ("chainrule GFLOP/s", gf(t_cr), "GFLOP/s"),
        ("numpy fraction of peak", gf(t_np) / peak, ""),
        ("chainrule fraction of peak", gf(t_cr) / peak, "(target >= 0.85)"),
        ("chainrule/torch", t_cr / t_torch, "x (target <= 0.9)"),
        ("chainrule/numpy", t_cr / t_np, "x"),
    ]
    result = report(f"big-mlp (784-1024-1024-10, batch {BATCH}, median of {REPEATS} blocks of {STEPS_PER_BLOCK} steps)",
                    rows)
    save("big-mlp", result)
    return result


if __name__ == "__main__":
    run()
