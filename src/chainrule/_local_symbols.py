"""Local partials in symbols for `chainrule.explain`: ∂u5/∂u3 = 2*u4.

The output of a named tensor v is written as a SymPy expression of the named tensors
it reads (unnamed intermediates inlined, constants as their values, from a small
table of primitives); its derivative by a named u is the local partial that explain
also gives in numbers. Anything outside the table (a matmul, a reduction, an unnamed
leaf), or a path too long to be worth reading, leaves the partial as numbers only.
SymPy (the `symbolic` extra) is imported only when explain() is printed.
"""

from __future__ import annotations

MAX_OPS = 40  # expressions inlining more ops than this are not shown as symbols


def _table(sp):
    from ._sympy_functions import relu

    return {
        "Add": lambda a, b: a + b,
        "Sub": lambda a, b: a - b,
        "Mul": lambda a, b: a * b,
        "Div": lambda a, b: a / b,
        "Pow": lambda a, b: a**b,
        "Neg": lambda a: -a,
        "Exp": sp.exp,
        "Log": sp.log,
        "Sqrt": sp.sqrt,
        "Abs": sp.Abs,
        "Sin": sp.sin,
        "Cos": sp.cos,
        "Tanh": sp.tanh,
        "Sigmoid": lambda a: 1 / (1 + sp.exp(-a)),
        "Relu": relu,
        "Clone": lambda a: a,
    }


class LocalSymbols:
    """Symbolic local partials ∂v/∂u between named tensors, or None where none can be given.

    Args:
        name_of: entity (node or leaf tensor) -> its name, or None.
        constants_of: node -> per input, the constant's value or None.
    """

    def __init__(self, name_of, constants_of):
        self.name_of, self.constants_of = name_of, constants_of
        try:
            import sympy
        except ImportError:  # the symbolic extra is not installed: numbers only
            self.sp = None
            return
        self.sp, self.ops = sympy, _table(sympy)

    def _expr(self, node):
        """v's output in terms of the named tensors it reads; None outside the table."""
        from .tensor import Tensor

        sp, budget = self.sp, [MAX_OPS]

        def walk(entity, top):
            if isinstance(entity, Tensor):
                name = self.name_of(entity)
                return None if name is None else sp.Symbol(name, real=True)
            if not top:
                name = self.name_of(entity)
                if name is not None:
                    return sp.Symbol(name, real=True)
            fn = self.ops.get(entity.op_name)
            budget[0] -= 1
            if fn is None or budget[0] < 0:
                return None
            constants = self.constants_of(entity)
            args = []
            for i, edge in enumerate(entity.next):
                if edge is None:
                    c = constants[i] if i < len(constants) else None
                    if c is None or c.size != 1:
                        return None
                    arg = sp.nsimplify(c.item()) if float(c.item()).is_integer() else sp.Float(c.item(), 6)
                else:
                    arg = walk(edge, False)
                    if arg is None:
                        return None
                args.append(arg)
            return fn(*args)

        return walk(node, True)

    def partial(self, v_node, u_name, cache, latex=False):
        """∂v/∂u as text (SymPy's spelling: 2*u4; LaTeX with latex=True), or None."""
        if self.sp is None or v_node is None:
            return None
        if id(v_node) not in cache:
            cache[id(v_node)] = self._expr(v_node)
        expr = cache[id(v_node)]
        if expr is None:
            return None
        # Real symbols (the tensors are real): d|u|/du = sign(u), not (re(u) Derivative(re(u), u) + ...)/u.
        d = self.sp.diff(expr, self.sp.Symbol(u_name, real=True))
        if d == 0:
            return None
        try:  # the shortest of as-derived and factored: 2*(u1 + u2 - u5), not 2*u1 + 2*u2 - 2*u5
            d = min((d, self.sp.factor(d)), key=lambda e: len(str(e)))
        except Exception:  # factor() refuses some expressions (Max, Piecewise)
            pass
        return self.sp.latex(d) if latex else str(d)
