"""The one RFC 6902 JSON patch Shuttle sends: remove fields other managers added.

Built here, once, for the planner (:meth:`~starform_core.plan.actions.RemoveFields.json_patch`)
and the Kubernetes adapter (``KubernetesCluster.remove_fields``) alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["removal_patch"]


def removal_patch(paths: Iterable[str], *, guards: Iterable[tuple[str, Any]] = ()) -> list[dict[str, Any]]:
    """A ``test`` operation per guard (pointer, value), then a ``remove`` per pointer, in order.

    The tests come first: if a list shifted since the pointers were computed, the server refuses
    the whole patch (422) and nothing is removed by a stale index.
    """
    tests = [{"op": "test", "path": pointer, "value": value} for pointer, value in guards]
    return [*tests, *({"op": "remove", "path": pointer} for pointer in paths)]
