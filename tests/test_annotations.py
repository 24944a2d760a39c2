"""The public API carries type hints: every public function, class and method of the modules listed
here annotates each parameter and its return.

The package ships a `py.typed` marker (PEP 561), so type checkers read these hints. Add a module to
ANNOTATED once its public API is annotated. Names re-exported from another module are checked
where they are defined, and a public class is checked with the methods it inherits from private
bases in the same module.
"""

import importlib
import inspect
from pathlib import Path

import pytest

import chainrule
from chainrule.autograd.primitive import Primitive

ANNOTATED = [
    "chainrule.nn.activation",
    "chainrule.nn.container",
    "chainrule.nn.conv",
    "chainrule.nn.dropout",
    "chainrule.nn.embedding",
    "chainrule.nn.functional",
    "chainrule.nn.init",
    "chainrule.nn.linear",
    "chainrule.nn.loss",
    "chainrule.nn.module",
    "chainrule.nn.normalization",
    "chainrule.nn.pooling",
    "chainrule.nn.recurrent",
    "chainrule.nn.upsampling",
    "chainrule.nn.utils",
    "chainrule.optim.adagrad",
    "chainrule.optim.adam",
    "chainrule.optim.lr_scheduler",
    "chainrule.optim.optimizer",
    "chainrule.optim.rmsprop",
    "chainrule.optim.sgd",
    "chainrule.data.builtin",
    "chainrule.data.dataset",
    "chainrule.data.subset",
    "chainrule.creation",
    "chainrule.generator",
    "chainrule.diagnostics",
    "chainrule.autograd.functional",
    "chainrule.autograd.gradcheck",
    "chainrule.viz.graph",
    "chainrule.viz.plots",
    "chainrule.utils.data",
    "chainrule.tensor",
    "chainrule.ops.unary",
    "chainrule.ops.binary",
    "chainrule.ops.compare",
    "chainrule.ops.promotion",
    "chainrule.ops.views",
    "chainrule.ops.joining",
    "chainrule.ops.indexing",
    "chainrule.ops.scatter",
    "chainrule.ops.reduce",
    "chainrule.ops.linalg",
    "chainrule.ops.nn",
    "chainrule.ops.conv",
    "chainrule.ops.resample",
    "chainrule.ops.interpolate",
    "chainrule.ops.einsum",
    "chainrule.ops.triangular",
    "chainrule.io",
    "chainrule.train",
    "chainrule.explain",
    "chainrule.symbolic",
    "chainrule.autograd.jit.api",
    "chainrule.models.mnist1d",
    "chainrule.data.readers",
    "chainrule.autograd.engine",
    "chainrule.autograd.grad_mode",
    "chainrule._dtypes",
    "chainrule.nn.transformer",
    "chainrule.nn.attention",
    "chainrule.ops.rnn",
    "chainrule.ops.rnn_higher",
    "chainrule.autograd.pytree",
]

# Methods a class may leave unannotated: the dunders Python calls (`__len__`, `__getitem__`, ...)
# read as the protocol they implement. `__init__` and `__call__` are checked.
CHECKED_DUNDERS = {"__init__", "__call__"}


def _functions(module):
    """(qualified name, function) for each public callable defined in `module`.

    A primitive's class is skipped: its forward/backward/jvp are called by the engine with arrays,
    not by users; the function that applies it (`chainrule.tanh`, ...) is what is checked.
    """
    name = module.__name__
    for attr, value in sorted(vars(module).items()):
        if attr.startswith("_") or getattr(value, "__module__", None) != name:
            continue
        if inspect.isclass(value) and issubclass(value, Primitive):
            continue
        if inspect.isfunction(value):
            yield attr, value
        elif inspect.isclass(value):
            seen = set()
            for klass in value.__mro__:
                if klass.__module__ != name:
                    continue
                for method_name, member in vars(klass).items():
                    if method_name in seen or (method_name.startswith("_") and method_name not in CHECKED_DUNDERS):
                        continue
                    seen.add(method_name)
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    elif isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        yield f"{attr}.{method_name}", member


def _missing(function):
    """Names of the unannotated parameters (self/cls excepted), and '->' when the return is not."""
    annotations = function.__annotations__
    params = list(inspect.signature(function).parameters.values())
    if params and params[0].name in ("self", "cls") and "." in function.__qualname__:
        params = params[1:]
    missing = [p.name for p in params if p.name not in annotations]
    if "return" not in annotations:
        missing.append("->")
    return missing


@pytest.mark.parametrize("module_name", ANNOTATED)
def test_public_api_is_annotated(module_name):
    module = importlib.import_module(module_name)
    gaps = [f"{qual}({', '.join(m)})" for qual, fn in _functions(module) if (m := _missing(fn))]
    assert not gaps, f"{module_name}: unannotated parameters or returns in " + "; ".join(gaps)


def test_the_check_sees_methods_and_finds_gaps():
    import chainrule.nn.pooling as pooling

    names = dict(_functions(pooling))
    assert "MaxPool2d.forward" in names  # inherited from the private _MaxPoolNd
    assert "MaxPool2d.__init__" in names

    def bare(x, y=1):
        return x

    def typed(x: int, *args: int, **kwargs: str) -> int:
        return x

    assert _missing(bare) == ["x", "y", "->"]
    assert _missing(typed) == []


def test_package_ships_the_py_typed_marker():
    assert (Path(chainrule.__file__).parent / "py.typed").is_file()
