"""What the fuzz tests' worker subprocesses share: their environment and a reader of their output."""

import os
import pathlib
import queue
import threading

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"


def worker_env(src_variable):
    """The environment of a worker: one BLAS thread (cases are small; many threads only add noise), and
    chainrule from src/, or from the directory named by the environment variable `src_variable` (to run
    the same cases on other code)."""
    return dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([os.environ.get(src_variable, str(SRC)), os.environ.get("PYTHONPATH", "")]),
    )


def line_queue(stream):
    """A queue that a daemon thread fills with the lines of `stream`, then None at its end: the parent
    waits on it with a timeout, so that a hung worker can be killed."""
    lines = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines
