"""mnist1d-gru: the mnist1d reference GRUBase (chainrule.models.BiGRU) against the same torch model.

A bidirectional GRU (hidden 6) over the 40-sample signal, one feature per time step, then a linear
layer on all time steps' states (2 * 6 * 40 = 480 features -> 10 classes); Adam lr 1e-2, batch 100,
as the paper's table (MODEL_DEFAULTS["gru"]). torch gets chainrule's initial weights; both train on
the same batches with the same thread count. chainrule runs eagerly and as a chainrule.jit train
step (the trace inside the timed loop). Each round runs all three in turn; figures are the best of
the rounds. There is no hand-written NumPy version here.
"""

from __future__ import annotations

import gc
import time

import _common  # noqa: F401  (pins threads before NumPy loads)
from _common import QUICK, report, save, train_and_test
from mnist1d_mlp import batches, load_data

BATCH = 100
STEPS = 50 if QUICK else 300
LR = 1e-2
HIDDEN = 6
ROUNDS = 1 if QUICK else 3


def chainrule_model(seed=0):
    import chainrule
    from chainrule.models import BiGRU

    chainrule.manual_seed(seed)
    return BiGRU(40, 10, hidden=HIDDEN)


def torch_model(state):
    """The same model in torch, its parameters copied from chainrule's state_dict."""
    from _common import torch as get_torch

    torch = get_torch()
    nn = torch.nn

    class TorchBiGRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.forward_gru = nn.GRU(1, HIDDEN, batch_first=True)
            self.backward_gru = nn.GRU(1, HIDDEN, batch_first=True)
            self.linear = nn.Linear(2 * HIDDEN * 40, 10)

        def forward(self, x):
            seq = x.reshape(x.shape[0], -1, 1)
            ahead, _ = self.forward_gru(seq)
            behind, _ = self.backward_gru(seq.flip(1))
            h = torch.cat([ahead, behind.flip(1)], dim=2)
            return self.linear(h.reshape(h.shape[0], -1))

    model = TorchBiGRU()
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
        ],
    )
    save("mnist1d-gru", result)
    return result


if __name__ == "__main__":
    t0 = time.perf_counter()
    run()
    print(f"  ({time.perf_counter() - t0:.0f} s)")
