"""Where Shuttle's Kubernetes client configuration comes from: in-cluster, or a kubeconfig."""

from __future__ import annotations

import os

import yaml
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
    except (ConfigException, OSError, TypeError, ValueError, KeyError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterUnavailableError(f"no usable Kubernetes configuration: {reason}") from exc
    return configuration
