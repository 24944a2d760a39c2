"""Calls chainrule's public functions with random argument values, one JSON line per case.

    python api_fuzz_worker.py MEMORY_BYTES SEED FIRST COUNT

Started by test_api_fuzz.py in a subprocess under an address-space limit (MEMORY_BYTES, set here with
resource.setrlimit before chainrule is imported); the parent watches the time of each case and kills this
process when one runs past its limit, then starts a new one after that case. Case i is drawn from
random.Random(f"{SEED}:{i}") alone, so any case can be rerun by its number. For each case it prints
{"start": i} before the call, then {"i", "target", "call", "phase", "exc", "module", "mro", "msg", "where",
"seconds"}: exc is the class name of the exception that escaped (None when the call returned), phase says
whether it came from the call itself or from the backward pass or layer/optimizer use after it.
"""

import contextlib
import inspect
import io
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
import traceback
import warnings

# Never called: they open an interactive page or belong to another part of the library (see test_api_fuzz.py).
EXCLUDED = {"Tensor.explore", "Tensor.explain", "chainrule.explain"}

TENSOR_NAMES = {"input", "x", "self", "other", "target", "tensor", "weight", "bias", "mask", "index", "src", "y", "a"}
INT_NAMES = {"dim", "dims", "num_classes", "kernel_size", "stride", "padding", "dilation", "groups", "size", "k"}
INT_NAMES |= {"start", "end", "length", "n", "m", "steps", "chunks", "step_size", "T_max", "in_features"}
INT_NAMES |= {"out_features", "num_embeddings", "embedding_dim", "hidden_size", "input_size", "num_layers"}
INT_NAMES |= {"in_channels", "out_channels", "num_features", "ignore_index", "padding_idx", "split_size_or_sections"}
FLOAT_NAMES = {"lr", "p", "eps", "momentum", "alpha", "beta", "gamma", "weight_decay", "min", "max", "value"}
FLOAT_NAMES |= {"negative_slope", "label_smoothing", "max_norm", "norm_type", "threshold", "low", "high", "rtol"}
FLOAT_NAMES |= {"atol", "min_val", "max_val", "lambd", "dampening", "exponent", "fill_value", "std", "mean"}

INTS = [0, 1, 2, 3, -1, -2, 5, 2**31, 2**62, -(2**63), 10**30]
FLOATS = [0.0, -0.0, 0.5, 1.5, -1.0, 1e-8, float("nan"), float("inf"), float("-inf"), 1e308, 5e-324]
STRINGS = ["", "mean", "sum", "none", "abc", "cpu", "cuda", "float32", "int64", "zeros", "reflect", "x" * 300]
SHAPES = [(), (0,), (1,), (3,), (2, 3), (0, 3), (3, 0), (2, 0, 3), (1, 1, 1, 1), (2, 3, 4), (2, 3, 4, 5), (1, 2, 1, 4)]
TUPLES = [(), (1,), (2, 3), (-1,), (0, 0), (1, 2**31), (None,), ("a",), (1.5,), (2, -3), (0, 1, 2, 3, 4)]


def tensor(rng, cr):
    """A tensor of an odd shape and dtype: empty, 0-d, int/bool, special values, maybe requiring grad."""
    shape = rng.choice(SHAPES)
    dtype = rng.choice(["float32", "float32", "float64", "int64", "bool"])
    values = rng.random()
    n = math.prod(shape)
    if dtype == "bool":
        data = [rng.random() < 0.5 for _ in range(n)]
    elif dtype == "int64":
        data = [rng.choice([0, 1, 2, -1, 3, 7, 2**40]) if values < 0.3 else rng.randint(0, 3) for _ in range(n)]
    elif values < 0.2:
        data = [rng.choice(FLOATS) for _ in range(n)]
    else:
        data = [rng.gauss(0, 1) for _ in range(n)]
    import numpy as np

    t = cr.tensor(np.array(data, dtype=dtype).reshape(shape))
    if dtype.startswith("float") and rng.random() < 0.5:
        t.requires_grad_(True)
    return t


def anything(rng, cr):
    r = rng.random()
    if r < 0.3:
        return tensor(rng, cr)
    if r < 0.45:
        return rng.choice(INTS)
    if r < 0.55:
        return rng.choice(FLOATS)
    if r < 0.62:
        return None
    if r < 0.7:
        return rng.choice(STRINGS)
    if r < 0.76:
        return rng.random() < 0.5
    if r < 0.86:
        return rng.choice(TUPLES)
    if r < 0.9:
        return list(rng.choice(TUPLES))
    if r < 0.94:
        return rng.choice([cr.float32, cr.float64, cr.int64, cr.bool])
    if r < 0.97:
        return rng.choice([{}, {"a": 1}, [tensor(rng, cr)], (tensor(rng, cr), tensor(rng, cr))])
    return rng.choice([lambda *a: a[0] if a else 0, object(), b"\x00", 1j])


def value_for(param, rng, cr):
    """A value for one parameter: 60% of the time of the kind its name or annotation suggests."""
    if rng.random() < 0.4:
        return anything(rng, cr)
    name, note = param.name, str(param.annotation)
    if name in TENSOR_NAMES or "Tensor" in note:
        return tensor(rng, cr)
    if name in INT_NAMES or note.startswith("int"):
        return rng.choice(INTS + [rng.choice(TUPLES)] if "Sequence" in note or "tuple" in note else INTS)
    if name in FLOAT_NAMES or "float" in note:
        return rng.choice(FLOATS + INTS[:5])
    if "bool" in note:
        return rng.random() < 0.5
    if "str" in note:
        return rng.choice(STRINGS)
    return anything(rng, cr)


def arguments(fn, rng, cr, skip_first=False):
    """Positional and keyword arguments for fn drawn from its signature: every required parameter, some of
    the optional ones, 0 to 3 values for *args."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    if skip_first and params:
        params = params[1:]
    args, kwargs = [], {}
    for p in params:
        if p.name.startswith("_") and p.default is not p.empty:
            continue  # a private knob (var's _op), not part of the public signature
        if p.kind is p.VAR_POSITIONAL:
            args += [
                rng.choice(INTS[:7]) if rng.random() < 0.6 else anything(rng, cr) for _ in range(rng.randint(0, 3))
            ]
        elif p.kind is p.VAR_KEYWORD:
            if rng.random() < 0.1:
                kwargs[rng.choice(["dtype", "device", "bogus"])] = anything(rng, cr)
        elif p.default is p.empty:
            if p.kind is p.KEYWORD_ONLY:
                kwargs[p.name] = value_for(p, rng, cr)
            else:
                args.append(value_for(p, rng, cr))
        elif rng.random() < 0.3:
            if p.kind is p.POSITIONAL_ONLY:
                break  # a later optional positional would need every earlier one
            kwargs[p.name] = value_for(p, rng, cr)
    if rng.random() < 0.05 and args:  # one argument too few or too many
        args = args[:-1] if rng.random() < 0.5 else args + [anything(rng, cr)]
    return args, kwargs


def targets(cr):
    """(label, callable, kind) for every public function, Tensor method, layer and optimizer, in a fixed order."""
    import chainrule.nn as nn
    import chainrule.nn.functional as F
    import chainrule.optim as optim

    found = []
    for name in sorted(cr.__all__):
        obj = getattr(cr, name)
        if callable(obj) and inspect.isroutine(obj):
            found.append((f"chainrule.{name}", obj, "function"))
    for name in sorted(getattr(F, "__all__", [n for n in dir(F) if not n.startswith("_")])):
        obj = getattr(F, name)
        if inspect.isroutine(obj):
            found.append((f"F.{name}", obj, "function"))
    for name in sorted(dir(cr.Tensor)):
        attr = inspect.getattr_static(cr.Tensor, name)
        if not name.startswith("_") and inspect.isfunction(attr):
            found.append((f"Tensor.{name}", getattr(cr.Tensor, name), "method"))
    for name in sorted(nn.__all__):
        obj = getattr(nn, name)
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and obj is not nn.Module:
            found.append((f"nn.{name}", obj, "layer"))
    for name in ("Adagrad", "Adam", "AdamW", "RMSprop", "SGD"):
        found.append((f"optim.{name}", getattr(optim, name), "optimizer"))
    return [t for t in found if t[0] not in EXCLUDED]


def short(v):
    if type(v).__name__ == "Tensor":
        return f"tensor(shape={tuple(v.shape)}, dtype={v.dtype}{', grad' if v.requires_grad else ''})"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(short(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def where(filename):
    """A frame's file from the package down (chainrule/ops/nn.py, numpy/_core/numeric.py)."""
    for root in ("chainrule", "numpy", "tests"):
        if f"{os.sep}{root}{os.sep}" in filename:
            return root + filename.rsplit(f"{os.sep}{root}{os.sep}", 1)[1].join(["/", ""])
    return os.path.basename(filename)


def case(i, seed, table, cr):
    """Draw and run case i; returns the JSON record."""
    rng = random.Random(f"{seed}:{i}")
    label, fn, kind = rng.choice(table)
    name = label.split(".")[-1]
    record = {"target": label, "phase": "call"}
    this = tensor(rng, cr) if kind == "method" else None
    args, kwargs = arguments(fn, rng, cr, skip_first=kind == "method")
    if kind == "optimizer" and rng.random() < 0.7:
        args[:1] = [[cr.nn.Parameter(cr.randn(3)) for _ in range(rng.randint(0, 2))]]
    shown = ", ".join([short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()])
    record["call"] = f"{'t.' + name if kind == 'method' else label}({shown})" + (
        f"  t={short(this)}" if this is not None else ""
    )
    try:
        result = fn(this, *args, **kwargs) if kind == "method" else fn(*args, **kwargs)
        if kind == "layer" and rng.random() < 0.7:
            record["phase"] = "forward"
            result = result(tensor(rng, cr))
        elif kind == "optimizer":
            record["phase"] = "step"
            for group in result.param_groups:
                for p in group["params"]:
                    p.grad = cr.ones_like(p)
            result.step()
        if type(result).__name__ == "Tensor" and result.requires_grad and rng.random() < 0.5:
            record["phase"] = "backward"
            result.sum().backward()
        record.update(exc=None)
    except BaseException as e:  # noqa: BLE001 - every escaping exception is classified by the parent
        if isinstance(e, KeyboardInterrupt):
            raise
        frames = traceback.extract_tb(e.__traceback__)
        record.update(
            exc=type(e).__name__,
            module=type(e).__module__,
            mro=[c.__name__ for c in type(e).__mro__],
            msg=str(e)[:400],
            where=f"{where(frames[-1].filename)}:{frames[-1].lineno}" if frames else "",
        )
    finally:
        cr.set_default_dtype(cr.float32)  # a case may change the defaults; the next starts from scratch
        cr.set_default_device(None)
        cr.set_grad_enabled(True) if hasattr(cr, "set_grad_enabled") else None
    return record


def main():
    memory, seed, first, count = (int(a) for a in sys.argv[1:5])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(3000)
    import chainrule as cr

    table = targets(cr)
    real = sys.stdout
    # chainrule.save("sum") and the like write into a scratch directory, never into a checkout
    with tempfile.TemporaryDirectory(prefix="api_fuzz_") as scratch:
        os.chdir(scratch)
        for i in range(first, first + count):
            print(json.dumps({"start": i}), file=real, flush=True)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                record = case(i, seed, table, cr)
            record.update(
                i=i,
                seconds=time.perf_counter() - start,
                peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            )
            print(json.dumps(record), file=real, flush=True)


if __name__ == "__main__":
    main()
