"""Shared set-up for the benchmarks: thread count, timing, results.

Import this module before NumPy or torch: it pins every BLAS/OpenMP pool to
THREADS threads so chainrule, PyTorch and hand-written NumPy compete on equal terms.
"""

from __future__ import annotations

import os
import sys

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = str(THREADS)

import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
# QUICK=1 shortens every workload (for smoke runs); figures are then not comparable.
QUICK = os.environ.get("BENCH_QUICK") == "1"


def torch():
    import torch as _torch

    _torch.set_num_threads(THREADS)
    return _torch


def best_of(fn, repeats=5, number=1, warmup=1):
    """Best wall time of `repeats` runs of `number` calls to fn (seconds per call)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def kaiming_uniform(rng, out_f, in_f, *extra):
    """PyTorch's default Linear/Conv init, as float32 arrays (same values for all three implementations)."""
    fan_in = in_f * int(np.prod(extra)) if extra else in_f
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, (out_f, in_f) + tuple(extra)).astype(np.float32)
    b = rng.uniform(-bound, bound, (out_f,)).astype(np.float32)
    return w, b


def report(name, rows):
    """Print rows [(label, value, unit)] and return a dict for run_all."""
    print(f"== {name}")
    for label, value, unit in rows:
        if isinstance(value, float):
            print(f"  {label:<44} {value:12.4g} {unit}")
        else:
            print(f"  {label:<44} {value!s:>12} {unit}")
    sys.stdout.flush()
    return {label: value for label, value, _ in rows}


def save(name, result):
    path = HERE / "results.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = result
    path.write_text(json.dumps(data, indent=1, default=float))


def numpy_cross_entropy_grad(z, y):
    """d mean_n -log softmax(z_n)[y_n] / dz = (softmax(z) - onehot(y)) / N, by hand (z is overwritten)."""
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    e /= e.sum(axis=1, keepdims=True)
    e[np.arange(len(y)), y] -= 1
    e *= np.float32(1.0 / len(y))
    return e


def numpy_mlp_step(Ws, bs, x, y, lr):
    """One SGD step of a 3-layer ReLU MLP with softmax cross-entropy, written by hand in NumPy.

    Ws[i] is (out, in), bs[i] is (out,); both are updated in place with lr (a float32).
    Backward: dL/dz = (softmax(z) - onehot(y)) / N, then the chain rule by hand.
    """
    h1 = x @ Ws[0].T
    h1 += bs[0]
    a1 = np.maximum(h1, 0)
    h2 = a1 @ Ws[1].T
    h2 += bs[1]
    a2 = np.maximum(h2, 0)
    z = a2 @ Ws[2].T
    z += bs[2]
    e = numpy_cross_entropy_grad(z, y)
    gW2 = e.T @ a2
    gb2 = e.sum(axis=0)
    g2 = e @ Ws[2]
    g2 *= a2 > 0
    gW1 = g2.T @ a1
    gb1 = g2.sum(axis=0)
    g1 = g2 @ Ws[1]
    g1 *= a1 > 0
    gW0 = g1.T @ x
    gb0 = g1.sum(axis=0)
    for p, g in ((Ws[0], gW0), (bs[0], gb0), (Ws[1], gW1), (bs[1], gb1), (Ws[2], gW2), (bs[2], gb2)):
        g *= lr
        p -= g


def fastest_numpy_mlp_step(params, batch, lr, separate=False):
    """The fastest NumPy version of numpy_mlp_step we could write: step(x, y) -> loss.

    It does what no library can do without knowing the whole step in advance:
    - every output goes into a buffer allocated once (matmul's and the ufuncs' out=);
    - ReLU and its mask work in place, ReLU against a stored array of zeros (NumPy
      vectorizes maximum only for two full arrays: 1.0 us against 3.6 us at 100 x 100);
    - row sums are products with a ones vector (BLAS: 0.9 us against 2.3 us at 100 x 10);
    - the parameters and gradients are views of two flat arrays, so SGD is one pass
      (NumPy's own BLAS axpy);
    - no checks: the targets are trusted, the shift is the batch maximum with no fallback.
    It sets a floor for any step written with NumPy calls, chainrule's included. params:
    [(W (out, in), b (out,))] for 3 layers, float32, copied; step.params holds the live views.

    separate=True keeps what a library with PyTorch's API cannot avoid: each parameter and
    gradient its own array (SGD in two calls per parameter, through a scratch buffer), a check
    of the targets' range and of the row sums (cross-entropy's fallback for far-off rows).
    """
    from chainrule.optim._blas import axpy

    f32 = np.float32
    total = sum(w.size + b.size for w, b in params)
    flat, gflat = np.empty(total, f32), np.empty(total, f32)
    Ws, bs, gWs, gbs = [], [], [], []
    offset = 0
    for w, b in params:
        for value, views, grads in ((w, Ws, gWs), (b, bs, gbs)):
            views.append(flat[offset : offset + value.size].reshape(value.shape))
            views[-1][...] = value
            grads.append(gflat[offset : offset + value.size].reshape(value.shape))
            offset += value.size
    hidden, classes = Ws[0].shape[0], Ws[2].shape[0]
    h1, h2, g1, g2 = (np.empty((batch, hidden), f32) for _ in range(4))
    zeros, mask = np.zeros((batch, hidden), f32), np.empty((batch, hidden), bool)
    z, e = np.empty((batch, classes), f32), np.empty((batch, classes), f32)
    ones, row_sums = np.ones((classes, 1), f32), np.empty((batch, 1), f32)
    rows, scale = np.arange(batch), f32(1.0 / batch)
    if separate:
        Ws, bs, gWs, gbs = ([v.copy() for v in views] for views in (Ws, bs, gWs, gbs))
    updates = [(p, g, np.empty_like(p)) for p, g in zip(Ws + bs, gWs + gbs)] if separate else []
    lr32 = f32(lr)
    (W0, W1, W2), (b0, b1, b2), (gW0, gW1, gW2), (gb0, gb1, gb2) = Ws, bs, gWs, gbs
    W0T, W1T, W2T = W0.T, W1.T, W2.T
    add, matmul, maximum, multiply, greater, reduce = (
        np.add,
        np.matmul,
        np.maximum,
        np.multiply,
        np.greater,
        np.add.reduce,
    )

    def step(x, y):
        matmul(x, W0T, out=h1)
        add(h1, b0, out=h1)
        maximum(h1, zeros, out=h1)
        matmul(h1, W1T, out=h2)
        add(h2, b1, out=h2)
        maximum(h2, zeros, out=h2)
        matmul(h2, W2T, out=z)
        add(z, b2, out=z)
        if separate and y.view(f"u{y.itemsize}").max() >= classes:
            raise IndexError("target out of range")
        np.subtract(z, z.max(), out=z)
        np.exp(z, out=e)
        matmul(e, ones, out=row_sums)
        if separate and row_sums.min() < 1e-13:
            raise FloatingPointError("a row far below the batch maximum: shift per row")
        loss = (reduce(np.log(row_sums), axis=None) - reduce(z[rows, y])) * scale
        np.divide(e, row_sums, out=e)
        e[rows, y] -= 1
        multiply(e, scale, out=e)
        matmul(e.T, h2, out=gW2)
        reduce(e, axis=0, out=gb2)
        matmul(e, W2, out=g2)
        multiply(g2, greater(h2, 0, out=mask), out=g2)
        matmul(g2.T, h1, out=gW1)
        reduce(g2, axis=0, out=gb1)
        matmul(g2, W1, out=g1)
        multiply(g1, greater(h1, 0, out=mask), out=g1)
        matmul(g1.T, x, out=gW0)
        reduce(g1, axis=0, out=gb0)
        if separate:
            for p, g, scratch in updates:
                np.subtract(p, multiply(g, lr32, out=scratch), out=p)
        else:
            axpy(flat, -lr, gflat)
        return loss

    step.params = list(zip(Ws, bs))
    return step


def _relu_mlp(nn, params):
    layers = []
    for w, _ in params:
        layers += [nn.Linear(w.shape[1], w.shape[0]), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def torch_mlp(params, lr):
    """(model, SGD(lr)): a torch ReLU MLP whose Linear layers start at params [(W, b)]."""
    t = torch()
    model = _relu_mlp(t.nn, params)
    with t.no_grad():
        for layer, (w, b) in zip(model[::2], params):
            layer.weight.copy_(t.from_numpy(w))
            layer.bias.copy_(t.from_numpy(b))
    return model, t.optim.SGD(model.parameters(), lr=lr)


def chainrule_mlp(params, lr):
    """(model, SGD(lr)): the same MLP in chainrule."""
    import chainrule

    model = _relu_mlp(chainrule.nn, params)
    for layer, (w, b) in zip(model[::2], params):
        layer.weight.data.copy_(chainrule.from_numpy(w))
        layer.bias.data.copy_(chainrule.from_numpy(b))
    return model, chainrule.optim.SGD(model.parameters(), lr=lr)


def train_step(model, opt, loss_fn):
    """step(x, y): one forward, backward and optimizer step; the same code for torch and chainrule."""

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


def training_loop(model, opt, batches, cross_entropy, compile=None):
    """Seconds to train `model` on `batches` (pairs of tensors) with `cross_entropy` and `opt`;
    `compile` (chainrule.jit) wraps the step when given, its first call (the trace) timed too.
    """
    step = train_step(model, opt, cross_entropy)
    if compile is not None:
        step = compile(step)
    t0 = time.perf_counter()
    for xb, yb in batches:
        step(xb, yb)
    return time.perf_counter() - t0


def train_and_test(lib, model, opt, data, x_test, y_test, compile=None):
    """(seconds, test accuracy): `model` trained with `opt` on `data` (pairs of arrays) by `training_loop`,
    then scored on (x_test, y_test); `lib` is torch or chainrule, which share the names used here."""
    batches = [(lib.from_numpy(xb), lib.from_numpy(yb)) for xb, yb in data]
    elapsed = training_loop(model, opt, batches, lib.nn.functional.cross_entropy, compile=compile)
    with lib.no_grad():
        acc = (model(lib.from_numpy(x_test)).detach().numpy().argmax(1) == y_test).mean()
    return elapsed, float(acc)


def interleaved_steps(build, chunk=100, passes=3, chunks=None):
    """{name: seconds per step}: the best `chunk`-step stretch of each step function, the functions
    taking turns chunk by chunk. build() gives {name: (step(x, y), batches)} anew for each of the
    `passes` passes (fresh models: every pass trains what a whole run trains). A busy stretch of a
    shared machine then slows one chunk of each, not one whole run of one. `chunks`, a dict, gets
    {name: [seconds per step of every chunk, in order]} (the chunks of one turn share an index)."""
    best = {}
    for _ in range(passes):
        runs = build()
        n = min(len(batches) for _, batches in runs.values())
        for start in range(0, n - chunk + 1, chunk):
            for name, (step, batches) in runs.items():
                data = batches[start : start + chunk]
                t0 = time.perf_counter()
                for x, y in data:
                    step(x, y)
                seconds = (time.perf_counter() - t0) / chunk
                best[name] = min(best.get(name, float("inf")), seconds)
                if chunks is not None:
                    chunks.setdefault(name, []).append(seconds)
    return best


def compare_training(
    name,
    numpy_train,
    torch_train,
    chainrule_train,
    args,
    *,
    steps,
    rounds,
    numpy_warmup,
    targets,
    floors=None,
    floor_targets=None,
):
    """Time the same training run four ways and report s/1000 steps, ratios and test accuracy.

    numpy_train(*args) returns the test accuracy (timed here); torch_train(*args) and
    chainrule_train(*args, jit=...) return (seconds, accuracy). chainrule runs eagerly and as
    a chainrule.jit train step (trace on the first step, replay afterwards; the trace is inside
    the timed loop). Each of `rounds` rounds runs all four in turn, so that a busy stretch of
    this shared machine slows them alike; each figure is the best of its rounds. The targets,
    whose texts `targets` gives as (chainrule/torch, chainrule/numpy), are checked on jit.
    `floors` ({label: fn(*args) -> (seconds, accuracy or None)}) are timed in the same rounds
    and reported against torch.
    """
    per = 1000.0 / steps
    floors = floors or {}
    floor_targets = floor_targets or {}  # {floor label: target text} for a chainrule-jit/floor row
    for _ in range(numpy_warmup):
        numpy_train(*args)
    runs = {"numpy": [], "torch": [], "eager": [], "jit": [], **{k: [] for k in floors}}
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        acc = numpy_train(*args)
        runs["numpy"].append((time.perf_counter() - t0, acc))
        gc.collect()
        runs["torch"].append(torch_train(*args))
        gc.collect()
        runs["eager"].append(chainrule_train(*args, jit=False))
        gc.collect()
        runs["jit"].append(chainrule_train(*args, jit=True))
        for label, fn in floors.items():
            gc.collect()
            runs[label].append(fn(*args))
    best = {k: min(v, key=lambda run: run[0]) for k, v in runs.items()}
    (t_np, np_acc), (t_torch, acc_torch), (t_eager, acc_eager), (t_cr, acc_cr) = (
        best[k] for k in ("numpy", "torch", "eager", "jit")
    )
    t_np *= per
    t_torch *= per
    t_eager *= per
    t_cr *= per
    rows = [
        ("numpy s/1000 steps", t_np, "s"),
        ("torch s/1000 steps", t_torch, "s"),
        ("chainrule eager s/1000 steps", t_eager, "s"),
        ("chainrule jit s/1000 steps", t_cr, "s"),
        ("chainrule eager/torch", t_eager / t_torch, "x"),
        ("chainrule/torch", t_cr / t_torch, targets[0] + ", jit"),
        ("chainrule/numpy", t_cr / t_np, targets[1] + ", jit"),
        ("numpy test accuracy", np_acc, ""),
        ("torch test accuracy", acc_torch, ""),
        ("chainrule eager test accuracy", acc_eager, ""),
        ("chainrule jit test accuracy", acc_cr, ""),
    ]
    for label in floors:
        t, acc = best[label]
        rows += [(f"{label} s/1000 steps", t * per, "s"), (f"{label} / torch", t * per / t_torch, "x")]
        if label in floor_targets:
            rows.append((f"chainrule / {label}", t_cr / (t * per), floor_targets[label] + ", jit"))
        if acc is not None:
            rows.append((f"{label} test accuracy", acc, ""))
    return report(name, rows)
