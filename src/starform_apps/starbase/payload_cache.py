"""The per-process cache of built payloads: (generation, canonical bytes, ETag) per cluster.

A cheap ``SELECT generation`` decides whether the cached bytes are current; only a newer
generation triggers the set-based queries, the build and the serialisation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs

from starform_apps.starbase.metrics import Metrics
from starform_core.payload.build import build_payload
from starform_core.payload.codec import etag_of, to_json
from starform_core.ports.store import DesiredStateStore

__all__ = ["CachedPayload", "PayloadCache"]


@attrs.frozen(repr=False)
class CachedPayload:
    """One cluster's served payload (the body holds secret values: never log it)."""

    generation: int
    body: bytes
    etag: str


class PayloadCache:
    """Builds payloads on demand and keeps the newest per cluster."""

    def __init__(
        self,
        store: DesiredStateStore,
        checksum_key: Callable[[str], bytes],
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._checksum_key = checksum_key
        self._metrics = metrics
        self._entries: dict[str, CachedPayload] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock_for(self, cluster_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(cluster_id, threading.Lock())

    def current(self, cluster_id: str) -> CachedPayload:
        """The payload for the cluster's current generation (built only if it changed)."""
        generation = self._store.cluster_generation(cluster_id)
        cached = self._entries.get(cluster_id)
        if cached is not None and cached.generation >= generation:
            return cached
        with self._lock_for(cluster_id):
            cached = self._entries.get(cluster_id)
            if cached is not None and cached.generation >= generation:
                return cached
            started = time.perf_counter()
            rows = self._store.cluster_rows(cluster_id)
            body = to_json(build_payload(rows, checksum_key=self._checksum_key(cluster_id)))
            built = CachedPayload(generation=rows.cluster.generation, body=body, etag=etag_of(body))
            self._metrics.payload_builds.inc()
            self._metrics.payload_build_seconds.observe(time.perf_counter() - started)
            self._metrics.generation.labels(cluster_id=cluster_id).set(built.generation)
            self._entries[cluster_id] = built
            return built
