"""Hypothesis strategies for JSON trees and structural mutations of them.

``JSON_VALUES`` draws arbitrary JSON values with nasty scalars (huge integers, non-JSON text,
values that break a named format); :func:`mutated` applies one to four random structural
mutations (set, swap with a same-typed value from elsewhere, delete, rename a key, duplicate a list
item) to a deep copy of a tree.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

__all__ = ["JSON_VALUES", "NASTY_TEXT", "SCALARS", "Path", "mutated", "parent_of", "paths"]

Path = tuple[str | int, ...]

NASTY_TEXT = [
    "",
    "x\n",
    "\ud800",
    "1e999999",
    "8Ei",
    "99 99 99 99 99",
    "@every 1h",
    "Mars/Olympus",
    "169.254.169.254/32",
    "registry.example.com:99999/a@sha256:" + "4f" * 32,
    "Deployment:/spec\n",
    "k:{bad",
    "../../etc/passwd",
    "a" * 300,
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(NASTY_TEXT),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
"""Arbitrary JSON values (and a lone surrogate among the texts: not every value is valid JSON)."""


def paths(node: Any, path: Path = ()) -> Iterator[Path]:
    """Every path into ``node``, the root's ``()`` first."""
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from paths(child, (*path, index))


def parent_of(root: Any, path: Path) -> Any:
    """The container holding the node at ``path`` (a non-empty path)."""
    node = root
    for part in path[:-1]:
        node = node[part]
    return node


def _mutate(data: st.DataObject, root: Any) -> Any:
    """One random structural mutation of a JSON tree (the root itself may be replaced)."""
    path = data.draw(st.sampled_from(list(paths(root))), label="path")
    operation = data.draw(
        st.sampled_from(["set", "swap", "swap", "delete", "rename", "duplicate"]), label="op"
    )
    if not path:
        return data.draw(JSON_VALUES) if operation == "set" else root
    parent, last = parent_of(root, path), path[-1]
    if operation == "set":
        parent[last] = data.draw(JSON_VALUES, label="value")
    elif operation == "swap":
        # a value from elsewhere in the tree, of the same JSON type: plausible, often still valid
        kind = type(parent[last])
        others = [
            p for p in paths(root) if p and type(parent_of(root, p)[p[-1]]) is kind and p[: len(path)] != path
        ]
        if others:
            source = data.draw(st.sampled_from(others), label="from")
            parent[last] = copy.deepcopy(parent_of(root, source)[source[-1]])
    elif operation == "delete":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="key")] = parent.pop(last)
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(int(last), copy.deepcopy(parent[int(last)]))
    return root


def mutated(data: st.DataObject, root: Any) -> Any:
    """A deep copy of ``root`` after one to four random mutations."""
    tree = copy.deepcopy(root)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        tree = _mutate(data, tree)
    return tree
