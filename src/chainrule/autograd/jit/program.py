"""The traced program as data: variables, equations, and the two ways of printing them.

A trace is a `Program`: input variables, a list of `Eqn` (one per primitive applied, backward
rule run, gradient summed, random draw, repeated call or in-place write), and the outputs.
Like a jaxpr it is plain data, so passes (passes.py) rewrite it before anything runs; the
replay's Python source is generated from it at the end (`Program.source`), and the same
program prints for a reader in JAX's layout (`Program.jaxpr`, what `make_jaxpr` shows):

    { lambda ; a:f32[3]. let b:f32[3] = exp a in (b) }
"""

from __future__ import annotations

import re

import numpy as np


class Var:
    """A value of the program: an array (or a node's saved context, `ctx`) named once."""

    __slots__ = ("name", "shape", "dtype")

    def __init__(self, name, shape=None, dtype=None):
        self.name, self.shape, self.dtype = name, shape, dtype

    def __str__(self):
        return self.name

    __repr__ = __str__


class Part:
    """A value read out of another: `ctx5.saved[0]`, `ctx5.mask` (what a forward stored), `K2._data`."""

    __slots__ = ("base", "path", "shape", "dtype")

    def __init__(self, base, path, shape=None, dtype=None):
        self.base, self.path, self.shape, self.dtype = base, path, shape, dtype

    def __str__(self):
        return f"{self.base}{self.path}"


class Lit:
    """A literal or a name of the replay's namespace (a constant array, a function, a captured tensor)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


class Tup:
    """A tuple of atoms (an index, a shape)."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)

    def __str__(self):
        return "(" + "".join(f"{p}, " for p in self.items) + ")"


NONE = Lit("None")


def uses(atom):
    """The Vars an atom reads."""
    if type(atom) is Var:
        yield atom
    elif type(atom) is Part:
        yield from uses(atom.base)
    elif type(atom) is Tup:
        for item in atom.items:
            yield from uses(item)


# How each kind of equation is written in the replay's source. `op` is a name in the
# namespace for the kinds that call one; {o} the outputs, {a0}, {a1} the inputs.
_FORMS = {
    "add": "{o} = {a0} + {a1}",
    "add_into": "{o} = _np.add({a0}, {a1}, out={a0})",  # a sum no one else reads: its buffer is reused
    "astype": "{o} = _np.asarray({a0}, dtype={a1})",
    "copy": "{o} = {a0}.copy()",
    "input": "{o} = {a0}._data",
    "capture": "{o} = {a0}._data",  # a tensor read from outside (a parameter), read afresh
    "read_grad": "{o} = {a0}.grad._data",
    "set_data": "{a0}._data = {a1}",
    "set_grad": "{a0}._grad = _T({a1})",
    "set_grad_none": "{a0}._grad = None",
    "release": "{a0}.saved = None",
    "call_value": "{o} = {op}()._data",
}


class Eqn:
    """One step of the program.

    kind: "forward" / "backward" (a primitive's rule: op is its function's name, ctx the node's
    context), "plain" (a NumPy function of traced values), "draw" (a random draw), "call" (a method
    with side effects the replay repeats: an optimizer step), "effect" (an in-place write, a leaf's
    gradient accumulation), "buffers" (arrays the replay writes values into: jit/flat.py), or one
    of the bookkeeping forms above (input, capture, add, astype, ...).
    outs: the Vars it defines (None for a gradient a rule does not give); `single`: the function
    returns one value rather than a tuple. `quiet`: runs with NumPy's warnings off (backward).
    code: the replay's line for a rule written inline (passes.inline_rules), which reads `extra`
    besides the arguments (a backward rule's forward inputs); the equation prints as before.
    """

    __slots__ = ("kind", "op", "outs", "args", "params", "ctx", "single", "quiet", "prim", "code", "extra")

    def __init__(self, kind, op, outs=(), args=(), params=(), ctx=None, single=True, quiet=False, prim=None):
        self.kind, self.op, self.outs, self.args, self.params = kind, op, tuple(outs), tuple(args), tuple(params)
        self.ctx, self.single, self.quiet = ctx, single, quiet
        self.prim = prim  # the primitive's class (forward, backward), for printing
        self.code, self.extra = None, ()

    @property
    def pure(self):
        """No effect besides its outputs: removable when nothing reads them."""
        return self.kind in _PURE

    def reads(self):
        for atom in self.args:
            yield from uses(atom)
        for _, atom in self.params:
            yield from uses(atom)
        for atom in self.extra:
            yield from uses(atom)
        if self.ctx is not None and self.kind != "forward" and self.code is None:
            yield from uses(self.ctx)

    def source(self):
        if self.code is not None:
            return self.code
        if self.kind == "effect" and self.op == "_acc_owned":
            # a gradient array nothing else holds: a leaf's first one is kept as it is, a later one
            # added by engine._accumulate (owned_key=True)
            tensor, g = self.args
            return f"if {tensor}._grad is None: {tensor}._grad = _T({g})\nelse: _acc({tensor}, {g}, False, True)"
        outs = [str(o) if o is not None else "_" for o in self.outs]
        if self.kind in _FORMS:
            fields = {f"a{i}": a for i, a in enumerate(self.args)}
            return _FORMS[self.kind].format(o=", ".join(outs), op=self.op, **fields)
        ctx = "_NULL" if self.kind == "forward" and self.ctx is None else self.ctx  # the null ctx saves nothing
        call_args = [] if ctx is None else [str(ctx)]
        call = f"{self.op}({', '.join(call_args + [str(a) for a in self.args] + [f'{k}={v}' for k, v in self.params])})"
        if not outs:
            return call
        lhs = outs[0] if self.single else ", ".join(outs) + ("," if len(outs) == 1 else "")
        return f"{lhs} = {call}"


# How a replay returns each output (Program.outs' forms, jit/api.py `_returned`)
_RETURNED = {True: "_T({})", False: "{}", "object": "{}", "copy": "_T({}.copy())", "array copy": "{}.copy()"}
_LEAVE_QUIET = ["    finally:", "        _quiet_leave(_q)"]
_PURE = {"add", "add_into", "astype", "copy", "read_grad", "capture"}


class Program:
    """A traced function: inputs, equations, outputs (each (atom, form): _RETURNED) and the namespace
    its names live in (functions, constants, contexts)."""

    def __init__(self, name, invars, eqns, outs, ns, single):
        self.name, self.invars, self.eqns, self.outs, self.ns = name, invars, eqns, outs, ns
        self.single = single  # fn returned one value, not a container
        self.frees = {}  # equation index -> the locals that die after it (passes.free_dead_values)
        self.flat = None  # the step equation whose SGD update runs on flat arrays (passes._plan_flat_gradients)

    # ----- Python for the replay -----

    def source(self):
        """The replay function's source: one line per equation, backward passes with NumPy's
        warnings off (autograd/quiet.py, as eager), and each local deleted after its last use
        (`frees`)."""
        params = ", ".join(f"a{i}" for i in range(len(self.invars)))
        lines, quiet = [], False
        for i, eqn in enumerate(self.eqns):
            if eqn.quiet != quiet:
                lines += ["    _q = _quiet_enter()", "    try:"] if eqn.quiet else _LEAVE_QUIET
            quiet = eqn.quiet
            indent = "        " if quiet else "    "
            lines.extend(indent + line for line in eqn.source().split("\n"))
            if i in self.frees:
                lines.append(indent + "del " + ", ".join(sorted(self.frees[i])))
        if quiet:
            lines += _LEAVE_QUIET
        exprs = [_RETURNED[form].format(atom) for atom, form in self.outs]
        result = exprs[0] if self.single else f"[{', '.join(exprs)}]"
        return f"def replay({params}):\n" + "".join(f"{line}\n" for line in lines) + f"    return {result}\n"

    # ----- the program for a reader (JAX's jaxpr layout) -----

    def jaxpr(self):
        """The program in JAX's jaxpr layout: `{ lambda consts ; inputs. let equations in (outputs) }`.

        Primitives print by their lower-case names (exp, mul, matmul), a backward rule as the
        primitive's name with `_vjp` and the output of the forward it belongs to
        (`d:f32[] e:f32[] = mul_vjp[of=c] g`), other steps by what they do.
        """
        names = _Names(self.ns)
        for i, v in enumerate(self.invars):  # the input tensors a0, a1, ... print as their variables
            names.alias[f"a{i}"] = v
        defs = {}  # a context's name -> the Var its forward produced (mul_vjp[of=c])
        consts, body = [], []
        invars = " ".join(f"{names.of(v)}:{_type(v)}" for v in self.invars)
        for eqn in self.eqns:
            if eqn.kind == "capture":  # a tensor read from outside: a constant input, as JAX's constvars
                names.alias[eqn.args[0].text] = eqn.outs[0]
                if eqn.outs[0].name not in names.known:
                    consts.append(f"{names.of(eqn.outs[0])}:{_type(eqn.outs[0])}")
                continue
            if eqn.kind in ("input", "release", "buffers"):  # where values live, not what they are
                continue
            if eqn.kind == "astype" and type(eqn.args[0]) is Var and eqn.args[0].dtype == eqn.outs[0].dtype:
                names.alias[eqn.outs[0].name] = eqn.args[0]  # a NumPy scalar made an array: no step to show
                continue
            if eqn.kind == "forward" and eqn.ctx is not None:
                defs[eqn.ctx.name] = eqn.outs[0]
            body.append(_show(eqn, names, defs))
        outs = ", ".join(names.atom(a) for a, _ in self.outs) + ("," if len(self.outs) == 1 else "")
        head = f"{{ lambda {' '.join(consts)}{' ' if consts else ''}; {invars}. let"
        one_line = f"{head} {'; '.join(body)} in ({outs}) }}"
        if len(one_line) <= 80 and not any("\n" in line for line in body):  # JAX's width
            return one_line
        return head + "".join(f"\n    {line}" for line in body) + f"\n  in ({outs}) }}"

    def __str__(self):
        return self.jaxpr()

    __repr__ = __str__


def _type(v):
    """f32[3,4]: JAX's short dtype name and the shape."""
    if v.dtype is None:
        return "?"
    dt = np.dtype(v.dtype)
    short = {"f": "f", "i": "i", "u": "u", "b": "bool", "c": "c"}.get(dt.kind, dt.kind)
    name = short if dt.kind == "b" else f"{short}{dt.itemsize * 8}"
    return f"{name}[{','.join(str(n) for n in v.shape)}]"


class _Names:
    """a, b, ..., z, ba, bb, ...: JAX's variable names, given in order of first appearance."""

    def __init__(self, ns):
        self.known = {}
        self.ns = ns
        self.alias = {}  # a0, K3 (the Tensors) -> the Var of their array

    def of(self, var):
        if var.name in self.alias:
            return self.of(self.alias[var.name])
        name = self.known.get(var.name)
        if name is None:
            n, name = len(self.known), ""
            while True:
                name = "abcdefghijklmnopqrstuvwxyz"[n % 26] + name
                n //= 26
                if not n:
                    break
            self.known[var.name] = name
        return name

    def atom(self, atom):
        if type(atom) is Var:
            return self.of(atom)
        if type(atom) is Part:
            return f"{self.atom(atom.base)}{atom.path}"
        if type(atom) is Tup:
            return "(" + ",".join(self.atom(a) for a in atom.items) + ")"
        text = str(atom)
        if text in self.alias:
            return self.of(self.alias[text])
        value = self.ns.get(text)
        if isinstance(value, (np.ndarray, np.generic)):  # a constant: its value when it is one number
            v = Var(text, np.shape(value), value.dtype)
            return f"{np.asarray(value).item()!r}:{_type(v)}" if np.size(value) == 1 else f"{text}:{_type(v)}"
        return text


def _prim_name(eqn):
    cls = eqn.prim
    name = cls.__name__ if cls is not None else eqn.op
    return name.lower() if cls is not None else name


def _show(eqn, names, defs):
    outs = " ".join(f"{names.of(o)}:{_type(o)}" if o is not None else "_" for o in eqn.outs)
    args = [names.atom(a) for a in eqn.args]
    params = [f"{k}={names.atom(v)}" for k, v in eqn.params]
    kind = eqn.kind
    if kind == "forward":
        op = _prim_name(eqn)
    elif kind == "backward":
        of = defs.get(eqn.ctx.name) if eqn.ctx is not None else None
        op = _prim_name(eqn) + "_vjp"
        if of is not None:
            params.insert(0, f"of={names.of(of)}")
    elif kind in ("add", "add_into"):
        op = "add_any"  # JAX's name for summing two cotangents of one value
    elif kind == "astype":
        op, args = "convert_element_type", args[:1]
    elif kind == "read_grad":
        op = "grad_of"
    elif kind == "effect" and eqn.op in ("_acc", "_acc_owned"):
        op, args, params = "accumulate_grad", args[:2], []
    elif kind == "draw":  # _draw(sample, generator): the sample's name tells the distribution
        op, args = "random_" + re.sub(r"_*\d+$", "", args[0]).strip("_"), args[1:] if args[1:] != ["None"] else []
    else:  # a repeated call, a NumPy function, an in-place write: the name it was given, less its number
        op = re.sub(r"_*\d+$", "", eqn.op).strip("_")
    head = f"{op}[{','.join(params)}]" if params else op
    text = f"{head} {' '.join(args)}".rstrip()
    return f"{outs} = {text}" if outs else text
