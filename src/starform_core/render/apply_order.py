"""A rendering's objects in apply order, and keeping that order across incremental renders.

Objects travel with their :data:`~starform_core.kube.ordering.ApplyOrderKey`; the keys of one
rendering are unique (every object has its own identity), so an object's place is found by
bisection.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any, Final, TypeAlias

from starform_core.kube.ordering import APPLY_RANK, UNKNOWN_RANK, ApplyOrderKey

__all__ = ["BISECT_LIMIT", "KeyedObject", "rendered_order_key", "reordered", "sorted_objects"]

KeyedObject: TypeAlias = tuple[ApplyOrderKey, dict[str, Any]]
"""A rendered object with its place in the apply order."""

BISECT_LIMIT: Final = 64
"""Up to this many objects out and in, they are moved one by one; beyond it, sorted afresh."""

_KEY = itemgetter(0)


def rendered_order_key(obj: dict[str, Any]) -> ApplyOrderKey:
    """:func:`~starform_core.kube.ordering.apply_order_key` of an object the renderer built.

    The same tuple, read without the conversions a foreign object needs: a rendered object
    always has a string ``apiVersion``, ``kind`` and ``metadata.name`` (a test holds the two
    functions equal over rendered payloads).
    """
    kind = obj["kind"]
    metadata = obj["metadata"]
    return (
        APPLY_RANK.get(kind, UNKNOWN_RANK),
        obj["apiVersion"].rpartition("/")[0],
        kind,
        metadata.get("namespace") or "",
        metadata["name"],
    )


def sorted_objects(keyed: list[KeyedObject]) -> list[KeyedObject]:
    """``keyed`` sorted into apply order in place (stable; returned for convenience)."""
    keyed.sort(key=_KEY)
    return keyed


def _moved(
    order: tuple[KeyedObject, ...], out: Mapping[ApplyOrderKey, object], into: list[KeyedObject]
) -> list[KeyedObject] | None:
    """``order`` without ``out`` and with ``into``, by bisection; ``None`` if an object to take
    out is not where its key says (keys were not unique: the caller sorts instead)."""
    keyed = list(order)
    for key, obj in out.items():
        index = bisect_left(keyed, key, key=_KEY)
        if index == len(keyed) or keyed[index][1] is not obj:
            return None
        del keyed[index]
    for item in into:
        insort(keyed, item, key=_KEY)
    return keyed


def reordered(
    order: tuple[KeyedObject, ...],
    out: Mapping[ApplyOrderKey, object],
    into: Iterable[KeyedObject],
) -> tuple[KeyedObject, ...]:
    """``order`` (sorted) without the objects ``out`` names (key -> the very object) and with
    those ``into`` holds, still sorted: what a full sort of the result would give."""
    adding = list(into)
    if not out and not adding:
        return order
    if len(out) + len(adding) <= BISECT_LIMIT:
        moved = _moved(order, out, adding)
        if moved is not None:
            return tuple(moved)
    leaving = {id(obj) for obj in out.values()}
    keyed = [item for item in order if id(item[1]) not in leaving]
    keyed.extend(adding)
    return tuple(sorted_objects(keyed))
