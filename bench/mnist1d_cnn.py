"""mnist1d-cnn: the mnist1d reference ConvBase, trained like the MLP (SGD lr 0.1, batch 100, 2000 steps).

Conv1d(1, 25, 5, stride 2, padding 1) -> ReLU -> Conv1d(25, 25, 3, stride 2, padding 1) -> ReLU
-> Conv1d(25, 25, 3, stride 2, padding 1) -> ReLU -> flatten -> Linear(125, 10).
Lengths: 40 -> 19 -> 10 -> 5, so 25 * 5 = 125 features (as in mnist1d's ConvBase, whose
convolutions all use stride 2 and padding 1).
"""

from __future__ import annotations

import _common  # noqa: F401
import numpy as np
from _common import QUICK, compare_training, kaiming_uniform, numpy_cross_entropy_grad, save, training_loop
from mnist1d_mlp import batches, load_data
from numpy.lib.stride_tricks import sliding_window_view

BATCH = 100
STEPS = 200 if QUICK else 2000
LR = 0.1
REPEATS = 1 if QUICK else 2
CH = 25
CONVS = ((1, CH, 5), (CH, CH, 3), (CH, CH, 3))


def init_params(seed=2):
    rng = np.random.default_rng(seed)
    convs = [kaiming_uniform(rng, o, i, k) for i, o, k in CONVS]
    return convs, kaiming_uniform(rng, 10, CH * 5)


# ----- hand-written NumPy (im2col + one GEMM per conv; col2im by kernel offsets) -----


def _conv_fwd(x, w, b):
    n, c, length = x.shape
    k = w.shape[2]
    xp = np.zeros((n, c, length + 2), dtype=x.dtype)
    xp[:, :, 1:-1] = x
    win = sliding_window_view(xp, k, axis=2)[:, :, ::2]  # (N, C, L', K)
    lout = win.shape[2]
    cols = np.ascontiguousarray(win.transpose(0, 2, 1, 3)).reshape(n * lout, c * k)
    out = cols @ w.reshape(w.shape[0], -1).T  # (N*L', O)
    out += b
    return out.reshape(n, lout, -1), cols  # channels-last


def _conv_bwd_input(g, w, in_len):
    n, lout, o = g.shape
    c, k = w.shape[1], w.shape[2]
    dcols = (g.reshape(n * lout, o) @ w.reshape(o, -1)).reshape(n, lout, c, k)
    xp = np.zeros((n, c, in_len + 2), dtype=g.dtype)
    for j in range(k):
        xp[:, :, j : j + 2 * (lout - 1) + 1 : 2] += dcols[:, :, :, j].transpose(0, 2, 1)
    return xp[:, :, 1:-1]


def numpy_train(params, data, x_test, y_test):
    convs = [(w.copy(), b.copy()) for w, b in params[0]]
    W, bl = params[1][0].copy(), params[1][1].copy()
    lr = np.float32(LR)

    def forward(xb):
        acts, colss, lens = [], [], []
        h = xb[:, None, :]
        for w, b in convs:
            lens.append(h.shape[2])
            z, cols = _conv_fwd(h, w, b)
            a = np.maximum(z, 0)  # (N, L', O)
            acts.append(a)
            colss.append(cols)
            h = a.transpose(0, 2, 1)
        flat = np.ascontiguousarray(h).reshape(len(xb), -1)
        return flat @ W.T + bl, flat, acts, colss, lens

    for xb, yb in data:
        z, flat, acts, colss, lens = forward(xb)
        e = numpy_cross_entropy_grad(z, yb)
        gW = e.T @ flat
        gbl = e.sum(axis=0)
        g = (e @ W).reshape(len(xb), CH, -1).transpose(0, 2, 1)  # (N, L, C) channels-last
        grads = []
        for i in reversed(range(3)):
            w, _ = convs[i]
            g = g * (acts[i] > 0)
            o = w.shape[0]
            g2 = g.reshape(-1, o)
            gw = (g2.T @ colss[i]).reshape(w.shape)
            gb = g2.sum(axis=0)
            grads.append((gw, gb))
            if i:
                g = _conv_bwd_input(g, w, lens[i]).transpose(0, 2, 1)
        for (w, b), (gw, gb) in zip(convs, reversed(grads)):
            w -= lr * gw
            b -= lr * gb
        W -= lr * gW
        bl -= lr * gbl
    z = forward(x_test)[0]
    return float((z.argmax(1) == y_test).mean())


# ----- PyTorch -----


def torch_train(params, data, x_test, y_test):
    from _common import torch as get_torch

    torch = get_torch()
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv1d(1, CH, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(CH, CH, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(CH, CH, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(CH * 5, 10),
    )
    with torch.no_grad():
        for layer, (w, b) in zip([model[0], model[2], model[4], model[7]], list(params[0]) + [params[1]]):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tdata = [(torch.from_numpy(xb[:, None, :]), torch.from_numpy(yb)) for xb, yb in data]
    elapsed = training_loop(model, opt, tdata, nn.functional.cross_entropy)
    with torch.no_grad():
        acc = (model(torch.from_numpy(x_test[:, None, :])).argmax(1).numpy() == y_test).mean()
    return elapsed, float(acc)


# ----- chainrule -----


def chainrule_train(params, data, x_test, y_test, jit=False):
    import chainrule
    from chainrule import nn

    model = nn.Sequential(
        nn.Conv1d(1, CH, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(CH, CH, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(CH, CH, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(CH * 5, 10),
    )
    for layer, (w, b) in zip([model[0], model[2], model[4], model[7]], list(params[0]) + [params[1]]):
        layer.weight.data.copy_(chainrule.from_numpy(w))
        layer.bias.data.copy_(chainrule.from_numpy(b))
    opt = chainrule.optim.SGD(model.parameters(), lr=LR)
    cdata = [(chainrule.from_numpy(np.ascontiguousarray(xb[:, None, :])), chainrule.from_numpy(yb)) for xb, yb in data]
    elapsed = training_loop(model, opt, cdata, nn.functional.cross_entropy, compile=chainrule.jit if jit else None)
    with chainrule.no_grad():
        out = model(chainrule.from_numpy(np.ascontiguousarray(x_test[:, None, :])))
        acc = (out.detach().numpy().argmax(1) == y_test).mean()
    return elapsed, float(acc)


def run():
    x_train, y_train, x_test, y_test = load_data()
    data = batches(x_train, y_train, STEPS, BATCH)
    result = compare_training(
        f"mnist1d-cnn ({STEPS} steps, batch {BATCH})",
        numpy_train,
        torch_train,
        chainrule_train,
        (init_params(), data, x_test, y_test),
        steps=STEPS,
        rounds=REPEATS,
        numpy_warmup=0,
        targets=("x (target <= 1.0)", "x"),
    )
    save("mnist1d-cnn", result)
    return result


if __name__ == "__main__":
    run()
