"""NetworkPolicies: environment isolation inside the shared project namespace (§20, v1.6).

The set, per project namespace:

* ``default-deny``: every pod, no ingress, no egress (what the others do not allow is denied).
* ``env-<environment>``, one per environment: its pods accept traffic from, and may reach, pods of
  the same environment in the namespace; they may resolve DNS (kube-dns in ``kube-system``),
  reach the gateway's namespace (hairpin traffic to their own public hostnames) and the internet:
  every address except the private, carrier-grade NAT and link-local ranges, so no pod reaches
  another project's pods, the node network or the cloud metadata service.
* ``<service>-<environment>``, one per routed public web service: its pods accept traffic from the
  gateway's namespace on the service port.
"""

from __future__ import annotations

from typing import Any, Final

from starform_core.kube import labels as kl
from starform_core.model.cluster import ClusterSettings
from starform_core.model.project import Project
from starform_core.render.metadata import (
    ServiceScope,
    metadata,
    project_labels,
    selector_labels,
    service_labels,
    source_annotations,
)
from starform_core.render.naming import environment_policy_name, namespace_name

__all__ = [
    "DEFAULT_DENY_NAME",
    "DNS_NAMESPACE",
    "PRIVATE_IPV4_RANGES",
    "PRIVATE_IPV6_RANGES",
    "default_deny",
    "environment_policy",
    "gateway_ingress_policy",
]

DEFAULT_DENY_NAME: Final = "default-deny"
"""Name of the namespace-wide deny-all policy."""

DNS_NAMESPACE: Final = "kube-system"
"""Where the cluster DNS (``k8s-app: kube-dns``) runs."""

PRIVATE_IPV4_RANGES: Final = (
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
)
"""IPv4 ranges internet egress excludes: RFC 1918, carrier-grade NAT, link-local (metadata)."""

PRIVATE_IPV6_RANGES: Final = ("fc00::/7", "fe80::/10")
"""IPv6 ranges internet egress excludes: unique local and link-local addresses."""

_BOTH_DIRECTIONS: Final = ["Ingress", "Egress"]


def _namespace_selector(name: str) -> dict[str, Any]:
    return {"matchLabels": {kl.LABEL_METADATA_NAME: name}}


def default_deny(cluster: ClusterSettings, project: Project) -> dict[str, Any]:
    """Deny all ingress and egress for every pod of the namespace."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            name=DEFAULT_DENY_NAME,
            namespace=namespace_name(project.project_id),
            labels=project_labels(project),
            annotations=source_annotations(cluster),
        ),
        "spec": {"podSelector": {}, "policyTypes": list(_BOTH_DIRECTIONS)},
    }


def _scraper(cluster: ClusterSettings) -> list[dict[str, Any]]:
    """An ingress rule for the cluster's metrics agent namespace (none when there is none)."""
    if cluster.metrics_namespace is None:
        return []
    return [{"from": [{"namespaceSelector": _namespace_selector(cluster.metrics_namespace)}]}]


def _private_networks(cluster: ClusterSettings) -> list[dict[str, Any]]:
    """One egress rule for the cluster's allowed private networks (none when there are none)."""
    if not cluster.egress_allow:
        return []
    return [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in cluster.egress_allow]}]


def environment_policy(cluster: ClusterSettings, project: Project, environment: str) -> dict[str, Any]:
    """Same-environment traffic, DNS, the gateway namespace and the internet for one environment."""
    same_env = {"podSelector": {"matchLabels": {kl.LABEL_ENVIRONMENT: environment}}}
    dns_ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            name=environment_policy_name(environment),
            namespace=namespace_name(project.project_id),
            labels=project_labels(project, environment=environment),
            annotations=source_annotations(cluster),
        ),
        "spec": {
            "podSelector": {"matchLabels": {kl.LABEL_ENVIRONMENT: environment}},
            "policyTypes": list(_BOTH_DIRECTIONS),
            "ingress": [{"from": [same_env]}, *_scraper(cluster)],
            "egress": [
                {"to": [same_env]},
                {
                    "to": [
                        {
                            "namespaceSelector": _namespace_selector(DNS_NAMESPACE),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": dns_ports,
                },
                {"to": [{"namespaceSelector": _namespace_selector(cluster.gateway.namespace)}]},
                {
                    "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_IPV4_RANGES)}},
                        {"ipBlock": {"cidr": "::/0", "except": list(PRIVATE_IPV6_RANGES)}},
                    ]
                },
                *_private_networks(cluster),
            ],
        },
    }


def gateway_ingress_policy(scope: ServiceScope) -> dict[str, Any]:
    """Let the gateway's namespace reach one routed web service's pods on its port."""
    service = scope.service
    assert service.port is not None  # routed services are web services, which have a port
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            name=scope.names.base,
            namespace=scope.namespace,
            labels=service_labels(scope),
            annotations=source_annotations(scope.cluster),
        ),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(service)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": _namespace_selector(scope.cluster.gateway.namespace)}],
                    "ports": [{"port": service.port, "protocol": "TCP"}],
                }
            ],
        },
    }
