"""y <- y + alpha * x in place, through the BLAS that NumPy's matmul already uses.

An update ``p -= lr * g`` in NumPy is two single-threaded passes and a temporary the size of p;
BLAS ?axpy is one threaded pass with no temporary (1M float32: 0.05 ms against 0.19 ms, and less
cache pollution for the GEMMs that follow). NumPy exposes no axpy, so the routine is looked up with
ctypes in NumPy's own OpenBLAS. NOTE: not scipy.linalg.blas: SciPy ships a second OpenBLAS with its
own thread pool, and the two pools spinning against each other made a training step 3x slower.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_UNSET = object()
# Below this many elements the ctypes call costs more than NumPy's two passes (measured, 2 threads:
# 10k float32 3.7 us against 2.0 us; 64k 5.6 against 7.9 us), and a small model's many small
# parameters would make each optimizer step several times slower.
BLAS_MIN_SIZE = 32768
_routines = _UNSET  # {dtype char: (cblas ?axpy, largest n)}, or {} when NumPy's BLAS is not found


def _numpy_blas_axpy() -> dict:
    """cblas_saxpy / cblas_daxpy of the OpenBLAS loaded by NumPy's wheels, or {} elsewhere."""
    noload = getattr(os, "RTLD_NOLOAD", None)  # POSIX only
    if noload is None:
        return {}
    root = os.path.dirname(np.__file__)
    for path in glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*")) + glob.glob(
        os.path.join(root, ".dylibs", "*openblas*")
    ):
        try:
            # RTLD_NOLOAD: only the library already in this process (its thread pool), never a second copy.
            lib = ctypes.CDLL(path, mode=noload)
        except OSError:
            continue
        for suffix, index, largest in (("64_", ctypes.c_int64, 2**63 - 1), ("", ctypes.c_int, 2**31 - 1)):
            routines = {}
            for char, name, scalar in (("f", "s", ctypes.c_float), ("d", "d", ctypes.c_double)):
                fn = getattr(lib, f"scipy_cblas_{name}axpy{suffix}", None)
                if fn is not None:
                    fn.argtypes = (index, scalar, ctypes.c_void_p, index, ctypes.c_void_p, index)
                    fn.restype = None
                    routines[char] = (fn, largest)
            if routines:
                return routines
    return {}


def axpy(y: np.ndarray, alpha: float, x: np.ndarray) -> None:
    """y <- y + alpha * x, in place.

    One BLAS pass when x and y are distinct C-contiguous float32/float64 arrays of one shape and
    dtype and NumPy's BLAS is reachable; ``y += alpha * x`` otherwise (same result up to rounding
    of the product, which BLAS may fuse).
    """
    global _routines
    if y.size >= BLAS_MIN_SIZE:
        if _routines is _UNSET:
            _routines = _numpy_blas_axpy()
        found = _routines.get(y.dtype.char) if x.dtype == y.dtype and x.shape == y.shape else None
        if (
            found is not None
            and y.size <= found[1]
            and y.flags.c_contiguous
            and y.flags.writeable
            and x.flags.c_contiguous
            and not np.may_share_memory(x, y)
        ):
            found[0](y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
            return
    y += alpha * x
