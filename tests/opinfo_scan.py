"""Op-table entries for the scans and orderings (chainrule/ops/scan.py): cumulative sums and products,
running extrema, sorting. Read by tests/opinfo.py, which adds them to OP_TABLE."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from opinfo import OpSpec, _distinct, _t

SCAN_CASES = [
    (((5,),), dict(dim=0)),
    (((3, 4),), dict(dim=0)),
    (((3, 4),), dict(dim=1)),
    (((3, 4),), dict(dim=-1)),
    (((2, 3, 4),), dict(dim=1)),
    (((2, 3, 4),), dict(dim=-1)),
    (((),), dict(dim=0)),
]

SORT_CASES = [
    (((5,),), dict()),
    (((3, 4),), dict(dim=0)),
    (((3, 4),), dict(dim=1, descending=True)),
    (((2, 3, 4),), dict(dim=-1)),
    (((2, 3, 4),), dict(dim=1, descending=True, stable=True)),
]


def _with_zeros(rng, shapes):
    """cumprod samples with zeros: the (6,) slice holds one zero, the (2, 6) and (6, 2) slices one and
    two, the (3, 6) rows none, one and two; other entries stay away from 0 (finite differences never
    cross it)."""
    (shape,) = shapes
    values = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    zero_positions = {
        (6,): [(2,)],
        (2, 6): [(0, 3), (1, 1), (1, 4)],
        (3, 6): [(1, 0), (2, 2), (2, 5)],
        (6, 2): [(3, 0), (1, 1), (4, 1)],
    }
    for position in zero_positions.get(shape, []):
        values[position] = 0.0
    return [values]


def _signed_away_from_zero(rng, shapes):
    (shape,) = shapes
    return [rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)]


def _np_sort(x, dim=-1, descending=False, stable=False):
    if np.ndim(x) == 0:
        return x
    return np.flip(np.sort(x, axis=dim), axis=dim) if descending else np.sort(x, axis=dim)


def _np_running(accumulate):
    def ref(x, dim):
        return accumulate(x.reshape(x.shape or (1,)), axis=dim).reshape(x.shape)

    return ref


OPS = [
    OpSpec("cumsum", lambda x, **k: cr.cumsum(x, **k), _np_running(np.cumsum), _t("cumsum"), cases=SCAN_CASES),
    OpSpec(
        "cumsum_method_dtype",
        lambda x, dim: x.cumsum(dim, dtype=cr.float64),
        lambda x, dim: np.cumsum(x, axis=dim),
        lambda x, dim: x.cumsum(dim, dtype=x.dtype),
        cases=[(((3, 4),), dict(dim=1))],
        keeps_dtype=False,
    ),
    OpSpec(
        "cumprod",
        lambda x, **k: cr.cumprod(x, **k),
        _np_running(np.cumprod),
        _t("cumprod"),
        cases=SCAN_CASES,
        make_args=_signed_away_from_zero,
    ),
    OpSpec(
        "cumprod_zeros",
        lambda x, **k: x.cumprod(**k),
        _np_running(np.cumprod),
        _t("cumprod"),
        cases=[(((6,),), dict(dim=0)), (((2, 6),), dict(dim=1)), (((3, 6),), dict(dim=-1)), (((6, 2),), dict(dim=0))],
        make_args=_with_zeros,
    ),
    OpSpec(
        "cummax",
        lambda x, dim: cr.cummax(x, dim).values,
        _np_running(np.maximum.accumulate),
        lambda x, dim: _t("cummax")(x, dim).values,
        cases=SCAN_CASES,
        make_args=_distinct,
    ),
    OpSpec(
        "cummin",
        lambda x, dim: x.cummin(dim).values,
        _np_running(np.minimum.accumulate),
        lambda x, dim: _t("cummin")(x, dim).values,
        cases=SCAN_CASES,
        make_args=_distinct,
    ),
    OpSpec(
        "sort",
        lambda x, **k: cr.sort(x, **k).values,
        _np_sort,
        lambda x, **k: _t("sort")(x, **k).values,
        cases=SORT_CASES + [(((),), dict())],
        make_args=_distinct,
    ),
    OpSpec(
        "sort_method",
        lambda x, **k: x.sort(**k).values,
        _np_sort,
        lambda x, **k: x.sort(**k).values,
        cases=[(((3, 4),), dict(dim=0, descending=True))],
        make_args=_distinct,
    ),
]
