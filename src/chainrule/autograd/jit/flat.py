"""One flat array for an optimizer's parameters and one for their gradients, in a replay.

A replay of a training step updates each parameter with two NumPy calls of its own; for a small
model these calls, not the arithmetic, are the cost (a 40-100-100-10 MLP: 12 calls, 16 us, against
6 us for the same update over one array). When an inlined SGD step (passes._plan_flat_gradients) covers
parameters whose arrays nothing else holds, the replay moves them into views of one array and
writes their gradients (matmul's out=) into views of another, so the step is one update of the
flat arrays.

Nothing a user can see changes, which is why both moves are guarded by reference counts:
- a parameter's array moves only when its Tensor is the only holder (no view, no `.numpy()`, no
  state_dict entry, no detached alias holds it), its values copied bit for bit, its shape, dtype
  and C order kept;
- each step's gradients are new arrays, as eager ones, unless nothing but the replay holds last
  step's (`p.grad` was cleared and no one kept the tensor, its array or a view): only then are
  those buffers written again.
The step uses the flat update only while every parameter's array and gradient are this storage's
views; anything else (a reassigned `.data`, an accumulated or hand-set `.grad`) takes the
per-parameter update, so the numbers are eager's in every case.
"""

from __future__ import annotations

import sys
import weakref

import numpy as np

try:
    _refcount = sys.getrefcount
except AttributeError:  # an interpreter without reference counts (PyPy): no flat storage
    _refcount = None


def available():
    """Reference counts tell who holds an array: CPython with the GIL (a free-threaded build's
    counts are not exact while other threads run)."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return _refcount is not None and (is_gil_enabled is None or is_gil_enabled())


def _holders(t):
    a = t._data
    return _refcount(a)


_SOLE = []  # _holders of a tensor whose array nothing else holds, measured once


def _sole():
    if not _SOLE:
        from ...tensor import Tensor

        _SOLE.append(_holders(Tensor._make(np.empty(1))))
    return _SOLE[0]


def storage(optimizer, params):
    """The FlatStorage of `optimizer` over `params` (or None): one for every replay that steps them (a second
    batch size, a trace made again after a module changed), so that the parameters stay where the
    first one moved them."""
    try:
        kept = _storages.setdefault(optimizer, [])
    except TypeError:  # an optimizer class that cannot be a weak dict's key (unhashable, __slots__)
        return None
    for s in kept:
        if len(s.params) == len(params) and all(p is q for p, q in zip(s.params, params)):
            return s
    kept.append(FlatStorage(params))
    return kept[-1]


_storages = weakref.WeakKeyDictionary()  # optimizer -> its FlatStorages


class FlatStorage:
    """The flat arrays of an inlined step over `params` (one float dtype, C-contiguous shapes).

    `pf` is the flat parameter array and `pv0`, `pv1`, ... its views, None until `relocate` moves
    the parameters there: the replay's identity checks (`p._data is flat.pv0`) pass only then.
    """

    def __init__(self, params):
        self.params = tuple(params)
        self.dtype = params[0]._data.dtype
        self.shapes = tuple(p._data.shape for p in params)
        self.offsets = [0]
        for p in params:
            self.offsets.append(self.offsets[-1] + p._data.size)
        self.pf = None
        for j in range(len(params)):
            setattr(self, f"pv{j}", None)
        self.spares = []  # (buffer, view, view, ...) of gradients a step gave back
        self._free = None  # the reference counts of a spare that nothing else holds
        self._flat_free = None  # the flat parameter array's, held here and by its views only

    def _views(self, buffer):
        o = self.offsets
        return [buffer[o[j] : o[j + 1]].reshape(shape) for j, shape in enumerate(self.shapes)]

    def _fresh(self):
        buffer = np.empty(self.offsets[-1], self.dtype)
        spare = (buffer, *self._views(buffer))
        del buffer
        if self._free is None:
            self._free = tuple(map(_refcount, spare))
        return spare

    def grads(self):
        """(buffer, view for each parameter): a step's buffers given back when nothing else holds
        them (the replay overwrites them), else new ones."""
        try:
            spare = self.spares.pop()  # one call: two threads never take the same spare
        except IndexError:
            return self._fresh()
        if tuple(map(_refcount, spare)) == self._free:
            return spare
        return self._fresh()

    def relocate(self):
        """Move the parameters' arrays into views of one new array, when each is C-contiguous,
        owns its memory (or is already this storage's view) and only its Tensor holds it."""
        params = self.params
        views = [getattr(self, f"pv{j}") for j in range(len(params))]
        mine = [p._data is view for p, view in zip(params, views)]
        del views
        if all(mine):
            return
        if any(mine) and _refcount(self.pf) != self._flat_free:
            return  # a view of the flat array is held outside (it would no longer alias the parameter)
        sole = _sole()
        for j, p in enumerate(params):
            if _holders(p) != sole + mine[j]:  # this storage holds its views once more
                return
            a = p._data
            if not mine[j] and not (
                type(a) is np.ndarray
                and a.base is None
                and a.dtype == self.dtype
                and a.shape == self.shapes[j]
                and a.flags.c_contiguous
                and a.flags.writeable
            ):
                return
        flat = np.empty(self.offsets[-1], self.dtype)
        views = self._views(flat)
        for p, view in zip(params, views):
            view[...] = p._data
        for j, (p, view) in enumerate(zip(params, views)):
            p._data = view
            setattr(self, f"pv{j}", view)
        del views, view
        self.pf = flat
        del flat
        self._flat_free = _refcount(self.pf)
