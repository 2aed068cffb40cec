"""The cluster port on a real Kubernetes API: a watch cache for reads, SSA for writes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubernetes.client import Configuration

from starform_adapters.kubernetes.api import KubeApi, RequestObserver
from starform_adapters.kubernetes.cache import ChangeListener, WatchCache
from starform_adapters.kubernetes.ratelimit import TokenBucket
from starform_adapters.kubernetes.resources import (
    GATEWAY_API_GROUP_VERSION,
    HEALTH_TYPES,
    MANAGED_TYPES,
    ResourceType,
    resource_for,
)
from starform_core.errors import ClusterApiError, ClusterNotFoundError
from starform_core.kube.json_patch import removal_patch
from starform_core.kube.labels import FIELD_MANAGER, LABEL_MANAGED_BY, MANAGED_BY_VALUE, OWNERSHIP_SELECTOR
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.ports.claims import ClaimListener
from starform_core.ports.pods import PodListener

__all__ = ["KubernetesCluster"]


class KubernetesCluster:
    """Implements :class:`~starform_core.ports.cluster.ClusterPort`,
    :class:`~starform_core.ports.pods.PodWatch` and :class:`~starform_core.ports.claims.ClaimWatch`
    with the official client."""

    def __init__(
        self,
        configuration: Configuration,
        *,
        field_manager: str = FIELD_MANAGER,
        qps: float = 50.0,
        burst: int = 100,
        resync_seconds: float = 600.0,
        watch_timeout_seconds: int = 240,
        on_change: ChangeListener | None = None,
        on_watch_restart: Callable[[str], None] | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 32)
        self._api = KubeApi(configuration, rate_limiter=TokenBucket(qps=qps, burst=burst), observer=observer)
        self._field_manager = field_manager
        self._gateway_api: bool | None = None
        self._lock = threading.Lock()
        self._managed_kinds = frozenset(t.kind for t in MANAGED_TYPES)
        self._owned = WatchCache(
            self._api,
            MANAGED_TYPES,
            label_selector=OWNERSHIP_SELECTOR,
            resync_seconds=resync_seconds,
            watch_timeout_seconds=watch_timeout_seconds,
            on_change=on_change,
            on_restart=on_watch_restart,
        )
        self._health = WatchCache(
            self._api,
            HEALTH_TYPES,
            label_selector=OWNERSHIP_SELECTOR,
            resync_seconds=resync_seconds,
            watch_timeout_seconds=watch_timeout_seconds,
            on_restart=on_watch_restart,
        )

    # lifecycle -----------------------------------------------------------------------------
    def start(self, *, sync_timeout: float = 60.0) -> bool:
        """Start the watches; returns True once every type has been listed within the timeout."""
        self.gateway_api_installed(refresh=True)
        self._owned.start()
        self._health.start()
        return self._owned.wait_synced(sync_timeout) and self._health.wait_synced(sync_timeout)

    def stop(self) -> None:
        """Stop the watches and close the connection pool."""
        self._owned.stop()
        self._health.stop()
        self._api.close()

    @property
    def synced(self) -> bool:
        """True once the caches hold a full listing."""
        return self._owned.is_synced() and self._health.is_synced()

    # port: reads ----------------------------------------------------------------------------
    def live_objects(self) -> Sequence[KubeObject]:
        """Owned objects of managed kinds, from the watch cache (no API call)."""
        return self._owned.snapshot(self._managed_kinds)

    def health_objects(self) -> Sequence[KubeObject]:
        """Owned pods and jobs, from the watch cache (no API call)."""
        return self._health.snapshot()

    def relist(self) -> None:
        """LIST the owned kinds now, replacing the cached view (bypasses the watch cache)."""
        self._owned.relist()

    def watch_pods(self, listener: PodListener) -> Callable[[], None]:
        """:class:`~starform_core.ports.pods.PodWatch` over the pod watch of the health cache
        (one watch serves health and billing)."""
        return self._health.subscribe("Pod", listener)

    def watch_claims(self, listener: ClaimListener) -> Callable[[], None]:
        """:class:`~starform_core.ports.claims.ClaimWatch` over the claim watch of the owned cache
        (claims are a managed kind: one watch serves planning and billing)."""
        return self._owned.subscribe("PersistentVolumeClaim", listener)

    def revision(self) -> int:
        """Changes whenever either watch cache changes."""
        return self._owned.revision() + self._health.revision()  # both only grow

    def get(self, key: ObjectKey) -> KubeObject | None:
        """GET one object from the API server."""
        rtype = resource_for(key)
        try:
            obj = self._api.get(rtype.object_path(name=key.name, namespace=key.namespace or None))
        except ClusterNotFoundError:
            return None
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        return obj

    def supports(self, key: ObjectKey) -> bool:
        """False for kinds whose CRD is not installed (the Gateway API's HTTPRoute)."""
        rtype = resource_for(key)
        if rtype.optional:
            return self.gateway_api_installed()
        return True

    def gateway_api_installed(self, *, refresh: bool = False) -> bool:
        """Whether the API server serves ``gateway.networking.k8s.io/v1`` (checked once, cached)."""
        with self._lock:
            known = self._gateway_api
        if known is not None and not refresh:
            return known
        try:
            resources = self._api.get(GATEWAY_API_GROUP_VERSION)
            installed = any(r.get("kind") == "HTTPRoute" for r in resources.get("resources") or [])
        except ClusterNotFoundError:
            installed = False
        with self._lock:
            self._gateway_api = installed
        return installed

    # port: writes ---------------------------------------------------------------------------
    def apply(self, body: Mapping[str, Any], *, force: bool, request_id: str | None = None) -> KubeObject:
        """Server-side apply as Shuttle's field manager."""
        key = key_of(body)
        rtype = self._type(key)
        live = self._api.apply(
            rtype.object_path(name=key.name, namespace=key.namespace or None),
            body,
            field_manager=self._field_manager,
            force=force,
            request_id=request_id,
        )
        self._remember(live)
        return live

    def remove_fields(
        self,
        key: ObjectKey,
        paths: Sequence[str],
        *,
        guards: Sequence[tuple[str, Any]] = (),
        request_id: str | None = None,
    ) -> KubeObject:
        """One JSON patch: a ``test`` per guard, then a ``remove`` per path, in the order given.

        When a guard no longer holds (a list shifted since the plan), the server refuses the
        whole patch and the next plan recomputes it.
        """
        rtype = self._type(key)
        path = rtype.object_path(name=key.name, namespace=key.namespace or None)
        live = self._api.json_patch(
            path,
            removal_patch(paths, guards=guards),
            field_manager=self._field_manager,
            request_id=request_id,
        )
        self._remember(live)
        return live

    def _remember(self, live: KubeObject) -> None:
        """Put a written object into the cache when it is one Shuttle owns (the watch confirms it)."""
        labels = (live.get("metadata") or {}).get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE:
            self._owned.record(live)

    def delete(self, key: ObjectKey, *, uid: str | None = None, request_id: str | None = None) -> None:
        """Delete with background propagation; an object already gone counts as deleted."""
        rtype = self._type(key)
        path = rtype.object_path(name=key.name, namespace=key.namespace or None)
        with contextlib.suppress(ClusterNotFoundError):
            self._api.delete(path, uid=uid, request_id=request_id)
        self._owned.forget(key)

    def _type(self, key: ObjectKey) -> ResourceType:
        try:
            return resource_for(key)
        except KeyError as exc:
            raise ClusterApiError(str(exc)) from exc
