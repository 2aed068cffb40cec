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
from starform_core.render.metadata import (
    metadata,
    project_labels,
    selector_labels,
    service_metadata,
    source_annotations,
)
from starform_core.render.naming import DEFAULT_DENY_NAME, environment_policy_name
from starform_core.render.scopes import NamespaceScope, ServiceScope

__all__ = [
    "DEFAULT_DENY_NAME",
    "DNS_NAMESPACE",
    "PRIVATE_IPV4_RANGES",
    "PRIVATE_IPV6_RANGES",
    "default_deny",
    "environment_policy",
    "gateway_ingress_policy",
]

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


def default_deny(scope: NamespaceScope) -> dict[str, Any]:
    """Deny all ingress and egress for every pod of the namespace."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            name=DEFAULT_DENY_NAME,
            namespace=scope.project.namespace,
            labels=project_labels(scope.project),
            annotations=source_annotations(scope.cluster_id),
        ),
        "spec": {"podSelector": {}, "policyTypes": list(_BOTH_DIRECTIONS)},
    }


def _scraper(scope: NamespaceScope) -> list[dict[str, Any]]:
    """An ingress rule for the cluster's metrics agent namespace (none when there is none)."""
    if scope.metrics_namespace is None:
        return []
    return [{"from": [{"namespaceSelector": _namespace_selector(scope.metrics_namespace)}]}]


def _private_networks(scope: NamespaceScope) -> list[dict[str, Any]]:
    """One egress rule for the cluster's allowed private networks (none when there are none)."""
    if not scope.egress_allow:
        return []
    return [{"to": [{"ipBlock": {"cidr": cidr}} for cidr in scope.egress_allow]}]


def _same_environment(environment: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {kl.LABEL_ENVIRONMENT: environment}}}


def environment_policy(scope: NamespaceScope, environment: str) -> dict[str, Any]:
    """Same-environment traffic, DNS, the gateway namespace and the internet for one environment."""
    dns_ports = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            name=environment_policy_name(environment),
            namespace=scope.project.namespace,
            labels=project_labels(scope.project, environment=environment),
            annotations=source_annotations(scope.cluster_id),
        ),
        "spec": {
            "podSelector": {"matchLabels": {kl.LABEL_ENVIRONMENT: environment}},
            "policyTypes": list(_BOTH_DIRECTIONS),
            "ingress": [{"from": [_same_environment(environment)]}, *_scraper(scope)],
            "egress": [
                {"to": [_same_environment(environment)]},
                {
                    "to": [
                        {
                            "namespaceSelector": _namespace_selector(DNS_NAMESPACE),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": dns_ports,
                },
                {"to": [{"namespaceSelector": _namespace_selector(scope.gateway_namespace)}]},
                {
                    "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_IPV4_RANGES)}},
                        {"ipBlock": {"cidr": "::/0", "except": list(PRIVATE_IPV6_RANGES)}},
                    ]
                },
                *_private_networks(scope),
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
        "metadata": service_metadata(scope, scope.names.gateway_policy),
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
