"""The chain rule of a backward pass, spelled out: `chainrule.explain(loss)`.

For every named tensor u the engine computed

    dL/du = sum over the uses of u of  dL/dv * dv/du

where each use is a path from u to the nearest named tensor v (or to L itself)
through unnamed intermediates, dL/dv is the upstream gradient and dv/du the
local partial along that path. `explain` lists these sums first in symbols,
then with the numbers of the pass.

Recording. The engine frees what forward saved once backward is done, so the
local partials must be taken while backward runs. A backward pass through a
graph that holds a named tensor is recorded automatically, so the natural

    L.backward()
    print(chainrule.explain(L))

just works; graphs with no named tensor (training) are never recorded and pay
nothing. Unnamed graphs can be recorded on request:

    with chainrule.explain.recording():      # or chainrule.viz.trace()
        L.backward()
    print(chainrule.explain(L))

or simply call `chainrule.explain(L)` *instead of* (or before) `L.backward()`:
it then runs the backward pass itself, recorded, with `autograd.grad`
(retain_graph=True, so L.backward() still works afterwards; no `.grad` is
touched). `chainrule.explain.start_recording()` records every later pass (for
notebooks) until `stop_recording()`.

Example (the u1..u5 problem):
    >>> u1 = cr.tensor(3.0, requires_grad=True, name="u1")
    >>> u2 = cr.tensor(4.0, requires_grad=True, name="u2")
    >>> u3 = u1 * u2; u3.name = "u3"
    >>> u4 = u1 + u2; u4.name = "u4"
    >>> u5 = 2 * u3 * u4; u5.name = "u5"
    >>> L = (u5 - u1 - u2 - u3 - u4) ** 2; L.name = "L"
    >>> print(cr.explain(L))         # dL/du1 = dL/du3 * du3/du1 + dL/du4 * du4/du1 + dL/du1(direct) ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ._local_symbols import LocalSymbols
from ._recorder import (  # noqa: F401  (re-exported: chainrule.explain.recording() and the drawings use them)
    NodeRecord,
    _graph,
    _local_partials,
    _records,
    constants_of,
    names_in_use,
    record_of,
    recording,
    start_recording,
    stop_recording,
    value_of,
)
from .autograd import engine as _engine

if TYPE_CHECKING:
    from typing import Any

    from .tensor import Tensor

# ----- the explanation -----


@dataclass
class Use:
    """One term of dL/du: the path from u to the named tensor `consumer`.

    upstream is dL/d(consumer); local is d(consumer)/du along this path (elementwise),
    or None when the path crosses a non-elementwise op (then `contribution` is the
    recorded vector-Jacobian product); contribution = upstream * local.
    """

    consumer: str
    op: str
    upstream: np.ndarray
    local: np.ndarray | None
    contribution: np.ndarray
    shared: tuple = ()  # the named tensors of one joint term (consumer first), when no record splits them


@dataclass
class Step:
    """dL/d(name) = sum of the uses' contributions = total."""

    name: str
    value: np.ndarray | None
    uses: list = field(default_factory=list)
    total: np.ndarray | None = None

    @property
    def grad(self) -> Any:
        return self.total


def _is_scalar(a):
    return a is not None and np.size(a) == 1


def _fmt(a, digits=6):
    if a is None:
        return "?"
    a = np.asarray(a)
    if a.size == 1:
        v = a.item()
        if isinstance(v, float) and np.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.{digits}g}"
    if a.size <= 6:
        return np.array2string(a, precision=4, separator=", ").replace("\n", "")
    return f"<{'x'.join(map(str, a.shape))} tensor, mean {a.mean():.4g}, norm {np.linalg.norm(a):.4g}>"


class Explanation:
    """The chain rule of one backward pass. `str()` for text, `.to_markdown()`, `.to_latex()`,
    `.steps` for programs (a list of Step, root's nearest first), `[name]` for one Step."""

    def __init__(self, root_name: str, steps: list[Step], symbols: dict | None = None) -> None:
        self.root = root_name
        self.steps = steps
        self._symbols = symbols  # (v name, u name) -> ∂v/∂u in symbols, or None
        self._symbol_cache = {}  # id(node) -> its SymPy expression

    def local_symbol(self, consumer: str, name: str | None, latex: bool = False) -> str | None:
        """The local partial ∂consumer/∂name in symbols (SymPy's spelling, `2*u4`, or LaTeX), or None
        where the path crosses an op outside explain's table (or SymPy, the `symbolic` extra, is missing)."""
        if self._symbols is None:
            return None
        return self._symbols(consumer, name, self._symbol_cache, latex)

    def __getitem__(self, name):
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"explain: no named tensor {name!r}; named here: {[s.name for s in self.steps]}")

    def grads(self) -> dict[str, Any]:
        """{name: dL/d(name)} as Python floats for scalars, arrays otherwise."""
        return {s.name: (float(s.total) if _is_scalar(s.total) else s.total) for s in self.steps}

    # ----- text -----

    def _symbol_terms(self, step, d="d", partial="∂", mul="·"):
        terms = []
        for u in step.uses:
            if len(u.shared) > 1:  # one joint term: the VJPs through an unnamed node feeding all of them
                terms.append(
                    "["
                    + " + ".join(
                        f"{partial}{self.root}/{partial}{step.name}"
                        if c == self.root
                        else f"({partial}{c}/{partial}{step.name})ᵀ {d}{self.root}/{d}{c}"
                        for c in u.shared
                    )
                    + "]"
                )
            elif u.consumer == self.root:
                terms.append(
                    f"{partial}{self.root}/{partial}{step.name}" + (f" [via {u.op}]" if u.local is None else "")
                )
            elif u.local is None:
                terms.append(f"({partial}{u.consumer}/{partial}{step.name})ᵀ {d}{self.root}/{d}{u.consumer}")
            else:
                terms.append(f"{d}{self.root}/{d}{u.consumer}{mul}{partial}{u.consumer}/{partial}{step.name}")
        return terms

    def __str__(self):
        L = self.root
        lines = [
            f"Chain rule for the backward pass of {L}: d{L}/du = Σ over uses of u of d{L}/dv · ∂v/∂u",
            f"(∂v/∂u is the local partial along the path from u to v; ∂{L}/∂u a direct use in {L})",
            "",
            f"d{L}/d{L} = 1",
        ]
        for s in self.steps:
            head = f"d{L}/d{s.name}"
            pad = " " * len(head)
            lines.append("")
            if not s.uses:
                lines.append(f"{head} = 0   ({s.name} does not reach {L})")
                continue
            lines.append(f"{head} = " + " + ".join(self._symbol_terms(s)))
            nums = []
            for u in s.uses:
                if u.local is None:
                    nums.append(_fmt(u.contribution))
                elif u.consumer == L:
                    nums.append(f"({_fmt(u.local)})")
                else:
                    nums.append(f"({_fmt(u.upstream)})·({_fmt(u.local)})")
            lines.append(f"{pad} = " + " + ".join(nums))
            lines.append(f"{pad} = {_fmt(s.total)}")
            where = "  where "
            for u in s.uses:
                symbol = None if u.local is None else self.local_symbol(u.consumer, s.name)
                if symbol is not None:  # the local partial in symbols, then in numbers
                    number = _fmt(u.local)
                    tail = "" if symbol == number else f" = {number}"
                    lines.append(f"{where}∂{u.consumer}/∂{s.name} = {symbol}{tail}")
                    where = " " * len(where)
        return "\n".join(lines)

    __repr__ = __str__

    def _latex_lines(self):
        L = _tex_name(self.root)
        out = []
        for s in self.steps:
            u_name = _tex_name(s.name)
            head = rf"\frac{{\partial {L}}}{{\partial {u_name}}}"
            syms, nums = [], []
            for u in s.uses:
                v = _tex_name(u.consumer)
                if len(u.shared) > 1:
                    joint = [
                        rf"\frac{{\partial {L}}}{{\partial {u_name}}}\Big|_{{\text{{direct}}}}"
                        if c == self.root
                        else rf"\left(\frac{{\partial {_tex_name(c)}}}{{\partial {u_name}}}\right)^{{\top}}"
                        rf"\frac{{\partial {L}}}{{\partial {_tex_name(c)}}}"
                        for c in u.shared
                    ]
                    syms.append(r"\left[" + " + ".join(joint) + r"\right]")
                    nums.append(_tex_num(u.contribution))
                elif u.consumer == self.root:
                    syms.append(rf"\frac{{\partial {L}}}{{\partial {u_name}}}\Big|_{{\text{{direct}}}}")
                    nums.append(rf"({_tex_num(u.contribution)})")
                elif u.local is None:
                    syms.append(
                        rf"\left(\frac{{\partial {v}}}{{\partial {u_name}}}\right)^{{\top}}"
                        rf"\frac{{\partial {L}}}{{\partial {v}}}"
                    )
                    nums.append(_tex_num(u.contribution))
                else:
                    syms.append(rf"\frac{{\partial {L}}}{{\partial {v}}}\frac{{\partial {v}}}{{\partial {u_name}}}")
                    nums.append(rf"({_tex_num(u.upstream)})({_tex_num(u.local)})")
            if not syms:
                out.append(rf"{head} = 0")
            else:
                out.append(rf"{head} = " + " + ".join(syms) + " = " + " + ".join(nums) + f" = {_tex_num(s.total)}")
        return out

    def to_latex(self) -> str:
        """An `align*` environment, one line per named tensor (and one for its local partials in symbols)."""
        rows = []
        for step, line in zip(self.steps, self._latex_lines()):
            rows.append(line.replace(" = ", " &= ", 1))
            where = self._latex_where(step)
            if where:
                rows.append(rf"&\quad \text{{where }} {where}")
        return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"

    def to_markdown(self) -> str:
        """Markdown with one display-math line per named tensor (renders in Jupyter and on GitHub)."""
        parts = [f"**Chain rule for the backward pass of ${_tex_name(self.root)}$**", ""]
        for step, line in zip(self.steps, self._latex_lines()):
            parts += [f"$$ {line} $$", ""]
            where = self._latex_where(step)
            if where:
                parts += [f"$$ \\text{{where }} {where} $$", ""]
        return "\n".join(parts)

    def _latex_where(self, step):
        """The local partials of a step in symbols and numbers, as LaTeX (empty when none is known)."""
        out = []
        for u in step.uses:
            symbol = None if u.local is None else self.local_symbol(u.consumer, step.name, latex=True)
            if symbol is not None:
                number = _tex_num(u.local)
                frac = rf"\frac{{\partial {_tex_name(u.consumer)}}}{{\partial {_tex_name(step.name)}}}"
                out.append(f"{frac} = {symbol}" + ("" if symbol == number else f" = {number}"))
        return ",\\quad ".join(out)

    def _repr_markdown_(self):
        return self.to_markdown()


def _tex_name(name):
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    escaped = name.replace("_", "\\_")
    return name if re.fullmatch(r"[A-Za-z]", name) else "\\mathrm{" + escaped + "}"


def _tex_num(a):
    return (
        _fmt(a).replace("<", r"\langle ").replace(">", r"\rangle ").replace("x", r"\times ")
        if a is not None and np.size(a) > 6
        else _fmt(a)
    )


def explain(loss: Tensor, names: Any | None = None) -> Explanation:
    """Spell out the chain rule of the last backward pass of `loss`, for every named tensor.

    dL/du = sum over the uses of u of (upstream gradient dL/dv) x (local partial dv/du),
    where v is the next named tensor on each path (or L itself).

    Args:
        loss: the tensor backward ran from (usually a scalar). Its name, or "L", heads
            the explanation.
        names: optional {name: tensor} for tensors without a `.name` (nothing is renamed).

    Returns:
        an Explanation: `str()` for text, `.to_markdown()`, `.to_latex()`, `.steps`
        (tensor name, uses [(consumer, op, upstream, local, contribution)], total).

    Name tensors with `name=` (leaves) or `t.name = "u3"` (intermediates). If the last
    backward of `loss` was not recorded (see `recording()`), explain runs it itself with
    autograd.grad(retain_graph=True), leaving every `.grad` as it was.

    Example:
        >>> x = cr.tensor(2.0, requires_grad=True, name="x")
        >>> y = x * x; y.name = "y"
        >>> L = 3 * y; L.name = "L"
        >>> cr.explain(L)["x"].total     # dL/dy * dy/dx = 3 * 4 = 12
        array(12.)
    """
    from .tensor import Tensor

    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: expected the Tensor backward ran from, got {type(loss).__name__}")
    if loss.grad_fn is None:
        raise RuntimeError(
            "explain: this tensor has no grad_fn (it is a leaf or was computed without grad), so there is no "
            "backward pass to explain. Build it from tensors created with requires_grad=True."
        )
    alias = {id(t): n for n, t in (names or {}).items()}

    def name_of(e):
        if isinstance(e, Tensor):
            return alias.get(id(e)) or e.name
        out = e.out_ref() if getattr(e, "out_ref", None) is not None else None
        return (alias.get(id(out)) if out is not None else None) or e.name

    order, consumers = _graph(loss)
    nodes = [e for e in order if not isinstance(e, Tensor)]
    if any(n not in _records for n in nodes):
        if any(n.saved is None for n in nodes):
            raise RuntimeError(
                "explain: the last backward pass through this graph was not recorded, and it freed the values "
                "the local partials need. Either call chainrule.explain(loss) instead of loss.backward() (it runs "
                "the backward pass itself), or run backward inside `with chainrule.explain.recording():`, or "
                "pass retain_graph=True to backward()."
            )
        leaves = [e for e in order if isinstance(e, Tensor)]
        with recording():
            if leaves:
                _engine.grad(loss, leaves, retain_graph=True, allow_unused=True)
            else:  # every input is detached: run the pass for its records only
                _engine.grad(loss, [loss], retain_graph=True)
    root_name = name_of(loss.grad_fn) or "L"
    # Names key every gradient below: two tensors with one name would show one's gradient as the other's.
    owner = {}
    for e in order:
        nm = root_name if e is loss.grad_fn else name_of(e)
        if nm and owner.setdefault(nm, e) is not e:
            raise ValueError(
                f"explain: two tensors in this graph are named {nm!r}, so their gradients cannot be told apart; "
                "give each a distinct name (h1, h2, ...) or pass names={...} with distinct names"
            )

    # For every entity, {named v: (dv/dx elementwise or None, op path)} by dynamic programming from the root.
    reach = {}
    root_node = loss.grad_fn
    for e in order:
        if e is root_node:
            continue
        acc = {}
        for node, i in consumers.get(id(e), ()):
            rec = _records[node]
            local = rec.local[i]
            nm = name_of(node) if node is not root_node else root_name
            targets = {nm: (np.ones_like(rec.grad_output), None)} if nm else reach.get(id(node), {})
            for v, (partial, path) in targets.items():
                term = None if (local is None or partial is None) else local * partial
                op = _Path(node.op_name, path)
                if v in acc:
                    old, old_op = acc[v]
                    acc[v] = (None if term is None or old is None else old + term, old_op.merge(op))
                else:
                    acc[v] = (term, op)
        reach[id(e)] = acc

    named_grad, node_of = {root_name: None}, {}
    for n in nodes:
        nm = name_of(n) if n is not root_node else root_name
        if nm:
            named_grad[nm] = _records[n].grad_output
            node_of[nm] = n

    steps = []
    for e in order:
        if e is root_node:
            continue
        nm = name_of(e)
        if not nm:
            continue
        value = e._data if isinstance(e, Tensor) else value_of(e)
        if isinstance(e, Tensor):
            total = None
            for node, i in consumers.get(id(e), ()):
                gi = _records[node].grad_inputs[i]
                if gi is not None:
                    total = gi.copy() if total is None else total + gi
        else:
            total = _records[e].grad_output
        step = Step(nm, None if value is None else np.array(value), [], total)
        shared = _inseparable(e, reach, consumers, name_of, root_node, root_name)
        merged = None
        for v, (partial, op) in reach[id(e)].items():
            upstream = named_grad.get(v)
            if upstream is None:  # v is the root: dL/dL = 1
                upstream = np.ones(()) if partial is None else np.ones_like(partial)
            if partial is not None:
                contribution = upstream * partial
            elif v in shared:  # one term for all of them, filled in below
                if merged is not None:
                    continue
                contribution = None
            else:
                contribution = _contribution_via_edges(e, v, consumers, name_of, root_node, root_name, reach)
            use = Use(v, str(op), upstream, partial, contribution, shared if v in shared else ())
            merged = use if v in shared else merged
            step.uses.append(use)
        if merged is not None and total is not None:  # exact as a sum: what the other terms leave of the total
            rest = [u.contribution for u in step.uses if u is not merged and u.contribution is not None]
            merged.contribution = total - sum(rest) if rest else np.array(total, copy=True)
        steps.append(step)
    local = LocalSymbols(name_of, constants_of)
    return Explanation(root_name, steps, lambda v, u, cache, latex: local.partial(node_of.get(v), u, cache, latex))


class _Path:
    """The ops on the path(s) from a tensor to a named tensor, kept in constant size per tensor.

    Spelling each path out in full made explain() quadratic in memory on a long chain of unnamed
    ops (a 20,000-op chain took 1.6 GB): a path keeps its first ops, its last op and its length,
    and reads "Sin→Mul→Sin→…(9,994 more)…→Mul"; merged paths keep at most three alternatives.
    """

    __slots__ = ("head", "last", "n", "others")
    HEAD = 6

    def __init__(self, op, rest=None):
        if rest is None:
            self.head, self.last, self.n = (op,), op, 1
        else:
            self.head, self.last, self.n = ((op,) + rest.head)[: self.HEAD], rest.last, rest.n + 1
        self.others = () if rest is None else rest.others

    def _own(self):
        if self.n <= self.HEAD:
            return "→".join(self.head)
        if self.n == self.HEAD + 1:
            return "→".join(self.head + (self.last,))
        return "→".join(self.head[:3]) + f"→…({self.n - 4:,} more)…→" + self.last

    def merge(self, other):
        """Both paths (the text "a, b"), as the old strings joined them; at most three kept."""
        texts = [self._own(), *self.others]
        for t in (other._own(), *other.others):
            if t not in texts:
                texts.append(t)
        if len(texts) > 3:
            texts = texts[:3] + ["…"]
        merged = _Path.__new__(_Path)
        merged.head, merged.last, merged.n = self.head, self.last, self.n
        merged.others = tuple(texts[1:])
        return merged

    def __str__(self):
        return ", ".join((self._own(), *self.others))


def _edges_to(e, v, consumers, name_of, root_node, root_name, reach):
    """e's direct consumer edges on a path to named `v`: v itself, or an unnamed node that reaches v."""
    for node, i in consumers.get(id(e), ()):
        nm = name_of(node) if node is not root_node else root_name
        if nm == v or (not nm and v in reach.get(id(node), {})):
            yield node, i, nm


def _inseparable(e, reach, consumers, name_of, root_node, root_name):
    """The named tensors that e reaches through a non-elementwise op by way of an unnamed node that also
    leads elsewhere (W @ x feeding both tanh and exp): the recorded VJP of that node is their sum, which no
    record splits, so they get one term together. Empty in the usual case."""
    out = []
    for v, (partial, _op) in reach[id(e)].items():
        if partial is None and any(
            not nm and len(reach.get(id(node), {})) > 1
            for node, _i, nm in _edges_to(e, v, consumers, name_of, root_node, root_name, reach)
        ):
            out.append(v)
    return tuple(out)


def _contribution_via_edges(e, v, consumers, name_of, root_node, root_name, reach):
    """The recorded gradient reaching `e` through paths to named `v` that cross a non-elementwise op:
    the VJPs of e's direct consumers on a path to v (exact when those lead to v alone, see _inseparable)."""
    total = None
    for node, i, _nm in _edges_to(e, v, consumers, name_of, root_node, root_name, reach):
        gi = _records[node].grad_inputs[i]
        if gi is not None:
            total = gi.copy() if total is None else total + gi
    return total


explain.recording = recording
explain.start_recording = start_recording
explain.stop_recording = stop_recording
explain.Explanation = Explanation


def _tensor_explain(self: Tensor, names: dict[str, Tensor] | None = None) -> Explanation:
    """Tensor.explain(): chainrule.explain(self) (see chainrule.explain)."""
    return explain(self, names)


def _attach():
    from .tensor import Tensor

    Tensor.explain = _tensor_explain


_attach()
