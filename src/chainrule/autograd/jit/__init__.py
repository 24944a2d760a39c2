"""Trace and replay: `jit(fn)` records the primitives one call of `fn` runs, and the backward
passes it starts, then replays that record as straight-line NumPy code.

The first call with a given signature (the shapes, dtypes and requires_grad of the Tensor
arguments, the values of the others, and the grad mode) runs `fn` eagerly, so its result is
the eager result, while a recorder notes:

- each primitive applied to a Tensor: its class, which earlier value each argument is, its
  parameters, and whether it recorded a graph node;
- each first-order backward pass (`loss.backward()`, `autograd.grad`): the order the engine
  visits the nodes in, where each gradient flows and which leaf gradients need a copy;
- a backward with create_graph=True, and user Functions, through the primitives they apply;
- optimizer steps, zero_grad, scheduler steps and gradient clipping, as calls to repeat.

The record is a Program (program.py): equations like a jaxpr's (primitive, input
variables, output variables, parameters) plus the step's effects. Passes (passes.py) prune it
as data, and it is written out as one Python function, a line per primitive:

    v4 = Linear_forward(ctx5, v0, k2, k3)        # x W^T + b, with W and b read at each call
    g20, g21, g22 = Linear_backward(ctx5, g19)   # the gradients for x, W and b

and later calls run that function: no Tensor wrappers, no graph nodes, no dispatch, no
topological sort. `jitted.code` shows the source, `jitted.program` the equations, and
`make_jaxpr(fn)(*args)` prints them in JAX's layout.

Layout: trace.py records (a per-thread recorder that Function.apply consults; tracing
installs nothing process-wide), backward.py turns a backward pass into equations as an
observer of the engine's one walker, program.py holds the equations and prints them,
passes.py prunes them, api.py is jit itself and the cache of replays.

What is frozen, as with torch.jit.trace and jax.jit: Python control flow and any value
computed outside chainrule's ops. Reading a traced value (`.item()`, `bool(t)`, `.numpy()`,
`float(t)`, also through `.data`) while tracing raises TraceError naming the line, and so do
hooks, setting .grad by hand, and in-place ops on tensors the function neither computed nor
trains, which a replay could not repeat (in-place ops on computed values and parameters are
recorded). `.data` and `.detach()` of a traced value are traced values; assigning `p.data = v`
inside the function is recorded when `v` is one.

Random ops (rand, randn, randint, randperm, rand_like, randn_like, normal_, uniform_, the
nn.init fills) draw through `draw`, and dropout inside its primitive, so a replay draws anew,
from the generator eager
code would use (the global one, looked up at each call so manual_seed is seen, or the
Generator passed in), in eager's order: after manual_seed(s), jitted calls give eager's
numbers call after call. A Generator made inside the function is refused (eager code would
make a new one at each call). Max pooling finds its winners inside its primitive, batch norm
updates its running statistics through a recorded op and gradient clipping is a repeated call,
so a replay repeats all of them.

Parameters and other tensors the function reads from outside (closures, modules) are read
afresh at every call, so training updates them and `p.data = new` of the same shape is seen.
A replay also assumes what it cannot read afresh, and traces again when that changes: the
objects fn's globals and closure cells hold (checked at each call, by identity), and, when a
module attribute was set or a tensor's .data changed shape or dtype anywhere (a counter,
_state["epoch"], says so), the parameters, buffers, submodules and settings (training,
Dropout's p, ...) of the modules fn reaches and the shapes and dtypes of the tensors it
captured. Each jitted function traces at most config.recompile_limit times (64), then runs
new signatures eagerly with one warning, as torch.compile past its recompile_limit.
"""

from __future__ import annotations

from .api import Jitted, config, jit, make_jaxpr
from .program import Eqn, Program, Var
from .trace import TraceError, _active, _state  # noqa: F401  (_active, _state: for code that read them here)

__all__ = ["jit", "make_jaxpr", "Jitted", "config", "TraceError", "Program", "Eqn", "Var"]
