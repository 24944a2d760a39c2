"""Making the math visible: computational graphs, plots, and the recorder of backward passes.

    draw_graph(t)        graphviz.Digraph: renders in Jupyter, .source is DOT, save="g.svg"
    to_dot(t)            DOT text, no graphviz needed
    text_graph(t)        the graph as text for terminals (print_graph prints it)
    trace()              context manager: record backward passes so intermediates show gradients
    explore(t)           an interactive HTML explorer of the forward and backward pass (t.explore())
    trace_table(f, *x)   evaluation traces: primal, tangent and adjoint rows (text, Markdown, LaTeX, HTML)
    plot_function, plot_history, plot_gradient_flow   matplotlib figures (chainrule.viz.plots)

Nothing heavy is imported here: graphviz and matplotlib load when first used.
"""

from .explore import explore
from .graph import draw_graph, print_graph, save_graph, text_graph, to_dot
from .trace_table import trace_table


def trace():
    """Record the backward passes run inside the block (per-node gradients, values, local partials).

    Afterwards draw_graph / text_graph show the gradient of every intermediate, and
    chainrule.explain can spell out the chain rule. Same as chainrule.explain.recording().

    Example:
        >>> with chainrule.viz.trace():
        ...     loss.backward()
        >>> chainrule.viz.print_graph(loss)
    """
    from ..explain import recording

    return recording()


def __getattr__(name):
    # The plotting helpers import matplotlib only when called, but keep even their module lazy.
    if name in ("plot_function", "plot_history", "plot_gradient_flow", "plots"):
        import importlib

        plots = importlib.import_module(".plots", __name__)
        return plots if name == "plots" else getattr(plots, name)
    raise AttributeError(f"module 'chainrule.viz' has no attribute {name!r}")


__all__ = [
    "draw_graph",
    "explore",
    "plot_function",
    "plot_gradient_flow",
    "plot_history",
    "print_graph",
    "save_graph",
    "text_graph",
    "to_dot",
    "trace",
    "trace_table",
]
