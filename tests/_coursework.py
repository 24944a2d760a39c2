"""The coursework's u1..u5 graph, shared by the explain, drawing and explorer tests.

L = (u5 - u1 - u2 - u3 - u4)^2 with u3 = u1 u2, u4 = u1 + u2, u5 = 2 u3 u4 at u1 = 3, u2 = 4:
dL/du1 = 21016 and dL/du2 = 17324.
"""

import chainrule as cr


def u_problem(dtype=None):
    """(L, (u1, u2, u3, u4, u5)), every tensor named as in the coursework; nothing run backward yet."""
    u1 = cr.tensor(3.0, requires_grad=True, dtype=dtype, name="u1")
    u2 = cr.tensor(4.0, requires_grad=True, dtype=dtype, name="u2")
    u3 = u1 * u2
    u3.name = "u3"
    u4 = u1 + u2
    u4.name = "u4"
    u5 = 2 * u3 * u4
    u5.name = "u5"
    L = (u5 - u1 - u2 - u3 - u4) ** 2
    L.name = "L"
    return L, (u1, u2, u3, u4, u5)
