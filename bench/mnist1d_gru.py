"""mnist1d-gru: the mnist1d reference GRUBase (chainrule.models.BiGRU) against the same torch model.

A bidirectional GRU (hidden 6) over the 40-sample signal, one feature per time step, then a linear
layer on all time steps' states (2 * 6 * 40 = 480 features -> 10 classes); Adam lr 1e-2, batch 100,
as the paper's table (MODEL_DEFAULTS["gru"]). torch gets chainrule's initial weights; both train on
the same batches with the same thread count. chainrule runs eagerly and as a chainrule.jit train
step (the trace inside the timed loop). Each round runs all three in turn; figures are the best of
the rounds. There is no hand-written NumPy version here.

The end-to-end row times whole commands, each in a fresh process: `chainrule train --data mnist1d
--model gru --steps E2E_STEPS` (its defaults otherwise, --threads THREADS) against `torch_command`,
the same schedule as a plain PyTorch loop. `python mnist1d_gru.py --end-to-end 6000` times only
that row, at the CLI's full length.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (pins threads before NumPy loads)
import numpy as np
from _common import QUICK, THREADS, report, save, train_and_test
from mnist1d_mlp import batches, load_data

BATCH = 100
STEPS = 50 if QUICK else 300
LR = 1e-2
HIDDEN = 6
ROUNDS = 1 if QUICK else 3
E2E_STEPS = 100 if QUICK else 1000


def chainrule_model(seed=0):
    import chainrule
    from chainrule.models import BiGRU

    chainrule.manual_seed(seed)
    return BiGRU(40, 10, hidden=HIDDEN)


def torch_gru_base():
    """The mnist1d reference GRUBase (notebooks/models.py) in torch; its parameter names are BiGRU's."""
    from _common import torch as get_torch

    nn = get_torch().nn

    class GRUBase(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(1, HIDDEN, batch_first=True, bidirectional=True)
            self.linear = nn.Linear(2 * HIDDEN * 40, 10)

        def forward(self, x):
            h, _ = self.gru(x.reshape(x.shape[0], -1, 1))
            return self.linear(h.reshape(h.shape[0], -1))

    return GRUBase()


def torch_model(state):
    """The same model in torch, its parameters copied from chainrule's state_dict (the keys match)."""
    from _common import torch as get_torch

    torch = get_torch()
    model = torch_gru_base()
    model.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()})
    return model


def torch_train(data, x_test, y_test):
    from _common import torch as get_torch

    torch = get_torch()
    model = torch_model(chainrule_model().state_dict())
    return train_and_test(torch, model, torch.optim.Adam(model.parameters(), lr=LR), data, x_test, y_test)


def chainrule_train(data, x_test, y_test, jit=False):
    import chainrule

    model = chainrule_model()
    opt = chainrule.optim.Adam(model.parameters(), lr=LR)
    return train_and_test(chainrule, model, opt, data, x_test, y_test, compile=chainrule.jit if jit else None)


def torch_command(steps, data_path, out):
    """What `chainrule train --data mnist1d --model gru` does, as a plain PyTorch loop: GRUBase, Adam lr
    1e-2, batch 100 reshuffled every epoch, the test set scored every 1000 steps, test and train sets
    at the end, model and optimizer saved. (The CLI also writes its history, curves and metrics.)"""
    from _common import torch as get_torch

    torch = get_torch()
    f = np.load(data_path)
    x, y, x_test, y_test = (torch.from_numpy(f[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    torch.manual_seed(0)
    model = torch_gru_base()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(0)

    def accuracy(xs, ys):
        with torch.no_grad():
            return (model(xs).argmax(1) == ys).double().mean().item()

    step = 0
    while step < steps:
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x) - BATCH + 1, BATCH):
            idx = perm[i : i + BATCH]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 1000 == 0:
                print(f"eval {step}, accu={accuracy(x_test, y_test):.4f}")
            if step == steps:
                break
    print(f"test accuracy {accuracy(x_test, y_test):.4f}, train accuracy {accuracy(x, y):.4f}")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, out)


def end_to_end(steps):
    """Wall seconds of the two whole commands (process start to exit), (chainrule, torch)."""
    import chainrule.data

    chainrule.data.mnist1d()  # both commands read the cached data set
    data_path = chainrule.data.cache_dir() / "mnist1d-default-v1.npz"
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for argv in (
            ["-m", "chainrule.cli", "train", "--data", "mnist1d", "--model", "gru", "--steps", str(steps)]
            + ["--threads", str(THREADS), "--out", f"{tmp}/run", "--overwrite"],
            [__file__, "--torch-command", str(steps), str(data_path), f"{tmp}/torch.pt"],
        ):
            gc.collect()
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True)
            seconds.append(time.perf_counter() - t0)
            if done.returncode:
                raise RuntimeError(f"{argv[:2]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return tuple(seconds)


def run():
    x_train, y_train, x_test, y_test = load_data()
    data = batches(x_train, y_train, STEPS, BATCH)
    args = (data, x_test, y_test)
    chainrule_train(data[:5], x_test, y_test)  # warm-up: imports, first calls
    torch_train(data[:5], x_test, y_test)
    runs = {"torch": [], "eager": [], "jit": []}
    for _ in range(ROUNDS):
        gc.collect()
        runs["torch"].append(torch_train(*args))
        gc.collect()
        runs["eager"].append(chainrule_train(*args))
        gc.collect()
        runs["jit"].append(chainrule_train(*args, jit=True))
    e2e_chainrule, e2e_torch = end_to_end(E2E_STEPS)
    per = 1000.0 / STEPS
    (t_torch, acc_torch), (t_eager, acc_eager), (t_jit, acc_jit) = (
        min(runs[k], key=lambda r: r[0]) for k in ("torch", "eager", "jit")
    )
    result = report(
        f"mnist1d-gru ({STEPS} steps, batch {BATCH}, BiGRU hidden {HIDDEN}, Adam)",
        [
            ("torch s/1000 steps", t_torch * per, "s"),
            ("chainrule eager s/1000 steps", t_eager * per, "s"),
            ("chainrule jit s/1000 steps", t_jit * per, "s"),
            ("chainrule eager/torch", t_eager / t_torch, "x (target <= 1.0)"),
            ("chainrule jit/torch", t_jit / t_torch, "x (target <= 0.6)"),
            ("torch test accuracy", acc_torch, ""),
            ("chainrule eager test accuracy", acc_eager, ""),
            ("chainrule jit test accuracy", acc_jit, ""),
            (f"chainrule train, whole command, {E2E_STEPS} steps", e2e_chainrule, "s"),
            (f"torch loop, whole command, {E2E_STEPS} steps", e2e_torch, "s"),
            ("chainrule train / torch loop", e2e_chainrule / e2e_torch, "x"),
        ],
    )
    save("mnist1d-gru", result)
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--torch-command"]:
        torch_command(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        raise SystemExit
    if sys.argv[1:2] == ["--end-to-end"]:
        steps = int(sys.argv[2])
        cr, pt = end_to_end(steps)
        print(f"{steps} steps, {THREADS} thread(s): chainrule train {cr:.1f} s, torch loop {pt:.1f} s ({cr / pt:.2f}x)")
        raise SystemExit
    t0 = time.perf_counter()
    run()
    print(f"  ({time.perf_counter() - t0:.0f} s)")
