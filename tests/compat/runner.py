"""Run a tutorial-style script with `chainrule` or with `torch` as the imported library.

A script under scripts/ is written as a PyTorch user would write it, with `chainrule` in its import
lines. For the torch run the word `chainrule` is replaced by `torch` in the source, nothing else. A
script reports the numbers worth comparing as lines `RESULT <name> <value>`.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

SCRIPTS_DIR = Path(__file__).parent / "scripts"


def script_paths():
    return sorted(SCRIPTS_DIR.glob("*.py"))


def source_for(path: Path, library: str) -> str:
    source = path.read_text()
    return source if library == "chainrule" else re.sub(r"\bchainrule\b", library, source)


@contextlib.contextmanager
def _global_state_kept(library):
    """Scripts seed Python's, NumPy's and the library's generators and may change default device/dtype."""
    py_state, np_state = random.getstate(), np.random.get_state()
    if library == "torch":
        import torch

        saved = (torch.random.get_rng_state(), torch.get_default_dtype(), torch.get_default_device())
    else:
        import chainrule
        from chainrule import _dtypes

        saved = (dict(_dtypes._state), chainrule.get_default_device())
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if library == "torch":
            torch.random.set_rng_state(saved[0])
            torch.set_default_dtype(saved[1])
            torch.set_default_device(saved[2])
        else:
            _dtypes._state.clear()
            _dtypes._state.update(saved[0])
            chainrule.set_default_device(saved[1])


def _one_blas_thread():
    """NumPy's BLAS on one thread: on a busy machine its thread pool made these small scripts 10x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def run_script(path: Path, library: str = "chainrule") -> str:
    """Execute the script as __main__ in a fresh namespace and a scratch directory; return its stdout."""
    code = compile(source_for(path, library), str(path), "exec")
    out = io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, _global_state_kept(library), _one_blas_thread():
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(out):
                exec(code, {"__name__": "__main__", "__file__": str(path)})
        finally:
            os.chdir(cwd)
    return out.getvalue()


def results(stdout: str) -> dict[str, float]:
    """The `RESULT name value` lines of a script's output."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(maxsplit=2)
            found[name] = float(value)
    return found


def main(argv=None):
    """`python -m tests.compat.runner [names...]`: run scripts with chainrule and print which run unchanged."""
    import time
    import traceback

    names = set(argv if argv is not None else sys.argv[1:])
    passed = 0
    paths = [p for p in script_paths() if not names or p.stem in names]
    for path in paths:
        start = time.perf_counter()
        try:
            run_script(path, "chainrule")
            status = "ok"
            passed += 1
        except Exception as exc:  # report every failure, keep going
            tb = traceback.extract_tb(exc.__traceback__)
            line = next((f.lineno for f in reversed(tb) if f.filename == str(path)), "?")
            status = f"FAIL line {line}: {type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}"
        print(f"{path.stem:32s} {time.perf_counter() - start:5.2f}s {status}")
    print(f"{passed}/{len(paths)} scripts run unchanged with chainrule")


if __name__ == "__main__":
    main()
