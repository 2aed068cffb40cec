"""An in-memory Kubernetes API server for tests, spoken to over real HTTP.

The official ``kubernetes`` client (``ApiClient``, the typed APIs, ``CustomObjectsApi``,
``DynamicClient``, ``watch.Watch``) talks to it unchanged. See
``docs/testing/kube-test-server.md`` for what it emulates and what it does not.

Typical use::

    with KubeTestServer() as kube:
        api = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(kube.kube_config()))
        api.create_namespace({"metadata": {"name": "demo"}})
        assert kube.requests.count(verb="create") == 1
"""

from __future__ import annotations

from .clock import SettableClock
from .controllers import CONTROLLER_MANAGER, KUBELET
from .defaults import image_pull_policy
from .errors import ApiError, KubeTestServerError
from .faults import FaultInjector, FaultRule
from .requestlog import READ_VERBS, WRITE_VERBS, RequestLog, RequestRecord
from .resources import BUILTIN_KINDS, HTTPROUTE, ResourceKind, ResourceRegistry
from .schemas import KUBERNETES_SCHEMA_VERSION
from .selectors import FieldSelector, LabelSelector
from .server import KUBECONFIG_TOKEN, KubeTestServer
from .ssa import decode_fields, encode_fields

__all__ = [
    "BUILTIN_KINDS",
    "CONTROLLER_MANAGER",
    "HTTPROUTE",
    "KUBECONFIG_TOKEN",
    "KUBELET",
    "KUBERNETES_SCHEMA_VERSION",
    "READ_VERBS",
    "WRITE_VERBS",
    "ApiError",
    "FaultInjector",
    "FaultRule",
    "FieldSelector",
    "KubeTestServer",
    "KubeTestServerError",
    "LabelSelector",
    "RequestLog",
    "RequestRecord",
    "ResourceKind",
    "ResourceRegistry",
    "SettableClock",
    "decode_fields",
    "encode_fields",
    "image_pull_policy",
]
