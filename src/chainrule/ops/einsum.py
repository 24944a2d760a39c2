"""einsum: Einstein summation over any subscripts, as torch.einsum, with its backward and forward
rules written as einsums themselves.

The public `einsum` reads the equation (implicit or explicit output, "...", repeated indices,
broadcasting of size-1 dimensions) and checks it against the operands' shapes, as PyTorch does;
it then hands the `Einsum` primitive a canonical equation that NumPy runs without broadcasting:
"..." is spelled out as letters, and a dimension of size 1 that broadcasts against a larger one
gets a letter of its own (x[0] is then used for every index, which is what broadcasting means).

On that canonical form the rules are short. The output is linear in each operand, so

    out[O] = sum over the other indices of  prod_j X_j[S_j]
    dL/dX_k[S_k] = einsum(g[O], X_j[S_j] for j != k  ->  S_k)
    d out = sum_k einsum(X_1, ..., dX_k, ..., X_n)            (jvp)

with two repairs to the VJP, both made with constant operands of the same einsum:
  - an index repeated within X_k (a diagonal, "ii->i"): each repeat is renamed and an identity
    matrix eye[i, i'] joins, so the gradient lands on the diagonal and is zero elsewhere;
  - an index of X_k that appears nowhere else (summed away, "ij->i"): a vector of ones over it
    joins, so the gradient is broadcast back along it.
Since the VJP calls the same primitive, a backward with create_graph=True records it, and second
order (and forward-over-reverse) come for free.

Forward: one operand runs NumPy's einsum; two operands a batched matmul when the contraction is
large enough for BLAS to pay (np.einsum's own loop below that); three or more pairwise in the order
np.einsum(optimize=True) picks, each pair by the same two-operand route. Routes are planned once per
equation and shapes and cached.

NOTE: a little over 500 lines: reading PyTorch's equations with its errors, the contraction routes
and the primitive are one piece (the routes and the rules share the canonical form).
"""

from __future__ import annotations

import functools
import math
import string
from typing import TYPE_CHECKING, Any

import numpy as np

from ..autograd.primitive import Primitive, export
from ._util import is_tensor

if TYPE_CHECKING:
    from .._typing import Tensor, TensorLike

_LETTERS = string.ascii_letters  # NumPy's einsum takes these 52 subscripts
_SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_ELLIPSIS = object()
# Below this many multiply-adds, np.einsum's C loop beats the transposes around a matmul.
_MATMUL_MIN_WORK = 4096
_CACHE_MAX = 1024  # entries in each of the caches below (parsed equations, plans, VJP equations)


def _error(message):
    return RuntimeError(f"einsum: {message}")


# ----- reading the equation -----


def _tokens(equation):
    """([operand subscripts, ...], output subscripts or None): each a list of letters and _ELLIPSIS."""
    terms, current, output, i = [], [], None, 0
    n = len(equation)
    while i < n:
        c = equation[i]
        where = "the output" if output is not None else f"operand {len(terms)}"
        if c in _LETTERS:
            current.append(c)
        elif c == "." and equation[i : i + 3] == "...":
            if _ELLIPSIS in current:
                raise _error(
                    f"found more than one ellipsis ('...') in {where} of equation {equation!r}; each operand "
                    "may have at most one"
                )
            current.append(_ELLIPSIS)
            i += 2
        elif c == ".":
            raise _error(
                f"found '.' for {where} that is not part "
                f"of any ellipsis in equation {equation!r}; write '...' (three dots) for the broadcast dimensions"
            )
        elif c == ",":
            if output is not None:
                raise _error(f"found ',' after '->' in equation {equation!r}; the output is one list of subscripts")
            terms.append(current)
            current = []
        elif c == "-" and equation[i : i + 2] == "->":
            if output is not None:
                raise _error(f"found more than one '->' in equation {equation!r}")
            terms.append(current)
            current = output = []
            i += 1
        elif not c.isspace():
            raise _error(
                f"invalid subscript given at index {i} in the equation string {equation!r}, subscripts must be "
                "in [a-zA-Z]"
            )
        i += 1
    if output is None:
        terms.append(current)
    return terms, output


def _sublist_equation(args):
    """torch.einsum(op0, [0, 1], op1, [1, 2], [0, 2]) -> ("AB,BC->AC", (op0, op1)); 0-25 are A-Z and
    26-51 a-z, so the implicit output's alphabetical order is the integers' order."""

    def letters(sub):
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, np.integer)) and 0 <= s < 52:
                out.append(_SUBLIST_LETTERS[s])
            else:
                raise _error(f"subscripts in the sublist format must be integers in [0, 52) or Ellipsis, got {s!r}")
        return "".join(out)

    explicit = len(args) % 2  # an odd count: the last list is the output
    equation = ",".join(letters(s) for s in args[1 : len(args) - explicit : 2])
    if explicit:
        equation += "->" + letters(args[-1])
    return equation, args[0 : len(args) - explicit : 2]


@functools.lru_cache(maxsize=_CACHE_MAX)
def _canonical(equation, shapes):
    """Check `equation` against the operands' shapes (PyTorch's rules) and return
    (canonical equation, output shape): "..." spelled out, broadcast size-1 dims given letters of their own.
    """
    terms, output = _tokens(equation)
    if len(terms) > len(shapes):
        raise _error(
            f"fewer operands were provided than specified in the equation {equation!r}: it names {len(terms)}, "
            f"got {len(shapes)} of shapes {list(shapes)}; pass one tensor per comma-separated term"
        )
    if len(terms) < len(shapes):
        raise _error(
            f"more operands were provided than specified in the equation {equation!r}: it names {len(terms)}, "
            f"got {len(shapes)} of shapes {list(shapes)}; add a term per tensor, or drop the extra tensors"
        )
    # How many dimensions each operand's "..." covers; the ellipsis dims broadcast right-aligned.
    covered = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - (_ELLIPSIS in term)
        if _ELLIPSIS not in term and named != len(shape):
            raise _error(
                f"the number of subscripts in the equation ({named}) does not match the number of dimensions "
                f"({len(shape)}) for operand {k} (shape {tuple(shape)}) and no ellipsis was given; write one "
                f"subscript per dimension, or '...' for the leading ones"
            )
        if named > len(shape):
            raise _error(
                f"the number of subscripts in the equation ({named}) is more than the number of dimensions "
                f"({len(shape)}) for operand {k} (shape {tuple(shape)})"
            )
        covered.append(len(shape) - named if _ELLIPSIS in term else 0)
    n_ell = max(covered, default=0)
    used = {c for term in terms for c in term if c is not _ELLIPSIS} | {c for c in output or () if c is not _ELLIPSIS}
    spare = iter(c for c in _LETTERS if c not in used)

    def fresh():
        letter = next(spare, None)
        if letter is None:
            raise _error(
                f"equation {equation!r} with shapes {list(shapes)} needs more than 52 distinct subscripts "
                "(ellipsis and broadcast dimensions included), NumPy's limit; reshape the operands to fewer dimensions"
            )
        return letter

    ell = [fresh() for _ in range(n_ell)]
    sizes = {}
    expanded = []  # per operand, one letter per dimension
    for k, (term, shape, m) in enumerate(zip(terms, shapes, covered)):
        labels = []
        for c in term:
            labels.extend(ell[n_ell - m :] if c is _ELLIPSIS else [c])
        own = {}
        for c, s in zip(labels, shape):
            if c in own and own[c] != s:
                raise _error(
                    f"subscript {c} is repeated for operand {k} (shape {tuple(shape)}) but the sizes don't match, "
                    f"{s} != {own[c]}; a repeated subscript takes a diagonal, which needs equal sizes"
                )
            own[c] = s
        for d, (c, s) in enumerate(zip(labels, shape)):
            prev = sizes.get(c)
            if prev is not None and s != 1 and prev != 1 and s != prev:
                if c in ell:
                    raise _error(
                        f"dimension {d} covered by ellipsis in operand {k} (shape {tuple(shape)}) has size {s} which "
                        f"does not broadcast with previously seen ellipsis with size {prev} for the respective "
                        f"dimension (shapes {list(shapes)}); sizes must be equal or 1"
                    )
                raise _error(
                    f"subscript {c} has size {s} for operand {k} (shape {tuple(shape)}) which does not broadcast with "
                    f"previously seen size {prev} (shapes {list(shapes)}); sizes of one subscript must be equal or 1"
                )
            sizes[c] = s if prev is None or prev == 1 else prev
        expanded.append(labels)
    if output is None:
        counts = {}
        for labels in expanded:
            for c in labels:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    else:
        out = []
        for c in output:
            if c is _ELLIPSIS:
                out.extend(ell)
            elif c in out:
                raise _error(f"output subscript {c} appears more than once in the output of {equation!r}")
            elif c not in sizes:
                raise _error(
                    f"output subscript {c} does not appear in the equation {equation!r} for any input operand; "
                    "every output subscript must index some input"
                )
            else:
                out.append(c)
    # A size-1 dimension against a larger size of the same subscript gets a letter of its own, summed
    # over its single element: x[0] used for every index, which is broadcasting.
    for k, labels in enumerate(expanded):
        renamed = {}
        for d, c in enumerate(labels):
            if shapes[k][d] == 1 and sizes[c] != 1:
                labels[d] = renamed.get(c) or renamed.setdefault(c, fresh())
    spec = ",".join("".join(labels) for labels in expanded) + "->" + "".join(out)
    return spec, tuple(sizes[c] for c in out)


# ----- running a canonical equation -----


@functools.lru_cache(maxsize=_CACHE_MAX)
def _make_plan(spec, shapes):
    """A function of the arrays that computes `spec` for operands of `shapes` (cached per spec and shapes)."""
    lhs, out = spec.split("->")
    terms = lhs.split(",")
    if len(terms) == 1:

        def single(x):
            r = np.einsum(spec, x)
            # np.einsum returns views for transposes and diagonals; a result never aliases its input here.
            return r.copy() if np.may_share_memory(r, x) else r

        return single
    if len(terms) == 2:
        return _pair_plan(spec, terms[0], terms[1], out, shapes)
    return _chain_plan(terms, out, shapes)


@functools.lru_cache(maxsize=_CACHE_MAX)
def _chain_steps(spec, shapes):
    """Three or more operands, pairwise, in the order np.einsum(optimize=True) picks (its greedy
    path): [(positions, step spec)], each step popping the operands at `positions` (descending)
    and appending its result, as np.einsum does. A pair's result subscripts are in the matmul's
    own order (batch, rows, columns), so no transpose follows."""
    lhs, out = spec.split("->")
    terms = lhs.split(",")
    sizes = {c: n for term, shape in zip(terms, shapes) for c, n in zip(term, shape)}
    path = np.einsum_path(spec, *[np.empty(s, dtype=np.uint8) for s in shapes], optimize="greedy")[0][1:]
    steps = []
    for positions in path:
        positions = tuple(sorted(positions, reverse=True))
        picked = [terms.pop(i) for i in positions]
        if not terms:
            result = out
        else:
            rest = set("".join(terms) + out)
            result = "".join(dict.fromkeys(c for term in picked for c in term if c in rest))
            if len(picked) == 2:
                result = _matmul_order(*picked, result, sizes)
        steps.append((positions, ",".join(picked) + "->" + result))
        terms.append(result)
    return tuple(steps)


def _plain_matmul(step):
    """A pair with no subscript in both operands and the result (no batch dimension)."""
    _, spec = step
    lhs, out = spec.split("->")
    terms = lhs.split(",")
    return len(terms) == 2 and not set(terms[0]) & set(terms[1]) & set(out)


def _chain_plan(terms, out, shapes):
    """Three or more operands on arrays: `_chain_steps`, each pair by `_pair_plan`. np.einsum itself
    runs a pair that shares a kept subscript (a batch dimension) through its own loop; the batched
    matmul does it with BLAS."""
    steps = []
    operand_shapes = list(shapes)
    for positions, step in _chain_steps(",".join(terms) + "->" + out, shapes):
        step_shapes = tuple(operand_shapes.pop(i) for i in positions)
        picked, result = step.split("->")
        picked = picked.split(",")
        sizes = {c: n for term, shape in zip(picked, step_shapes) for c, n in zip(term, shape)}
        if len(picked) == 2:
            run = _pair_plan(step, picked[0], picked[1], result, step_shapes)
        else:
            run = functools.partial(np.einsum, step)
        steps.append((positions, run))
        operand_shapes.append(tuple(sizes[c] for c in result))

    def chain(*xs):
        xs = list(xs)
        for positions, run in steps:
            xs.append(run(*[xs.pop(i) for i in positions]))
        return xs[0]

    return chain


def _layout(a, b, kept, sizes):
    """How `_pair_plan` lays out a pair: (swapped, batch, left, inner, right), the subscripts of the
    batched matmul (B, L, K) @ (B, K, R), each group in its operand's own order (fewer copies).
    The larger side goes first (swapped: b is the left operand): BLAS runs (m, k) @ (k, n) much
    faster with m the large side (OpenBLAS: up to 5x for 64 x 2048)."""
    a, b = "".join(dict.fromkeys(a)), "".join(dict.fromkeys(b))  # a repeated subscript once
    left = [c for c in a if c not in b and c in kept]
    right = [c for c in b if c not in a and c in kept]
    if math.prod(sizes[c] for c in right) > math.prod(sizes[c] for c in left):
        return (True,) + _layout(b, a, kept, sizes)[1:]
    batch = [c for c in a if c in b and c in kept]
    inner = [c for c in a if c in b and c not in kept]
    return False, batch, left, inner, right


def _matmul_order(a, b, kept, sizes):
    """The order `_pair_plan` produces the subscripts `kept` of a pair in without a transpose."""
    _, batch, left, _, right = _layout(a, b, kept, sizes)
    return "".join(batch + left + right)


def _operand_layout(term, batch, first, second, shape):
    """(transpose, reshape, swap) that bring an operand with subscripts `term` (one-operand subscripts
    already summed away) to the matrix stack (batch, first, second): directly, or as the transpose of
    (batch, second, first) when that needs no copy (BLAS reads a transposed matrix as it is)."""
    for rows, cols, swap in ((first, second, False), (second, first, True)):
        perm = tuple(term.index(c) for c in batch + rows + cols)
        if perm == tuple(range(len(term))):
            return None, (shape(batch), shape(rows), shape(cols)), swap
    perm = tuple(term.index(c) for c in batch + first + second)
    return perm, (shape(batch), shape(first), shape(second)), False


def _pair_plan(spec, a, b, out, shapes):
    """Two operands as one batched matmul (B, L, K) @ (B, K, R) when that pays, else np.einsum."""
    sizes = {c: n for term, shape in zip((a, b), shapes) for c, n in zip(term, shape)}
    work = math.prod(sizes.values())
    if work < _MATMUL_MIN_WORK or len(set(a)) < len(a) or len(set(b)) < len(b):
        return lambda x, y: np.einsum(spec, x, y)
    swapped, batch, left, inner, right = _layout(a, b, out, sizes)
    if swapped:
        plan = _pair_plan(spec, b, a, out, shapes[::-1])
        return lambda x, y: plan(y, x)
    # Subscripts of one operand only and not in the output are summed away first.
    a_sum = tuple(i for i, c in enumerate(a) if c not in b and c not in out)
    b_sum = tuple(i for i, c in enumerate(b) if c not in a and c not in out)
    a_kept = "".join(c for c in a if c in b or c in out)
    b_kept = "".join(c for c in b if c in a or c in out)

    def n(cs):
        return math.prod(sizes[c] for c in cs)

    a_perm, a_shape, a_swap = _operand_layout(a_kept, batch, left, inner, n)
    b_perm, b_shape, b_swap = _operand_layout(b_kept, batch, inner, right, n)
    # Nothing contracted (an outer product per batch): a broadcast multiply, not a matmul with k = 1.
    product = np.matmul if inner else np.multiply
    mid = batch + left + right
    mid_shape = tuple(sizes[c] for c in mid)
    out_perm = tuple(mid.index(c) for c in out)
    out_id = out_perm == tuple(range(len(out_perm)))

    def pair(x, y):
        if a_sum:
            x = x.sum(axis=a_sum)
        if b_sum:
            y = y.sum(axis=b_sum)
        x = (x if a_perm is None else x.transpose(a_perm)).reshape(a_shape)
        y = (y if b_perm is None else y.transpose(b_perm)).reshape(b_shape)
        r = product(x.swapaxes(1, 2) if a_swap else x, y.swapaxes(1, 2) if b_swap else y).reshape(mid_shape)
        return r if out_id else np.ascontiguousarray(r.transpose(out_perm))

    return pair


# ----- the backward rule's equations -----


@functools.lru_cache(maxsize=_CACHE_MAX)
def _vjp_spec(spec, k):
    """(equation, other operand positions, constants) for the gradient of operand k of `spec`.

    The equation's operands are g, then the other operands, then the constants: ("eye", i) for
    an identity over a repeated subscript's size, ("ones", d) for a vector of ones over dimension
    d of operand k (a subscript that appears nowhere else).
    """
    lhs, out = spec.split("->")
    terms = lhs.split(",")
    target = terms[k]
    others = [j for j in range(len(terms)) if j != k]
    used = set(spec)
    spare = iter(c for c in _LETTERS if c not in used)
    inputs = [out] + [terms[j] for j in others]
    constants = []
    labels = []
    for d, c in enumerate(target):
        if c in labels:  # a repeat: its own letter, tied to the first by an identity matrix
            r = next(spare, None)
            if r is None:
                raise _error(f"the gradient of {spec!r} needs more than 52 distinct subscripts, NumPy's limit")
            inputs.append(c + r)
            constants.append(("eye", d))
            labels.append(r)
        else:
            labels.append(c)
    present = set("".join(inputs))
    for d, c in enumerate(labels):
        if c not in present:
            inputs.append(c)
            constants.append(("ones", d))
    return ",".join(inputs) + "->" + "".join(labels), tuple(others), tuple(constants)


# ----- the primitive -----


class Einsum(Primitive):
    """out = einsum(spec, *operands) for a canonical spec (explicit output, letters only, no broadcasting).

    The output is linear in each operand X_k, so
        dL/dX_k = einsum(g, X_j for j != k -> S_k)      (identity matrices for repeated subscripts of
                                                         X_k, ones for subscripts of X_k alone)
        jvp:  sum_k einsum(spec, X_1, ..., T_k, ..., X_n)
    Both call this primitive again, so they are differentiable.
    The public function is `einsum`, which turns any torch-style equation into this form.
    """

    @staticmethod
    def forward(ctx, *xs, spec=None):
        shapes = tuple([np.shape(x) for x in xs])
        needs = ctx.needs_input_grad
        if needs:  # a node is recorded: what backward and jvp read
            ctx.shapes = shapes
            ctx.equation = spec
            # Operand j is read by the gradient of every other operand (and by the jvp terms of those).
            wanted = sum(needs[: len(xs)])
            ctx.save_for_backward(*[x if wanted - needs[j] > 0 else None for j, x in enumerate(xs)])
        with np.errstate(invalid="ignore", over="ignore"):  # IEEE results, no warning (matmul's inf - inf)
            return _make_plan(spec, shapes)(*xs)

    @staticmethod
    def backward(ctx, g):
        spec = ctx.equation
        saved = ctx.saved_tensors
        shapes = ctx.shapes
        dtype = getattr(g, "_data", g).dtype
        grads = []
        for k, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            equation, others, constants = _vjp_spec(spec, k)
            extra = [
                np.eye(shapes[k][d], dtype=dtype) if kind == "eye" else np.ones(shapes[k][d], dtype=dtype)
                for kind, d in constants
            ]
            grads.append(Einsum.apply(g, *[saved[j] for j in others], *extra, spec=equation))
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        saved = ctx.saved_tensors
        total = None
        for k, t in enumerate(tangents):
            if t is None:
                continue
            term = Einsum.apply(*[t if j == k else x for j, x in enumerate(saved)], spec=ctx.equation)
            total = term if total is None else total + term
        return total


@export(Einsum)
def einsum(equation: str | TensorLike, *operands: Any) -> Tensor:
    """Einstein summation, as torch.einsum: out[output subscripts] = sum over the other subscripts of the
    product of the operands, each indexed by its subscripts.

        einsum("ij,jk->ik", A, B)        matrix product        einsum("ii", A)       trace
        einsum("bij,bjk->bik", A, B)     batched matmul        einsum("ii->i", A)    diagonal
        einsum("i,j->ij", u, v)          outer product         einsum("ij->ji", A)   transpose
        einsum("...ij,...jk", A, B)      "..." broadcasts      einsum("bn,anm,bm->ba", x, W, y)  bilinear

    Without "->" the output holds the subscripts that appear once, in alphabetical order (upper case
    first), after the "..." dimensions. Dimensions of size 1 broadcast, as in PyTorch. Also accepts
    the operands as one list (einsum("ij,jk", [A, B])) and PyTorch's sublist format
    (einsum(A, [0, 1], B, [1, 2], [0, 2])).

    Gradients: dL/dX_k is the einsum of the upstream gradient with the other operands (see Einsum);
    second order works. Unlike torch.einsum, the result is never a view of an operand.

    Example:
        >>> A = chainrule.randn(2, 3, requires_grad=True); B = chainrule.randn(3, 4)
        >>> chainrule.einsum("ij,jk->ik", A, B).sum().backward()   # A.grad = ones(2, 4) @ B.T
    """
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    datas = [x._data if is_tensor(x) else np.asarray(x) for x in operands]
    shapes = tuple([d.shape for d in datas])
    if len(datas) > 1 and any(d.dtype != datas[0].dtype for d in datas):
        shown = ", ".join(f"{d.dtype} (shape {d.shape})" for d in datas)
        raise _error(
            f"expected all operands to have the same dtype, got {shown}; PyTorch does not promote in einsum: "
            "convert first, e.g. b.to(a.dtype)"
        )
    spec = _canonical(equation, shapes)[0]
    args = operands if all(map(is_tensor, operands)) else [x if is_tensor(x) else d for x, d in zip(operands, datas)]
    subscripts, output = spec.split("->")
    if len(datas) == 1 and datas[0].dtype.kind in "biu" and set(subscripts) - set(output):
        # one integer operand summed over a subscript is torch's sum: in int64 (uint8 "i->" of [200, 100]
        # would wrap to 44); products of several operands keep their dtype, as torch's
        from .elementwise import cast

        args = [cast(args[0], np.int64)]
    steps = _chain_steps(spec, shapes) if len(args) > 2 else None
    if steps is None or not all(map(_plain_matmul, steps)):
        return Einsum.apply(*args, spec=spec)
    # A chain of plain matrix products: one node per pairwise step, so that backward reuses the
    # intermediate results (each gradient a pairwise einsum, about twice the forward's work in all,
    # as for a chain of matmuls) instead of contracting all the other operands again for each one.
    # A step with a batch subscript stays inside one node: its pairwise gradients are many small
    # batched products (bn,anm,bm->ba: 1.4x slower as a chain, measured).
    xs = list(args)
    for positions, step in steps:
        xs.append(Einsum.apply(*[xs.pop(i) for i in positions], spec=step))
    return xs[0]
