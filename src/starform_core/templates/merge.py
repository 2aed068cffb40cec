"""JSON Merge Patch (RFC 7396) and its inverse: how a user's changes apply to a base spec.

A change document is a merge patch over the spec's JSON form: objects merge key by key, ``null``
removes a key, anything else (a number, a string, a list) replaces the value whole.
:func:`merge_patch` is the RFC's own algorithm (section 2); :func:`merge_diff` computes the
smallest patch that turns one document into another, so that, for documents without ``null``
values, ``merge_patch(a, merge_diff(a, b)) == b``. :func:`changed_pointers` names the leaves a
patch touches as JSON pointers (RFC 6901).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["changed_pointers", "escape_pointer", "merge_diff", "merge_patch", "pointer_of"]


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``target`` (RFC 7396 section 2); neither argument is modified."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest merge patch turning ``before`` into ``after`` (``{}`` when they are equal).

    Keys of ``before`` missing from ``after`` become ``null``; objects on both sides are diffed
    key by key; any other difference replaces the value (lists whole, as RFC 7396 does).
    """
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        old = before.get(key)
        if key in before and _same(old, value):
            continue
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            patch[key] = merge_diff(old, value)
        else:
            patch[key] = value
    return patch


def _same(left: Any, right: Any) -> bool:
    """JSON equality: ``1 != True`` and ``1 == 1.0`` as JSON readers see them."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return bool(left == right)


def escape_pointer(token: object) -> str:
    """One reference token of a JSON pointer (``~`` as ``~0``, ``/`` as ``~1``)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(parts: Iterable[object]) -> str:
    """The JSON pointer of a path (``["resources", "cpu_limit"]`` -> ``/resources/cpu_limit``)."""
    return "".join("/" + escape_pointer(part) for part in parts)


def changed_pointers(patch: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The JSON pointer of every leaf ``patch`` sets or removes, in document order."""
    for key, value in patch.items():
        pointer = f"{prefix}/{escape_pointer(key)}"
        if isinstance(value, Mapping) and value:
            yield from changed_pointers(value, pointer)
        else:
            yield pointer
