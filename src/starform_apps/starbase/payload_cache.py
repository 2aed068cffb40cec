"""The per-process cache of built payloads: (epoch, generation, canonical bytes, ETag) per cluster.

A rebuild is incremental (:class:`~starform_core.payload.incremental.IncrementalPayload`): the
services whose rows did not change since the cluster's previous build are neither built nor
serialised again, so one deploy at 2,000 services costs the queries and a few services.

The version comes from the caller (the notification-fed agent views: no query in the steady
state) or from a cheap ``SELECT epoch, generation``; it decides whether the cached bytes are
current; only another version triggers the set-based queries, the build and the
serialisation. Versions are compared for equality, not order: after a restore of the database
the generation goes back, and a new epoch changes the bytes without a new generation.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs

from starform_apps.starbase.metrics import Metrics
from starform_core.payload.codec import etag_of
from starform_core.payload.incremental import IncrementalPayload
from starform_core.ports import DesiredStateReader

__all__ = ["DEFAULT_MAX_BYTES", "CachedPayload", "PayloadCache"]


@attrs.frozen(repr=False)
class CachedPayload:
    """One cluster's served payload (the body holds secret values: never log it)."""

    generation: int
    body: bytes
    etag: str
    epoch: int = 0

    @property
    def version(self) -> tuple[int, int]:
        """``(epoch, generation)``."""
        return (self.epoch, self.generation)


DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""Default budget for cached payload bodies (a 2,000-service payload is about 1.8 MB)."""


class PayloadCache:
    """Builds payloads on demand and keeps the newest per cluster.

    Bodies are kept least-recently-used within ``max_bytes``; the (generation, ETag) of every
    cluster is kept regardless (a few dozen bytes each), so a ``304`` never needs the body, and
    an evicted body is rebuilt only when a cluster's agent actually needs a ``200``. Each cached
    body keeps its cluster's incremental builder (its services and their fragments, a few times
    the body's size); an evicted body drops it, and the next build of that cluster is a full one.
    """

    def __init__(
        self,
        store: DesiredStateReader,
        checksum_key: Callable[[str], bytes],
        metrics: Metrics,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self._store = store
        self._checksum_key = checksum_key
        self._metrics = metrics
        self._max_bytes = max_bytes
        self._bodies: OrderedDict[str, CachedPayload] = OrderedDict()
        self._tags: dict[str, tuple[tuple[int, int], str]] = {}
        self._bytes = 0
        self._builders: dict[str, IncrementalPayload] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        """Bytes of payload bodies held now."""
        with self._guard:
            return self._bytes

    def _lock_for(self, cluster_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(cluster_id, threading.Lock())

    def current_etag(self, cluster_id: str) -> str | None:
        """The ETag of the cluster's current payload, if known, at the cost of one version read."""
        return self.known_etag(cluster_id, self._store.cluster_version(cluster_id))

    def known_etag(self, cluster_id: str, version: tuple[int, int]) -> str | None:
        """The ETag of the payload of ``version`` (epoch, generation), if built here; no I/O."""
        with self._guard:
            tag = self._tags.get(cluster_id)
        return tag[1] if tag is not None and tag[0] == version else None

    def cached(self, cluster_id: str, version: tuple[int, int]) -> CachedPayload | None:
        """The body built for ``version``, if still held; no I/O."""
        return self._hit(cluster_id, version)

    def _hit(self, cluster_id: str, version: tuple[int, int]) -> CachedPayload | None:
        with self._guard:
            cached = self._bodies.get(cluster_id)
            if cached is None or cached.version != version:
                return None
            self._bodies.move_to_end(cluster_id)
            return cached

    def _keep(self, cluster_id: str, built: CachedPayload) -> None:
        with self._guard:
            self._tags[cluster_id] = (built.version, built.etag)
            previous = self._bodies.pop(cluster_id, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._bodies[cluster_id] = built
            self._bytes += len(built.body)
            while self._bytes > self._max_bytes and len(self._bodies) > 1:
                evicted_id, evicted = self._bodies.popitem(last=False)
                self._bytes -= len(evicted.body)
                self._builders.pop(evicted_id, None)
                self._metrics.payload_cache_evictions.inc()
            self._metrics.payload_cache_bytes.set(self._bytes)

    def current(self, cluster_id: str) -> CachedPayload:
        """The payload for the cluster's current version (built only if it changed or was evicted)."""
        version = self._store.cluster_version(cluster_id)
        cached = self._hit(cluster_id, version)
        if cached is not None:
            return cached
        with self._lock_for(cluster_id):
            cached = self._hit(cluster_id, version)
            if cached is not None:
                return cached
            started = time.perf_counter()
            with self._guard:
                builder = self._builders.setdefault(cluster_id, IncrementalPayload())
            rows = self._store.cluster_rows(cluster_id, memo=builder.row_memo)
            _, body = builder.build(rows, checksum_key=self._checksum_key(cluster_id))
            built = CachedPayload(
                generation=rows.cluster.generation, body=body, etag=etag_of(body), epoch=rows.cluster.epoch
            )
            self._metrics.payload_builds.inc()
            self._metrics.payload_build_seconds.observe(time.perf_counter() - started)
            self._metrics.generation.labels(cluster_id=cluster_id).set(built.generation)
            self._keep(cluster_id, built)
            return built
