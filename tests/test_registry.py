"""The primitive registry: a new primitive is one class, and every list of ops follows from it.

Each test that defines a primitive removes it again (registry.unregister), so the global registry,
chainrule's namespace, Tensor and nn.functional are as they were.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops
from chainrule.autograd import primitive as registry
from chainrule.autograd.primitive import BinaryElementwise, Primitive, UnaryElementwise
from opinfo import OP_TABLE, binary, unary, uncovered_primitives

torch = pytest.importorskip("torch")


@pytest.fixture
def cube():
    """A new unary elementwise primitive, defined the way docs/adding-a-primitive.md shows."""

    class Cube(UnaryElementwise):
        """y = x^3.   dy/dx = 3 x^2."""

        function = "cube"

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x * x * 3.0)

    try:
        yield Cube
    finally:
        registry.unregister("Cube", "cube")


def test_a_new_elementwise_primitive_appears_everywhere_from_the_registry(cube):
    # The function, the Tensor method and __all__ come from the class alone.
    assert registry.PRIMITIVES["Cube"] is cube
    assert "cube" in cr.__all__ and hasattr(cr, "cube")
    assert hasattr(cr.Tensor, "cube")
    x = cr.tensor([-1.5, 0.5, 2.0], dtype=cr.float64, requires_grad=True)
    y = cr.cube(x)
    np.testing.assert_allclose(y._data, x._data**3)
    np.testing.assert_allclose(x.cube()._data, y._data)
    # Its properties, as the rest of the library reads them.
    assert cube.elementwise == "unary" and cube.jvp_is_vjp and cube._array_protocol
    assert cube in registry.elementwise_primitives()
    # The coverage test requires it, and one op-table entry satisfies the requirement.
    assert "Cube" in {c.__name__ for c in ops.primitives()}
    assert "Cube" in uncovered_primitives([])
    spec = unary("cube", cr.cube, lambda a: a**3, lambda t: t**3)
    assert "Cube" not in uncovered_primitives([spec])
    # Derivatives of both orders, and forward mode through jvp = vjp, match PyTorch.
    xt = torch.tensor(x._data, requires_grad=True)
    (g,) = cr.autograd.grad(y.sum(), [x], create_graph=True)
    (gt,) = torch.autograd.grad((xt**3).sum(), [xt], create_graph=True)
    np.testing.assert_allclose(g._data, gt.detach().numpy())
    (gg,) = cr.autograd.grad(g.sum(), [x])
    (ggt,) = torch.autograd.grad(gt.sum(), [xt])
    np.testing.assert_allclose(gg._data, ggt.numpy())
    _, tangent = cr.jvp(cr.cube, (x.detach(),), (cr.ones_like(x),))
    np.testing.assert_allclose(tangent._data, 3 * x._data**2)
    assert cr.gradcheck(cr.cube, (x,)) and cr.gradgradcheck(cr.cube, (x,))


def test_star_import_gives_every_public_name():
    namespace = {}
    exec("from chainrule import *", namespace)
    assert {"tensor", "Tensor", "exp", "add", "matmul", "softmax", "cat", "jit", "grad", "optim"} <= set(namespace)
    assert set(cr.__all__) <= set(namespace)


def test_unregistering_restores_every_namespace(cube):
    registry.unregister("Cube", "cube")
    assert "Cube" not in registry.PRIMITIVES
    assert "cube" not in cr.__all__ and not hasattr(cr, "cube")
    assert not hasattr(cr.Tensor, "cube")


def test_the_generated_function_is_a_name_of_its_module_until_unregistered():
    import sys
    import types

    module = sys.modules["scratch_ops"] = types.ModuleType("scratch_ops")
    try:
        type(
            "Twice",
            (UnaryElementwise,),
            {
                "__module__": "scratch_ops",
                "function": "twice",
                "forward": staticmethod(lambda ctx, x: x * 2),
                "backward": staticmethod(lambda ctx, g: g * 2),
            },
        )
        assert module.twice(np.array(3.0)) == 6.0 and cr.twice is module.twice
        registry.unregister("Twice", "twice")
        assert not hasattr(module, "twice") and not hasattr(cr, "twice")
    finally:
        registry.unregister("Twice", "twice")
        del sys.modules["scratch_ops"]


def test_a_binary_primitive_is_its_math_and_the_base_broadcasts(request):
    class Hypot(BinaryElementwise):
        """z = sqrt(x^2 + y^2).   dz/dx = x / z,  dz/dy = y / z."""

        function = "hypot_"
        namespaces = ("chainrule", "nn.functional")

        @staticmethod
        def forward(ctx, x, y):
            z = np.hypot(x, y)
            ctx.save_for_backward(x, y, z)
            return z

        def dx(ctx, g, x, y, z):
            return g * x / z

        def dy(ctx, g, x, y, z):
            return g * y / z

    request.addfinalizer(lambda: registry.unregister("Hypot", "hypot_"))
    assert F.hypot_ is cr.hypot_ and "hypot_" in F.__all__
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 2, (1, 4))
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    cr.hypot_(x, y).sum().backward()
    torch.hypot(xt, yt).sum().backward()
    assert x.grad.shape == (3, 1) and y.grad.shape == (1, 4)  # unbroadcast by the base
    np.testing.assert_allclose(x.grad._data, xt.grad.numpy())
    np.testing.assert_allclose(y.grad._data, yt.grad.numpy())
    _, tangent = cr.jvp(cr.hypot_, (x.detach(), y.detach()), (cr.ones_like(x), cr.zeros_like(y)))
    np.testing.assert_allclose(tangent._data, np.broadcast_to(a / np.hypot(a, b), (3, 4)))
    assert uncovered_primitives([binary("hypot_", cr.hypot_, np.hypot, domains=((0.5, 2), (0.5, 2)))]).isdisjoint(
        {"Hypot"}
    )
    with pytest.raises(ValueError, match=r"hypot_: shapes \(2,\) and \(3,\) cannot broadcast"):
        cr.hypot_(cr.ones(2), cr.ones(3))


def test_user_functions_are_not_primitives():
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    assert not Double._array_protocol and "Double" not in registry.PRIMITIVES
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    Double.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad._data, [2.0, 2.0])


def test_the_registry_holds_the_library():
    names = {c.__name__ for c in ops.primitives()}
    assert {"Add", "Mul", "Exp", "Tanh", "Where", "Matmul", "Linear", "Sum", "Conv", "Softmax"} <= names
    assert all(issubclass(c, Primitive) for c in ops.primitives())
    elementwise = {c.__name__ for c in registry.elementwise_primitives()}
    assert {"Add", "Exp", "Where", "Clamp", "ClampTensor", "Cast"} <= elementwise
    assert not {"Matmul", "Sum", "Linear", "Softmax"} & elementwise
    assert ops.nondifferentiable() == {
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "logical_not",
        "logical_and",
        "logical_or",
        "logical_xor",
        "sign",
        "floor",
        "ceil",
        "round",
        "trunc",
        "floor_divide",
        "bitwise_not",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        "isnan",
        "isinf",
        "isfinite",
        "allclose",
        "equal",
        "argmax",
        "argmin",
        "argsort",
        "all",
        "any",
        "one_hot",
    }
    # every registered public name of "chainrule" is there, with its methods bound on Tensor
    for entry in registry.EXPORTS.values():
        if "chainrule" in entry.namespaces:
            assert entry.name in cr.__all__, entry.name
        for method in entry.methods:
            assert getattr(cr.Tensor, method) is entry.fn, method
    assert len(OP_TABLE) >= 60


def test_clashing_names_are_refused_with_the_fix():
    with pytest.raises(TypeError, match="Add.*registered already.*choose another class name"):
        type(
            "Add",
            (UnaryElementwise,),
            {
                "__module__": "elsewhere",
                "forward": staticmethod(lambda ctx, x: x),
                "backward": staticmethod(lambda ctx, g: g),
            },
        )
    assert registry.PRIMITIVES["Add"] is ops.binary.Add
    with pytest.raises(TypeError, match=r"Tensor.backward is defined by Tensor itself.*method="):
        registry.export(name="shadow", method="backward")(lambda x: x)
    assert "shadow" not in registry.EXPORTS and "shadow" not in cr.__all__
    assert cr.Tensor.backward.__module__ == "chainrule.tensor"


def test_explain_classifies_elementwise_by_the_registry(cube):
    import importlib

    explain_module = importlib.import_module("chainrule.explain")  # (chainrule.explain is the function)

    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = cr.cube(x)
    loss = cr.matmul(y, cr.tensor([1.0, 1.0], dtype=cr.float64))
    local = explain_module._local_partials(y.grad_fn, np.ones(2))
    np.testing.assert_allclose(local[0], 3 * x._data**2)  # elementwise: d(y_i)/d(x_i)
    assert explain_module._local_partials(loss.grad_fn, np.ones(())) == (None, None)  # matmul is not
