"""Screen what Shuttle lists from the cluster before the planner and the health assessment read it.

Every live object goes through :func:`~starform_core.kube.validate_live.validate_live_object`.
One that fails (a field of the wrong type, a broken managed-fields tree: an API server or a
webhook gone wrong, an aggregated API serving garbage) is left out, with one WARNING per object
version (object, JSON pointer, reason: never a value) and the
``shuttle_live_objects_invalid{source}`` gauge; a reconcile never crashes on it. What is safe to
do about an object whose content is unknown: nothing. Its identity, when it has a readable one,
goes to the plan pipeline as *unreadable*, so a desired object of that name is held
(``live-object-invalid``) rather than applied over something Shuttle cannot see, and an object
that is not desired is never pruned (Shuttle cannot tell whether it owns it).

A verdict is kept per object version (``uid`` and ``resourceVersion``), so an unchanged view
costs a lookup per object, not a walk of each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from prometheus_client import Gauge

from starform_core.errors import LiveObjectError
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.validate_live import validate_live_object

__all__ = ["LiveScreen", "LiveScreens", "Screened", "readable_key"]

_log = logging.getLogger("starform.shuttle")

_Version = tuple[str, str]
"""``(uid, resourceVersion)``: one version of one object (a recreated object has a new uid)."""


@attrs.frozen
class Screened:
    """The objects that passed, and the identities of those that did not (when readable)."""

    objects: tuple[KubeObject, ...]
    unreadable: frozenset[ObjectKey] = frozenset()
    rejected: int = 0


def readable_key(obj: object) -> ObjectKey | None:
    """The identity of a live object when its ``apiVersion``, ``kind`` and name can be read."""
    if not isinstance(obj, Mapping):
        return None
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    identity = (obj.get("apiVersion"), obj.get("kind"), metadata.get("name"))
    named = all(isinstance(v, str) and v for v in identity)
    namespace = metadata.get("namespace")
    return key_of(obj) if named and (namespace is None or isinstance(namespace, str)) else None


def _version(obj: object) -> _Version | None:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(metadata, Mapping):
        return None
    uid, resource_version = metadata.get("uid"), metadata.get("resourceVersion")
    if isinstance(uid, str) and uid and isinstance(resource_version, str) and resource_version:
        return (uid, resource_version)
    return None


class LiveScreen:
    """Validates the objects of one source (``cluster``, ``health``, ``target``) of live reads."""

    def __init__(self, source: str, gauge: Gauge) -> None:
        self._source = source
        self._gauge = gauge.labels(source=source)
        self._verdicts: dict[_Version, str | None] = {}

    def _verdict(self, obj: Any, index: int) -> str | None:
        """``None`` when ``obj`` is well-formed, else why not (warned once per version)."""
        version = _version(obj)
        if version is not None and version in self._verdicts:
            return self._verdicts[version]
        try:
            validate_live_object(obj, index=index)
            reason = None
        except LiveObjectError as exc:
            reason = str(exc)
            _log.warning(
                "live object invalid: left out of planning and health",
                extra={
                    "source": self._source,
                    "object": exc.obj,
                    "pointer": exc.pointer,
                    "reason": exc.reason,
                },
            )
        if version is not None:
            self._verdicts[version] = reason
        return reason

    def screen(self, objects: Iterable[Any]) -> Screened:
        """Split ``objects`` into the well-formed ones and the identities of the others."""
        kept: list[KubeObject] = []
        unreadable: set[ObjectKey] = set()
        seen: set[_Version] = set()
        rejected = 0
        for index, obj in enumerate(objects):
            version = _version(obj)
            if version is not None:
                seen.add(version)
            if self._verdict(obj, index) is None:
                kept.append(obj)
                continue
            rejected += 1
            key = readable_key(obj)
            if key is not None:
                unreadable.add(key)
        for gone in self._verdicts.keys() - seen:
            del self._verdicts[gone]
        self._gauge.set(rejected)
        return Screened(objects=tuple(kept), unreadable=frozenset(unreadable), rejected=rejected)


@attrs.frozen
class LiveScreens:
    """One screen per source of live reads, shared by the plan step and the status reporter."""

    cluster: LiveScreen
    health: LiveScreen
    target: LiveScreen

    @classmethod
    def counted_by(cls, gauge: Gauge) -> LiveScreens:
        """Screens reporting to ``gauge`` (``shuttle_live_objects_invalid``) under their source."""
        return cls(
            cluster=LiveScreen("cluster", gauge),
            health=LiveScreen("health", gauge),
            target=LiveScreen("target", gauge),
        )
