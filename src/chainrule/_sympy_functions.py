"""SymPy functions for chainrule ops that SymPy has no exact form of. Imported only where SymPy is used.

relu(u) is not SymPy's Max(u, 0): Max(u, 0) is also `maximum(u, 0)`, whose slope at the tie
chainrule (like torch) takes as 1/2, while relu's slope at 0 is 0. A function of its own keeps the
two apart, and prints as the learner wrote it.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> sp.diff(relu(x), x)
    Heaviside(x, 0)
    >>> relu(-2), relu(3), relu(x).rewrite(sp.Max)
    (0, 3, Max(0, x))
"""

from __future__ import annotations

import sympy as sp


class relu(sp.Function):  # noqa: N801 (SymPy prints the class name: relu(x))
    """relu(u) = max(u, 0).   d relu/du = Heaviside(u, 0): 1 for u > 0, 0 for u <= 0 (relu'(0) = 0)."""

    @classmethod
    def eval(cls, u):
        if u.is_extended_nonnegative:
            return u
        if u.is_extended_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return sp.Heaviside(self.args[0], 0)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_is_extended_nonnegative(self):
        return True if self.args[0].is_extended_real else None

    def _eval_rewrite_as_Max(self, u, **kwargs):
        return sp.Max(u, 0)

    def _eval_rewrite_as_Piecewise(self, u, **kwargs):
        return sp.Piecewise((u, u > 0), (0, True))

    def _eval_rewrite_as_Heaviside(self, u, **kwargs):
        return u * sp.Heaviside(u, 0)
