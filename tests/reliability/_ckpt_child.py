"""Child process for test_checkpoints.py. Two modes:

save PATH        save a ~4 MB checkpoint in a loop, version k holding arrays filled with k; print
                 "ready" after the first complete save, then keep overwriting until killed.
fit DIR STEPS    train a small model with a checkpoint after every step, until killed or done.
"""

import sys

import numpy as np

import chainrule as cr
from chainrule.train import fit


def save_loop(path):
    k = 0
    while True:
        state = {
            "model": {"big": np.full((512, 1024), float(k)), "small": np.full(7, k, dtype=np.int64)},
            "step": k,
            "note": "x" * (k % 50),
        }
        cr.save(state, path)
        if k == 0:
            print("ready", flush=True)
        k += 1


def fit_loop(directory, steps):
    from ckpt_model import make_run

    model, opt, sched, data, kwargs = make_run()
    print("ready", flush=True)
    fit(
        model,
        data,
        optimizer=opt,
        scheduler=sched,
        checkpoint_dir=directory,
        checkpoint_every=1,
        resume=True,
        **{**kwargs, "steps": steps},
    )
    print("done", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save_loop(sys.argv[2])
    else:
        fit_loop(sys.argv[2], int(sys.argv[3]))
