"""The training run shared by test_checkpoints.py and its child process (same model, data, optimizer)."""

import numpy as np

import chainrule as cr
from chainrule import nn, optim

STEPS = 120


def make_run(init_seed=0):
    cr.manual_seed(init_seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.97)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((90, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return model, opt, sched, (x, y), dict(steps=STEPS, batch_size=16, seed=7, print_fn=None)
