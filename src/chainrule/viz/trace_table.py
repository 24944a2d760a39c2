"""Evaluation traces (Wengert lists) of a function at a point: `chainrule.viz.trace_table(f, *point)`.

The tables of the autodiff literature (Griewank and Walther; Baydin et al., JMLR 2018,
tables 2 and 3), computed by chainrule from the graph it recorded:

    primal trace     v_i = op(v_j, ...) = value             inputs v_{1-n} .. v_0, then v_1 .. v_k; y = v_k
    tangent trace    v̇_i = Σ_j ∂v_i/∂v_j · v̇_j = value      forward mode, for a direction ẋ
    adjoint trace    v̄_j = v̄_j + v̄_i · ∂v_i/∂v_j = value    reverse mode, edge by edge from ȳ = 1

The adjoints are the engine's backward pass (the same recorded pass `chainrule.explain`
spells out); the tangents are chainrule's forward mode (autograd.forward), run once
over the whole graph. Each table prints as text, and renders as Markdown, LaTeX and HTML.

Example (Baydin et al.'s example):
    >>> t = cr.viz.trace_table(lambda x1, x2: cr.log(x1) + x1 * x2 - cr.sin(x2), 2.0, 5.0, direction=(1, 0))
    >>> print(t)             # v1 = ln v-1 = ln 2 = 0.693 ... v̄-1 = ... = 5.5, v̄0 = ... = 1.716
    >>> t.grads              # [5.5, 1.7163...]
"""

from __future__ import annotations

import html
import inspect
import re

import numpy as np

from ._pass import constant_name, local_formula, op_expression, record
from ._pass import number as _num

# Variables are written as ⟦kind|label⟧ and turned into text, LaTeX or HTML at the end:
# kind v (primal), vd (tangent), vb (adjoint) with label the index; x, xd, xb with a user name.
_VAR = re.compile(r"⟦(v|vd|vb|x|xd|xb)\|([^⟧]*)⟧")


def _operand_num(a):
    s = _num(a)
    return f"({s})" if s.startswith("-") else s


def _scalar(a):
    return a is not None and np.size(a) == 1


class TraceTable:
    """The primal, tangent and adjoint traces of one evaluation. `str()` is text; `.to_markdown()`,
    `.to_latex()`, `.to_html()` (and `_repr_html_` in notebooks) render it; `.value`, `.grads`,
    `.tangent` and `.rows` hold the numbers."""

    def __init__(self, primal, tangent, adjoint, value, grads, tangent_out):
        self.primal, self.tangent, self.adjoint = primal, tangent, adjoint
        self.value, self.grads, self.tangent_out = value, grads, tangent_out

    @property
    def rows(self):
        """{"primal": [...], "tangent": [...], "adjoint": [...]}: rows of (variable, expression..., value)."""
        return {"primal": self.primal, "tangent": self.tangent, "adjoint": self.adjoint}

    def _sections(self):
        out = [("Forward primal trace", self.primal)]
        if self.tangent:
            out.append(("Forward tangent trace", self.tangent))
        out.append(("Reverse adjoint trace", self.adjoint))
        return out

    # ----- text -----

    def __str__(self):
        lines = []
        for title, rows in self._sections():
            lines += [title, "-" * len(title)]
            cells = [[_text(c) for c in r] for r in rows]
            width = max(_width(c[0]) for c in cells)
            lines += [c[0] + " " * (width - _width(c[0])) + " = " + " = ".join(c[1:]) for c in cells]
            lines.append("")
        return "\n".join(lines).rstrip()

    __repr__ = __str__

    # ----- LaTeX, Markdown, HTML -----

    def to_latex(self):
        """One `array` per trace: variable & expression & value."""
        parts = []
        for title, rows in self._sections():
            body = " \\\\\n".join(
                f"{_latex(r[0])} &= "
                + " = ".join(_latex(c) for c in r[1:-1])
                + (" = " if len(r) > 2 else "")
                + f"{_latex(r[-1])}"
                for r in rows
            )
            parts.append(f"% {title}\n\\begin{{align*}}\n{body}\n\\end{{align*}}")
        return "\n".join(parts)

    def to_markdown(self):
        """Markdown tables with inline math (Jupyter and GitHub render them)."""
        parts = []
        for title, rows in self._sections():
            parts += [f"**{title}**", "", "| | | value |", "|---|---|---:|"]
            for r in rows:
                expr = " = ".join(_latex(c) for c in r[1:-1])
                parts.append(f"| ${_latex(r[0])}$ | ${expr}$ | {_text(r[-1])} |")
            parts.append("")
        return "\n".join(parts)

    def to_html(self):
        """HTML tables, one per trace (styled inline; no script, no external resource)."""
        style = (
            "<style>.cr-trace{border-collapse:collapse;font-family:ui-monospace,Menlo,monospace;"
            "font-size:13px;margin:4px 0 12px}.cr-trace td,.cr-trace th{padding:2px 10px;text-align:left;"
            "border-bottom:1px solid #e5e7eb}.cr-trace td.num{text-align:right}"
            ".cr-trace caption{text-align:left;font-weight:600;padding:4px 0}</style>"
        )
        parts = [style]
        for title, rows in self._sections():
            kind = title.split()[1]
            parts.append(f'<table class="cr-trace" data-trace="{kind}"><caption>{html.escape(title)}</caption>')
            for r in rows:
                expr = " = ".join(_html(c) for c in r[1:-1])
                parts.append(
                    f'<tr><td>{_html(r[0])}</td><td>=</td><td>{expr}</td><td class="num">{_html(r[-1])}</td></tr>'
                )
            parts.append("</table>")
        return "\n".join(parts)

    def _repr_html_(self):
        return self.to_html()

    def _repr_markdown_(self):
        return self.to_markdown()


def _width(s):  # the dot and bar are combining marks: they take no column
    return len(s) - s.count("\u0307") - s.count("\u0304")


def _text(s):
    def sub(m):  # the dot or bar goes over the letter: v̇1, ẋ1, ȳ
        kind, label = m.groups()
        mark = {"": "", "d": "\u0307", "b": "\u0304"}[kind[1:]]
        return "v" + mark + label if kind[0] == "v" else label[:1] + mark + label[1:]

    return _VAR.sub(sub, s)


_TEX_SYMBOLS = [
    ("tanh²", r"\tanh^2"),
    ("tan²", r"\tan^2"),
    ("@", r"\,"),
    ("×", r"\times "),
    ("−", "-"),
    ("·", r"\cdot "),
    ("√", r"\sqrt "),
    ("σ", r"\sigma "),
    ("²", "^2"),
    ("ᵀ", r"^\top "),
    ("Σ", r"\sum "),
    ("∂", r"\partial "),
    ("≥", r"\geq "),
    ("≤", r"\leq "),
    ("⊙", r"\odot "),
    ("ln ", r"\ln "),
    ("sin ", r"\sin "),
    ("cos ", r"\cos "),
    ("tanh ", r"\tanh "),
    ("tan ", r"\tan "),
    ("exp ", r"\exp "),
]


def _latex(s):
    from ..explain import _tex_name

    for a, b in _TEX_SYMBOLS:
        s = s.replace(a, b)

    def sub(m):
        kind, label = m.groups()
        base = f"v_{{{label}}}" if kind[0] == "v" else _tex_name(label)
        return {"": base, "d": rf"\dot{{{base}}}", "b": rf"\bar{{{base}}}"}[kind[1:]]

    return _VAR.sub(sub, s)


def _html(s):
    out, last = [], 0
    for m in _VAR.finditer(s):
        out.append(html.escape(s[last : m.start()]))
        kind, label = m.groups()
        letter, rest = (
            ("v", f"<sub>{html.escape(label)}</sub>")
            if kind[0] == "v"
            else (html.escape(label[:1]), html.escape(label[1:]))
        )
        # A bar as an overline and a dot as a combining mark, both over the letter alone.
        accent = {
            "": f"<i>{letter}</i>",
            "d": f"<i>{letter}&#775;</i>",
            "b": f'<i style="text-decoration:overline">{letter}</i>',
        }[kind[1:]]
        out.append(accent + rest)
        last = m.end()
    out.append(html.escape(s[last:]))
    return "".join(out)


def _tangents(p, leaves, direction):
    """Every entry's tangent for the input direction, by chainrule's forward mode over the recorded graph."""
    from ..autograd.forward import forward_tangents

    class _Out:  # forward_tangents reads an output's grad_fn, shape and dtype only
        def __init__(self, node):
            self.grad_fn, self.shape, self.dtype = node, node.shape, node.dtype

    ops = [e for e in p.entries if e.op is not None]
    found = forward_tangents([_Out(e.node) for e in ops], leaves, direction)
    by_node = {id(e.node): e.index for e in p.entries}
    tangents = {by_node[id(x)]: np.asarray(d) for x, d in zip(leaves, direction)}
    tangents.update({e.index: t for e, t in zip(ops, found)})
    return tangents


def trace_table(f, *point, direction=None, names=None):
    """The evaluation trace of `f` at `point`: primal, tangent (for `direction`) and adjoint rows.

    Args:
        f: a function of Tensors returning one Tensor (a scalar for the adjoint trace to
            start from ȳ = 1; otherwise ȳ is a tensor of ones).
        *point: one number or array per argument of f.
        direction: the tangent ẋ of the forward trace: one number or array per argument
            (a single number serves every argument). None leaves the tangent trace out.
        names: the arguments' names (default: f's parameter names, else x1, x2, ...).

    Returns:
        a TraceTable: print it, or `.to_markdown()`, `.to_latex()`, `.to_html()`;
        `.value` is y, `.grads` the adjoints of the inputs (dy/dx_i), `.tangent_out` ẏ.

    Inputs are v_{1-n} .. v_0 (n arguments), intermediates v_1 .. v_k in layered order
    (each after its operands; ties in the order the program evaluates them), y = v_k.

    Example:
        >>> t = trace_table(lambda x1, x2: cr.log(x1) + x1 * x2 - cr.sin(x2), 2, 5, direction=(1, 0))
        >>> round(t.value, 3), [round(g, 3) for g in t.grads], round(t.tangent_out, 3)
        (11.652, [5.5, 1.716], 5.5)
    """
    from .._dtypes import float64
    from ..creation import tensor
    from ..tensor import Tensor

    if not callable(f):
        raise TypeError(f"trace_table: expected a function of Tensors, got {type(f).__name__}")
    xs = [tensor(np.asarray(x, dtype=np.float64), dtype=float64, requires_grad=True) for x in point]
    if names is None:
        try:
            params = [
                q.name
                for q in inspect.signature(f).parameters.values()
                if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):
            params = []
        names = params[: len(xs)] if len(params) >= len(xs) else [f"x{i + 1}" for i in range(len(xs))]
    if len(names) != len(xs):
        raise ValueError(f"trace_table: {len(names)} names for {len(xs)} arguments")
    if direction is not None:
        if np.isscalar(direction) or (len(xs) == 1 and not isinstance(direction, (list, tuple))):
            direction = [direction] * len(xs)
        if len(direction) != len(xs):
            raise ValueError(
                f"trace_table: direction has {len(direction)} entries for {len(xs)} arguments; "
                "give one number or array per argument"
            )
        direction = [np.broadcast_to(np.asarray(d, dtype=np.float64), x.shape).copy() for d, x in zip(direction, xs)]
    y = f(*xs)
    if not isinstance(y, Tensor) or y.grad_fn is None:
        raise ValueError(
            "trace_table: f must return a Tensor computed from its arguments (got "
            f"{type(y).__name__}{'' if not isinstance(y, Tensor) else ' with no graph'})"
        )
    p = record(y, xs)
    return _table(p, xs, names, direction)


def _factor(partial):
    """A local partial as a factor of a product: parenthesized unless it is one symbol or number."""
    return f"({partial})" if re.search(r"[ +−/]", partial) else partial


def _table(p, xs, names, direction):
    """The three traces of a recorded pass; `xs` are the inputs (v_{1-n} .. v_0) named `names`."""
    n_leaves = sum(e.op is None for e in p.entries)
    given = {id(x): nm for x, nm in zip(xs, names)}
    entries, out = p.entries, p.output

    def var(i, kind="v"):
        return f"⟦{kind}|{i - n_leaves + 1}⟧"

    def input_name(e):
        return given.get(id(e.node)) or e.name or f"x{e.index + 1}"

    def operands(e):
        return [var(a) if a is not None else constant_name(c) for a, c in zip(e.inputs, e.consts)]

    primal = []
    for e in entries:
        if e.op is None:
            primal.append((var(e.index), f"⟦x|{input_name(e)}⟧", _num(e.value)))
            continue
        row = [var(e.index), op_expression(e.op, operands(e), var(e.index))]
        values = [entries[a].value if a is not None else c for a, c in zip(e.inputs, e.consts)]
        if all(_scalar(v) for v in values):  # the numbers substituted, as the paper writes ln 2
            row.append(op_expression(e.op, [_operand_num(v) for v in values], _num(e.value)))
        primal.append((*row, _num(e.value)))
    primal.append(("⟦x|y⟧", var(out), _num(entries[out].value)))

    tangent = []
    if direction is not None:
        tangents = _tangents(p, xs, direction)
        for e in entries:
            if e.op is None:
                tangent.append((var(e.index, "vd"), f"⟦xd|{input_name(e)}⟧", _num(tangents.get(e.index))))
                continue
            terms = []  # v̇_i = Σ_j ∂v_i/∂v_j · v̇_j
            for j, a in enumerate(e.inputs):
                if a is None:
                    continue
                partial = local_formula(e.op, j, operands(e), var(e.index))
                if partial is None or "G" in partial:  # not elementwise: the Jacobian, by name
                    partial = f"∂{var(e.index)}/∂{var(a)}"
                terms.append({"1": "", "−1": "−"}.get(partial, _factor(partial) + "·") + var(a, "vd"))
            tangent.append((var(e.index, "vd"), " + ".join(terms).replace("+ −", "− "), _num(tangents.get(e.index))))
        tangent.append(("⟦xd|y⟧", var(out, "vd"), _num(tangents.get(out))))

    adjoint = [(var(out, "vb"), "⟦xb|y⟧", _num(entries[out].grad))]
    started = set()
    for s in p.backward:  # v̄_j = v̄_j + v̄_i · ∂v_i/∂v_j, edge by edge (the first term assigns)
        dst = entries[s.dst]
        partial = local_formula(dst.op, s.slot, operands(dst), var(s.dst))
        head = var(s.src, "vb") + " + " if s.src in started else ""
        started.add(s.src)
        row = [var(s.src, "vb"), f"{head}{var(s.dst, 'vb')}·∂{var(s.dst)}/∂{var(s.src)}"]
        if partial is not None and "G" in partial:  # a vector-Jacobian product: G is the upstream v̄_i
            row.append(head + partial.replace("G", var(s.dst, "vb")))
        elif partial is not None:
            row.append(f"{head}{var(s.dst, 'vb')}·{_factor(partial)}")
        adjoint.append((*row, _num(s.running)))
    index = {id(e.node): e.index for e in entries}
    for x, nm in zip(xs, names):
        adjoint.append((f"⟦xb|{nm}⟧", var(index[id(x)], "vb"), _num(entries[index[id(x)]].grad)))

    def as_py(a):
        return float(a) if _scalar(a) else a

    return TraceTable(
        primal,
        tangent,
        adjoint,
        as_py(entries[out].value),
        [as_py(entries[index[id(x)]].grad) for x in xs],
        None if direction is None else as_py(tangents.get(out)),
    )
