"""Where Shuttle's Kubernetes client configuration comes from: in-cluster, or a kubeconfig."""

from __future__ import annotations

import os

from kubernetes import config as kube_config
from kubernetes.client import Configuration
from kubernetes.config.config_exception import ConfigException

from starform_core.errors import ClusterUnavailableError

__all__ = ["load_configuration"]


def load_configuration(*, kubeconfig: str | None = None, context: str | None = None) -> Configuration:
    """In-cluster service-account config when running in a pod, else the given (or default) kubeconfig."""
    configuration = Configuration()
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            kube_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
    except (ConfigException, OSError, TypeError) as exc:
        raise ClusterUnavailableError(f"no usable Kubernetes configuration: {exc}") from exc
    return configuration
