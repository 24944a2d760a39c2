"""deep-chain: 100,000 scalar ops (alternating *c and +c) forward and backward.

Reports seconds and microseconds per op for 10k, 100k and 400k ops; linear means the
400k/100k ratio is ~4 (from 10k to 100k the per-op cost still rises while Python's cyclic GC
starts traversing a graph that outgrows the interpreter's own objects; with the GC paused
that ratio is ~10 as well), peak traced memory (tracemalloc, in a separate run so it does not slow the timing),
and the memory still held after backward (saved values freed) and after the output
is dropped (the whole graph freed). Backward is iterative: no recursion limit is touched.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

import _common  # noqa: F401
from _common import QUICK, report, save

N_BIG = 20_000 if QUICK else 100_000
N_SMALL = N_BIG // 10


def chain(n):
    import chainrule

    x = chainrule.tensor(0.5, dtype=chainrule.float64, requires_grad=True)
    y = x
    for i in range(n):
        y = y * 0.99999 if i % 2 == 0 else y + 1e-6
    return x, y


def timed(n, repeats=3):
    best_f = best_b = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        x, y = chain(n)
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        best_f, best_b = min(best_f, t1 - t0), min(best_b, t2 - t1)
        del x, y
    return best_f, best_b


def timed_without_gc(n):
    """Forward+backward with the cyclic GC paused: its generation-2 passes over the live graph
    are the only part that grows faster than the number of ops."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        x, y = chain(n)
        y.backward()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def memory(n):
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    x, y = chain(n)
    after_forward = tracemalloc.get_traced_memory()[0] - base
    y.backward()
    after_backward = tracemalloc.get_traced_memory()[0] - base
    peak = tracemalloc.get_traced_memory()[1] - base
    ok = x.grad is not None
    del y
    gc.collect()
    after_drop = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return peak, after_forward, after_backward, after_drop, ok


def run():
    import chainrule  # noqa: F401  (import outside the timing)

    limit = sys.getrecursionlimit()
    fs, bs = timed(N_SMALL)
    fb, bb = timed(N_BIG, repeats=2)
    # Beyond 100k ops the graph outgrows the interpreter's own objects, and each op costs the
    # same whatever the length: the linearity check. (From 10k to 100k the per-op cost still
    # rises, as Python's cyclic GC begins to traverse a graph that now dominates the heap.)
    f4, b4 = timed(4 * N_BIG, repeats=1)
    small_nogc = min(timed_without_gc(N_SMALL) for _ in range(3))
    big_nogc = min(timed_without_gc(N_BIG) for _ in range(2))
    peak, after_fwd, after_bwd, after_drop, ok = memory(N_BIG)
    mb = 1 / 2**20
    rows = [
        (f"{N_SMALL} ops forward+backward", fs + bs, "s"),
        (f"{N_BIG} ops forward", fb, "s"),
        (f"{N_BIG} ops backward", bb, "s"),
        (f"{N_BIG} ops forward+backward", fb + bb, "s"),
        (f"{4 * N_BIG} ops forward+backward", f4 + b4, "s"),
        ("us per op (fwd+bwd, 10k)", (fs + bs) / N_SMALL * 1e6, "us"),
        ("us per op (fwd+bwd, 100k)", (fb + bb) / N_BIG * 1e6, "us"),
        ("us per op (fwd+bwd, 400k)", (f4 + b4) / (4 * N_BIG) * 1e6, "us"),
        ("scaling 400k/100k (linear = 4)", (f4 + b4) / (fb + bb), "x"),
        ("scaling 100k/10k (linear = 10)", (fb + bb) / (fs + bs), "x"),
        ("backward scaling 100k/10k", bb / bs, "x"),
        ("scaling 100k/10k, cyclic GC paused", big_nogc / small_nogc, "x"),
        ("peak traced memory", peak * mb, "MiB"),
        ("held after forward (graph + saved)", after_fwd * mb, "MiB"),
        ("held after backward (graph, saved freed)", after_bwd * mb, "MiB"),
        ("held after dropping the output", after_drop * mb, "MiB"),
        ("recursion limit untouched", sys.getrecursionlimit() == limit and ok, ""),
    ]
    result = report(f"deep-chain ({N_BIG} scalar ops)", rows)
    save("deep-chain", result)
    return result


if __name__ == "__main__":
    run()
