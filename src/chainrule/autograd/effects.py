"""The one interface through which tensors, ops, nn and optim talk to a running trace.

A jit trace must hear of what a training step does besides applying primitives: random
draws, in-place writes, `.data` assignments, optimizer and scheduler steps, modules that
change. Library code reports those here and asks here whether a trace is recording; it never
imports the jit's internals. With no trace running every function is a cheap no-op (the
checks are one dict lookup), so eager code pays nothing.

    state["recorder"]   a running trace's recorder (some thread's), or None: the fast check,
                        before active() says whether this thread is the one tracing
    state["epoch"]      bumped by module_changed(): a replay re-checks what it assumed

Each event becomes an equation of the trace's program (autograd/jit/program.py): a draw,
an in-place write, a `.data` assignment, a repeated call (optimizer.step, zero_grad,
scheduler.step, clip_grad_norm_, marked with @replayed_call).
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

from .. import _dtypes
from .jit import trace as _trace

TraceError = _trace.TraceError
state = _state = _trace._state
_active = _trace._active
_user_line = _trace._user_line
active = _active  # the recorder when this thread is tracing, else None


def replayed_call(method):
    """Mark a method with side effects (optimizer.step, zero_grad) so a trace repeats the call."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        rec = _active() if _state["recorder"] is not None else None
        if rec is None:
            return method(self, *args, **kwargs)
        return rec.record_call(method, self, args, kwargs)

    return wrapper


def tracing():
    """True while jit records on this thread: library code then avoids branching on values."""
    return _active() is not None


@contextlib.contextmanager
def untraced():
    """Hide a rule's private work from a running trace: ops on fresh leaves and the engine passes
    over them (ops/rnn_higher.py) are not recorded; the replay reruns the rule that did them."""
    rec = _active() if _state["recorder"] is not None else None
    if rec is None or rec.paused:
        yield
        return
    rec.paused = True
    try:
        yield
    finally:
        rec.paused = False


def record_plain(fn, args):
    """_plain(fn, *args) while tracing: a NumPy function of traced values becomes an equation."""
    return _active().record_plain(fn, args)


def check_concrete(tensor, what):
    """Called by Tensor's value readers: a traced value read by Python would be frozen."""
    rec = _active()
    if rec is not None and rec.knows(tensor):
        raise TraceError(
            f"jit: {rec.fn_name} reads the value of a traced tensor of shape {tuple(tensor.shape)} with "
            f"{what} at {_user_line()} while being traced; the replay would reuse this call's value. Keep "
            "value-dependent Python (if/float/item/numpy) outside the jitted function, compute with "
            "chainrule ops instead (chainrule.where for a branch), or return the tensor and read it after "
            "the call."
        )


def draw(sample, generator=None):
    """`sample(rng)` with rng = `generator` or the global generator (the one manual_seed resets).

    Random ops draw through this: while jit traces, the draw becomes an equation of the replay,
    which draws anew from the same generator at every call, in the order eager code would.
    `sample` must be replayable (a functools.partial of a module-level function, say) and
    return an ndarray.

    Example:
        >>> array = draw(functools.partial(_standard_normal, (2, 3), np.float32), generator)
    """
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a chainrule.Generator, got {type(generator).__name__}; pass "
            "generator=chainrule.Generator().manual_seed(seed), or leave it out for the global generator"
        )
    if _state["recorder"] is not None:
        rec = _active()
        if rec is not None:
            return rec.record_draw(sample, generator)
    return sample(generator if generator is not None else _dtypes._state["rng"])


def note_alias(source, alias):
    """`alias` shares `source`'s array (.data, .detach()): a replay reads it through `source`,
    so a parameter given a new array (p.data = ...) after tracing is seen."""
    rec = _active()
    if rec is None or rec.knows(source) or source.grad_fn is not None:
        return  # a traced value's alias shares its (bound) array; an outside graph's is refused where used
    try:
        rec.bind(alias, rec.ref(source, ".data"))
    except TraceError:
        pass  # a view of a traced array made outside chainrule's ops: refused if the alias is used


def note_made(tensor):
    """`tensor` comes from a creation function (zeros, ones, tensor, full, arange, ...): while tracing,
    the trace learns that eager code would make it anew at every call (a replay must not hand out
    the trace's copy). Returns `tensor`."""
    if _state["recorder"] is not None:
        rec = _active()
        if rec is not None:
            rec.made[id(tensor)] = tensor
    return tensor


def record_set_data(tensor, array):
    """`tensor.data = value` while tracing: the replay makes the same assignment."""
    rec = _active()
    if rec is not None:
        rec.record_set_data(tensor, array)


def record_set_grad(tensor, value):
    """`tensor.grad = value` (a Tensor or None) while tracing: the replay makes the same assignment."""
    rec = _active()
    if rec is not None:
        rec.record_set_grad(tensor, value)


def record_inplace(tensor, source, op, index=None):
    """An in-place tensor op while tracing: the replay writes into the same array."""
    rec = _active()
    if rec is not None:
        rec.record_inplace(tensor, source, op, index)


def module_changed():
    """A module's parameters, submodules, buffers or settings changed: replays re-check them."""
    state["epoch"] += 1
