"""big-mlp: 784-1024-1024-10 ReLU MLP, batch 256, one forward + backward + SGD step, float32.

Reports ms per step, GFLOP/s (GEMM flops only) and the fraction of the NumPy float32
GEMM peak measured here (n = 2048). The bar is NumPy's floor: chainrule's step within 1.2x of the
fastest hand-written NumPy step of the same rounds (issue 16 replaced the old "0.9x torch, 0.85 of
peak" bars with it, chainrule keeping NumPy as its only array engine); torch and the peak are shown.
"""

from __future__ import annotations

import functools
import gc
import time

import _common  # noqa: F401
import numpy as np
from _common import (
    QUICK,
    best_of,
    chainrule_mlp,
    fastest_numpy_mlp_step,
    kaiming_uniform,
    numpy_mlp_step,
    report,
    save,
    torch_mlp,
    train_step,
)

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


PEAK_N = 2048


def gemm_peak_fn(n=PEAK_N):
    """One n x n float32 GEMM, the peak's measurement (2 n^3 flops)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    return lambda: np.matmul(a, b, out=out)


def gemm_peak(n=PEAK_N):
    """GFLOP/s of the best of 5 n x n float32 GEMMs."""
    return 2 * n**3 / best_of(gemm_peak_fn(n), repeats=5 if not QUICK else 2, warmup=1) / 1e9


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


def fastest_numpy_step_fn(x, y, params):
    return functools.partial(fastest_numpy_mlp_step(params, BATCH, LR), x, y)


def torch_step_fn(x, y, params):
    from _common import torch as get_torch

    torch = get_torch()
    model, opt = torch_mlp(params, LR)
    return functools.partial(
        train_step(model, opt, torch.nn.functional.cross_entropy), torch.from_numpy(x), torch.from_numpy(y)
    )


def chainrule_step_fn(x, y, params):
    import chainrule

    model, opt = chainrule_mlp(params, LR)
    return functools.partial(
        train_step(model, opt, chainrule.nn.functional.cross_entropy), chainrule.from_numpy(x), chainrule.from_numpy(y)
    )


def run():
    x, y, params = make_data()
    flops = step_flops()
    # All built first (same memory in use), then timed in blocks: interleaving single steps
    # would make OpenBLAS's and torch's thread pools spin against each other.
    fns = {
        "numpy": numpy_step_fn(x, y, params),
        "fastest numpy": fastest_numpy_step_fn(x, y, params),
        "torch": torch_step_fn(x, y, params),
        "chainrule": chainrule_step_fn(x, y, params),
    }
    peak_fn = gemm_peak_fn()
    # Blocks of STEPS_PER_BLOCK back-to-back steps, as in training, all in turn in each of
    # REPEATS rounds (a busy stretch of this shared machine then slows all alike); the GC
    # collects before each block. (A collection before every single step walked the ~285k
    # objects of torch and NumPy each time and timed every step from cold caches.) Each round
    # also times one peak GEMM: this machine's GEMM speed moves by 10-20% from one minute to
    # the next, and a step is compared with the peak of its own round.
    times = {k: [] for k in fns}
    peaks = []
    for fn in fns.values():
        for _ in range(3):
            fn()
    for _ in range(REPEATS):
        time.sleep(PAUSE)
        peaks.append(2 * PEAK_N**3 / best_of(peak_fn, repeats=1, warmup=0) / 1e9)
        for k, fn in fns.items():
            time.sleep(PAUSE)  # let the previous block's worker threads go idle
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(STEPS_PER_BLOCK):
                fn()
            times[k].append((time.perf_counter() - t0) / STEPS_PER_BLOCK)
    best_peak = gemm_peak()
    median = lambda values: float(np.median(values))  # noqa: E731
    t_np, t_fast, t_torch, t_cr = (median(times[k]) for k in ("numpy", "fastest numpy", "torch", "chainrule"))
    gf = lambda t: flops / t / 1e9  # noqa: E731
    # Per round: the step's GFLOP/s over the same round's peak; the median of those.
    fraction = lambda k: median([gf(t) / p for t, p in zip(times[k], peaks)])  # noqa: E731
    rows = [
        ("numpy GEMM peak (n=2048, float32), median", median(peaks), "GFLOP/s"),
        ("numpy GEMM peak, best of 5 after the rounds", best_peak, "GFLOP/s"),
        ("GEMM GFLOP per step", flops / 1e9, "GFLOP"),
        ("numpy ms/step", t_np * 1e3, "ms"),
        ("fastest hand-written numpy ms/step", t_fast * 1e3, "ms"),
        ("torch ms/step", t_torch * 1e3, "ms"),
        ("chainrule ms/step", t_cr * 1e3, "ms"),
        ("numpy GFLOP/s", gf(t_np), "GFLOP/s"),
        ("torch GFLOP/s", gf(t_torch), "GFLOP/s"),
        ("chainrule GFLOP/s", gf(t_cr), "GFLOP/s"),
        ("numpy fraction of peak", fraction("numpy"), ""),
        ("fastest hand-written numpy fraction of peak", fraction("fastest numpy"), ""),
        ("torch fraction of peak", fraction("torch"), ""),
        ("chainrule fraction of peak", fraction("chainrule"), ""),
        ("chainrule fraction of the best peak", gf(t_cr) / best_peak, ""),
        ("chainrule/torch", t_cr / t_torch, "x"),
        ("chainrule/numpy", t_cr / t_np, "x"),
        ("chainrule/fastest hand-written numpy", t_cr / t_fast, "x (target <= 1.2)"),
    ]
    result = report(
        f"big-mlp (784-1024-1024-10, batch {BATCH}, median of {REPEATS} blocks of {STEPS_PER_BLOCK} steps)", rows
    )
    save("big-mlp", result)
    return result


if __name__ == "__main__":
    run()
