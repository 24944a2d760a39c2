"""The one interface through which tensors, ops, nn and optim talk to a running trace.

A jit trace must hear of what a training step does besides applying primitives: random
draws, in-place writes, `.data` assignments, optimizer and scheduler steps, modules that
change. Library code reports those here and asks here whether a trace is recording; it never
imports the jit's internals. With no trace running every function is a cheap no-op (the
checks are one dict lookup), so eager code pays nothing.

    state["recorder"]   the running trace's recorder, or None (read it for the fast check)
    state["epoch"]      bumped by module_changed(): a replay re-checks what it assumed
"""
from __future__ import annotations

from . import jit as _jit

TraceError = _jit.TraceError
state = _jit._state

replayed_call = _jit.replayed_call  # decorator: a method with side effects that a replay calls again
tracing = _jit.tracing  # True while this thread records: library code then avoids branching on values
active = _jit._active  # the recorder when this thread is tracing, else None
record_plain = _jit.record_plain  # a NumPy function of traced values, without a gradient
check_concrete = _jit.check_concrete  # a traced value read by Python (item(), float(), bool(), numpy())
draw = _jit.draw  # a random draw that a replay repeats from the same generator
note_alias = _jit.note_alias  # .data / .detach() of a tensor the trace reads from outside
record_set_data = _jit.record_set_data  # `tensor.data = array`
record_inplace = _jit.record_inplace  # an in-place write into a tensor


def module_changed():
    """A module's parameters, submodules, buffers or settings changed: replays re-check them."""
    state["epoch"] += 1
