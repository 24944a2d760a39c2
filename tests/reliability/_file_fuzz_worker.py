"""Child process of test_file_fuzz.py: load each case file under a memory and time limit, report the outcome.

    python _file_fuzz_worker.py SRC MANIFEST RESULTS START

Reads the cases (index, format, path, whether a checksum guards the content) from MANIFEST and
appends one JSON line per case to RESULTS, writing {"i": n, "start": true} first so that the
parent can name the case that hung or killed this process. Outcomes:

- refused: a ValueError or FileNotFoundError naming the file (what a user should see);
- loaded: the reader returned arrays that pass the format's checks (shapes, dtypes, labels,
  and for checksummed formats, values equal to the unmutated file's);
- unclear (a refusal that does not name the file), crash (any other exception), memory
  (MemoryError: an allocation past the limit), hang (over CASE_SECONDS), silent (loaded wrong
  data) are failures.
"""

import json
import os
import resource
import signal
import sys
import traceback
import tracemalloc

CASE_SECONDS = 5
MEMORY_HEADROOM = 1 << 30  # address space allowed beyond what the imports took
PEAK_CAP = 64 << 20  # traced allocation allowed for one case, plus 100x the file's size


def _limit_memory():
    if not os.path.exists("/proc/self/status"):
        return  # not Linux: the time limit and the traced peak still apply
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + MEMORY_HEADROOM, vm + MEMORY_HEADROOM))


def _readers():
    import chainrule as cr
    from chainrule import data
    from chainrule.data import readers

    def split_arrays(d):
        return {"x_train": d.x_train, "y_train": d.y_train, "x_test": d.x_test, "y_test": d.y_test}

    return {
        "safetensors": lambda p: _arrays_of(cr.load(p)),
        "npz": lambda p: readers.read_npz(p),
        "npz_data": lambda p: split_arrays(data.load(p, test_fraction=0.25)),
        "csv": lambda p: split_arrays(data.load(p, test_fraction=0.25)),
        "idx": lambda p: {"a": readers.read_idx(p)},
        "idx_gz": lambda p: {"a": readers.read_idx(p)},
    }


def _arrays_of(tree, prefix=""):
    """The arrays of a loaded checkpoint, by path."""
    import numpy as np

    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(_arrays_of(v, f"{prefix}{k}."))
    elif isinstance(tree, list):
        for k, v in enumerate(tree):
            out.update(_arrays_of(v, f"{prefix}{k}."))
    elif hasattr(tree, "_data"):
        out[prefix] = tree._data
    elif isinstance(tree, np.ndarray):
        out[prefix] = tree
    return out


def _check(fmt, arrays, original, checksummed):
    """None if the loaded arrays are plausible, else what is wrong."""
    import numpy as np

    if fmt in ("csv", "npz_data"):
        x, y = arrays["x_train"], arrays["y_train"]
        if x.dtype != np.float32 or y.dtype != np.int64 or len(x) != len(y) or y.ndim != 1:
            return f"inconsistent splits: x {x.shape} {x.dtype}, y {y.shape} {y.dtype}"
    if checksummed:
        for key in set(arrays) & set(original):
            a, b = np.asarray(arrays[key]), np.asarray(original[key])
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                return f"array {key!r} differs from the unmutated file's although a checksum guards it"
    return None


class _Timeout(BaseException):
    pass


def main():
    src, manifest, results, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path.insert(0, src)
    readers = _readers()
    import numpy as np  # noqa: F401  (imported before the limit, with the readers)

    with open(manifest) as f:
        cases = json.load(f)
    originals = {fmt: readers[fmt](path) for fmt, path in cases["originals"].items()}
    _limit_memory()

    def alarm(*_):
        raise _Timeout()

    signal.signal(signal.SIGALRM, alarm)
    with open(results, "a") as out:
        for i, fmt, path, checksummed in cases["cases"][start:]:
            out.write(json.dumps({"i": i, "start": True}) + "\n")
            out.flush()
            size = os.path.getsize(path)
            tracemalloc.start()
            signal.alarm(CASE_SECONDS)
            try:
                arrays = readers[fmt](path)
                signal.alarm(0)
                _, peak = tracemalloc.get_traced_memory()
                problem = _check(fmt, arrays, originals[fmt], checksummed)
                if problem is None and peak > PEAK_CAP + 100 * size:
                    problem = f"peak allocation {peak} bytes for a {size}-byte file"
                outcome, detail = ("silent", problem) if problem else ("loaded", "")
            except _Timeout:
                outcome, detail = "hang", f"over {CASE_SECONDS} s"
            except MemoryError as e:
                outcome, detail = "memory", repr(e)[:300]
            except (ValueError, FileNotFoundError) as e:
                signal.alarm(0)
                named = os.path.basename(path) in str(e)
                outcome, detail = ("refused" if named else "unclear"), f"{type(e).__name__}: {e}"[:300]
            except Exception as e:  # noqa: BLE001 - every other exception is a finding
                signal.alarm(0)
                where = traceback.extract_tb(e.__traceback__)[-1]
                outcome = "crash"
                detail = f"{type(e).__name__}: {e} ({os.path.basename(where.filename)}:{where.lineno})"[:300]
            finally:
                signal.alarm(0)
                tracemalloc.stop()
            out.write(json.dumps({"i": i, "fmt": fmt, "outcome": outcome, "detail": detail}) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
