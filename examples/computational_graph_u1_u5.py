"""L = (u5 - u1 - u2 - u3 - u4)^2 with u3 = u1 u2, u4 = u1 + u2, u5 = 2 u3 u4, at u1 = 3, u2 = 4.

Every dL/du_i in terms of local partials, then with numbers (chainrule.explain), and the graph drawn.
By hand: e = u5 - u1 - u2 - u3 - u4 = 168 - 3 - 4 - 12 - 7 = 142, dL/de = 2e = 284;
dL/du5 = 284; dL/du4 = dL/du5 * 2u3 - 284 = 6532; dL/du3 = dL/du5 * 2u4 - 284 = 3692;
dL/du2 = dL/du3 * u1 + dL/du4 * 1 - 284 = 17324; dL/du1 = dL/du3 * u2 + dL/du4 * 1 - 284 = 21016.
"""

import os
import shutil

import chainrule as cr


def build():
    u1 = cr.tensor(3.0, requires_grad=True, dtype=cr.float64, name="u1")
    u2 = cr.tensor(4.0, requires_grad=True, dtype=cr.float64, name="u2")
    u3 = u1 * u2
    u3.name = "u3"
    u4 = u1 + u2
    u4.name = "u4"
    u5 = 2 * u3 * u4
    u5.name = "u5"
    L = (u5 - u1 - u2 - u3 - u4) ** 2
    L.name = "L"
    return L, (u1, u2, u3, u4, u5)


def main(out_dir="."):
    L, us = build()
    explanation = cr.explain(L)  # runs the backward pass, recorded
    print(explanation)
    print()
    cr.viz.print_graph(L)
    path = os.path.join(out_dir, "u1_u5_graph.svg" if shutil.which("dot") else "u1_u5_graph.dot")
    cr.viz.save_graph(cr.viz.draw_graph(L), path)
    print("graph saved to", path)
    return {"L": L.item(), "grads": explanation.grads(), "explanation": explanation, "path": path}


if __name__ == "__main__":
    main()
