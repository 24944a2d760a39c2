"""Progress for long work (fit(progress=True), `chainrule train`): a bar where one can be drawn, lines elsewhere.

A carriage-return bar is right in a terminal and wrong in a pipe or a log file (a piped
`chainrule train` wrote 17 KB of frames); in Jupyter the widget needs ipywidgets, and
without it tqdm.auto warns "IProgress not found". progress_bar() picks for each case.
"""

from __future__ import annotations

import math
import sys
import time


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython with a kernel attached), not a terminal IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def _streams_are_terminals() -> bool:
    return all(getattr(f, "isatty", lambda: False)() for f in (sys.stdout, sys.stderr))


def progress_bar(total: int, initial: int = 0):
    """The progress display fit(progress=True) uses, chosen for where the output goes.

    - in Jupyter: tqdm's notebook widget when ipywidgets is installed (the `viz` extra), else
      tqdm's text bar, silently (tqdm.auto would warn "IProgress not found");
    - in a terminal: tqdm's text bar;
    - anywhere else (piped, redirected to a file, CI logs): a plain line every tenth of the run,
      `step 300/1000 (30%), 4.1 s, ~9.6 s left, J=0.66, accu=0.83`, never carriage-return frames.

    Returns an object with tqdm's update(n), set_postfix(**values), write(text) and close().
    """
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook draws with it)
            from tqdm.notebook import tqdm
        except ImportError:
            from tqdm.std import tqdm
        return tqdm(total=total, initial=initial, unit="step", leave=True)
    if _streams_are_terminals():
        from tqdm.std import tqdm

        return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)
    return LineProgress(total, initial)


class LineProgress:
    """Progress as plain lines on stderr, one per tenth of the run (for logs and pipes)."""

    def __init__(self, total: int, initial: int = 0, parts: int = 10):
        self.total, self.n, self.file = total, initial, sys.stderr
        self.every = max(1, math.ceil(total / parts))
        self.start, self.first, self.postfix = time.perf_counter(), initial, ""

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % self.every == 0 or self.n == self.total:
            elapsed = time.perf_counter() - self.start
            done = self.n - self.first
            left = elapsed / done * (self.total - self.n) if done else 0.0
            self.file.write(
                f"step {self.n}/{self.total} ({100 * self.n // max(1, self.total)}%), {elapsed:.1f} s, "
                f"~{left:.1f} s left{self.postfix}\n"
            )
            self.file.flush()

    def set_postfix(self, **values) -> None:
        self.postfix = "".join(f", {k}={v}" for k, v in values.items())

    def write(self, text: str) -> None:
        print(text)

    def close(self) -> None:
        pass
