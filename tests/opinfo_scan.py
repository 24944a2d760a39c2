"""Op-table entries for the scans and orderings (chainrule/ops/scan.py): cumulative sums and products,
running extrema, sorting. Read by tests/opinfo.py, which adds them to OP_TABLE."""

from __future__ import annotations

OPS = []
