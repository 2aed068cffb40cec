"""The payload cache: built only when (epoch, generation) moves, bodies bounded, ETags always known."""

from __future__ import annotations

import attrs
import pytest

from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.payload_cache import PayloadCache
from starform_core.payload import ClusterRows, example_rows

CLUSTERS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 5)]


class FakeStore:
    """The two reads the cache makes, over the example rows, with an epoch and generation per cluster."""

    def __init__(self) -> None:
        self.generations = dict.fromkeys(CLUSTERS, 1)
        self.epochs = dict.fromkeys(CLUSTERS, 1000)
        self.row_reads = 0

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        return self.epochs[cluster_id], self.generations[cluster_id]

    def cluster_rows(self, cluster_id: str, *, memo: object = None) -> ClusterRows:
        self.row_reads += 1
        rows = example_rows()
        cluster = attrs.evolve(
            rows.cluster,
            cluster_id=cluster_id,
            generation=self.generations[cluster_id],
            epoch=self.epochs[cluster_id],
        )
        projects = tuple(attrs.evolve(p, cluster_id=cluster_id) for p in rows.projects)
        return attrs.evolve(rows, cluster=cluster, projects=projects)


def _cache(store: FakeStore, *, max_bytes: int) -> tuple[PayloadCache, Metrics]:
    metrics = Metrics()
    return PayloadCache(store, lambda _cid: b"k" * 32, metrics, max_bytes=max_bytes), metrics  # type: ignore[arg-type]


def test_builds_once_per_generation() -> None:
    store = FakeStore()
    cache, _ = _cache(store, max_bytes=10**9)
    first = cache.current(CLUSTERS[0])
    assert cache.current(CLUSTERS[0]) is first
    assert store.row_reads == 1
    store.generations[CLUSTERS[0]] = 2
    second = cache.current(CLUSTERS[0])
    assert store.row_reads == 2
    assert second.generation == 2
    assert second.etag != first.etag


def test_bodies_stay_within_the_budget_and_etags_survive_eviction() -> None:
    store = FakeStore()
    probe, _ = _cache(store, max_bytes=10**9)
    size = len(probe.current(CLUSTERS[0]).body)
    store.row_reads = 0
    cache, metrics = _cache(store, max_bytes=2 * size + size // 2)  # room for two bodies
    built = {cid: cache.current(cid) for cid in CLUSTERS}
    assert store.row_reads == 4
    assert cache.cached_bytes <= 2 * size + size // 2
    assert metrics.registry.get_sample_value("starbase_payload_cache_evictions_total") == 2
    assert metrics.registry.get_sample_value("starbase_payload_cache_bytes") == cache.cached_bytes
    for cid in CLUSTERS:  # every ETag is still known without a rebuild: a 304 needs no body
        assert cache.current_etag(cid) == built[cid].etag
    assert store.row_reads == 4
    cache.current(CLUSTERS[0])  # evicted: rebuilt on demand, same bytes
    assert store.row_reads == 5
    assert cache.current(CLUSTERS[0]).body == built[CLUSTERS[0]].body


def test_a_newer_generation_makes_the_known_etag_stale() -> None:
    store = FakeStore()
    cache, _ = _cache(store, max_bytes=10**9)
    cache.current(CLUSTERS[1])
    store.generations[CLUSTERS[1]] = 5
    assert cache.current_etag(CLUSTERS[1]) is None


def test_a_restored_older_generation_and_a_new_epoch_are_rebuilt() -> None:
    """After a restore of the database the generation goes back: the cached (newer) bytes are not
    served; a new epoch changes the bytes at the same generation."""
    store = FakeStore()
    cache, _ = _cache(store, max_bytes=10**9)
    store.generations[CLUSTERS[2]] = 9
    newer = cache.current(CLUSTERS[2])
    store.generations[CLUSTERS[2]] = 4  # the database was restored from an older dump
    assert cache.current_etag(CLUSTERS[2]) is None
    restored = cache.current(CLUSTERS[2])
    assert (restored.generation, restored.etag != newer.etag) == (4, True)
    store.epochs[CLUSTERS[2]] = 2000  # starbase cluster new-epoch
    assert cache.current_etag(CLUSTERS[2]) is None
    bumped = cache.current(CLUSTERS[2])
    assert (bumped.epoch, bumped.generation) == (2000, 4)
    assert b'"epoch":2000' in bumped.body
    assert cache.current_etag(CLUSTERS[2]) == bumped.etag


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        _cache(FakeStore(), max_bytes=-1)
