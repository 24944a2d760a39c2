"""transformer-block: one nn.TransformerEncoderLayer (d_model 128, 4 heads, feed-forward 512,
dropout 0.1, batch_first), batch 32 x sequence 64, float32: forward, MSE loss, backward and an
AdamW step, torch vs chainrule eager vs chainrule.jit.

Same initial weights (torch's, loaded into chainrule), same batches, same thread count. Each
round times STEPS steps of each in turn. The checked ratios are the medians over rounds of each
round's chainrule time over its torch time, taken a second apart (as mnist1d_mlp.py's floor since
session 11): this VM's speed drifts by a third within minutes, and the best round of each side
compared two different moments (the jit ratio read 0.64x to 0.87x over session 11's runs). The
best-round figures are printed too. The jit's first call
(the trace, a one-off cost of a training run) is timed on its own and reported as its own row;
its per-step figure is the replays', the steady state of a run of thousands of steps.

    .venv/bin/python bench/transformer_block.py [--profile]
"""

from __future__ import annotations

import gc
import sys
import time

import _common  # noqa: F401  (pins threads before NumPy loads)
import numpy as np
from _common import QUICK, report, save, train_step

D_MODEL, HEADS, FF, DROPOUT = 128, 4, 512, 0.1
BATCH, SEQ = 32, 64
STEPS = 5 if QUICK else 20
ROUNDS = 2 if QUICK else 8
LR = 1e-3


def batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    shape = (BATCH, SEQ, D_MODEL)
    draw = rng.standard_normal
    return [(draw(shape, dtype=np.float32), draw(shape, dtype=np.float32)) for _ in range(steps)]


def torch_layer():
    from _common import torch as get_torch

    torch = get_torch()
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, DROPOUT, batch_first=True)


def make_step(lib, layer):
    """One training step (MSE, AdamW), the same code for both libraries."""
    return train_step(layer, lib.optim.AdamW(layer.parameters(), lr=LR), lib.nn.functional.mse_loss)


def torch_run(state, data):
    from _common import torch as get_torch

    torch = get_torch()
    layer = torch_layer()
    layer.load_state_dict(state)
    step = make_step(torch, layer)
    tdata = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    t0 = time.perf_counter()
    for x, y in tdata:
        loss = step(x, y)
    return time.perf_counter() - t0, float(loss.detach()), None


def chainrule_layer(state):
    import chainrule

    layer = chainrule.nn.TransformerEncoderLayer(D_MODEL, HEADS, FF, DROPOUT, batch_first=True)
    layer.load_state_dict({k: chainrule.tensor(v.numpy()) for k, v in state.items()})
    return layer


def chainrule_run(state, data, jit=False):
    """(seconds for the steps, final loss, seconds of the jit's trace or None)."""
    import chainrule

    layer = chainrule_layer(state)
    step = make_step(chainrule, layer)
    cdata = [(chainrule.from_numpy(x), chainrule.from_numpy(y)) for x, y in data]
    trace = None
    if jit:  # the first step traces; the other steps, timed, replay (the same batches as the others)
        step = chainrule.jit(step)
        t0 = time.perf_counter()
        step(*cdata[0])
        trace = time.perf_counter() - t0
        cdata = cdata[1:]
    t0 = time.perf_counter()
    for x, y in cdata:
        loss = step(x, y)
    return (time.perf_counter() - t0) * len(data) / len(cdata), float(loss.item()), trace


def profile(state, data):
    """Where chainrule's eager step spends its time: cProfile's top entries by own time."""
    import cProfile
    import pstats

    import chainrule

    layer = chainrule_layer(state)
    step = make_step(chainrule, layer)
    cdata = [(chainrule.from_numpy(x), chainrule.from_numpy(y)) for x, y in data]
    step(*cdata[0])
    prof = cProfile.Profile()
    prof.enable()
    for x, y in cdata:
        step(x, y)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def run():
    state = torch_layer().state_dict()
    data = batches(STEPS)
    if "--profile" in sys.argv:
        profile(state, data)
        return None
    torch_run(state, data[:2])  # warm both libraries' first-call costs
    chainrule_run(state, data[:2])
    runs = {"torch": [], "eager": [], "jit": []}
    for _ in range(ROUNDS):
        for name, fn in (("torch", torch_run), ("eager", chainrule_run), ("jit", chainrule_run)):
            gc.collect()
            runs[name].append(fn(state, data, jit=True) if name == "jit" else fn(state, data))
    best = {k: min(r[0] for r in v) * 1000.0 / STEPS for k, v in runs.items()}
    torch_rounds = np.array([r[0] for r in runs["torch"]])
    paired = {k: float(np.median(np.array([r[0] for r in runs[k]]) / torch_rounds)) for k in ("eager", "jit")}
    rows = [
        ("torch ms/step", best["torch"], "ms"),
        ("chainrule eager ms/step", best["eager"], "ms"),
        ("chainrule jit ms/step (replays)", best["jit"], "ms"),
        ("chainrule jit first call (trace)", min(r[2] for r in runs["jit"]) * 1000.0, "ms, once per run"),
        ("chainrule eager/torch", paired["eager"], "x (target <= 1.0), median of rounds"),
        ("chainrule jit/torch", paired["jit"], "x (target <= 0.8), median of rounds"),
        ("chainrule eager/torch, best round of each", best["eager"] / best["torch"], "x"),
        ("chainrule jit/torch, best round of each", best["jit"] / best["torch"], "x"),
        ("torch final loss", runs["torch"][-1][1], ""),
        ("chainrule eager final loss", runs["eager"][-1][1], ""),
        ("chainrule jit final loss", runs["jit"][-1][1], ""),
    ]
    title = f"transformer-block (d_model {D_MODEL}, {HEADS} heads, seq {SEQ}, batch {BATCH}, {STEPS} steps)"
    return report(title, rows)


if __name__ == "__main__":
    result = run()
    if result is not None:
        save("transformer-block", result)
