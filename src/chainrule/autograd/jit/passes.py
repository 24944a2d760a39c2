"""Passes over a traced program (program.py), run before its replay source is written.

Each works on the equations as data:

- `eliminate_dead_code`: drop the equations without effects whose results nothing reads (a
  leaf's .grad read back after accumulation that the function never uses, a parameter read
  again after an optimizer step that nothing follows), by one backward liveness sweep.
- `drop_unused_contexts`: a forward whose node no backward rule reads gets the null ctx, which
  saves nothing, so a replay holds no activations it will not use.
- `reuse_buffers`: a sum of two gradients whose first operand is an earlier sum that nothing
  else reads is computed into that operand's buffer (`np.add(a, b, out=a)`: the same ufunc on
  the same dtypes, so bit for bit the eager sum) instead of a new array.
- `free_dead_values`: each value is deleted (`del`, written by `Program.source`) right after the
  last equation that reads it, as eager code drops an activation once the backward rule that reads
  it has run. Without it a replay holds every activation and gradient of the step until it
  returns: a larger peak, and memory that the allocator gives back to the system and takes again
  at every call.
- `inline_rules`: a primitive that gives the replay its own code for its rules (`Primitive.inline`:
  Linear and ReLU on float matrices, cross-entropy) is written inline, forward and backward, when
  nothing but its backward reads what its forward saved: no rule call, no context, no release. The code makes the
  same NumPy calls as the rules, so a replay's values stay bit for bit the eager ones; where an
  inlined rule's input is a new array that only it reads (a Linear's output going into ReLU), the
  rule may write its result into it (`out=`), as eager code cannot know.
- `inline_steps`: an `optimizer.step()` call whose optimizer gives its own replay code
  (`SGD._inline_step`, without momentum) is written inline, behind a check at each replay that the
  optimizer is still as traced (else the call is made).
- `fold_constants`: a sum or a cast of constants (a constant cotangent of another dtype, two
  constant seeds of one root) is computed once, at trace time, and becomes a constant. Only
  values that rules read are folded: a leaf's gradient or a returned value must be a new array
  at every replay, never a buffer replays share.

Forward and backward rules, draws, repeated calls and writes are never removed: a forward may
draw (dropout) or update state (batch norm's running statistics).
"""

from __future__ import annotations

import string

import numpy as np

from .program import Eqn, Lit, Part, Tup, Var, uses

# The bookkeeping forms a fold may compute, with the same NumPy calls the replay would make.
_FOLD = {
    "add": lambda a, b: a + b,
    "astype": lambda a, dtype: np.asarray(a, dtype=dtype),
}
_RULES = {"forward", "backward"} | set(_FOLD)  # readers that take a shared constant safely


def _constant(atom, ns, folded):
    if type(atom) is Var:
        return folded.get(atom.name, _NOT)
    if type(atom) is Lit:
        value = ns.get(atom.text, _NOT)
        return value if isinstance(value, (np.ndarray, np.generic, np.dtype)) else _NOT
    return _NOT


_NOT = object()


def _substitute(atom, names):
    if type(atom) is Var and atom.name in names:
        return names[atom.name]
    if type(atom) is Tup:
        return Tup([_substitute(a, names) for a in atom.items])
    if type(atom) is Part:
        return Part(_substitute(atom.base, names), atom.path, atom.shape, atom.dtype)
    return atom


def fold_constants(program):
    readers = {}  # var name -> the kinds of the equations that read it ("return" for an output)
    for eqn in program.eqns:
        for v in eqn.reads():
            readers.setdefault(v.name, set()).add(eqn.kind)
    for atom, _ in program.outs:
        for v in uses(atom):
            readers.setdefault(v.name, set()).add("return")
    folded, names, kept = {}, {}, []
    for eqn in program.eqns:
        if names:
            eqn.args = tuple(_substitute(a, names) for a in eqn.args)
        if eqn.kind in _FOLD and len(eqn.outs) == 1 and readers.get(eqn.outs[0].name, set()) <= _RULES:
            values = [_constant(a, program.ns, folded) for a in eqn.args]
            if all(v is not _NOT for v in values):
                out = eqn.outs[0]
                folded[out.name] = program.ns[f"f{out.name}"] = _FOLD[eqn.kind](*values)
                names[out.name] = Lit(f"f{out.name}")
                continue
        kept.append(eqn)
    program.eqns = kept
    return program


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


def reuse_buffers(program):
    readers = {}
    for eqn in program.eqns:
        for v in eqn.reads():
            readers[v.name] = readers.get(v.name, 0) + 1
    for atom, _ in program.outs:
        for v in uses(atom):
            readers[v.name] = readers.get(v.name, 0) + 2
    sums = {}  # name -> Var of a sum this program made (a new array of its own at every replay)
    for eqn in program.eqns:
        if eqn.kind not in ("add", "add_into"):
            continue
        a, out = eqn.args[0], eqn.outs[0]
        if (
            type(a) is Var
            and a.name in sums
            and readers.get(a.name) == 1
            and out.shape
            and a.shape == out.shape
            and a.dtype == out.dtype
        ):
            eqn.kind = "add_into"
        sums[out.name] = out
    return program


def free_dead_values(program):
    keep = {v.name for atom, _ in program.outs for v in uses(atom)}
    defined = {o.name for eqn in program.eqns for o in eqn.outs if o is not None}  # the replay's locals
    last = {}  # name -> index of the last equation that reads (or, when nothing does, defines) it
    for i, eqn in enumerate(program.eqns):
        for o in eqn.outs:
            if o is not None:
                last.setdefault(o.name, i)
        for v in eqn.reads():
            last[v.name] = i
    program.frees = {}
    for name, i in last.items():
        if name in defined and name not in keep:
            program.frees.setdefault(i, []).append(name)
    return program


def inline_rules(program):
    readers = {}  # name -> the equations that read it
    for eqn in program.eqns:
        for v in eqn.reads():
            readers.setdefault(v.name, []).append(eqn)
    returned = {v.name for atom, _ in program.outs for v in uses(atom)}
    plans, releases = [], set()  # (forward, its backward or None, needs); ids of releases no longer needed
    for eqn in program.eqns:
        inline = getattr(eqn.prim, "inline", None) if eqn.kind == "forward" else None
        if inline is None or eqn.code is not None:
            continue
        ctx, backward, needs = eqn.ctx, None, None
        if ctx is not None:
            users = readers.get(ctx.name, [])
            backwards = [e for e in users if e.kind == "backward" and e.ctx is ctx]
            if (
                ctx.name in returned
                or len(backwards) != 1
                or any(e.kind != "release" for e in users if e is not backwards[0])
                or any(type(a) is Part for a in backwards[0].args)
            ):
                continue  # something else reads the context (a second backward, a saved mask)
            backward, needs = backwards[0], program.ns[ctx.name].needs_input_grad
        code = inline(eqn.args, dict(eqn.params), eqn.outs[0], needs, backward.outs if backward else None, (), set())
        if code is None:
            continue
        plans.append((eqn, backward, needs))
        if backward is not None:
            fields = {field for _, field, _, _ in string.Formatter().parse(code[1]) if field}
            # what the backward reads of the forward's inputs and output: those stay alive until it runs
            read = [a for i, a in enumerate(eqn.args) if f"a{i}" in fields]
            backward.extra = (*read, eqn.outs[0]) if "o" in fields else tuple(read)
            releases.update(id(e) for e in readers[ctx.name] if e.kind == "release")
    program.eqns = [e for e in program.eqns if id(e) not in releases]
    # A value an inlined rule made (a new array: no view of another) and that one equation reads may be
    # overwritten by that equation (ReLU in place): the rule gives up a buffer no one will read again.
    count = {name: 2 for name in returned}
    for eqn in program.eqns:
        for v in eqn.reads():
            count[v.name] = count.get(v.name, 0) + 1
    made = {d.name for eqn, backward, _ in plans for d in (*eqn.outs, *(backward.outs if backward else ())) if d}

    def given_up(atom):
        return type(atom) is Var and atom.name in made and count.get(atom.name) == 1

    buffers = _plan_flat_gradients(program, plans)
    for eqn, backward, needs in plans:
        out = eqn.outs[0]
        donated = {"a0"} if eqn.args and given_up(eqn.args[0]) else set()
        if backward is not None and given_up(backward.args[0]):
            donated.add("g")
        grads = backward.outs if backward else None
        into = {f"d{i}": buffers[d.name] for i, d in enumerate(grads or ()) if d is not None and d.name in buffers}
        forward_code, backward_code, constants = eqn.prim.inline(
            eqn.args, dict(eqn.params), out, needs, grads, donated, set(into)
        )
        if into:
            backward.extra += tuple(into.values())
        names = {f"{d}_buffer": str(v) for d, v in into.items()}
        names.update((f"a{i}", str(a)) for i, a in enumerate(eqn.args))
        names.update((k, str(v)) for k, v in eqn.params)
        names["o"] = str(out)
        _bind(program, names, constants, out)
        eqn.code = forward_code.format(**names)
        if backward is not None:
            names["g"] = str(backward.args[0])
            names.update((f"d{i}", str(d)) for i, d in enumerate(backward.outs) if d is not None)
            backward.code = backward_code.format(**names) or "pass"
    return program


def _plan_flat_gradients(program, plans):
    """{gradient Var name: buffer Var}: the leaf gradients an inlined rule can write into views of
    one array, for an inlined SGD step that then updates its parameters as one array (jit/flat.py).

    Planned when the program's one `opt.step()` call is plain (no closure) and its optimizer gives `_flat_params`,
    and each of those parameters gets exactly one gradient, a new array accumulated before the step
    and made by an inlined rule that writes it where it is told (`{d1_buffer}`). An equation that
    takes the buffers (`FlatStorage.grads`) goes before the first of those rules; the step's code
    (inline_steps) reads them. {} when anything does not fit: the step then updates each parameter.
    """
    from . import flat

    steps = _step_calls(program)
    if len(steps) != 1 or not steps[0][2] or not flat.available():
        return {}
    step, opt, _ = steps[0]
    params = getattr(opt, "_flat_params", lambda: None)()
    if params is None:
        return {}
    position = {id(e): i for i, e in enumerate(program.eqns)}
    accumulations = {}  # id(parameter) -> the equations that accumulate into its .grad
    for e in program.eqns:
        if e.kind == "effect" and e.op in ("_acc", "_acc_owned"):
            accumulations.setdefault(id(program.ns.get(str(e.args[0]))), []).append(e)
    producers = {}  # name of a gradient Var -> (its rule's forward, the backward that makes it, output index)
    for forward, backward, needs in plans:
        for i, d in enumerate(backward.outs if backward else ()):
            if d is not None:
                producers[d.name] = (forward, backward, needs, i)
    grads = []
    for p in params:
        found = accumulations.get(id(p), [])
        if len(found) != 1 or found[0].op != "_acc_owned" or position[id(found[0])] > position[id(step)]:
            return {}
        g = found[0].args[1]
        if type(g) is not Var or g.name not in producers or g.shape != p._data.shape or g.dtype != p._data.dtype:
            return {}
        forward, backward, needs, i = producers[g.name]
        options = dict(forward.params)
        code = forward.prim.inline(forward.args, options, forward.outs[0], needs, backward.outs, (), {f"d{i}"})
        if f"{{d{i}_buffer}}" not in code[1]:
            return {}  # the rule cannot write this gradient into a given array
        grads.append((g, backward))
    storage = flat.storage(opt, params)
    if storage is None:
        return {}
    owner = step.op
    program.ns[f"flat_{owner}"] = storage
    buffer = Var(f"gbuf_{owner}", (storage.offsets[-1],), storage.dtype)
    views = [Var(f"gv{j}_{owner}", g.shape, g.dtype) for j, (g, _) in enumerate(grads)]
    first = min(position[id(backward)] for _, backward in grads)
    take = Eqn("buffers", f"flat_grads_{owner}", (buffer, *views), quiet=program.eqns[first].quiet)
    take.code = f"{', '.join(map(str, (buffer, *views)))} = flat_{owner}.grads()"
    program.eqns.insert(first, take)
    step.extra = (buffer, *views)
    program.flat = step
    return {g.name: view for (g, _), view in zip(grads, views)}


def _bind(program, names, constants, owner):
    """Put inline code's constants in the replay's namespace as key_owner, and name them so in `names`."""
    for key, value in constants.items():
        names[key] = f"{key}_{owner}"
        program.ns[names[key]] = value


def _step_calls(program):
    """(equation, optimizer, plain) of each recorded `opt.step(...)` call; plain: no closure or arguments."""
    from ...optim.optimizer import Optimizer

    steps = []
    for eqn in program.eqns:
        call = program.ns.get(eqn.op) if eqn.kind == "call" else None
        if getattr(call, "func", None) is Optimizer.step.__wrapped__:
            steps.append((eqn, call.args[0], not (call.args[1:] or call.keywords)))
    return steps


def inline_steps(program):
    """A repeated `optimizer.step()` call whose optimizer gives its own replay code (`_inline_step`:
    SGD without momentum) is written inline; that code checks at each replay that the optimizer is
    as traced, and otherwise makes the call."""
    for eqn, opt, plain in _step_calls(program):
        if not plain:
            continue  # a closure, other arguments: the call is made
        inline = getattr(opt, "_inline_step", None)
        flat = program.flat is eqn  # its parameters and gradients planned in flat arrays
        written = (inline(flat=True) if flat else inline()) if inline is not None else None
        if written is None:
            continue
        code, constants = written
        op = eqn.op
        names = {"step": op, "lr": f"lr_{op}", "g": f"grad_{op}"}
        if flat:
            names.update(flat=f"flat_{op}", pf=f"flat_{op}.pf", gbuf=f"gbuf_{op}")
            for j in range(len(constants["params"])):
                names.update({f"pv{j}": f"flat_{op}.pv{j}", f"gv{j}": f"gv{j}_{op}"})
        _bind(program, names, constants, op)
        eqn.code = code.format(**names)
    return program


def optimize(program):
    """The passes, in order (folding first: a folded value's inputs may become dead; dead code before
    contexts: a removed read may leave a context unused; inlining once the contexts left are the
    ones a backward reads; buffer reuse on the final readers; freeing last, once no equation moves)."""
    program = drop_unused_contexts(eliminate_dead_code(fold_constants(program)))
    return free_dead_values(reuse_buffers(inline_steps(inline_rules(program))))
