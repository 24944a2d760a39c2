"""Views and version counters, with PyTorch's semantics.

A view (basic indexing, view/reshape when no copy is needed, permute, expand, squeeze,
diagonal, split...) shares storage with its base and also its version counter: an
in-place change through any of them bumps the one counter, so a value saved for
backward is checked whatever alias changed it. `detach()` shares the counter too;
`.data` shares only the storage (as in PyTorch).

Each view remembers its root base and the chain of view primitives that leads from
the base to it (`ViewInfo.chain`, a tuple of (primitive, params)). Replaying the chain
on the base Tensor rebuilds the view's graph node after the base's history changed
(an in-place op through this or another view); replaying it on an index array gives
the positions of the view's elements in the base (`positions`), which CopySlices uses.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import function, grad_mode

_ref = weakref.ref
_grad_enabled = grad_mode.is_grad_enabled


class VersionCounter:
    """The version shared by a tensor, its views and its detach()ed aliases."""

    __slots__ = ("version", "views", "limit")

    def __init__(self, version=0):
        self.version = version
        self.views = None  # weak references to the live views sharing this storage
        self.limit = 16  # prune dead references when the list reaches this length


class ViewInfo:
    """How a view was made: its root base, the chain of view ops from it, and how it was created."""

    __slots__ = ("base", "chain", "no_grad", "multi", "op")

    def __init__(self, base, chain, no_grad, multi, op):
        self.base = base
        self.chain = chain
        self.no_grad = no_grad  # created with grad mode off (PyTorch refuses a recorded in-place op on it)
        self.multi = multi  # an output of unbind/split/chunk, or a view of one (likewise refused)
        self.op = op  # the view op's name, for errors


def counter(t):
    """t's version counter, created on first need (a fresh tensor is at version 0 without one)."""
    vc = t._vc
    if vc is None:
        vc = t._vc = VersionCounter()
    return vc


def make_view(out, src, cls, params, multi=False, op=None):
    """Mark `out` (the result of view primitive `cls` on `src`) as a view of src's root base.

    Plain arrays pass through. Returns out.
    """
    if not isinstance(src, function._Tensor):
        return out
    info = src._view
    no_grad = not _grad_enabled()
    if info is None:
        base, chain = src, ((cls, params),)
    else:
        base, chain = info.base, info.chain + ((cls, params),)
        no_grad = no_grad or info.no_grad
        multi = multi or info.multi
    vc = src._vc
    if vc is None:
        vc = src._vc = VersionCounter()
    out._vc = vc
    out._view = ViewInfo(base, chain, no_grad, multi, op)
    views = vc.views
    if views is None:
        vc.views = [_ref(out)]
    else:
        views.append(_ref(out))
        if len(views) >= vc.limit:
            views[:] = [r for r in views if r() is not None]
            vc.limit = 2 * len(views) + 16
    return out


def replay(x, chain):
    """Apply the view chain to x (a Tensor records nodes; an array just gives the view)."""
    for cls, params in chain:
        x = cls.apply(x, **params)
    return x


def positions(info):
    """For each element of the view, its flat (row-major) position in the base."""
    shape = info.base._data.shape
    return np.asarray(replay(np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape), info.chain))


def live_views(base):
    """The live views whose root base is `base`."""
    vc = base._vc
    if vc is None or not vc.views:
        return []
    found = []
    for r in vc.views:
        v = r()
        if v is not None and v._view.base is base:
            found.append(v)
    return found


def regenerate(view, base):
    """Give `view` a grad_fn that reads it from base's current history (after an in-place op)."""
    if view._view.no_grad or not base.requires_grad:
        return
    with grad_mode.enable_grad():
        node = replay(base, view._view.chain).grad_fn
    rebind_history(view, node)


def rebind_history(t, node):
    """Make `node` (an in-place op's) t's grad_fn, as PyTorch moves a tensor's hooks and retained grad.

    The hooks registered so far stay with t's old node: they see the gradient of t's value before
    the change, and only once. Hooks registered later go on the new node, and a retained `.grad` is
    the gradient of the new value.
    """
    old = t.grad_fn
    if old is not None and old is not node and old.hooked:
        old.earlier_hooks = t._hooks or {}  # the same dict: the handles given out still remove from it
        t._hooks = None
    node.out_ref = _ref(t)
    if t._retains_grad:
        node.hooked = True
    t.grad_fn = node
    t._requires_grad = True


def has_internal_overlap(a) -> bool:
    """True when two elements of `a` share memory (a stride of 0 along a dim longer than 1).

    PyTorch's test: other overlaps are too hard to tell and are let through.
    """
    return a.size > 1 and any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape))  # empty: no overlap


def _dense(a) -> bool:
    """Non-overlapping and dense: a permutation of a contiguous layout (PyTorch's test)."""
    expected = a.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n != 1):
        if stride != expected:
            return False
        expected *= n
    return True


def partial_overlap(dst, src) -> bool:
    """True when src and dst share some memory but are not the same elements (PyTorch refuses it).

    Only checked when both are dense, as PyTorch does; interleaved strided views pass.
    """
    if not isinstance(src, np.ndarray) or not src.size or not dst.size or not np.may_share_memory(dst, src):
        return False
    if not (_dense(dst) and _dense(src)):
        return False
    same = (
        dst.__array_interface__["data"][0] == src.__array_interface__["data"][0]
        and dst.strides == src.strides
        and dst.shape == src.shape
    )
    return not same
