"""Cluster-wide settings carried in the payload."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import attrs

from starform_core.errors import ValidationError
from starform_core.validation import check_dns1035_label, check_range, check_uuid, field_check

__all__ = ["ClusterSettings", "GatewayRef", "LoadBalancerSettings", "ObjectRef", "PrunePolicy"]

DEFAULT_SIZE_UNIT_ANNOTATION = "service.beta.kubernetes.io/do-loadbalancer-size-unit"
_QUALIFIED_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_RFC1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_subdomain(field: str, value: str) -> None:
    if len(value) > 253 or not _RFC1123_SUBDOMAIN.match(value):
        raise ValidationError(field, "must be an RFC 1123 subdomain (lower case, at most 253)")


def _check_annotation_key(field: str, value: str) -> None:
    if len(value) > 316 or not _QUALIFIED_NAME.match(value):
        raise ValidationError(field, "must be a Kubernetes qualified name ([prefix/]name)")


def _networks(value: Iterable[str]) -> tuple[str, ...]:
    """Validate CIDRs, then keep them in canonical form, sorted and without duplicates."""
    if isinstance(value, str):
        raise ValidationError("egress_allow", "must be a list of CIDRs, not a string")
    found: set[str] = set()
    for index, cidr in enumerate(value):
        try:
            network = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError as exc:
            raise ValidationError(
                f"egress_allow[{index}]", f"{cidr!r} is not a network in CIDR form"
            ) from exc
        if network.prefixlen == 0:
            raise ValidationError(
                f"egress_allow[{index}]", "the internet is allowed already; name a private network"
            )
        found.add(str(network))
    return tuple(sorted(found))


@attrs.frozen
class ObjectRef:
    """A reference to one Kubernetes object Shuttle touches but does not own."""

    api_version: str
    kind: str
    name: str = attrs.field(validator=field_check(_check_subdomain))
    namespace: str | None = None


@attrs.frozen
class LoadBalancerSettings:
    """The load balancer's size unit, set as one annotation on a resource Shuttle does not own."""

    target: ObjectRef
    size_unit: int = attrs.field(validator=lambda _i, a, v: check_range(a.name, v, low=1, high=200))
    annotation: str = attrs.field(
        default=DEFAULT_SIZE_UNIT_ANNOTATION, validator=field_check(_check_annotation_key)
    )


@attrs.frozen
class GatewayRef:
    """The Gateway that every HTTPRoute attaches to."""

    namespace: str = attrs.field(validator=field_check(check_dns1035_label))
    name: str = attrs.field(validator=field_check(_check_subdomain))
    section_name: str | None = None


@attrs.frozen
class PrunePolicy:
    """The prune safety valve: how much of what Shuttle owns one plan may delete.

    A plan deleting more than ``max_delete_percent`` of owned objects *and* more than
    ``max_delete_count`` objects is held; ``release_held`` lets a deliberate mass deletion through.
    """

    max_delete_percent: int = attrs.field(
        default=30, validator=lambda _i, a, v: check_range(a.name, v, low=0, high=100)
    )
    max_delete_count: int = attrs.field(
        default=25, validator=lambda _i, a, v: check_range(a.name, v, low=0, high=1_000_000)
    )
    release_held: bool = False


@attrs.frozen
class ClusterSettings:
    """One cluster's settings: identity, gateway, load balancer, storage class, prune valve,
    private networks pods may reach."""

    cluster_id: str = attrs.field(validator=field_check(check_uuid))
    name: str = attrs.field(validator=field_check(check_dns1035_label))
    region: str = attrs.field(validator=field_check(check_dns1035_label))
    gateway: GatewayRef
    load_balancer: LoadBalancerSettings | None
    storage_class: str = attrs.field(validator=field_check(_check_subdomain))
    prune: PrunePolicy = attrs.field(factory=PrunePolicy)
    egress_allow: tuple[str, ...] = attrs.field(default=(), converter=_networks)
    """Private networks every pod may reach besides the internet (the VPC ranges of the managed
    databases customers' pods connect to directly, §4.4). The internet rule excludes private
    ranges, so without an entry here pods cannot reach anything inside the VPC."""
    metrics_namespace: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(field_check(check_dns1035_label))
    )
    """The namespace of the metrics agent (vmagent) allowed to scrape the pods' own ``/metrics``
    (§35.2's optional app metrics); ``None`` admits no scraper."""
