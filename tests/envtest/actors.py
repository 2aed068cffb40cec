"""Other actors on a cluster, over plain HTTP with their own field managers: ``kubectl edit``
(a merge patch, an Update), a second applier (server-side apply), a controller writing
``/status``, ``kubectl scale`` (the scale subresource), a JSON patch deleting one field.
They work against the real API server and the Kubernetes test server alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.envtest.raw import RawClient

from starform_adapters.kubernetes import resource_for
from starform_core.kube.objects import ObjectKey, key_of

__all__ = ["Actor"]

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _path(key: ObjectKey, subresource: str = "") -> str:
    path = resource_for(key).object_path(name=key.name, namespace=key.namespace or None)
    return f"{path}/{subresource}" if subresource else path


class Actor:
    """Writes as field manager ``manager``; every method returns the live object (or raises
    ``AssertionError`` with the server's answer when the write is refused)."""

    def __init__(self, raw: RawClient, manager: str) -> None:
        self.raw = raw
        self.manager = manager

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """POST (an Update by this manager)."""
        key = key_of(obj)
        rtype = resource_for(key)
        path = rtype.collection_path(key.namespace or None)
        return dict(
            self.raw.request("POST", path, query=[("fieldManager", self.manager)], body=dict(obj)).expect(201)
        )

    def apply(self, obj: Mapping[str, Any], *, force: bool = False, subresource: str = "") -> dict[str, Any]:
        """Server-side apply (a second applier)."""
        query = [("fieldManager", self.manager)] + ([("force", "true")] if force else [])
        reply = self.raw.request(
            "PATCH", _path(key_of(obj), subresource), query=query, body=dict(obj), content_type=APPLY
        )
        return dict(reply.expect(200, 201))

    def edit(self, obj: Mapping[str, Any], *, subresource: str = "") -> dict[str, Any]:
        """A JSON merge patch of ``obj`` without its identity (what ``kubectl edit`` sends)."""
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        metadata = {
            k: v for k, v in (body.pop("metadata", None) or {}).items() if k not in ("name", "namespace")
        }
        if metadata:
            body["metadata"] = metadata
        reply = self.raw.request(
            "PATCH",
            _path(key_of(obj), subresource),
            query=[("fieldManager", self.manager)],
            body=body,
            content_type=MERGE,
        )
        return dict(reply.expect(200))

    def json_patch(self, key: ObjectKey, operations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """An RFC 6902 patch (``kubectl patch --type=json``), e.g. removing one field."""
        reply = self.raw.request(
            "PATCH",
            _path(key),
            query=[("fieldManager", self.manager)],
            body=[dict(op) for op in operations],
            content_type=JSON_PATCH,
        )
        return dict(reply.expect(200))

    def scale(self, key: ObjectKey, replicas: int) -> dict[str, Any]:
        """``kubectl scale``: a merge patch of the ``scale`` subresource."""
        reply = self.raw.request(
            "PATCH",
            _path(key, "scale"),
            query=[("fieldManager", self.manager)],
            body={"spec": {"replicas": replicas}},
            content_type=MERGE,
        )
        return dict(reply.expect(200))

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        """The live object, or ``None``."""
        reply = self.raw.request("GET", _path(key))
        return None if reply.status == 404 else dict(reply.expect(200))

    def delete(self, key: ObjectKey) -> None:
        """Delete (already gone is fine)."""
        self.raw.request("DELETE", _path(key)).expect(200, 202, 404)
