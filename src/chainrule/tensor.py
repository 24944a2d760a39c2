"""Tensor: a NumPy array plus what autograd needs (grad, requires_grad, grad_fn).

Operators and methods forward to the primitives in `chainrule.ops` (the op methods, x.exp() and
the like, are installed from the registry: autograd/primitive.py); this file holds storage,
construction, in-place updates and the glue to the engine.

NOTE: over 1000 lines: Tensor is one class, written in one place in the order a reader looks
for it (construction, properties, autograd, in-place updates, conversions, operators); the math
of its ops is not here but in chainrule.ops. Mixins in other modules would only scatter the class.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from . import _device, _dtypes
from ._random import normal as _normal
from ._random import uniform as _uniform
from .autograd import effects as _effects
from .autograd import engine, grad_mode
from .autograd import views as _views
from .autograd.function import format_site, user_site
from .autograd.functional import _local as _transform_state

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Sequence
    from typing import Any

    from ._typing import Device, DTypeLike, Explorer, Generator, Module, RemovableHandle, TensorLike

_new = object.__new__
_ndarray = np.ndarray
_trace_state = _effects.state


def _dtype_of_python_data(array: np.ndarray, requested):
    if requested is not None:
        return np.dtype(requested)
    if array.dtype.kind == "f":
        return _dtypes.get_default_dtype()
    if array.dtype.kind == "c":
        return _dtypes.complex64 if _dtypes.get_default_dtype() == _dtypes.float32 else _dtypes.complex128
    if array.dtype.kind in "iu" and array.dtype != np.uint8:
        return _dtypes.int64
    return array.dtype


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert constructor input to an ndarray with PyTorch's dtype rules."""
    if isinstance(data, Tensor):
        array = data._data
        return array.astype(dtype) if dtype is not None else array.copy()
    if isinstance(data, np.ndarray):
        return data.astype(dtype if dtype is not None else data.dtype, copy=True)
    if isinstance(data, np.generic):
        return np.array(data, dtype=dtype)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flatten(data)):
        data = _nested_numpy(data)
    array = np.array(data)
    if (
        array.dtype == object
        or array.dtype == np.uint64
        # (float16 holds nothing near 2**63, and comparing with it would warn of an overflow)
        or (array.dtype.kind == "f" and array.itemsize > 2 and array.size and np.abs(array).max() >= 2.0**63)
    ):
        array = _big_ints(data, array, dtype)
    if array.dtype == object:
        raise TypeError(
            f"tensor: could not build a numeric tensor from {type(data).__name__} data (ragged nesting or "
            "non-numeric items). Pass numbers, nested lists of equal length, or a NumPy array."
        )
    target = _dtype_of_python_data(array, dtype)
    if target.kind in "iu" and array.dtype != target and array.size:
        _check_range(array, target)
    with np.errstate(over="ignore"):  # 1e300 as float32 is inf, as in PyTorch
        return array.astype(target, copy=False)


def _big_ints(data, array, dtype):
    """Python ints outside int64, as PyTorch reads them: an error where the tensor would be an integer
    one (tensor(2**63), tensor([1, 2**64]), dtype=int32), floating where floats or the dtype say so."""
    items = list(_flatten(data)) if isinstance(data, (list, tuple)) else [data]
    big = [v for v in items if isinstance(v, int) and not -(2**63) <= v < 2**63]
    if not big:
        return array
    integral = all(isinstance(v, (int, np.integer, np.bool_)) for v in items)
    target = np.dtype(dtype) if dtype is not None else (_dtypes.int64 if integral else None)
    if target is not None and target.kind in "iu":
        raise ValueError(
            f"tensor: the Python int {big[0]} does not fit in int64 (PyTorch refuses it too: Overflow when "
            "unpacking long long). Integers must lie in [-2**63, 2**63 - 1]; pass dtype=chainrule.float64 "
            "for large values, or reduce them first."
        )
    return np.array(data, dtype=np.float64 if target is None or target.kind != "c" else np.complex128)


def _check_range(array, dtype):
    """PyTorch refuses Python data that an explicit integer dtype cannot hold (tensor(300, dtype=uint8)).

    Its bounds: [min, max] for signed dtypes; for unsigned ones negative ints down to -max
    wrap around (tensor(-1, dtype=uint8) is 255) but negative floats do not.
    """
    info = np.iinfo(dtype)
    if array.dtype.kind == "f":
        finite = np.isfinite(array).all()
        low = info.min
    else:
        finite = True
        low = info.min if dtype.kind == "i" else -int(info.max)
    if array.dtype.kind in "fiu" and (not finite or array.min() < low or array.max() > info.max):
        bad = array[~np.isfinite(array) | (array < low) | (array > info.max)].flat[0]
        raise RuntimeError(
            f"tensor: value {bad.item()!r} cannot be converted to type {dtype} without overflow (PyTorch refuses it "
            f"too: {dtype} holds {info.min} to {info.max}). Pick a wider dtype (e.g. chainrule.int64), or "
            "wrap the values explicitly with tensor(data).to(dtype)."
        )


def _legacy_array(args, dtype) -> np.ndarray:
    """The array behind Tensor(*args): data (converted to `dtype`, the default float unless given) or sizes."""
    target = _dtypes.get_default_dtype() if dtype is None else np.dtype(dtype)
    if not args:
        return np.empty(0, dtype=target)
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args):
        if any(a < 0 for a in args):
            raise RuntimeError(f"Tensor: trying to create a tensor with negative dimension, sizes {list(args)}")
        return np.zeros(tuple(int(a) for a in args), dtype=target)
    if len(args) > 1:
        raise TypeError(
            f"Tensor: sizes must be ints, got {tuple(type(a).__name__ for a in args)}. Pass data as one "
            "argument (Tensor([1.5, 2.0])) or sizes as ints (Tensor(2, 3))."
        )
    data = args[0]
    if isinstance(data, Tensor):
        if dtype is not None and data._data.dtype != target:
            raise TypeError(
                f"Tensor: the tensor passed has dtype {data._data.dtype}, not {target}; convert it with "
                f".to(chainrule.{target}) (PyTorch's typed constructors refuse it too)."
            )
        return data._data  # shares storage, as torch.Tensor(t)
    if isinstance(data, (int, float, complex, bool, np.generic)):
        raise TypeError(
            f"Tensor: data must be a sequence (got {type(data).__name__}); use chainrule.tensor({data!r}) "
            "for a 0-d tensor, or Tensor([value])."
        )
    return _to_array(data, target)


def _flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _nested_numpy(items):
    return [
        _nested_numpy(i) if isinstance(i, (list, tuple)) else (i._data if isinstance(i, Tensor) else i) for i in items
    ]


def _check_grad_dtype(dtype, where):
    if np.dtype(dtype).kind not in "fc":
        raise RuntimeError(
            f"{where}: only floating point tensors can require gradients, but this tensor has dtype "
            f"{np.dtype(dtype)}. Convert it first, e.g. x.float() or tensor(data, dtype=chainrule.float32)."
        )


class Size(tuple):
    """A tensor's shape (``torch.Size``): a tuple of ints, printed as ``chainrule.Size([2, 3])``.

    ``x.size()`` returns one; ``x.shape`` stays a plain tuple (it is read on every op).
    """

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"chainrule.Size({list(self)})"

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item


def _untraceable(t, what):
    """Inside grad/jacobian/..., a conversion to NumPy or float would drop the derivative: refuse it (as JAX)."""
    raise TypeError(
        f"{what} on a tensor that requires grad, inside a transform (shape {tuple(t.shape)}, dtype {t.dtype}), "
        "would lose its derivative (the result would silently be zeros). Stay with chainrule ops: cr.stack "
        "instead of np.array([...]), cr.exp instead of math.exp; or .detach() a value you mean as a constant."
    )


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Attributes:
        data: the NumPy array holding the values.
        grad: the accumulated gradient (a Tensor) after backward, or None.
        requires_grad: whether ops on this tensor record a graph.
        grad_fn: the node that produced this tensor (None for leaves).
        name: an optional label shown in errors, drawings and explanations.

    Example:
        >>> x = chainrule.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x ** 2).sum()
        >>> y.backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = (
        "_data",
        "_grad",
        "_requires_grad",
        "grad_fn",
        "_name",
        "_vc",
        "_view",
        "_hooks",
        "_retains_grad",
        "__weakref__",
    )

    # NumPy defers to Tensor's reflected operators (array * tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(
        self,
        *data: Any,
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
        name: str | None = None,
    ) -> None:
        """PyTorch's legacy constructor: Tensor(data) or Tensor(*sizes), in the default float dtype.

        Tensor([1, 2]) is float32 like torch.Tensor (use chainrule.tensor to keep ints),
        Tensor(2, 3) is a zero-filled 2x3 float tensor (torch leaves it uninitialized),
        Tensor() is empty, Tensor(t) shares t's storage. dtype= (a chainrule extension) picks
        another dtype; FloatTensor, LongTensor and the others call this with theirs.
        """
        if device is not None:
            from ._device import check

            check(device, "Tensor")
        if dtype is not None and len(data) == 1 and not isinstance(data[0], Tensor):
            self._data = _to_array(data[0], dtype)  # chainrule's Tensor(value, dtype=...): as tensor()
        else:
            self._data = _legacy_array(data, dtype)
        self._grad = None
        self.grad_fn = None
        self._name = None
        if name is not None:
            self.name = name
        self._vc = None
        self._view = None
        self._hooks = None
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn=None):
        """Wrap an array without copying (the ops' fast path)."""
        t = _new(cls)
        t._data = data if type(data) is _ndarray else np.asarray(data)
        t._grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._name = None
        t._vc = None  # the version counter, shared with views and detach()ed aliases (None: version 0)
        t._view = None
        t._hooks = None
        t._retains_grad = False
        return t

    # ----- metadata -----

    @property
    def name(self) -> str | None:
        """An optional label, shown in errors, drawings and explain(); set it to see this tensor there."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value
        if value is not None:
            # From now on a backward pass through a graph with named tensors is recorded for
            # explain() (which checks this flag, so unnamed training pays nothing).
            from .explain import names_in_use

            names_in_use()

    @property
    def data(self) -> Tensor:
        """This tensor's values as a new Tensor outside the graph, sharing storage (PyTorch's `.data`).

        Writes through it change this tensor without autograd knowing (it has its own version
        counter, as in PyTorch, so a value saved for backward is not checked); prefer `detach()`
        or `no_grad()`. The NumPy array is `.numpy()`.
        Assigning `x.data = other` replaces the values (shape and dtype may change).
        """
        t = Tensor._make(self._data)
        if _trace_state["recorder"] is not None:
            _effects.note_alias(self, t)
        return t

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"Tensor.data: assign a Tensor (or a NumPy array), not {type(value).__name__}; "
                "e.g. p.data = chainrule.zeros(3)."
            )
        if self._requires_grad and array.dtype.kind not in "fc":
            raise RuntimeError(
                f"Tensor.data: this tensor requires grad, so its data must be floating point (or complex), "
                f"not {array.dtype}. Assign float data (e.g. p.data = new.float()), or call "
                ".requires_grad_(False) first."
            )
        if _trace_state["recorder"] is not None:
            _effects.record_set_data(self, array)
        old = self._data
        if array.shape != old.shape or array.dtype != old.dtype:
            _trace_state["epoch"] += 1  # a jitted function that read this tensor traces again
        self._data = array

    @property
    def shape(self) -> Size:
        return self._data.shape

    @property
    def ndim(self) -> builtins.int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> _device.device:
        """device(type='cpu'): chainrule's tensors live in NumPy arrays in main memory."""
        return _device.CPU

    is_cuda = False
    is_cpu = True
    is_mps = False

    def get_device(self) -> builtins.int:
        """-1 for a CPU tensor, as torch.Tensor.get_device."""
        return -1

    # The gradient lives in the _grad slot; the engine and optimizers write it there directly.
    # Assignments from user code go through this check, as in PyTorch.
    def _set_grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
                    + ("; wrap the array with chainrule.from_numpy(...)" if isinstance(value, np.ndarray) else "")
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size {list(value.shape)} to a tensor of size "
                    f"{list(self.shape)}. Please ensure that the gradient and the tensor are the same size"
                )
            if value._data.dtype != self._data.dtype and self._data.dtype.kind in "fc":
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype {value.dtype} to a tensor with dtype "
                    f"{self.dtype}. The gradient must have the tensor's dtype; convert it with "
                    f".to({self.dtype})."
                )
        if _trace_state["recorder"] is not None:
            _effects.record_set_grad(self, value)
        self._grad = value

    def _set_requires_grad(self, value):
        """`x.requires_grad = flag`: PyTorch's refusals, so no computed tensor silently stops (or starts)
        passing gradients back through its history, and no integer tensor claims a gradient."""
        if self.grad_fn is not None:
            raise RuntimeError(
                f"requires_grad: you can only change requires_grad of leaf tensors, but this tensor (shape "
                f"{tuple(self.shape)}) was computed by {self.grad_fn.op_name}. To use it without a gradient, "
                "take y = y.detach(); to stop gradients through part of the computation, compute it under "
                "chainrule.no_grad()."
            )
        if value:
            _check_grad_dtype(self._data.dtype, "requires_grad")
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> builtins.bool:
        """True for tensors not produced by a recorded op (PyTorch's definition)."""
        return self.grad_fn is None

    @property
    def _version(self) -> builtins.int:
        """How many in-place changes this tensor's storage has had (shared with its views and detach())."""
        vc = self._vc
        return 0 if vc is None else vc.version

    def _bump_version(self) -> None:
        """Count one in-place change of the storage. `_version` only reads the count, as torch's does;
        optimizers and in-place writers bump it here."""
        vc = self._vc
        if vc is None:
            self._vc = _views.VersionCounter(1)
        else:
            vc.version += 1

    @property
    def _base(self):
        """The tensor this one is a view of (the root, for a view of a view), or None (torch's _base)."""
        info = self._view
        return None if info is None else info.base

    def _is_view(self) -> builtins.bool:
        """True when this tensor is a view sharing storage with `_base`."""
        return self._view is not None

    def dim(self) -> builtins.int:
        return self._data.ndim

    def size(self, dim: builtins.int | None = None) -> Size | builtins.int:
        """The shape as a Size (a tuple), or the length of one dim: ``x.size(1)``."""
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self) -> builtins.int:
        return self._data.size

    def element_size(self) -> builtins.int:
        return self._data.itemsize

    def is_floating_point(self) -> builtins.bool:
        return self._data.dtype.kind == "f"

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ----- conversion -----

    def item(self) -> builtins.float | builtins.int | builtins.bool:
        """The value of a one-element tensor as a Python number."""
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "item()")
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to Python scalars, got shape "
                f"{tuple(self.shape)}. Use .tolist() or index first."
            )
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied), as torch.Tensor.numpy()."""
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "numpy()")
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy().")
        return self._data

    def tolist(self) -> Any:
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "tolist()")
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "np.asarray()")
        if self.requires_grad and getattr(_transform_state, "level", 0):
            _untraceable(self, "np.asarray()")
        return self._data if dtype is None else self._data.astype(dtype)

    def __float__(self):
        if self.requires_grad and getattr(_transform_state, "level", 0):
            _untraceable(self, "float()")
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "float()")
        return float(self.item())

    def __int__(self):
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "int()")
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if _trace_state["recorder"] is not None:
            _effects.check_concrete(self, "bool() (an if or while on a tensor)")
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()."
            )
        return bool(self._data.item())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        # As torch: the rows are unbind's views (made one at a time here).
        return (_shape._multi_output_view(_shape.getitem(self, i), "unbind") for i in range(self._data.shape[0]))

    def __repr__(self):
        return _format_tensor(self)

    # ----- autograd -----

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        """Set requires_grad in place (leaves only) and return self."""
        if requires_grad:
            _check_grad_dtype(self._data.dtype, "requires_grad_")
        elif self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors. For a tensor "
                "computed from others, use .detach() to get one that does not require grad."
            )
        self._requires_grad = bool(requires_grad)
        return self

    def backward(
        self,
        gradient: TensorLike | None = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Compute d(self)/d(leaf) and accumulate it into every leaf's `.grad`.

        Args:
            gradient: d(loss)/d(self) when self is not a scalar (the vector of the VJP).
            retain_graph: keep saved values so backward can run through this graph again.
            create_graph: record the backward pass so the gradients can be differentiated.
            inputs: accumulate only into these tensors' `.grad` (leaves or intermediates).
        """
        engine.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage and version counter, cut off from the graph.

        An in-place change through it is seen by backward (as in PyTorch): a value saved for
        backward that it changes is refused there.
        """
        t = Tensor._make(self._data)
        t._vc = _views.counter(self)
        t.name = self.name
        if _trace_state["recorder"] is not None:
            _effects.note_alias(self, t)
        return t

    def detach_(self) -> Tensor:
        if self._view is not None:
            raise RuntimeError(
                f"detach_: can't detach views in-place (a view of shape {tuple(self.shape)} made by "
                f"{self._view.op}). Use detach() instead."
            )
        self.grad_fn = None
        self._requires_grad = False
        return self

    def explore(
        self, model: Module | None = None, title: str | None = None, trace: builtins.bool | None = None
    ) -> Explorer:
        """An interactive HTML explorer of the forward and backward pass: chainrule.viz.explore(self, ...)."""
        from .viz.explore import explore

        return explore(self, model=model, title=title, trace=trace)

    def retain_grad(self) -> None:
        """Keep `.grad` on this intermediate tensor after backward (leaves always do)."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad: can't retain the grad of a tensor that does not require grad")
            return
        self._retains_grad = True
        self.grad_fn.hooked = True

    @property
    def retains_grad(self) -> builtins.bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` with this tensor's gradient during backward.

        The hook may return a new gradient to use instead. Returns a handle whose
        `.remove()` unregisters it.

        Example:
            >>> h = x.register_hook(lambda g: g * 2)   # doubles the gradient reaching x
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = {}
        handle = _HookHandle(self._hooks)
        self._hooks[handle.id] = hook
        if self.grad_fn is not None:
            self.grad_fn.hooked = True
        _trace_state["epoch"] += 1  # a jitted function that captured this tensor traces again
        return handle

    # ----- in-place updates -----
    #
    # PyTorch's semantics: the op runs out of place on the current value, the result is written
    # into this tensor's storage (its base and views see it), the shared version counter goes up,
    # and the history is rewritten when a gradient is recorded. A tensor that is not a view takes
    # the op's node as its grad_fn. For a view, the base's grad_fn becomes CopySlices (the old
    # base outside the view, the op's result inside), and the view and the base's other live
    # views read themselves from the new base.

    def _check_inplace(self, op):
        if self.requires_grad and self.grad_fn is None and grad_mode.is_grad_enabled():
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {tuple(self.shape)}) is being used in an "
                f"in-place operation at {format_site(user_site(1))}. Wrap the update in "
                "`with chainrule.no_grad():` (as optimizers do), or use an out-of-place op."
            )

    def _check_inplace_graph(self, op):
        """PyTorch's refusals for an in-place op that records a gradient."""
        info = self._view
        if info is None:
            self._check_inplace(op)
            return
        where = f"a view of shape {tuple(self.shape)} made by {info.op} at {format_site(user_site(1))}"
        if info.multi:
            raise RuntimeError(
                f"{op}: {where} is being modified in place, but it is an output of {info.op}, which "
                "returns several views of one tensor: such views may not be modified in place while "
                "a gradient is recorded (as in PyTorch). Use the out-of-place form (y = y * 2), or "
                ".clone() the piece first."
            )
        if info.no_grad:
            raise RuntimeError(
                f"{op}: {where} was created in no_grad mode and is being modified in place with grad "
                "mode enabled; this is ambiguous, so it is refused (as in PyTorch). Do both the view "
                "and the in-place op inside no_grad() (not tracked), or both outside (tracked)."
            )
        base = info.base
        if self.requires_grad and base.grad_fn is None and base.requires_grad:
            raise RuntimeError(
                f"{op}: {where} is a view of a leaf tensor that requires grad (shape "
                f"{tuple(base.shape)}), and is being used in an in-place operation. Wrap the update in "
                "`with chainrule.no_grad():`, or work on a copy (leaf.clone())."
            )

    def _check_overlap(self, other, op):
        """Refuse writes where elements share memory, as PyTorch does."""
        data = self._data
        if _views.has_internal_overlap(data):
            raise RuntimeError(
                f"{op}: unsupported operation at {format_site(user_site(1))}: more than one element of "
                f"the written-to tensor (shape {tuple(self.shape)}, strides "
                f"{tuple(s // data.itemsize for s in data.strides)}, an expanded view) refers to a single "
                "memory location. Please .clone() the tensor before the in-place operation."
            )
        if isinstance(other, Tensor) and _views.partial_overlap(data, other._data):
            raise RuntimeError(
                f"{op}: unsupported operation at {format_site(user_site(1))}: some elements of the input "
                f"tensor (shape {tuple(other.shape)}) and the written-to tensor (shape {tuple(self.shape)}) "
                "refer to a single memory location. Please .clone() the input first."
            )

    def _records(self, other) -> builtins.bool:
        """Whether an in-place op on self with operand `other` records a gradient (torch's rule).

        A view made under no_grad of a tensor that requires grad counts as requiring grad, as
        in PyTorch (so the in-place op is refused rather than silently untracked).
        """
        if not grad_mode.is_grad_enabled():
            return False
        if self.requires_grad or isinstance(other, Tensor) and other.requires_grad:
            return True
        info = self._view
        return info is not None and info.no_grad and info.base.requires_grad

    def _write_values(self, result, op):
        """Copy result's values into this tensor's storage and bump the version counter."""
        array = result._data if isinstance(result, Tensor) else np.asarray(result)
        if array.shape != self._data.shape:
            raise RuntimeError(
                f"{op}: the result has shape {tuple(array.shape)} but an in-place op must keep the "
                f"tensor's shape {tuple(self.shape)}; use the out-of-place form."
            )
        np.copyto(self._data, array, casting="unsafe")
        _views.counter(self).version += 1
        if _trace_state["recorder"] is not None:
            _effects.record_inplace(self, result, op)
        return self

    def _rebase(self, result, op):
        """Make self hold `result`, computed out of place from self, in place (as _inplace does)."""
        if not self._records(result):
            return self._write_values(result, op)
        self._check_inplace_graph(op)
        return self._commit(result, op)

    def _inplace(self, op, compute, other=None, needs_self=False, overlap=True, saves_result=False):
        """self <- compute(self), with PyTorch's in-place semantics (see above).

        compute: maps a Tensor holding the current value to the new value (out of place).
        other: the op's tensor operand, if any (checked for overlap; its requires_grad counts).
        needs_self: the op's backward needs the value before the change (PyTorch's
            original_self), so a copy is taken first.
        saves_result: PyTorch's backward of this in-place op reads its result (exp_, tanh_...),
            so a later in-place change of this tensor is refused at backward, as there.
        """
        if overlap:
            self._check_overlap(other, op)
        if not self._records(other):
            with grad_mode.no_grad():
                return self._write_values(compute(self), op)
        self._check_inplace_graph(op)
        return self._commit(compute(_ew.clone(self) if needs_self else self), op, saves_result)

    def _commit(self, result, op, saves_result=False):
        """Write `result` into self and rewrite the history (self's, or its base's through CopySlices)."""
        if result._data.shape != self._data.shape:
            return self._write_values(result, op)  # refused there, before any history changes
        if result._data.dtype != self._data.dtype:
            result = result.to(self._data.dtype)
        node = result.grad_fn
        info = self._view
        base = self if info is None else info.base
        if info is not None:
            new_base = _shape.copy_slices(base, result, _views.positions(info))
        self._write_values(result, op)
        if saves_result and node is not None and node.out_data is not None:
            # The op saved its output, which now lives in this tensor's storage, as in PyTorch:
            # backward reads it from there (a new array object on the same memory) and refuses
            # it if a tracked in-place change came after (the version noted here).
            node.out_data = self._data.view()
            node.versions = (node.versions or []) + [(self, self._version)]
        if info is None:
            if node is None:
                return self
        else:
            node = new_base.grad_fn
        _views.rebind_history(base, node)
        for v in _views.live_views(base):
            _views.regenerate(v, base)
        return self

    def _write(self, values, op="in-place update"):
        """Overwrite the values outside the graph (random fills, init); bumps the version counter."""
        self._check_inplace(op)
        np.copyto(self._data, values, casting="unsafe")
        _views.counter(self).version += 1
        if _trace_state["recorder"] is not None:
            _effects.record_inplace(self, values, op)
        return self

    def zero_(self) -> Tensor:
        """Fill with zeros in place (no gradient flows to the old values)."""
        return self._inplace("zero_", lambda s: _overwrite(s, 0), overlap=False)

    def fill_(self, value: TensorLike) -> Tensor:
        """Fill with `value` (a number or 0-d tensor) in place."""
        # No overlap check, as torch: on an expanded view every element gets the same value (a
        # recorded one is refused by CopySlices at backward, as there).
        return self._inplace("fill_", lambda s: _overwrite(s, value), value, overlap=False)

    def copy_(self, src: TensorLike) -> Tensor:
        """Copy src's values in (broadcast, cast to this dtype); the gradient flows to src."""
        if not isinstance(src, Tensor):
            # a number or array is its values (Tensor(5) would be the legacy constructor: 5 uninitialized entries)
            if src is None or isinstance(src, (str, bytes, dict)):
                raise TypeError(f"copy_(): argument 'src' must be a Tensor, got {type(src).__name__}")
            src = _creation.as_tensor(src)
        # Copying a tensor onto itself writes nothing, so torch checks no overlap (an expanded x too).
        return self._inplace("copy_", lambda s: _overwrite(s, src), src, overlap=src is not self)

    def _same_dtype(self, result: Tensor, op: str, form: str) -> Tensor:
        """An in-place op's result cast back to this tensor's dtype, where PyTorch allows it.

        The op computes in the promoted dtype (float32 += int64 works in float32); writing a
        result of a higher category back (int += 0.5, bool += 1) is refused, as in PyTorch.
        """
        dtype = self._data.dtype
        if result._data.dtype == dtype:
            return result
        if not _dtypes.can_cast(result._data.dtype, dtype):
            raise RuntimeError(
                f"{op}: the result has dtype {result._data.dtype}, which can't be cast to this tensor's dtype "
                f"{dtype} in place (PyTorch's rule: no floating to integer, complex to real, or other to bool). "
                f"Use the out-of-place form ({form}), which gives a {result._data.dtype} result, or convert "
                f"first (x = x.to({result._data.dtype}))."
            )
        return result.to(dtype)

    def add_(self, other: TensorLike, alpha: builtins.float = 1) -> Tensor:
        return self._inplace("add_", lambda s: self._same_dtype(_ew.add(s, other, alpha), "add_", "x = x + y"), other)

    def sub_(self, other: TensorLike, alpha: builtins.float = 1) -> Tensor:
        return self._inplace("sub_", lambda s: self._same_dtype(_ew.sub(s, other, alpha), "sub_", "x = x - y"), other)

    def mul_(self, other: TensorLike) -> Tensor:
        return self._inplace(
            "mul_", lambda s: self._same_dtype(s * other, "mul_", "x = x * y"), other, needs_self=_requires_grad(other)
        )

    def div_(self, other: TensorLike) -> Tensor:
        return self._inplace(
            "div_", lambda s: self._same_dtype(s / other, "div_", "x = x / y"), other, needs_self=_requires_grad(other)
        )

    def pow_(self, exponent: TensorLike) -> Tensor:
        return self._inplace(
            "pow_",
            lambda s: self._same_dtype(s**exponent, "pow_", "x = x ** y"),
            exponent,
            needs_self=True,
            saves_result=_requires_grad(exponent),
        )

    def clamp_(self, min: TensorLike | None = None, max: TensorLike | None = None) -> Tensor:
        return self._inplace(
            "clamp_", lambda s: self._same_dtype(_ew.clamp(s, min, max), "clamp_", "x = x.clamp(...)"), needs_self=True
        )

    clip_ = clamp_

    def floor_divide_(self, other: TensorLike) -> Tensor:
        return self._inplace(
            "floor_divide_", lambda s: self._same_dtype(s // other, "floor_divide_", "x = x // y"), other
        )

    def remainder_(self, other: TensorLike) -> Tensor:
        return self._inplace(
            "remainder_",
            lambda s: self._same_dtype(s % other, "remainder_", "x = x % y"),
            other,
            needs_self=_requires_grad(other),
        )

    def bitwise_and_(self, other: TensorLike) -> Tensor:
        return self._inplace("bitwise_and_", lambda s: self._same_dtype(s & other, "bitwise_and_", "x = x & y"), other)

    def bitwise_or_(self, other: TensorLike) -> Tensor:
        return self._inplace("bitwise_or_", lambda s: self._same_dtype(s | other, "bitwise_or_", "x = x | y"), other)

    def bitwise_xor_(self, other: TensorLike) -> Tensor:
        return self._inplace("bitwise_xor_", lambda s: self._same_dtype(s ^ other, "bitwise_xor_", "x = x ^ y"), other)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", _ew.neg)

    def exp_(self) -> Tensor:
        return self._inplace("exp_", _ew.exp, saves_result=True)

    def log_(self) -> Tensor:
        return self._inplace("log_", _ew.log, needs_self=True)

    def sqrt_(self) -> Tensor:
        return self._inplace("sqrt_", _ew.sqrt, saves_result=True)

    def abs_(self) -> Tensor:
        return self._inplace("abs_", _ew.abs, needs_self=True)

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", _ew.tanh, saves_result=True)

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", _ew.sigmoid, saves_result=True)

    def relu_(self) -> Tensor:
        return self._inplace("relu_", _ew.relu, saves_result=True)

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0, generator: Generator | None = None) -> Tensor:
        """Fill with U(a, b) from `generator` or the global generator (a jit replay draws anew)."""
        _refuse_text("uniform_", a, b)
        if not (np.isfinite(float(a)) and np.isfinite(float(b)) and a <= b):
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
        return self._write(_effects.draw(functools.partial(_uniform, a, b, self.shape), generator), "uniform_")

    def normal_(
        self, mean: builtins.float = 0.0, std: builtins.float = 1.0, generator: Generator | None = None
    ) -> Tensor:
        """Fill with N(mean, std^2) from `generator` or the global generator (a jit replay draws anew)."""
        return self._write(_effects.draw(functools.partial(_normal, mean, std, self.shape), generator), "normal_")

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_
    __ifloordiv__ = floor_divide_
    __imod__ = remainder_
    # in place, as torch's: mask &= other changes every view and name of mask (not a rebinding to a new tensor)
    __iand__ = bitwise_and_
    __ior__ = bitwise_or_
    __ixor__ = bitwise_xor_

    def __setitem__(self, index, value):
        """self[index] = value with PyTorch's rules: the elements self[index] selects (see
        ops.shape.normalize_index); a number is cast to self's dtype, a Tensor too (with index
        tensors it must have self's dtype); value's leading size-1 dimensions are dropped and the
        rest broadcast to the selection. Gradients reach value (g[index]) and self (zero at index).
        With basic indices it is an in-place op on the view self[index] (PyTorch's semantics)."""
        parts = _shape.setitem_parts(self, index, value)
        if parts is None:
            return
        basic, advanced, value = parts
        value_t = value if isinstance(value, Tensor) else None
        if self._records(value_t) or _trace_state["recorder"] is not None:
            if advanced is None:
                region = _shape.getitem_basic(self, basic)
                region._inplace("__setitem__", lambda s: _overwrite(s, value), value_t)
            else:
                self._inplace(
                    "__setitem__", lambda s: _shape.IndexPut.apply(s, value, basic=basic, index=advanced), value_t
                )
            return
        region = self._data[_shape._concrete(basic)] if advanced is None else self._data
        if type(region) is np.ndarray:
            _check_region_overlap(self, region, value_t)
        _shape.write_index(self._data, basic, advanced, value)
        _views.counter(self).version += 1

    # ----- dtype conversion -----

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """This tensor with another dtype (and device), as torch.Tensor.to.

        Forms: `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other_tensor)` (its dtype and
        device), `to(dtype=..., device=...)`; `copy=True` always copies. Returns self when nothing
        changes. The only device is the CPU: asking for "cuda" or "mps" raises.

        Example:
            >>> chainrule.ones(2).to("cpu", chainrule.float64).dtype
            dtype('float64')
        """
        _, dtype, extra = _device.parse_to(args, kwargs, "Tensor.to", ("non_blocking", "memory_format", "copy"))
        copy = extra.get("copy", False)
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return _ew.cast(self, dtype)
        return _ew.clone(self) if copy else self

    def cuda(self, device: Any | None = None, non_blocking: builtins.bool = False) -> Tensor:
        """Raises: chainrule has no GPU (it runs on the CPU with NumPy)."""
        raise _device._no_gpu(
            "Tensor.cuda",
            _device.device("cuda")
            if device is None
            else _device.device("cuda", device)
            if isinstance(device, int)
            else _device.device(device),
        )

    def float(self) -> Tensor:
        return self.to(_dtypes.float32)

    def double(self) -> Tensor:
        return self.to(_dtypes.float64)

    def half(self) -> Tensor:
        return self.to(_dtypes.float16)

    def long(self) -> Tensor:
        return self.to(_dtypes.int64)

    def int(self) -> Tensor:
        return self.to(_dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(_dtypes.bool)

    def type(self, dtype: DTypeLike | str | None = None) -> str | Tensor:
        return str(self.dtype) if dtype is None else self.to(dtype)

    def cpu(self) -> Tensor:
        return self

    # ----- new tensors like this one (dtype and device inherited) -----

    def new_tensor(
        self,
        data: Any,
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        """A copy of `data` with this tensor's dtype unless `dtype` is given (torch.Tensor.new_tensor)."""
        return _creation.tensor(
            data, dtype=self._data.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad
        )

    def new_zeros(
        self,
        *size: builtins.int | Sequence[builtins.int],
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        """zeros(size) with this tensor's dtype unless `dtype` is given."""
        return _creation.zeros(
            *size, dtype=self._data.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad
        )

    def new_ones(
        self,
        *size: builtins.int | Sequence[builtins.int],
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        """ones(size) with this tensor's dtype unless `dtype` is given."""
        return _creation.ones(
            *size, dtype=self._data.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad
        )

    def new_empty(
        self,
        *size: builtins.int | Sequence[builtins.int],
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        """empty(size) with this tensor's dtype unless `dtype` is given."""
        return _creation.empty(
            *size, dtype=self._data.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad
        )

    def new_full(
        self,
        size: Sequence[builtins.int],
        fill_value: builtins.float | builtins.bool,
        dtype: DTypeLike | None = None,
        device: str | Device | None = None,
        requires_grad: builtins.bool = False,
    ) -> Tensor:
        """full(size, fill_value) with this tensor's dtype unless `dtype` is given."""
        return _creation.full(
            size,
            fill_value,
            dtype=self._data.dtype if dtype is None else dtype,
            device=device,
            requires_grad=requires_grad,
        )

    def t(self) -> Tensor:
        """The transpose of a matrix; 0-D and 1-D tensors come back as they are (torch.Tensor.t).

        Example:
            >>> chainrule.ones(2, 3).t().shape
            (3, 2)
        """
        if self._data.ndim > 2:
            raise RuntimeError(
                f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D (shape "
                f"{tuple(self.shape)}); use .transpose(dim0, dim1) or .mT for batches of matrices."
            )
        return _shape.transpose(self, 0, 1) if self._data.ndim == 2 else _shape.reshape(self, self.shape)

    def t_(self) -> Tensor:
        """t() in place: this tensor becomes its transpose (and, in a graph, takes the transpose's history)."""
        self._check_inplace("t_")
        if _trace_state["recorder"] is not None and _effects.active() is not None:
            raise _effects.TraceError(
                "jit: t_() changes a tensor's shape in place, which a replay cannot repeat; "
                "use the out-of-place form, y = y.t()."
            )
        result = self.t()
        self._data = result._data
        self._bump_version()
        if result.grad_fn is not None:
            _views.rebind_history(self, result.grad_fn)
        return self

    # ----- operators -----

    def __add__(self, other):
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __floordiv__(self, other):
        return _ew.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ew.floor_divide(other, self)

    def __mod__(self, other):
        return _ew.remainder(self, other)

    def __rmod__(self, other):
        return _ew.remainder(other, self)

    def __eq__(self, other):
        return _ew.eq(self, other)

    def __ne__(self, other):
        return _ew.ne(self, other)

    def __lt__(self, other):
        return _ew.lt(self, other)

    def __le__(self, other):
        return _ew.le(self, other)

    def __gt__(self, other):
        return _ew.gt(self, other)

    def __ge__(self, other):
        return _ew.ge(self, other)

    # ~, &, | and ^ are bitwise, as in torch: logical for bool tensors, bit by bit for integers
    # (~tensor([1, 2]) is [-2, -3]), refused for floats
    def __invert__(self):
        return _ew.bitwise_not(self)

    def __and__(self, other):
        return _ew.bitwise_and(self, other)

    def __rand__(self, other):
        return _ew.bitwise_and(other, self)

    def __or__(self, other):
        return _ew.bitwise_or(self, other)

    def __ror__(self, other):
        return _ew.bitwise_or(other, self)

    def __xor__(self, other):
        return _ew.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ew.bitwise_xor(other, self)

    def __getitem__(self, index):
        return _shape.getitem(self, index)

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return _shape.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (batched matrix transpose)."""
        return _shape.transpose(self, -2, -1)


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


def _overwrite(s, value):
    """value broadcast to s's shape, as a result of s with zero gradient to it (copy_, fill_)."""
    return _ew.where(np.zeros(s._data.shape, dtype=bool), s, value)


def _check_region_overlap(t, region, value):
    """The overlap checks of an in-place write into `region` (an array view of t's storage)."""
    probe = Tensor._make(region)
    probe._check_overlap(value, "__setitem__")


class _HookHandle:
    _next_id = 0

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)


def _format_tensor(t: Tensor) -> str:
    data = t._data
    if data.dtype.kind == "f" and data.size:
        finite = data[np.isfinite(data)]
        integral = finite.size == 0 or np.all(finite == np.round(finite))
        finite = finite.astype(np.float64)  # float16 cannot hold the 1e8 it is compared with
        big = finite.size and (np.abs(finite).max() >= 1e8 or 0 < np.abs(finite[finite != 0]).min(initial=1) < 1e-4)
        if big:
            formatter = {"float_kind": lambda v: np.format_float_scientific(v, precision=4)}
        elif integral:
            formatter = {"float_kind": lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)}
        else:
            formatter = {"float_kind": lambda v: f"{v:.4f}" if np.isfinite(v) else str(v)}
        body = np.array2string(data, separator=", ", prefix="tensor(", formatter=formatter, threshold=1000)
    else:
        body = np.array2string(data, separator=", ", prefix="tensor(", threshold=1000)
        if data.dtype == np.bool_:
            body = body.replace("True", "True").replace("False", "False")
    extras = []
    default_dtypes = (_dtypes.get_default_dtype(), _dtypes.int64, _dtypes.bool)
    if data.dtype not in default_dtypes or data.size == 0:
        extras.append(f"dtype=chainrule.{data.dtype}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn={t.grad_fn!r}")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    if t.name:
        extras.append(f"name={t.name!r}")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"


from .autograd import function as _function  # noqa: E402

_function._Tensor = Tensor  # the engine's hot paths test isinstance against this, no import per call
engine._Tensor = Tensor

# (ops need Tensor defined first; importing chainrule.ops registers every primitive and public op)
from . import creation as _creation  # noqa: E402
from .autograd import primitive as _registry  # noqa: E402
from .ops import binary as _binary  # noqa: E402
from .ops import compare as _compare  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import promotion as _promotion  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops._util import need_tensor as _need_tensor  # noqa: E402
from .ops._util import refuse_text as _refuse_text  # noqa: E402

# the binary ops' same-dtype fast paths test type(x) is Tensor
_binary._Tensor = _compare._Tensor = _promotion._Tensor = Tensor

_OWN_METHODS = frozenset(vars(Tensor))


def _install_method(export, added):
    """Methods are the registered op functions themselves: x.exp() is exp(x) (see autograd/primitive.py)."""
    for name in export.methods:
        if added and name in _OWN_METHODS:
            raise TypeError(
                f"{export.name}: Tensor.{name} is defined by Tensor itself; a registered op "
                "cannot replace it. Choose another method name (method=...)."
            )
        elif added:
            setattr(Tensor, name, export.fn)
        elif Tensor.__dict__.get(name) is export.fn:
            delattr(Tensor, name)


_registry.on_export(_install_method)
# Reading .requires_grad and .grad is the slot's own C getter (no Python frame); writing checks the value.
Tensor.requires_grad = property(
    Tensor._requires_grad.__get__,
    Tensor._set_requires_grad,
    None,
    "Whether ops on this tensor record a graph; settable on leaves only, and only True for floating dtypes.",
)
Tensor.grad = property(
    Tensor._grad.__get__,
    Tensor._set_grad,
    None,
    "The accumulated gradient (a Tensor of this tensor's shape and dtype) after backward, or None.",
)


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """self.view(other.shape)."""
    _need_tensor("view_as", other, "other")
    return _shape.view(self, other.shape)


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """self.reshape(other.shape)."""
    _need_tensor("reshape_as", other, "other")
    return _shape.reshape(self, other.shape)


Tensor.view_as = _view_as
Tensor.reshape_as = _reshape_as
