"""import time of `import chainrule`, in a fresh interpreter each time (best of several runs)."""

from __future__ import annotations

import os
import subprocess
import sys

import _common  # noqa: F401
from _common import QUICK, report, save

RUNS = 3 if QUICK else 7
CODE = "import time; t = time.perf_counter(); import chainrule; print(time.perf_counter() - t)"


def run():
    times = []
    for _ in range(RUNS):
        env = dict(os.environ, PYTHONPATH=str(_common.HERE.parent / "src"))  # this checkout's chainrule
        out = subprocess.run(
            [sys.executable, "-c", CODE],
            capture_output=True,
            text=True,
            check=True,
            cwd=str(_common.HERE.parent),
            env=env,
        )
        times.append(float(out.stdout.strip()))
    rows = [
        ("import chainrule best", min(times), "s (target < 0.3)"),
        ("import chainrule median", sorted(times)[len(times) // 2], "s"),
    ]
    result = report(f"import time (best of {RUNS})", rows)
    save("import", result)
    return result


if __name__ == "__main__":
    run()
