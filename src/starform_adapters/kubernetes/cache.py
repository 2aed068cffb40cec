"""A list-then-watch cache of the kinds Shuttle manages.

Each resource type is listed once and then watched from the list's resourceVersion; a watch that
times out, breaks or finds the server away is resumed from the last version seen (no LIST), a
``410 Gone`` (or another error answer) triggers a relist, and a periodic resync relists as a
safety net. A no-op reconcile therefore
reads the cache and makes no LIST call at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from starform_adapters.kubernetes.api import KubeApi, WatchStream
from starform_adapters.kubernetes.resources import ResourceType
from starform_core.errors import ClusterApiError, ClusterNotFoundError, ClusterUnavailableError
from starform_core.kube.objects import KubeObject, ObjectKey, key_of

__all__ = ["ChangeListener", "ObjectListener", "WatchCache"]

_log = logging.getLogger("starform.shuttle.cache")

ChangeListener = Callable[[str, ObjectKey], None]
"""Called with (event type, key) whenever a watched object is added, modified or deleted."""

ObjectListener = Callable[[str, KubeObject], None]
"""Called with (event type, object), under the cache's lock, in the order the cache changed."""


_RESUMABLE = frozenset({0, 429})
"""Watch failures that keep the resourceVersion valid: no answer (a broken or refused connection)
and ``429 Too Many Requests``."""


class _ResyncError(Exception):
    """Internal: the watch must be re-established from a fresh LIST."""


class WatchCache:
    """An in-memory view of watched objects, kept current by one watch thread per type."""

    def __init__(
        self,
        api: KubeApi,
        types: Iterable[ResourceType],
        *,
        label_selector: str | None,
        resync_seconds: float = 600.0,
        watch_timeout_seconds: int = 240,
        on_change: ChangeListener | None = None,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self._api = api
        self._types = tuple(types)
        self._selector = label_selector
        self._resync = resync_seconds
        self._watch_timeout = watch_timeout_seconds
        self._on_change = on_change
        self._on_restart = on_restart
        self._lock = threading.Lock()
        self._objects: dict[str, dict[ObjectKey, KubeObject]] = {t.kind: {} for t in self._types}
        self._synced: dict[str, threading.Event] = {t.kind: threading.Event() for t in self._types}
        self._streams: dict[str, WatchStream] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._revision = 0
        self._listeners: dict[str, list[ObjectListener]] = {t.kind: [] for t in self._types}

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start one list-and-watch thread per type."""
        for rtype in self._types:
            thread = threading.Thread(
                target=self._run, args=(rtype,), name=f"watch-{rtype.kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait_synced(self, timeout: float) -> bool:
        """Block until every type has been listed once (or ``timeout`` seconds pass)."""
        deadline = time.monotonic() + timeout
        return all(event.wait(max(0.0, deadline - time.monotonic())) for event in self._synced.values())

    def stop(self) -> None:
        """Stop every watch and join the threads."""
        self._stop.set()
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            stream.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    # reads ---------------------------------------------------------------------------------
    def snapshot(self, kinds: Iterable[str] | None = None) -> list[KubeObject]:
        """Every cached object (of ``kinds`` when given)."""
        wanted = set(kinds) if kinds is not None else None
        with self._lock:
            return [
                obj
                for kind, objects in self._objects.items()
                if wanted is None or kind in wanted
                for obj in objects.values()
            ]

    def revision(self) -> int:
        """Bumped by every change to the cached objects (events, relists, recorded writes)."""
        with self._lock:
            return self._revision

    def is_synced(self) -> bool:
        """True once every type has been listed."""
        return all(event.is_set() for event in self._synced.values())

    def record(self, obj: KubeObject) -> None:
        """Put an object Shuttle just wrote into the cache (the watch will confirm it).

        The watch may already have delivered a newer version (a controller's status write lands
        before the write's answer does); a write answer never replaces a newer cached version.
        ``resourceVersion`` is opaque in the API contract, but etcd-backed servers hand out
        increasing integers; where both versions parse as integers the older one loses, otherwise
        the write answer is taken.
        """
        key = key_of(obj)
        with self._lock:
            store = self._objects.get(key.kind)
            if store is None:
                return
            cached = store.get(key)
            if cached is not None and _newer(cached, obj):
                return
            store[key] = obj
            self._revision += 1

    def relist(self) -> None:
        """LIST every type now and make the cache what the API server answered (a reconcile
        asked for; the watches go on). A cached object newer than the listing stays: the watch
        delivered it after the LIST was served (a newer version, or an object created since)."""
        for rtype in self._types:
            try:
                listing = self._api.list(rtype.collection_path(), label_selector=self._selector)
            except ClusterNotFoundError:
                listing = {"items": [], "metadata": {}}
            listed = str((listing.get("metadata") or {}).get("resourceVersion") or "")
            fresh = _items_of(rtype, listing)
            with self._lock:
                cached = self._objects.get(rtype.kind, {})
                for key, obj in cached.items():
                    newer = fresh.get(key, {"metadata": {"resourceVersion": listed}})
                    if _newer(obj, newer):
                        fresh[key] = obj
                self._objects[rtype.kind] = fresh
                self._revision += 1

    def forget(self, key: ObjectKey) -> None:
        """Drop an object Shuttle just deleted."""
        with self._lock:
            if self._objects.get(key.kind, {}).pop(key, None) is not None:
                self._revision += 1

    def subscribe(self, kind: str, listener: ObjectListener) -> Callable[[], None]:
        """Call ``listener`` with ``ADDED`` for each cached object of ``kind``, then with every
        change (a relist's differences included) until the returned function is called."""
        with self._lock:
            for obj in self._objects[kind].values():
                listener("ADDED", obj)
            self._listeners[kind].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners[kind]:
                    self._listeners[kind].remove(listener)

        return unsubscribe

    def _tell(self, kind: str, event: str, obj: KubeObject) -> None:
        """Under the lock: pass one change to the kind's listeners."""
        for listener in self._listeners.get(kind, ()):
            listener(event, obj)

    # the watch loop --------------------------------------------------------------------------
    def _run(self, rtype: ResourceType) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                version = self._relist(rtype)
                backoff = 0.5
                self._watch_until_resync(rtype, version)
            except ClusterNotFoundError:
                # the kind does not exist (a missing CRD): nothing to cache, check again later
                with self._lock:
                    self._objects[rtype.kind] = {}
                    self._revision += 1
                self._synced[rtype.kind].set()
                self._stop.wait(min(self._resync, 30.0))
            except (ClusterApiError, _ResyncError, ValueError) as exc:
                if self._stop.is_set():
                    return
                if self._on_restart is not None:
                    self._on_restart(rtype.kind)
                _log.info("watch restarts", extra={"kind": rtype.kind, "error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _relist(self, rtype: ResourceType) -> str:
        listing = self._api.list(rtype.collection_path(), label_selector=self._selector)
        fresh = _items_of(rtype, listing)
        with self._lock:
            previous = self._objects.get(rtype.kind, {})
            self._objects[rtype.kind] = fresh
            self._revision += 1
            for key in previous.keys() - fresh.keys():
                self._tell(rtype.kind, "DELETED", previous[key])
            for key, obj in fresh.items():
                if previous.get(key) is None or _version(previous[key]) != _version(obj):
                    self._tell(rtype.kind, "MODIFIED" if key in previous else "ADDED", obj)
        self._synced[rtype.kind].set()
        if self._on_change is not None:
            for key in previous.keys() - fresh.keys():
                self._on_change("DELETED", key)
            for key, obj in fresh.items():
                if previous.get(key) is None or _version(previous[key]) != _version(obj):
                    self._on_change("MODIFIED", key)
        return str((listing.get("metadata") or {}).get("resourceVersion") or "0")

    def _watch_until_resync(self, rtype: ResourceType, version: str) -> None:
        """Watch from ``version``, resuming after every end of the stream, until the resync is due.

        A stream that ends, breaks, or cannot be opened for lack of an answer or a ``429`` resumes
        from the last version seen (as client-go's reflector does): the version is still good, and
        a LIST of every object would cost the server far more. Only a ``410 Gone`` (the server no
        longer has that version) or another error answer makes the caller relist.
        """
        deadline = time.monotonic() + self._resync
        backoff = 0.5
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                version, broken = self._follow(rtype, version)
            except ClusterUnavailableError as exc:  # the watch could not be opened
                broken = exc
            if broken is None:
                backoff = 0.5
                continue
            if self._stop.is_set() or broken.status not in _RESUMABLE:
                raise broken
            if self._on_restart is not None:
                self._on_restart(rtype.kind)
            _log.info("watch of %s resumes from %s: %s", rtype.kind, version, broken)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _follow(self, rtype: ResourceType, version: str) -> tuple[str, ClusterUnavailableError | None]:
        """One watch request: apply its events; returns the last version seen and, when the
        stream broke, why."""
        stream = self._api.watch(
            rtype.collection_path(),
            resource_version=version,
            label_selector=self._selector,
            timeout_seconds=self._watch_timeout,
        )
        with self._lock:
            self._streams[rtype.kind] = stream
        try:
            for event in stream:
                version = self._handle(rtype, event, version)
                if self._stop.is_set():
                    break
        except ClusterUnavailableError as exc:
            return version, exc
        finally:
            with self._lock:
                self._streams.pop(rtype.kind, None)
            stream.close()
        return version, None

    def _handle(self, rtype: ResourceType, event: dict[str, Any], version: str) -> str:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            raise _ResyncError(f"watch error {code}: {obj.get('reason')}")
        new_version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        if kind == "BOOKMARK":
            return new_version
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        key = key_of(obj)
        with self._lock:
            store = self._objects.setdefault(rtype.kind, {})
            if kind == "DELETED":
                store.pop(key, None)
            else:
                store[key] = obj
            self._revision += 1
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self._tell(rtype.kind, str(kind), obj)
        if self._on_change is not None and kind in ("ADDED", "MODIFIED", "DELETED"):
            self._on_change(str(kind), key)
        return new_version


def _items_of(rtype: ResourceType, listing: dict[str, Any]) -> dict[ObjectKey, KubeObject]:
    """A LIST answer's items by identity (with the ``apiVersion`` and ``kind`` a list omits)."""
    fresh: dict[ObjectKey, KubeObject] = {}
    for item in listing.get("items") or []:
        item.setdefault("apiVersion", rtype.api_version)
        item.setdefault("kind", rtype.kind)
        fresh[key_of(item)] = item
    return fresh


def _newer(cached: KubeObject, written: KubeObject) -> bool:
    """True when ``cached`` is known to be a later version than ``written``."""
    try:
        return int(_version(cached)) > int(_version(written))
    except ValueError:
        return False


def _version(obj: KubeObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
