"""An in-memory :class:`~starform_core.ports.cluster.ClusterPort` (and
:class:`~starform_core.ports.pods.PodWatch`, :class:`~starform_core.ports.claims.ClaimWatch`): the
cluster port's test double.

It stores objects by :class:`~starform_core.kube.objects.ObjectKey`, stamps ``uid`` and
``resourceVersion`` like an API server, logs every call, and fails on demand per object::

    cluster = FakeCluster()
    cluster.fail(key, ClusterApiError("boom", status=500))          # every write of ``key``
    cluster.fail(key, verbs=("delete",), times=1)                   # only the next delete
    execute(cluster, actions)
    assert cluster.calls_for(key) == [ClusterCall("apply", key)]

Like a real API server it refuses a namespaced object whose Namespace does not exist (set
``require_namespaces=False`` to turn that off). It does no defaulting, validation or
field-ownership tracking; use the Kubernetes test server for those. ``remove_fields`` checks its
``guards`` (JSON pointer, expected value) like the real adapter's JSON-patch ``test`` operations.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from starform_core.errors import ClusterApiError, ClusterConflictError, ClusterNotFoundError
from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.ports.claims import ClaimListener
from starform_core.ports.pods import PodListener

__all__ = ["ClusterCall", "FakeCluster"]

VERBS = ("get", "apply", "remove_fields", "delete")
"""The port calls a failure can target."""

HEALTH_KINDS = frozenset({"Pod", "Job"})
"""Kinds :meth:`FakeCluster.health_objects` returns (not part of :meth:`FakeCluster.live_objects`)."""


@attrs.frozen
class ClusterCall:
    """One call made on the fake: the verb, the object, for applies the ``force`` flag, and the
    caller's ``request_id`` (the ``Audit-ID`` a real API server would record)."""

    verb: str
    key: ObjectKey
    force: bool | None = None
    request_id: str | None = attrs.field(default=None, eq=False)


@attrs.define
class _Failure:
    error: ClusterApiError
    verbs: frozenset[str]
    remaining: int | None


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


class FakeCluster:
    """Implements :class:`~starform_core.ports.cluster.ClusterPort` in memory (thread-safe)."""

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] = (),
        *,
        unsupported_kinds: Iterable[str] = (),
        require_namespaces: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._failures: dict[ObjectKey, _Failure] = {}
        self._versions = itertools.count(1)
        self._revision = 0
        self._unsupported = set(unsupported_kinds)
        self._require_namespaces = require_namespaces
        self.calls: list[ClusterCall] = []
        self.relists = 0
        """Calls of :meth:`relist` (a reconcile Starbase asked for lists afresh)."""
        self._pod_listeners: list[PodListener] = []
        self._claim_listeners: list[ClaimListener] = []
        for obj in objects:
            self.put(obj)

    # test controls -------------------------------------------------------------------------
    def put(self, obj: Mapping[str, Any]) -> KubeObject:
        """Store ``obj`` as another actor would (no call is logged, no failure applies)."""
        with self._lock:
            return self._store(obj)

    def fail(
        self,
        key: ObjectKey,
        error: ClusterApiError | None = None,
        *,
        verbs: Iterable[str] = ("apply", "remove_fields", "delete"),
        times: int | None = None,
    ) -> None:
        """Make ``verbs`` on ``key`` raise ``error`` (a 500 by default), ``times`` times or forever."""
        chosen = frozenset(verbs)
        unknown = chosen - set(VERBS)
        if unknown:
            raise ValueError(f"unknown verbs {sorted(unknown)}; choose from {VERBS}")
        with self._lock:
            self._failures[key] = _Failure(
                error=error or ClusterApiError(f"injected failure for {key}", status=500),
                verbs=chosen,
                remaining=times,
            )

    def heal(self, key: ObjectKey | None = None) -> None:
        """Stop failing ``key`` (every key when ``None``)."""
        with self._lock:
            if key is None:
                self._failures.clear()
            else:
                self._failures.pop(key, None)

    def unsupport(self, kind: str) -> None:
        """Stop serving ``kind`` (as if its CRD were uninstalled)."""
        with self._lock:
            self._unsupported.add(kind)

    def objects(self) -> list[KubeObject]:
        """Copies of every stored object, owned or not."""
        with self._lock:
            return [copy.deepcopy(obj) for obj in self._objects.values()]

    def stored(self, key: ObjectKey) -> KubeObject | None:
        """A copy of the stored object at ``key`` (no call is logged)."""
        with self._lock:
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def calls_for(self, key: ObjectKey) -> list[ClusterCall]:
        """The calls made on ``key``, in order."""
        with self._lock:
            return [call for call in self.calls if call.key == key]

    def writes(self) -> list[ClusterCall]:
        """Every apply, remove_fields and delete call, in order (failed ones included)."""
        with self._lock:
            return [call for call in self.calls if call.verb != "get"]

    # the port ------------------------------------------------------------------------------
    def live_objects(self) -> Sequence[KubeObject]:
        """Copies of the stored objects Shuttle owns (its managed-by label), except pods and jobs."""
        with self._lock:
            return [
                copy.deepcopy(obj)
                for key, obj in self._objects.items()
                if key.kind not in HEALTH_KINDS and _owned(obj)
            ]

    def relist(self) -> None:
        """Counted in :attr:`relists` (the fake has no cache: :meth:`live_objects` is always fresh)."""
        with self._lock:
            self.relists += 1

    def health_objects(self) -> Sequence[KubeObject]:
        """Copies of the owned pods and jobs."""
        with self._lock:
            return [
                copy.deepcopy(obj)
                for key, obj in self._objects.items()
                if key.kind in HEALTH_KINDS and _owned(obj)
            ]

    def get(self, key: ObjectKey) -> KubeObject | None:
        """A copy of the object, or ``None``."""
        with self._lock:
            self._call("get", key)
            obj = self._objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def apply(self, body: Mapping[str, Any], *, force: bool, request_id: str | None = None) -> KubeObject:
        """Store ``body`` merged over the live object's metadata (uid kept, resourceVersion bumped)."""
        key = key_of(body)
        with self._lock:
            self._call("apply", key, force=force, request_id=request_id)
            if key.kind in self._unsupported:
                raise ClusterNotFoundError(f"the server could not find the requested resource ({key.kind})")
            if self._require_namespaces and key.namespace:
                namespace = ObjectKey(group="", kind="Namespace", namespace="", name=key.namespace)
                if namespace not in self._objects:
                    raise ClusterNotFoundError(f'namespaces "{key.namespace}" not found', status=404)
            return copy.deepcopy(self._store(body))

    def remove_fields(
        self,
        key: ObjectKey,
        paths: Sequence[str],
        *,
        guards: Sequence[tuple[str, Any]] = (),
        request_id: str | None = None,
    ) -> KubeObject:
        """Remove each JSON pointer in ``paths``, in order, if every guard still holds."""
        with self._lock:
            self._call("remove_fields", key, request_id=request_id)
            obj = self._objects.get(key)
            if obj is None:
                raise ClusterNotFoundError(f"{key} not found", status=404)
            for pointer, value in guards:
                if _resolve(obj, pointer) != value:
                    raise ClusterConflictError(f"{key}: test of {pointer} failed", status=422)
            for pointer in paths:
                *parents, last = [_unescape(p) for p in pointer.lstrip("/").split("/")]
                node: Any = obj
                for part in parents:
                    node = node[int(part)] if isinstance(node, list) else node.get(part, {})
                if isinstance(node, list):
                    del node[int(last)]
                elif isinstance(node, dict):
                    node.pop(last, None)
            obj["metadata"]["resourceVersion"] = str(next(self._versions))
            self._revision += 1
            self._tell_watchers(key, "MODIFIED", obj)
            return copy.deepcopy(obj)

    def delete(self, key: ObjectKey, *, uid: str | None = None, request_id: str | None = None) -> None:
        """Delete the object (absent is fine); a ``uid`` that does not match is a conflict."""
        with self._lock:
            self._call("delete", key, request_id=request_id)
            obj = self._objects.get(key)
            if obj is None:
                return
            if uid is not None and obj["metadata"].get("uid") != uid:
                raise ClusterConflictError(f"{key}: the uid precondition failed", status=409)
            del self._objects[key]
            self._revision += 1
            self._tell_watchers(key, "DELETED", obj)
            if key.kind == "Namespace":
                for inner in [k for k in self._objects if k.namespace == key.name]:
                    self._tell_watchers(inner, "DELETED", self._objects.pop(inner))

    def watch_pods(self, listener: PodListener) -> Callable[[], None]:
        """:class:`~starform_core.ports.pods.PodWatch`: the owned pods stored, then every change."""
        with self._lock:
            for key, obj in self._objects.items():
                if key.kind == "Pod" and _owned(obj):
                    listener("ADDED", copy.deepcopy(obj))
            self._pod_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._pod_listeners:
                    self._pod_listeners.remove(listener)

        return unsubscribe

    def watch_claims(self, listener: ClaimListener) -> Callable[[], None]:
        """:class:`~starform_core.ports.claims.ClaimWatch`: the owned claims stored, then every change."""
        with self._lock:
            for key, obj in self._objects.items():
                if key.kind == "PersistentVolumeClaim" and _owned(obj):
                    listener("ADDED", copy.deepcopy(obj))
            self._claim_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._claim_listeners:
                    self._claim_listeners.remove(listener)

        return unsubscribe

    def revision(self) -> int:
        """Bumped by every write to the fake (through the port or :meth:`put`)."""
        with self._lock:
            return self._revision

    def supports(self, key: ObjectKey) -> bool:
        """False for kinds made unsupported."""
        with self._lock:
            return key.kind not in self._unsupported

    # lifecycle (nothing to connect) ----------------------------------------------------------
    def start(self, *, sync_timeout: float = 60.0) -> bool:
        """Nothing to connect: the fake is synced from the start."""
        return True

    def stop(self) -> None:
        """Nothing to release."""

    @property
    def synced(self) -> bool:
        """Always True."""
        return True

    # internals (lock held) -----------------------------------------------------------------
    def _call(
        self, verb: str, key: ObjectKey, *, force: bool | None = None, request_id: str | None = None
    ) -> None:
        self.calls.append(ClusterCall(verb=verb, key=key, force=force, request_id=request_id))
        failure = self._failures.get(key)
        if failure is None or verb not in failure.verbs:
            return
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                del self._failures[key]
        raise failure.error

    def _store(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        key = key_of(obj)
        stored: dict[str, Any] = copy.deepcopy(dict(obj))
        metadata = stored.setdefault("metadata", {})
        previous = self._objects.get(key)
        metadata["uid"] = (previous or {}).get("metadata", {}).get("uid") or str(uuid.uuid4())
        metadata["resourceVersion"] = str(next(self._versions))
        self._objects[key] = stored
        self._revision += 1
        self._tell_watchers(key, "ADDED" if previous is None else "MODIFIED", stored)
        return stored

    def _tell_watchers(self, key: ObjectKey, event: str, obj: Mapping[str, Any]) -> None:
        """Tell the pod (or claim) listeners of a change to an owned pod (or claim)."""
        listeners = {"Pod": self._pod_listeners, "PersistentVolumeClaim": self._claim_listeners}
        if key.kind in listeners and _owned(obj):
            for listener in listeners[key.kind]:
                listener(event, copy.deepcopy(dict(obj)))


def _owned(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE)


def _resolve(obj: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``None`` when any step is missing)."""
    node: Any = obj
    for part in (_unescape(p) for p in pointer.lstrip("/").split("/")):
        if isinstance(node, list):
            index = int(part) if part.isdigit() else len(node)
            node = node[index] if index < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node
