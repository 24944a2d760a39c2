"""`Value`: a scalar autodiff node compatible with Karpathy's micrograd, so lecture code runs unchanged.

    a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    e = a * b; e.label = "e"
    L = e.tanh(); L.backward()
    a.grad          # dL/da = (1 - tanh(e)^2) * b

Each op builds `out` and a closure `_backward` that *accumulates* (+=) the
output's gradient times the local partial into its inputs, exactly as
micrograd does. Unlike micrograd, `backward()` sorts the graph iteratively, so a
chain of 100,000 ops works (no recursion limit).

`chainrule.viz.draw_graph(v)` draws a Value graph; `v.to_tensor()` gives a leaf
Tensor with the same value, and `to_tensor_graph(v)` replays the whole Value graph
with chainrule Tensor ops (to check it against the engine, or keep going with tensors).
"""

from __future__ import annotations

import math


class Value:
    """A scalar with a gradient: `.data`, `.grad`, `_prev` (inputs), `_op` (the op's symbol), `label`."""

    __slots__ = ("data", "grad", "_backward", "_prev", "_op", "label", "_args", "__weakref__")

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label
        self._args = tuple(_children)  # ordered inputs (and exponent), for replaying as tensors

    # ----- ops (micrograd's set, plus exp/log/sigmoid) -----

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):
            raise TypeError(
                "Value ** Value is not supported (as in micrograd): use an int or float exponent, "
                "or (exponent * base.log()).exp() for a variable exponent"
            )
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = Value(self.data**other, (self,), f"**{other}")
        out._args = (self, other)

        def _backward():
            self.grad += (other * self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, other):
        # c ** v = exp(v ln c), for a positive constant c
        if not isinstance(other, (int, float)) or other <= 0:
            raise ValueError(f"{other!r} ** Value: the base must be a positive number")
        return (self * math.log(other)).exp()

    def relu(self):
        out = Value(0 if self.data < 0 else self.data, (self,), "ReLU")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def sigmoid(self):
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))  # never overflows
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    # ----- backward -----

    def _topo(self):
        """Every Value this one depends on, inputs before outputs (iterative DFS, no recursion limit)."""
        topo, visited = [], set()
        stack = [(self, False)]
        while stack:
            v, expanded = stack.pop()
            if expanded:
                topo.append(v)
                continue
            if id(v) in visited:
                continue
            visited.add(id(v))
            stack.append((v, True))
            for child in v._prev:
                if id(child) not in visited:
                    stack.append((child, False))
        return topo

    def backward(self):
        """Set self.grad = 1 and run every `_backward` in reverse topological order (accumulates)."""
        topo = self._topo()
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    # ----- the rest is built from the ops above (as in micrograd) -----

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return (
            f"Value(data={self.data}, grad={self.grad})"
            if not self.label
            else f"Value(data={self.data}, grad={self.grad}, label={self.label!r})"
        )

    # ----- moving to tensors -----

    def to_tensor(self, requires_grad=True, dtype=None):
        """A leaf chainrule Tensor holding this value (float64 unless dtype is given), named by the label."""
        from . import _dtypes
        from .tensor import Tensor

        return Tensor(self.data, dtype=dtype or _dtypes.float64, requires_grad=requires_grad, name=self.label or None)


def to_tensor_graph(root, dtype=None):
    """Replay the Value graph of `root` with chainrule Tensor ops.

    Returns (tensor_root, tensors), where `tensors` maps each Value to its Tensor
    (leaves are new leaf tensors requiring grad). `tensor_root.backward()` then gives
    every leaf the same gradient as `root.backward()` gives the Values.
    """
    from . import ops

    tensors = {}
    for v in root._topo():
        args = v._args
        if not v._op:
            t = v.to_tensor(dtype=dtype)
        elif v._op == "+":
            t = tensors[id(args[0])] + tensors[id(args[1])]
        elif v._op == "*":
            t = tensors[id(args[0])] * tensors[id(args[1])]
        elif v._op.startswith("**"):
            t = tensors[id(args[0])] ** args[1]
        elif v._op == "ReLU":
            t = ops.elementwise.relu(tensors[id(args[0])])
        elif v._op in ("tanh", "exp", "log", "sigmoid"):
            t = getattr(ops.elementwise, v._op)(tensors[id(args[0])])
        else:
            raise ValueError(f"to_tensor_graph: unknown Value op {v._op!r}")
        if v._op and v.label:
            t.name = v.label
        tensors[id(v)] = t
    return tensors[id(root)], {v: tensors[id(v)] for v in root._topo()}
