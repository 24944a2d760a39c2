"""Passes over a traced program (program.py), run before its replay source is written.

Each works on the equations as data:

- `eliminate_dead_code`: drop the equations without effects whose results nothing reads (a
  leaf's .grad read back after accumulation that the function never uses, a parameter read
  again after an optimizer step that nothing follows), by one backward liveness sweep.
- `drop_unused_contexts`: a forward whose node no backward rule reads gets the null ctx, which
  saves nothing, so a replay holds no activations it will not use.

Forward and backward rules, draws, repeated calls and writes are never removed: a forward may
draw (dropout) or update state (batch norm's running statistics).
"""
from __future__ import annotations

from .program import uses


def eliminate_dead_code(program):
    live = set()
    for atom, _ in program.outs:
        live.update(v.name for v in uses(atom))
    kept = []
    for eqn in reversed(program.eqns):
        defined = [o.name for o in eqn.outs if o is not None]
        if eqn.pure and not any(name in live for name in defined):
            continue
        live.difference_update(defined)
        live.update(v.name for v in eqn.reads())
        kept.append(eqn)
    kept.reverse()
    program.eqns = kept
    return program


def drop_unused_contexts(program):
    read = set()
    for eqn in program.eqns:
        read.update(v.name for v in eqn.reads())
    for eqn in program.eqns:
        if eqn.kind == "forward" and eqn.ctx is not None and eqn.ctx.name not in read:
            eqn.ctx = None
    return program


def optimize(program):
    """The passes, in order (dead code first: a removed read may leave a context unused)."""
    return drop_unused_contexts(eliminate_dead_code(program))
