"""Pytrees, as JAX calls them: nests of tuples, lists, dicts and namedtuples whose other values are
leaves. The transforms (autograd/functional.py) and the jit (autograd/jit/api.py) flatten their
arguments and results with `tree_flatten` and rebuild them with the returned `TreeDef`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class TreeDef:
    """The shape of a nest of tuples, lists, dicts and namedtuples; calling it rebuilds the nest.

    A leaf is anything else (None included). Dicts are walked in sorted key order, as JAX
    does, so two dicts with the same keys flatten alike; they are rebuilt in their own order.
    Keys that cannot be sorted (mixed types, which JAX refuses) are walked in the dict's own
    order, so two such dicts flatten alike only when their keys come in the same order.
    Two TreeDefs are equal when their containers, keys (in walking order) and nesting are
    (as JAX's PyTreeDef).
    """

    __slots__ = ("kind", "keys", "order", "children", "num_leaves")

    def __init__(
        self, kind: type | None, keys: tuple | None, order: tuple | None, children: tuple[TreeDef, ...]
    ) -> None:
        self.kind, self.keys, self.order, self.children = kind, keys, order, children
        self.num_leaves = 1 if kind is None or kind is type(None) else sum(c.num_leaves for c in children)

    def __call__(self, leaves: Iterable[Any]) -> Any:
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"tree: expected {self.num_leaves} leaves to rebuild {self}, got {len(leaves)}")
        return self._build(iter(leaves))

    def _build(self, it):
        if self.kind is None or self.kind is type(None):
            return next(it)
        parts = [c._build(it) for c in self.children]
        if self.kind is dict:
            by_key = dict(zip(self.keys, parts))
            return {k: by_key[k] for k in self.order}
        if hasattr(self.kind, "_fields"):
            return self.kind(*parts)
        return self.kind(parts)

    def __eq__(self, other):
        if not isinstance(other, TreeDef) or self.kind is not other.kind or len(self.children) != len(other.children):
            return False
        # children follow self.keys: sorted, or the dict's own order when the keys cannot be sorted
        # (mixed types); the same keys in another order would pair each child with another key's
        if self.kind is dict and list(self.keys) != list(other.keys):
            return False
        return all(a == b for a, b in zip(self.children, other.children))

    def __hash__(self):
        return hash((self.kind, len(self.children)))

    def __repr__(self):
        if self.kind is None:
            return "*"
        if self.kind is type(None):
            return "None"
        inner = [repr(c) for c in self.children]
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.keys, inner)) + "}"
        if self.kind is list:
            return "[" + ", ".join(inner) + "]"
        if self.kind is tuple:
            return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        return f"{self.kind.__name__}(" + ", ".join(inner) + ")"


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: keep the dict's own order
        return list(d)


def _flatten_into(tree, leaves):
    if isinstance(tree, dict):
        keys = _sorted_keys(tree)
        return TreeDef(dict, keys, list(tree), [_flatten_into(tree[k], leaves) for k in keys])
    if isinstance(tree, (tuple, list)):
        return TreeDef(type(tree), None, None, [_flatten_into(v, leaves) for v in tree])
    leaves.append(tree)
    return TreeDef(type(None) if tree is None else None, None, None, [])


def tree_flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of a (tuple, list, dict) nest, and its TreeDef, which rebuilds the nest from new leaves.

    Example:
        >>> leaves, treedef = tree_flatten({"w": 1.0, "b": (2.0, 3.0)})
        >>> leaves, treedef                    # ([2.0, 3.0, 1.0], {'b': (*, *), 'w': *})
        >>> treedef([x * 10 for x in leaves])  # {'w': 10.0, 'b': (20.0, 30.0)}
    """
    leaves = []
    treedef = _flatten_into(tree, leaves)
    return leaves, treedef
