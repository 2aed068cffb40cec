"""The in-memory object store: one lock, a global resourceVersion counter, an event window.

Objects are stored per resource and namespace and are never mutated once stored (writers
replace them). Every change appends a :class:`WatchEvent` to a bounded history window that
watch streams read from; a watch asking to resume from before the window gets ``410 Gone``.
Subscribers are woken through callbacks, so watch streams never block a thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

import attrs

from ._json import Obj

__all__ = ["Store", "WatchEvent"]


@attrs.frozen
class WatchEvent:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``obj`` the object after it."""

    resource_version: int
    type: str
    resource: str
    namespace: str
    obj: Obj


class Store:
    """Thread-safe storage of every object, keyed by resource key, namespace and name."""

    def __init__(self, *, history: int = 10_000) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self._owned: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._rv = 0
        self._events: deque[WatchEvent] = deque()
        self._history = history
        self._compacted = 0
        self._subscribers: set[Callable[[], None]] = set()
        self.watch_epoch = 0
        self.abrupt_kill = False

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self._rv

    @property
    def compacted_revision(self) -> int:
        """Events up to and including this resourceVersion have left the window."""
        return self._compacted

    def next_rv(self) -> int:
        """Hand out the next resourceVersion."""
        with self.lock:
            self._rv += 1
            return self._rv

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        """The stored object, or ``None`` (do not mutate the result)."""
        return self._objects.get(resource, {}).get(namespace, {}).get(name)

    def iter(self, resource: str, *, namespace: str | None = None) -> Iterator[Obj]:
        """Every stored object of a resource, optionally within one namespace, sorted."""
        by_ns = self._objects.get(resource, {})
        spaces = [namespace] if namespace is not None else sorted(by_ns)
        for space in spaces:
            objects = by_ns.get(space, {})
            for name in sorted(objects):
                yield objects[name]

    def resources(self) -> list[str]:
        """Every resource key with stored objects."""
        return list(self._objects)

    def dependents(self, resource: str, owner_uid: str) -> list[Obj]:
        """Objects of ``resource`` with an ownerReference to ``owner_uid``, sorted by name."""
        with self.lock:
            keys = sorted(self._owned.get((resource, owner_uid), ()))
            found = [self.get(resource, space, name) for space, name in keys]
            return [obj for obj in found if obj is not None]

    def _index(self, resource: str, namespace: str, obj: Obj | None, *, add: bool) -> None:
        if obj is None:
            return
        key = (namespace, obj["metadata"]["name"])
        for ref in obj["metadata"].get("ownerReferences") or ():
            uid = ref.get("uid")
            if not uid:
                continue
            slot = self._owned.setdefault((resource, uid), set())
            if add:
                slot.add(key)
            else:
                slot.discard(key)
                if not slot:
                    self._owned.pop((resource, uid), None)

    def put(self, resource: str, namespace: str, obj: Obj, event_type: str) -> None:
        """Store ``obj`` (whose resourceVersion is already set) and record the event."""
        with self.lock:
            name = obj["metadata"]["name"]
            objects = self._objects.setdefault(resource, {}).setdefault(namespace, {})
            self._index(resource, namespace, objects.get(name), add=False)
            objects[name] = obj
            self._index(resource, namespace, obj, add=True)
            self._record(
                WatchEvent(int(obj["metadata"]["resourceVersion"]), event_type, resource, namespace, obj)
            )

    def remove(self, resource: str, namespace: str, name: str, final: Obj) -> None:
        """Remove an object; ``final`` (carrying the deletion's resourceVersion) goes to watchers."""
        with self.lock:
            spaces = self._objects.get(resource, {})
            objects = spaces.get(namespace, {})
            self._index(resource, namespace, objects.pop(name, None), add=False)
            if not objects:
                spaces.pop(namespace, None)
            rv = int(final["metadata"]["resourceVersion"])
            self._record(WatchEvent(rv, "DELETED", resource, namespace, final))

    def _record(self, event: WatchEvent) -> None:
        self._events.append(event)
        while len(self._events) > self._history:
            self._compacted = self._events.popleft().resource_version
        self._notify()

    def set_history(self, size: int) -> None:
        """Change the size of the event window (shrinking drops the oldest events)."""
        with self.lock:
            self._history = max(1, size)
            while len(self._events) > self._history:
                self._compacted = self._events.popleft().resource_version

    def events_after(self, resource_version: int) -> list[WatchEvent] | None:
        """Events newer than ``resource_version``; ``None`` when some already left the window."""
        with self.lock:
            if resource_version < self._compacted:
                return None
            newer: list[WatchEvent] = []
            for event in reversed(self._events):
                if event.resource_version <= resource_version:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread) after every change and on watch kills."""
        with self.lock:
            self._subscribers.add(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback``."""
        with self.lock:
            self._subscribers.discard(callback)

    def kill_watches(self, *, abrupt: bool = False) -> None:
        """End every open watch stream (``abrupt``: drop the connection instead of ending it)."""
        with self.lock:
            self.watch_epoch += 1
            self.abrupt_kill = abrupt
            self._notify()

    def _notify(self) -> None:
        for callback in list(self._subscribers):
            callback()
