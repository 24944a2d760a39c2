"""Run one program in chainrule and in torch side by side and compare everything a user can see.

`compare(program, inputs, ...)` calls `program(lib, F, *tensors)` once with lib=chainrule and once with
lib=torch (F is the matching nn.functional) and checks: both raise or neither; the outputs' structure, shapes,
dtypes and values; the gradients of a random weighted sum of the float outputs; and, when asked, the
second-order gradient (the gradient of a random weighted sum of those gradients).
"""

from __future__ import annotations

import collections

import numpy as np
import torch
import torch.nn.functional as tF

import chainrule as cr
import chainrule.nn.functional as crF

RTOL, ATOL = 1e-7, 1e-9
OUTCOMES = collections.Counter()  # 'ok' / 'refused' (both libraries raised), for the fuzzer's report


class Mismatch(AssertionError):
    pass


def _leaves(out):
    """Flatten a (possibly nested) result into a list of tensors/numbers, keeping the structure as a key."""
    if isinstance(out, (tuple, list)):
        items, keys = [], []
        for o in out:
            i, k = _leaves(o)
            items += i
            keys.append(k)
        return items, ("list" if isinstance(out, list) else "tuple", tuple(keys))
    return [out], "leaf"


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch may hand back a ZeroTensor gradient
    if isinstance(t, cr.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "").replace("chainrule.", "")


def check_close(a, b, what, rtol=RTOL, atol=ATOL):
    """a from chainrule, b from torch."""
    if isinstance(b, torch.Tensor) != isinstance(a, cr.Tensor):
        raise Mismatch(f"{what}: chainrule gives {type(a).__name__}, torch gives {type(b).__name__}")
    if isinstance(b, torch.Tensor):
        if tuple(a.shape) != tuple(b.shape):
            raise Mismatch(f"{what}: shape {tuple(a.shape)} vs torch {tuple(b.shape)}")
        if _dtype_name(a) != _dtype_name(b):
            raise Mismatch(f"{what}: dtype {_dtype_name(a)} vs torch {_dtype_name(b)}")
    if not isinstance(b, torch.Tensor) and not isinstance(b, (int, float, np.number)):
        if a != b:  # names, flags, None
            raise Mismatch(f"{what}: chainrule {a!r}, torch {b!r}")
        return
    x, y = _np(a), _np(b)
    if x.dtype.kind in "biu" or y.dtype.kind in "biu":
        ok = np.array_equal(x, y)
    else:
        ok = np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
    if not ok:
        raise Mismatch(f"{what}: values differ\n chainrule {x!r}\n torch     {y!r}")


def _run(lib, program, inputs):
    F = crF if lib is cr else tF
    tensors = []
    for arr, grad in inputs:
        if lib is cr:
            t = cr.tensor(np.array(arr), requires_grad=grad)
        else:
            t = torch.tensor(np.array(arr), requires_grad=grad)
        tensors.append(t)
    try:
        return tensors, program(lib, F, *tensors), None
    except Exception as e:  # noqa: BLE001 - any refusal counts; both sides must refuse
        return tensors, None, e


def compare(program, inputs, *, seed=0, grad=True, second=False, rtol=RTOL, atol=ATOL):
    """inputs: list of (numpy array, requires_grad). Returns 'refused' or 'ok'; raises Mismatch."""
    ct, cout, cerr = _run(cr, program, inputs)
    tt, tout, terr = _run(torch, program, inputs)
    if (cerr is None) != (terr is None):
        raise Mismatch(f"refusal differs: chainrule {cerr!r}, torch {terr!r}")
    if terr is not None:
        OUTCOMES["refused"] += 1
        return "refused"
    OUTCOMES["ok"] += 1
    cl, ck = _leaves(cout)
    tl, tk = _leaves(tout)
    if ck != tk:
        raise Mismatch(f"output structure {ck} vs torch {tk}")
    for i, (a, b) in enumerate(zip(cl, tl)):
        check_close(a, b, f"output {i}", rtol, atol)
    if not grad:
        return "ok"
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in zip(cl, tl) if isinstance(b, torch.Tensor) and b.requires_grad]
    gin = [i for i, (_, g) in enumerate(inputs) if g]
    if not pairs or not gin:
        return "ok"
    ws = [rng.standard_normal(b.shape) for _, b in pairs]
    closs = sum((a * cr.tensor(w)).sum() for (a, _), w in zip(pairs, ws))
    tloss = sum((b * torch.tensor(w)).sum() for (_, b), w in zip(pairs, ws))
    cg = cr.autograd.grad(closs, [ct[i] for i in gin], create_graph=second, allow_unused=True)
    tg = torch.autograd.grad(tloss, [tt[i] for i in gin], create_graph=second, allow_unused=True)
    for i, a, b in zip(gin, cg, tg):
        if b is None:
            b = torch.zeros_like(tt[i])
        if a is None:
            a = cr.zeros_like(ct[i])
        check_close(a, b, f"grad of input {i}", rtol * 100, atol * 100)
    if second:
        sec = [(i, a, b) for i, a, b in zip(gin, cg, tg) if b is not None and b.requires_grad]
        if not sec:
            return "ok"
        vs = [rng.standard_normal(b.shape) for _, _, b in sec]
        c2 = sum((a * cr.tensor(v)).sum() for (_, a, _), v in zip(sec, vs))
        t2 = sum((b * torch.tensor(v)).sum() for (_, _, b), v in zip(sec, vs))
        cgg = cr.autograd.grad(c2, [ct[i] for i in gin], allow_unused=True)
        tgg = torch.autograd.grad(t2, [tt[i] for i in gin], allow_unused=True)
        for i, a, b in zip(gin, cgg, tgg):
            if b is None:
                b = torch.zeros_like(tt[i])
            if a is None:
                a = cr.zeros_like(ct[i])
            check_close(a, b, f"second-order grad of input {i}", 1e-5, 1e-7)
    return "ok"
