"""import time of `import chainrule`, in a fresh interpreter each time (best of several runs).

The checked figure reads chainrule's bytecode, compiled first (`compileall`), as an installed
package does. This machine's environment sets PYTHONDONTWRITEBYTECODE=1, so without that step every
import would compile the whole package from source again (one run: 0.42-0.54 s against 0.13-0.18 s):
that figure is printed too (chainrule's bytecode removed first), not checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import _common  # noqa: F401
from _common import QUICK, report, save

RUNS = 3 if QUICK else 7
CODE = "import time; t = time.perf_counter(); import chainrule; print(time.perf_counter() - t)"


def _import_times(**env):
    times = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", CODE],
            capture_output=True,
            text=True,
            check=True,
            cwd=str(_common.HERE.parent),
            env=dict(os.environ, PYTHONPATH=str(_common.HERE.parent / "src"), **env),  # this checkout's chainrule
        )
        times.append(float(out.stdout.strip()))
    return min(times), sorted(times)[len(times) // 2]


def run():
    package = _common.HERE.parent / "src" / "chainrule"
    for cache in package.rglob("__pycache__"):
        shutil.rmtree(cache)
    source_best, _ = _import_times(PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    best, median = _import_times()
    rows = [
        ("import chainrule best", best, "s (target < 0.3)"),
        ("import chainrule median", median, "s"),
        ("import chainrule best, compiling chainrule from source", source_best, "s"),
    ]
    result = report(f"import time (best of {RUNS})", rows)
    save("import", result)
    return result


if __name__ == "__main__":
    run()
