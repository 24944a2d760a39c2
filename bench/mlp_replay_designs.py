"""The jit's replay of the mnist1d-mlp step beside hand-written versions of it (issue 16's MLP floor).

    .venv/bin/python bench/mlp_replay_designs.py [rounds]      # BENCH_THREADS=1 for one thread

Not a workload of `make bench`: an experiment that times, in turns within one process, three
implementations of the same SGD step of the 40-100-100-10 ReLU MLP (batch 100):

- "jit": `chainrule.jit` of the step, as it replays today (Linear, ReLU, cross-entropy and the SGD
  step written inline; the parameters in one flat array and each step's gradients written into
  views of another, so SGD is one update: autograd/jit/flat.py);
- "flat grads": the same design written by hand (the experiment that led to it), with each
  parameter a view of one flat array and each gradient written (`out=`) into a view of one flat
  array allocated afresh at every step, so that each step's `.grad` tensors are new arrays as
  PyTorch's, and SGD as one update of the flat arrays; cross-entropy through chainrule's rules;
- "fastest numpy": `_common.fastest_numpy_mlp_step`, the floor of issue 16's bar.

Each figure is the best 100-step chunk (us per step; `rounds` chunks, rounded up to whole passes
over the 2000 batches, _common.interleaved_steps). The hand-written variant is checked against the
jit: the same losses and weights after the run (to float32 rounding; BLAS's axpy may fuse the
multiply-add).
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (pins threads before NumPy loads)
import numpy as np
from _common import chainrule_mlp, fastest_numpy_mlp_step, interleaved_steps, train_step
from mnist1d_mlp import LR, batches, init_params, load_data

CHUNK = 100


def _cross_entropy_rules():
    """Forward and backward of chainrule's fused softmax cross-entropy on arrays, with the context
    object a replay gives them (the jit's own replay class)."""
    from chainrule.autograd.jit import trace
    from chainrule.ops.nn import SoftmaxCrossEntropy

    ctx = object.__new__(trace._replay_class(SoftmaxCrossEntropy))
    ctx.needs_input_grad, ctx.saved, ctx.versions, ctx.out_data = (True, False, False, False), (), None, None
    one = np.ones((), np.float32)

    def loss_and_grad(z, y):
        loss = SoftmaxCrossEntropy.forward(ctx, z, target=y, ignore_index=-100, mean=True)
        return loss, SoftmaxCrossEntropy.backward(ctx, one)

    return loss_and_grad


def flat_step(model, opt):
    """step(x, y) -> loss for `model` (a chainrule ReLU MLP of 3 Linear layers) and `opt` (its SGD)."""
    from chainrule.optim._blas import axpy
    from chainrule.tensor import Tensor

    params = list(model.parameters())  # W0, b0, W1, b1, W2, b2
    mm, add, maximum, multiply, not_equal = np.matmul, np.add, np.maximum, np.multiply, np.not_equal
    zeros = np.zeros((100, 100), np.float32)
    ones = np.ones(100, np.float32)
    cross_entropy = _cross_entropy_rules()
    make = Tensor._make
    total = sum(p._data.size for p in params)
    flat = np.empty(total, np.float32)
    layout, offset = [], 0
    for p in params:
        n = p._data.size
        view = flat[offset : offset + n].reshape(p._data.shape)
        view[...] = p._data
        p._data = view
        layout.append((offset, n, view.shape))
        offset += n

    def step(x, y):
        x, y = x._data, y._data
        W0, b0, W1, b1, W2, b2 = (p._data for p in params)
        h1 = mm(x, W0.T)
        add(h1, b0, out=h1)
        a1 = maximum(h1, zeros, out=h1)
        h2 = mm(a1, W1.T)
        add(h2, b1, out=h2)
        a2 = maximum(h2, zeros, out=h2)
        z = mm(a2, W2.T)
        add(z, b2, out=z)
        loss, e = cross_entropy(z, y)
        opt.zero_grad()
        g = np.empty(total, np.float32)
        grads = [g[o : o + n].reshape(s) for o, n, s in layout]
        grads[4] = mm(e.T, a2, out=grads[4])
        grads[5] = mm(ones, e, out=grads[5])
        g2 = e @ W2
        multiply(g2, not_equal(a2, 0), out=g2)
        grads[2] = mm(g2.T, a1, out=grads[2])
        grads[3] = mm(ones, g2, out=grads[3])
        g1 = g2 @ W1
        multiply(g1, not_equal(a1, 0), out=g1)
        grads[0] = mm(g1.T, x, out=grads[0])
        grads[1] = mm(ones, g1, out=grads[1])
        for p, gp in zip(params, grads):
            p._grad = make(gp)
        axpy(flat, -LR, g)
        for p in params:
            p._bump_version()
        return make(loss)

    return step


def main(rounds):
    import chainrule

    x_train, y_train, _, _ = load_data()
    data = batches(x_train, y_train, 2000, 100)
    tensors = [(chainrule.from_numpy(x), chainrule.from_numpy(y)) for x, y in data]

    def build(name):
        if name == "fastest numpy":
            return fastest_numpy_mlp_step(init_params(), 100, LR), data, None
        model, opt = chainrule_mlp(init_params(), LR)
        if name == "jit":
            return chainrule.jit(train_step(model, opt, chainrule.nn.functional.cross_entropy)), tensors, model
        return flat_step(model, opt), tensors, model

    names = ("jit", "flat grads", "fastest numpy")
    chunks_per_pass = len(data) // CHUNK
    passes = -(-rounds // chunks_per_pass)  # fresh models at each pass: the batches run out after 2000 steps
    best = interleaved_steps(lambda: {name: build(name)[:2] for name in names}, chunk=CHUNK, passes=passes)
    best = {name: seconds * 1e6 for name, seconds in best.items()}
    rounds = passes * chunks_per_pass

    # The variants compute the jit's step: train each from the same start on the same batches.
    finals = {}
    for name in names[:2]:
        step, batch_list, model = build(name)
        losses = [float(step(xb, yb)) for xb, yb in batch_list[:500]]
        finals[name] = (np.array(losses), [p.detach().numpy().copy() for p in model.parameters()])
    ref_losses, ref_params = finals["jit"]
    print(f"== mnist1d-mlp step, {_common.THREADS} threads, best of {rounds} chunks of {CHUNK} steps")
    for name in names:
        line = f"  {name:<24} {best[name]:7.1f} us   {best[name] / best['fastest numpy']:.3f}x the fastest numpy"
        if name in finals and name != "jit":
            losses, weights = finals[name]
            loss_gap = np.abs(losses - ref_losses).max()
            weight_gap = max(np.abs(a - b).max() for a, b in zip(weights, ref_params))
            line += f"   (500 steps against jit: losses within {loss_gap:.1e}, weights within {weight_gap:.1e})"
        print(line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
