"""The Kubernetes adapter: the official client over HTTP, a watch cache, server-side apply."""

from starform_adapters.kubernetes.api import KubeApi
from starform_adapters.kubernetes.cache import WatchCache
from starform_adapters.kubernetes.cluster import KubernetesCluster
from starform_adapters.kubernetes.config import load_configuration
from starform_adapters.kubernetes.ratelimit import TokenBucket
from starform_adapters.kubernetes.resources import HEALTH_TYPES, MANAGED_TYPES, ResourceType, resource_for

__all__ = [
    "HEALTH_TYPES",
    "MANAGED_TYPES",
    "KubeApi",
    "KubernetesCluster",
    "ResourceType",
    "TokenBucket",
    "WatchCache",
    "load_configuration",
    "resource_for",
]
